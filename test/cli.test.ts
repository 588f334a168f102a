import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile } from '../src/compile.js';
import { compileOptionsFromArgs } from '../src/cli/compile-options.js';

const root = join(import.meta.dirname, '..');
const bin = join(root, 'bin', 'sgnf');
const modelFile = join(root, 'golden', 'default-group-3-ports', 'model.json');
const model: unknown = JSON.parse(readFileSync(modelFile, 'utf8'));
const run = (args: string[], input?: string) => spawnSync(bin, args, { encoding: 'utf8', ...(input !== undefined && { input }) });

describe('sgnf commands for agents', () => {
  it('--version prints the package version', () => {
    const r = run(['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version}\n`);
  });

  it('schema prints the JSON Schema the package exports', () => {
    const r = run(['schema']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(root, 'src', 'model', 'schema.json'), 'utf8'));
  });

  it('compile --format json prints one object: the files, stats and diagnostics of the library', () => {
    const r = run(['compile', modelFile, '--format', 'json', '--backend', 'nft']);
    expect(r.status).toBe(0);
    const expected = compile(model, { backend: 'nft' });
    expect(JSON.parse(r.stdout)).toEqual({ files: expected.files, stats: expected.stats, diagnostics: expected.diagnostics });
  });

  it('compile --format json -o DIR names the files it wrote', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sgnf-cli-'));
    try {
      const r = run(['compile', modelFile, '--format', 'json', '-o', dir]);
      expect(r.status).toBe(0);
      const out = JSON.parse(r.stdout) as { written: string[] };
      expect(out.written).toEqual(['ipset.restore', 'iptables.v4', 'iptables.v6'].map((n) => join(dir, n)));
      expect(readFileSync(join(dir, 'iptables.v4'), 'utf8')).toBe(compile(model).files['iptables.v4']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('compile --format json reports bad input as a JSON object on stderr, nothing on stdout', () => {
    const r = run(['compile', '-', '--format', 'json'], '{"devices": 1}');
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(JSON.parse(r.stderr)).toMatchObject({ error: 'invalid model', issues: [{ path: '$.devices', message: 'must be an object keyed by id' }] });
  });

  it('accepts a model file that starts with a UTF-8 byte-order mark', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sgnf-cli-'));
    try {
      const file = join(dir, 'model.json');
      writeFileSync(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), readFileSync(modelFile)]));
      const r = run(['compile', file]);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(run(['compile', modelFile]).stdout);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses unknown commands, options and option values with exit 2 and nothing on stdout', () => {
    for (const args of [['frobnicate'], ['compile', modelFile, '--bogus'], ['compile', modelFile, '--backend', 'pf'], ['explain', modelFile, '--dport', 'x'], []]) {
      const r = run(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^sgnf: .+\n\nRun "sgnf --help" for usage\.\n$/);
    }
  });

  it('prints help for every command', () => {
    for (const name of ['compile', 'check', 'explain', 'schema']) {
      const r = run([name, '--help']);
      expect(r.status, name).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: sgnf ${name}\\b`));
    }
  });
});

describe('compile flags', () => {
  it('map to the library options once, for the CLI and the golden cases alike', () => {
    expect(compileOptionsFromArgs([])).toEqual({});
    expect(
      compileOptionsFromArgs(['--remote-groups', 'expanded', '--host', 'h', '--prefix', 'p', '--comments', '--driver', 'linuxbridge', '--backend', 'nft', '--aggregate']),
    ).toEqual({ remoteGroups: 'expanded', host: 'h', prefix: 'p', comments: true, driver: 'linuxbridge', backend: 'nft', aggregate: true });
    expect(() => compileOptionsFromArgs(['--out', 'x'])).toThrow(/Unknown option '--out'/);
    expect(() => compileOptionsFromArgs(['--driver', 'ovs'])).toThrow(/--driver must be one of hybrid, linuxbridge/);
  });
});
