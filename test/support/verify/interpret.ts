/**
 * The compiled ruleset as the kernel runs it: load the ipset script, then both iptables files
 * (strictly, see ipset.ts and iptables.ts), and decide a packet on a path through the host.
 *
 * Per packet, in hook order:
 *   1. raw PREROUTING: `-j CT --notrack` makes the packet UNTRACKED, `-j CT --zone N` continues;
 *   2. conntrack: an untracked packet stays UNTRACKED, ICMPv6 types the kernel never tracks
 *      become UNTRACKED, any other packet has the state the caller gave (`packet.ct`);
 *   3. filter FORWARD (bridged to a local port or the uplink) or INPUT (delivered to the host).
 *
 * Bridge information, as br_netfilter provides it: physdev-in is the sender's tap (or UPLINK
 * for a packet from elsewhere), physdev-out the receiver's tap (or UPLINK), and is-bridged holds
 * only in FORWARD. The in-interface (`-i`) of a bridged packet is its bridge device, which the
 * caller supplies (bridgeDevices() derives it as Neutron names bridges).
 */
import type { Family } from '../../../src/net/ip.js';
import type { FirewallDriver, Model } from '../../../src/model/types.js';
import { hybridBridge, hybridVeth, networkBridge } from '../../../src/model/devices.js';
import { type IpsetState, parseIpset } from './ipset.js';
import { type HookContext, type IptRuleset, type TableName, parseIptables, traverse } from './iptables.js';
import { type CtState, type Decision, type Packet, type PacketPath, conntrackState } from '../../../src/semantics/packet.js';

/** The bridge port of packets that come from, or leave by, the uplink. */
export const UPLINK = 'uplink0';

/** compile() output of the iptables backend: `ipset.restore`, `iptables.v4`, `iptables.v6`. */
export type RulesetFiles = Readonly<Record<string, string>>;

export interface Ruleset {
  readonly sets: IpsetState;
  readonly families: Readonly<Record<Family, IptRuleset>>;
}

/** Parse all three files; throws RulesetError (file and line) on anything not understood. */
export function loadRuleset(files: RulesetFiles): Ruleset {
  const file = (name: string): string => {
    const text = files[name];
    if (text === undefined) throw new Error(`no ${name} among the files (${Object.keys(files).join(', ')})`);
    return text;
  };
  const sets = parseIpset(file('ipset.restore'), 'ipset.restore');
  return {
    sets,
    families: {
      4: parseIptables(file('iptables.v4'), 4, sets, 'iptables.v4'),
      6: parseIptables(file('iptables.v6'), 6, sets, 'iptables.v6'),
    },
  };
}

export interface InterpretOptions {
  /**
   * The bridge a local tap device is attached to: the in-interface of packets bridged through
   * it (linuxbridge: `brq<network>`; hybrid: the per-port `qbr<port>`). Unknown devices have none.
   */
  readonly bridgeOf?: ReadonlyMap<string, string>;
  /**
   * Hybrid driver: each local tap's bridge-side veth (`qvb<port>`), the other port of its own
   * bridge. A packet then crosses the sender's bridge (tap -> qvb) and the receiver's bridge
   * (qvb -> tap) as two passes through the hooks, and conntrack starts afresh in each (the veth
   * hop between them resets it). Without this map, a packet crosses one shared bridge.
   */
  readonly bridgeSideOf?: ReadonlyMap<string, string>;
}

export interface Interpretation extends Decision {
  /** The conntrack state the filter table saw. */
  readonly ct: CtState;
  /** The CT template raw PREROUTING attached, if any. */
  readonly zone: number | 'notrack' | undefined;
}

/** Conntrack's state for a packet that raw PREROUTING did not notrack. */
export const kernelCtState = conntrackState;

/** Decide a packet on a path, with the trace of every rule whose target was taken. */
export function interpret(rs: Ruleset, path: PacketPath, packet: Packet, options: InterpretOptions = {}): Interpretation {
  const toHost = path.to === 'host';
  const bridgeOf = (dev: string | undefined) => (dev === undefined ? undefined : options.bridgeOf?.get(dev));
  const side = options.bridgeSideOf;
  if (side === undefined || toHost) {
    // One bridge: the sender's, or for a packet from elsewhere the receiver's.
    const local = path.fromDevice ?? (toHost ? undefined : path.to);
    return pass(rs, packet, {
      physIn: path.fromDevice ?? UPLINK,
      physOut: toHost ? undefined : (path.to ?? UPLINK),
      inInterface: bridgeOf(local),
    });
  }
  // Hybrid: out of the sender's own bridge, then into the receiver's.
  const hops: Hop[] = [];
  if (path.fromDevice !== undefined) {
    hops.push({ physIn: path.fromDevice, physOut: side.get(path.fromDevice) ?? UPLINK, inInterface: bridgeOf(path.fromDevice) });
  }
  if (path.to !== undefined) hops.push({ physIn: side.get(path.to) ?? UPLINK, physOut: path.to, inInterface: bridgeOf(path.to) });
  if (hops.length === 0) hops.push({ physIn: UPLINK, physOut: UPLINK, inInterface: undefined });
  let result: Interpretation | undefined;
  const reasons: string[] = [];
  for (const hop of hops) {
    result = pass(rs, packet, hop);
    reasons.push(...result.reasons);
    if (result.verdict === 'DROP') break;
  }
  return { ...result!, reasons };
}

