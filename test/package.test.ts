/**
 * What `npm pack` ships: the compiler and its CLI, built from src/, and nothing test-only (the
 * text interpreters, simulators and the lab live under test/ and never reach dist/).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

describe('the npm package', () => {
  it('holds the README, package.json, bin/sgnf, the schema and dist/ files built from src/ only', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
    const files = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    const other = files.filter((f) => !f.startsWith('dist/'));
    expect(other.sort()).toEqual(['README.md', 'bin/sgnf', 'package.json', 'src/model/schema.json']);
    const dist = files.filter((f) => f.startsWith('dist/'));
    expect(dist).toContain('dist/index.js');
    expect(dist).toContain('dist/cli/main.js');
    // Each built file comes from a source file of src/ (no test module, no stale output).
    const source = (f: string): string => join(root, 'src', f.slice('dist/'.length).replace(/\.(js|d\.ts)(\.map)?$/, '.ts'));
    expect(dist.filter((f) => !existsSync(source(f)))).toEqual([]);
    expect(dist.filter((f) => /(^|\/)(test|verify|support|apply)\//.test(f))).toEqual([]);
  });
});
