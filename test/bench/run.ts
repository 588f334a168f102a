/**
 * `npm run bench` (tsx test/bench/run.ts [--quick] [--cloud-nft] [--delta] [--audit] [--kernel] [--cloud]): compile the generated models at growing
 * sizes and print one row per size and mode, against the I/O floor measured in the same run;
 * check the performance targets; write test/bench/results.md and test/bench/scaling.svg.
 * `--doubling` runs only the doubling probes and prints their verdict (writes nothing).
 *
 * Every measurement runs in a fresh worker process (worker.ts), so peak RSS is per row.
 * Not part of the test run; it takes two to four minutes on two cores.
 */
import { spawnSync } from 'node:child_process';
import { type AuditRow, auditSection } from './audit.js';
import { type DeltaRow, deltaSection } from './delta.js';
import { type KernelDeltaResult, kernelDeltaSection } from './kernel-delta.js';
import type { CloudRow } from './cloud.js';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cloudWide, defaultGroup, hostName, portLists, realisticMix } from './generators.js';
import type { Job, Measurement, Ratio } from './worker.js';
import { startupRow, startupSection } from './startup.js';
import { type Series, scalingSvg } from './svg.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const QUICK = process.argv.includes('--quick');
const DOUBLING_ONLY = process.argv.includes('--doubling');
const EXPANDED_LIMIT_BYTES = 1e9;
/** Average bytes of an expanded remote-group rule line, for the skip estimate. */
const EXPANDED_LINE_BYTES = 90;

type Mode = 'ipset' | 'expanded' | 'nft' | 'ipset+agg';

interface Size {
  readonly scenario: 'default group' | 'realistic mix' | 'cloud-wide';
  readonly label: string;
  readonly ports: number;
  readonly members: number;
  readonly model: () => object;
  readonly hosts?: readonly string[];
  readonly modes: readonly Mode[];
}

interface Row {
  readonly size: Size;
  readonly mode: Mode;
  readonly m?: Measurement;
  readonly cliMs?: number;
  readonly note?: string;
}

// ---- sizes ----------------------------------------------------------------------------------

const MEMBERS = QUICK ? [10, 1_000, 5_000, 100_000] : [10, 1_000, 5_000, 10_000, 50_000, 100_000];
const PORTS = [10, 1_000];
const MIX_MEMBERS = QUICK ? [100_000] : [1_000, 100_000];

function sizes(nft: boolean): Size[] {
  const modes: Mode[] = nft ? ['ipset', 'expanded', 'nft'] : ['ipset', 'expanded'];
  const out: Size[] = [];
  for (const m of MEMBERS) {
    out.push({ scenario: 'default group', label: 'members', ports: 200, members: m, model: () => defaultGroup({ ports: 200, members: m }), modes });
  }
  for (const p of PORTS) {
    out.push({ scenario: 'default group', label: 'ports', ports: p, members: 1_000, model: () => defaultGroup({ ports: p, members: 1_000 }), modes });
  }
  for (const m of MIX_MEMBERS) {
    out.push({
      scenario: 'realistic mix',
      label: '20 groups x 20 rules',
      ports: 1_000,
      members: m,
      model: () => realisticMix({ ports: 1_000, groups: 20, rulesPerGroup: 20, members: m }),
      modes: [...modes, 'ipset+agg'],
    });
  }
  out.push({
    scenario: 'cloud-wide',
    label: '100 hosts, each compiled',
    ports: 10_000,
    members: 0,
    model: () => cloudWide({ ports: 10_000, hosts: 100 }),
    hosts: Array.from({ length: 100 }, (_, i) => hostName(i)),
    // nft here doubles the longest row; `--cloud-nft` adds it (the run then takes over five minutes).
    modes: nft && process.argv.includes('--cloud-nft') ? ['ipset', 'nft'] : ['ipset'],
  });
  return out;
}

// ---- processes ------------------------------------------------------------------------------

const WORK = mkdtempSync(join(tmpdir(), 'sgnf-bench-'));
const LIB = join(WORK, 'lib');
let jobNo = 0;

/** Compile src/ with tsc into a private directory: the library as users run it. */
function buildLibrary(): void {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const args = ['-p', 'tsconfig.json', '--outDir', LIB, '--declaration', 'false', '--sourceMap', 'false'];
  const b = spawnSync(process.execPath, [tsc, ...args], { cwd: ROOT, encoding: 'utf8' });
  if (!existsSync(join(LIB, 'index.js'))) throw new Error(`tsc emitted nothing: ${b.stdout.slice(0, 500)}`);
  // ES modules, as in the package: without this the .js files outside the project would be
  // loaded as CommonJS, which tsx (the workers' loader) gets by transforming them, and the
  // transformed code is a third slower (every imported function becomes a property lookup).
  writeFileSync(join(LIB, 'package.json'), '{ "type": "module" }\n');
  // The package's dependencies (`diff`, for the audit's chain diffs), as an installed package finds them.
  if (!existsSync(join(WORK, 'node_modules'))) symlinkSync(join(ROOT, 'node_modules'), join(WORK, 'node_modules'));
  if (b.status !== 0) process.stderr.write(`tsc reported errors (the build is used anyway):\n${b.stdout.slice(0, 500)}\n`);
}

