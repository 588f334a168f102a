/**
 * The model evaluator: what sgnf promises to enforce, as a pure function of the normalised model
 * and one packet. It is the spec the compiled rulesets are checked against, so it is written
 * from the semantics document (docs/semantics.md; its § numbers below) and sgnf's documented
 * differences (docs/neutron-differences.md),
 * and deliberately imports nothing from the planner or the backends.
 *
 * A packet on a path crosses at most two checks (§3): the egress check of the local port that
 * sent it, then the ingress check of the local port that receives it. Each check walks the
 * port's built-in rules and its groups' rules in the order of §4 and ends in a verdict; the
 * packet is accepted when every check on its path allows it.
 */
import { type Family, type Prefix, containsAddress, eui64LinkLocal, formatAddress, formatPrefix, hostPrefix, parsePrefix } from '../net/ip.js';
import type { AddressList } from '../net/list.js';
import { ICMPV6, PROTOCOL_NUMBERS, UDP } from '../model/protocols.js';
import type { Direction, GroupRule, Model, Port, Remote } from '../model/types.js';
import { type CtState, type Decision, type Packet, type PacketPath, type Verdict, conntrackState } from './packet.js';

/** Built-in (non-group) rules of a port check, by what they are for. */
export type BuiltinRule =
  /** Ingress ICMPv6 130 (MLD query), 135/136 (neighbour discovery): always accepted (§4.1, §7). */
  | 'ndAccept'
  /** RELATED/ESTABLISHED: part of a known connection (§6.1). */
  | 'established'
  /** Ingress router advertisement, for ports with an IPv6 fixed IP (§4.1). */
  | 'raAccept'
  /** Ingress DHCP(v6) server reply to an own fixed IP, broadcast or fe80::/64 (§4.1, §7). */
  | 'dhcpReply'
  /** Egress DHCPv4 discover from 0.0.0.0 to the broadcast address, before anti-spoofing (§4.2). */
  | 'dhcpDiscover'
  /** Egress MLD report / DAD solicitation from :: to ff02::/16, before anti-spoofing (§4.3). */
  | 'mldDad'
  /** Egress source (IP, MAC) matches none of the port's pairs (§5; neutron-differences.md item 5). */
  | 'spoofed'
  /** Egress DHCP(v6) client request (§4.2, §4.3). */
  | 'dhcpClient'
  /** Egress DHCP(v6) server reply: a VM may not act as a DHCP server (§4.2, §4.3). */
  | 'dhcpServerSpoof'
  /** Egress router advertisement from a VM (§4.3). */
  | 'raDrop'
  /** Every other egress ICMPv6 (§4.3). */
  | 'icmpv6Accept'
  /** Conntrack INVALID on a stateful port (§6.1, §4.4). */
  | 'invalid'
  /** Nothing allowed it (§4.4: no implicit allow). */
  | 'fallback';

export type Cause =
  | { readonly kind: 'rule'; readonly rule: GroupRule }
  | { readonly kind: 'builtin'; readonly rule: BuiltinRule }
  /** A port with port security off or a trusted port: not filtered at all (§8; neutron-differences.md item 14). */
  | { readonly kind: 'unfiltered' };

/** The outcome of one port's check in one direction. */
export interface Check {
  readonly direction: Direction;
  readonly port: Port;
  readonly allowed: boolean;
  readonly cause: Cause;
  /** One line, e.g. `egress of port P: allowed by group G rule #2 (tcp 22 to 10.0.0.0/24)`. */
  readonly reason: string;
}

/** A Decision with the checks it was made from (for `explain` and for precise tests). */
export interface Explanation extends Decision {
  readonly checks: readonly Check[];
}

const pfx = (text: string): Prefix => {
  const p = parsePrefix(text);
  if (typeof p === 'string') throw new Error(p);
  return p.prefix;
};
const V4_UNSPECIFIED = pfx('0.0.0.0/32');
const V4_BROADCAST = pfx('255.255.255.255/32');
const V6_UNSPECIFIED = pfx('::/128');
const V6_MULTICAST_LINK = pfx('ff02::/16');
const V6_LINK_LOCAL = pfx('fe80::/64');

