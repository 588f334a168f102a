/**
 * One benchmark measurement in a fresh process (so peak RSS belongs to this model and mode
 * alone): `node --import tsx test/bench/worker.ts JOB.json`, one JSON line out.
 * The library is the tsc build of src/ named in the job.
 *
 *   1. read the model text and JSON.parse it;
 *   2. compile once (cold) and write the files, as the CLI would: peak RSS is taken here;
 *   3. compile repeatedly (warm) and take the median;
 *   4. the I/O floor: JSON.parse of the same text and writing the same bytes, medians.
 *
 * With `hosts`, one "compile" is `prepare(model)` once and then `compile({host})` for every host
 * (a warm pass after the cold one that writes the files).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CompileOptions, CompileResult, HostPlan } from '../../src/index.js';

export interface Job {
  /** src/index.ts compiled by tsc (what users run; tsx-transformed code is slower). */
  readonly lib: string;
  readonly modelPath: string;
  readonly options: CompileOptions;
  readonly hosts?: readonly string[];
  readonly outDir: string;
  /** Stop repeating after this many ms of warm runs (at least minRuns, at most maxRuns). */
  readonly budgetMs: number;
  readonly minRuns: number;
  readonly maxRuns: number;
  /** Only load the modules and report RSS (the worker's own baseline). */
  readonly baseline?: boolean;
  /**
   * A growth probe: compile this second model alternately with the first, so that both sizes
   * see the same machine (neighbours on a shared machine come and go); reports the time ratio.
   */
  readonly doubleOf?: string;
  /** Probes: collect the heap before each timed compile (the worker runs with --expose-gc). */
  readonly collectFirst?: boolean;
}

export interface Ratio {
  /** second ÷ first, by minimum and by median */
  readonly byMin: number;
  readonly byMedian: number;
  /**
   * By the minimum CPU time of the process (user + system, every thread: the collector's too):
   * what the compile itself costs, which neighbours taking the cores of a shared machine do not
   * inflate as they inflate the wall time.
   */
  readonly byCpu: number;
  readonly runs: number;
}

