/** `sgnf slice CLOUD --host H`: the smallest model that compiles host H as the cloud does. */
import { UsageError, parseOptions } from '../args.js';
import { type Command, JOBS_OPTION, modelFile, modelSource } from '../command.js';
import { readModel, warn } from '../io.js';
import { writeAll } from '../output.js';
import { prepare } from '../../compile.js';
import { slice } from '../../cloud/slice.js';

const OPTIONS = {
  host: { type: 'string', arg: 'NAME', describe: 'the host (binding:host_id) to slice the model for' },
  out: { type: 'string', short: 'o', arg: 'DIR', describe: 'write DIR/model.json (with --each-host: DIR/<host>/model.json)' },
  'each-host': { type: 'boolean', describe: 'the slice of every host into DIR/<host>/model.json (needs -o; all or nothing)' },
  jobs: JOBS_OPTION,
} as const;

export const command: Command = {
  usage: 'slice [cloud.json | -] (--host NAME [-o DIR] | --each-host -o DIR [--jobs N])',
  description:
    'The smallest model that compiles one host exactly as the cloud-wide model does (any compile options): the host\'s\n' +
    'devices, the groups they use, the member addresses of the groups their rules reference, the address groups\n' +
    'referenced, the options. Printed as JSON, or written with -o.',
  options: OPTIONS,
  async run(args) {
    const { values: a, positionals } = parseOptions(OPTIONS, args, 1);
    const file = modelFile(positionals);
    if (a['each-host']) {
      if (a.out === undefined) throw new UsageError('--each-host needs -o DIR');
      if (a.host !== undefined) throw new UsageError('--each-host and --host exclude each other');
      const { eachHost, defaultJobs } = await import('../each-host.js');
      const { diagnostics } = await eachHost({ kind: 'slice', model: modelSource(file) }, a.out, a.jobs ?? defaultJobs());
      warn(diagnostics);
      return 0;
    }
    if (a.host === undefined) throw new UsageError('name the host: --host NAME (or --each-host -o DIR)');
    if (a.jobs !== undefined) throw new UsageError('--jobs goes with --each-host');
    const prepared = prepare(readModel(file));
    warn(prepared.cloud.diagnostics);
    const text = `${JSON.stringify(slice(prepared, a.host))}\n`;
    if (a.out !== undefined) writeAll(a.out, [{ path: 'model.json', text }]);
    else process.stdout.write(text);
    return 0;
  },
};