/** DHCP ports per family: client and server (§7). */
const DHCP = { 4: { client: 68, server: 67 }, 6: { client: 546, server: 547 } } as const;

// ---------------------------------------------------------------------------------------------
// The whole path

/** ACCEPT or DROP for a packet on a path through this host, with one reason per check. */
export function evaluate(model: Model, path: PacketPath, packet: Packet): Explanation {
  const sender = path.fromDevice === undefined ? undefined : portByDevice(model, path.fromDevice);
  const receiver = path.to === undefined || path.to === 'host' ? undefined : portByDevice(model, path.to);
  const checks: Check[] = [];

  if (sender) {
    const out = evaluateEgress(model, sender, packet);
    checks.push(out);
    if (!out.allowed) return explanation(checks);
  }
  if (receiver) checks.push(evaluateIngress(model, receiver, packet, { sender }));
  if (checks.length === 0) {
    return { verdict: 'ACCEPT', reasons: [`${describePath(path)}: no local port on the path, not filtered`], checks };
  }
  return explanation(checks);
}

function explanation(checks: readonly Check[]): Explanation {
  const verdict: Verdict = checks.every((c) => c.allowed) ? 'ACCEPT' : 'DROP';
  return { verdict, reasons: checks.map((c) => c.reason), checks };
}

function portByDevice(model: Model, device: string): Port {
  const port = model.ports.find((p) => p.device === device);
  if (!port) throw new Error(`no local port has device "${device}"`);
  return port;
}

/**
 * Conntrack state as a stateful port's check sees it: untracked ICMPv6 is UNTRACKED, anything
 * else has the state of the flow. A stateless sender does not change that: its traffic is
 * notracked only where it enters (and its own checks have no state rules); the receiving port's
 * bridge tracks the packet again in the receiver's zone (hybrid: a veth hop between per-port
 * bridges resets conntrack; linuxbridge: stateful and stateless ports never share a bridge).
 */
export const effectiveCt = conntrackState;

// ---------------------------------------------------------------------------------------------
// One direction of one port

/** Outcome of a built-in step: undefined = go on to the next step. */
type Step = Check | undefined;

/** The check of traffic the port receives (§4.1). */
export function evaluateIngress(model: Model, port: Port, packet: Packet, _opts: { sender?: Port | undefined } = {}): Check {
  if (port.kind !== 'filtered') return unfiltered('ingress', port);
  const ct = effectiveCt(packet);
  const c = new Checker('ingress', port, packet);
  const f = packet.family;
  return (
    (f === 6 && isIcmpv6Type(packet, 130, 135, 136) ? c.allow('ndAccept', `ICMPv6 type ${packet.icmpType} (MLD query / neighbour discovery)`) : undefined) ??
    c.stateAccept(ct) ??
    (f === 6 && hasFixedIp(port, 6) && isIcmpv6Type(packet, 134) ? c.allow('raAccept', 'router advertisement to a port with an IPv6 address') : undefined) ??
    (isDhcpReplyToPort(port, packet) ? c.allow('dhcpReply', `DHCP${f === 6 ? 'v6' : ''} server reply to ${formatAddress(f, packet.dst)}`) : undefined) ??
    c.groupRules(model) ??
    c.invalidDrop(ct) ??
    c.fallback(model)
  );
}

