/**
 * The backend-neutral plan: what must be enforced on one host, as chains of typed rules, but
 * not yet how a particular netfilter front end spells or wires it. Printers (iptables, nft)
 * decide names, hooks and dispatch; they never decide semantics.
 */
import type { Family, Prefix } from '../net/ip.js';
import type { AddressList } from '../net/list.js';
import type { Direction, Port, PortRange } from '../model/types.js';

export type CtState = 'ESTABLISHED' | 'RELATED' | 'INVALID';

export type Match =
  | { readonly kind: 'src'; readonly prefix: Prefix }
  | { readonly kind: 'dst'; readonly prefix: Prefix }
  | { readonly kind: 'protocol'; readonly protocol: number }
  /** Only after a `protocol` match of a protocol with ports. */
  | { readonly kind: 'srcPort'; readonly range: PortRange }
  | { readonly kind: 'dstPort'; readonly range: PortRange }
  /** Only after a `protocol` match of ICMP (IPv4) or ICMPv6 (IPv6). */
  | { readonly kind: 'icmp'; readonly type: number; readonly code: number | undefined }
  | { readonly kind: 'set'; readonly set: SetRef; readonly dir: 'src' | 'dst' }
  | { readonly kind: 'srcMac'; readonly mac: string }
  | { readonly kind: 'ctState'; readonly states: readonly CtState[] };

/**
 * `allow` ends the decision of the current direction with "allowed" (the packet then goes on to
 * the other direction's check, or is accepted); `drop` discards the packet.
 */
export type Verdict = 'allow' | 'drop';

/** Comment keys: the printer turns them into text (only when comments are on). */
export type CommentKey =
  | 'dhcpClient'
  | 'dhcpSpoof'
  | 'raDrop'
  | 'icmpv6Allow'
  | 'ndAllow'
  | 'established'
  | 'invalidDrop'
  | 'dhcpServer'
  | 'raAllow'
  | 'pairAllow'
  | 'pairDrop'
  | 'unmatched';

export interface Rule {
  readonly matches: readonly Match[];
  readonly verdict: Verdict;
  readonly comment?: CommentKey | { readonly group: string; readonly rule: number; readonly id: string | undefined };
}

/** A step of a port's ingress or egress chain, in order. */
export type Step =
  | { readonly kind: 'rule'; readonly rule: Rule }
  /** Check source IP/MAC against the port's pairs: continue if one matches, else drop. */
  | { readonly kind: 'antiSpoof' }
  /** Evaluate each of the port's group chains of this direction: allow if any rule allows. */
  | { readonly kind: 'groups' }
  /** Drop what nothing allowed (terminal). */
  | { readonly kind: 'fallback' };

export interface SpoofPair {
  /** undefined: any source address from this MAC (a port without fixed IPs). */
  readonly prefix: Prefix | undefined;
  readonly mac: string;
}

export interface PortFamilyPlan {
  readonly ingress: readonly Step[];
  readonly egress: readonly Step[];
  readonly spoofPairs: readonly SpoofPair[];
  /** Group chains this port jumps to, per direction, in order (only non-empty chains). */
  readonly groupChains: { readonly ingress: readonly string[]; readonly egress: readonly string[] };
}

export interface PortPlan {
  readonly port: Port;
  readonly families: Readonly<Record<Family, PortFamilyPlan>>;
}

/** The rules of one security group for one direction and family, shared by all its ports. */
export interface GroupChainPlan {
  readonly group: string;
  readonly direction: Direction;
  readonly family: Family;
  readonly rules: readonly Rule[];
}

export interface SetRef {
  readonly kind: 'group' | 'addressGroup';
  readonly id: string;
  readonly family: Family;
}

export interface SetPlan extends SetRef {
  /** Of the set's family: sorted, de-duplicated, /0 split into halves (and aggregated when asked). */
  readonly members: AddressList;
}

/** Conntrack treatment of the traffic of a port (hybrid) or of a network's bridge (linuxbridge). */
export interface ZonePlan {
  /** Port id (hybrid) or network id (linuxbridge). */
  readonly key: string;
  readonly zone: number | 'notrack';
  /** Filtered ports of this zone, sorted by id. */
  readonly ports: readonly Port[];
  /** linuxbridge: the network's bridge device; hybrid: undefined. */
  readonly bridge: string | undefined;
}

export interface HostPlan {
  readonly driver: 'hybrid' | 'linuxbridge';
  readonly remoteGroups: 'ipset' | 'expanded';
  /** Filtered ports, sorted by id. */
  readonly ports: readonly PortPlan[];
  /** Ports that pass unfiltered (port security off, trusted), sorted by id. */
  readonly unfiltered: readonly Port[];
  /** Keyed by `groupChainKey`, sorted; only chains with at least one rule. */
  readonly groupChains: ReadonlyMap<string, GroupChainPlan>;
  /** Sorted by family, kind, id. Empty in expanded mode. */
  readonly sets: readonly SetPlan[];
  readonly zones: readonly ZonePlan[];
}

export const groupChainKey = (group: string, direction: Direction, family: Family): string =>
  `${group}\u0000${direction}\u0000${family}`;
