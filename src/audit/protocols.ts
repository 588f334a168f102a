/**
 * Protocol names the tools may print for a number. `iptables-save` and `nft list` print a
 * protocol by the name getprotobynumber(3) finds in the host's /etc/protocols, so the same rule
 * reads `-p 47` on one host and `-p gre` on another: the audit reads either back as the number.
 * The table holds the names and aliases of Debian's netbase 6.4 /etc/protocols (lower-cased;
 * names are matched without case) and the names iptables knows without that file.
 */
const NAMES: readonly (readonly [number, ...string[]])[] = [
  [0, 'ip', 'hopopt', 'all'],
  [1, 'icmp'],
  [2, 'igmp'],
  [3, 'ggp'],
  [4, 'ipencap', 'ip-encap'],
  [5, 'st'],
  [6, 'tcp'],
  [8, 'egp'],
  [9, 'igp'],
  [12, 'pup'],
  [17, 'udp'],
  [20, 'hmp'],
  [22, 'xns-idp'],
  [27, 'rdp'],
  [29, 'iso-tp4'],
  [33, 'dccp'],
  [36, 'xtp'],
  [37, 'ddp'],
  [38, 'idpr-cmtp'],
  [41, 'ipv6'],
  [43, 'ipv6-route'],
  [44, 'ipv6-frag'],
  [45, 'idrp'],
  [46, 'rsvp'],
  [47, 'gre'],
  [50, 'esp', 'ipsec-esp'],
  [51, 'ah', 'ipsec-ah'],
  [57, 'skip'],
  [58, 'ipv6-icmp', 'icmpv6'],
  [59, 'ipv6-nonxt'],
  [60, 'ipv6-opts'],
  [73, 'rspf', 'cphb'],
  [81, 'vmtp'],
  [88, 'eigrp'],
  [89, 'ospf', 'ospfigp'],
  [93, 'ax.25'],
  [94, 'ipip'],
  [97, 'etherip'],
  [98, 'encap'],
  [103, 'pim'],
  [108, 'ipcomp'],
  [112, 'vrrp'],
  [113, 'pgm'],
  [115, 'l2tp'],
  [124, 'isis'],
  [132, 'sctp'],
  [133, 'fc'],
  [135, 'mobility-header', 'ipv6-mh', 'mh'],
  [136, 'udplite'],
  [137, 'mpls-in-ip'],
  [138, 'manet'],
  [139, 'hip'],
  [140, 'shim6'],
  [141, 'wesp'],
  [142, 'rohc'],
  [143, 'ethernet'],
];

const BY_NAME: ReadonlyMap<string, number> = new Map(NAMES.flatMap(([n, ...names]) => names.map((name) => [name, n] as const)));

/** The number of a protocol as printed (a number, or a name from the table); undefined if unknown. */
export function protocolNumber(text: string): number | undefined {
  if (/^[0-9]{1,3}$/.test(text)) {
    const n = Number(text);
    return n <= 255 ? n : undefined;
  }
  return BY_NAME.get(text.toLowerCase());
}
