/**
 * The compiled nft ruleset as the kernel runs it: apply `ruleset.nft`, then `sets.nft` (each one
 * transaction, strictly parsed and validated; see nft-script.ts), and decide a packet on a path
 * through the host.
 *
 * One pass through one bridge, in the kernel's hook order (br_netfilter, docs/netfilter.md §6.4):
 *   1. bridge prerouting base chains below br_netfilter's priority (0), with iifname = the bridge
 *      port the frame entered by;
 *   2. br_netfilter runs inet prerouting with iifname = the bridge device (meta iifkind
 *      "bridge"): chains below conntrack's priority (-200), where `notrack` / `ct zone set`
 *      act; then conntrack gives the state: UNTRACKED if notracked, UNTRACKED for the ICMPv6
 *      types the kernel never tracks, else the packet's own; then the later prerouting chains;
 *   3. bridge prerouting chains above 0;
 *   4. forwarded: bridge forward chains below 0, with iifname / oifname = the bridge ports;
 *      br_netfilter's inet forward with iifname = oifname = the bridge device; bridge forward
 *      chains above 0; bridge postrouting (then inet postrouting, with no input device);
 *      delivered to this host: bridge input chains, then inet input (iifname the bridge).
 * Base chains of one hook run in priority order; `accept` ends only its own chain, `drop` ends
 * the packet. The packet mark is carried from chain to chain and from pass to pass (a veth keeps
 * the mark; only the bridge chains clear it), and conntrack starts afresh in each pass.
 *
 * Paths are those of interpret.ts: one bridge (linuxbridge, or any packet to the host), or with
 * the hybrid driver's `bridgeSideOf` two passes: the sender's qbr (tap -> qvb), then the
 * receiver's (qvb -> tap).
 */
import { type InterpretOptions, type RulesetFiles, UPLINK, kernelCtState } from './interpret.js';
import type { CtState, Decision, Packet, PacketPath, Verdict } from '../../../src/semantics/packet.js';
import { type Conntrack, type EvalContext, type TableFamily, evalRule } from './nft-rule.js';
import { type NftVerdict, showVerdict } from './nft-sets.js';
import { BR_NETFILTER_PRIORITY, CONNTRACK_PRIORITY, type Hook, type NftChain, type NftState, type NftTable, applyScript } from './nft-script.js';

export type { NftState as NftRuleset } from './nft-script.js';
export { applyScript } from './nft-script.js';

/** The bridge of a packet whose path names no local bridge (from elsewhere to elsewhere). */
export const OTHER_BRIDGE = 'br-other0';

/** `ruleset.nft`, then `sets.nft` if present; throws RulesetError (file and line) on anything not understood. */
export function loadNftRuleset(files: RulesetFiles): NftState {
  const ruleset = files['ruleset.nft'];
  if (ruleset === undefined) throw new Error(`no ruleset.nft among the files (${Object.keys(files).join(', ')})`);
  const state = applyScript(undefined, ruleset, 'ruleset.nft');
  const sets = files['sets.nft'];
  return sets === undefined ? state : applyScript(state, sets, 'sets.nft');
}

export interface NftInterpretOptions extends InterpretOptions {
  /** The packet mark as it arrives (default 0): sgnf must not depend on it. */
  readonly initialMark?: number;
  /** rtnl_link_ops kind of a bridge port (default: tap* "tun", qvb*, qvo* and the uplink "veth"). */
  readonly deviceKind?: (device: string) => string | undefined;
}

export interface NftInterpretation extends Decision {
  /** The conntrack state the last pass's filter chains saw. */
  readonly ct: CtState;
  /** What the last pass's raw stage attached. */
  readonly zone: number | 'notrack' | undefined;
  /** The packet mark when it left (or was dropped). */
  readonly mark: number;
}

interface Hop {
  /** The bridge port the frame enters by. */
  readonly physIn: string;
  /** The bridge port it leaves by; undefined: delivered to this host. */
  readonly physOut: string | undefined;
  readonly bridge: string;
}