/** The drift-audit rows, measured in a fresh process (test/bench/audit.ts). */
function auditRows(lib: string): AuditRow[] {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(HERE, 'audit.ts'), lib], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 26, timeout: 600_000 });
  if (r.status !== 0) throw new Error(`audit worker failed (${r.status ?? r.signal}): ${r.stderr.slice(0, 2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as AuditRow[];
}

/**
 * Delta applied vs full output reloaded in a kernel (test/bench/kernel-delta.ts), in a fresh
 * process: needs root and the netfilter tools, says why not otherwise.
 */
function kernelDeltaResult(lib: string): KernelDeltaResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(HERE, 'kernel-delta.ts'), lib], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 26, timeout: 900_000 });
  if (r.status !== 0) throw new Error(`kernel delta worker failed (${r.status ?? r.signal}): ${r.stderr.slice(0, 2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as KernelDeltaResult;
}

// ---- cloud scale (server side) ---------------------------------------------------------------

const CLOUD_SIZES: readonly [number, number][] = [
  [10_000, 100],
  [100_000, 1_000],
];

/** The server-side rows of one cloud size, measured in a fresh process (test/bench/cloud.ts). */
function cloudRow(lib: string, ports: number, hosts: number): CloudRow {
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', join(HERE, 'cloud.ts'), lib, String(ports), String(hosts)], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    timeout: 900_000,
  });
  if (r.status !== 0) throw new Error(`cloud worker failed (${r.status ?? r.signal}): ${r.stderr.slice(0, 2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as CloudRow;
}

interface AllHostsRun {
  readonly jobs: number;
  readonly seconds: number;
  /** User + system CPU seconds of the process (all its threads). */
  readonly cpuSeconds: number;
  readonly peakRssMB: number;
  readonly outputBytes: number;
  readonly outputFiles: number;
}

/** Every host of a cloud compiled by the CLI (`compile --each-host -o DIR --jobs N`): wall time and peak RSS (GNU time). */
function allHosts(modelPath: string, jobs: number): AllHostsRun {
  const out = join(WORK, `all-hosts-${jobNo++}`);
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M %U %S', process.execPath, join(ROOT, 'bin', 'sgnf'), 'compile', modelPath, '--each-host', '-o', out, '--jobs', String(jobs)], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    timeout: 1_800_000,
  });
  if (r.status !== 0) throw new Error(`sgnf compile --each-host failed (${r.status ?? r.signal}): ${r.stderr.slice(0, 1000)}`);
  const [seconds, kb, user, sys] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  let outputBytes = 0;
  let outputFiles = 0;
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else {
        outputBytes += statSync(join(d, e.name)).size;
        outputFiles++;
      }
    }
  };
  walk(out);
  rmSync(out, { recursive: true, force: true });
  return { jobs, seconds: seconds!, cpuSeconds: user! + sys!, peakRssMB: kb! / 1024, outputBytes, outputFiles };
}

interface CloudSize {
  readonly row: CloudRow;
  /** Every host, alternating --jobs 1 and --jobs 2 (ROUNDS of each). */
  readonly one: readonly AllHostsRun[];
  readonly two: readonly AllHostsRun[];
  /** What two threads got against one just before the runs (2 on two idle cores): pure computation, and compiling hosts. */
  readonly capacity: { readonly compute: number; readonly compile: number };
  /** Writing the same number of files and bytes as every host's output, in one thread and in two: seconds. */
  readonly writeFloor: { readonly one: number; readonly two: number };
}

/** Rounds of each --jobs setting; each setting's fastest round is compared (neighbours only ever slow a run down). */
const ALL_HOSTS_ROUNDS = 2;

/**
 * Parallel capacity of the machine right now: a fixed piece of work in one thread, then in two
 * at once; 2 × (one ÷ two) is 2 on two idle cores, 1 when the neighbours leave one core's worth.
 * `spin` is pure computation. `compile` is the work itself: the first 100 hosts of the cloud
 * compiled from a freshly prepared model (each thread prepares its own before the clock starts;
 * the worker with the young generation each-host.ts gives it), which also takes the shared
 * cache, the memory bus and the collector.
 */
function parallelCapacity(kind: 'spin' | 'compile', lib: string, modelPath: string): number {
  const script = `
    import { Worker, isMainThread, parentPort } from 'node:worker_threads';
    import { readFileSync } from 'node:fs';
    let work;
    let fresh = () => {};
    if (${JSON.stringify(kind)} === 'spin') {
      work = () => { let x = 0; for (let i = 0; i < 2e8; i++) x = (x + i * 7) % 1000003; return x; };
    } else {
      // Every pass on a fresh model: a prepared model caches what its hosts share, and each
      // thread of --jobs fills its own model's caches.
      const { prepare, hosts } = await import(${JSON.stringify(pathToFileURL(lib).href)});
      const text = readFileSync(${JSON.stringify(modelPath)}, 'utf8');
      let p;
      fresh = () => { p = undefined; p = prepare(JSON.parse(text), { keepInput: false }); };
      fresh();
      const some = hosts(p).slice(0, 100);
      work = () => { let n = 0; for (const host of some) n += p.compile({ host }).files['iptables.v4'].length; return n; };
    }
    if (isMainThread) {
      let t = performance.now(); work(); const one = performance.now() - t;
      fresh();
      const w = new Worker(new URL(import.meta.url), { resourceLimits: { maxYoungGenerationSizeMb: 96 } });
      w.once('message', () => {
        t = performance.now(); w.postMessage('go'); work();
        w.once('exit', () => console.log(one / (performance.now() - t)));
      });
    } else {
      parentPort.once('message', () => { work(); parentPort.close(); });
      parentPort.postMessage('ready');
    }`;
  return 2 * runProbe(`capacity-${kind}`, script);
}

/** Runs an ES module probe in a fresh process: the number it prints. */
function runProbe(name: string, script: string): number {
  const f = join(WORK, `${name}.mjs`);
  writeFileSync(f, script);
  const r = spawnSync(process.execPath, [f], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${name} probe failed: ${r.stderr.slice(0, 1000)}`);
  return Number(r.stdout.trim());
}

/**
 * The output's own cost: `files` new files of `bytes` in all, written as the CLI writes them
 * (created exclusively, one buffer each) by `threads` threads at once; wall seconds.
 */