/** The check of traffic the port sends (§4.2, §4.3), including anti-spoofing (§5). */
export function evaluateEgress(model: Model, port: Port, packet: Packet): Check {
  if (port.kind !== 'filtered') return unfiltered('egress', port);
  const ct = effectiveCt(packet);
  const c = new Checker('egress', port, packet);
  const { client, server } = DHCP[packet.family];
  const before: Step =
    packet.family === 4
      ? isDhcpDiscover(packet)
        ? c.allow('dhcpDiscover', 'DHCP discover from 0.0.0.0 to 255.255.255.255')
        : undefined
      : isMldOrDad(packet)
        ? c.allow('mldDad', `ICMPv6 type ${packet.icmpType} from :: to ${formatAddress(6, packet.dst)} (MLD / DAD)`)
        : undefined;
  if (before) return before;
  if (!sourceAllowed(port, packet)) {
    return c.drop('spoofed', `source ${formatAddress(packet.family, packet.src)} from ${packet.srcMac} matches none of the port's IP/MAC pairs (anti-spoofing)`);
  }
  const icmpv6Steps = (): Step =>
    packet.family === 6 && isIcmpv6(packet)
      ? packet.icmpType === 134
        ? c.drop('raDrop', 'router advertisement from a VM')
        : c.allow('icmpv6Accept', 'ICMPv6 (every type but 134 may leave a VM)')
      : undefined;
  return (
    icmpv6Steps() ??
    (isUdp(packet, client, server) ? c.allow('dhcpClient', `DHCP${packet.family === 6 ? 'v6' : ''} client request (udp ${client}->${server})`) : undefined) ??
    (isUdp(packet, server, client) ? c.drop('dhcpServerSpoof', `DHCP${packet.family === 6 ? 'v6' : ''} server reply from a VM (udp ${server}->${client})`) : undefined) ??
    c.stateAccept(ct) ??
    c.groupRules(model) ??
    c.invalidDrop(ct) ??
    c.fallback(model)
  );
}

function unfiltered(direction: Direction, port: Port): Check {
  const why = port.kind === 'trusted' ? 'is trusted (network:* owner)' : 'has port security disabled';
  return { direction, port, allowed: true, cause: { kind: 'unfiltered' }, reason: `${direction} of port ${port.id}: not filtered, the port ${why}` };
}

/** Builds the Check of one step, with the reason text in one place. */
class Checker {
  constructor(
    readonly direction: Direction,
    readonly port: Port,
    readonly packet: Packet,
  ) {}

  private head(): string {
    return `${this.direction} of port ${this.port.id}`;
  }

  allow(rule: BuiltinRule, what: string): Check {
    return { direction: this.direction, port: this.port, allowed: true, cause: { kind: 'builtin', rule }, reason: `${this.head()}: allowed: ${what}` };
  }

  drop(rule: BuiltinRule, what: string): Check {
    return { direction: this.direction, port: this.port, allowed: false, cause: { kind: 'builtin', rule }, reason: `${this.head()}: dropped: ${what}` };
  }

  /** Stateless ports have no state rules at all (§6.3; neutron-differences.md item 8). */
  stateAccept(ct: CtState): Step {
    if (!this.port.stateful || (ct !== 'ESTABLISHED' && ct !== 'RELATED')) return undefined;
    return this.allow('established', `conntrack ${ct} (part of a known connection)`);
  }

  invalidDrop(ct: CtState): Step {
    if (!this.port.stateful || ct !== 'INVALID') return undefined;
    return this.drop('invalid', 'conntrack INVALID (no connection this packet belongs to)');
  }

  /** The first rule (groups in sorted order, rules in model order) of any of the port's groups. */
  groupRules(model: Model): Step {
    for (const g of this.port.groups) {
      const group = model.groups.get(g);
      if (!group) continue;
      for (const rule of group.rules) {
        if (ruleMatches(model, rule, this.direction, this.packet)) {
          return {
            direction: this.direction,
            port: this.port,
            allowed: true,
            cause: { kind: 'rule', rule },
            reason: `${this.head()}: allowed by ${describeRuleOrigin(rule)} (${describeRule(rule)})`,
          };
        }
      }
    }
    return undefined;
  }

