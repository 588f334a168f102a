/**
 * Run the built CLI (bin/sgnf, which loads dist/) as a user would: a child process, bounded by a
 * timeout so that a hang fails the test instead of stalling the suite.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'vitest';

export const BIN = join(import.meta.dirname, '..', '..', 'bin', 'sgnf');

export interface CliResult {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  /** Standard input: a string, or a model object given as JSON. */
  readonly input?: string | object;
  readonly cwd?: string;
  readonly timeoutMs?: number;
}

export function sgnf(args: readonly string[], options: CliOptions = {}): CliResult {
  const input = options.input === undefined ? '' : typeof options.input === 'string' ? options.input : JSON.stringify(options.input);
  const r = spawnSync(process.execPath, [BIN, ...args], {
    input,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 60_000,
    maxBuffer: 1 << 28,
    ...(options.cwd !== undefined && { cwd: options.cwd }),
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Exit 2, nothing on stdout, one `sgnf:` message naming `path` (or matching it), no stack trace. */
export function expectRefused(r: CliResult, path: string | RegExp): void {
  const shown = `exit ${r.status ?? r.signal}, stderr: ${r.stderr.slice(0, 2000)}`;
  expect(r.signal, shown).toBeNull();
  expect(r.status, shown).toBe(2);
  expect(r.stdout, shown).toBe('');
  expect(r.stderr, shown).not.toMatch(/internal error|\n\s+at /);
  if (typeof path === 'string') expect(r.stderr, shown).toContain(path);
  else expect(r.stderr, shown).toMatch(path);
}
