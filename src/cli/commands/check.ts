/** `sgnf check`: compile and compare with golden files (exit 1 with a unified diff), or --update them. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError, parseOptions } from '../args.js';
import { type Command, modelFile } from '../command.js';
import { COMPILE_FLAGS, compileOptions } from '../compile-options.js';
import { readModel, warn } from '../io.js';
import { filesIn, writeAll } from '../output.js';
import { prepare } from '../../compile.js';

const EXIT_MISMATCH = 1;

const OPTIONS = {
  ...COMPILE_FLAGS,
  golden: { type: 'string', arg: 'DIR', describe: 'directory holding the expected files (required)' },
  update: { type: 'boolean', describe: 'rewrite the golden files with the compiled output' },
} as const;

export const command: Command = {
  usage: 'check --golden DIR [model.json | -] [--update] [options]',
  description: 'Compile and compare with the files in a golden directory: exit 0 when they are equal, exit 1 with a unified diff when they differ.',
  options: OPTIONS,
  async run(args) {
    const { values: a, positionals } = parseOptions(OPTIONS, args, 1);
    if (a.golden === undefined) throw new UsageError('--golden DIR is required');
    const golden = a.golden;
    const result = prepare(readModel(modelFile(positionals))).compile(compileOptions(a));
    warn(result.diagnostics);
    const count = Object.keys(result.files).length;
    if (a.update) {
      writeAll(golden, filesIn(result.files));
      process.stderr.write(`sgnf: updated ${count} files in ${golden}\n`);
      return 0;
    }
    const differing: [path: string, name: string, expected: string, text: string][] = [];
    for (const [name, text] of Object.entries(result.files)) {
      const path = join(golden, name);
      const expected = existsSync(path) ? readFileSync(path, 'utf8') : '';
      if (expected !== text) differing.push([path, name, expected, text]);
    }
    if (differing.length === 0) {
      process.stderr.write(`sgnf: ${golden}: ${count} files match\n`);
      return 0;
    }
    // The diff library is loaded only when there is something to show.
    const { createTwoFilesPatch } = await import('diff');
    for (const [path, name, expected, text] of differing) {
      process.stdout.write(createTwoFilesPatch(`${path} (golden)`, `${name} (compiled)`, expected, text, undefined, undefined, { context: 3 }));
    }
    process.stderr.write(`sgnf: ${golden}: compiled output differs from the golden files (run with --update to accept)\n`);
    return EXIT_MISMATCH;
  },
};
