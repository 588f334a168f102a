/**
 * A packet as the security-group semantics see it, shared by the model evaluator (the spec)
 * and the ruleset interpreters (what the compiled text does), so the two can be compared.
 */
import type { Family } from '../net/ip.js';

/** Conntrack's view of the packet, as the filter table would see it if the flow is tracked. */
export type CtState = 'NEW' | 'ESTABLISHED' | 'RELATED' | 'INVALID' | 'UNTRACKED';

export interface Packet {
  readonly family: Family;
  /** IP protocol number (6 tcp, 17 udp, 1 icmp, 58 ipv6-icmp, ...). */
  readonly protocol: number;
  readonly src: bigint;
  readonly dst: bigint;
  /** For protocols with ports (tcp, udp, sctp, dccp, udplite). */
  readonly srcPort?: number;
  readonly dstPort?: number;
  /** For ICMP / ICMPv6. */
  readonly icmpType?: number;
  readonly icmpCode?: number;
  /** Source MAC, lower case, colon separated. */
  readonly srcMac: string;
  /**
   * Conntrack state if the packet is tracked. The kernel reports UNTRACKED instead for
   * packets of stateless (notrack) ports, and always for ICMPv6 neighbour discovery.
   */
  readonly ct: CtState;
}

/** Where a packet is seen: which bridge port it entered by and where it is going. */
export interface PacketPath {
  /** Device (tap) of the local port that sent it, or undefined (another host, the uplink). */
  readonly fromDevice: string | undefined;
  /** Device of the local port it is bridged to; or 'host' (delivered to this host); or undefined (leaves the host). */
  readonly to: string | 'host' | undefined;
}

export type Verdict = 'ACCEPT' | 'DROP';

export interface Decision {
  readonly verdict: Verdict;
  /** Human-readable reasons, outermost first (e.g. "egress of port X: group G rule 2"). */
  readonly reasons: readonly string[];
}

/**
 * ICMPv6 types nf_conntrack never tracks (nf_conntrack_proto_icmpv6.c `noct_valid_new`): MLD
 * 130-132 and 143, router solicitation/advertisement 133/134, neighbour discovery 135/136.
 */
const UNTRACKED_ICMPV6_TYPES: ReadonlySet<number> = new Set([130, 131, 132, 133, 134, 135, 136, 143]);

/**
 * Conntrack's state for a packet nothing notracked: untracked ICMPv6 is UNTRACKED, anything else
 * has the state of its flow (`packet.ct`).
 */
export function conntrackState(packet: Packet): CtState {
  if (packet.family === 6 && packet.protocol === 58 && packet.icmpType !== undefined && UNTRACKED_ICMPV6_TYPES.has(packet.icmpType)) {
    return 'UNTRACKED';
  }
  return packet.ct;
}
