/**
 * What a rule means, pinned by tables written from Neutron's API reference (security group
 * rules: protocol, port_range_min/max, ethertype, remote_ip_prefix) — input on the left, meaning
 * on the right, every number written out here rather than taken from the parser's own tables
 * (src/model/protocols.ts), so that a wrong entry there cannot agree with itself. The evaluator,
 * the rule-count formula and the kernel lab all start from the parsed model: this is the test
 * that holds the parse itself.
 */
import { describe, expect, it } from 'vitest';
import { ModelError } from '../../src/model/errors.js';
import { parseModel } from '../../src/model/parse.js';
import type { GroupRule } from '../../src/model/types.js';
import { formatAddress } from '../../src/net/ip.js';

type Rule = Record<string, unknown>;

/** The meaning of the one rule of a model, in words: "ingress IPv4 proto 6 ports 22-22 from 10.0.0.0/24". */
function meaning(rule: Rule): string {
  const model = { security_groups: { sg: { rules: [rule] } } };
  let parsed: GroupRule;
  try {
    parsed = parseModel(model).groups.get('sg')!.rules[0]!;
  } catch (e) {
    if (e instanceof ModelError) return `error at ${e.issues.map((i) => i.path.replace('$.security_groups.sg.rules[0].', '')).join(', ')}`;
    throw e;
  }
  const words = [parsed.direction, `IPv${parsed.family}`, parsed.protocol === undefined ? 'any' : `proto ${parsed.protocol}`];
  if (parsed.ports) words.push(`ports ${parsed.ports.min}-${parsed.ports.max}`);
  if (parsed.icmp) words.push(`type ${parsed.icmp.type}${parsed.icmp.code === undefined ? '' : ` code ${parsed.icmp.code}`}`);
  const r = parsed.remote;
  if (r.kind === 'prefix') words.push(`${parsed.direction === 'ingress' ? 'from' : 'to'} ${formatAddress(r.prefix.family, r.prefix.addr)}/${r.prefix.len}`);
  if (r.kind === 'group' || r.kind === 'addressGroup') words.push(`${r.kind} ${r.id}`);
  return words.join(' ');
}

const table = (rows: readonly (readonly [Rule, string])[]): void => {
  for (const [rule, want] of rows) it(`${JSON.stringify(rule)} → ${want}`, () => expect(meaning(rule)).toBe(want));
};

const IN = { direction: 'ingress' } as const;
const IN6 = { direction: 'ingress', ethertype: 'IPv6' } as const;

describe('protocol: every name of the API reference, in IPv4 rules', () => {
  // "ah or 51, dccp or 33, egp or 8, esp or 50, gre or 47, icmp or 1, igmp or 2, ipip or 4, ospf or
  // 89, pgm or 113, rsvp or 46, sctp or 132, tcp or 6, udp or 17, udplite or 136, vrrp or 112".
  const names: [string, number][] = [
    ['ah', 51], ['dccp', 33], ['egp', 8], ['esp', 50], ['gre', 47], ['icmp', 1], ['igmp', 2], ['ipip', 4], ['ospf', 89],
    ['pgm', 113], ['rsvp', 46], ['sctp', 132], ['tcp', 6], ['udp', 17], ['udplite', 136], ['vrrp', 112],
  ];
  table(names.flatMap(([name, n]): [Rule, string][] => [
    [{ ...IN, protocol: name }, `ingress IPv4 proto ${n}`],
    [{ ...IN, protocol: name.toUpperCase() }, `ingress IPv4 proto ${n}`],
    [{ ...IN, protocol: n }, `ingress IPv4 proto ${n}`],
    [{ ...IN, protocol: String(n) }, `ingress IPv4 proto ${n}`],
  ]));
});

describe('protocol: IPv6-only names', () => {
  // "icmpv6 or 58, ipv6-encap or 41, ipv6-frag or 44, ipv6-icmp or 58, ipv6-nonxt or 59, ipv6-opts
  // or 60, ipv6-route or 43": valid in IPv6 rules, refused in IPv4 ones.
  const names: [string, number][] = [['icmpv6', 58], ['ipv6-encap', 41], ['ipv6-frag', 44], ['ipv6-icmp', 58], ['ipv6-nonxt', 59], ['ipv6-opts', 60], ['ipv6-route', 43]];
  table(names.flatMap(([name, n]): [Rule, string][] => [
    [{ ...IN6, protocol: name }, `ingress IPv6 proto ${n}`],
    [{ ...IN6, protocol: n }, `ingress IPv6 proto ${n}`],
    [{ ...IN, protocol: name }, 'error at protocol'],
    [{ ...IN, protocol: n }, 'error at protocol'],
  ]));
});

