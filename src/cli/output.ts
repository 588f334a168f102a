/**
 * All-or-nothing output for every command that writes files (compile -o, --each-host, check
 * --update, diff -o): all the files of one run are written, or none is and every previous file
 * is left as it was. Nothing is written outside the output directory.
 *
 *   1. Check first: the output directory is a directory (or can be created), every directory
 *      below it is a real directory (not a symbolic link) or can be created, no final name is a
 *      directory or anything but a file or a link, and names are plain file names.
 *   2. Create the missing directories (remembered, to remove them again on failure).
 *   3. Write each file to a temporary in its own directory, under an unpredictable name, created
 *      exclusively (O_CREAT | O_EXCL: an existing name, a symbolic link included, is never
 *      followed or reused).
 *   4. Keep each file that will be replaced under a backup name (a hard link, also created
 *      exclusively), then rename every temporary over its final name (atomic per file).
 *   5. On any failure: put the replaced files back from their backups (remove the new ones),
 *      remove the temporaries, backups and created directories, and throw an OutputError (one
 *      line). On success: remove the backups.
 *
 * A command writes once: `writeAll(dir, [...filesIn(filesOfHost1, 'host-1'), ...])`.
 */
import { randomBytes } from 'node:crypto';
import * as nodeFs from 'node:fs';
import { dirname, join, normalize, sep } from 'node:path';
import { getSystemErrorMap } from 'node:util';
import { UsageError } from './args.js';

/** A file to write, by its path relative to the output directory (`name` or `sub/name`). */
export interface OutputFile {
  readonly path: string;
  readonly text: string;
}

/** The files of a compile result, optionally inside a subdirectory (a host's). */
export function filesIn(files: Readonly<Record<string, string>>, subdir?: string): OutputFile[] {
  return Object.entries(files).map(([name, text]) => ({ path: subdir === undefined ? name : `${subdir}/${name}`, text }));
}

/** Writing the output failed (the file system, not the input): exit EXIT_IO, nothing written. */
export class OutputError extends Error {}

/** The file-system calls the writer makes: node:fs, or a stand-in that fails on purpose (tests). */
export type FileOps = Pick<
  typeof nodeFs,
  'openSync' | 'writeSync' | 'closeSync' | 'renameSync' | 'linkSync' | 'unlinkSync' | 'mkdirSync' | 'rmdirSync' | 'lstatSync' | 'statSync'
>;

/** Longest file name on Linux file systems (NAME_MAX), in bytes. */
const NAME_MAX = 255;

/**
 * Write every file under `root`, all or nothing (see above). Returns the final paths, in the
 * order given. Throws UsageError when `root` is not a directory, OutputError on any I/O failure.
 */
export function writeAll(dir: string, files: readonly OutputFile[], fs: FileOps = nodeFs): string[] {
  const plan = planOutput(dir, files.map((f) => f.path), fs);
  const staged: Staged[] = [];
  try {
    files.forEach((f, i) => staged.push(stageText(plan.finals[i]!, f.text, fs)));
  } catch (e) {
    abandonOutput(plan, staged, fs);
    throw new OutputError(`cannot write ${quotePath(plan.finals[staged.length]!)}: ${reason(e)}; nothing was written`);
  }
  commitOutput(plan, staged, fs);
  return [...plan.finals];
}

/**
 * The same in steps, for output too large to hold (--each-host, src/cli/each-host.ts): plan
 * (steps 1 and 2) once, stage each file when it is made (step 3, in any thread: only node:fs
 * calls on paths of the plan), then commit (steps 4 and 5) or abandon.
 */
export interface OutputPlan {
  readonly root: string;
  /** Final path of each planned file, in the order given. */
  readonly finals: readonly string[];
  /** Directories made for this output (removed again if it is abandoned). */
  readonly created: readonly string[];
}

/** A file written under a temporary name, to be renamed to `final`. */
export interface Staged {
  readonly final: string;
  readonly tmp: string;
}

/** The output directory as the plan names it (so that other threads build the same final paths). */
export const outputRoot = (dir: string): string => normalize(dir).replace(/(.)\/+$/, '$1');

