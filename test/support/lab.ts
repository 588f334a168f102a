/**
 * The real-kernel conformance lab: a compute host in miniature, built in network namespaces
 * from a model, with the compiled rules loaded exactly as a user loads them, and probes whose
 * observed verdicts are compared with the model evaluator's.
 *
 * Two topologies, one per firewall driver; the model is compiled with the matching driver:
 *
 *   linuxbridge  <P>host: one Linux bridge per network, `brq<network_id>`[:14] (the raw table
 *                sets the conntrack zone with `-i <bridge>`), bridge netfilter on for all of them
 *   hybrid       <P>host: per port a bridge `qbr<port_id>`[:14] holding the port's device and
 *                `qvb<port_id>`[:14], whose veth peer `qvo<port_id>`[:14] is a port of the
 *                network's fabric bridge `brint<N>`, as Neutron's iptables_hybrid plug does (the
 *                raw table zones each port's traffic by `--physdev-in qvb…`/`tap…`; nft by the qbr
 *                bridge). The fabric stands in for OVS br-int: a plain Linux bridge per network
 *                (br-int keeps networks apart by local VLAN), with bridge netfilter off, since
 *                OVS traffic never reaches iptables; bridge netfilter is on per qbr bridge
 *                (nf_call_iptables), not host-wide. Trusted ports (network:*, e.g. a DHCP
 *                port) are OVS internal ports in Neutron: they plug straight into the fabric.
 *
 *   both         the host ends of the VMs' veth pairs carry the model's device names, no IPv6
 *                autoconf on any host-side link
 *   <P>vmN       one per local port: eth0 with the port's MAC and fixed IPs
 *   <P>vmNm      a macvlan on vmN's eth0 with another MAC: the same VM sending with a spoofed MAC
 *   <P>extN      "members on other hosts": a namespace on network N's bridge (hybrid: the
 *                fabric) with no port (and so no port chain) of its own, holding member
 *                addresses and one non-member address
 *
 * Each namespace runs a small node agent (TCP/UDP echo servers, TCP/UDP clients with explicit
 * source address and port) driven over stdin/stdout; ICMP probes use ping. Every wait is
 * bounded; denied probes cost one timeout (~1 s), so probes run concurrently.
 *
 * Backends are pluggable loaders: iptables-restore on the nft or the legacy backend (never both
 * in one namespace), and nft -f.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type Backend, compile, prepare } from '../../src/compile.js';
import { DELTA_FILES, type DiffResult, diff } from '../../src/delta/diff.js';
import { parseModel } from '../../src/model/parse.js';
import type { FirewallDriver, Model, Port } from '../../src/model/types.js';
import { type Family, containsAddress, formatAddress, parseAddress } from '../../src/net/ip.js';
import { evaluate, formatExplanation } from '../../src/semantics/evaluate.js';
import type { CtState, Decision, Packet, PacketPath } from '../../src/semantics/packet.js';
import { type Background, type Netns, NetnsSession, mapLimit } from './netns.js';

const FAMILIES: readonly Family[] = [4, 6];
/** How long a probe waits for its answer: one TCP SYN, one ping. */
const PROBE_TIMEOUT_MS = 1_000;
/**
 * A probe the model expects through but that timed out is tried once more, afresh, with this
 * longer timeout: a loaded machine must not turn a slow answer into a "drop". (The opposite
 * error cannot come from slowness: a blocked packet never arrives.)
 */
const RETRY_TIMEOUT_MS = 3_000;
/** Probes in flight at once (each blocked one costs a timeout, not CPU). */
const PROBE_CONCURRENCY = 48;
/** Hard lifetime of an agent process, whatever happens to the test. */
const AGENT_LIFETIME_MS = 10 * 60_000;
/** Ports the agents reserve for DHCP probes; never picked as service ports. */
const DHCP_PORTS = new Set([67, 68, 546, 547]);
const IFNAME_MAX = 15;
/** Member addresses per family that the other-host namespace takes on (besides a non-member). */
const OUTSIDE_MEMBERS = 2;

// ---------------------------------------------------------------------------------------------
// Loaders: how a backend's compiled files get into the host namespace

export type CompiledFiles = Readonly<Record<string, string>>;

export interface RulesetLoader {
  readonly name: string;
  /** The compiler backend whose files this loader loads. */
  readonly backend: Backend;
  /** The files to load (compiled for the topology's driver), or why this backend cannot be tested yet. */
  compile(model: unknown, driver: FirewallDriver): { readonly files: CompiledFiles } | { readonly skip: string };
  /** Load everything, as a user would (sets first). */
  load(host: Netns, dir: string): Promise<void>;
  /** Apply only the membership part of the files (no rule changes); undefined if there is none. */
  readonly updateMembers: ((host: Netns, dir: string) => Promise<void>) | undefined;
  /** The rules in the kernel without counters or set contents, to show they did not change. */
  rulesSnapshot(host: Netns): Promise<string>;
  /** The compiled files without their membership part (equal for models that differ in members only). */
  rulesOf(files: CompiledFiles): string;
  /** Apply one file of DELTA_FILES[backend] (written at `path`) as the README says. */
  applyDelta(host: Netns, file: string, path: string): Promise<void>;
  /** Everything sgnf loaded into the kernel, normalised so that equal states give equal text. */
  liveState(host: Netns): Promise<string>;
}

const stripCounters = (text: string): string =>
  text
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]/g, '[0:0]'))
    .join('\n');

export function iptablesLoader(variant: 'nft' | 'legacy'): RulesetLoader {
  return {
    name: `iptables-${variant}`,
    compile: (model, driver) => ({ files: compile(model, { driver }).files }),
    async load(host, dir) {
      await host.must(['ipset', 'restore'], { inputFile: join(dir, 'ipset.restore') });
      await host.must([`iptables-${variant}-restore`], { inputFile: join(dir, 'iptables.v4') });
      await host.must([`ip6tables-${variant}-restore`], { inputFile: join(dir, 'iptables.v6') });
    },
    updateMembers: async (host, dir) => {
      await host.must(['ipset', 'restore'], { inputFile: join(dir, 'ipset.restore') });
    },
    async rulesSnapshot(host) {
      const v4 = await host.must([`iptables-${variant}-save`]);
      const v6 = await host.must([`ip6tables-${variant}-save`]);
      return `${stripCounters(v4)}\n${stripCounters(v6)}`;
    },
    rulesOf: (files) => `${files['iptables.v4']}\n${files['iptables.v6']}`,
    backend: 'iptables',
    async applyDelta(host, file, path) {
      if (file === 'ipset.delta' || file === 'ipset.cleanup') await host.must(['ipset', 'restore', '-f', path]);
      else if (file === 'iptables.v4.delta') await host.must([`iptables-${variant}-restore`, '--noflush'], { inputFile: path });
      else if (file === 'iptables.v6.delta') await host.must([`ip6tables-${variant}-restore`, '--noflush'], { inputFile: path });
      else if (file === 'conntrack.delta') await applyConntrackDelta(host, path);
      else throw new Error(`no way to apply ${file}`);
    },
    async liveState(host) {
      const [sets, v4, v6] = await Promise.all([
        host.must(['ipset', 'save']),
        host.must([`iptables-${variant}-save`]),
        host.must([`ip6tables-${variant}-save`]),
      ]);
      return `# ipset\n${normaliseIpsetSave(sets)}# iptables\n${normaliseIptablesSave(v4)}# ip6tables\n${normaliseIptablesSave(v6)}`;
    },
  };
}