describe('protocol: "any", numbers, and what is not a protocol', () => {
  table([
    // "The string any (or integer 0) means all IP protocols"; no protocol (null, absent) too.
    [{ ...IN }, 'ingress IPv4 any'],
    [{ ...IN, protocol: null }, 'ingress IPv4 any'],
    [{ ...IN, protocol: 'any' }, 'ingress IPv4 any'],
    [{ ...IN, protocol: 'ANY' }, 'ingress IPv4 any'],
    [{ ...IN, protocol: 0 }, 'ingress IPv4 any'],
    [{ ...IN, protocol: '0' }, 'ingress IPv4 any'],
    [{ ...IN6, protocol: 0 }, 'ingress IPv6 any'],
    // hopopt is protocol 0 (neutron_lib), and "ip" the name of 0 in /etc/protocols.
    [{ ...IN, protocol: 'hopopt' }, 'ingress IPv4 any'],
    [{ ...IN, protocol: 'ip' }, 'ingress IPv4 any'],
    // "any integer value between [0-255] is also valid", as a number or a string of one.
    [{ ...IN, protocol: 255 }, 'ingress IPv4 proto 255'],
    [{ ...IN, protocol: '255' }, 'ingress IPv4 proto 255'],
    [{ ...IN, protocol: 200 }, 'ingress IPv4 proto 200'],
    [{ ...IN, protocol: '06' }, 'ingress IPv4 proto 6'],
    [{ ...IN, protocol: 256 }, 'error at protocol'],
    [{ ...IN, protocol: '256' }, 'error at protocol'],
    [{ ...IN, protocol: -1 }, 'error at protocol'],
    [{ ...IN, protocol: '-1' }, 'error at protocol'],
    [{ ...IN, protocol: 6.5 }, 'error at protocol'],
    [{ ...IN, protocol: 'tcpp' }, 'error at protocol'],
    [{ ...IN, protocol: ' tcp' }, 'error at protocol'],
    [{ ...IN, protocol: true }, 'error at protocol'],
    [{ ...IN, protocol: ['tcp'] }, 'error at protocol'],
    // ICMP in an IPv6 rule is ICMPv6 (what Neutron's drivers do with it).
    [{ ...IN6, protocol: 'icmp' }, 'ingress IPv6 proto 58'],
    [{ ...IN6, protocol: 1 }, 'ingress IPv6 proto 58'],
    [{ ...IN6, protocol: '1' }, 'ingress IPv6 proto 58'],
    [{ ...IN6, protocol: 'ICMP' }, 'ingress IPv6 proto 58'],
  ]);
});

