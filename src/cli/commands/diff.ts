/** `sgnf diff OLD NEW`: the change script that takes a host from OLD's ruleset to NEW's. */
import { UsageError, parseOptions } from '../args.js';
import { type Command, JOBS_OPTION, modelSource } from '../command.js';
import { COMPILE_FLAGS, compileOptions } from '../compile-options.js';
import { readModel, sections } from '../io.js';
import { filesIn, writeAll } from '../output.js';
import { named } from '../two-models.js';
import { type PreparedModel, prepare } from '../../compile.js';
import { diffPrepared } from '../../delta/diff.js';

const EXIT_CHANGED = 1;

const OPTIONS = {
  ...COMPILE_FLAGS,
  out: { type: 'string', short: 'o', arg: 'DIR', describe: 'write every delta file (empty ones too) into DIR' },
  'each-host': { type: 'boolean', describe: 'the change of every binding:host_id into DIR/<host>/ (needs -o)' },
  'exit-code': { type: 'boolean', describe: 'exit 1 when the change is not empty (like git diff --exit-code)' },
  patch: { type: 'string', arg: 'FILE', describe: 'the change as an RFC 6902 JSON Patch against OLD (instead of NEW)' },
  jobs: JOBS_OPTION,
} as const;

export const command: Command = {
  usage: 'diff OLD (NEW | --patch CHANGE.json) [-o DIR] [--each-host [--jobs N]] [--exit-code] [options]',
  description:
    'The change script from the OLD model (the one the host was loaded with) to the NEW one: printed as sections,\n' +
    'or every delta file written into DIR (apply order: see the README, "Updating a host").',
  options: OPTIONS,
  async run(args) {
    const { values: a, positionals } = parseOptions(OPTIONS, args, 2);
    const [oldFile, second] = positionals;
    if (oldFile === undefined || (second === undefined && a.patch === undefined)) {
      throw new UsageError('diff needs two models: OLD NEW (JSON files, or - for one of them), or OLD --patch CHANGE.json');
    }
    if (second !== undefined && a.patch !== undefined) throw new UsageError('give either the NEW model or --patch CHANGE.json, not both');
    const newFile = second ?? a.patch!;
    if (oldFile === '-' && newFile === '-') throw new UsageError('only one of the two models can come from standard input');
    const options = compileOptions(a);
    if (a['each-host']) {
      if (a.out === undefined) throw new UsageError('--each-host needs -o DIR');
      if (a.host !== undefined) throw new UsageError('--each-host and --host exclude each other');
      const { eachHost, defaultJobs } = await import('../each-host.js');
      const task = { kind: 'diff', old: modelSource(oldFile), next: modelSource(newFile), patch: a.patch !== undefined, options } as const;
      const { results } = await eachHost(task, a.out, a.jobs ?? defaultJobs());
      return a['exit-code'] && results.some((r) => r.empty === false) ? EXIT_CHANGED : 0;
    }
    if (a.jobs !== undefined) throw new UsageError('--jobs goes with --each-host');
    const old: PreparedModel = named('old', oldFile, () => prepare(readModel(oldFile)));
    const next: PreparedModel = named('new', newFile, () => (a.patch !== undefined ? old.patch(readModel(newFile)) : prepare(readModel(newFile))));
    const result = diffPrepared(old, next, options);
    if (a.out !== undefined) writeAll(a.out, filesIn(result.files));
    else process.stdout.write(sections(result.files));
    return a['exit-code'] && !result.empty ? EXIT_CHANGED : 0;
  },
};
