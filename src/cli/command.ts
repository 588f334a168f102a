/**
 * A CLI command: one module under commands/, loaded only when its name is given (main.ts lists
 * the names). To add a command, write commands/NAME.ts exporting `command` and add one line to
 * COMMANDS in main.ts.
 */
import type { OptionTable } from './args.js';
import { readModelText } from './io.js';

export interface Command {
  /** After `sgnf`: `compile [model.json | -] [options]`. */
  readonly usage: string;
  /** What the command does, for its --help. */
  readonly description: string;
  readonly options: OptionTable;
  /** Runs the command; returns the exit code. Throws UsageError or ModelError for exit 2. */
  run(args: readonly string[]): number | Promise<number>;
}

/** Bad input or usage (nothing is printed on standard output). */
export const EXIT_BAD_INPUT = 2;

/**
 * The output could not be written (a full disk, a closed pipe, a path that cannot be a file):
 * one line on standard error; files in an output directory are all written or none is.
 */
export const EXIT_IO = 4;

/** The `model` positional every command that reads a model takes. */
export const modelFile = (positionals: readonly string[]): string => positionals[0] ?? '-';

/** The `--format` option of commands that can answer in JSON. */
export const FORMAT_OPTION = {
  type: 'string',
  choices: ['text', 'json'],
  default: 'text',
  describe: 'json: one JSON object on standard output (and bad input as a JSON object on standard error)',
} as const;

/** The `--jobs` option of --each-host. */
export const JOBS_OPTION = {
  type: 'number',
  arg: 'N',
  describe: 'with --each-host: threads to spread the hosts over (default: the number of CPUs); the output is the same for any N',
} as const;

/** A model file for --each-host: standard input is read here (worker threads cannot read it). */
export function modelSource(file: string): { file: string; text?: string } {
  if (file !== '-') return { file };
  return { file, text: readModelText(file) };
}
