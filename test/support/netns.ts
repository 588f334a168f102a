/**
 * Network-namespace utilities for the kernel tests: every netfilter command of the test suite
 * runs through here, inside a namespace this process created, bounded by a timeout.
 *
 * Safety rules (see the lab recipe in the netfilter notes):
 *  - namespace names carry a prefix unique to the process (`sgnf-<purpose><pid>x<n>-`);
 *  - netfilter tools (iptables*, ip6tables*, ipset, nft, conntrack, sysctl, ...) only ever run
 *    through `ip netns exec <one of our namespaces>`; asking for one in the root namespace throws;
 *  - every namespace is deleted by `destroy()`, and again on process exit; left-overs of
 *    processes that no longer exist are removed when a session starts;
 *  - background processes are stopped by their own pid, never by name.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';

/**
 * vitest only inside a test run: the kernel benchmark (test/bench) uses these helpers from a
 * plain node process, where importing vitest throws.
 */
const vitest = process.env['VITEST'] ? await import('vitest') : undefined;

export interface RunResult {
  readonly argv: readonly string[];
  readonly rc: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

export interface RunOptions {
  /** Text fed on stdin. */
  readonly input?: string;
  /** File streamed on stdin (e.g. `ipset restore`, `iptables-restore`, `nft -f -`). */
  readonly inputFile?: string;
  /** Killed (SIGKILL) after this long; default 10 s. */
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/** Programs that change or read netfilter/sysctl state: never run outside our namespaces. */
const NETFILTER_TOOL = /^(iptables|ip6tables|arptables|ebtables|xtables|ipset|nft|conntrack|sysctl)/;

/** Everything we created and have not deleted yet, for the exit hook and the guard. */
const liveNamespaces = new Set<string>();
const liveChildren = new Set<ChildProcess>();

let hooksInstalled = false;
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', cleanupSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      cleanupSync();
      process.kill(process.pid, sig);
    });
  }
}

/** Synchronous last-resort teardown (exit hook): children first, then namespaces. */
function cleanupSync(): void {
  for (const c of liveChildren) {
    if (c.pid !== undefined && c.exitCode === null) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  liveChildren.clear();
  for (const ns of liveNamespaces) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 5_000 });
    } catch {
      /* already gone */
    }
  }
  liveNamespaces.clear();
}

/** Run one program (no shell), capturing output, with a hard timeout. */
function runRaw(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('empty command');
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    liveChildren.add(child);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let spawnError: Error | undefined;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => (spawnError = e));
    child.stdin.on('error', () => {
      /* the program may exit before reading all of its input */
    });
    if (opts.inputFile !== undefined) createReadStream(opts.inputFile).pipe(child.stdin);
    else child.stdin.end(opts.input ?? '');
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      liveChildren.delete(child);
      if (spawnError) stderr += `${spawnError.message}\n`;
      const rc = code ?? (signal !== null ? 128 + 9 : 127);
      resolve({ argv, rc: spawnError ? 127 : rc, stdout, stderr, timedOut });
    });
  });
}

/** Throw with the command, its exit code and its output unless it succeeded. */
export function ok(r: RunResult, what?: string): RunResult {
  if (r.rc !== 0) {
    const head = what ? `${what}: ` : '';
    throw new Error(
      `${head}\`${r.argv.join(' ')}\` failed (rc=${r.rc}${r.timedOut ? ', timed out' : ''})\n${r.stderr.trim()}\n${r.stdout.trim()}`.trim(),
    );
  }
  return r;
}

/** The only root-namespace commands we run: `ip netns add|del|list` and `ip -n <ours> ...`. */
function guardRoot(argv: readonly string[]): void {
  const tool = basename(argv[0] ?? '');
  if (NETFILTER_TOOL.test(tool)) {
    throw new Error(`refusing to run ${tool} outside a test namespace: ${argv.join(' ')}`);
  }
  if (tool !== 'ip') throw new Error(`only "ip" runs in the root namespace, not: ${argv.join(' ')}`);
  if (argv[1] === '-n' || argv[1] === '-netns') {
    const ns = argv[2] ?? '';
    if (!liveNamespaces.has(ns)) throw new Error(`namespace "${ns}" was not created by this test run`);
    return;
  }
  if (argv[1] === 'netns' && ['add', 'del', 'delete', 'list'].includes(argv[2] ?? '')) {
    if (argv[2] === 'list') return;
    if (!/^sgnf-[a-z]+\d+x\d+-[a-z0-9-]+$/.test(argv[3] ?? '')) throw new Error(`not a test namespace name: ${argv[3]}`);
    return;
  }
  throw new Error(`not an allowed root-namespace command: ${argv.join(' ')}`);
}