  fallback(model: Model): Check {
    const groups = this.port.groups;
    const n = groups.reduce((sum, g) => sum + (model.groups.get(g)?.rules.filter((r) => r.direction === this.direction && r.family === this.packet.family).length ?? 0), 0);
    const what =
      groups.length === 0
        ? 'the port has no security groups'
        : `none of the ${n} IPv${this.packet.family} ${this.direction} rule${n === 1 ? '' : 's'} of group${groups.length === 1 ? '' : 's'} ${groups.join(', ')} allows it`;
    return this.drop('fallback', `${what} (default drop)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Built-in matches

const isIcmpv6 = (p: Packet): boolean => p.family === 6 && p.protocol === ICMPV6;
const isIcmpv6Type = (p: Packet, ...types: number[]): boolean =>
  isIcmpv6(p) && p.icmpType !== undefined && types.includes(p.icmpType);
const isUdp = (p: Packet, sport: number, dport: number): boolean =>
  p.protocol === UDP && p.srcPort === sport && p.dstPort === dport;
const hasFixedIp = (port: Port, family: Family): boolean => port.fixedIps.some((ip) => ip.family === family);
const within = (p: Packet, prefix: Prefix, addr: bigint): boolean => containsAddress(prefix, p.family, addr);

function isDhcpDiscover(p: Packet): boolean {
  return p.family === 4 && within(p, V4_UNSPECIFIED, p.src) && within(p, V4_BROADCAST, p.dst) && isUdp(p, 68, 67);
}

function isMldOrDad(p: Packet): boolean {
  return isIcmpv6Type(p, 131, 135, 143) && within(p, V6_UNSPECIFIED, p.src) && within(p, V6_MULTICAST_LINK, p.dst);
}

/** DHCP server -> client to one of the port's fixed IPs, or to broadcast / fe80::/64 (§4.1). */
function isDhcpReplyToPort(port: Port, p: Packet): boolean {
  const { client, server } = DHCP[p.family];
  if (!isUdp(p, server, client)) return false;
  const shared = p.family === 4 ? V4_BROADCAST : V6_LINK_LOCAL;
  return within(p, shared, p.dst) || port.fixedIps.some((ip) => within(p, ip, p.dst));
}

/**
 * Anti-spoofing (§5; neutron-differences.md items 4 and 5): the source (IP, MAC) must match one of the
 * port's pairs: each address pair (a prefix covers all its addresses) with its MAC, each fixed
 * IP with the port MAC, for IPv6 the EUI-64 link-local of the port MAC and of every IPv6
 * address pair's MAC; a port with no fixed IPs at all may send any source from its MAC.
 */
function sourceAllowed(port: Port, p: Packet): boolean {
  return allowedSources(port, p.family).some((pair) => sameMac(pair.mac, p.srcMac) && (pair.prefix === undefined || within(p, pair.prefix, p.src)));
}

/** The (prefix, MAC) pairs a port may send from in one family; prefix undefined = any source. */
function allowedSources(port: Port, family: Family): { readonly prefix: Prefix | undefined; readonly mac: string }[] {
  const pairs: { prefix: Prefix | undefined; mac: string }[] = [];
  const v6Pairs = port.addressPairs.filter((ap) => ap.prefix.family === 6);
  for (const ap of port.addressPairs) if (ap.prefix.family === family) pairs.push({ prefix: ap.prefix, mac: ap.mac });
  for (const ip of port.fixedIps) if (ip.family === family) pairs.push({ prefix: ip, mac: port.mac });
  if (family === 6) {
    for (const mac of [port.mac, ...v6Pairs.map((ap) => ap.mac)]) pairs.push({ prefix: hostPrefix(6, eui64LinkLocal(mac)), mac });
  }
  if (port.fixedIps.length === 0) pairs.push({ prefix: undefined, mac: port.mac });
  return pairs;
}

const sameMac = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

// ---------------------------------------------------------------------------------------------
// Group rules (§9; neutron-differences.md items 1, 2, 11, 16)

/** Does one group rule allow this packet in this direction? */
export function ruleMatches(model: Model, rule: GroupRule, direction: Direction, p: Packet): boolean {
  if (rule.direction !== direction || rule.family !== p.family) return false;
  if (rule.protocol !== undefined && rule.protocol !== p.protocol) return false;
  if (rule.ports && !(p.dstPort !== undefined && p.dstPort >= rule.ports.min && p.dstPort <= rule.ports.max)) return false;
  if (rule.icmp) {
    if (p.icmpType !== rule.icmp.type) return false;
    if (rule.icmp.code !== undefined && p.icmpCode !== rule.icmp.code) return false;
  }
  // The remote is the source of what comes in and the destination of what goes out (§9.1).
  return remoteMatches(model, rule.remote, p.family, direction === 'ingress' ? p.src : p.dst);
}

function remoteMatches(model: Model, remote: Remote, family: Family, addr: bigint): boolean {
  switch (remote.kind) {
    case 'any':
      return true;
    case 'prefix':
      return containsAddress(remote.prefix, family, addr);
    case 'group':
      return inSet(model.members.get(remote.id), family, addr);
    case 'addressGroup':
      return inSet(model.addressGroups.get(remote.id), family, addr);
  }
}

/** Members of the packet's family; a /0 member contains every address (neutron-differences.md item 16). */
const inSet = (members: AddressList | undefined, family: Family, addr: bigint): boolean =>
  members !== undefined && members.prefixes().some((m) => containsAddress(m, family, addr));

// ---------------------------------------------------------------------------------------------
// Readable text

const PROTOCOL_NAMES: ReadonlyMap<number, string> = (() => {
  const m = new Map<number, string>([[ICMPV6, 'ipv6-icmp']]);
  for (const [name, n] of Object.entries(PROTOCOL_NUMBERS)) if (n !== undefined && n !== 0 && !m.has(n)) m.set(n, name);
  return m;
})();

const protocolName = (n: number): string => PROTOCOL_NAMES.get(n) ?? String(n);

/** `group G rule #2` (the index in the group's input list) plus the rule id when known. */
function describeRuleOrigin(rule: GroupRule): string {
  const id = rule.origin.id !== undefined ? ` [${rule.origin.id}]` : '';
  return `group ${rule.origin.group} rule #${rule.origin.index}${id}`;
}

/** A rule in words: `tcp 22 from 10.0.0.0/24`, `IPv6 any protocol to members of group G`. */
export function describeRule(rule: GroupRule): string {
  const parts: string[] = [];
  parts.push(rule.protocol === undefined ? `IPv${rule.family} any protocol` : protocolName(rule.protocol));
  if (rule.ports) parts.push(rule.ports.min === rule.ports.max ? `${rule.ports.min}` : `${rule.ports.min}-${rule.ports.max}`);
  if (rule.icmp) parts.push(rule.icmp.code === undefined ? `type ${rule.icmp.type}` : `type ${rule.icmp.type} code ${rule.icmp.code}`);
  const dir = rule.direction === 'ingress' ? 'from' : 'to';
  parts.push(`${dir} ${describeRemote(rule.remote)}`);
  return parts.join(' ');
}

function describeRemote(r: Remote): string {
  switch (r.kind) {
    case 'any':
      return 'anywhere';
    case 'prefix':
      return formatPrefix(r.prefix);
    case 'group':
      return `members of group ${r.id}`;
    case 'addressGroup':
      return `address group ${r.id}`;
  }
}

/** A packet in words, e.g. `tcp 10.0.0.11:40000 -> 10.0.0.12:22 (fa:16:3e:00:00:01, NEW)`. */
export function describePacket(p: Packet): string {
  const at = (addr: bigint, port: number | undefined): string => {
    const a = formatAddress(p.family, addr);
    if (port === undefined) return a;
    return p.family === 6 ? `[${a}]:${port}` : `${a}:${port}`;
  };
  const icmp = p.icmpType === undefined ? '' : ` type ${p.icmpType}${p.icmpCode === undefined ? '' : ` code ${p.icmpCode}`}`;
  return `${protocolName(p.protocol)}${icmp} ${at(p.src, p.srcPort)} -> ${at(p.dst, p.dstPort)} (${p.srcMac}, ${p.ct})`;
}

export function describePath(path: PacketPath): string {
  const from = path.fromDevice ?? 'outside';
  const to = path.to ?? 'outside';
  return `${from} -> ${to}`;
}

/** The text `sgnf explain` prints: the packet, its path, the verdict and one line per check. */
export function formatExplanation(path: PacketPath, packet: Packet, e: Decision): string {
  return [`${describePacket(packet)} on ${describePath(path)}: ${e.verdict}`, ...e.reasons.map((r) => `  ${r}`)].join('\n') + '\n';
}
