/**
 * Command-line options: each command declares its options once (a table of OptionSpecs), and
 * that table gives the parser (node:util parseArgs, strict), the typed values and the help text.
 * Nothing else is loaded to read a command line: the CLI must start fast.
 */
import { parseArgs } from 'node:util';

/** Bad usage: exit 2 with the message and a pointer to --help. */
export class UsageError extends Error {}

/**
 * Untrusted text (an argument, a file name) quoted for a message: in double quotes, with quotes,
 * backslashes and everything outside printable ASCII escaped, at most 200 characters shown.
 */
export function quote(text: string): string {
  const shown = text.length > 200 ? `${text.slice(0, 197)}...` : text;
  return `"${shown.replace(/[^\x20-\x7e]|["\\]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}"`;
}

/** A message as one line of printable ASCII: whatever it quotes from elsewhere (node, JSON.parse) is escaped. */
export const oneLine = (message: string): string =>
  message.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

export interface OptionSpec {
  readonly type: 'string' | 'boolean' | 'number';
  readonly short?: string;
  /** The only values a string option accepts. */
  readonly choices?: readonly string[];
  readonly default?: string | boolean | number;
  /** Placeholder of the value in the help text (`DIR`, `NAME`). */
  readonly arg?: string;
  readonly describe: string;
}

export type OptionTable = Readonly<Record<string, OptionSpec>>;

type ValueOf<O extends OptionSpec> = O['type'] extends 'boolean'
  ? boolean
  : O['type'] extends 'number'
    ? number
    : O extends { readonly choices: readonly (infer C)[] }
      ? C
      : string;

/** The parsed values of a table: booleans are always set (default false), others when given or defaulted. */
export type Values<T extends OptionTable> = {
  readonly [K in keyof T]: T[K] extends { readonly type: 'boolean' } | { readonly default: unknown } ? ValueOf<T[K]> : ValueOf<T[K]> | undefined;
};

export interface CommandLine<T extends OptionTable> {
  readonly values: Values<T>;
  readonly positionals: readonly string[];
}

/** Parse `args` against `table`; at most `maxPositionals` positionals. Throws UsageError. */
export function parseOptions<T extends OptionTable>(table: T, args: readonly string[], maxPositionals: number): CommandLine<T> {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, o] of Object.entries(table)) {
    options[name] = { type: o.type === 'boolean' ? 'boolean' : 'string', ...(o.short !== undefined && { short: o.short }) };
  }
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: true }) as typeof parsed;
  } catch (e) {
    // node's messages go on with advice about `--` on the same line: keep the first sentence.
    throw new UsageError((e as Error).message.split('\n')[0]!.replace(/\. To specify .*$/, ''));
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument ${quote(parsed.positionals[maxPositionals]!)}`);
  }
  const values: Record<string, unknown> = {};
  for (const [name, o] of Object.entries(table)) {
    const v = parsed.values[name];
    if (v === undefined) {
      values[name] = o.default ?? (o.type === 'boolean' ? false : undefined);
    } else if (o.type === 'number') {
      const n = Number(v);
      if (typeof v !== 'string' || !/^-?[0-9]+$/.test(v) || !Number.isSafeInteger(n)) throw new UsageError(`--${name} must be an integer, not ${quote(String(v))}`);
      values[name] = n;
    } else {
      if (o.choices !== undefined && !o.choices.includes(v as string)) {
        throw new UsageError(`--${name} must be one of ${o.choices.join(', ')}, not ${quote(String(v))}`);
      }
      values[name] = v;
    }
  }
  return { values: values as Values<T>, positionals: parsed.positionals };
}

/** The options part of a help text: one line per option. */
export function optionsHelp(table: OptionTable): string {
  const rows = Object.entries(table).map(([name, o]) => {
    const value = o.type === 'boolean' ? '' : ` ${o.choices ? o.choices.join('|') : (o.arg ?? (o.type === 'number' ? 'N' : 'VALUE'))}`;
    const flag = `${o.short !== undefined ? `-${o.short}, ` : '    '}--${name}${value}`;
    const def = o.default !== undefined && o.type !== 'boolean' ? ` (default: ${String(o.default)})` : '';
    return [flag, `${o.describe}${def}`] as const;
  });
  const width = Math.max(...rows.map(([f]) => f.length));
  return rows.map(([f, d]) => `  ${f.padEnd(width)}  ${d}`).join('\n');
}
