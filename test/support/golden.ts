/**
 * Golden cases: golden/<case>/model.json, optional args.json (the CLI flags the case is compiled
 * with), and every expected output file. Shared by the golden test and the update script.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CompileOptions } from '../../src/compile.js';
import { compileOptionsFromArgs } from '../../src/cli/compile-options.js';

export const GOLDEN_DIR = join(import.meta.dirname, '..', '..', 'golden');

export interface GoldenCase {
  readonly name: string;
  readonly dir: string;
  readonly model: unknown;
  readonly args: readonly string[];
  readonly options: CompileOptions;
}

export function goldenCases(): GoldenCase[] {
  return readdirSync(GOLDEN_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(GOLDEN_DIR, d.name, 'model.json')))
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const dir = join(GOLDEN_DIR, name);
      const argsFile = join(dir, 'args.json');
      const args = existsSync(argsFile) ? (JSON.parse(readFileSync(argsFile, 'utf8')) as string[]) : [];
      return { name, dir, model: JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')), args, options: compileOptionsFromArgs(args) };
    });
}