describe('port_range_min/max for protocols with ports', () => {
  // "If the protocol is TCP, UDP, DCCP, SCTP or UDP-Lite this value must be less than or equal to
  // the port_range_max attribute value"; a lone min is that one port; 1-65535 is every port.
  table([
    [{ ...IN, protocol: 'tcp', port_range_min: 22, port_range_max: 22 }, 'ingress IPv4 proto 6 ports 22-22'],
    [{ ...IN, protocol: 'tcp', port_range_min: 22 }, 'ingress IPv4 proto 6 ports 22-22'],
    [{ ...IN, protocol: 'tcp', port_range_min: '22', port_range_max: '80' }, 'ingress IPv4 proto 6 ports 22-80'],
    [{ ...IN, protocol: 'udp', port_range_min: 1000, port_range_max: 2000 }, 'ingress IPv4 proto 17 ports 1000-2000'],
    [{ ...IN, protocol: 'sctp', port_range_min: 1, port_range_max: 1 }, 'ingress IPv4 proto 132 ports 1-1'],
    [{ ...IN, protocol: 'dccp', port_range_min: 65535 }, 'ingress IPv4 proto 33 ports 65535-65535'],
    [{ ...IN, protocol: 'udplite', port_range_min: 5, port_range_max: 65535 }, 'ingress IPv4 proto 136 ports 5-65535'],
    [{ ...IN, protocol: 6, port_range_min: 1, port_range_max: 65534 }, 'ingress IPv4 proto 6 ports 1-65534'],
    [{ ...IN, protocol: '17', port_range_min: 53 }, 'ingress IPv4 proto 17 ports 53-53'],
    [{ ...IN6, protocol: 'tcp', port_range_min: 443 }, 'ingress IPv6 proto 6 ports 443-443'],
    [{ ...IN, protocol: 'tcp', port_range_min: 1, port_range_max: 65535 }, 'ingress IPv4 proto 6'],
    [{ ...IN, protocol: 'tcp', port_range_min: null, port_range_max: null }, 'ingress IPv4 proto 6'],
    [{ ...IN, protocol: 'tcp', port_range_min: 2000, port_range_max: 1000 }, 'error at port_range_min'],
    [{ ...IN, protocol: 'tcp', port_range_min: 0 }, 'error at port_range_min'],
    [{ ...IN, protocol: 'tcp', port_range_min: 0, port_range_max: 0 }, 'error at port_range_min'],
    [{ ...IN, protocol: 'tcp', port_range_min: 65536 }, 'error at port_range_min'],
    [{ ...IN, protocol: 'tcp', port_range_min: 22, port_range_max: 65536 }, 'error at port_range_max'],
    [{ ...IN, protocol: 'tcp', port_range_min: -22 }, 'error at port_range_min'],
    [{ ...IN, protocol: 'tcp', port_range_min: 22.5 }, 'error at port_range_min'],
    [{ ...IN, protocol: 'tcp', port_range_min: 'http' }, 'error at port_range_min'],
    [{ ...IN, protocol: 'tcp', port_range_max: 22 }, 'error at port_range_max'],
    [{ ...IN, port_range_min: 22, port_range_max: 22 }, 'error at port_range_min'],
    [{ ...IN, protocol: 'gre', port_range_min: 22 }, 'error at port_range_min'],
    [{ ...IN, protocol: 'any', port_range_min: 22 }, 'error at port_range_min'],
  ]);
});

describe('port_range_min/max as ICMP type and code', () => {
  // "If the protocol is ICMP, this value [min] must be an ICMP type", "[max] must be an ICMP code";
  // both 0-255; a code needs a type. Type 255 without a code is any ICMP (iptables' "any").
  table([
    [{ ...IN, protocol: 'icmp', port_range_min: 8 }, 'ingress IPv4 proto 1 type 8'],
    [{ ...IN, protocol: 'icmp', port_range_min: 8, port_range_max: 0 }, 'ingress IPv4 proto 1 type 8 code 0'],
    [{ ...IN, protocol: 'icmp', port_range_min: 0, port_range_max: 0 }, 'ingress IPv4 proto 1 type 0 code 0'],
    [{ ...IN, protocol: 'icmp', port_range_min: 0 }, 'ingress IPv4 proto 1 type 0'],
    [{ ...IN, protocol: 'icmp', port_range_min: 3, port_range_max: 255 }, 'ingress IPv4 proto 1 type 3 code 255'],
    [{ ...IN, protocol: 'icmp', port_range_min: 254, port_range_max: 1 }, 'ingress IPv4 proto 1 type 254 code 1'],
    [{ ...IN, protocol: '1', port_range_min: '3', port_range_max: '4' }, 'ingress IPv4 proto 1 type 3 code 4'],
    [{ ...IN, protocol: 'icmp', port_range_min: 255 }, 'ingress IPv4 proto 1'],
    [{ ...IN, protocol: 'icmp' }, 'ingress IPv4 proto 1'],
    [{ ...IN6, protocol: 'ipv6-icmp', port_range_min: 128 }, 'ingress IPv6 proto 58 type 128'],
    [{ ...IN6, protocol: 'icmpv6', port_range_min: 1, port_range_max: 4 }, 'ingress IPv6 proto 58 type 1 code 4'],
    [{ ...IN6, protocol: 'icmp', port_range_min: 129, port_range_max: 0 }, 'ingress IPv6 proto 58 type 129 code 0'],
    [{ ...IN, protocol: 'icmp', port_range_min: 255, port_range_max: 0 }, 'error at port_range_min'],
    [{ ...IN, protocol: 'icmp', port_range_max: 0 }, 'error at port_range_max'],
    [{ ...IN, protocol: 'icmp', port_range_min: 256 }, 'error at port_range_min'],
    [{ ...IN, protocol: 'icmp', port_range_min: -1 }, 'error at port_range_min'],
    [{ ...IN, protocol: 'icmp', port_range_min: 8, port_range_max: 256 }, 'error at port_range_max'],
    [{ ...IN, protocol: 'icmp', port_range_min: 8, port_range_max: -5 }, 'error at port_range_max'],
    [{ ...IN6, protocol: 'ipv6-icmp', port_range_min: 128, port_range_max: '-1' }, 'error at port_range_max'],
  ]);
});