export interface Measurement {
  readonly unavailable?: string;
  readonly inputBytes: number;
  readonly compileMs: number;
  readonly compileMinMs: number;
  readonly runs: number;
  readonly outputBytes: number;
  readonly files: Record<string, number>;
  readonly rules: number;
  readonly setEntries: number;
  readonly sets: number;
  readonly peakRssMB: number;
  readonly jsonParseMs: number;
  readonly writeMs: number;
  /** Remote-group rules times the members of their set: the size of the expanded form. */
  readonly expandedRules: number;
  /**
   * With hosts: parseModel for every host (from a sample of ten: what compile(model, {host}) per
   * host pays), and the one parse of `prepare` (included in compileMs).
   */
  readonly parsePerHostsMs?: number;
  readonly parseOnceMs?: number;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const mb = (): number => process.resourceUsage().maxRSS / 1024;

/** Warm runs: at least minRuns, then until the budget is spent, at most maxRuns. */
function repeat(job: Job, f: () => void): number[] {
  const times: number[] = [];
  const start = performance.now();
  while (times.length < job.maxRuns && (times.length < job.minRuns || performance.now() - start < job.budgetMs)) {
    const t = performance.now();
    f();
    times.push(performance.now() - t);
  }
  return times;
}

function expandedRules(plan: HostPlan): number {
  const size = new Map<string, number>();
  for (const s of plan.sets) size.set(`${s.kind}\u0000${s.id}\u0000${s.family}`, s.members.length);
  let n = 0;
  for (const chain of plan.groupChains.values()) {
    for (const rule of chain.rules) {
      for (const m of rule.matches) if (m.kind === 'set') n += size.get(`${m.set.kind}\u0000${m.set.id}\u0000${m.set.family}`) ?? 0;
    }
  }
  return n;
}

function run(job: Job, lib: typeof import('../../src/index.js')): Measurement {
  const { compile, parseModel } = lib;
  const text = readFileSync(job.modelPath, 'utf8');
  const input: unknown = JSON.parse(text);
  mkdirSync(job.outDir, { recursive: true });
  const hosts = job.hosts ?? [undefined];
  // Hosts: parse the cloud once with `prepare` (when this build has it), then compile each host.
  let prepareMs = 0;
  let once = (h: string | undefined): CompileResult => compile(input, h === undefined ? job.options : { ...job.options, host: h });
  let prepared: ReturnType<typeof lib.prepare> | undefined;
  if (job.hosts && typeof lib.prepare === 'function') {
    const t = performance.now();
    prepared = lib.prepare(input);
    prepareMs = performance.now() - t;
    once = (h) => prepared!.compile(h === undefined ? job.options : { ...job.options, host: h });
  }

  // Cold run, writing every output as the CLI does; totals over hosts.
  const files: Record<string, number> = {};
  let rules = 0;
  let setEntries = 0;
  let sets = 0;
  let expanded = 0;
  let writeMs = 0;
  const plans: [string | undefined, HostPlan | undefined][] = [];
  const coldStart = performance.now();
  for (const h of hosts) {
    let r: CompileResult;
    try {
      r = once(h);
    } catch (e) {
      const msg = e instanceof Error ? e.message.split('\n').slice(0, 2).join(' ') : String(e);
      if (/not available|backend/i.test(msg)) return { unavailable: msg } as Measurement;
      throw e;
    }
    const t = performance.now();
    for (const [name, body] of Object.entries(r.files)) {
      writeFileSync(join(job.outDir, name), body);
      files[name] = (files[name] ?? 0) + Buffer.byteLength(body);
    }
    writeMs += performance.now() - t;
    rules += r.stats.rules.total;
    setEntries += r.stats.setEntries;
    sets += r.stats.sets;
    // Only the plan (of builds that return one) is kept: files kept alive would inflate the peak RSS.
    plans.push([h, (r as { plan?: HostPlan }).plan]);
  }
  const peakRssMB = mb();

  // Warm-up (the JIT needs a few dozen runs of a small model), then the measured runs; fewer of
  // both when one run is slow (expanded mode, the cloud).
  const coldMs = performance.now() - coldStart - writeMs + prepareMs;
  // Counted after the cold pass (its own preparation is not part of a compile).
  const forPlans = plans.every(([, p]) => p !== undefined) ? undefined : (prepared ?? lib.prepare(input));
  for (const [h, p] of plans) expanded += expandedRules(p ?? forPlans!.plan(h === undefined ? job.options : { ...job.options, host: h }));
  const all = (): void => {
    for (const h of hosts) once(h);
  };
  const minRuns = coldMs > 2_000 ? Math.min(2, job.minRuns) : coldMs > 500 ? Math.min(3, job.minRuns) : job.minRuns;
  let times: number[];
  if (job.hosts) {
    // One warm pass after the cold one, from scratch: prepare (the one parse) and every host.
    // The cold pass's prepared model (and what it cached) is dropped first.
    prepared = undefined;
    const warm = (): void => {
      if (typeof lib.prepare !== 'function') return all();
      const prepared = lib.prepare(input);
      for (const h of hosts) prepared.compile(h === undefined ? job.options : { ...job.options, host: h });
    };
    times = repeat({ ...job, minRuns: 1, maxRuns: 1 }, warm);
  } else {
    // No forced GC in between: a full collection resets the young generation's sizing and
    // makes the next runs slower than a steady state.
    repeat({ ...job, minRuns: coldMs < 500 ? 10 : 1, maxRuns: coldMs < 500 ? 200 : 1, budgetMs: job.budgetMs / 2 }, all);
    times = repeat({ ...job, minRuns }, all);
  }

  // The I/O floor, in the same process and the same state.
  const parses = repeat({ ...job, minRuns: 5, budgetMs: Math.min(job.budgetMs, 200) }, () => JSON.parse(text));
  if (hosts.length === 1) {
    const r = once(hosts[0]);
    const writes = repeat({ ...job, minRuns: 5, budgetMs: Math.min(job.budgetMs, 200) }, () => {
      for (const [name, body] of Object.entries(r.files)) writeFileSync(join(job.outDir, name), body);
    });
    writeMs = median(writes);
  }

  let parsePerHostsMs: number | undefined;
  let parseOnceMs: number | undefined;
  if (job.hosts) {
    // Parsing the whole model does not depend on the host: time ten hosts and scale.
    const sample = hosts.slice(0, 10);
    const perHost = median(repeat({ ...job, minRuns: 2, maxRuns: 3 }, () => {
      for (const h of sample) parseModel(input, h === undefined ? {} : { host: h });
    })) / sample.length;
    parsePerHostsMs = perHost * hosts.length;
    parseOnceMs = prepareMs > 0 ? prepareMs : median(repeat({ ...job, minRuns: 3, maxRuns: 10 }, () => parseModel(input)));
  }

  return {
    inputBytes: Buffer.byteLength(text),
    compileMs: median(times),
    compileMinMs: Math.min(...times),
    runs: times.length,
    outputBytes: Object.values(files).reduce((a, b) => a + b, 0),
    files,
    rules,
    setEntries,
    sets,
    peakRssMB,
    jsonParseMs: median(parses),
    writeMs,
    expandedRules: expanded,
    ...(parsePerHostsMs !== undefined && { parsePerHostsMs, parseOnceMs }),
  };
}

function ratio(job: Job, { compile }: typeof import('../../src/index.js')): Ratio {
  const a: unknown = JSON.parse(readFileSync(job.modelPath, 'utf8'));
  const b: unknown = JSON.parse(readFileSync(job.doubleOf!, 'utf8'));
  const ta: number[] = [];
  const tb: number[] = [];
  const ca: number[] = [];
  const cb: number[] = [];
  const cpuMs = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  // With `collectFirst`, each compile starts from a collected heap, as a CLI run starts from a
  // fresh one: a major collection of the other size's garbage would otherwise land in whichever
  // run comes next, more often in the longer one, and read as growth.
  const collect = job.collectFirst ? (globalThis as { gc?: () => void }).gc : undefined;
  if (job.collectFirst && collect === undefined) throw new Error('collectFirst needs node --expose-gc');
  const time = (input: unknown, into: number[], cpuInto: number[]): void => {
    collect?.();
    const c = cpuMs();
    const t = performance.now();
    compile(input, job.options);
    into.push(performance.now() - t);
    cpuInto.push(cpuMs() - c);
  };
  for (let i = 0; i < 2; i++) time(a, [], []), time(b, [], []); // warm-up
  const start = performance.now();
  while (ta.length < job.maxRuns && (ta.length < job.minRuns || performance.now() - start < job.budgetMs)) {
    time(a, ta, ca);
    time(b, tb, cb);
  }
  return { byMin: Math.min(...tb) / Math.min(...ta), byMedian: median(tb) / median(ta), byCpu: Math.min(...cb) / Math.min(...ca), runs: ta.length };
}

const job = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Job;
const lib = (await import(pathToFileURL(job.lib).href)) as typeof import('../../src/index.js');
const result = job.baseline ? { peakRssMB: mb() } : job.doubleOf ? ratio(job, lib) : run(job, lib);
process.stdout.write(JSON.stringify(result) + '\n');
