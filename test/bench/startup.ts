/**
 * CLI start-up, as a paired ratio: `node bin/sgnf compile` of the README's example (the
 * three-port default group, written with -o) against `node -e 0`, run in pairs (which goes first
 * alternates), so the machine's load at each moment weighs on both sides of a pair alike. The
 * ratio is the median of the pairs' ratios. Target (issue 13): at most 1.3.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface StartupRow {
  readonly pairs: number;
  /** Medians, ms. */
  readonly nodeMs: number;
  readonly cliMs: number;
  /** Median of cli / node over the pairs. */
  readonly ratio: number;
}

export const STARTUP_TARGET = 1.3;

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export function startupRow(root: string, pairs = 30): StartupRow {
  const out = mkdtempSync(join(tmpdir(), 'sgnf-startup-'));
  const model = join(root, 'golden', 'default-group-3-ports', 'model.json');
  const time = (args: readonly string[]): number => {
    const t = performance.now();
    const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
    const ms = performance.now() - t;
    if (r.status !== 0) throw new Error(`node ${args.join(' ')} failed: ${r.stderr.slice(0, 300)}`);
    return ms;
  };
  const node: number[] = [];
  const cli: number[] = [];
  const ratios: number[] = [];
  try {
    // Warm the file cache once.
    time(['-e', '0']);
    time([join(root, 'bin', 'sgnf'), 'compile', model, '-o', out]);
    for (let i = 0; i < pairs; i++) {
      const nodeRun = (): number => time(['-e', '0']);
      const cliRun = (): number => time([join(root, 'bin', 'sgnf'), 'compile', model, '-o', out]);
      let a: number;
      let b: number;
      if (i % 2 === 0) {
        a = nodeRun();
        b = cliRun();
      } else {
        b = cliRun();
        a = nodeRun();
      }
      node.push(a);
      cli.push(b);
      ratios.push(b / a);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  return { pairs, nodeMs: median(node), cliMs: median(cli), ratio: median(ratios) };
}

export function startupSection(r: StartupRow): string[] {
  return [
    '| command | median ms |',
    '|---|---:|',
    `| \`node -e 0\` | ${r.nodeMs.toFixed(1)} |`,
    `| \`node bin/sgnf compile golden/default-group-3-ports/model.json -o DIR\` | ${r.cliMs.toFixed(1)} |`,
    `| paired ratio (median of ${r.pairs} pairs) | **${r.ratio.toFixed(2)}** (target ≤ ${STARTUP_TARGET}) |`,
  ];
}