export function interpretNft(rs: NftState, path: PacketPath, packet: Packet, options: NftInterpretOptions = {}): NftInterpretation {
  const toHost = path.to === 'host';
  const bridgeOf = (dev: string | undefined): string => (dev === undefined ? undefined : options.bridgeOf?.get(dev)) ?? OTHER_BRIDGE;
  const side = options.bridgeSideOf;
  const hops: Hop[] = [];
  if (side === undefined || toHost) {
    const local = path.fromDevice ?? (toHost ? undefined : path.to);
    hops.push({ physIn: path.fromDevice ?? UPLINK, physOut: toHost ? undefined : (path.to ?? UPLINK), bridge: bridgeOf(local) });
  } else {
    if (path.fromDevice !== undefined) hops.push({ physIn: path.fromDevice, physOut: side.get(path.fromDevice) ?? UPLINK, bridge: bridgeOf(path.fromDevice) });
    if (path.to !== undefined) hops.push({ physIn: side.get(path.to) ?? UPLINK, physOut: path.to, bridge: bridgeOf(path.to) });
    if (hops.length === 0) hops.push({ physIn: UPLINK, physOut: UPLINK, bridge: OTHER_BRIDGE });
  }
  const kind = options.deviceKind ?? defaultKind;
  const reasons: string[] = [];
  let mark = (options.initialMark ?? 0) >>> 0;
  let last: PassResult | undefined;
  for (const [i, hop] of hops.entries()) {
    reasons.push(`pass ${i + 1}: ${hop.physIn} -> ${hop.physOut ?? 'host'} on bridge ${hop.bridge}`);
    last = new Pass(rs, packet, hop, mark, kind).run();
    reasons.push(...last.trace.map((t) => `  ${t}`));
    mark = last.mark;
    if (last.verdict === 'DROP') break;
  }
  const r = last!;
  return { verdict: r.verdict, reasons, ct: r.ct, zone: r.zone, mark: r.mark };
}

function defaultKind(dev: string): string | undefined {
  if (dev.startsWith('tap')) return 'tun';
  if (dev === UPLINK || dev.startsWith('qvb') || dev.startsWith('qvo')) return 'veth';
  return undefined;
}

interface PassResult {
  readonly verdict: Verdict;
  readonly trace: readonly string[];
  readonly ct: CtState;
  readonly zone: number | 'notrack' | undefined;
  readonly mark: number;
}

interface BaseRef {
  readonly table: NftTable;
  readonly chain: NftChain;
}

/** One pass through the hooks of one bridge. */
class Pass {
  private readonly trace: string[] = [];
  private readonly conntrack: Conntrack = { attached: 'none', state: undefined };

  constructor(
    private readonly rs: NftState,
    private readonly packet: Packet,
    private readonly hop: Hop,
    private mark: number,
    private readonly kind: (device: string) => string | undefined,
  ) {}

  run(): PassResult {
    const { physIn, physOut, bridge } = this.hop;
    const bridgePort = { iif: physIn, iifKind: this.kind(physIn) };
    const bridgeDev = { iif: bridge, iifKind: 'bridge' };
    const pre = this.bases('bridge', 'prerouting');
    const inetPre = this.bases('inet', 'prerouting');
    const ok =
      this.hook(pre.filter((b) => b.chain.base!.priority < BR_NETFILTER_PRIORITY), { ...bridgePort, oif: undefined }) &&
      this.hook(inetPre.filter((b) => b.chain.base!.priority < CONNTRACK_PRIORITY), { ...bridgeDev, oif: undefined }) &&
      this.track() &&
      this.hook(inetPre.filter((b) => b.chain.base!.priority > CONNTRACK_PRIORITY), { ...bridgeDev, oif: undefined }) &&
      this.hook(pre.filter((b) => b.chain.base!.priority > BR_NETFILTER_PRIORITY), { ...bridgePort, oif: undefined }) &&
      (physOut === undefined ? this.deliver(bridgePort, bridgeDev) : this.forward(bridgePort, bridgeDev, physOut));
    return { verdict: ok ? 'ACCEPT' : 'DROP', trace: this.trace, ct: this.conntrack.state ?? this.packet.ct, zone: this.zone(), mark: this.mark };
  }

  private forward(bridgePort: { iif: string; iifKind: string | undefined }, bridgeDev: { iif: string; iifKind: string }, physOut: string): boolean {
    const fwd = this.bases('bridge', 'forward');
    return (
      this.hook(fwd.filter((b) => b.chain.base!.priority < BR_NETFILTER_PRIORITY), { ...bridgePort, oif: physOut }) &&
      this.hook(this.bases('inet', 'forward'), { ...bridgeDev, oif: this.hop.bridge }) &&
      this.hook(fwd.filter((b) => b.chain.base!.priority > BR_NETFILTER_PRIORITY), { ...bridgePort, oif: physOut }) &&
      this.hook(this.bases('bridge', 'postrouting'), { ...bridgePort, oif: physOut }) &&
      this.hook(this.bases('inet', 'postrouting'), { iif: '', iifKind: undefined, oif: this.hop.bridge })
    );
  }

  private deliver(bridgePort: { iif: string; iifKind: string | undefined }, bridgeDev: { iif: string; iifKind: string }): boolean {
    return this.hook(this.bases('bridge', 'input'), { ...bridgePort, oif: undefined }) && this.hook(this.bases('inet', 'input'), { ...bridgeDev, oif: undefined });
  }

