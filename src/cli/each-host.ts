/**
 * --each-host on every core: the hosts of a cloud are spread over worker threads (`--jobs N`,
 * default: the number of CPUs), each thread holding its own prepared model, all of them taking
 * the next host from one shared counter. The output is written by the steps of output.ts: the
 * main thread plans it (checks, directories), every thread stages each host's files as soon as
 * they are made (a cloud's rulesets do not fit in memory at once), and the main thread commits
 * them once every host has succeeded: all or nothing, and identical to `--jobs 1` (each host is
 * compiled alone, by the same code).
 *
 * The main thread is one of the N: it prepares the model too, which is also where bad input is
 * reported, exactly as without --jobs; the workers wait for its plan before they write.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { type CompileOptions, type CompileStats, OUTPUT_FILES, type PreparedModel, prepare } from '../compile.js';
import { slice } from '../cloud/slice.js';
import { DELTA_FILES, DiffModelError, diffPrepared, emptyDiff } from '../delta/diff.js';
import { affected } from '../cloud/affected.js';
import { ModelError } from '../model/errors.js';
import type { Diagnostic } from '../model/types.js';
import { UsageError } from './args.js';
import { hostDirs, parseModelText, readModelText } from './io.js';
import { type Staged, OutputError, abandonOutput, commitOutput, outputRoot, planOutput, quotePath, reason, stageText } from './output.js';

/** A model: its file (`-`: standard input, whose text the main thread passes on). */
export interface Source {
  readonly file: string;
  readonly text?: string;
}

export type HostTask =
  | { readonly kind: 'compile'; readonly model: Source; readonly options: CompileOptions }
  | { readonly kind: 'slice'; readonly model: Source }
  | { readonly kind: 'diff'; readonly old: Source; readonly next: Source; readonly patch: boolean; readonly options: CompileOptions };

/** What one host produced: its files (relative to its directory) and a summary for --format json. */
export interface HostResult {
  readonly host: string;
  readonly files: readonly string[];
  readonly stats?: CompileStats;
  readonly empty?: boolean;
}

interface Unit {
  readonly hosts: readonly string[];
  readonly diagnostics: readonly Diagnostic[];
  run(host: string): { files: Readonly<Record<string, string>>; stats?: CompileStats; empty?: boolean };
}

const read = (s: Source): unknown => parseModelText(s.text ?? readModelText(s.file), s.file);

/** Bad input in one of two models names the model and its file. */
function named<T>(which: 'old' | 'new', file: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ModelError && !(e instanceof DiffModelError)) throw new DiffModelError(which, e, file === '-' ? 'standard input' : quotePath(file));
    throw e;
  }
}

/** The per-host work of a task, after the model(s) are prepared. */
function unitOf(task: HostTask): Unit {
  switch (task.kind) {
    case 'compile': {
      const p = prepare(read(task.model));
      return { hosts: hostDirs(p), diagnostics: p.cloud.diagnostics, run: (host) => p.compile({ ...task.options, host }) };
    }
    case 'slice': {
      const p = prepare(read(task.model));
      return { hosts: hostDirs(p), diagnostics: p.cloud.diagnostics, run: (host) => ({ files: { 'model.json': `${JSON.stringify(slice(p, host))}\n` } }) };
    }
    case 'diff': {
      const old: PreparedModel = named('old', task.old.file, () => prepare(read(task.old)));
      const next: PreparedModel = task.patch ? named('new', task.next.file, () => old.patch(read(task.next))) : named('new', task.next.file, () => prepare(read(task.next)));
      const hosts = new Set([...named('old', task.old.file, () => hostDirs(old)), ...named('new', task.next.file, () => hostDirs(next))]);
      // Hosts the change does not reach (affected, from the indexes of the two models) get the
      // empty delta without being compiled.
      const { host: _, ...perHost } = task.options;
      const touched = new Set(affected(old, next, perHost).hosts);
      const run = (host: string) => (touched.has(host) ? diffPrepared(old, next, { ...task.options, host }) : emptyDiff(task.options));
      return { hosts: [...hosts].sort(), diagnostics: [], run };
    }
  }
}

/** The files each host gets, by task (the plan is made before any host is compiled). */
function fileNames(task: HostTask): readonly string[] {
  if (task.kind === 'slice') return ['model.json'];
  const backend = task.options.backend ?? 'iptables';
  return task.kind === 'compile' ? OUTPUT_FILES[backend] : DELTA_FILES[backend];
}

/** Shared between the threads: the next host to take; set when a thread failed; the plan's state. */
const NEXT = 0;
const FAILED = 1;
const PLAN = 2;
const PLAN_READY = 1;
const PLAN_ABANDONED = 2;

interface ThreadOutcome {
  readonly staged: Staged[];
  readonly results: HostResult[];
}

