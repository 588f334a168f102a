/**
 * The nft scripts in a real kernel, for every golden model: `nft -c -f` accepts ruleset.nft,
 * `nft -f` loads it twice (the reload is an exact replacement), sets.nft applies on top, the kernel
 * holds as many rules and set elements as the scripts say, and a table of someone else survives
 * all of it. Each case runs in a fresh network namespace of its own.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { prepare } from '../../src/compile.js';
import type { HostPlan } from '../../src/plan/ir.js';
import { renderNft } from '../../src/backends/nft/render.js';
import { goldenCases } from '../support/golden.js';
import { type Netns, NetnsSession, describeKernel, kernelAvailable } from '../support/netns.js';

const kernel = await kernelAvailable(['nft']);
const work = mkdtempSync(join(tmpdir(), 'sgnf-nft-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Someone else's tables, one per family we use: loading sgnf must leave them alone. */
const FOREIGN = [
  'table inet other_fw {',
  '\tchain keep_me {',
  '\t\ttype filter hook forward priority 10; policy accept;',
  '\t\tmeta l4proto 6 counter',
  '\t}',
  '}',
  'table bridge other_br {',
  '\tchain keep_me {',
  '\t\tcounter',
  '\t}',
  '}',
].join('\n');

type JsonObject = Record<string, { family: string; table?: string; chain?: string; name?: string; elem?: unknown[] }>;

async function listJson(ns: Netns): Promise<JsonObject[]> {
  return (JSON.parse(await ns.must(['nft', '-j', 'list', 'ruleset'])) as { nftables: JsonObject[] }).nftables;
}

let fileNo = 0;
function file(text: string): string {
  const path = join(work, `f${++fileNo}.nft`);
  writeFileSync(path, text);
  return path;
}

/** Load, reload and refresh the sets of one plan; check what the kernel then holds. */
async function loadTwiceAndRefresh(plan: HostPlan, prefix: string, comments: boolean): Promise<void> {
  const out = renderNft(plan, { prefix, comments });
  const ruleset = file(out.ruleset);
  const sets = file(out.sets);
  const session = new NetnsSession('nftgld');
  try {
    const ns = await session.create('host');
    await ns.must(['nft', '-f', file(FOREIGN)]);
    const foreign = await ns.must(['nft', 'list', 'ruleset']);

    await ns.must(['nft', '-c', '-f', ruleset]);
    expect(await ns.must(['nft', 'list', 'ruleset']), 'nft -c applies nothing').toBe(foreign);
    await ns.must(['nft', '-f', ruleset]);
    const first = await ns.must(['nft', 'list', 'ruleset']);
    await ns.must(['nft', '-f', ruleset]);
    expect(await ns.must(['nft', 'list', 'ruleset']), 'a reload replaces, never appends').toBe(first);
    await ns.must(['nft', '-f', sets]);
    expect(await ns.must(['nft', 'list', 'ruleset']), 'sets.nft refills the same members').toBe(first);

    const objects = await listJson(ns);
    const ours = (o: JsonObject[string]): boolean => o.table !== undefined && o.table.startsWith(prefix.toLowerCase().replace(/-/g, '_') + '_');
    const rules = objects.filter((o) => o['rule'] && ours(o['rule']));
    expect(rules.length, 'rules in the kernel').toBe(out.stats.rules);
    const membership = objects
      .map((o) => o['set'])
      .filter((s): s is JsonObject[string] => s !== undefined && ours(s) && /^[ag][46]_\w+_[hn]$/.test(s.name ?? ''));
    expect(membership.length).toBe(plan.sets.length * 2);
    expect(membership.reduce((n, s) => n + (s.elem?.length ?? 0), 0), 'set elements in the kernel').toBe(out.stats.setElements);
    expect(objects.filter((o) => o['chain']?.name === 'keep_me' && !ours(o['chain']!)).length, 'foreign chains survive').toBe(2);
    expect(objects.filter((o) => o['rule']?.chain === 'keep_me').length, 'foreign rules survive').toBe(2);
  } finally {
    await session.destroy();
  }
}

describeKernel('nft scripts load into a real kernel', kernel, () => {
  for (const g of goldenCases()) {
    test.concurrent(`${g.name}: nft -c, load, reload, sets.nft`, async () => {
      const plan = prepare(g.model).plan(g.options);
      await loadTwiceAndRefresh(plan, g.options.prefix ?? 'sgnf', g.options.comments ?? false);
    });
  }

  test.concurrent('every golden model with comments on, under another prefix', async () => {
    // All comment kinds at once: one namespace per model would repeat the same check.
    for (const g of goldenCases()) {
      await loadTwiceAndRefresh(prepare(g.model).plan(g.options), 'Other-Prefix', true);
    }
  });

  test.concurrent('hostile group id and comment text stay inside their tokens', async () => {
    const plan = prepare(goldenCases().find((g) => g.name === 'default-group-3-ports')!.model).plan();
    const evil = '"; flush ruleset; add table inet x #\n}';
    const hostile: HostPlan = {
      ...plan,
      sets: plan.sets.map((s) => ({ ...s, id: evil })),
      groupChains: new Map(
        [...plan.groupChains].map(([k, g]) => [
          k,
          {
            ...g,
            group: `${evil}${g.group}`,
            rules: g.rules.map((r) => ({
              ...r,
              matches: r.matches.map((m) => (m.kind === 'set' ? { ...m, set: { ...m.set, id: evil } } : m)),
              comment: { group: evil, rule: 0, id: evil },
            })),
          },
        ]),
      ),
    };
    await loadTwiceAndRefresh(hostile, 'sgnf', true);
  });
});