function writeFloor(files: number, bytes: number, threads: number): number {
  const dir = join(WORK, `write-floor-${jobNo++}`);
  const script = `
    import { Worker, isMainThread, workerData } from 'node:worker_threads';
    import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
    const write = (from, to) => {
      const text = 'x'.repeat(${Math.round(bytes / files)});
      for (let i = from; i < to; i++) {
        mkdirSync(${JSON.stringify(dir)} + '/' + (i >> 2), { recursive: true });
        const fd = openSync(${JSON.stringify(dir)} + '/' + (i >> 2) + '/' + (i & 3), 'wx');
        writeSync(fd, Buffer.from(text));
        closeSync(fd);
      }
    };
    if (isMainThread) {
      const t = performance.now();
      const n = ${threads}, per = Math.ceil(${files} / n);
      const others = Array.from({ length: n - 1 }, (_, k) => new Promise((r) => new Worker(new URL(import.meta.url), { workerData: [(k + 1) * per, Math.min(${files}, (k + 2) * per)] }).once('exit', r)));
      write(0, Math.min(${files}, per));
      await Promise.all(others);
      console.log((performance.now() - t) / 1000);
    } else write(...workerData);`;
  try {
    return runProbe('write-floor', script);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function cloudSizes(lib: string): CloudSize[] {
  return CLOUD_SIZES.map(([ports, hosts]) => {
    process.stderr.write(`  cloud ${ports} ports / ${hosts} hosts: library rows\n`);
    const row = cloudRow(lib, ports, hosts);
    const modelPath = join(WORK, `cloud-${ports}.json`);
    writeFileSync(modelPath, JSON.stringify(cloudWide({ ports, hosts })));
    const capacity = { compute: parallelCapacity('spin', lib, modelPath), compile: parallelCapacity('compile', lib, modelPath) };
    const one: AllHostsRun[] = [];
    const two: AllHostsRun[] = [];
    for (let round = 0; round < ALL_HOSTS_ROUNDS; round++) {
      for (const jobs of [1, 2]) {
        process.stderr.write(`  cloud ${ports} ports / ${hosts} hosts: every host, --jobs ${jobs} (round ${round + 1})\n`);
        (jobs === 1 ? one : two).push(allHosts(modelPath, jobs));
      }
    }
    rmSync(modelPath);
    const { outputFiles, outputBytes } = two[0]!;
    const floor = { one: writeFloor(outputFiles, outputBytes, 1), two: writeFloor(outputFiles, outputBytes, 2) };
    return { row, one, two, capacity, writeFloor: floor };
  });
}

/** The fastest of a setting's rounds. */
const fastest = (runs: readonly AllHostsRun[]): AllHostsRun => runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
const secondsOf = (runs: readonly AllHostsRun[]): string => runs.map((r) => r.seconds.toFixed(1)).join(', ');

/** The markdown lines of the cloud-scale section: two tables and the targets. */
function cloudSection(sizes: readonly CloudSize[]): string[] {
  const mb = (b: number): string => bytes(b);
  const out = [
    '| cloud | model | prepare ms | prepared heap | RSS | deep copy ms | one-member patch + affected ms (min; CPU) | hosts reached | one-rule patch + affected ms (min; CPU) | hosts reached | slice ms first / warm (min; CPU) | slice JSON ms |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const { row: r } of sizes) {
    out.push(
      `| ${int(r.ports)} ports, ${int(r.hosts)} hosts, ${int(r.groups)} groups | ${mb(r.cloudBytes)} | ${ms(r.prepareMs)} | ${int(r.preparedHeapMB)} MB | ${int(r.rssMB)} MB | ${ms(r.cloneMs)} | ` +
        `${ms(r.memberPatch.affectedMs)} (${ms(r.memberPatch.affectedMinMs)}; ${ms(r.memberPatch.cpuMs)}) | ${int(r.memberPatch.hostsReached)} | ` +
        `${ms(r.rulePatch.affectedMs)} (${ms(r.rulePatch.affectedMinMs)}; ${ms(r.rulePatch.cpuMs)}) | ${int(r.rulePatch.hostsReached)} | ` +
        `${ms(r.sliceColdMs)} / ${ms(r.sliceMs)} (${ms(r.sliceMinMs)}; ${ms(r.sliceCpuMs)}) | ${ms(r.sliceJsonMs)} |`,
    );
  }
  out.push(
    '',
    "| cloud | per host: slice | compiled files | Neutron RPC, rules expanded per member | whole model | every host, --jobs 1: s per round; fastest's CPU | --jobs 2 | speed-up (fastest) | machine's 2-thread capacity: computation / compiling | peak RSS (1 / 2) | output | writing it alone: 1 / 2 threads |",
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const { row: r, one: ones, two: twos, capacity, writeFloor: w } of sizes) {
    const one = fastest(ones);
    const two = fastest(twos);
    out.push(
      `| ${int(r.ports)} ports, ${int(r.hosts)} hosts | ${mb(r.sliceBytes)} | ${mb(r.compiledBytes)} | ${mb(r.neutronBytes)} | ${mb(r.cloudBytes)} | ` +
        `${secondsOf(ones)} s; ${one.cpuSeconds.toFixed(1)} s | ${secondsOf(twos)} s; ${two.cpuSeconds.toFixed(1)} s | ×${(one.seconds / two.seconds).toFixed(2)} | ` +
        `×${capacity.compute.toFixed(2)} / ×${capacity.compile.toFixed(2)} | ${int(Math.max(...ones.map((x) => x.peakRssMB)))} / ${int(Math.max(...twos.map((x) => x.peakRssMB)))} MB | ${mb(two.outputBytes)} | ${w.one.toFixed(1)} / ${w.two.toFixed(1)} s |`,
    );
  }
  const big = sizes.find((x) => x.row.ports === 100_000);
  if (big) {
    const r = big.row;
    const one = fastest(big.one);
    const two = fastest(big.two);
    const peak = Math.max(...big.two.map((x) => x.peakRssMB));
    const verdict = (ok: boolean): string => (ok ? 'met' : '**missed**');
    out.push(
      '',
      `- ${verdict(r.memberPatch.affectedMs <= 5)} — affected for a one-member patch ≤ 5 ms from a prepared model: ${ms(r.memberPatch.affectedMs)} ms (min ${ms(r.memberPatch.affectedMinMs)}, CPU ${ms(r.memberPatch.cpuMs)} ms; the patch alone ${ms(r.memberPatch.ms)} ms)`,
      `- ${verdict(r.sliceMs <= 5)} — slice of one host ≤ 5 ms: ${ms(r.sliceMs)} ms warm (min ${ms(r.sliceMinMs)}, CPU ${ms(r.sliceCpuMs)} ms; a host's first slice ${ms(r.sliceColdMs)} ms), ${mb(r.sliceBytes)} per host`,
      `- ${verdict(one.seconds / two.seconds >= 1.7)} — every host with --jobs 2 ≥ 1.7 × as fast as --jobs 1: ×${(one.seconds / two.seconds).toFixed(2)} (fastest of ${ALL_HOSTS_ROUNDS} rounds each: ${one.seconds.toFixed(1)} s → ${two.seconds.toFixed(1)} s; just before, two threads got ×${big.capacity.compute.toFixed(2)} on pure computation and ×${big.capacity.compile.toFixed(2)} compiling hosts (no files written), and writing the output's files and bytes alone took ${big.writeFloor.one.toFixed(1)} s in one thread, ${big.writeFloor.two.toFixed(1)} s in two; CPU ${one.cpuSeconds.toFixed(1)} s → ${two.cpuSeconds.toFixed(1)} s)`,
      `- ${verdict(two.seconds <= 30 && peak <= 2048)} — the 100,000-port cloud, every host, ≤ 30 s and peak RSS ≤ 2 GB: ${two.seconds.toFixed(1)} s, ${int(peak)} MB (--jobs 2; ${mb(two.outputBytes)} written)`,
    );
  }
  return out;
}

/** The incremental-update rows, measured in a fresh process (test/bench/delta.ts). */
function deltaRows(lib: string): DeltaRow[] {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(HERE, 'delta.ts'), lib], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 26, timeout: 600_000 });
  if (r.status !== 0) throw new Error(`delta worker failed (${r.status ?? r.signal}): ${r.stderr.slice(0, 2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as DeltaRow[];
}

function worker(job: Job): Measurement {
  return spawnWorker(job) as Measurement;
}

/**
 * The rows the targets are checked against are measured by TARGET_REPEATS workers, one after
 * the other, and each timing is the median of their medians: one burst from a neighbour on this
 * shared machine then moves one worker's figure, not the verdict. (Minimums are the minimum.)
 */
const TARGET_REPEATS = 3;
const TARGET_ROWS: readonly ((size: Size, mode: Mode) => boolean)[] = [
  (s, m) => m === 'ipset' && s.scenario === 'default group' && s.ports === 200 && (s.members === 5_000 || s.members === Math.max(...MEMBERS)),
  (s, m) => m === 'ipset' && s.scenario === 'realistic mix' && s.members === 100_000,
  (s, m) => m === 'ipset' && s.scenario === 'cloud-wide',
];

function repeatedWorker(job: Job, times: number): Measurement {
  const ms = Array.from({ length: times }, () => worker(job));
  if (ms.some((m) => m.unavailable !== undefined)) return ms[0]!;
  const mid = (f: (m: Measurement) => number): number => median(ms.map(f));
  return {
    ...ms[0]!,
    compileMs: mid((m) => m.compileMs),
    compileMinMs: Math.min(...ms.map((m) => m.compileMinMs)),
    runs: ms.reduce((n, m) => n + m.runs, 0),
    peakRssMB: Math.max(...ms.map((m) => m.peakRssMB)),
    jsonParseMs: mid((m) => m.jsonParseMs),
    writeMs: mid((m) => m.writeMs),
  };
}

function spawnWorker(job: Job, nodeFlags: readonly string[] = []): unknown {
  const path = join(WORK, `job-${jobNo++}.json`);
  writeFileSync(path, JSON.stringify(job));
  const r = spawnSync(process.execPath, [...nodeFlags, '--import', 'tsx', join(HERE, 'worker.ts'), path], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    timeout: 240_000,
  });
  if (r.status !== 0) throw new Error(`worker failed (${r.status ?? r.signal}): ${r.stderr.slice(0, 2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as unknown;
}

interface Probe {
  readonly label: string;
  /** A list of one port grows (address pairs, fixed IPs, groups), not the model. */
  readonly perPort: boolean;
  /** What doubles, for the verdict lines. */
  readonly what: string;
  readonly ratio: Ratio;
  /** The same with a 64 MB young generation: separates V8's GC from the compiler's own work. */
  readonly bigYoung: Ratio;
}

const BIG_YOUNG = ['--max-semi-space-size=64'];

/** Doubling probes: two sizes compiled alternately in one process (see worker.ts `doubleOf`). */
function probes(base: Omit<Job, 'modelPath' | 'options'>): Probe[] {
  const cases: [string, string, object, object][] = [
    ['default group, members 50,000 → 100,000 (P=200)', 'members', defaultGroup({ ports: 200, members: 50_000 }), defaultGroup({ ports: 200, members: 100_000 })],
    ['default group, ports 500 → 1,000 (M=1,000)', 'ports', defaultGroup({ ports: 500, members: 1_000 }), defaultGroup({ ports: 1_000, members: 1_000 })],
    [
      'realistic mix, members 50,000 → 100,000 (P=1,000)',
      'mix members',
      realisticMix({ ports: 1_000, groups: 20, rulesPerGroup: 20, members: 50_000 }),
      realisticMix({ ports: 1_000, groups: 20, rulesPerGroup: 20, members: 100_000 }),
    ],
    // Per-port lists: what one port carries (pairs and fixed IPs were quadratic, issue 14).
    ['one port, IPv4 address pairs 20,000 → 40,000', 'address pairs', portLists('pairs4', 20_000), portLists('pairs4', 40_000)],
    ['one port, IPv6 address pairs with a MAC each 20,000 → 40,000', 'IPv6 address pairs', portLists('pairs6', 20_000), portLists('pairs6', 40_000)],
    ['one port, IPv4 fixed IPs 20,000 → 40,000', 'fixed IPs', portLists('fixed4', 20_000), portLists('fixed4', 40_000)],
    ['one port, IPv6 fixed IPs 20,000 → 40,000', 'IPv6 fixed IPs', portLists('fixed6', 20_000), portLists('fixed6', 40_000)],
    ['one port, security groups 2,000 → 4,000', 'groups of a port', portLists('groups', 2_000), portLists('groups', 4_000)],
  ];
  return cases.map(([label, what, small, large]) => {
    const a = join(WORK, `probe-a-${jobNo}.json`);
    const b = join(WORK, `probe-b-${jobNo}.json`);
    writeFileSync(a, JSON.stringify(small));
    writeFileSync(b, JSON.stringify(large));
    // A port's long lists take a few hundred ms per compile: more pairs, or five minimums are noise.
    const perPort = label.startsWith('one port');
    // Their compiles start from a collected heap, as a CLI run does (see worker.ts `collectFirst`).
    const job: Job = { ...base, modelPath: a, doubleOf: b, options: {}, budgetMs: perPort ? 5_000 : 2_500, minRuns: perPort ? 8 : 5, maxRuns: 100, ...(perPort && { collectFirst: true }) };
    const flags = perPort ? ['--expose-gc'] : [];
    const ratio = spawnWorker(job, flags) as Ratio;
    const bigYoung = spawnWorker(job, [...flags, ...BIG_YOUNG]) as Ratio;
    rmSync(a);
    rmSync(b);
    process.stderr.write(`  probe ${label}: ×${ratio.byMin.toFixed(2)}, CPU ×${ratio.byCpu.toFixed(2)} (×${bigYoung.byMin.toFixed(2)} with ${BIG_YOUNG.join(' ')})\n`);
    return { label, what, perPort, ratio, bigYoung };
  });
}

const modeOptions = (mode: Mode): Job['options'] =>
  mode === 'expanded' ? { remoteGroups: 'expanded' } : mode === 'nft' ? { backend: 'nft' } : mode === 'ipset+agg' ? { aggregate: true } : {};

const modeFlags = (mode: Mode): string[] =>
  mode === 'expanded' ? ['--remote-groups', 'expanded'] : mode === 'nft' ? ['--backend', 'nft'] : mode === 'ipset+agg' ? ['--aggregate'] : [];

/** dist/ is what bin/sgnf runs: rebuild it when a source file is newer. */
function cliReady(): string | undefined {
  const bin = join(ROOT, 'bin', 'sgnf');
  if (!existsSync(bin)) return 'bin/sgnf does not exist yet';
  const main = join(ROOT, 'dist', 'cli', 'main.js');
  const newest = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce(
      (t, e) => Math.max(t, e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs),
      0,
    );
  if (!existsSync(main) || statSync(main).mtimeMs < newest(join(ROOT, 'src'))) {
    process.stderr.write('building dist/ for the CLI column (tsc)...\n');
    const b = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: ROOT, encoding: 'utf8' });
    // tsc emits despite type errors (someone may be mid-edit): only a missing CLI is fatal.
    if (b.status !== 0) process.stderr.write(`tsc reported errors (dist/ is used anyway):\n${b.stdout.slice(0, 400)}\n`);
    if (!existsSync(main)) return `tsc did not emit dist/cli/main.js: ${b.stdout.slice(0, 300)}`;
  }
  const probe = spawnSync(process.execPath, [bin, '--help'], { cwd: ROOT, encoding: 'utf8' });
  return probe.status === 0 ? undefined : `bin/sgnf --help failed: ${probe.stderr.slice(0, 200)}`;
}

