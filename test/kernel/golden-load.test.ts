/**
 * Every golden case must load into a real kernel exactly as a user would load it, on both
 * iptables backends, and load again on top of itself (a reload replaces, never appends).
 *
 * For golden/<case>/ with model.json, ipset.restore, iptables.v4 and iptables.v6:
 *   fresh namespace: ipset restore -f ipset.restore; iptables-nft-restore; ip6tables-nft-restore
 *   another one:     the same with iptables-legacy-restore / ip6tables-legacy-restore
 *   then everything once more, and the kernel must report as many rules and set entries as the
 *   files hold. If the case also has ruleset.nft: nft -c -f, nft -f twice, then sets.nft.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect, test } from 'vitest';
import { type Netns, NetnsSession, describeKernel, kernelAvailable } from '../support/netns.js';

const GOLDEN = resolve(process.env['SGNF_GOLDEN_DIR'] ?? join(import.meta.dirname, '../../golden'));
const IPTABLES_FILES = ['ipset.restore', 'iptables.v4', 'iptables.v6'] as const;

interface GoldenCase {
  readonly name: string;
  readonly dir: string;
  readonly nft: boolean;
}

function goldenCases(): GoldenCase[] {
  if (!existsSync(GOLDEN)) return [];
  return readdirSync(GOLDEN, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => join(GOLDEN, d.name))
    .filter((dir) => ['model.json', ...IPTABLES_FILES].every((f) => existsSync(join(dir, f))))
    .sort()
    .map((dir) => ({ name: dir.slice(GOLDEN.length + 1), dir, nft: existsSync(join(dir, 'ruleset.nft')) }));
}

type Backend = 'nft' | 'legacy';
const TOOLS = ['ipset', 'nft', ...(['nft', 'legacy'] as const).flatMap((b) => [`iptables-${b}-restore`, `ip6tables-${b}-restore`, `iptables-${b}-save`, `ip6tables-${b}-save`])];

const countAppends = (text: string): number => text.split('\n').filter((l) => l.startsWith('-A ')).length;

/**
 * Entries per set after running an ipset restore script, by simulating its verbs on names
 * (create, add, del, flush, swap, destroy). The kernel must agree after a real restore.
 */
function expectedSetEntries(script: string): Map<string, number> {
  const sets = new Map<string, Set<string>>();
  for (const raw of script.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [verb, name = '', arg = ''] = line.split(/\s+/);
    switch (verb) {
      case 'create':
        if (!sets.has(name)) sets.set(name, new Set());
        break;
      case 'add':
        sets.get(name)?.add(arg);
        break;
      case 'del':
        sets.get(name)?.delete(arg);
        break;
      case 'flush':
        sets.get(name)?.clear();
        break;
      case 'destroy':
        sets.delete(name);
        break;
      case 'swap': {
        const a = sets.get(name);
        const b = sets.get(arg);
        if (a && b) {
          sets.set(name, b);
          sets.set(arg, a);
        }
        break;
      }
      default:
        throw new Error(`ipset verb the test does not model: ${line}`);
    }
  }
  return new Map([...sets].map(([n, s]) => [n, s.size]));
}

function savedSetEntries(save: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of save.split('\n')) {
    const [verb, name = ''] = line.split(' ');
    if (verb === 'create') out.set(name, out.get(name) ?? 0);
    if (verb === 'add') out.set(name, (out.get(name) ?? 0) + 1);
  }
  return out;
}

async function loadIptablesCase(ns: Netns, dir: string, backend: Backend): Promise<void> {
  await ns.must(['ipset', 'restore', '-f', join(dir, 'ipset.restore')]);
  await ns.must([`iptables-${backend}-restore`], { inputFile: join(dir, 'iptables.v4') });
  await ns.must([`ip6tables-${backend}-restore`], { inputFile: join(dir, 'iptables.v6') });
}

async function checkKernelState(ns: Netns, dir: string, backend: Backend, round: number): Promise<void> {
  const v4 = readFileSync(join(dir, 'iptables.v4'), 'utf8');
  const v6 = readFileSync(join(dir, 'iptables.v6'), 'utf8');
  const saved4 = await ns.must([`iptables-${backend}-save`]);
  const saved6 = await ns.must([`ip6tables-${backend}-save`]);
  expect(countAppends(saved4), `IPv4 rules in the kernel after load ${round}`).toBe(countAppends(v4));
  expect(countAppends(saved6), `IPv6 rules in the kernel after load ${round}`).toBe(countAppends(v6));
  const sets = expectedSetEntries(readFileSync(join(dir, 'ipset.restore'), 'utf8'));
  expect(savedSetEntries(await ns.must(['ipset', 'save'])), `ipset contents after load ${round}`).toEqual(sets);
}

const kernel = await kernelAvailable(TOOLS);
const cases = goldenCases();

describeKernel('golden outputs load into a real kernel', kernel, () => {
  test('golden cases with iptables outputs exist', () => {
    expect(cases.length, `no golden/<case>/ with model.json, ${IPTABLES_FILES.join(', ')} under ${GOLDEN}`).toBeGreaterThan(0);
  });

  for (const c of cases) {
    for (const backend of ['nft', 'legacy'] as const) {
      test.concurrent(`${c.name}: ipset + iptables-${backend} load, reload`, async () => {
        const session = new NetnsSession('gold');
        try {
          const ns = await session.create('host');
          for (const round of [1, 2]) {
            await loadIptablesCase(ns, c.dir, backend);
            await checkKernelState(ns, c.dir, backend, round);
          }
        } finally {
          await session.destroy();
        }
      });
    }
    if (c.nft) {
      test.concurrent(`${c.name}: nft -f ruleset.nft, reload, sets.nft`, async () => {
        const session = new NetnsSession('gold');
        try {
          const ns = await session.create('nft');
          const ruleset = join(c.dir, 'ruleset.nft');
          await ns.must(['nft', '-c', '-f', ruleset]);
          await ns.must(['nft', '-f', ruleset]);
          const first = await ns.must(['nft', 'list', 'ruleset']);
          expect(first.trim(), 'nft ruleset after load').not.toBe('');
          await ns.must(['nft', '-f', ruleset]);
          expect(await ns.must(['nft', 'list', 'ruleset']), 'a reload replaces the ruleset').toBe(first);
          const sets = join(c.dir, 'sets.nft');
          if (existsSync(sets)) await ns.must(['nft', '-f', sets]);
        } finally {
          await session.destroy();
        }
      });
    }
  }
});
