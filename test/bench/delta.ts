/**
 * Incremental-update rows of the benchmark, in a fresh process: `node --import tsx
 * test/bench/delta.ts LIB` prints one JSON line (the rows). LIB is the tsc build of src/index.ts.
 *
 * For the default group (P=200, M=5,000) and the realistic mix (P=1,000, 20 groups x 20 rules,
 * M=100,000), from a prepared old model (its host state computed once, as an agent holds it):
 * one member added, one removed, one rule changed, one port added, 1 % of the members replaced.
 * Per change:
 *   - delta ms: `diffPrepared(old, next)` with the next model already prepared (what an agent
 *     pays per notification once the model is parsed or patched), median of repeated runs;
 *   - with parse ms: the same plus `prepare(next)` of the whole next model (a full JSON payload);
 *   - patch ms: the change as a JSON Patch: `old.patch(ops)` then the diff (what a server that
 *     sends patches lets an agent pay);
 *   - full ms: a full compile of the next model, the alternative; and the line counts of both.
 */
import { pathToFileURL } from 'node:url';
import { defaultGroup, realisticMix } from './generators.js';

type Obj = Record<string, any>;

export interface DeltaRow {
  readonly scenario: string;
  readonly change: string;
  readonly deltaMs: number;
  readonly deltaMinMs: number;
  readonly withParseMs: number;
  /** `old.patch(ops)` then `diffPrepared(old, patched)`: the change given as a JSON Patch. */
  readonly patchMs: number;
  readonly patchMinMs: number;
  readonly fullMs: number;
  readonly deltaLines: number;
  readonly fullLines: number;
}

const ms = (n: number): string => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const int = (n: number): string => n.toLocaleString('en-US');

/**
 * The benchmark section (markdown lines): the table, then the targets of a one-member change
 * (delta <= 1 ms and <= 1 % of a full compile), each as measured in this run.
 */
export function deltaSection(rows: readonly DeltaRow[]): string[] {
  const out = [
    '| scenario | change | delta ms (min) | with parse ms | as JSON Patch ms (min) | full compile ms | delta ÷ full | delta lines | full lines |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    out.push(
      `| ${r.scenario} | ${r.change} | ${ms(r.deltaMs)} (${ms(r.deltaMinMs)}) | ${ms(r.withParseMs)} | ${ms(r.patchMs)} (${ms(r.patchMinMs)}) | ${ms(r.fullMs)} | ${((100 * r.deltaMs) / r.fullMs).toFixed(1)} % | ${int(r.deltaLines)} | ${int(r.fullLines)} |`,
    );
  }
  out.push('');
  for (const r of rows.filter((x) => x.change.startsWith('one member'))) {
    const ok = r.deltaMs <= 1 && r.deltaMs <= r.fullMs / 100;
    out.push(
      `- ${ok ? 'met' : '**missed**'} — ${r.scenario}, ${r.change}: delta ≤ 1 ms and ≤ 1 % of a full compile: ${ms(r.deltaMs)} ms, ${((100 * r.deltaMs) / r.fullMs).toFixed(2)} % of ${ms(r.fullMs)} ms`,
    );
  }
  return out;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

function time(f: () => void, setup: () => void, budgetMs: number): { median: number; min: number } {
  const xs: number[] = [];
  const end = performance.now() + budgetMs;
  while (xs.length < 5 || (performance.now() < end && xs.length < 200)) {
    setup();
    const t = performance.now();
    f();
    xs.push(performance.now() - t);
  }
  return { median: median(xs), min: Math.min(...xs) };
}

const lines = (files: Record<string, string>): number =>
  Object.values(files).reduce((n, t) => n + t.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length, 0);

