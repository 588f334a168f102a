/**
 * Kernel rows of the benchmark (root, network namespaces; test/support/netns.ts): `node --import
 * tsx test/bench/kernel-delta.ts LIB` prints one JSON line. LIB is the tsc build of src/index.ts.
 *
 * Default group (P=200, M=5,000, hybrid driver), one member added and one removed, per backend
 * (iptables-nft, iptables-legacy, nft), in one namespace of its own, alternating in one run:
 *   - delta ms: every file of DELTA_FILES applied in order with the README's commands, empty
 *     ones included (an agent may apply them unconditionally), on the host loaded with full(old);
 *   - skipping empty ms: the same, but a file that is empty is not applied (what an agent that
 *     checks the file size pays: here one tool started instead of five);
 *   - full ms: the full output of the new model loaded over full(old) (`ipset restore`,
 *     `iptables-restore`, `ip6tables-restore`; nft: `nft -f ruleset.nft`), the alternative;
 *   - empty delta ms: the same commands with nothing to do (diff(m, m)): the cost of starting
 *     the tools, which no delta can go below.
 * Times are taken inside the namespace (bash $EPOCHREALTIME around the commands), medians of
 * RUNS alternations; each tool is a process of its own, as for an agent.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { NetnsSession, kernelAvailable } from '../support/netns.js';
import { defaultGroup } from './generators.js';

type Obj = Record<string, any>;

export interface KernelDeltaRow {
  readonly backend: string;
  readonly change: string;
  readonly deltaMs: number;
  readonly deltaMinMs: number;
  readonly skipEmptyMs: number;
  readonly skipEmptyMinMs: number;
  /** Of deltaMs: applying conntrack.delta (median). */
  readonly conntrackMs: number;
  readonly fullMs: number;
  readonly fullMinMs: number;
  readonly emptyMs: number;
  readonly deltaLines: number;
  readonly fullLines: number;
  readonly runs: number;
}

export type KernelDeltaResult = { readonly rows: readonly KernelDeltaRow[] } | { readonly skipped: string };

const RUNS = 9;
const TARGET_RATIO = 50;
const TOOLS = ['bash', 'xargs', 'conntrack', 'ipset', 'nft', 'iptables-nft-restore', 'ip6tables-nft-restore', 'iptables-legacy-restore', 'ip6tables-legacy-restore'];

const ms = (n: number): string => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const int = (n: number): string => n.toLocaleString('en-US');

/** The benchmark section (markdown lines): the table, then the ≥ 50× target per backend and change. */
export function kernelDeltaSection(result: KernelDeltaResult): string[] {
  if ('skipped' in result) return [`Not measured: ${result.skipped}.`];
  const out = [
    '| backend | change | delta ms (min) | of which conntrack.delta ms | skipping empty files ms (min) | full reload ms (min) | full ÷ delta | full ÷ skipping empty | empty delta ms | delta lines | full lines |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of result.rows) {
    out.push(
      `| ${r.backend} | ${r.change} | ${ms(r.deltaMs)} (${ms(r.deltaMinMs)}) | ${ms(r.conntrackMs)} | ${ms(r.skipEmptyMs)} (${ms(r.skipEmptyMinMs)}) | ${ms(r.fullMs)} (${ms(r.fullMinMs)}) | ${(r.fullMs / r.deltaMs).toFixed(0)}× | ${(r.fullMs / r.skipEmptyMs).toFixed(0)}× | ${ms(r.emptyMs)} | ${int(r.deltaLines)} | ${int(r.fullLines)} |`,
    );
  }
  out.push('');
  for (const r of result.rows) {
    const ratio = r.fullMs / r.deltaMs;
    const skipping = r.fullMs / r.skipEmptyMs;
    out.push(
      `- ${ratio >= TARGET_RATIO ? 'met' : '**missed**'} — ${r.backend}, ${r.change}: applying the delta ≥ ${TARGET_RATIO}× faster than reloading the full output: ${ratio.toFixed(0)}× (${ms(r.deltaMs)} vs ${ms(r.fullMs)} ms); skipping empty files: ${skipping.toFixed(0)}× (${ms(r.skipEmptyMs)} ms)`,
    );
  }
  return out;
}

interface Backend {
  readonly name: string;
  readonly compileBackend: 'iptables' | 'nft';
  /** bash: load the full output in directory $1. */
  readonly full: string;
  /** bash, per file of DELTA_FILES in order: apply it from directory $1. */
  readonly delta: readonly (readonly [file: string, command: string])[];
}

/** conntrack.delta as the README applies it: a filter matching nothing (conntrack 1, xargs 123) is not an error. */
const CONNTRACK = 'xargs -r -L1 conntrack -D < "$1/conntrack.delta" 2>/dev/null || [ $? -eq 123 ]';

const iptables = (v: 'nft' | 'legacy'): Backend => ({
  name: `iptables-${v}`,
  compileBackend: 'iptables',
  full: `ipset restore -f "$1/ipset.restore" && iptables-${v}-restore < "$1/iptables.v4" && ip6tables-${v}-restore < "$1/iptables.v6"`,
  delta: [
    ['ipset.delta', 'ipset restore -f "$1/ipset.delta"'],
    ['iptables.v4.delta', `iptables-${v}-restore --noflush < "$1/iptables.v4.delta"`],
    ['iptables.v6.delta', `ip6tables-${v}-restore --noflush < "$1/iptables.v6.delta"`],
    ['ipset.cleanup', 'ipset restore -f "$1/ipset.cleanup"'],
    ['conntrack.delta', CONNTRACK],
  ],
});