/** Native nft: runs once compile(model, {backend: 'nft'}) produces ruleset.nft. */
export const nftLoader: RulesetLoader = {
  name: 'nft',
  backend: 'nft',
  async applyDelta(host, file, path) {
    if (file === 'conntrack.delta') await applyConntrackDelta(host, path);
    else if (file.endsWith('.nft')) await host.must(['nft', '-f', path]);
    else throw new Error(`no way to apply ${file}`);
  },
  async liveState(host) {
    return normaliseNftJson(await host.must(['nft', '-j', 'list', 'ruleset']));
  },
  compile(model, driver) {
    let files: CompiledFiles;
    try {
      files = compile(model, { driver, backend: 'nft' }).files;
    } catch (e) {
      return { skip: `compile(model, {backend: 'nft'}) fails: ${(e as Error).message.split('\n')[0]}` };
    }
    if (files['ruleset.nft'] === undefined) return { skip: 'compile(model, {backend: "nft"}) produces no ruleset.nft' };
    return { files };
  },
  async load(host, dir) {
    await host.must(['nft', '-c', '-f', join(dir, 'ruleset.nft')]);
    await host.must(['nft', '-f', join(dir, 'ruleset.nft')]);
  },
  updateMembers: async (host, dir) => {
    await host.must(['nft', '-f', join(dir, 'sets.nft')]);
  },
  async rulesSnapshot(host) {
    // Set elements may span lines: drop everything from `elements = {` to its closing brace.
    const text = await host.must(['nft', '-s', 'list', 'ruleset']);
    return text.replace(/elements = \{[^}]*\}/g, 'elements = {}');
  },
  rulesOf(files) {
    // Members are the elements of the sets that sets.nft refreshes.
    const memberSets = new Set([...(files['sets.nft'] ?? '').matchAll(/^flush set (\S+ \S+ \S+)$/gm)].map((m) => m[1]));
    return (files['ruleset.nft'] ?? '')
      .split('\n')
      .filter((l) => !/^add element /.test(l) || !memberSets.has(l.split(' ').slice(2, 5).join(' ')))
      .join('\n');
  },
};

export const LOADERS: readonly RulesetLoader[] = [iptablesLoader('nft'), iptablesLoader('legacy'), nftLoader];

/**
 * `xargs -r -L1 conntrack -D < conntrack.delta`, as the README says. A filter that matches
 * nothing makes conntrack exit 1 (and xargs 123): not an error; anything else conntrack says is.
 */
