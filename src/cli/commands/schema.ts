/** `sgnf schema`: print the JSON Schema of the model (the file the package exports as sgnf/schema.json). */
import { readFileSync } from 'node:fs';
import { parseOptions } from '../args.js';
import type { Command } from '../command.js';

export const command: Command = {
  usage: 'schema',
  description: 'Print the JSON Schema of the model (also exported by the package as sgnf/schema.json).',
  options: {},
  run(args) {
    parseOptions({}, args, 0);
    // dist/cli/commands/ (or src/cli/commands/) -> src/model/schema.json, which the package ships.
    process.stdout.write(readFileSync(new URL('../../../src/model/schema.json', import.meta.url), 'utf8'));
    return 0;
  },
};