const BACKENDS: readonly Backend[] = [
  iptables('nft'),
  iptables('legacy'),
  {
    name: 'nft',
    compileBackend: 'nft',
    full: 'nft -f "$1/ruleset.nft"',
    delta: [
      ['delta.nft', 'nft -f "$1/delta.nft"'],
      ['conntrack.delta', CONNTRACK],
    ],
  },
];

const lines = (files: Readonly<Record<string, string>>): number =>
  Object.values(files).reduce((n, t) => n + t.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length, 0);

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/**
 * The bash script of one measurement: load full(old), then RUNS times: the delta (timed), back
 * to old, the full reload of new (timed), back to old, the delta skipping empty files (timed),
 * back to old, the empty delta (timed). Prints `<what> <start> <end>` per timed step.
 */
function script(b: Backend, dirs: { old: string; next: string; delta: string; empty: string }, files: readonly string[]): string {
  for (const [i, [file]] of b.delta.entries()) if (files[i] !== file) throw new Error(`${b.name}: DELTA_FILES has ${files[i]} where the bench applies ${file}`);
  if (files.length !== b.delta.length) throw new Error(`${b.name}: DELTA_FILES is ${files.join(', ')}`);
  return [
    'set -e',
    `full() { ${b.full}; }`,
    // conntrack.delta timed on its own too.
    `ct() { ${CONNTRACK}; }`,
    `delta() { ${b.delta.map(([f, c]) => (f === 'conntrack.delta' ? 'timed conntrack ct "$1"' : c)).join(' && ')}; }`,
    `skipping() { ${b.delta.map(([f, c]) => `{ [ ! -s "$1/${f}" ] || ${c}; }`).join(' && ')}; }`,
    'timed() { local what=$1; shift; local s=$EPOCHREALTIME; "$@"; local e=$EPOCHREALTIME; echo "$what $s $e"; }',
    `full ${dirs.old}`,
    `for i in $(seq ${RUNS}); do`,
    `  timed delta delta ${dirs.delta}`,
    `  full ${dirs.old}`,
    `  timed full full ${dirs.next}`,
    `  full ${dirs.old}`,
    `  timed skipping skipping ${dirs.delta}`,
    `  full ${dirs.old}`,
    `  timed empty delta ${dirs.empty}`,
    'done',
  ].join('\n');
}

async function main(): Promise<void> {
  const lib = (await import(pathToFileURL(process.argv[2]!).href)) as typeof import('../../src/index.js');
  const kernel = await kernelAvailable(TOOLS);
  if (!kernel.ok) {
    process.stdout.write(`${JSON.stringify({ skipped: kernel.reason } satisfies KernelDeltaResult)}\n`);
    return;
  }
  const model = defaultGroup({ ports: 200, members: 5_000 }) as Obj;
  const group = Object.keys(model['sg_member_ips']).sort()[0]!;
  const added = structuredClone(model);
  added['sg_member_ips'][group].IPv4.push('10.250.255.1');
  const changes: [string, Obj, Obj][] = [
    ['one member added', model, added],
    ['one member removed', added, model],
  ];
  const work = mkdtempSync(join(tmpdir(), 'sgnf-bench-kernel-'));
  const rows: KernelDeltaRow[] = [];
  try {
    for (const b of BACKENDS) {
      for (const [change, old, next] of changes) {
        const write = (name: string, files: Readonly<Record<string, string>>): string => {
          const dir = join(work, `${b.name}-${rows.length}-${name}`);
          mkdirSync(dir);
          for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
          return dir;
        };
        const options = { backend: b.compileBackend } as const;
        const full = lib.compile(next, options).files;
        const delta = lib.diff(old, next, options);
        const dirs = {
          old: write('old', lib.compile(old, options).files),
          next: write('next', full),
          delta: write('delta', delta.files),
          empty: write('empty', lib.diff(old, old, options).files),
        };
        const session = new NetnsSession('bench');
        try {
          const ns = await session.create('host');
          const out = await ns.must(['bash', '-c', script(b, dirs, lib.DELTA_FILES[b.compileBackend])], { timeoutMs: 300_000 });
          const times: Record<string, number[]> = { delta: [], full: [], empty: [], skipping: [], conntrack: [] };
          for (const line of out.trim().split('\n')) {
            const [what, s, e] = line.split(' ');
            times[what!]!.push((Number(e) - Number(s)) * 1000);
          }
          rows.push({
            backend: b.name,
            change,
            deltaMs: median(times['delta']!),
            deltaMinMs: Math.min(...times['delta']!),
            skipEmptyMs: median(times['skipping']!),
            skipEmptyMinMs: Math.min(...times['skipping']!),
            // Every run of delta() times its conntrack step: the empty delta's runs are the second half.
            conntrackMs: median(times['conntrack']!.filter((_, i) => i % 2 === 0)),
            fullMs: median(times['full']!),
            fullMinMs: Math.min(...times['full']!),
            emptyMs: median(times['empty']!),
            deltaLines: delta.empty ? 0 : lines(delta.files),
            fullLines: lines(full),
            runs: RUNS,
          });
        } finally {
          await session.destroy();
        }
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify({ rows } satisfies KernelDeltaResult)}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) void main();