async function applyConntrackDelta(host: Netns, path: string): Promise<void> {
  const r = await host.run(['xargs', '-r', '-L1', 'conntrack', '-D'], { inputFile: path });
  const complaints = r.stderr.split('\n').filter((l) => l.trim() !== '' && !/: \d+ flow entr(y|ies) ha(s|ve) been deleted\.$/.test(l));
  if ((r.rc !== 0 && r.rc !== 123) || complaints.length > 0 || r.timedOut) {
    throw new Error(`conntrack.delta: \`xargs -r -L1 conntrack -D\` exited ${r.rc}${r.timedOut ? ' (timed out)' : ''}: ${complaints.join(' | ')}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Live state, normalised: what two hosts hold is equal iff these texts are

/**
 * `ipset save`: sets by name, entries sorted; without `hashsize` (the kernel grows it by itself,
 * a delta never re-creates a set for it) and `initval` (random at every create).
 */
export function normaliseIpsetSave(save: string): string {
  const sets = new Map<string, { create: string; adds: string[] }>();
  for (const line of save.split('\n')) {
    const w = line.trim().split(/\s+/);
    if (w[0] === 'create') {
      const kept: string[] = [];
      for (let i = 0; i < w.length; i++) {
        if (w[i] === 'hashsize' || w[i] === 'initval') i++;
        else kept.push(w[i]!);
      }
      sets.set(w[1]!, { create: kept.join(' '), adds: [] });
    } else if (w[0] === 'add') sets.get(w[1]!)!.adds.push(w.join(' '));
    else if (line.trim() !== '') throw new Error(`ipset save: unexpected line ${line}`);
  }
  return [...sets.keys()]
    .sort()
    .flatMap((n) => [sets.get(n)!.create, ...sets.get(n)!.adds.sort()])
    .map((l) => `${l}\n`)
    .join('');
}

/**
 * `iptables-save` (either backend): every table, its built-in chains with their policies, its
 * user chains sorted by name (the kernel lists them in creation order), each chain's rules in
 * order; no counters, no comment lines.
 */
export function normaliseIptablesSave(save: string): string {
  const tables = new Map<string, { chains: Map<string, string>; rules: Map<string, string[]> }>();
  let cur: { chains: Map<string, string>; rules: Map<string, string[]> } | undefined;
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) tables.set(line.slice(1), (cur = { chains: new Map(), rules: new Map() }));
    else if (line.startsWith(':') && cur) {
      const [name, policy] = line.slice(1).split(' ') as [string, string];
      cur.chains.set(name, policy);
    } else if (line.startsWith('-A ') && cur) {
      const chain = line.split(' ')[1]!;
      cur.rules.set(chain, [...(cur.rules.get(chain) ?? []), line]);
    } else if (line !== 'COMMIT' && line.trim() !== '' && !line.startsWith('#')) throw new Error(`iptables-save: unexpected line ${line}`);
  }
  const out: string[] = [];
  for (const name of [...tables.keys()].sort()) {
    const t = tables.get(name)!;
    const chains = [...t.chains].sort(([a, pa], [b, pb]) => Number(pa === '-') - Number(pb === '-') || (a < b ? -1 : a > b ? 1 : 0));
    out.push(`*${name}`, ...chains.map(([c, p]) => `:${c} ${p}`), ...chains.flatMap(([c]) => t.rules.get(c) ?? []), 'COMMIT');
  }
  return out.map((l) => `${l}\n`).join('');
}

/**
 * `nft -j list ruleset`: tables, sets, maps and chains sorted (nft lists them in creation
 * order), without handles, set elements sorted, each chain's rules in order.
 */
export function normaliseNftJson(json: string): string {
  const withoutHandles = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(withoutHandles);
    if (v === null || typeof v !== 'object') return v;
    return Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'handle').map(([k, x]) => [k, withoutHandles(x)]));
  };
  const objects: string[] = [];
  const rules = new Map<string, string[]>();
  for (const item of (JSON.parse(json) as { nftables: Record<string, unknown>[] }).nftables) {
    for (const [kind, raw] of Object.entries(item)) {
      if (kind === 'metainfo') continue;
      const body = withoutHandles(raw) as Record<string, unknown>;
      if (kind === 'rule') {
        const { family, table, chain, ...rest } = body;
        const key = `${String(family)} ${String(table)} ${String(chain)}`;
        rules.set(key, [...(rules.get(key) ?? []), JSON.stringify(rest)]);
        continue;
      }
      if (Array.isArray(body['elem'])) body['elem'] = (body['elem'] as unknown[]).map((e) => JSON.stringify(e)).sort();
      objects.push(`${kind} ${JSON.stringify(body)}`);
    }
  }
  const chainRules = [...rules.keys()].sort().flatMap((k) => [`rules of ${k}:`, ...rules.get(k)!.map((r) => `  ${r}`)]);
  return [...objects.sort(), ...chainRules].map((l) => `${l}\n`).join('');
}

// ---------------------------------------------------------------------------------------------
// The agent: a tiny node program inside each namespace

/**
 * Commands (one JSON object per line on stdin), answers on stdout with the same id:
 *   listen {tcp, udp, addrs}           TCP echo on every address family, UDP echo bound per address
 *   tcp {src, sport, dst, port, ms, token}   connect, send token, wait for its echo
 *   udp {src, sport, dst, port, ms, token, reuse}  send token, report whether the echo came back
 *   stream {src, sport, dst, port, count, every, grace}  numbered datagrams, count the echoes
 *   tcpStream {src, sport, dst, port, count, every, grace, ms}  one TCP connection, numbered
 *                                      lines, count the echoed ones
 *   connOpen {src, sport, dst, port, ms}  open a TCP connection and keep it: {passed, conn}
 *   connEcho {conn, token, ms}         send a line on it, report whether its echo came back
 *   connClose {conn}
 * Events: {ev: 'rx', token} for every datagram a UDP server receives.
 */
const AGENT_SOURCE = String.raw`
const net = require('net'), dgram = require('dgram'), readline = require('readline');
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const keep = [];
function listen(m) {
  const jobs = [];
  for (const host of ['0.0.0.0', '::']) for (const port of m.tcp) jobs.push(new Promise((res, rej) => {
    const s = net.createServer((c) => { c.on('error', () => {}); c.pipe(c); });
    s.once('error', rej); s.listen({ host, port, ipv6Only: host === '::' }, res); keep.push(s);
  }));
  for (const addr of m.addrs) for (const port of m.udp) jobs.push(new Promise((res, rej) => {
    const s = dgram.createSocket({ type: addr.includes(':') ? 'udp6' : 'udp4' });
    s.on('message', (msg, r) => { out({ ev: 'rx', token: msg.toString() }); s.send(msg, r.port, r.address, () => {}); });
    s.once('error', rej); s.bind({ address: addr, port }, res); keep.push(s);
  }));
  Promise.all(jobs).then(() => out({ id: m.id, ok: true }), (e) => out({ id: m.id, ok: false, error: String(e) }));
}
function tcp(m) {
  let done = false;
  const s = net.connect({ host: m.dst, port: m.port, localAddress: m.src, localPort: m.sport });
  const fin = (ok, how) => { if (done) return; done = true; clearTimeout(t); s.destroy(); out({ id: m.id, ok: true, passed: ok, how }); };
  const t = setTimeout(() => fin(false, 'timeout'), m.ms);
  s.on('connect', () => s.write(m.token));
  let got = '';
  s.on('data', (d) => { got += d.toString(); if (got.includes(m.token)) fin(true, 'echo'); });
  s.on('error', (e) => fin(false, e.code));
}
function udp(m) {
  let done = false;
  const s = dgram.createSocket({ type: m.dst.includes(':') ? 'udp6' : 'udp4', reuseAddr: !!m.reuse });
  const fin = (r) => { if (done) return; done = true; clearTimeout(t); try { s.close(); } catch {} out({ id: m.id, ...r }); };
  let t;
  s.on('message', (msg) => { if (msg.toString() === m.token) fin({ ok: true, passed: true }); });
  s.on('error', (e) => fin({ ok: false, error: String(e) }));
  s.bind({ address: m.src, port: m.sport }, () => s.send(m.token, m.port, m.dst, (e) => {
    if (e) fin({ ok: false, error: String(e) }); else t = setTimeout(() => fin({ ok: true, passed: false }), m.ms);
  }));
}
function stream(m) {
  const s = dgram.createSocket({ type: m.dst.includes(':') ? 'udp6' : 'udp4' });
  const seen = new Set(); let sent = 0;
  s.on('message', (msg) => seen.add(msg.toString()));
  s.on('error', (e) => out({ id: m.id, ok: false, error: String(e) }));
  s.bind({ address: m.src, port: m.sport }, () => {
    const tick = setInterval(() => {
      if (sent === m.count) { clearInterval(tick); setTimeout(() => { s.close(); out({ id: m.id, ok: true, sent, received: seen.size }); }, m.grace); return; }
      s.send(m.token + ':' + sent++, m.port, m.dst, () => {});
    }, m.every);
  });
}
function byLine(sock, onLine) {
  let buf = '';
  sock.on('data', (d) => { buf += d.toString(); let i; while ((i = buf.indexOf('\n')) >= 0) { onLine(buf.slice(0, i)); buf = buf.slice(i + 1); } });
}
function tcpStream(m) {
  const seen = new Set(); let sent = 0, failed, done = false;
  const s = net.connect({ host: m.dst, port: m.port, localAddress: m.src, localPort: m.sport });
  const fin = () => { if (done) return; done = true; clearTimeout(t); s.destroy(); out({ id: m.id, ok: true, sent, received: seen.size, how: failed }); };
  const t = setTimeout(() => { failed = failed || 'timeout'; fin(); }, m.ms);
  s.on('error', (e) => { failed = e.code; fin(); });
  byLine(s, (l) => seen.add(l));
  s.on('connect', () => {
    const tick = setInterval(() => {
      if (done) return clearInterval(tick);
      if (sent === m.count) { clearInterval(tick); setTimeout(fin, m.grace); return; }
      s.write(m.token + ':' + sent++ + '\n');
    }, m.every);
  });
}
const conns = new Map(); let nextConn = 1;
function connOpen(m) {
  let done = false;
  const s = net.connect({ host: m.dst, port: m.port, localAddress: m.src, localPort: m.sport });
  const c = { s, waiters: new Map() };
  const fin = (passed, how) => {
    if (done) return; done = true; clearTimeout(t);
    if (!passed) { s.destroy(); return out({ id: m.id, ok: true, passed, how }); }
    const conn = nextConn++; conns.set(conn, c); out({ id: m.id, ok: true, passed, conn });
  };
  const t = setTimeout(() => fin(false, 'timeout'), m.ms);
  s.on('error', (e) => fin(false, e.code));
  byLine(s, (l) => c.waiters.get(l)?.());
  s.on('connect', () => fin(true));
}
function connEcho(m) {
  const c = conns.get(m.conn);
  if (!c) return out({ id: m.id, ok: false, error: 'no connection ' + m.conn });
  let done = false;
  const fin = (passed) => { if (done) return; done = true; clearTimeout(t); c.waiters.delete(m.token); out({ id: m.id, ok: true, passed }); };
  const t = setTimeout(() => fin(false), m.ms);
  c.waiters.set(m.token, () => fin(true));
  c.s.write(m.token + '\n');
}
function connClose(m) {
  conns.get(m.conn)?.s.destroy(); conns.delete(m.conn); out({ id: m.id, ok: true });
}
const ops = { listen, tcp, udp, stream, tcpStream, connOpen, connEcho, connClose };
readline.createInterface({ input: process.stdin }).on('line', (l) => {
  const m = JSON.parse(l);
  try { ops[m.op](m); } catch (e) { out({ id: m.id, ok: false, error: String(e) }); }
}).on('close', () => process.exit(0));
out({ ev: 'ready' });
`;

interface AgentReply {
  readonly id: number;
  readonly ok: boolean;
  readonly error?: string;
  readonly passed?: boolean;
  readonly how?: string;
  readonly sent?: number;
  readonly received?: number;
  readonly conn?: number;
}

export class Agent {
  private nextId = 1;
  private readonly pending = new Map<number, (r: AgentReply) => void>();
  private readonly received = new Set<string>();
  private readonly tokenWaiters = new Map<string, () => void>();
  private ready!: Promise<void>;

  private constructor(private readonly bg: Background, readonly where: string) {}

  static async start(ns: Netns): Promise<Agent> {
    const bg = ns.spawn([process.execPath, '-e', AGENT_SOURCE], AGENT_LIFETIME_MS);
    const agent = new Agent(bg, ns.name);
    let stderr = '';
    bg.child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    agent.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`agent in ${ns.name} did not start within 10 s: ${stderr}`)), 10_000);
      createInterface({ input: bg.child.stdout! }).on('line', (line) => {
        const msg = JSON.parse(line) as AgentReply & { ev?: string; token?: string };
        if (msg.ev === 'ready') {
          clearTimeout(timer);
          resolve();
        } else if (msg.ev === 'rx' && msg.token !== undefined) {
          agent.received.add(msg.token);
          agent.tokenWaiters.get(msg.token)?.();
        } else {
          agent.pending.get(msg.id)?.(msg);
          agent.pending.delete(msg.id);
        }
      });
      void bg.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`agent in ${ns.name} exited (${code}): ${stderr}`));
        for (const [id, done] of agent.pending) done({ id, ok: false, error: `agent exited: ${stderr}` });
        agent.pending.clear();
      });
    });
    await agent.ready;
    return agent;
  }

  /** Send a command; throws if the agent reports a harness error (not a verdict). */
  async call(op: string, args: Record<string, unknown>, timeoutMs = 15_000): Promise<AgentReply> {
    const id = this.nextId++;
    const reply = await new Promise<AgentReply>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({ id, ok: false, error: `no answer within ${timeoutMs} ms` });
      }, timeoutMs);
      this.pending.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.bg.child.stdin!.write(JSON.stringify({ id, op, ...args }) + '\n');
    });
    if (!reply.ok) throw new Error(`agent in ${this.where}: ${op} ${JSON.stringify(args)} failed: ${reply.error}`);
    return reply;
  }

  /** Did this agent's UDP servers receive `token` (waiting at most `ms`)? */
  waitForToken(token: string, ms: number): Promise<boolean> {
    if (this.received.has(token)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.tokenWaiters.delete(token);
        resolve(false);
      }, ms);
      this.tokenWaiters.set(token, () => {
        clearTimeout(timer);
        this.tokenWaiters.delete(token);
        resolve(true);
      });
    });
  }

  stop(): Promise<void> {
    return this.bg.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Topology

/** A namespace that sends and receives probes: a VM (local port) or an "other host" member. */
export interface Endpoint {
  readonly key: string;
  readonly ns: Netns;
  /** The local port, or undefined for a namespace standing for other hosts. */
  readonly port: Port | undefined;
  readonly network: string;
  readonly mac: string;
  /** Addresses it owns and probes from/to (the first of each family is the main one). */
  readonly addrs: Readonly<Record<Family, readonly string[]>>;
  /** Addresses a VM owns but its port may not send from (spoofed-source probes). */
  readonly spoofAddrs: Readonly<Record<Family, readonly string[]>>;
  /** Addresses from the port's allowed address pairs (with the port's MAC) it also sends from. */
  readonly pairAddrs: Readonly<Record<Family, readonly string[]>>;
  readonly agent: Agent;
  /** The same VM behind another MAC (macvlan on its eth0); undefined for other hosts. */
  macSpoofer: { readonly ns: Netns; readonly mac: string; readonly agent: Agent } | undefined;
  /** Service ports its agent listens on, per family. */
  readonly services: Readonly<Record<Family, Services>>;
}

export interface Services {
  readonly tcpAllowed: number;
  readonly tcpDenied: number;
  readonly udp: number;
}

const bridgeName = (network: string): string => `brq${network}`.slice(0, IFNAME_MAX - 1);
/**
 * hybrid: Neutron's names from the port id's first 11 characters (derived here, not taken from
 * src/model/devices.ts, so that a naming slip in the compiler shows up as a failing probe): the
 * port's bridge, and the veth pair from it (`qvb`) to the integration bridge (`qvo`).
 */
const hybridBridge = (portId: string): string => `qbr${portId.slice(0, 11)}`;
const hybridVeth = (portId: string): string => `qvb${portId.slice(0, 11)}`;
const hybridOvsVeth = (portId: string): string => `qvo${portId.slice(0, 11)}`;
/** The network a port without network_id joins in the hybrid topology (which needs none). */
const NO_NETWORK = '(none)';
const addrText = (family: Family, addr: bigint): string => formatAddress(family, addr);

interface EndpointPlan {
  readonly key: string;
  readonly port: Port | undefined;
  readonly network: string;
  readonly hostDevice: string;
  readonly mac: string | undefined;
  readonly addrs: Record<Family, string[]>;
  readonly spoofAddrs: Record<Family, string[]>;
  readonly pairAddrs: Record<Family, string[]>;
  readonly services: Record<Family, Services>;
}

/**
 * Service ports for probes to a port: one TCP port its ingress rules allow (if any rule allows
 * TCP), one they do not, and one UDP port; the evaluator, not this choice, decides the verdict.
 */
function choosePorts(model: Model, port: Port | undefined, family: Family): Services {
  const rules = (port?.groups ?? [])
    .flatMap((g) => model.groups.get(g)?.rules ?? [])
    .filter((r) => r.direction === 'ingress' && r.family === family);
  const allowedBy = (protocol: number): number | undefined => {
    for (const r of rules) {
      if (r.protocol !== undefined && r.protocol !== protocol) continue;
      if (r.ports === undefined) return 8080;
      for (const p of [r.ports.min, r.ports.max, Math.floor((r.ports.min + r.ports.max) / 2)]) if (!DHCP_PORTS.has(p)) return p;
    }
    return undefined;
  };
  const tcpRanges = rules.filter((r) => r.protocol === 6 && r.ports).map((r) => r.ports!);
  const tcpDenied = [7777, 2222, 9999, 31337, 12345].find((p) => !tcpRanges.some((r) => r.min <= p && p <= r.max)) ?? 7777;
  let tcpAllowed = allowedBy(6) ?? 8080;
  if (tcpAllowed === tcpDenied) tcpAllowed = 8080;
  return { tcpAllowed, tcpDenied, udp: allowedBy(17) ?? 7000 };
}

/** Addresses a lab may hand out for spoofing or to outside members without clashing. */
function* candidates(family: Family): Generator<string> {
  if (family === 4) for (let i = 200; i < 255; i++) yield `203.0.113.${i}`;
  else for (let i = 0x200; i < 0x300; i++) yield `2001:db8:ffff::${i.toString(16)}`;
}

function planEndpoints(model: Model, driver: FirewallDriver): EndpointPlan[] {
  const used = new Set<string>();
  for (const p of model.ports) for (const ip of p.fixedIps) used.add(addrText(ip.family, ip.addr));
  const take = (family: Family): string => {
    for (const a of candidates(family)) {
      if (!used.has(a)) {
        used.add(a);
        return a;
      }
    }
    throw new Error('lab ran out of spare addresses');
  };
  const networkOf = (p: Port): string => {
    if (p.networkId !== undefined) return p.networkId;
    if (driver === 'hybrid') return NO_NETWORK;
    throw new Error('every port needs a network_id in the lab with the linuxbridge driver');
  };
  const networks = [...new Set(model.ports.map(networkOf))].sort();
  const plans: EndpointPlan[] = [];
  model.ports.forEach((port, i) => {
    const addrs = { 4: [] as string[], 6: [] as string[] };
    for (const ip of port.fixedIps) addrs[ip.family].push(addrText(ip.family, ip.addr));
    const pairAddrs = { 4: [] as string[], 6: [] as string[] };
    for (const ap of port.addressPairs) {
      // A host of each pair with the port's own MAC (a pair with another MAC needs another NIC).
      const f = ap.prefix.family;
      if (ap.mac !== port.mac || ap.prefix.len === 0 || (f === 6 && ap.prefix.addr >> 118n === 0x3fan)) continue; // not link-local
      const host = ap.prefix.len === (f === 4 ? 32 : 128) ? ap.prefix.addr : ap.prefix.addr + 1n;
      const text = addrText(f, host);
      if (used.has(text) || !containsAddress(ap.prefix, f, host)) continue;
      used.add(text);
      pairAddrs[f].push(text);
    }
    const spoofAddrs = { 4: addrs[4].length > 0 ? [take(4)] : [], 6: addrs[6].length > 0 ? [take(6)] : [] };
    plans.push({
      key: `vm${i + 1}`,
      port,
      network: networkOf(port),
      hostDevice: port.device,
      mac: port.mac === '' ? undefined : port.mac,
      addrs,
      spoofAddrs,
      pairAddrs,
      services: { 4: choosePorts(model, port, 4), 6: choosePorts(model, port, 6) },
    });
  });
  // Other hosts: members of the groups that no local port owns, and one non-member address.
  const localOwned = (family: Family, addr: bigint): boolean =>
    model.ports.some((p) => p.fixedIps.some((ip) => ip.family === family && ip.addr === addr) || p.addressPairs.some((ap) => containsAddress(ap.prefix, family, addr)));
  const outside: Record<Family, string[]> = { 4: [], 6: [] };
  for (const members of model.members.values()) {
    for (const m of members.prefixes()) {
      if (outside[m.family].length >= OUTSIDE_MEMBERS || m.len === 0) continue;
      const host = m.len === (m.family === 4 ? 32 : 128) ? m.addr : m.addr + 7n;
      const text = addrText(m.family, host);
      if (!containsAddress(m, m.family, host) || localOwned(m.family, host) || used.has(text)) continue;
      used.add(text);
      outside[m.family].push(text);
    }
  }
  for (const f of FAMILIES) outside[f].push(take(f));
  networks.forEach((network, i) => {
    plans.push({
      key: `ext${i + 1}`,
      port: undefined,
      network,
      hostDevice: `ext${i + 1}`,
      mac: `02:5e:00:00:ee:${(i + 1).toString(16).padStart(2, '0')}`,
      addrs: { 4: [...outside[4]], 6: [...outside[6]] },
      spoofAddrs: { 4: [], 6: [] },
      pairAddrs: { 4: [], 6: [] },
      services: { 4: choosePorts(model, undefined, 4), 6: choosePorts(model, undefined, 6) },
    });
  });
  return plans;
}

// ---------------------------------------------------------------------------------------------
// The lab

export interface LabOptions {
  /** Shown in every message: which model and backend. */
  readonly label: string;
  /** The model JSON, as the compiler takes it. */
  readonly model: unknown;
  readonly loader: RulesetLoader;
  /** The topology to build, and the driver the model is compiled with (default linuxbridge). */
  readonly driver?: FirewallDriver;
  /** Build each VM's MAC spoofer (default true; only the standard probes use them). */
  readonly macSpoofers?: boolean;
}

export class Lab {
  private sportCounter = 40_000;
  private tokenCounter = 0;

  private constructor(
    readonly label: string,
    readonly loader: RulesetLoader,
    readonly driver: FirewallDriver,
    readonly session: NetnsSession,
    readonly host: Netns,
    readonly endpoints: readonly Endpoint[],
    /** The model as the evaluator sees it, and the JSON it came from. */
    public model: Model,
    public modelJson: unknown,
    private readonly notrackNetworks: ReadonlySet<string>,
    private readonly dir: string,
  ) {}

  /**
   * Build the namespaces for `model`, load the compiled files with `loader`. Returns the reason
   * instead when the loader cannot handle the model yet (a backend still being written).
   */
  static async build(opts: LabOptions): Promise<Lab | { skip: string }> {
    const driver = opts.driver ?? 'linuxbridge';
    const compiled = opts.loader.compile(opts.model, driver);
    if ('skip' in compiled) return compiled;
    const model = parseModel(opts.model);
    const plan = prepare(opts.model).plan({ driver });
    for (const z of plan.zones) {
      // The lab's devices must be the ones the compiler zones: a network's brq, or a port's own bridge.
      const want = driver === 'linuxbridge' ? bridgeName(z.key) : undefined;
      if (z.bridge !== want) throw new Error(`compiler's bridge ${z.bridge} for zone ${z.key} is not ${want}`);
      if (driver === 'hybrid' && (z.ports.length !== 1 || z.ports[0]!.id !== z.key)) throw new Error(`hybrid zone ${z.key} is not one port's`);
    }
    // hybrid: each port's bridge has its own zone, so only the traffic of a stateless port is
    // untracked, and only on its own bridge, where its checks do not look at the state.
    const notrack = new Set(driver === 'linuxbridge' ? plan.zones.filter((z) => z.zone === 'notrack').map((z) => z.key) : []);
    const dir = mkdtempSync(join(tmpdir(), 'sgnf-lab-'));
    writeFiles(dir, compiled.files);

    const session = new NetnsSession('lab');
    const endpoints: Endpoint[] = [];
    try {
      const host = await session.create('host');
      const plans = planEndpoints(model, driver);
      const bridges = await setUpHost(host, driver, [...new Set(plans.map((p) => p.network))]);
      const built = await mapLimit(plans, 6, (p) => buildEndpoint(session, host, p, plans, plugOf(driver, p, bridges)));
      endpoints.push(...built);
      await mapLimit(
        endpoints.filter((e) => opts.macSpoofers !== false && e.port && (e.addrs[4].length > 0 || e.addrs[6].length > 0)),
        6,
        async (e) => (e.macSpoofer = await buildMacSpoofer(session, e, endpoints)),
      );
      await waitForLinks(host, endpoints, plans.flatMap((p) => plugOf(driver, p, bridges).hostLinks));
      const lab = new Lab(opts.label, opts.loader, driver, session, host, endpoints, model, opts.model, notrack, dir);
      await opts.loader.load(host, dir);
      return lab;
    } catch (e) {
      await teardown(session, endpoints, dir);
      throw e;
    }
  }

  async teardown(): Promise<void> {
    await teardown(this.session, this.endpoints, this.dir);
  }

  /**
   * Apply the membership part of another model's compiled files (rules must be identical:
   * checked). Afterwards the lab evaluates against the new model.
   */
  async updateMembers(modelJson: unknown): Promise<void> {
    if (!this.loader.updateMembers) throw new Error(`${this.loader.name} has no membership update`);
    const next = this.loader.compile(modelJson, this.driver);
    if ('skip' in next) throw new Error(next.skip);
    const dir = mkdtempSync(join(tmpdir(), 'sgnf-lab-upd-'));
    try {
      writeFiles(dir, next.files);
      await this.loader.updateMembers(this.host, dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    this.model = parseModel(modelJson);
    this.modelJson = modelJson;
  }

  /** The change script from the lab's model to `next`, for the lab's driver and backend. */
  delta(next: unknown): DiffResult {
    return diff(this.modelJson, next, { driver: this.driver, backend: this.loader.backend });
  }

  /** Apply delta files to the lab's host (see applyDeltaFiles); the model stays until setModel(). */
  applyDelta(files: Readonly<Record<string, string>>, only?: readonly string[]): Promise<void> {
    return applyDeltaFiles(this.loader, this.host, files, only);
  }

  /** From now on, probes are evaluated against this model. */
  setModel(modelJson: unknown): void {
    this.model = parseModel(modelJson);
    this.modelJson = modelJson;
  }

  vms(): Endpoint[] {
    return this.endpoints.filter((e) => e.port !== undefined);
  }

  endpoint(key: string): Endpoint {
    const e = this.endpoints.find((x) => x.key === key);
    if (!e) throw new Error(`no endpoint ${key}`);
    return e;
  }

  nextSport(): number {
    return this.sportCounter++;
  }

  nextToken(): string {
    return `t${++this.tokenCounter}`;
  }

  /** NEW / ESTABLISHED as the kernel reports them on this network (UNTRACKED if notracked). */
  ct(network: string, state: CtState): CtState {
    return this.notrackNetworks.has(network) ? 'UNTRACKED' : state;
  }

  /** Probes tried a second time (expected through, timed out at first), with how long they took. */
  readonly retried: string[] = [];

  /** Run probes concurrently; compare each with the evaluator on the lab's current model. */
  async run(probes: readonly Probe[]): Promise<ProbeResult[]> {
    const model = this.model;
    const modelJson = this.modelJson;
    const once = async (probe: Probe, timeoutMs: number): Promise<ProbeResult> => {
      const t0 = Date.now();
      const observed = await probe.run(timeoutMs);
      const ms = Date.now() - t0;
      const decisions = probe.packets.map((p) => ({ ...p, decision: evaluate(model, p.path, p.packet) }));
      const expected = decisions.every((d) => d.decision.verdict === 'ACCEPT');
      return { lab: this.label, backend: this.loader.name, probe, observed, expected, decisions, modelJson, ms };
    };
    return mapLimit(probes, PROBE_CONCURRENCY, async (probe) => {
      const first = await once(probe, PROBE_TIMEOUT_MS);
      if (first.observed || !first.expected) return first;
      const second = await once(probe.fresh(), RETRY_TIMEOUT_MS);
      this.retried.push(`${this.label}/${this.loader.name}: ${probe.label} (${second.observed ? `through after ${second.ms} ms` : 'blocked again'})`);
      return second;
    });
  }
}

/** Load a backend's full output into `host`, as a user would (see RulesetLoader.load). */
export async function loadFiles(loader: RulesetLoader, host: Netns, files: CompiledFiles): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sgnf-lab-full-'));
  try {
    writeFiles(dir, files);
    await loader.load(host, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Apply delta files in DELTA_FILES order as a user would (`only`: just these of them): each is
 * written to disk and applied with the command the README gives.
 */
export async function applyDeltaFiles(loader: RulesetLoader, host: Netns, files: Readonly<Record<string, string>>, only?: readonly string[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sgnf-lab-delta-'));
  try {
    for (const file of DELTA_FILES[loader.backend]) {
      if (only !== undefined && !only.includes(file)) continue;
      const text = files[file];
      if (text === undefined) throw new Error(`the delta has no ${file}`);
      writeFileSync(join(dir, file), text);
      await loader.applyDelta(host, file, join(dir, file));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** TCP segments a namespace has retransmitted so far (`RetransSegs` of /proc/net/snmp, per namespace). */
export async function tcpRetransmits(ns: Netns): Promise<number> {
  const lines = (await ns.must(['cat', '/proc/net/snmp'])).split('\n').filter((l) => l.startsWith('Tcp: '));
  const [names, values] = lines.map((l) => l.split(/\s+/));
  const i = names?.indexOf('RetransSegs') ?? -1;
  if (i < 0 || values?.[i] === undefined) throw new Error(`no RetransSegs in /proc/net/snmp of ${ns.name}`);
  return Number(values[i]);
}

/**
 * Bounded wait (`ms`) until the TCP connections of `ns` on local or peer port `port` have all
 * their data acknowledged (Send-Q 0 in `ss`): nothing of theirs is in flight.
 */
export async function waitTcpIdle(ns: Netns, port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const lines = (await ns.must(['ss', '-Htn', `( sport = :${port} or dport = :${port} )`])).split('\n').filter((l) => l.trim() !== '');
    // Columns: State Recv-Q Send-Q Local Peer.
    const sendQ = lines.map((l) => Number(l.trim().split(/\s+/)[2]));
    if (lines.length > 0 && sendQ.every((q) => q === 0)) return;
    if (Date.now() > deadline) throw new Error(`TCP on port ${port} in ${ns.name} not idle within ${ms} ms: ${lines.join(' | ')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function writeFiles(dir: string, files: CompiledFiles): void {
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
}

async function teardown(session: NetnsSession, endpoints: readonly Endpoint[], dir: string): Promise<void> {
  await Promise.all(endpoints.flatMap((e) => [e.agent.stop(), ...(e.macSpoofer ? [e.macSpoofer.agent.stop()] : [])]));
  await session.destroy();
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Host sysctls and one bridge per network: linuxbridge's `brq…`, or hybrid's fabric (br-int's
 * stand-in, see the header). Returns the bridge of each network.
 */
async function setUpHost(host: Netns, driver: FirewallDriver, networks: readonly string[]): Promise<Map<string, string>> {
  const bridgeNetfilter = driver === 'linuxbridge' ? 1 : 0;
  await host.sysctl({
    'net.bridge.bridge-nf-call-iptables': bridgeNetfilter,
    'net.bridge.bridge-nf-call-ip6tables': bridgeNetfilter,
    'net.ipv6.conf.all.accept_ra': 0,
    'net.ipv6.conf.default.accept_ra': 0,
  });
  const bridges = new Map(networks.map((n, i) => [n, driver === 'linuxbridge' ? bridgeName(n) : `brint${i + 1}`]));
  await host.ipBatch(
    [...bridges.values()].flatMap((b) => [
      `link add ${b} type bridge stp_state 0 forward_delay 0 mcast_snooping 0`,
      `link set ${b} addrgenmode none`,
      `link set ${b} up`,
    ]),
  );
  return bridges;
}

/** How an endpoint plugs into the host: `ip` commands run before its veth pair is made, the bridge that takes the veth's host end, and the host links that must come up. */
interface Plug {
  readonly before: readonly string[];
  readonly master: string;
  readonly hostLinks: readonly string[];
}

function plugOf(driver: FirewallDriver, p: EndpointPlan, bridges: ReadonlyMap<string, string>): Plug {
  const fabric = bridges.get(p.network)!;
  if (driver === 'linuxbridge' || p.port === undefined || p.port.kind === 'trusted') return { before: [], master: fabric, hostLinks: [p.hostDevice] };
  const qbr = hybridBridge(p.port.id);
  const qvb = hybridVeth(p.port.id);
  const qvo = hybridOvsVeth(p.port.id);
  return {
    before: [
      // Bridge netfilter for this bridge only (the fabric has none, like OVS).
      `link add ${qbr} type bridge stp_state 0 forward_delay 0 mcast_snooping 0 nf_call_iptables 1 nf_call_ip6tables 1`,
      `link set ${qbr} addrgenmode none`,
      `link add ${qvb} type veth peer name ${qvo}`,
      `link set ${qvb} addrgenmode none`,
      `link set ${qvo} addrgenmode none`,
      `link set ${qvb} master ${qbr}`,
      `link set ${qvo} master ${fabric}`,
      `link set ${qbr} up`,
      `link set ${qvb} up`,
      `link set ${qvo} up`,
    ],
    master: qbr,
    hostLinks: [p.hostDevice, qvb, qvo],
  };
}

/** Namespace, veth pair, addresses, routes to every other address of the network, agent. */
async function buildEndpoint(session: NetnsSession, host: Netns, p: EndpointPlan, all: readonly EndpointPlan[], plug: Plug): Promise<Endpoint> {
  const ns = await session.create(p.key);
  await ns.sysctl({
    'net.ipv4.conf.all.rp_filter': 0,
    'net.ipv4.conf.default.rp_filter': 0,
    'net.ipv4.conf.all.arp_ignore': 0,
    'net.ipv6.conf.all.accept_dad': 0,
    'net.ipv6.conf.default.accept_dad': 0,
    'net.ipv6.conf.all.accept_ra': 0,
    'net.ipv6.conf.default.accept_ra': 0,
    'net.ipv6.conf.default.router_solicitations': 0,
  });
  await host.ipBatch([
    ...plug.before,
    `link add ${p.hostDevice} type veth peer name eth0 netns ${ns.name}`,
    `link set ${p.hostDevice} addrgenmode none`,
    `link set ${p.hostDevice} master ${plug.master}`,
    `link set ${p.hostDevice} up`,
  ]);
  const peers = all.filter((o) => o.network === p.network && o !== p);
  const all3 = (o: EndpointPlan, f: Family): string[] => [...o.addrs[f], ...o.pairAddrs[f], ...o.spoofAddrs[f]];
  const own = (f: Family): string[] => all3(p, f);
  const routes = (f: Family): string[] => peers.flatMap((o) => all3(o, f)).filter((a) => !own(f).includes(a));
  const first4 = p.addrs[4][0];
  await ns.ipBatch([
    ...(p.mac ? [`link set eth0 address ${p.mac}`] : []),
    ...own(4).map((a) => `addr add ${a}/32 dev eth0`),
    ...own(6).map((a) => `addr add ${a}/128 dev eth0 nodad`),
    'link set eth0 up',
    ...[...new Set(routes(4))].map((a) => `route add ${a}/32 dev eth0${first4 ? ` src ${first4}` : ''}`),
    ...[...new Set(routes(6))].map((a) => `route add ${a}/128 dev eth0`),
  ]);
  const mac = p.mac ?? (JSON.parse(await ns.ip(['-j', 'link', 'show', 'eth0'])) as { address: string }[])[0]!.address;
  const agent = await Agent.start(ns);
  const services = p.services;
  await agent.call('listen', {
    tcp: [...new Set(FAMILIES.flatMap((f) => [services[f].tcpAllowed, services[f].tcpDenied]))],
    udp: [...new Set([...FAMILIES.map((f) => services[f].udp), 68, 546])],
    addrs: [...p.addrs[4], ...p.addrs[6]],
  });
  return { key: p.key, ns, port: p.port, network: p.network, mac, addrs: p.addrs, spoofAddrs: p.spoofAddrs, pairAddrs: p.pairAddrs, agent, macSpoofer: undefined, services };
}

/**
 * The VM's own addresses behind a macvlan with another MAC, in a namespace of its own. It must
 * never answer ARP/ND for those addresses (that would steal the VM's traffic), so neighbours
 * are static, ARP replies are off and its ICMP/ICMPv6 output is dropped.
 */
async function buildMacSpoofer(session: NetnsSession, p: Endpoint, all: readonly Endpoint[]): Promise<Endpoint['macSpoofer']> {
  const vm = p.ns;
  const neighbours = all.filter((o) => o.network === p.network && o !== p);
  const ns = await session.create(`${p.key}m`);
  const mac = `02:5f:00:00:${p.key.replace(/\D/g, '').padStart(4, '0').replace(/(..)(..)/, '$1:$2')}`;
  await ns.sysctl({
    'net.ipv4.conf.all.arp_ignore': 8,
    'net.ipv4.conf.default.arp_ignore': 8,
    'net.ipv4.conf.all.rp_filter': 0,
    'net.ipv4.conf.default.rp_filter': 0,
    'net.ipv6.conf.all.accept_dad': 0,
    'net.ipv6.conf.default.accept_dad': 0,
    'net.ipv6.conf.default.addr_gen_mode': 1,
  });
  await ns.must(['nft', '-f', '-'], {
    input: 'table inet quiet {\n chain out {\n  type filter hook output priority 0; policy accept;\n  meta l4proto { icmp, ipv6-icmp } drop\n }\n}\n',
  });
  await vm.ipBatch([`link add mv0 link eth0 address ${mac} type macvlan mode private`, `link set mv0 netns ${ns.name}`]);
  await ns.ipBatch([
    'link set mv0 addrgenmode none',
    ...p.addrs[4].map((a) => `addr add ${a}/32 dev mv0`),
    ...p.addrs[6].map((a) => `addr add ${a}/128 dev mv0 nodad`),
    'link set mv0 up',
    ...neighbours.flatMap((o) =>
      FAMILIES.flatMap((f) => o.addrs[f].map((a) => `route add ${a}/${f === 4 ? 32 : 128} dev mv0`)),
    ),
    ...neighbours.flatMap((o) => FAMILIES.flatMap((f) => o.addrs[f].map((a) => `neigh replace ${a} lladdr ${o.mac} dev mv0 nud permanent`))),
  ]);
  const agent = await Agent.start(ns);
  return { ns, mac, agent };
}

/** Bounded wait (5 s) until every host link is up and a forwarding bridge port, and every endpoint's link is up. */
async function waitForLinks(host: Netns, endpoints: readonly Endpoint[], hostLinks: readonly string[]): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const ports = JSON.parse(await host.ip(['-j', '-d', 'link', 'show', 'type', 'veth'])) as {
      ifname: string;
      operstate: string;
      linkinfo?: { info_slave_data?: { state?: string } };
    }[];
    const forwarding = new Set(ports.filter((l) => l.operstate === 'UP' && l.linkinfo?.info_slave_data?.state === 'forwarding').map((l) => l.ifname));
    const hostReady = ports.length === hostLinks.length && hostLinks.every((l) => forwarding.has(l));
    const vmReady = (
      await Promise.all(endpoints.map(async (e) => (JSON.parse(await e.ns.ip(['-j', 'link', 'show', 'eth0'])) as { operstate: string }[])[0]?.operstate === 'UP'))
    ).every(Boolean);
    if (hostReady && vmReady) return;
    if (Date.now() > deadline) throw new Error(`lab links not up within 5 s: ${JSON.stringify(ports.map((l) => [l.ifname, l.operstate, l.linkinfo?.info_slave_data?.state]))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ---------------------------------------------------------------------------------------------
// Probes

export interface PathPacket {
  readonly path: PacketPath;
  readonly packet: Packet;
}

export interface Probe {
  readonly label: string;
  /** Every packet the probe needs to get through, in order; it succeeds iff all are accepted. */
  readonly packets: readonly PathPacket[];
  /** Observed: true when the probe got through within `timeoutMs`. */
  run(timeoutMs: number): Promise<boolean>;
  /** The same probe with new source port and token (for a retry). */
  fresh(): Probe;
}

export interface ProbeResult {
  readonly lab: string;
  readonly backend: string;
  readonly probe: Probe;
  readonly observed: boolean;
  readonly expected: boolean;
  readonly decisions: readonly (PathPacket & { readonly decision: Decision })[];
  readonly modelJson: unknown;
  /** How long the probe took. */
  readonly ms: number;
}

const pathOf = (from: Endpoint, to: Endpoint): PacketPath => ({ fromDevice: from.port?.device, to: to.port?.device });

function pkt(family: Family, protocol: number, src: string, dst: string, srcMac: string, ct: CtState, extra: Partial<Packet> = {}): Packet {
  const s = parseAddress(src);
  const d = parseAddress(dst);
  if (!s || !d || s.family !== family || d.family !== family) throw new Error(`bad probe addresses ${src} -> ${dst}`);
  return { family, protocol, src: s.addr, dst: d.addr, srcMac, ct, ...extra };
}

const ICMP_ECHO = { 4: { protocol: 1, request: 8, reply: 0 }, 6: { protocol: 58, request: 128, reply: 129 } } as const;

export interface ProbeSpec {
  readonly from: Endpoint;
  readonly to: Endpoint;
  readonly family: Family;
  /** Source address (default: the sender's first address of the family). */
  readonly src?: string;
  /** Destination address (default: the receiver's first address of the family). */
  readonly dst?: string;
  readonly note?: string;
}

function ends(spec: ProbeSpec): { src: string; dst: string; label: (what: string) => string } {
  const src = spec.src ?? spec.from.addrs[spec.family][0];
  const dst = spec.dst ?? spec.to.addrs[spec.family][0];
  if (src === undefined || dst === undefined) throw new Error(`no IPv${spec.family} address for ${spec.from.key} -> ${spec.to.key}`);
  const label = (what: string): string => `${what} ${spec.from.key}(${src}) -> ${spec.to.key}(${dst})${spec.note ? ` [${spec.note}]` : ''}`;
  return { src, dst, label };
}

/** ICMP(v6) echo: request and reply must both pass. */
export function pingProbe(lab: Lab, spec: ProbeSpec): Probe {
  const { from, to, family } = spec;
  const { src, dst, label } = ends(spec);
  const e = ICMP_ECHO[family];
  return {
    label: label(`ping -${family}`),
    packets: [
      { path: pathOf(from, to), packet: pkt(family, e.protocol, src, dst, from.mac, lab.ct(from.network, 'NEW'), { icmpType: e.request, icmpCode: 0 }) },
      { path: pathOf(to, from), packet: pkt(family, e.protocol, dst, src, to.mac, lab.ct(from.network, 'ESTABLISHED'), { icmpType: e.reply, icmpCode: 0 }) },
    ],
    fresh: () => pingProbe(lab, spec),
    async run(ms) {
      const r = await from.ns.run(['ping', `-${family}`, '-n', '-q', '-c', '1', '-W', String(ms / 1000), '-I', src, dst], { timeoutMs: ms + 3_000 });
      if (r.rc !== 0 && r.rc !== 1) throw new Error(`ping failed to run (rc=${r.rc}): ${r.stderr}`);
      return r.rc === 0;
    },
  };
}

/**
 * TCP: connect, send a token, read its echo. SYN and the first data go out, SYN-ACK and the echo
 * come back as replies of the established connection.
 */
export function tcpProbe(lab: Lab, spec: ProbeSpec & { readonly port: number }): Probe {
  const { from, to, family, port } = spec;
  const { src, dst, label } = ends(spec);
  const sport = lab.nextSport();
  const fwd = (ct: CtState): PathPacket => ({ path: pathOf(from, to), packet: pkt(family, 6, src, dst, from.mac, lab.ct(from.network, ct), { srcPort: sport, dstPort: port }) });
  const back = (): PathPacket => ({ path: pathOf(to, from), packet: pkt(family, 6, dst, src, to.mac, lab.ct(from.network, 'ESTABLISHED'), { srcPort: port, dstPort: sport }) });
  return {
    label: label(`tcp/${port} -${family}`),
    packets: [fwd('NEW'), back(), fwd('ESTABLISHED'), back()],
    fresh: () => tcpProbe(lab, spec),
    async run(ms) {
      const r = await from.agent.call('tcp', { src, sport, dst, port, ms, token: lab.nextToken() });
      return r.passed === true;
    },
  };
}

/** UDP to an echo server: the datagram and its echo (a reply) must both pass. */
export function udpEchoProbe(lab: Lab, spec: ProbeSpec & { readonly port: number }): Probe {
  const { from, to, family, port } = spec;
  const { src, dst, label } = ends(spec);
  const sport = lab.nextSport();
  return {
    label: label(`udp/${port} echo -${family}`),
    packets: [
      { path: pathOf(from, to), packet: pkt(family, 17, src, dst, from.mac, lab.ct(from.network, 'NEW'), { srcPort: sport, dstPort: port }) },
      { path: pathOf(to, from), packet: pkt(family, 17, dst, src, to.mac, lab.ct(from.network, 'ESTABLISHED'), { srcPort: port, dstPort: sport }) },
    ],
    fresh: () => udpEchoProbe(lab, spec),
    async run(ms) {
      const r = await from.agent.call('udp', { src, sport, dst, port, ms, token: lab.nextToken() });
      return r.passed === true;
    },
  };
}

/**
 * One datagram, observed at the receiver. `via` sends it (the VM itself, or its MAC spoofer,
 * whose MAC then is the packet's source MAC); `sport` pins the source port (DHCP).
 */
export function udpOneWayProbe(
  lab: Lab,
  spec: ProbeSpec & { readonly port: number; readonly sport?: number; readonly via?: { readonly agent: Agent; readonly mac: string } },
): Probe {
  const { from, to, family, port } = spec;
  const { src, dst, label } = ends(spec);
  const sport = spec.sport ?? lab.nextSport();
  const sender = spec.via ?? { agent: from.agent, mac: from.mac };
  return {
    label: label(`udp ${sport}->${port} one-way -${family}${spec.via ? ` from MAC ${sender.mac}` : ''}`),
    packets: [{ path: pathOf(from, to), packet: pkt(family, 17, src, dst, sender.mac, lab.ct(from.network, 'NEW'), { srcPort: sport, dstPort: port }) }],
    fresh: () => udpOneWayProbe(lab, spec),
    async run(ms) {
      const token = lab.nextToken();
      const arrived = to.agent.waitForToken(token, ms);
      await sender.agent.call('udp', { src, sport, dst, port, ms: 1, token, reuse: spec.sport !== undefined });
      return arrived;
    },
  };
}

/**
 * The standard probe set of a lab: for every ordered pair of endpoints on one network and each
 * family both have addresses in: ping, TCP to an allowed and a denied port, UDP echo, a VM
 * acting as DHCP server, sending from an address pair, to a second fixed IP, spoofed source IP
 * (ping and one-way UDP), spoofed source MAC; other-host
 * members take part as senders and receivers with each of their addresses.
 */
export function standardProbes(lab: Lab): Probe[] {
  const probes: Probe[] = [];
  for (const from of lab.endpoints) {
    for (const to of lab.endpoints) {
      if (from === to || from.network !== to.network) continue;
      for (const family of FAMILIES) {
        if (from.addrs[family].length === 0 || to.addrs[family].length === 0) continue;
        const s = to.services[family];
        // Other hosts send from each of their addresses (members and a non-member).
        const sources = from.port ? [undefined] : from.addrs[family];
        for (const src of sources) {
          const base = { from, to, family, ...(src !== undefined && { src }) };
          probes.push(pingProbe(lab, base));
          probes.push(tcpProbe(lab, { ...base, port: s.tcpAllowed }));
          probes.push(tcpProbe(lab, { ...base, port: s.tcpDenied }));
          probes.push(udpEchoProbe(lab, { ...base, port: s.udp }));
        }
        if (!from.port) continue;
        const dhcp = family === 4 ? { sport: 67, port: 68 } : { sport: 547, port: 546 };
        probes.push(udpOneWayProbe(lab, { from, to, family, ...dhcp, note: 'acting as DHCP server' }));
        for (const dst of to.addrs[family].slice(1)) probes.push(pingProbe(lab, { from, to, family, dst, note: 'second fixed IP' }));
        for (const pair of from.pairAddrs[family]) {
          probes.push(pingProbe(lab, { from, to, family, src: pair, note: 'address pair' }));
          probes.push(udpOneWayProbe(lab, { from, to, family, src: pair, port: s.udp, note: 'address pair' }));
        }
        for (const spoof of from.spoofAddrs[family]) {
          probes.push(pingProbe(lab, { from, to, family, src: spoof, note: 'spoofed source IP' }));
          probes.push(udpOneWayProbe(lab, { from, to, family, src: spoof, port: s.udp, note: 'spoofed source IP' }));
        }
        if (from.macSpoofer) {
          probes.push(udpOneWayProbe(lab, { from, to, family, port: s.udp, via: from.macSpoofer, note: 'spoofed source MAC' }));
        }
      }
    }
  }
  return probes;
}

/** A mismatch in full: the model, the probe, every packet with the evaluator's reasons. */
export function describeMismatch(r: ProbeResult): string {
  const v = (b: boolean): string => (b ? 'ACCEPT (got through)' : 'DROP (blocked)');
  return [
    `MISMATCH in lab ${r.lab} on ${r.backend}: ${r.probe.label}`,
    `  kernel: ${v(r.observed)}    model: ${v(r.expected)}`,
    '  packets, with the model evaluator\'s verdict:',
    ...r.decisions.map((d) => formatExplanation(d.path, d.packet, d.decision).trimEnd().replace(/^/gm, '    ')),
    '  model:',
    JSON.stringify(r.modelJson, null, 1).replace(/^/gm, '    '),
  ].join('\n');
}
