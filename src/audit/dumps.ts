/**
 * What the audit reads: the texts the standard tools print on a host, under fixed names.
 *
 *   iptables backend: iptables-save.v4 (`iptables-save`), iptables-save.v6 (`ip6tables-save`),
 *                     ipset.save (`ipset save`)
 *   nft backend:      nft.ruleset (`nft list ruleset`)
 *
 * Either iptables variant may have printed them (iptables-nft or iptables-legacy): see
 * iptables-save.ts for what the parser accepts.
 */
import type { Backend } from '../compile.js';
import { ModelError } from '../model/errors.js';

export type LiveFile = 'iptables-save.v4' | 'iptables-save.v6' | 'ipset.save' | 'nft.ruleset';

/** The files of each backend, by name. */
export const LIVE_FILES: Readonly<Record<Backend, readonly LiveFile[]>> = {
  iptables: ['iptables-save.v4', 'iptables-save.v6', 'ipset.save'],
  nft: ['nft.ruleset'],
};

/** The dump texts, by file name. */
export type LiveDumps = Readonly<Partial<Record<LiveFile, string>>>;

/**
 * A dump that is not what the tool prints. Its issues name the file and line (`ipset.save:12`)
 * where a ModelError's name a JSON path, so the CLI reports both the same way (exit 2).
 */
export interface DumpProblem {
  /** `bad-dump`: a line the tool does not print; `missing-dump`: a file the backend reads is absent. */
  readonly code?: 'bad-dump' | 'missing-dump';
  readonly file: string;
  /** 1-based; 0 for the file as a whole (missing). */
  readonly line: number;
  readonly message: string;
}

export class DumpError extends ModelError {
  constructor(readonly problems: readonly DumpProblem[]) {
    super(problems.map((i) => ({ code: i.code ?? 'bad-dump', path: i.line > 0 ? `${i.file}:${i.line}` : i.file, message: i.message })));
    this.name = 'DumpError';
    this.message = `invalid live state (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` + this.issues.map((i) => `  ${i.path}: ${i.message}`).join('\n');
  }
}

/** Throws a DumpError for one line of one file. */
export function badLine(file: string, line: number, message: string): never {
  throw new DumpError([{ file, line, message }]);
}

/** Printable form of untrusted text in a message: quoted, control characters escaped, bounded. */
export function shown(text: string, max = 80): string {
  const t = text.length > max ? `${text.slice(0, max)}…` : text;
  return JSON.stringify(t);
}
