/**
 * --each-host on every core: the hosts of a cloud are spread over N threads (`--jobs N`,
 * default: the number of CPUs), each holding its own prepared model, all of them taking the next
 * host from one shared counter. The output is written by the steps of output.ts: the main thread
 * plans it (checks, directories), every thread stages each host's files as soon as they are made
 * (a cloud's rulesets do not fit in memory at once), and the main thread commits them once every
 * host has succeeded: all or nothing, and identical to `--jobs 1` (each host is compiled alone, by
 * the same code).
 *
 * The main thread is one of the N: it prepares its model while N - 1 worker threads start and
 * prepare theirs, plans the output and starts on the hosts; a worker joins when its model is
 * ready. So a small cloud is done by the main thread before a worker would have paid for its
 * start, and the workers that never took a host are stopped (they hold nothing). Bad input is
 * found by the main thread, with the same message as without --jobs.
 */
import { availableParallelism } from 'node:os';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { type ResourceLimits, Worker } from 'node:worker_threads';
import { type CompileOptions, type CompileStats, OUTPUT_FILES, type PreparedModel, prepare } from '../compile.js';
import { slice } from '../cloud/slice.js';
import { DELTA_FILES, diffPrepared, emptyDiff } from '../delta/diff.js';
import { affected } from '../cloud/affected.js';
import { ModelError } from '../model/errors.js';
import type { Diagnostic } from '../model/types.js';
import { UsageError } from './args.js';
import { hostDirs, parseModelText, readModelText } from './io.js';
import { named } from './two-models.js';
import { type OutputPlan, type Staged, OutputError, abandonOutput, commitOutput, outputRoot, planOutput, quotePath, reason, stageText } from './output.js';

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

/** The per-host work of a task, after the model(s) are prepared. */
function unitOf(task: HostTask): Unit {
  switch (task.kind) {
    case 'compile': {
      // Compiling only: the model need not keep its input (most of its memory, for a cloud).
      const p = prepare(read(task.model), { keepInput: false });
      return { hosts: hostDirs(p), diagnostics: p.cloud.diagnostics, run: (host) => p.compile({ ...task.options, host }) };
    }
    case 'slice': {
      const p = prepare(read(task.model));
      return { hosts: hostDirs(p), diagnostics: p.cloud.diagnostics, run: (host) => ({ files: { 'model.json': `${JSON.stringify(slice(p, host))}\n` } }) };
    }
    case 'diff': {
      const old: PreparedModel = named('old', task.old.file, () => prepare(read(task.old), { keepInput: task.patch }));
      const next: PreparedModel = task.patch
        ? named('new', task.next.file, () => old.patch(read(task.next)))
        : named('new', task.next.file, () => prepare(read(task.next), { keepInput: false }));
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

/**
 * Shared between the threads (Int32 slots): the next host to take; set when a thread failed;
 * the plan's state; then one slot per worker: preparing, working (it may hold staged files), or
 * cancelled (the main thread finished or failed while it was still preparing).
 */
const NEXT = 0;
const FAILED = 1;
const PLAN = 2;
const WORKER_STATE = 3;
const PLAN_READY = 1;
const PLAN_ABANDONED = 2;
const PREPARING = 0;
const WORKING = 1;
const CANCELLED = 2;

/** Where a thread reports each staged file and each finished host, as soon as it has them. */
interface Sink {
  staged(s: Staged): void;
  result(r: HostResult): void;
}

/** Take hosts from the shared counter until none is left (or a thread failed); stage their files. */
function work(unit: Unit, task: HostTask, root: string, counter: Int32Array, into: Sink): void {
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
        into.staged(stageText(finals[k]!, r.files[n]!));
      } catch (e) {
        throw new OutputError(`cannot write ${quotePath(finals[k]!)}: ${reason(e)}; nothing was written`);
      }
    });
    into.result({ host, files: finals, ...(r.stats && { stats: r.stats }), ...(r.empty !== undefined && { empty: r.empty }) });
  }
}

/**
 * What a worker thread sends: each file it staged and each host it finished as it goes (so the
 * main thread can remove the temporaries of a thread that died, out of memory say), then how it
 * ended.
 */
type WorkerMessage =
  | { readonly kind: 'staged'; readonly staged: Staged }
  | { readonly kind: 'result'; readonly result: HostResult }
  | { readonly kind: 'done'; readonly error?: SerializedError };

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

/** What a worker thread is started with; `slot`: its state in the shared counter. */
interface WorkerData {
  readonly task: HostTask;
  readonly out: string;
  readonly shared: SharedArrayBuffer;
  readonly slot: number;
}

/** Entry of a worker thread (host-worker.ts). */
export function workerMain(data: WorkerData, post: (m: WorkerMessage) => void): void {
  const counter = new Int32Array(data.shared);
  const sink: Sink = { staged: (staged) => post({ kind: 'staged', staged }), result: (result) => post({ kind: 'result', result }) };
  try {
    const unit = unitOf(data.task);
    // Nothing is written before the main thread's plan (its checks and directories) is there.
    Atomics.wait(counter, PLAN, 0);
    const started = Atomics.compareExchange(counter, data.slot, PREPARING, WORKING) === PREPARING;
    if (started && Atomics.load(counter, PLAN) === PLAN_READY) work(unit, data.task, outputRoot(data.out), counter, sink);
    post({ kind: 'done' });
  } catch (e) {
    Atomics.store(counter, FAILED, 1);
    post({ kind: 'done', error: serialize(e) });
  }
}

export const defaultJobs = (): number => availableParallelism();

