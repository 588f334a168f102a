/** `sgnf compile`: print the ruleset files, or write them into a directory (per host with --each-host). */
import { type CommandLine, UsageError, parseOptions } from '../args.js';
import { type Command, EXIT_BAD_INPUT, FORMAT_OPTION, JOBS_OPTION, modelFile, modelSource } from '../command.js';
import { COMPILE_FLAGS, compileOptions } from '../compile-options.js';
import { readModel, sections, warn } from '../io.js';
import { filesIn, writeAll } from '../output.js';
import { prepare } from '../../compile.js';
import { ModelError } from '../../model/errors.js';

const OPTIONS = {
  ...COMPILE_FLAGS,
  out: { type: 'string', short: 'o', arg: 'DIR', describe: 'write ipset.restore, iptables.v4, iptables.v6 (nft: ruleset.nft, sets.nft) into DIR' },
  'each-host': { type: 'boolean', describe: 'compile every binding:host_id of the model into DIR/<host>/ (needs -o; nothing is written unless every host compiles)' },
  jobs: JOBS_OPTION,
  format: FORMAT_OPTION,
} as const;

export const command: Command = {
  usage: 'compile [model.json | -] [-o DIR] [options]',
  description:
    'Compile a model. Without -o the files are printed, each section starting with a line "# ==== NAME ====".\n' +
    'Apply the ipset script first, then iptables-restore and ip6tables-restore\n' +
    '(or, with --backend nft, `nft -f ruleset.nft`; later membership changes: `nft -f sets.nft`).',
  options: OPTIONS,
  async run(args) {
    const line = parseOptions(OPTIONS, args, 1);
    if (line.values.format !== 'json') return compile(line);
    // Agents asked for JSON: bad input is a JSON object too (on standard error, as always).
    try {
      return await compile(line);
    } catch (e) {
      if (!(e instanceof ModelError) && !(e instanceof UsageError)) throw e;
      const error = e instanceof ModelError ? { error: 'invalid model', issues: e.issues } : { error: 'usage', message: e.message };
      process.stderr.write(`${JSON.stringify(error)}\n`);
      return EXIT_BAD_INPUT;
    }
  },
};

async function compile({ values: a, positionals }: CommandLine<typeof OPTIONS>): Promise<number> {
  const json = a.format === 'json';
  const options = compileOptions(a);
  if (a['each-host']) {
    if (a.out === undefined) throw new UsageError('--each-host needs -o DIR');
    if (a.host !== undefined) throw new UsageError('--each-host and --host exclude each other');
    const { eachHost, defaultJobs } = await import('../each-host.js');
    const { results, diagnostics } = await eachHost({ kind: 'compile', model: modelSource(modelFile(positionals)), options }, a.out, a.jobs ?? defaultJobs());
    warn(diagnostics);
    if (json) {
      const hostsOut = Object.fromEntries(results.map((r) => [r.host, { written: r.files, stats: r.stats }]));
      process.stdout.write(`${JSON.stringify({ hosts: hostsOut, diagnostics })}\n`);
    }
    return 0;
  }
  if (a.jobs !== undefined) throw new UsageError('--jobs goes with --each-host');
  const result = prepare(readModel(modelFile(positionals))).compile(options);
  warn(result.diagnostics);
  const { stats, diagnostics } = result;
  if (a.out !== undefined) {
    const written = writeAll(a.out, filesIn(result.files));
    if (json) process.stdout.write(`${JSON.stringify({ written, stats, diagnostics })}\n`);
  } else if (json) {
    process.stdout.write(`${JSON.stringify({ files: result.files, stats, diagnostics })}\n`);
  } else {
    process.stdout.write(sections(result.files));
  }
  return 0;
}
