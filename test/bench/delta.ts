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
  readonly fullMs: number;
  readonly deltaLines: number;
  readonly fullLines: number;
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

/** The five edits of a model (each a new object; the old one is not touched). */
function edits(model: Obj): [string, Obj][] {
  const groups = Object.keys(model.security_groups).sort();
  const withMembers = Object.keys(model.sg_member_ips).sort();
  const g = withMembers[0]!;
  const v4 = model.sg_member_ips[g].IPv4 as unknown[];
  const clone = (): Obj => structuredClone(model);
  const memberAdd = clone();
  memberAdd.sg_member_ips[g].IPv4.push('10.250.255.1');
  const memberRemove = clone();
  memberRemove.sg_member_ips[g].IPv4.splice(1, 1);
  const ruleChange = clone();
  const sg = ruleChange.security_groups[groups[0]!];
  const rules = (sg.rules ?? sg) as Obj[];
  rules[0] = { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 4242, port_range_max: 4242 };
  const portAdd = clone();
  const [someId, some] = Object.entries(portAdd.devices as Obj).find(([, d]) => d.security_groups?.length)!;
  portAdd.devices[`fffff0ff${someId.slice(8)}`] = {
    ...structuredClone(some),
    device: 'tapbench0001',
    mac_address: 'fa:16:3e:ff:ff:f0',
    fixed_ips: ['10.251.255.1'],
    allowed_address_pairs: [],
  };
  const replaced = clone();
  const all = Object.values(replaced.sg_member_ips as Obj).flatMap((m: Obj) => m.IPv4 as unknown[]);
  const count = Math.max(1, Math.round(all.length / 100));
  let k = 0;
  for (const m of Object.values(replaced.sg_member_ips as Obj)) {
    const list = m.IPv4 as unknown[];
    for (let i = 0; i < list.length && k < count; i += 7, k++) list[i] = `10.252.${(k >> 8) & 255}.${k & 255}`;
  }
  void v4;
  return [
    ['one member added', memberAdd],
    ['one member removed', memberRemove],
    ['one rule changed', ruleChange],
    ['one port added', portAdd],
    ['1 % of members replaced', replaced],
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
    for (const [change, next] of edits(model)) {
      let prepared = lib.prepare(next);
      let result = lib.diffPrepared(old, prepared, {});
      const delta = time(
        () => (result = lib.diffPrepared(old, prepared, {})),
        () => (prepared = lib.prepare(next)),
        1_500,
      );
      const withParse = time(() => lib.diffPrepared(old, lib.prepare(next), {}), () => undefined, 1_500);
      let full = lib.compile(next);
      const fullT = time(() => (full = lib.compile(next)), () => undefined, 1_500);
      rows.push({
        scenario,
        change,
        deltaMs: delta.median,
        deltaMinMs: delta.min,
        withParseMs: withParse.median,
        fullMs: fullT.median,
        deltaLines: lines(result.files as Record<string, string>),
        fullLines: lines(full.files as Record<string, string>),
      });
    }
  }
  process.stdout.write(`${JSON.stringify(rows)}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) void main();
