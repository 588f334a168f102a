/**
 * Every golden case compiles to exactly the recorded files. A difference fails with a unified
 * diff; `npm run golden:update` regenerates the files (review the git diff before committing).
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { createTwoFilesPatch } from 'diff';
import { describe, expect, it } from 'vitest';
import { OUTPUT_FILES, compile, prepare } from '../src/compile.js';
import { goldenCases } from './support/golden.js';
import { BACKENDS } from './support/backends.js';

const cases = goldenCases();

describe('golden files', () => {
  it('has at least 12 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(12);
  });

  for (const c of cases) {
    for (const backend of BACKENDS) {
      it(`${c.name} (${backend})`, () => {
        const result = compile(c.model, { ...c.options, backend });
        expect(Object.keys(result.files)).toEqual(OUTPUT_FILES[backend]);
        for (const [name, text] of Object.entries(result.files)) {
          const path = join(c.dir, name);
          expect(existsSync(path), `${path} is missing: run npm run golden:update`).toBe(true);
          const expected = readFileSync(path, 'utf8');
          if (expected !== text) {
            const diff = createTwoFilesPatch(`golden/${c.name}/${name}`, 'compiled', expected, text);
            expect.fail(`golden/${c.name}/${name} differs from the compiled output (npm run golden:update regenerates):\n${diff}`);
          }
        }
      });
    }
  }
});

describe('sgnf check (the CLI users put in CI)', () => {
  const bin = join(import.meta.dirname, '..', 'bin', 'sgnf');
  const c = cases.find((x) => x.name === 'default-group-3-ports')!;

  it('exits 0 when the golden files match', () => {
    const r = spawnSync(bin, ['check', '--golden', c.dir, join(c.dir, 'model.json')], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
  });

  it('exits 1 with a unified diff when they differ', () => {
    const r = spawnSync(bin, ['check', '--golden', c.dir, '--remote-groups', 'expanded', join(c.dir, 'model.json')], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^--- .*iptables\.v4 \(golden\)$/m);
    expect(r.stdout).toMatch(/^\+-A sgnf-gi4-11111111-a_oqz7tddn -s 10\.0\.0\.11\/32 -j ACCEPT$/m);
  });

  it('prints the same files on stdout as it writes with -o', () => {
    const out = execFileSync(bin, ['compile', join(c.dir, 'model.json')], { encoding: 'utf8' });
    for (const name of OUTPUT_FILES.iptables) {
      expect(out).toContain(`# ==== ${name} ====\n${readFileSync(join(c.dir, name), 'utf8')}`);
    }
  });
});

describe('a cloud-wide model', () => {
  const bin = join(import.meta.dirname, '..', 'bin', 'sgnf');
  const c = cases.find((x) => x.name === 'cloud-host-select')!;

  it('prepare() parses once and compiles each host like compile({host})', () => {
    const prepared = prepare(c.model);
    for (const host of ['compute-1', 'compute-2']) {
      expect(prepared.compile({ host }).files).toEqual(compile(c.model, { host }).files);
    }
  });

  it('sgnf compile --each-host writes DIR/<host>/ for every host', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sgnf-each-host-'));
    try {
      execFileSync(bin, ['compile', '--each-host', '-o', dir, join(c.dir, 'model.json')]);
      expect(readdirSync(dir).sort()).toEqual(['compute-1', 'compute-2']);
      expect(readFileSync(join(dir, 'compute-1', 'iptables.v4'), 'utf8')).toBe(readFileSync(join(c.dir, 'iptables.v4'), 'utf8'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
