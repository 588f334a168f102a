/**
 * What every apply simulator returns. A tool that fails leaves the host in some state too
 * (`ipset restore` keeps the lines before the failing one, `iptables-restore` the tables
 * committed before it, `nft -f` nothing), so a failure carries that state.
 */
export type ApplyResult<S> =
  | { readonly ok: true; readonly state: S }
  | {
      readonly ok: false;
      /** The tool's complaint, reworded; says what and why. */
      readonly error: string;
      /** 1-based line of `file` the tool stopped at (blank and comment lines count). */
      readonly line: number;
      /** Which file (or tool) failed, as the caller named it. */
      readonly file: string;
      /** The host after the failure: what the tool left applied. */
      readonly state: S;
    };

/** Thrown by unwrap(), and internally to stop at a failing line. */
export class ApplyError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(`${file}:${line}: ${reason}`);
    this.name = 'ApplyError';
  }
}

/** The state of a successful result; throws an ApplyError naming the file and line otherwise. */
export function unwrap<S>(r: ApplyResult<S>): S {
  if (!r.ok) throw new ApplyError(r.file, r.line, r.error);
  return r.state;
}

/** Raw lines of a script as the tools read them: split at \n, a missing final newline tolerated. */
export function rawLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}
