/**
 * Drift-audit rows of the benchmark, in a fresh process: `node --import tsx test/bench/audit.ts
 * LIB` prints one JSON line (the rows). LIB is the tsc build of src/index.ts.
 *
 * The realistic mix (P=1,000, 20 groups x 20 rules, M=100,000), both backends, audited against
 * its own dump (test/bench/audit-dumps.ts: the tools' layout, rendered from the compiled state):
 *   - audit ms: `audit(model, dumps)` from the model JSON: parse and plan the model, read the
 *     dumps, compare (what `sgnf audit` does besides reading files), median of runs alternating
 *     with the full compile, so both see the same machine load;
 *   - prepared ms: `auditPrepared(prepared, dumps)` for an agent that keeps the prepared model
 *     (its wanted state is computed once);
 *   - full compile ms: `compile(model)`, the target's reference (audit ≤ 2 × a full compile);
 *   - drifted ms: the same audit of a dump with 1 % of the members gone and one port chain
 *     flushed, plus computing its repair.
 */
import { pathToFileURL } from 'node:url';
import { iptablesDumpsOf, nftDumpsOf } from './audit-dumps.js';
import { realisticMix } from './generators.js';

export interface AuditRow {
  readonly scenario: string;
  readonly backend: 'iptables' | 'nft';
  readonly dumpBytes: number;
  readonly auditMs: number;
  readonly auditMinMs: number;
  readonly preparedMs: number;
  readonly fullMs: number;
  readonly fullMinMs: number;
  readonly driftedMs: number;
  readonly drifts: number;
  readonly repairLines: number;
}

const ms = (n: number): string => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n >= 10 ? n.toFixed(1) : n.toFixed(2));

export function auditSection(rows: readonly AuditRow[]): string[] {
  const out = [
    '| scenario | backend | dump | audit ms (min) | prepared model ms | full compile ms (min) | audit ÷ compile | drifted + repair ms | drifts, repair lines |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    out.push(
      `| ${r.scenario} | ${r.backend} | ${(r.dumpBytes / 1e6).toFixed(1)} MB | ${ms(r.auditMs)} (${ms(r.auditMinMs)}) | ${ms(r.preparedMs)} | ${ms(r.fullMs)} (${ms(r.fullMinMs)}) | ${(r.auditMs / r.fullMs).toFixed(2)} × | ${ms(r.driftedMs)} | ${r.drifts}, ${r.repairLines.toLocaleString('en-US')} |`,
    );
  }
  out.push('');
  for (const r of rows) {
    const ratio = r.auditMs / r.fullMs;
    out.push(`- ${ratio <= 2 ? 'met' : '**missed**'} — ${r.scenario}, ${r.backend}: an audit against its own dump ≤ 2 × a full compile: ${ratio.toFixed(2)} × (${ms(r.auditMs)} ms against ${ms(r.fullMs)} ms)`);
  }
  return out;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** Repeats each step in turn (a, b, a, b, ...) within the budget; median and minimum of each. */
function alternate(steps: readonly (() => void)[], budgetMs: number): { median: number; min: number }[] {
  const xs: number[][] = steps.map(() => []);
  const end = performance.now() + budgetMs;
  while (xs[0]!.length < 5 || (performance.now() < end && xs[0]!.length < 50)) {
    steps.forEach((f, i) => {
      const t = performance.now();
      f();
      xs[i]!.push(performance.now() - t);
    });
  }
  return xs.map((x) => ({ median: median(x), min: Math.min(...x) }));
}

type Lib = typeof import('../../src/index.js');
type Dumps = Record<string, string>;

/** 1 % of the members gone from the sets, and one port chain's rules gone. */
function drift(dumps: Dumps, backend: 'iptables' | 'nft'): Dumps {
  if (backend === 'iptables') {
    let k = 0;
    const sets = dumps['ipset.save']!.split('\n').filter((l) => !l.startsWith('add ') || k++ % 100 !== 0);
    const v4 = dumps['iptables-save.v4']!;
    const chain = /^:(sgnf-i[a-z0-9]\S*) /m.exec(v4)![1]!;
    return { ...dumps, 'ipset.save': sets.join('\n'), 'iptables-save.v4': v4.split('\n').filter((l) => !l.startsWith(`-A ${chain} `)).join('\n') };
  }
  // Elements are printed three to a line: every 34th continuation line dropped is about 1 %.
  const lines = dumps['nft.ruleset']!.split('\n');
  const first = lines.findIndex((l) => l.startsWith('\tchain i4_'));
  const close = lines.indexOf('\t}', first);
  let k = 0;
  const kept = lines.filter((l, i) => !(i > first && i < close) && (!/^\t\t\t {5}\S/.test(l) || k++ % 34 !== 0));
  return { 'nft.ruleset': kept.join('\n') };
}

async function main(): Promise<void> {
  const lib = (await import(pathToFileURL(process.argv[2]!).href)) as Lib;
  const rows: AuditRow[] = [];
  const scenario = 'realistic mix P=1,000 M=100,000';
  const model = realisticMix({ ports: 1_000, groups: 20, rulesPerGroup: 20, members: 100_000 });
  for (const backend of ['iptables', 'nft'] as const) {
    const o = { backend };
    const state = lib.prepare(model).state(o);
    const dumps = (state.backend === 'nft' ? nftDumpsOf(state) : iptablesDumpsOf(state as Extract<typeof state, { backend: 'iptables' }>)) as Dumps;
    if (!lib.audit(model, dumps, o).inSync) throw new Error(`${backend}: the model's own dump is not in sync`);
    const [audit, full] = alternate([() => lib.audit(model, dumps, o), () => lib.compile(model, o)], 4_000);
    const prepared = lib.prepare(model);
    const [prep] = alternate([() => lib.auditPrepared(prepared, dumps, o)], 2_000);
    const drifted = drift(dumps, backend);
    let repairLines = 0;
    let drifts = 0;
    const [d] = alternate(
      [
        () => {
          const r = lib.auditPrepared(prepared, drifted, o);
          drifts = r.drifts.length;
          repairLines = Object.values(r.repair().lines).reduce((n, x) => n + x, 0);
        },
      ],
      2_000,
    );
    rows.push({
      scenario,
      backend,
      dumpBytes: Object.values(dumps).reduce((n, t) => n + Buffer.byteLength(t), 0),
      auditMs: audit!.median,
      auditMinMs: audit!.min,
      preparedMs: prep!.median,
      fullMs: full!.median,
      fullMinMs: full!.min,
      driftedMs: d!.median,
      drifts,
      repairLines,
    });
  }
  process.stdout.write(`${JSON.stringify(rows)}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) void main();
