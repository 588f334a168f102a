/**
 * The normalised model: what every later stage works on. The parser (parse.ts) turns the
 * Neutron-shaped JSON (input.ts) into this form, applying Neutron's API normalisation once:
 * protocols are numbers, "any port" is absent, prefixes are networks, members are merged from
 * sg_member_ips and from every device of the group, and every list is sorted.
 */
import type { Family, Prefix } from '../net/ip.js';
import type { AddressList } from '../net/list.js';
import type { WarningCode } from './errors.js';

export type Direction = 'ingress' | 'egress';

/** Inclusive range of transport ports, 1..65535. */
export interface PortRange {
  readonly min: number;
  readonly max: number;
}

export type Remote =
  | { readonly kind: 'any' }
  | { readonly kind: 'prefix'; readonly prefix: Prefix }
  | { readonly kind: 'group'; readonly id: string }
  | { readonly kind: 'addressGroup'; readonly id: string };

export interface GroupRule {
  readonly direction: Direction;
  readonly family: Family;
  /** IP protocol number; undefined = any protocol. */
  readonly protocol: number | undefined;
  /** Destination ports, only for protocols with ports; undefined = any port. */
  readonly ports: PortRange | undefined;
  /** ICMP / ICMPv6 type and optional code; undefined = any type. */
  readonly icmp: { readonly type: number; readonly code: number | undefined } | undefined;
  readonly remote: Remote;
  /** Where the rule came from, for comments and explanations. */
  readonly origin: { readonly group: string; readonly index: number; readonly id: string | undefined };
}

export interface SecurityGroup {
  readonly id: string;
  readonly stateful: boolean;
  /** Normalised, de-duplicated (first occurrence kept), sorted (all rules allow: order is free). */
  readonly rules: readonly GroupRule[];
}

export interface AddressPair {
  readonly prefix: Prefix;
  readonly mac: string;
}

export type PortKind =
  /** Normal VM port: anti-spoofing, conntrack, group rules. */
  | 'filtered'
  /** port_security_enabled = false: every packet passes. */
  | 'portSecurityDisabled'
  /** device_owner "network:*" (DHCP, router ports): trusted, every packet passes. */
  | 'trusted';

export interface Port {
  readonly id: string;
  /** Host-side interface (tap) name. */
  readonly device: string;
  readonly mac: string;
  /** Host prefixes (/32, /128), sorted, duplicates removed. */
  readonly fixedIps: readonly Prefix[];
  readonly addressPairs: readonly AddressPair[];
  /** Sorted group ids. */
  readonly groups: readonly string[];
  readonly kind: PortKind;
  readonly networkId: string | undefined;
  readonly host: string | undefined;
  /** Stateful unless every group of the port is stateless (mixing is rejected). */
  readonly stateful: boolean;
  /** Conntrack zone pinned in the input (`conntrack_zone`), if any. */
  readonly pinnedZone: number | undefined;
}

export type FirewallDriver = 'hybrid' | 'linuxbridge';
export type RemoteGroupMode = 'ipset' | 'expanded';

export interface Diagnostic {
  /** What kind of warning (see WARNING_CODES). */
  readonly code: WarningCode;
  readonly level: 'warning';
  readonly path: string;
  readonly message: string;
}

export interface Model {
  /** Every group, by id, sorted by id. */
  readonly groups: ReadonlyMap<string, SecurityGroup>;
  /** Address groups: sorted, de-duplicated prefixes of both families. */
  readonly addressGroups: ReadonlyMap<string, AddressList>;
  /**
   * Members of each group: sorted, de-duplicated prefixes of both families, from
   * sg_member_ips plus the fixed IPs and address pairs of every device in the group
   * (local or on another host).
   */
  readonly members: ReadonlyMap<string, AddressList>;
  /** Devices on this host, sorted by port id. */
  readonly ports: readonly Port[];
  /** Model-level defaults (`options` in the input); compile options override them. */
  readonly options: { readonly driver?: FirewallDriver; readonly remoteGroups?: RemoteGroupMode };
  readonly diagnostics: readonly Diagnostic[];
}