  /** Conntrack (NF_IP_PRI_CONNTRACK): the state the later chains see. */
  private track(): boolean {
    this.conntrack.state = this.conntrack.attached === 'untracked' ? 'UNTRACKED' : kernelCtState(this.packet);
    this.trace.push(`conntrack: ${this.conntrack.state}${typeof this.conntrack.attached === 'object' ? ` in zone ${this.conntrack.attached.zone}` : ''}`);
    return true;
  }

  private zone(): number | 'notrack' | undefined {
    const a = this.conntrack.attached;
    return a === 'none' ? undefined : a === 'untracked' ? 'notrack' : a.zone;
  }

  /** Base chains of every table of a family on a hook, in priority order (stable: table order). */
  private bases(family: TableFamily, hook: Hook): BaseRef[] {
    const out: BaseRef[] = [];
    for (const table of this.rs.tables.values()) {
      if (table.family !== family) continue;
      for (const chain of table.chains.values()) if (chain.base?.hook === hook) out.push({ table, chain });
    }
    return out.sort((a, b) => a.chain.base!.priority - b.chain.base!.priority);
  }

  /** Run base chains of one hook; false when one drops the packet. */
  private hook(bases: readonly BaseRef[], dev: { iif: string; iifKind: string | undefined; oif: string | undefined }): boolean {
    for (const b of bases) {
      const ctx: EvalContext = {
        family: b.table.family,
        packet: this.packet,
        ...dev,
        mark: this.mark,
        conntrack: this.conntrack,
        set: (n) => b.table.sets.get(n)!,
      };
      const verdict = this.chain(b, ctx);
      this.mark = ctx.mark;
      if (verdict === 'drop') return false;
    }
    return true;
  }

  /** nft_do_chain: jump pushes a return point, goto does not; the end of the base chain is its policy. */
  private chain(base: BaseRef, ctx: EvalContext): 'accept' | 'drop' {
    const { table } = base;
    const where = (c: NftChain): string => `${table.family} ${table.name} ${c.name}`;
    const stack: { chain: NftChain; next: number }[] = [];
    let chain = base.chain;
    let i = 0;
    for (;;) {
      if (i >= chain.rules.length) {
        const back = stack.pop();
        if (!back) return this.policy(base);
        ({ chain, next: i } = back);
        continue;
      }
      const rule = chain.rules[i]!;
      const outcome = evalRule(rule, ctx);
      i++;
      const v: NftVerdict | undefined = outcome.verdict;
      if (outcome.effects.length > 0 || v !== undefined) {
        const did = [...outcome.effects, ...(v ? [showVerdict(v)] : [])].join(', ');
        const text = rule.comment === undefined ? rule.text : rule.text.slice(0, rule.text.lastIndexOf(' comment "'));
        this.trace.push(`${where(chain)} #${i} (line ${rule.line}): ${text}${did === text ? '' : ` => ${did}`}`);
      }
      if (v === undefined || v.kind === 'continue') continue;
      switch (v.kind) {
        case 'accept':
        case 'drop':
          return v.kind;
        case 'return': {
          const back = stack.pop();
          if (!back) return this.policy(base);
          ({ chain, next: i } = back);
          break;
        }
        case 'jump':
          if (stack.length >= 16) throw new Error(`jump stack overflow at ${where(chain)}`);
          stack.push({ chain, next: i });
          chain = table.chains.get(v.chain)!;
          i = 0;
          break;
        case 'goto':
          chain = table.chains.get(v.chain)!;
          i = 0;
          break;
      }
    }
  }

  private policy(base: BaseRef): 'accept' | 'drop' {
    const p = base.chain.base!.policy;
    // Accepting policies are the normal way through a hook; only a dropping one is news.
    if (p === 'drop') this.trace.push(`${base.table.family} ${base.table.name} ${base.chain.name}: policy drop`);
    return p;
  }
}

export interface NftStructure {
  /** Rules per chain, by `<family> <table>`. */
  readonly chains: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Elements per set or map, by `<family> <table>`. */
  readonly sets: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly rules: number;
}

/** The parsed shape, for tests: what exists, and how big it is. */
export function nftStructure(rs: NftState): NftStructure {
  const chains: Record<string, Record<string, number>> = {};
  const sets: Record<string, Record<string, number>> = {};
  let rules = 0;
  for (const [k, t] of rs.tables) {
    chains[k] = Object.fromEntries([...t.chains.values()].map((c) => [c.name, c.rules.length]));
    sets[k] = Object.fromEntries([...t.sets.values()].map((s) => [s.name, s.size]));
    for (const c of t.chains.values()) rules += c.rules.length;
  }
  return { chains, sets, rules };
}
