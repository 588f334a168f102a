/**
 * IP protocols as Neutron's API accepts them, normalised to numbers once so that no backend
 * depends on a host's /etc/protocols (Neutron's `-p ipip` meant protocol 94 to the kernel, not 4).
 */

/** Names Neutron's API accepts (neutron_lib IP_PROTOCOL_MAP), plus `any` (no protocol). */
export const PROTOCOL_NUMBERS: Readonly<Record<string, number | undefined>> = {
  any: undefined,
  ah: 51,
  dccp: 33,
  egp: 8,
  esp: 50,
  gre: 47,
  hopopt: 0,
  icmp: 1,
  icmpv6: 58,
  igmp: 2,
  ip: 0,
  ipip: 4,
  'ipv6-encap': 41,
  'ipv6-frag': 44,
  'ipv6-icmp': 58,
  'ipv6-nonxt': 59,
  'ipv6-opts': 60,
  'ipv6-route': 43,
  ospf: 89,
  pgm: 113,
  rsvp: 46,
  sctp: 132,
  tcp: 6,
  udp: 17,
  udplite: 136,
  vrrp: 112,
};

export const ICMP = 1;
export const TCP = 6;
export const UDP = 17;
export const ICMPV6 = 58;

/** Protocols whose rules may carry port_range_min/max as transport ports. */
export const PROTOCOLS_WITH_PORTS: ReadonlySet<number> = new Set([6, 17, 33, 132, 136]);

/** Protocols that only exist in IPv6; Neutron rejects them in IPv4 rules. */
export const IPV6_ONLY_PROTOCOLS: ReadonlySet<number> = new Set([41, 43, 44, 58, 59, 60]);

export const isIcmp = (protocol: number | undefined): boolean => protocol === ICMP || protocol === ICMPV6;
