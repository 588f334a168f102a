/**
 * The `sgnf` command line: the only place that reads files, writes files and exits.
 *
 *   sgnf compile [model.json|-] [-o DIR]     print or write the ruleset
 *   sgnf check --golden DIR [model.json|-]   compare with golden files (exit 1 + diff), --update
 *   sgnf diff OLD NEW [-o DIR]               the change script from OLD to NEW (--exit-code; or --patch)
 *   sgnf audit [model.json|-] --live DIR     drift of a host from the model (exit 1), --repair -o DIR
 *   sgnf affected OLD NEW | OLD --patch P    the hosts whose files the change alters
 *   sgnf slice CLOUD --host H                the smallest model compiling host H as CLOUD does
 *   sgnf explain [model.json|-] --from P --to Q ...   would this packet pass, and why
 *   sgnf schema                              print the model's JSON Schema
 *
 * Exit codes: 0 ok, 1 golden mismatch, (diff --exit-code) a change or (audit) drift, 2 bad input or
 * usage (nothing on stdout), 3 internal error, 4 the output could not be written (nothing written to
 * -o DIR).
 *
 * Start-up time matters (a CLI run is often one small model): this module loads nothing but the
 * option parser, and each command's module (commands/NAME.ts) is imported only when it runs.
 */
import { readFileSync } from 'node:fs';
import { UsageError, oneLine, optionsHelp, quote } from './args.js';
import { type Command, EXIT_BAD_INPUT, EXIT_IO } from './command.js';
import { OutputError, reason } from './output.js';
import { ModelError } from '../model/errors.js';

/** Every command: its one-line summary, and how to load it. */
const COMMANDS: Readonly<Record<string, { readonly summary: string; readonly load: () => Promise<{ command: Command }> }>> = {
  compile: { summary: 'compile a model; print the files or write them with -o', load: () => import('./commands/compile.js') },
  check: { summary: 'compile and compare with golden files; exit 1 with a unified diff when they differ', load: () => import('./commands/check.js') },
  diff: { summary: 'the change script from the OLD model to the NEW one', load: () => import('./commands/diff.js') },
  audit: { summary: "compare a host's live netfilter state with the model; --repair writes the fix", load: () => import('./commands/audit.js') },
  affected: { summary: 'the hosts whose compiled files a change alters (NEW model or --patch)', load: () => import('./commands/affected.js') },
  slice: { summary: 'the smallest model that compiles one host as the cloud-wide model does', load: () => import('./commands/slice.js') },
  explain: { summary: 'say whether a packet passes and which rule decides, from the model alone', load: () => import('./commands/explain.js') },
  schema: { summary: "print the model's JSON Schema", load: () => import('./commands/schema.js') },
};

const HELP_FLAGS = new Set(['--help', '-h']);

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  return [
    'sgnf: compile a security-group model to netfilter rulesets.',
    '',
    'Usage: sgnf COMMAND [options]    (sgnf COMMAND --help for its options)',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Options:',
    '  --version  print the version',
    '  --help     print this help',
    '',
  ].join('\n');
}

function commandHelp(c: Command): string {
  const options = Object.keys(c.options).length > 0 ? `\nOptions:\n${optionsHelp(c.options)}\n` : '';
  return `Usage: sgnf ${c.usage}\n\n${c.description}\n${options}`;
}

function version(): string {
  // dist/cli/main.js (or src/cli/main.ts) -> the package's package.json.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...args] = argv;
  try {
    if (name === undefined) throw new UsageError('name a command: ' + Object.keys(COMMANDS).join(', '));
    if (HELP_FLAGS.has(name) || name === 'help') {
      const topic = name === 'help' ? args[0] : undefined;
      const entry = topic === undefined ? undefined : COMMANDS[topic];
      if (topic !== undefined && !entry) throw new UsageError(`unknown command ${quote(topic!)}`);
      process.stdout.write(entry ? commandHelp((await entry.load()).command) : usage());
      return 0;
    }
    if (name === '--version' || name === '-V') {
      process.stdout.write(`${version()}\n`);
      return 0;
    }
    const entry = Object.prototype.hasOwnProperty.call(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!entry) throw new UsageError(`unknown command ${quote(name)}: name one of ${Object.keys(COMMANDS).join(', ')}`);
    const { command } = await entry.load();
    if (args.some((x) => HELP_FLAGS.has(x))) {
      process.stdout.write(commandHelp(command));
      return 0;
    }
    return await command.run(args);
  } catch (e) {
    if (e instanceof ModelError) {
      process.stderr.write(`sgnf: ${e.message}\n`);
      return EXIT_BAD_INPUT;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`sgnf: ${oneLine(e.message)}\n\nRun "sgnf --help" for usage.\n`);
      return EXIT_BAD_INPUT;
    }
    if (e instanceof OutputError) {
      process.stderr.write(`sgnf: ${e.message}\n`);
      return EXIT_IO;
    }
    throw e;
  }
}

// Standard output may be a closed pipe or a full device; the error arrives as an event, maybe
// after main() returned: one line, exit EXIT_IO, whatever main() answered.
let stdoutFailed = false;
process.stdout.on('error', (e) => {
  if (!stdoutFailed) process.stderr.write(`sgnf: cannot write standard output: ${reason(e)}\n`);
  stdoutFailed = true;
  process.exitCode = EXIT_IO;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = stdoutFailed ? EXIT_IO : code;
  },
  (e: unknown) => {
    process.stderr.write(`sgnf: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 3;
  },
);