/** Steps 1 and 2 for files at these relative paths. Throws UsageError or OutputError (having made nothing). */
export function planOutput(dir: string, paths: readonly string[], fs: FileOps = nodeFs): OutputPlan {
  const root = outputRoot(dir);
  const finals = paths.map((p) => join(root, ...segments(p)));
  const seen = new Set<string>();
  for (const f of finals) {
    if (seen.has(f)) throw new Error(`${f} is written twice`);
    seen.add(f);
  }

  // 1. Check everything that can be checked before touching anything.
  const rootKind = kind(fs, root, true);
  if (rootKind !== 'missing' && rootKind !== 'directory') throw new UsageError(`${quotePath(root)} is not a directory`);
  const dirs = [...new Set(finals.map((f) => dirname(f)))];
  for (const d of dirs) {
    for (const sub of below(root, d)) {
      const k = kind(fs, sub, false);
      if (k === 'symlink') throw new OutputError(`cannot write into ${quotePath(sub)}: it is a symbolic link (sgnf writes only inside the output directory)`);
      if (k !== 'missing' && k !== 'directory') throw new OutputError(`cannot write into ${quotePath(sub)}: it is not a directory`);
    }
  }
  for (const f of finals) {
    const k = kind(fs, f, false);
    if (k === 'directory' || k === 'other') throw new OutputError(`cannot replace ${quotePath(f)}: it is ${k === 'directory' ? 'a directory' : 'not a file'}`);
  }

  // 2. Directories, shallowest first; the output directory with its missing parents.
  const created: string[] = [];
  let current = root;
  try {
    if (rootKind === 'missing') {
      const first = fs.mkdirSync(root, { recursive: true });
      if (first !== undefined) created.push(...[first, ...below(first, root)]);
    }
    for (const d of dirs.flatMap((d) => below(root, d))) {
      current = d;
      if (created.includes(d) || kind(fs, d, true) === 'directory') continue;
      fs.mkdirSync(d);
      created.push(d);
    }
  } catch (e) {
    for (const d of [...created].reverse()) quietly(() => fs.rmdirSync(d));
    if (e instanceof UsageError || e instanceof OutputError) throw e;
    throw new OutputError(`cannot create the directory ${quotePath(current)}: ${reason(e)}; nothing was written`);
  }
  return { root, finals, created };
}

/** Step 3 for one file: a temporary next to `final`, created exclusively. Throws the node error. */
export function stageText(final: string, text: string, fs: FileOps = nodeFs): Staged {
  let opened: string | undefined;
  try {
    const tmp = exclusive(fs, final, 'tmp', (path) => {
      const fd = fs.openSync(path, 'wx', 0o644);
      opened = path;
      try {
        writeText(fs, fd, text);
      } finally {
        fs.closeSync(fd);
      }
    });
    return { final, tmp };
  } catch (e) {
    if (opened !== undefined) quietly(() => fs.unlinkSync(opened!));
    throw e;
  }
}

/** Remove what a plan and its staged files left: temporaries, then the directories it made. */
export function abandonOutput(plan: OutputPlan, staged: readonly Staged[], fs: FileOps = nodeFs): void {
  for (const s of staged) quietly(() => fs.unlinkSync(s.tmp));
  for (const d of [...plan.created].reverse()) quietly(() => fs.rmdirSync(d));
}

/** Steps 4 and 5: the staged files into place, or (on any failure) everything as it was, and OutputError. */
export function commitOutput(plan: OutputPlan, staged: readonly Staged[], fs: FileOps = nodeFs): void {
  const temporaries = new Set(staged.map((s) => s.tmp));
  /** Second names of the files being replaced; `keep`: the only copy left (a restore failed). */
  const backups: { final: string; backup: string | undefined; keep: boolean }[] = [];
  let current = plan.root;
  try {
    // 4. Backups of what is replaced, then the renames.
    for (const t of staged) {
      current = t.final;
      const backup = kind(fs, t.final, false) === 'missing' ? undefined : exclusive(fs, t.final, 'old', (path) => fs.linkSync(t.final, path));
      backups.push({ final: t.final, backup, keep: false });
    }
    let done = 0;
    try {
      for (const t of staged) {
        current = t.final;
        fs.renameSync(t.tmp, t.final);
        temporaries.delete(t.tmp);
        done++;
      }
    } catch (e) {
      // 5. Put back what was already replaced, newest first.
      for (const b of backups.slice(0, done).reverse()) {
        try {
          if (b.backup === undefined) fs.unlinkSync(b.final);
          else fs.renameSync(b.backup, b.final);
          b.backup = undefined;
        } catch {
          b.keep = true; // the backup is the previous file now: leave it for the user
        }
      }
      throw e;
    }
    for (const b of backups) if (b.backup !== undefined) quietly(() => fs.unlinkSync(b.backup!));
  } catch (e) {
    for (const tmp of temporaries) quietly(() => fs.unlinkSync(tmp));
    for (const b of backups) if (b.backup !== undefined && !b.keep) quietly(() => fs.unlinkSync(b.backup!));
    for (const d of [...plan.created].reverse()) quietly(() => fs.rmdirSync(d));
    if (e instanceof UsageError || e instanceof OutputError) throw e;
    const kept = backups.filter((b) => b.keep).map((b) => `${quotePath(b.final)} is at ${quotePath(b.backup!)}`);
    throw new OutputError(`cannot replace ${quotePath(current)}: ${reason(e)}; ${kept.length === 0 ? 'nothing was written' : `the previous ${kept.join(', ')}`}`);
  }
}