describe('ethertype', () => {
  // "Must be IPv4 or IPv6"; Neutron compares it without regard to case. Absent means IPv4.
  table([
    [{ ...IN, ethertype: 'IPv4' }, 'ingress IPv4 any'],
    [{ ...IN, ethertype: 'ipv4' }, 'ingress IPv4 any'],
    [{ ...IN, ethertype: 'IPV4' }, 'ingress IPv4 any'],
    [{ ...IN, ethertype: null }, 'ingress IPv4 any'],
    [{ ...IN, ethertype: 'IPv6' }, 'ingress IPv6 any'],
    [{ ...IN, ethertype: 'ipv6' }, 'ingress IPv6 any'],
    [{ ...IN, ethertype: 'iPv6' }, 'ingress IPv6 any'],
    [{ ...IN, ethertype: 'IPv5' }, 'error at ethertype'],
    [{ ...IN, ethertype: 6 }, 'error at ethertype'],
    [{ ...IN, ethertype: 'v6' }, 'error at ethertype'],
    [{ direction: 'egress', ethertype: 'IPv6' }, 'egress IPv6 any'],
    [{ direction: 'out' }, 'error at direction'],
    [{ direction: 'Ingress' }, 'error at direction'],
    [{}, 'error at direction'],
  ]);
});

describe('remote_ip_prefix: the source of ingress, the destination of egress, normalised to its network', () => {
  table([
    [{ ...IN, remote_ip_prefix: '10.0.0.0/24' }, 'ingress IPv4 any from 10.0.0.0/24'],
    [{ ...IN, remote_ip_prefix: '10.0.0.5/24' }, 'ingress IPv4 any from 10.0.0.0/24'],
    [{ ...IN, remote_ip_prefix: '10.0.0.5' }, 'ingress IPv4 any from 10.0.0.5/32'],
    [{ ...IN, remote_ip_prefix: '10.0.0.5/32' }, 'ingress IPv4 any from 10.0.0.5/32'],
    [{ ...IN, remote_ip_prefix: '10.200.7.9/13' }, 'ingress IPv4 any from 10.200.0.0/13'],
    [{ direction: 'egress', remote_ip_prefix: '192.0.2.129/25' }, 'egress IPv4 any to 192.0.2.128/25'],
    [{ ...IN, remote_ip_prefix: '0.0.0.0/0' }, 'ingress IPv4 any'],
    [{ ...IN, remote_ip_prefix: '10.0.0.0/0' }, 'ingress IPv4 any'],
    [{ ...IN6, remote_ip_prefix: '2001:DB8::1/64' }, 'ingress IPv6 any from 2001:db8::/64'],
    [{ ...IN6, remote_ip_prefix: '2001:db8:0:0::1' }, 'ingress IPv6 any from 2001:db8::1/128'],
    [{ ...IN6, remote_ip_prefix: '::/0' }, 'ingress IPv6 any'],
    [{ ...IN6, remote_ip_prefix: '10.0.0.0/8' }, 'error at remote_ip_prefix'],
    [{ ...IN, remote_ip_prefix: '2001:db8::/32' }, 'error at remote_ip_prefix'],
    [{ ...IN, remote_ip_prefix: '10.0.0.0/33' }, 'error at remote_ip_prefix'],
    [{ ...IN, remote_ip_prefix: '10.0.0.256' }, 'error at remote_ip_prefix'],
    [{ ...IN, remote_ip_prefix: 'example.com' }, 'error at remote_ip_prefix'],
    // Neutron's RPC spellings: source_ip_prefix on ingress, dest_ip_prefix on egress only.
    [{ ...IN, source_ip_prefix: '10.1.2.3/16' }, 'ingress IPv4 any from 10.1.0.0/16'],
    [{ direction: 'egress', dest_ip_prefix: '10.1.2.3/16' }, 'egress IPv4 any to 10.1.0.0/16'],
    [{ direction: 'egress', source_ip_prefix: '10.1.2.3/16' }, 'error at source_ip_prefix'],
    [{ ...IN, dest_ip_prefix: '10.1.2.3/16' }, 'error at dest_ip_prefix'],
    [{ ...IN, remote_ip_prefix: '10.0.0.0/8', remote_group_id: 'sg' }, 'error at remote_group_id'],
    [{ ...IN, remote_group_id: 'sg' }, 'ingress IPv4 any group sg'],
  ]);
});