function runRoot(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  guardRoot(argv);
  return runRaw(argv, opts);
}

/** The network-namespace inode of this process: a test namespace must never equal it. */
const ownNetInode = (): number => statSync('/proc/self/ns/net').ino;

/** A background process inside a namespace (listener, agent); stopped by its pid. */
export interface Background {
  readonly child: ChildProcess;
  readonly exited: Promise<number>;
  stop(): Promise<void>;
}

/** One namespace of ours. Every command runs as `ip netns exec <name> ...`. */
export class Netns {
  constructor(readonly name: string) {}

  private argv(argv: readonly string[]): string[] {
    if (!liveNamespaces.has(this.name)) throw new Error(`namespace ${this.name} is not (or no longer) ours`);
    return ['ip', 'netns', 'exec', this.name, ...argv];
  }

  /** Run a program inside the namespace; resolves with rc/stdout/stderr (never rejects on rc). */
  run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return runRaw(this.argv(argv), opts);
  }

  /** Run and throw unless rc = 0. */
  async must(argv: readonly string[], opts: RunOptions = {}): Promise<string> {
    return ok(await this.run(argv, opts)).stdout;
  }

  /** `ip -n <ns> ...` (link and address set-up), through the root-namespace guard. */
  async ip(args: readonly string[], opts: RunOptions = {}): Promise<string> {
    return ok(await runRoot(['ip', '-n', this.name, ...args], opts)).stdout;
  }

  /** Several `ip` commands in one process (`ip -n <ns> -batch -`). */
  async ipBatch(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    ok(await runRoot(['ip', '-n', this.name, '-batch', '-'], { input: lines.join('\n') + '\n' }));
  }

  /** Write a sysctl inside the namespace (net.* sysctls are per namespace). */
  async sysctl(settings: Readonly<Record<string, string | number>>): Promise<void> {
    const args = Object.entries(settings).map(([k, v]) => `${k}=${v}`);
    await this.must(['sysctl', '-q', '-w', ...args]);
  }

  /**
   * Start a long-running program in the namespace. It is killed after `maxLifetimeMs` at the
   * latest, when `stop()` is called, and on process exit.
   */
  spawn(argv: readonly string[], maxLifetimeMs: number): Background {
    const [cmd, ...args] = this.argv(argv);
    const child = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    liveChildren.add(child);
    const kill = (): void => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    const timer = setTimeout(kill, maxLifetimeMs);
    const exited = new Promise<number>((resolve) => {
      child.on('error', () => resolve(127));
      child.on('close', (code) => {
        clearTimeout(timer);
        liveChildren.delete(child);
        resolve(code ?? 137);
      });
    });
    return {
      child,
      exited,
      async stop() {
        kill();
        await exited;
      },
    };
  }
}

let sessionCounter = 0;

/**
 * A set of namespaces created together (one lab, one golden case). `destroy()` removes all of
 * them; the process exit hook removes whatever a failed test left behind.
 */
export class NetnsSession {
  readonly prefix: string;
  private readonly mine: Netns[] = [];

  /** `purpose`: a few lower-case letters naming the user (e.g. "gold", "lab"). */
  constructor(purpose: string) {
    if (!/^[a-z]{1,6}$/.test(purpose)) throw new Error(`bad namespace purpose "${purpose}"`);
    installExitHooks();
    this.prefix = `sgnf-${purpose}${process.pid}x${++sessionCounter}-`;
  }