/** The path's segments: plain file names only (no empty, `.`, `..`, separators, NUL; at most NAME_MAX bytes). */
function segments(path: string): string[] {
  const parts = path.split('/');
  for (const p of parts) {
    if (p === '' || p === '.' || p === '..' || p.includes(sep) || p.includes('\0') || Buffer.byteLength(p) > NAME_MAX) {
      throw new Error(`${JSON.stringify(path)} is not a relative path of plain file names`);
    }
  }
  return parts;
}

/** The directories from just below `root` down to `dir` (which is `root` or below it). */
function below(root: string, dir: string): string[] {
  const out: string[] = [];
  for (let d = dir; d !== root && d.length > root.length; d = dirname(d)) out.unshift(d);
  return out;
}

type Kind = 'missing' | 'directory' | 'file' | 'symlink' | 'other';

/** What is at `path`; `follow`: through a symbolic link (the output directory may be one). */
function kind(fs: FileOps, path: string, follow: boolean): Kind {
  let st: nodeFs.Stats | undefined;
  try {
    st = follow ? fs.statSync(path, { throwIfNoEntry: false }) : fs.lstatSync(path, { throwIfNoEntry: false });
  } catch (e) {
    // A path through a file (ENOTDIR) cannot be a directory; anything else is reported as it is.
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') return 'other';
    throw new OutputError(`cannot look at ${quotePath(path)}: ${reason(e)}`);
  }
  if (st === undefined) return 'missing';
  return st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'other';
}

/** Runs `create` on a fresh unpredictable name next to `final` until one does not exist yet. */
function exclusive(_fs: FileOps, final: string, what: 'tmp' | 'old', create: (path: string) => void): string {
  for (let attempt = 0; ; attempt++) {
    const path = join(dirname(final), `.sgnf-${randomHex()}.${what}`);
    try {
      create(path);
      return path;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 8) throw e;
    }
  }
}

/** 48 random bits in hex (Web Crypto: no module to load). */
// node:crypto, which the compiler loads anyway: globalThis.crypto would set up WebCrypto at every start.
const randomHex = (): string => randomBytes(6).toString('hex');

function writeText(fs: FileOps, fd: number, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  for (let off = 0; off < bytes.length; ) off += fs.writeSync(fd, bytes, off, bytes.length - off);
}

function quietly(f: () => void): void {
  try {
    f();
  } catch {
    // Cleaning up after a failure: the first error is the one reported.
  }
}

/** "no space left on device (ENOSPC)" from a Node error, one line. */
export function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const system = typeof err?.errno === 'number' ? getSystemErrorMap().get(err.errno) : undefined;
  const text = typeof err?.message === 'string' ? err.message : String(e);
  // Node's fs messages read "ENOSPC: no space left on device, write": keep the description.
  const m = /^([A-Z0-9]+): ([^,\n]*)/.exec(text);
  const line = system ? `${system[1]} (${system[0]})` : m ? `${m[2]} (${m[1]})` : text.split('\n')[0]!;
  return line.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A path for a message: as it is when plain, else quoted with every unusual character escaped. */
export function quotePath(path: string): string {
  if (/^[A-Za-z0-9._/+@%,:=-]+$/.test(path)) return path;
  return JSON.stringify(path).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
