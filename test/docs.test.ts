/** Every document the code cites is in the repository (docs/), so a reader can follow it. */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const sources = (dir: string): string[] =>
  readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(root, join(e.parentPath, e.name)));

describe('documents the code cites', () => {
  const files = [...sources('src'), ...sources('test')].filter((f) => f !== 'test/docs.test.ts');
  it('are files of docs/ that exist', () => {
    const missing: string[] = [];
    for (const f of files) {
      for (const m of readFileSync(join(root, f), 'utf8').matchAll(/\b([a-z][a-z-]*\.md)\b/g)) {
        const name = m[1]!;
        if (name === 'README.md' || name === 'results.md') continue;
        if (!existsSync(join(root, 'docs', name))) missing.push(`${f}: ${name}`);
      }
    }
    expect(missing).toEqual([]);
  });
  it('never name notes outside the repository', () => {
    const outside = files.filter((f) => /netfilter-targets|neutron-semantics|shared\/docs/.test(readFileSync(join(root, f), 'utf8')));
    expect(outside).toEqual([]);
  });
});