  /** Create `<prefix><suffix>` with loopback up; checks that it really is a new namespace. */
  async create(suffix: string): Promise<Netns> {
    if (!/^[a-z0-9-]{1,24}$/.test(suffix)) throw new Error(`bad namespace suffix "${suffix}"`);
    const name = this.prefix + suffix;
    ok(await runRoot(['ip', 'netns', 'add', name]));
    liveNamespaces.add(name);
    const ns = new Netns(name);
    this.mine.push(ns);
    if (statSync(`/run/netns/${name}`).ino === ownNetInode()) {
      throw new Error(`namespace ${name} is the test process's own namespace`);
    }
    await ns.ip(['link', 'set', 'lo', 'up']);
    return ns;
  }

  /** Delete every namespace of this session (idempotent). */
  async destroy(): Promise<void> {
    const all = this.mine.splice(0);
    await Promise.all(all.map((ns) => deleteNamespace(ns.name)));
  }
}

async function deleteNamespace(name: string): Promise<void> {
  if (!liveNamespaces.has(name)) return;
  await runRoot(['ip', 'netns', 'del', name], { timeoutMs: 5_000 });
  liveNamespaces.delete(name);
}

/** Namespaces named by our convention whose creating process is gone: left-overs of a crash. */
export async function removeLeftovers(): Promise<string[]> {
  const list = await runRoot(['ip', 'netns', 'list'], { timeoutMs: 5_000 });
  const removed: string[] = [];
  for (const line of list.stdout.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = /^sgnf-[a-z]+(\d+)x\d+-[a-z0-9-]+$/.exec(name);
    if (!m || liveNamespaces.has(name)) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && processAlive(pid)) continue; // another live test run owns it
    await runRaw(['ip', 'netns', 'del', name], { timeoutMs: 5_000 });
    removed.push(name);
  }
  return removed;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Run `fn` over `items` with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export interface KernelStatus {
  readonly ok: boolean;
  readonly reason: string;
}

const kernelChecks = new Map<string, Promise<KernelStatus>>();

/**
 * Can the kernel tests run here? Root, the given programs on PATH, and `ip netns add` working.
 * Also removes left-over namespaces of dead test runs.
 */
export function kernelAvailable(tools: readonly string[] = []): Promise<KernelStatus> {
  const key = tools.join(' ');
  let p = kernelChecks.get(key);
  if (!p) kernelChecks.set(key, (p = checkKernel(tools)));
  return p;
}

async function checkKernel(tools: readonly string[]): Promise<KernelStatus> {
  if (process.platform !== 'linux') return { ok: false, reason: `not Linux (${process.platform})` };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'not running as root (network namespaces need CAP_SYS_ADMIN)' };
  const missing: string[] = [];
  for (const t of ['ip', ...tools]) {
    const r = await runRaw(['sh', '-c', 'command -v "$1"', 'sh', t], { timeoutMs: 5_000 });
    if (r.rc !== 0) missing.push(t);
  }
  if (missing.length > 0) return { ok: false, reason: `missing programs: ${missing.join(', ')}` };
  try {
    await removeLeftovers();
    const s = new NetnsSession('probe');
    try {
      const ns = await s.create('check');
      await ns.must(['true']);
    } finally {
      await s.destroy();
    }
  } catch (e) {
    return { ok: false, reason: `cannot create a network namespace: ${(e as Error).message.split('\n')[0]}` };
  }
  return { ok: true, reason: '' };
}

/**
 * `describe` for kernel tests: runs the suite when the kernel is usable; otherwise skips it with
 * a visible message, or, with CI=true, registers a failing test that says why.
 */
export function describeKernel(title: string, status: KernelStatus, fn: () => void): void {
  if (!vitest) throw new Error('describeKernel runs inside vitest only');
  const { describe, test } = vitest;
  if (status.ok) {
    describe(title, fn);
    return;
  }
  if (process.env['CI'] === 'true') {
    describe(title, () => {
      test('kernel is usable (required in CI)', () => {
        throw new Error(`kernel tests cannot run: ${status.reason}`);
      });
    });
    return;
  }
  console.warn(`\n*** SKIPPED kernel tests "${title}": ${status.reason} (set CI=true to make this a failure) ***\n`);
  describe.skip(title, fn);
}
