/** What the commands read and write: the model file, output directories, warnings. */
import { readFileSync } from 'node:fs';
import { UsageError } from './args.js';
import type { PreparedModel } from '../compile.js';
import { ModelError } from '../model/errors.js';
import type { Diagnostic } from '../model/types.js';
import { printable } from '../net/ip.js';

/** The model JSON of a file, or of standard input for `-`. A UTF-8 byte-order mark is skipped. */
export function readModel(file: string): unknown {
  return parseModelText(readModelText(file), file);
}

/** The text of a file, or of standard input for `-`. */
export function readModelText(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file === '-' ? 'standard input' : file}: ${(e as Error).message}`);
  }
}

/** JSON of a text read from `file` (for messages). */
export function parseModelText(text: string, file: string): unknown {
  // Some editors start UTF-8 files with a byte-order mark, which JSON.parse refuses.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file === '-' ? 'standard input' : file} is not valid JSON: ${(e as Error).message}`);
  }
}

export function warn(diagnostics: readonly Diagnostic[]): void {
  for (const d of diagnostics) process.stderr.write(`sgnf: warning: ${d.path}: ${d.message}\n`);
}

/**
 * A host name that can name a directory (--each-host): a plain file name, as long as a DNS name
 * at most (every file system takes 255 bytes).
 */
const HOST_DIR = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

/** The hosts of a cloud-wide model, sorted, for --each-host: every device bound, every host a directory name. */
export function hostDirs(prepared: PreparedModel): string[] {
  const hosts = new Set<string>();
  for (const p of prepared.cloud.ports) {
    const path = `$.devices[${JSON.stringify(p.id)}]["binding:host_id"]`;
    if (p.host === undefined) throw new ModelError([{ code: 'required', path, message: 'is required with --each-host' }]);
    if (!HOST_DIR.test(p.host)) throw new ModelError([{ code: 'bad-host-name', path, message: `host name "${printable(p.host)}" cannot name a directory (1 to 253 letters, digits, ".", "_", "-", starting with a letter or digit)` }]);
    hosts.add(p.host);
  }
  return [...hosts].sort();
}

/** The files as sections of one text, each starting with a line `# ==== NAME ====`. */
export function sections(files: Readonly<Record<string, string>>): string {
  return Object.entries(files)
    .map(([name, text]) => `# ==== ${name} ====\n${text}`)
    .join('\n');
}