/** End to end: process start, read the JSON, compile, write the files (median of runs). */
function cliMs(modelPath: string, mode: Mode, eachHost: boolean): number {
  const out = join(WORK, 'cli-out');
  const times: number[] = [];
  // Three runs, or one when a run takes over a second (the total must stay under five minutes).
  for (let i = 0; i < (times[0] !== undefined && times[0] > 1_000 ? 1 : 3); i++) {
    const t = performance.now();
    const r = spawnSync(
      process.execPath,
      [join(ROOT, 'bin', 'sgnf'), 'compile', modelPath, '-o', out, ...modeFlags(mode), ...(eachHost ? ['--each-host'] : [])],
      { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 26 },
    );
    times.push(performance.now() - t);
    if (r.status !== 0) throw new Error(`bin/sgnf failed: ${r.stderr.slice(0, 500)}`);
  }
  return median(times);
}

// ---- formatting -----------------------------------------------------------------------------

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number | undefined): string => (n === undefined || Number.isNaN(n) ? '–' : n >= 100 ? int(n) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const bytes = (n: number): string =>
  n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} kB` : `${n} B`;
const floorMs = (m: Measurement): number => m.jsonParseMs + m.writeMs;

const COLUMNS = ['scenario', 'P', 'M', 'mode', 'compile ms (min)', 'CLI ms', 'output', 'iptables rules', 'set entries', 'peak RSS MB', 'I/O floor ms', 'compile ÷ floor'] as const;

function cells(r: Row): string[] {
  const s = r.size;
  const head = [s.scenario, int(s.ports), s.scenario === 'cloud-wide' ? '(devices)' : int(s.members), r.mode];
  if (!r.m) return [...head, r.note ?? 'skipped', '', '', '', '', '', '', ''];
  const m = r.m;
  return [
    ...head,
    `${ms(m.compileMs)} (${ms(m.compileMinMs)})`,
    ms(r.cliMs),
    bytes(m.outputBytes),
    r.mode === 'nft' ? `(${int(m.rules)} nft)` : int(m.rules),
    int(m.setEntries),
    int(m.peakRssMB),
    ms(floorMs(m)),
    (m.compileMs / floorMs(m)).toFixed(1),
  ];
}

function textTable(rows: readonly string[][]): string {
  const widths = COLUMNS.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: readonly string[]): string => r.map((c, i) => (i < 4 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(COLUMNS), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function markdownTable(rows: readonly string[][]): string {
  const sep = COLUMNS.map((_, i) => (i < 4 ? '---' : '---:'));
  return [COLUMNS, sep, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

// ---- targets --------------------------------------------------------------------------------

interface Verdict {
  readonly target: string;
  readonly measured: string;
  readonly ok: boolean | undefined;
}

function find(rows: readonly Row[], scenario: Size['scenario'], ports: number, members: number, mode: Mode): Measurement | undefined {
  return rows.find((r) => r.size.scenario === scenario && r.size.ports === ports && r.size.members === members && r.mode === mode)?.m;
}

function exponent(t1: number, t2: number, n1: number, n2: number): number {
  return Math.log(t2 / t1) / Math.log(n2 / n1);
}

function targets(rows: readonly Row[], doubling: readonly Probe[]): { verdicts: Verdict[]; growth: string[] } {
  const v: Verdict[] = [];
  const dg = find(rows, 'default group', 200, 5_000, 'ipset');
  v.push({ target: 'default group P=200, M=5,000: ≤ 5 ms', measured: dg ? `${ms(dg.compileMs)} ms` : 'not run', ok: dg && dg.compileMs <= 5 });
  const mix = find(rows, 'realistic mix', 1_000, 100_000, 'ipset');
  v.push({
    target: 'P=1,000, 20 groups × 20 rules, M=100,000: ≤ 100 ms, peak RSS ≤ 300 MB',
    measured: mix ? `${ms(mix.compileMs)} ms, ${int(mix.peakRssMB)} MB` : 'not run',
    ok: mix && mix.compileMs <= 100 && mix.peakRssMB <= 300,
  });
  const cloud = find(rows, 'cloud-wide', 10_000, 0, 'ipset');
  if (cloud) {
    const perHostParse = (cloud.parsePerHostsMs ?? 0) - (cloud.parseOnceMs ?? 0);
    v.push({
      target: 'cloud-wide 10,000 ports / 100 hosts, every host compiled: ≤ 2 s',
      measured:
        `${int(cloud.compileMs)} ms with prepare(model) (${int(cloud.parseOnceMs ?? 0)} ms) and compile({host}) × 100; ` +
        `compile(model, {host}) × 100 would re-parse the model each time: ~${int(cloud.compileMs + perHostParse)} ms`,
      ok: cloud.compileMs <= 2_000,
    });
  }
  const single = rows.filter((r) => r.m && r.mode === 'ipset' && !r.size.hosts);
  const largest = single.reduce<Row | undefined>((a, r) => (!a || r.m!.inputBytes > a.m!.inputBytes ? r : a), undefined);
  if (largest?.m) {
    const ratio = largest.m.compileMs / floorMs(largest.m);
    v.push({
      target: 'largest size: compile ≤ 3 × the I/O floor',
      measured: `${largest.size.scenario} P=${int(largest.size.ports)} M=${int(largest.size.members)}: ${ms(largest.m.compileMs)} ms vs floor ${ms(floorMs(largest.m))} ms = ${ratio.toFixed(1)}×`,
      ok: ratio <= 3,
    });
  }

  // Growth: exponents between consecutive sizes; doubling members from 50k to 100k.
  const growth: string[] = [];
  const series = (label: string, scenario: Size['scenario'], key: 'members' | 'ports', mode: Mode): void => {
    const pts = rows
      .filter((r) => r.m && r.size.scenario === scenario && r.mode === mode && (key === 'members' ? r.size.label === 'members' || scenario !== 'default group' : r.size.label === 'ports'))
      .map((r) => ({ n: r.size[key], t: r.m!.compileMinMs, b: r.m!.outputBytes }))
      .sort((a, b) => a.n - b.n);
    const parts: string[] = [];
    for (let i = 1; i < pts.length; i++) {
      const a = pts[i - 1]!;
      const b = pts[i]!;
      if (a.t < 1) continue; // timer noise dominates below 1 ms
      parts.push(`${int(a.n)}→${int(b.n)}: ${exponent(a.t, b.t, a.n, b.n).toFixed(2)}`);
    }
    if (parts.length > 0) growth.push(`${label} (${mode}): min time ∝ n^k, k = ${parts.join(', ')}`);
  };
  series('default group, members (P=200)', 'default group', 'members', 'ipset');
  series('default group, members (P=200)', 'default group', 'members', 'expanded');
  series('default group, ports (M=1,000)', 'default group', 'ports', 'ipset');
  series('realistic mix, members (P=1,000)', 'realistic mix', 'members', 'ipset');
  for (const p of doubling) {
    growth.push(
      `doubling probe, ${p.label}: ×${p.ratio.byMin.toFixed(2)} by minimum, ×${p.ratio.byMedian.toFixed(2)} by median, ` +
        `×${p.ratio.byCpu.toFixed(2)} by CPU time (${p.ratio.runs} alternating pairs); with ${BIG_YOUNG.join(' ')}: ×${p.bigYoung.byMin.toFixed(2)} by minimum`,
    );
  }
  const members = doubling.filter((p) => p.what.includes('members'));
  if (members.length > 0) {
    const worst = Math.max(...members.map((p) => p.ratio.byMin));
    v.push({
      target: 'doubling members at most doubles the time (alternating probes, by minimum; 5 % tolerance)',
      measured: members.map((p) => `${p.what}: ×${p.ratio.byMin.toFixed(2)}`).join('; '),
      ok: worst <= 2.1,
    });
  }
  if (doubling.length > 0) {
    // By CPU time: on a shared machine the wall time of either size also measures the neighbours.
    const k = (r: Ratio): number => Math.log2(r.byCpu);
    const verdict = (label: string, probes: readonly Probe[]): void => {
      if (probes.length === 0) return;
      v.push({
        target: `${label}: doubling exponent k = log2(CPU time ratio) ≤ 1.2 (2 would be quadratic)`,
        measured: probes.map((p) => `${p.what}: k = ${k(p.ratio).toFixed(2)} (wall ${Math.log2(p.ratio.byMin).toFixed(2)})`).join('; '),
        ok: Math.max(...probes.map((p) => k(p.ratio))) <= 1.2,
      });
    };
    verdict('nothing quadratic in members or ports', doubling.filter((p) => !p.perPort));
    verdict('nothing quadratic in what one port carries (address pairs, fixed IPs, groups)', doubling.filter((p) => p.perPort));
  }
  return { verdicts: v, growth };
}

function aggregationLines(rows: readonly Row[]): string[] {
  const out: string[] = [];
  for (const r of rows) {
    if (r.mode !== 'ipset+agg' || !r.m) continue;
    const plain = find(rows, r.size.scenario, r.size.ports, r.size.members, 'ipset');
    if (!plain) continue;
    const saved = plain.setEntries - r.m.setEntries;
    out.push(
      `realistic mix P=${int(r.size.ports)} M=${int(r.size.members)}: ${int(plain.setEntries)} → ${int(r.m.setEntries)} set entries ` +
        `(−${int(saved)}, ${((100 * saved) / plain.setEntries).toFixed(1)} %), compile ${ms(plain.compileMs)} → ${ms(r.m.compileMs)} ms`,
    );
  }
  return out;
}

// ---- main -----------------------------------------------------------------------------------

function main(): void {
  const started = performance.now();
  const load0 = loadavg()[0]!;
  const cli = cliReady();
  if (cli) process.stderr.write(`CLI column skipped: ${cli}\n`);
  const cliEachHost = cli === undefined && spawnSync(process.execPath, [join(ROOT, 'bin', 'sgnf'), 'compile', '--help'], { cwd: ROOT, encoding: 'utf8' }).stdout.includes('--each-host');

  // Is the nft backend in this build? Ask compile with a two-port model.
  const probePath = join(WORK, 'probe.json');
  writeFileSync(probePath, JSON.stringify(defaultGroup({ ports: 2, members: 2 })));
  buildLibrary();
  const base: Omit<Job, 'modelPath' | 'options'> = { lib: join(LIB, 'index.js'), outDir: join(WORK, 'out'), budgetMs: 0, minRuns: 1, maxRuns: 1 };
  const nftProbe = worker({ ...base, modelPath: probePath, options: { backend: 'nft' } });
  const nft = nftProbe.unavailable === undefined;
  const baselineRss = worker({ ...base, modelPath: probePath, options: {}, baseline: true }).peakRssMB;
  process.stderr.write(`nft backend: ${nft ? 'available' : `not available (${nftProbe.unavailable})`}\n`);

  if (process.argv.includes('--audit')) {
    console.log(auditSection(auditRows(join(LIB, 'index.js'))).join('\n'));
    return;
  }

  if (process.argv.includes('--startup')) {
    console.log(startupSection(startupRow(ROOT)).join('\n'));
    return;
  }

  if (process.argv.includes('--cloud')) {
    if (cli) throw new Error(`the cloud rows need the CLI: ${cli}`);
    console.log(cloudSection(cloudSizes(join(LIB, 'index.js'))).join('\n'));
    return;
  }

  if (process.argv.includes('--delta')) {
    console.log(deltaSection(deltaRows(join(LIB, 'index.js'))).join('\n'));
    return;
  }

  if (process.argv.includes('--kernel')) {
    console.log(kernelDeltaSection(kernelDeltaResult(join(LIB, 'index.js'))).join('\n'));
    return;
  }

  if (DOUBLING_ONLY) {
    const { verdicts, growth } = targets([], probes(base));
    for (const g of growth) console.log(g);
    for (const t of verdicts.filter((t) => t.measured !== 'not run')) console.log(`${t.ok ? 'met' : 'MISSED'}: ${t.target}: ${t.measured}`);
    return;
  }

  const rows: Row[] = [];
  console.log(`sgnf benchmark${QUICK ? ' (--quick)' : ''}: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, load ${load0.toFixed(1)}`);
  console.log(COLUMNS.join(' | '));
  for (const size of sizes(nft)) {
    const modelPath = join(WORK, `model-${jobNo}.json`);
    writeFileSync(modelPath, JSON.stringify(size.model()));
    let expandedRules = 0;
    for (const mode of size.modes) {
      if (mode === 'expanded' && expandedRules * EXPANDED_LINE_BYTES > EXPANDED_LIMIT_BYTES) {
        const row = { size, mode, note: `skipped: ~${bytes(expandedRules * EXPANDED_LINE_BYTES)} of expanded rules` };
        rows.push(row);
        console.log(cells(row).join(' | '));
        continue;
      }
      const big = size.hosts !== undefined || size.members >= 50_000;
      const job: Job = {
        ...base,
        modelPath,
        options: modeOptions(mode),
        ...(size.hosts && { hosts: size.hosts }),
        budgetMs: big ? 1_500 : 700,
        minRuns: size.hosts ? 1 : 5,
        maxRuns: size.hosts ? 1 : 200,
      };
      const m = TARGET_ROWS.some((t) => t(size, mode)) ? repeatedWorker(job, TARGET_REPEATS) : worker(job);
      if (m.unavailable !== undefined) continue;
      if (mode === 'ipset') expandedRules = m.expandedRules;
      // The CLI column: cloud-wide is one process writing every host (--each-host), when the CLI has it.
      const cliTime = cli === undefined && (size.hosts === undefined || cliEachHost) ? cliMs(modelPath, mode, size.hosts !== undefined) : undefined;
      const row: Row = { size, mode, m, ...(cliTime !== undefined && { cliMs: cliTime }) };
      rows.push(row);
      console.log(cells(row).join(' | '));
      process.stderr.write(`  ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
    }
    rmSync(modelPath);
  }

  const doubling = probes(base);
  const deltas = deltaSection(deltaRows(join(LIB, 'index.js')));
  console.log('\nIncremental updates (test/bench/delta.ts):\n' + deltas.join('\n'));
  const audits = auditSection(auditRows(join(LIB, 'index.js')));
  console.log('\nDrift audit (test/bench/audit.ts):\n' + audits.join('\n'));
  const kernelDeltas = kernelDeltaSection(kernelDeltaResult(join(LIB, 'index.js')));
  console.log('\nDelta vs full reload in a kernel (test/bench/kernel-delta.ts):\n' + kernelDeltas.join('\n'));
  const clouds = cli === undefined ? cloudSection(cloudSizes(join(LIB, 'index.js'))) : [`not measured: ${cli}`];
  console.log('\nCloud scale, server side (test/bench/cloud.ts):\n' + clouds.join('\n'));
  const table = rows.map(cells);
  const { verdicts, growth } = targets(rows, doubling);
  const agg = aggregationLines(rows);
  const seconds = (performance.now() - started) / 1000;
  const env = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, load average ${load0.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}, ${seconds.toFixed(0)} s`;

  console.log('\n' + textTable(table));
  console.log('\nTargets:');
  for (const t of verdicts) console.log(`  ${t.ok === undefined ? '?' : t.ok ? 'met   ' : 'MISSED'}  ${t.target}: ${t.measured}`);
  console.log('\nGrowth:');
  for (const g of growth) console.log(`  ${g}`);
  console.log('\nCIDR aggregation (--aggregate) on the realistic mix:');
  for (const a of agg) console.log(`  ${a}`);
  const notes = [
    `compile ms: library call \`compile\` (src/index.ts built by tsc), warm, median (and minimum) of repeated runs (rows a target is checked against: the median of ${TARGET_REPEATS} workers' medians); cloud-wide: \`prepare(model)\` once, then \`compile({host})\` for each of the 100 hosts (one warm pass after a cold one). Growth exponents use minimums, which neighbours on a shared machine disturb least; the doubling checks compile both sizes alternately in one process for the same reason.`,
    `CLI ms: \`node bin/sgnf compile model.json -o DIR\` (process start, read, compile, write), median${cli ? ` — not measured: ${cli}` : ''}; cloud-wide: ${cliEachHost ? 'one process for all 100 hosts (`--each-host`)' : 'not measured (no --each-host)'}.`,
    `I/O floor: JSON.parse of the input text + writing the output bytes, medians, same process. Peak RSS: worker after one compile and write (the worker alone: ${int(baselineRss)} MB).`,
    `Expanded mode is skipped where its rules would exceed ~1 GB (estimated from the ipset plan: rules referencing a set × set members × ${EXPANDED_LINE_BYTES} B).`,
    `nft backend: ${nft ? 'included' : `not available in this build (${nftProbe.unavailable})`}.`,
    env,
  ];
  console.log('\n' + notes.join('\n'));

  const points = (scenario: Size['scenario'], mode: Mode, y: (m: Measurement) => number): { x: number; y: number }[] =>
    rows
      .filter((r) => r.m && r.mode === mode && r.size.scenario === scenario && r.size.label === 'members')
      .map((r) => ({ x: r.size.members, y: y(r.m!) }));
  const lines: Series[] = [
    { name: 'ipset', color: '#1f77b4', points: points('default group', 'ipset', (m) => m.rules) },
    { name: 'expanded', color: '#d62728', points: points('default group', 'expanded', (m) => m.rules) },
  ];
  const times: Series[] = [
    { name: 'ipset', color: '#1f77b4', points: points('default group', 'ipset', (m) => m.compileMs) },
    { name: 'expanded', color: '#d62728', points: points('default group', 'expanded', (m) => m.compileMs) },
    ...(nft ? [{ name: 'nft', color: '#2ca02c', points: points('default group', 'nft', (m) => m.compileMs) }] : []),
    { name: 'I/O floor (ipset)', color: '#7f7f7f', dashed: true, points: points('default group', 'ipset', floorMs) },
  ];
  writeFileSync(join(HERE, 'scaling.svg'), scalingSvg('Default group, P = 200 local ports', lines, times));

  const startupLines = cli === undefined ? startupSection(startupRow(ROOT)) : [`not measured: ${cli}`];
  console.log(['', ...startupLines].join('\n'));
  const md = [
    '# sgnf benchmark results',
    '',
    `Generated by \`npm run bench\`${QUICK ? ' --quick' : ''} (test/bench/run.ts); ${env}.`,
    '',
    markdownTable(table),
    '',
    '## Targets',
    '',
    ...verdicts.map((t) => `- ${t.ok === undefined ? '?' : t.ok ? 'met' : '**missed**'} — ${t.target}: ${t.measured}`),
    '',
    '## Growth',
    '',
    ...growth.map((g) => `- ${g}`),
    '',
    '## CIDR aggregation (`aggregate: true`)',
    '',
    ...agg.map((a) => `- ${a}`),
    '',
    '## CLI start-up',
    '',
    'The README example end to end against an empty Node process, in pairs (test/bench/startup.ts).',
    '',
    ...startupLines,
    '',
    '## Incremental updates',
    '',
    'From a prepared old model (its host state computed once, as an agent keeps it); `diffPrepared(old, next)` with the next model prepared, then with `prepare(next)` of the whole JSON included, then with the change given as a JSON Patch (`old.patch(ops)` + the diff); every delta file counted (statements).',
    '',
    ...deltas,
    '',
    '### Applied in a kernel',
    '',
    'Default group (P=200, M=5,000, hybrid driver), in a network namespace per backend, alternating in one run (median and minimum of 9): the delta files applied as the README says (every file, empty ones included; then skipping empty files) vs the full output of the new model reloaded over the old one; the empty delta (diff(m, m)) is the cost of starting the tools. Times taken inside the namespace.',
    '',
    ...kernelDeltas,
    '',
    '## Drift audit',
    '',
    "`audit(model, dumps)` of a host against its own dump (the tools' layout, rendered from the compiled state: test/bench/audit-dumps.ts), alternating with a full compile of the same model; then with the model prepared once; then a drifted dump (1 % of the members gone, one port chain flushed) with its repair computed.",
    '',
    ...audits,
    '',
    '## Cloud scale (server side)',
    '',
    'The cloud-wide generator (one group per 50 ports, 10 rules each, 1 to 3 groups per port, every port bound to a host), in a fresh process per size (test/bench/cloud.ts). Patches from the prepared model (`prepared.patch(ops)`, then `affected(prepared, patched)`), 50 of each, medians (minimum; CPU time per call, which neighbours disturb least). Deep copy: `structuredClone` of the input, what patching a copy of the whole model would cost. Slices of 40 hosts: the first slice of each host (member texts made on first use), then again. Sizes per host: the slice\'s JSON, the host\'s compiled files, and Neutron\'s per-device RPC with each remote-group rule expanded per member (as `security_group_rules_for_devices` did without ipset), averaged over ten hosts. Every host: `sgnf compile --each-host -o DIR --jobs N`, --jobs 1 and 2 alternating, two rounds each, wall time (each round) and peak RSS by GNU time, the files written to disk; the speed-up compares each setting\'s fastest round. Capacity: the same piece of work in one thread, then in two at once (2 on two idle cores): pure computation, and compiling the first 100 hosts from a prepared model (no files written). Writing it alone: as many files and bytes as the output, created and written as the CLI does, by one thread and by two.',
    '',
    ...clouds,
    '',
    '## Notes',
    '',
    ...notes.map((n) => `- ${n}`),
    '',
    '![scaling](scaling.svg)',
    '',
  ].join('\n');
  writeFileSync(join(HERE, 'results.md'), md);
  rmSync(WORK, { recursive: true, force: true });
  console.log(`\nwrote test/bench/results.md and test/bench/scaling.svg (${seconds.toFixed(0)} s)`);
}

mkdirSync(WORK, { recursive: true });
try {
  main();
} finally {
  rmSync(WORK, { recursive: true, force: true });
}