/** Take hosts from the shared counter until none is left (or a thread failed); stage their files. */
function work(unit: Unit, task: HostTask, root: string, counter: Int32Array, into: ThreadOutcome): void {
  const names = fileNames(task);
  for (;;) {
    if (Atomics.load(counter, FAILED) !== 0) return;
    const i = Atomics.add(counter, NEXT, 1);
    if (i >= unit.hosts.length) return;
    const host = unit.hosts[i]!;
    const r = unit.run(host);
    const got = Object.keys(r.files);
    if (got.length !== names.length || got.some((n, k) => n !== names[k])) throw new Error(`host ${host}: files ${got.join(', ')}, planned ${names.join(', ')}`);
    const finals = names.map((n) => join(root, host, n));
    names.forEach((n, k) => {
      try {
        into.staged.push(stageText(finals[k]!, r.files[n]!));
      } catch (e) {
        throw new OutputError(`cannot write ${quotePath(finals[k]!)}: ${reason(e)}; nothing was written`);
      }
    });
    into.results.push({ host, files: finals, ...(r.stats && { stats: r.stats }), ...(r.empty !== undefined && { empty: r.empty }) });
  }
}

/** What a worker thread sends back. */
type WorkerMessage = { readonly ok: true; readonly outcome: ThreadOutcome } | { readonly ok: false; readonly error: SerializedError; readonly outcome: ThreadOutcome };

type SerializedError =
  | { readonly kind: 'model'; readonly message: string; readonly issues: ModelError['issues'] }
  | { readonly kind: 'usage' | 'output' | 'other'; readonly message: string };

function serialize(e: unknown): SerializedError {
  if (e instanceof ModelError) return { kind: 'model', message: e.message, issues: e.issues };
  if (e instanceof UsageError) return { kind: 'usage', message: e.message };
  if (e instanceof OutputError) return { kind: 'output', message: e.message };
  return { kind: 'other', message: e instanceof Error ? (e.stack ?? e.message) : String(e) };
}

function revive(s: SerializedError): Error {
  if (s.kind === 'model') {
    const e = new ModelError(s.issues);
    e.message = s.message;
    return e;
  }
  if (s.kind === 'usage') return new UsageError(s.message);
  if (s.kind === 'output') return new OutputError(s.message);
  return new Error(`a worker thread failed: ${s.message}`);
}

/** Entry of a worker thread (host-worker.ts). */
export function workerMain(data: { task: HostTask; out: string; shared: SharedArrayBuffer }, post: (m: WorkerMessage) => void): void {
  const counter = new Int32Array(data.shared);
  const outcome: ThreadOutcome = { staged: [], results: [] };
  try {
    const unit = unitOf(data.task);
    // Nothing is written before the main thread's plan (its checks and directories) is there.
    Atomics.wait(counter, PLAN, 0);
    if (Atomics.load(counter, PLAN) === PLAN_READY) work(unit, data.task, outputRoot(data.out), counter, outcome);
    post({ ok: true, outcome });
  } catch (e) {
    Atomics.store(counter, FAILED, 1);
    post({ ok: false, error: serialize(e), outcome });
  }
}

export const defaultJobs = (): number => availableParallelism();

/**
 * Run a task for every host into `out/<host>/` with `jobs` threads (the main thread and jobs - 1
 * workers). Returns the hosts' results in host order and the model's warnings; writes nothing
 * unless every host succeeds.
 */
export async function eachHost(task: HostTask, out: string, jobs: number): Promise<{ results: HostResult[]; diagnostics: readonly Diagnostic[] }> {
  if (!Number.isInteger(jobs) || jobs < 1) throw new UsageError(`--jobs must be a positive integer, not ${jobs}`);
  const shared = new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT);
  const counter = new Int32Array(shared);
  const workers: Promise<WorkerMessage>[] = [];
  // Workers start first: they prepare their models while this thread prepares its own.
  for (let k = 1; k < jobs; k++) {
    workers.push(
      new Promise((resolve, reject) => {
        const w = new Worker(new URL('./host-worker.js', import.meta.url), { workerData: { task, out, shared } });
        let answered = false;
        w.once('message', (m: WorkerMessage) => {
          answered = true;
          resolve(m);
        });
        w.once('error', reject);
        w.once('exit', (code) => {
          if (!answered) reject(new Error(`a worker thread exited (${code}) without an answer`));
        });
      }),
    );
  }
  const mine: ThreadOutcome = { staged: [], results: [] };
  let failure: unknown;
  let unit: Unit | undefined;
  let plan: ReturnType<typeof planOutput> | undefined;
  try {
    unit = unitOf(task);
    const names = fileNames(task);
    plan = planOutput(out, unit.hosts.flatMap((h) => names.map((n) => `${h}/${n}`)));
    Atomics.store(counter, PLAN, PLAN_READY);
    Atomics.notify(counter, PLAN);
    work(unit, task, plan.root, counter, mine);
  } catch (e) {
    Atomics.store(counter, FAILED, 1);
    failure = e;
  }
  if (Atomics.load(counter, PLAN) !== PLAN_READY) {
    Atomics.store(counter, PLAN, PLAN_ABANDONED);
    Atomics.notify(counter, PLAN);
  }
  const outcomes = [mine];
  for (const settled of await Promise.allSettled(workers)) {
    if (settled.status === 'rejected') failure ??= settled.reason;
    else {
      outcomes.push(settled.value.outcome);
      if (!settled.value.ok) failure ??= revive(settled.value.error);
    }
  }
  const staged = outcomes.flatMap((o) => o.staged);
  if (failure !== undefined || unit === undefined || plan === undefined) {
    if (plan) abandonOutput(plan, staged);
    throw failure;
  }
  commitOutput(plan, staged);
  const results = outcomes.flatMap((o) => o.results).sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  return { results, diagnostics: unit.diagnostics };
}
