/**
 * Golden cases: golden/<case>/model.json, optional args.json (the CLI flags the case is compiled
 * with), and every expected output file. Shared by the golden test and the update script.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CompileOptions } from '../../src/compile.js';

export const GOLDEN_DIR = join(import.meta.dirname, '..', '..', 'golden');

export interface GoldenCase {
  readonly name: string;
  readonly dir: string;
  readonly model: unknown;
  readonly args: readonly string[];
  readonly options: CompileOptions;
}

/** The CLI flags a golden case may use, as library options. */
export function argsToOptions(args: readonly string[]): CompileOptions {
  const o: Record<string, unknown> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = (): string => {
      const v = args[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--remote-groups') o['remoteGroups'] = value();
    else if (a === '--driver') o['driver'] = value();
    else if (a === '--prefix') o['prefix'] = value();
    else if (a === '--host') o['host'] = value();
    else if (a === '--backend') o['backend'] = value();
    else if (a === '--comments') o['comments'] = true;
    else if (a === '--aggregate') o['aggregate'] = true;
    else throw new Error(`golden args: unsupported flag ${a}`);
  }
  return o as CompileOptions;
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
      return { name, dir, model: JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')), args, options: argsToOptions(args) };
    });
}
