/**
 * Run the built CLI (bin/sgnf, which loads dist/) as a user would: a child process, bounded by a
 * timeout so that a hang fails the test instead of stalling the suite.
 */
import { spawn } from 'node:child_process';
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

/**
 * Run `sgnf ARGS` and wait for it without blocking the test worker (a blocked worker cannot
 * answer the test runner, which then reports a timeout on a loaded machine).
 */
export function sgnf(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const input = options.input === undefined ? '' : typeof options.input === 'string' ? options.input : JSON.stringify(options.input);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'], ...(options.cwd !== undefined && { cwd: options.cwd }) });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    // sgnf may exit before reading all of it (bad usage): a closed stdin is not an error here.
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
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