/**
 * The old-generation limit of a worker thread, in MB. V8 lets a heap grow to several times its
 * live data before a full collection; bounded, N workers stay within N limits (a host's output is
 * garbage once written). Sized from the model's text: a prepared cloud keeps about four times the
 * text's size, and its input while it is parsed; a tighter limit costs more collections (measured
 * on the 100,000-port cloud: 784 MB took a sixth more CPU time than 2 GB).
 */
function heapLimitMB(task: HostTask): number {
  const sources = task.kind === 'diff' ? [task.old, task.next] : [task.model];
  let bytes = 0;
  for (const s of sources) bytes += s.text !== undefined ? s.text.length : fileSize(s.file);
  return Math.max(1024, Math.ceil((16 * bytes) / 2 ** 20) + 256);
}

/**
 * The young generation of a worker thread, in MB. Given only an old-generation limit, V8 sizes a
 * worker's young generation from it, far below the main thread's; every host's output is young
 * garbage, and with the small default the scavenger took a fifth of each thread's time (the
 * 100,000-port cloud with --jobs 2: 35 s and 67 s of CPU, against 26 s and 49 s with this).
 */
const WORKER_YOUNG_GENERATION_MB = 96;

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0; // the thread that reads it reports why it cannot
  }
}

/**
 * Run a task for every host into `out/<host>/`: in this thread and `jobs` - 1 worker threads.
 * Returns the hosts' results in host order and the model's warnings; writes nothing unless every
 * host succeeds.
 */
export async function eachHost(task: HostTask, out: string, jobs: number): Promise<{ results: HostResult[]; diagnostics: readonly Diagnostic[] }> {
  if (!Number.isInteger(jobs) || jobs < 1) throw new UsageError(`--jobs must be a positive integer, not ${jobs}`);
  const names = fileNames(task);
  const planFor = (hosts: readonly string[]): OutputPlan => planOutput(out, hosts.flatMap((h) => names.map((n) => `${h}/${n}`)));
  const byHost = (a: HostResult, b: HostResult): number => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0);
  const shared = new SharedArrayBuffer((WORKER_STATE + jobs - 1) * Int32Array.BYTES_PER_ELEMENT);
  const counter = new Int32Array(shared);

  const staged: Staged[] = [];
  const results: HostResult[] = [];
  const sink: Sink = { staged: (s) => staged.push(s), result: (r) => results.push(r) };
  const workers: Started[] = [];
  if (jobs > 1) {
    const resourceLimits = { maxOldGenerationSizeMb: heapLimitMB(task), maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB };
    for (let k = 0; k < jobs - 1; k++) workers.push(startWorker({ task, out, shared, slot: WORKER_STATE + k }, resourceLimits, counter, sink));
  }
  /** Stops the workers still preparing (they hold nothing); the others end on their own. */
  const cancelIdle = (): void => {
    workers.forEach((w, k) => {
      if (Atomics.compareExchange(counter, WORKER_STATE + k, PREPARING, CANCELLED) === PREPARING) void w.worker.terminate();
    });
  };
  const release = (state: number): void => {
    Atomics.store(counter, PLAN, state);
    Atomics.notify(counter, PLAN);
  };

  let failure: unknown;
  let plan: OutputPlan | undefined;
  let diagnostics: readonly Diagnostic[] = [];
  try {
    const unit = unitOf(task);
    diagnostics = unit.diagnostics;
    plan = planFor(unit.hosts);
    release(PLAN_READY);
    work(unit, task, plan.root, counter, sink);
  } catch (e) {
    failure = e;
    Atomics.store(counter, FAILED, 1);
  }
  if (plan === undefined) release(PLAN_ABANDONED);
  // Every host is taken (or a thread failed): a worker still preparing has nothing left to do.
  cancelIdle();
  for (const settled of await Promise.allSettled(workers.map((w) => w.ended))) if (settled.status === 'rejected') failure ??= settled.reason;
  if (failure !== undefined || plan === undefined) {
    if (plan) abandonOutput(plan, staged);
    throw failure ?? new Error('the output was not planned');
  }
  commitOutput(plan, staged);
  return { results: results.sort(byHost), diagnostics };
}

interface Started {
  readonly worker: Worker;
  /** Settles when the worker has ended: rejected with its failure. */
  readonly ended: Promise<void>;
}

/** A worker thread whose staged files and results go to `sink` as they come. */
function startWorker(workerData: WorkerData, resourceLimits: ResourceLimits, counter: Int32Array, sink: Sink): Started {
  const cancelled = (): boolean => Atomics.load(counter, workerData.slot) === CANCELLED;
  const worker = new Worker(new URL('./host-worker.js', import.meta.url), { workerData, resourceLimits });
  const ended = new Promise<void>((resolve, reject) => {
    let answered = false;
    worker.on('message', (m: WorkerMessage) => {
      if (m.kind === 'staged') sink.staged(m.staged);
      else if (m.kind === 'result') sink.result(m.result);
      else if (m.error === undefined) answered = true;
      else {
        Atomics.store(counter, FAILED, 1);
        reject(revive(m.error));
      }
    });
    worker.once('error', (e) => {
      Atomics.store(counter, FAILED, 1);
      const oom = (e as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
      reject(oom ? new Error(`a worker thread ran out of its ${resourceLimits.maxOldGenerationSizeMb} MB heap: try fewer --jobs`) : e);
    });
    worker.once('exit', (code) => {
      if (answered || cancelled()) resolve();
      else {
        Atomics.store(counter, FAILED, 1);
        reject(new Error(`a worker thread exited (${code}) without an answer`));
      }
    });
  });
  return { worker, ended };
}