/** A JSON Pointer token (RFC 6901). */
const tok = (k: string): string => k.replace(/~/g, '~0').replace(/\//g, '~1');

/** The five edits of a model, each as the next model and as a JSON Patch against the old one. */
function edits(model: Obj): [string, Obj, Obj[]][] {
  const groups = Object.keys(model.security_groups).sort();
  const g = Object.keys(model.sg_member_ips).sort()[0]!;
  const clone = (): Obj => structuredClone(model);
  const memberAdd = clone();
  memberAdd.sg_member_ips[g].IPv4.push('10.250.255.1');
  const memberRemove = clone();
  memberRemove.sg_member_ips[g].IPv4.splice(1, 1);
  const ruleChange = clone();
  const sg = ruleChange.security_groups[groups[0]!];
  const rulesKey = Array.isArray(sg) ? undefined : sg.rules !== undefined ? 'rules' : 'security_group_rules';
  const rules = (rulesKey === undefined ? sg : sg[rulesKey]) as Obj[];
  const newRule = { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 4242, port_range_max: 4242 };
  rules[0] = newRule;
  const portAdd = clone();
  const [someId, some] = Object.entries(portAdd.devices as Obj).find(([, d]) => d.security_groups?.length)!;
  const newId = `fffff0ff${someId.slice(8)}`;
  const newPort = { ...structuredClone(some), device: 'tapbench0001', mac_address: 'fa:16:3e:ff:ff:f0', fixed_ips: ['10.251.255.1'], allowed_address_pairs: [] };
  portAdd.devices[newId] = newPort;
  const replaced = clone();
  const replaceOps: Obj[] = [];
  const all = Object.values(replaced.sg_member_ips as Obj).reduce((n: number, m: Obj) => n + (m.IPv4 as unknown[]).length, 0);
  const count = Math.max(1, Math.round(all / 100));
  let k = 0;
  for (const [id, m] of Object.entries(replaced.sg_member_ips as Obj).sort()) {
    const list = m.IPv4 as unknown[];
    for (let i = 0; i < list.length && k < count; i += 7, k++) {
      list[i] = `10.252.${(k >> 8) & 255}.${k & 255}`;
      replaceOps.push({ op: 'replace', path: `/sg_member_ips/${tok(id)}/IPv4/${i}`, value: list[i] });
    }
  }
  const rulePath = `/security_groups/${tok(groups[0]!)}${rulesKey === undefined ? '' : `/${rulesKey}`}/0`;
  return [
    ['one member added', memberAdd, [{ op: 'add', path: `/sg_member_ips/${tok(g)}/IPv4/-`, value: '10.250.255.1' }]],
    ['one member removed', memberRemove, [{ op: 'remove', path: `/sg_member_ips/${tok(g)}/IPv4/1` }]],
    ['one rule changed', ruleChange, [{ op: 'replace', path: rulePath, value: newRule }]],
    ['one port added', portAdd, [{ op: 'add', path: `/devices/${tok(newId)}`, value: newPort }]],
    ['1 % of members replaced', replaced, replaceOps],
  ];
}

async function main(): Promise<void> {
  const lib = (await import(pathToFileURL(process.argv[2]!).href)) as typeof import('../../src/index.js');
  const rows: DeltaRow[] = [];
  const scenarios: [string, Obj][] = [
    ['default group P=200 M=5,000', defaultGroup({ ports: 200, members: 5_000 }) as Obj],
    ['realistic mix P=1,000 M=100,000', realisticMix({ ports: 1_000, groups: 20, rulesPerGroup: 20, members: 100_000 }) as Obj],
  ];
  for (const [scenario, model] of scenarios) {
    const old = lib.prepare(model);
    lib.diffPrepared(old, lib.prepare(model), {}); // the old host state, computed once and kept
    for (const [change, next, patch] of edits(model)) {
      let prepared = lib.prepare(next);
      let result = lib.diffPrepared(old, prepared, {});
      const delta = time(
        () => (result = lib.diffPrepared(old, prepared, {})),
        () => (prepared = lib.prepare(next)),
        1_500,
      );
      const withParse = time(() => lib.diffPrepared(old, lib.prepare(next), {}), () => undefined, 1_500);
      // The agent that gets the change as a JSON Patch: patch the prepared model, then diff.
      let patched: ReturnType<typeof lib.prepare> | undefined;
      const viaPatch = time(() => lib.diffPrepared(old, (patched = old.patch(patch)), {}), () => undefined, 1_500);
      const same = lib.diffPrepared(old, patched!, {}).files;
      for (const [name, text] of Object.entries(result.files)) if (same[name] !== text) throw new Error(`${scenario}, ${change}: the patched model's ${name} differs`);
      let full = lib.compile(next);
      const fullT = time(() => (full = lib.compile(next)), () => undefined, 1_500);
      rows.push({
        scenario,
        change,
        deltaMs: delta.median,
        deltaMinMs: delta.min,
        withParseMs: withParse.median,
        patchMs: viaPatch.median,
        patchMinMs: viaPatch.min,
        fullMs: fullT.median,
        deltaLines: lines(result.files as Record<string, string>),
        fullLines: lines(full.files as Record<string, string>),
      });
    }
  }
  process.stdout.write(`${JSON.stringify(rows)}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) void main();
