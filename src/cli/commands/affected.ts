/** `sgnf affected OLD NEW | OLD --patch CHANGE`: the hosts whose compiled files a change alters. */
import { UsageError, parseOptions } from '../args.js';
import type { Command } from '../command.js';
import { COMPILE_FLAGS, compileOptions } from '../compile-options.js';
import { readModel } from '../io.js';
import { named } from '../two-models.js';
import { type PreparedModel, prepare } from '../../compile.js';
import { affected } from '../../cloud/affected.js';

const { host: _host, ...FLAGS } = COMPILE_FLAGS;

const OPTIONS = {
  ...FLAGS,
  patch: { type: 'string', arg: 'FILE', describe: 'the change as an RFC 6902 JSON Patch against OLD (instead of NEW)' },
  format: {
    type: 'string',
    choices: ['text', 'json'],
    default: 'text',
    describe: 'text: the hosts, one per line; json: {"hosts": [...], "changes": [...]} with the reasons per host',
  },
  json: { type: 'boolean', describe: 'the same as --format json' },
} as const;

export const command: Command = {
  usage: 'affected OLD (NEW | --patch CHANGE.json) [--format json] [options]',
  description:
    'The hosts whose compiled files differ between OLD and NEW (cloud-wide models whose devices carry binding:host_id),\n' +
    'one per line, sorted: exactly those, with the same compile options. With --format json, also why: groups whose\n' +
    'chains changed, sets whose members changed, ports added, removed or changed, options, conntrack zones.',
  options: OPTIONS,
  run(args) {
    const { values: a, positionals } = parseOptions(OPTIONS, args, 2);
    const [oldFile, newFile] = positionals;
    if (oldFile === undefined) throw new UsageError('affected needs the OLD model, and the NEW one or --patch CHANGE.json');
    if ((newFile === undefined) === (a.patch === undefined)) throw new UsageError('give either the NEW model or --patch CHANGE.json');
    const files = [oldFile, newFile ?? a.patch!];
    if (files.filter((f) => f === '-').length > 1) throw new UsageError('only one input can come from standard input');
    const options = compileOptions({ ...a, host: undefined });
    const old: PreparedModel = named('old', oldFile, () => prepare(readModel(oldFile)));
    const next: PreparedModel =
      a.patch !== undefined ? named('new', a.patch, () => old.patch(readModel(a.patch!))) : named('new', newFile!, () => prepare(readModel(newFile!)));
    const result = affected(old, next, options);
    if (a.json || a.format === 'json') process.stdout.write(`${JSON.stringify(result)}\n`);
    else process.stdout.write(result.hosts.map((h) => `${h}\n`).join(''));
    return 0;
  },
};
