/** `sgnf diff OLD NEW`: the change script that takes a host from OLD's ruleset to NEW's. */
import { UsageError, parseOptions } from '../args.js';
import type { Command } from '../command.js';
import { COMPILE_FLAGS, compileOptions } from '../compile-options.js';
import { hostDirs, readModel, sections } from '../io.js';
import { filesIn, quotePath, writeAll } from '../output.js';
import { type PreparedModel, prepare } from '../../compile.js';
import { DiffModelError, diffPrepared, emptyDiff } from '../../delta/diff.js';
import { affected } from '../../cloud/affected.js';
import { ModelError } from '../../model/errors.js';

const EXIT_CHANGED = 1;

const OPTIONS = {
  ...COMPILE_FLAGS,
  out: { type: 'string', short: 'o', arg: 'DIR', describe: 'write every delta file (empty ones too) into DIR' },
  'each-host': { type: 'boolean', describe: 'the change of every binding:host_id into DIR/<host>/ (needs -o)' },
  'exit-code': { type: 'boolean', describe: 'exit 1 when the change is not empty (like git diff --exit-code)' },
} as const;

/** Bad input in one of the two models names the model and its file. */
function named<T>(which: 'old' | 'new', file: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ModelError && !(e instanceof DiffModelError)) throw new DiffModelError(which, e, file === '-' ? 'standard input' : quotePath(file));
    throw e;
  }
}

export const command: Command = {
  usage: 'diff OLD NEW [-o DIR] [--each-host] [--exit-code] [options]',
  description:
    'The change script from the OLD model (the one the host was loaded with) to the NEW one: printed as sections,\n' +
    'or every delta file written into DIR (apply order: see the README, "Updating a host").',
  options: OPTIONS,
  run(args) {
    const { values: a, positionals } = parseOptions(OPTIONS, args, 2);
    const [oldFile, newFile] = positionals;
    if (oldFile === undefined || newFile === undefined) throw new UsageError('diff needs two models: OLD NEW (JSON files, or - for one of them)');
    if (oldFile === '-' && newFile === '-') throw new UsageError('only one of the two models can come from standard input');
    const options = compileOptions(a);
    const old: PreparedModel = named('old', oldFile, () => prepare(readModel(oldFile)));
    const next: PreparedModel = named('new', newFile, () => prepare(readModel(newFile)));
    if (a['each-host']) {
      if (a.out === undefined) throw new UsageError('--each-host needs -o DIR');
      if (a.host !== undefined) throw new UsageError('--each-host and --host exclude each other');
      const hosts = new Set([...named('old', oldFile, () => hostDirs(old)), ...named('new', newFile, () => hostDirs(next))]);
      // Hosts the change does not reach (affected, from the indexes of the two models) get the
      // empty delta without being compiled. Everything is computed before anything is written,
      // and written in one go: every host or none.
      const { host: _, ...perHost } = options;
      const touched = new Set(affected(old, next, perHost).hosts);
      const results = [...hosts].sort().map((host) => [host, touched.has(host) ? diffPrepared(old, next, { ...options, host }) : emptyDiff(options)] as const);
      writeAll(a.out, results.flatMap(([host, r]) => filesIn(r.files, host)));
      return a['exit-code'] && results.some(([, r]) => !r.empty) ? EXIT_CHANGED : 0;
    }
    const result = diffPrepared(old, next, options);
    if (a.out !== undefined) writeAll(a.out, filesIn(result.files));
    else process.stdout.write(sections(result.files));
    return a['exit-code'] && !result.empty ? EXIT_CHANGED : 0;
  },
};