interface Hop {
  readonly physIn: string;
  /** undefined: delivered to this host (INPUT). */
  readonly physOut: string | undefined;
  readonly inInterface: string | undefined;
}

/** One pass through the hooks of one bridge: raw PREROUTING, conntrack, filter. */
function pass(rs: Ruleset, packet: Packet, hop: Hop): Interpretation {
  const ipt = rs.families[packet.family];
  const table = (name: TableName) => {
    const t = ipt.tables.get(name);
    if (!t) throw new Error(`${ipt.file} has no ${name} table`);
    return t;
  };
  const base = { packet, inInterface: hop.inInterface };
  const raw = traverse(table('raw'), 'PREROUTING', { ...base, ct: packet.ct, bridge: { physIn: hop.physIn, physOut: undefined } }, rs.sets);
  const zone = raw.ct === undefined ? undefined : 'notrack' in raw.ct ? ('notrack' as const) : raw.ct.zone;
  if (raw.verdict === 'DROP') return { verdict: 'DROP', reasons: raw.trace, ct: packet.ct, zone };

  const ct: CtState = zone === 'notrack' ? 'UNTRACKED' : kernelCtState(packet);
  const filterCtx: HookContext = { ...base, ct, bridge: { physIn: hop.physIn, physOut: hop.physOut } };
  const filter = traverse(table('filter'), hop.physOut === undefined ? 'INPUT' : 'FORWARD', filterCtx, rs.sets);
  return { verdict: filter.verdict, reasons: [...raw.trace, ...filter.trace], ct, zone };
}

/** The interpreter options that describe a host built the way the driver builds it. */
export function hostTopology(model: Model, driver: FirewallDriver): InterpretOptions {
  const bridgeOf = bridgeDevices(model, driver);
  if (driver === 'linuxbridge') return { bridgeOf };
  const bridgeSideOf = new Map(model.ports.map((p) => [p.device, hybridVeth(p.id)] as const));
  return { bridgeOf, bridgeSideOf };
}

/**
 * Bridge device of each local port, as Neutron names them (docs/semantics.md §2): linuxbridge
 * `('brq' + network_id)[:14]` shared by the network's ports; hybrid `('qbr' + port_id)[:14]`.
 */
export function bridgeDevices(model: Model, driver: FirewallDriver): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of model.ports) {
    if (driver === 'linuxbridge') {
      if (p.networkId !== undefined) out.set(p.device, networkBridge(p.networkId));
    } else out.set(p.device, hybridBridge(p.id));
  }
  return out;
}

export interface RulesetStructure {
  /** Rules per chain, per family and table. */
  readonly chains: Readonly<Record<Family, Readonly<Record<TableName, Readonly<Record<string, number>>>>>>;
  /** `-A` lines per family, and in total. */
  readonly rules: { readonly v4: number; readonly v6: number; readonly total: number };
  /** Sets that exist after the ipset script, with their family and entry count. */
  readonly sets: Readonly<Record<string, { readonly family: Family; readonly entries: number }>>;
  readonly setEntries: number;
}

/** The parsed shape, for tests: what exists, and how big it is. */
export function rulesetStructure(rs: Ruleset): RulesetStructure {
  const chains = { 4: {}, 6: {} } as Record<Family, Record<TableName, Record<string, number>>>;
  const count = { 4: 0, 6: 0 };
  for (const f of [4, 6] as const) {
    for (const [name, t] of rs.families[f].tables) {
      const c: Record<string, number> = {};
      for (const chain of t.chains.values()) {
        c[chain.name] = chain.rules.length;
        count[f] += chain.rules.length;
      }
      chains[f][name] = c;
    }
  }
  const sets: Record<string, { family: Family; entries: number }> = {};
  let setEntries = 0;
  for (const [name, s] of rs.sets) {
    sets[name] = { family: s.header.family, entries: s.size };
    setEntries += s.size;
  }
  return { chains, rules: { v4: count[4], v6: count[6], total: count[4] + count[6] }, sets, setEntries };
}
