/**
 * The model evaluator against the documented semantics. Every expected verdict and cause below
 * was written from docs/semantics.md (§ cited) and docs/neutron-differences.md ("item N"), not
 * from running the evaluator.
 *
 * A case names the checks the packet passes, in order, as `group#ruleIndex` (a group rule),
 * a built-in rule name (see BuiltinRule) or `unfiltered`.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseModel } from '../../src/model/parse.js';
import type { Model } from '../../src/model/types.js';
import { type Check, describeRule, effectiveCt, evaluate, evaluateEgress, evaluateIngress, formatExplanation } from '../../src/semantics/evaluate.js';
import { type PacketSpec, packet, path, portById, reply, sentBy } from '../../src/semantics/scenario.js';
import type { Verdict } from '../../src/semantics/packet.js';

interface Case {
  readonly name: string;
  /** Sending local port id; undefined = another host / the uplink. */
  readonly from?: string;
  /** Receiving local port id, 'host', or undefined (leaves the host). */
  readonly to?: string;
  /** src defaults to the sender's first fixed IP of the family, srcMac to the sender's MAC. */
  readonly pkt: Omit<PacketSpec, 'src'> & { src?: string };
  readonly verdict: Verdict;
  readonly checks: readonly string[];
}

const causeKey = (c: Check): string =>
  c.cause.kind === 'rule' ? `${c.cause.rule.origin.group}#${c.cause.rule.origin.index}` : c.cause.kind === 'builtin' ? c.cause.rule : 'unfiltered';

function run(model: Model, cases: readonly Case[]): void {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const p =
      c.from !== undefined && (c.pkt.src === undefined || c.pkt.srcMac === undefined)
        ? sentBy(model, c.from, c.pkt)
        : packet({ ...c.pkt, src: c.pkt.src! });
    const d = evaluate(model, path(model, c.from, c.to), p);
    expect({ verdict: d.verdict, checks: d.checks.map(causeKey) }).toEqual({ verdict: c.verdict, checks: c.checks });
    expect(d.reasons).toHaveLength(Math.max(d.checks.length, 1));
  });
}

// ---------------------------------------------------------------------------------------------
// The worked example of Neutron's documentation (default group + ssh group, three IPv4-only ports)

const golden = parseModel(JSON.parse(readFileSync(new URL('../../golden/default-group-3-ports/model.json', import.meta.url), 'utf8')));
const A = 'aaaaaaaa-1111-4111-8111-000000000001';
const B = 'bbbbbbbb-2222-4222-8222-000000000002';
const DEF = '11111111-aaaa-4aaa-8aaa-000000000001';
const SSH = '22222222-bbbb-4bbb-8bbb-000000000002';
const LL_A = 'fe80::f816:3eff:fe00:1'; // EUI-64 of fa:16:3e:00:00:01

describe('worked example', () => {
  run(golden, [
    // §3: o<A> then i<B>; default egress rule #0, then ingress from members of default (#2).
    { name: 'A -> B tcp 80: default egress, then ingress from own group', from: A, to: B, pkt: { dst: '10.0.0.12', dstPort: 80 }, verdict: 'ACCEPT', checks: [`${DEF}#0`, `${DEF}#2`] },
    { name: 'A -> A hairpin: own fixed IP is a member (item 6)', from: A, to: A, pkt: { dst: '10.0.0.11', dstPort: 80 }, verdict: 'ACCEPT', checks: [`${DEF}#0`, `${DEF}#2`] },
    { name: 'outside -> B ssh: ssh group (groups are ORed)', to: B, pkt: { src: '192.0.2.1', dst: '10.0.0.12', dstPort: 22 }, verdict: 'ACCEPT', checks: [`${SSH}#0`] },
    { name: 'outside -> B tcp 80: no rule, fallback drop (§4.4)', to: B, pkt: { src: '192.0.2.1', dst: '10.0.0.12', dstPort: 80 }, verdict: 'DROP', checks: ['fallback'] },
    { name: 'outside -> B udp 22: ssh rule is tcp only', to: B, pkt: { src: '192.0.2.1', dst: '10.0.0.12', protocol: 'udp', dstPort: 22 }, verdict: 'DROP', checks: ['fallback'] },
    // §6.1: replies to the VM's own connections.
    { name: 'established reply to A', to: A, pkt: { src: '192.0.2.1', dst: '10.0.0.11', srcPort: 80, dstPort: 40000, ct: 'ESTABLISHED' }, verdict: 'ACCEPT', checks: ['established'] },
    { name: 'related ICMP to A', to: A, pkt: { src: '192.0.2.1', dst: '10.0.0.11', protocol: 'icmp', icmpType: 3, icmpCode: 4, ct: 'RELATED' }, verdict: 'ACCEPT', checks: ['established'] },
    { name: 'INVALID to A on port 80: dropped (§4.1 step 6)', to: A, pkt: { src: '192.0.2.1', dst: '10.0.0.11', dstPort: 80, ct: 'INVALID' }, verdict: 'DROP', checks: ['invalid'] },
    // Group rules come before the INVALID drop (§4.1): an INVALID ssh packet matches the ssh rule.
    { name: 'INVALID ssh packet to A: group rule first', to: A, pkt: { src: '192.0.2.1', dst: '10.0.0.11', dstPort: 22, ct: 'INVALID' }, verdict: 'ACCEPT', checks: [`${SSH}#0`] },
    { name: 'INVALID from A: egress any rule comes first (§4.2)', from: A, pkt: { dst: '192.0.2.1', dstPort: 80, ct: 'INVALID' }, verdict: 'ACCEPT', checks: [`${DEF}#0`] },
    // §5: anti-spoofing.
    { name: 'A spoofs its MAC', from: A, pkt: { dst: '192.0.2.1', dstPort: 80, srcMac: 'fa:16:3e:00:00:02' }, verdict: 'DROP', checks: ['spoofed'] },
    { name: 'A spoofs its IP', from: A, pkt: { src: '10.0.0.12', dst: '192.0.2.1', dstPort: 80 }, verdict: 'DROP', checks: ['spoofed'] },
    { name: 'spoofed before established (§4.2 order)', from: A, pkt: { src: '10.0.0.99', dst: '192.0.2.1', srcPort: 22, dstPort: 40000, ct: 'ESTABLISHED' }, verdict: 'DROP', checks: ['spoofed'] },
    { name: 'MAC compared case-insensitively', from: A, pkt: { src: '10.0.0.11', srcMac: 'FA:16:3E:00:00:01', dst: '192.0.2.1', dstPort: 80 }, verdict: 'ACCEPT', checks: [`${DEF}#0`] },
    // Item 5: IPv4-only ports are IPv6 anti-spoofed too (Neutron had none), link-local allowed.
    { name: 'A sends IPv6 from its EUI-64 link-local', from: A, pkt: { src: LL_A, dst: 'fe80::1', dstPort: 80 }, verdict: 'ACCEPT', checks: [`${DEF}#1`] },
    { name: 'A sends IPv6 from a global address it does not own', from: A, pkt: { src: '2001:db8::5', dst: '2001:db8::1', dstPort: 80 }, verdict: 'DROP', checks: ['spoofed'] },
    // §4.2, §7: DHCPv4.
    { name: 'A: DHCP discover from 0.0.0.0 (before anti-spoofing)', from: A, pkt: { src: '0.0.0.0', dst: '255.255.255.255', protocol: 'udp', srcPort: 68, dstPort: 67 }, verdict: 'ACCEPT', checks: ['dhcpDiscover'] },
    { name: 'A: DHCP discover with a foreign MAC still passes (before anti-spoofing)', from: A, pkt: { src: '0.0.0.0', srcMac: 'fa:16:3e:99:99:99', dst: '255.255.255.255', protocol: 'udp', srcPort: 68, dstPort: 67 }, verdict: 'ACCEPT', checks: ['dhcpDiscover'] },
    { name: 'A: unicast DHCP request', from: A, pkt: { dst: '10.0.0.2', protocol: 'udp', srcPort: 68, dstPort: 67 }, verdict: 'ACCEPT', checks: ['dhcpClient'] },
    { name: 'A acts as a DHCP server: dropped', from: A, pkt: { dst: '10.0.0.12', protocol: 'udp', srcPort: 67, dstPort: 68 }, verdict: 'DROP', checks: ['dhcpServerSpoof'] },
    { name: 'A -> B DHCP server reply dropped even though default group allows A', from: A, to: B, pkt: { dst: '10.0.0.12', protocol: 'udp', srcPort: 67, dstPort: 68 }, verdict: 'DROP', checks: ['dhcpServerSpoof'] },
    { name: 'DHCP offer to A fixed IP', to: A, pkt: { src: '10.0.0.2', dst: '10.0.0.11', protocol: 'udp', srcPort: 67, dstPort: 68 }, verdict: 'ACCEPT', checks: ['dhcpReply'] },
    { name: 'DHCP offer to broadcast', to: A, pkt: { src: '10.0.0.2', dst: '255.255.255.255', protocol: 'udp', srcPort: 67, dstPort: 68 }, verdict: 'ACCEPT', checks: ['dhcpReply'] },
    { name: 'DHCP offer to B address delivered to A: not A\'s', to: A, pkt: { src: '10.0.0.2', dst: '10.0.0.12', protocol: 'udp', srcPort: 67, dstPort: 68 }, verdict: 'DROP', checks: ['fallback'] },
    // §4.1, §7: ICMPv6 in.
    { name: 'neighbour solicitation to A', to: A, pkt: { src: 'fe80::1', dst: 'ff02::1:ff00:1', protocol: 'ipv6-icmp', icmpType: 135 }, verdict: 'ACCEPT', checks: ['ndAccept'] },
    { name: 'neighbour advertisement to A', to: A, pkt: { src: 'fe80::1', dst: LL_A, protocol: 'ipv6-icmp', icmpType: 136 }, verdict: 'ACCEPT', checks: ['ndAccept'] },
    { name: 'MLD query to A', to: A, pkt: { src: 'fe80::1', dst: 'ff02::1', protocol: 'ipv6-icmp', icmpType: 130 }, verdict: 'ACCEPT', checks: ['ndAccept'] },
    { name: 'RA to IPv4-only A: no RA accept, no IPv6 members (item 11)', to: A, pkt: { src: 'fe80::1', dst: 'ff02::1', protocol: 'ipv6-icmp', icmpType: 134 }, verdict: 'DROP', checks: ['fallback'] },
    { name: 'IPv6 echo to A: default IPv6 ingress needs IPv6 members (none)', to: A, pkt: { src: '2001:db8::9', dst: LL_A, protocol: 'ipv6-icmp', icmpType: 128 }, verdict: 'DROP', checks: ['fallback'] },
    // §4.3, §7: ICMPv6 out.
    { name: 'A: DAD solicitation from ::', from: A, pkt: { src: '::', dst: 'ff02::1:ff00:1', protocol: 'ipv6-icmp', icmpType: 135 }, verdict: 'ACCEPT', checks: ['mldDad'] },
    { name: 'A: MLDv2 report from ::', from: A, pkt: { src: '::', dst: 'ff02::16', protocol: 'ipv6-icmp', icmpType: 143 }, verdict: 'ACCEPT', checks: ['mldDad'] },
    { name: 'A: MLDv1 report from ::', from: A, pkt: { src: '::', dst: 'ff02::2', protocol: 'ipv6-icmp', icmpType: 131 }, verdict: 'ACCEPT', checks: ['mldDad'] },
    { name: 'A: echo from :: is not MLD/DAD, and :: is no pair', from: A, pkt: { src: '::', dst: 'ff02::1', protocol: 'ipv6-icmp', icmpType: 128 }, verdict: 'DROP', checks: ['spoofed'] },
    { name: 'A: NS from :: to a unicast address is not DAD', from: A, pkt: { src: '::', dst: '2001:db8::1', protocol: 'ipv6-icmp', icmpType: 135 }, verdict: 'DROP', checks: ['spoofed'] },
    { name: 'A sends a router advertisement', from: A, pkt: { src: LL_A, dst: 'ff02::1', protocol: 'ipv6-icmp', icmpType: 134 }, verdict: 'DROP', checks: ['raDrop'] },
    { name: 'A sends a neighbour solicitation', from: A, pkt: { src: LL_A, dst: 'ff02::1:ff00:2', protocol: 'ipv6-icmp', icmpType: 135 }, verdict: 'ACCEPT', checks: ['icmpv6Accept'] },
    { name: 'A -> B NA: egress ICMPv6 accept, ingress ND accept', from: A, to: B, pkt: { src: LL_A, dst: 'fe80::f816:3eff:fe00:2', protocol: 'ipv6-icmp', icmpType: 136 }, verdict: 'ACCEPT', checks: ['icmpv6Accept', 'ndAccept'] },
    // Item 13: traffic to the host itself is checked by the sender's egress only.
    { name: 'A -> host', from: A, to: 'host', pkt: { dst: '10.0.0.1', dstPort: 9696 }, verdict: 'ACCEPT', checks: [`${DEF}#0`] },
    { name: 'A -> host spoofed', from: A, to: 'host', pkt: { src: '10.0.0.50', dst: '10.0.0.1', dstPort: 9696 }, verdict: 'DROP', checks: ['spoofed'] },
    { name: 'outside -> host: no local port on the path', to: 'host', pkt: { src: '192.0.2.1', dst: '10.0.0.1', dstPort: 22 }, verdict: 'ACCEPT', checks: [] },
  ]);
});

// ---------------------------------------------------------------------------------------------
// Every rule field (§9; items 1, 2, 4, 11, 16)

const fieldsModel = parseModel({
  security_groups: {
    f: {
      rules: [
        /* 0 */ { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_ip_prefix: '198.51.100.0/24' },
        /* 1 */ { direction: 'ingress', ethertype: 'IPv4', protocol: '17', port_range_min: 5000, port_range_max: 5010 },
        /* 2 */ { direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp', port_range_min: 8, port_range_max: 0 },
        /* 3 */ { direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp', port_range_min: 3 },
        /* 4 */ { direction: 'ingress', ethertype: 'IPv6', protocol: 'icmp', port_range_min: 128 },
        /* 5 */ { direction: 'ingress', ethertype: 'IPv4', protocol: 132, port_range_min: 9000, port_range_max: 9000 },
        /* 6 */ { direction: 'ingress', ethertype: 'IPv4', protocol: 'ipip' },
        /* 7 */ { direction: 'ingress', ethertype: 'IPv4', protocol: 'hopopt', remote_ip_prefix: '203.0.113.7' },
        /* 8 */ { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 80, port_range_max: 80, remote_group_id: 'web' },
        /* 9 */ { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 443, port_range_max: 443, remote_address_group_id: 'ag' },
        /* 10 */ { direction: 'ingress', ethertype: 'IPv6', protocol: 'tcp', port_range_min: 443, port_range_max: 443, remote_address_group_id: 'ag' },
        /* 11 */ { direction: 'ingress', ethertype: 'IPv4', protocol: 'udp', port_range_min: 53, port_range_max: 53, remote_ip_prefix: '192.0.2.77/28' },
        /* 12 */ { direction: 'ingress', ethertype: 'IPv6', protocol: 'tcp', port_range_min: 8080, port_range_max: 8080, remote_ip_prefix: '2001:db8:1::/48' },
        /* 13 */ { direction: 'ingress', ethertype: 'IPv4', protocol: 'gre', remote_group_id: 'empty' },
        /* 14 */ { direction: 'egress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 25, port_range_max: 25, remote_ip_prefix: '192.0.2.25' },
        /* 15 */ { direction: 'egress', ethertype: 'IPv6', protocol: 'udp', port_range_min: 53, port_range_max: 53 },
        /* 16 */ { direction: 'egress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 3306, port_range_max: 3306, remote_group_id: 'web' },
        /* 17 */ { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 1, port_range_max: 65535, remote_ip_prefix: '192.0.2.99' },
        /* 18 */ { direction: 'ingress', ethertype: 'IPv4', protocol: 'udp', port_range_min: 7000, port_range_max: 7000, remote_group_id: 'open' },
      ],
    },
    empty: { rules: [] },
  },
  sg_member_ips: {
    web: { IPv4: ['192.0.2.10', ['198.51.100.128/25', 'fa:16:3e:aa:aa:aa']], IPv6: ['2001:db8:2::10'] },
    open: { IPv4: ['0.0.0.0/0'] },
  },
  address_groups: { ag: { addresses: ['192.0.2.200/30', '2001:db8:3::/64'] } },
  devices: {
    p: { device: 'tapp', mac_address: 'fa:16:3e:00:00:10', fixed_ips: ['10.0.0.1', '2001:db8::1'], security_groups: ['f'] },
  },
});

const tcpIn = (src: string, dstPort: number, protocol: string | number = 'tcp'): Case['pkt'] => ({ src, dst: src.includes(':') ? '2001:db8::1' : '10.0.0.1', protocol, dstPort, srcPort: 33333 });

describe('rule fields', () => {
  run(fieldsModel, [
    { name: 'tcp 22 from inside the prefix', to: 'p', pkt: tcpIn('198.51.100.5', 22), verdict: 'ACCEPT', checks: ['f#0'] },
    { name: 'tcp 22 from outside the prefix', to: 'p', pkt: tcpIn('192.0.2.5', 22), verdict: 'DROP', checks: ['fallback'] },
    { name: 'tcp 23: port mismatch', to: 'p', pkt: tcpIn('198.51.100.5', 23), verdict: 'DROP', checks: ['fallback'] },
    { name: 'udp 22: protocol mismatch', to: 'p', pkt: tcpIn('198.51.100.5', 22, 'udp'), verdict: 'DROP', checks: ['fallback'] },
    { name: 'protocol given as "17": low end of range', to: 'p', pkt: tcpIn('192.0.2.5', 5000, 'udp'), verdict: 'ACCEPT', checks: ['f#1'] },
    { name: 'protocol "17": high end of range', to: 'p', pkt: tcpIn('192.0.2.5', 5010, 17), verdict: 'ACCEPT', checks: ['f#1'] },
    { name: 'udp 4999: below the range', to: 'p', pkt: tcpIn('192.0.2.5', 4999, 'udp'), verdict: 'DROP', checks: ['fallback'] },
    { name: 'udp 5011: above the range', to: 'p', pkt: tcpIn('192.0.2.5', 5011, 'udp'), verdict: 'DROP', checks: ['fallback'] },
    { name: 'tcp 5005: range is udp only', to: 'p', pkt: tcpIn('192.0.2.5', 5005), verdict: 'DROP', checks: ['fallback'] },
    { name: 'icmp 8/0 (type and code)', to: 'p', pkt: { src: '192.0.2.5', dst: '10.0.0.1', protocol: 'icmp', icmpType: 8, icmpCode: 0 }, verdict: 'ACCEPT', checks: ['f#2'] },
    { name: 'icmp 8/1: code mismatch', to: 'p', pkt: { src: '192.0.2.5', dst: '10.0.0.1', protocol: 'icmp', icmpType: 8, icmpCode: 1 }, verdict: 'DROP', checks: ['fallback'] },
    { name: 'icmp 3/13: type only, any code', to: 'p', pkt: { src: '192.0.2.5', dst: '10.0.0.1', protocol: 'icmp', icmpType: 3, icmpCode: 13 }, verdict: 'ACCEPT', checks: ['f#3'] },
    { name: 'icmp 0: type mismatch', to: 'p', pkt: { src: '192.0.2.5', dst: '10.0.0.1', protocol: 'icmp', icmpType: 0, icmpCode: 0 }, verdict: 'DROP', checks: ['fallback'] },
    { name: 'IPv6 "icmp" rule means ipv6-icmp (§1.1)', to: 'p', pkt: { src: '2001:db8:5::1', dst: '2001:db8::1', protocol: 'ipv6-icmp', icmpType: 128, icmpCode: 0 }, verdict: 'ACCEPT', checks: ['f#4'] },
    { name: 'ICMPv6 129: type mismatch', to: 'p', pkt: { src: '2001:db8:5::1', dst: '2001:db8::1', protocol: 'ipv6-icmp', icmpType: 129, icmpCode: 0 }, verdict: 'DROP', checks: ['fallback'] },
    { name: 'IPv4 icmp type 128: IPv6 rule does not apply (family)', to: 'p', pkt: { src: '192.0.2.5', dst: '10.0.0.1', protocol: 'icmp', icmpType: 128 }, verdict: 'DROP', checks: ['fallback'] },
    { name: 'sctp by number 132, port 9000', to: 'p', pkt: tcpIn('192.0.2.5', 9000, 'sctp'), verdict: 'ACCEPT', checks: ['f#5'] },
    { name: 'sctp 9001', to: 'p', pkt: tcpIn('192.0.2.5', 9001, 'sctp'), verdict: 'DROP', checks: ['fallback'] },
    { name: 'ipip means protocol 4 (item 2)', to: 'p', pkt: { src: '192.0.2.5', dst: '10.0.0.1', protocol: 4 }, verdict: 'ACCEPT', checks: ['f#6'] },
    { name: 'protocol 94 is not ipip (item 2)', to: 'p', pkt: { src: '192.0.2.5', dst: '10.0.0.1', protocol: 94 }, verdict: 'DROP', checks: ['fallback'] },
    { name: 'hopopt means any protocol (item 2): protocol 200 from the host prefix', to: 'p', pkt: { src: '203.0.113.7', dst: '10.0.0.1', protocol: 200 }, verdict: 'ACCEPT', checks: ['f#7'] },
    { name: 'hopopt rule: any protocol, but only from 203.0.113.7', to: 'p', pkt: { src: '203.0.113.8', dst: '10.0.0.1', protocol: 200 }, verdict: 'DROP', checks: ['fallback'] },
    { name: 'remote group: host member', to: 'p', pkt: tcpIn('192.0.2.10', 80), verdict: 'ACCEPT', checks: ['f#8'] },
    { name: 'remote group: inside a prefix member', to: 'p', pkt: tcpIn('198.51.100.200', 80), verdict: 'ACCEPT', checks: ['f#8'] },
    { name: 'remote group: non-member', to: 'p', pkt: tcpIn('192.0.2.11', 80), verdict: 'DROP', checks: ['fallback'] },
    { name: 'remote group: IPv6 member does not satisfy an IPv4 rule', to: 'p', pkt: tcpIn('2001:db8:2::10', 80), verdict: 'DROP', checks: ['fallback'] },
    { name: 'address group honoured (item 1): member', to: 'p', pkt: tcpIn('192.0.2.203', 443), verdict: 'ACCEPT', checks: ['f#9'] },
    { name: 'address group: just outside the /30 (item 1)', to: 'p', pkt: tcpIn('192.0.2.204', 443), verdict: 'DROP', checks: ['fallback'] },
    { name: 'address group, IPv6 rule and prefix', to: 'p', pkt: tcpIn('2001:db8:3::abc', 443), verdict: 'ACCEPT', checks: ['f#10'] },
    { name: 'address group, IPv6 non-member', to: 'p', pkt: tcpIn('2001:db8:4::1', 443), verdict: 'DROP', checks: ['fallback'] },
    { name: 'prefix with host bits means its network (item 4)', to: 'p', pkt: tcpIn('192.0.2.64', 53, 'udp'), verdict: 'ACCEPT', checks: ['f#11'] },
    { name: 'prefix with host bits: outside the /28', to: 'p', pkt: tcpIn('192.0.2.80', 53, 'udp'), verdict: 'DROP', checks: ['fallback'] },
    { name: 'IPv6 prefix', to: 'p', pkt: tcpIn('2001:db8:1:ff::1', 8080), verdict: 'ACCEPT', checks: ['f#12'] },
    { name: 'IPv6 prefix: outside', to: 'p', pkt: tcpIn('2001:db8:2::1', 8080), verdict: 'DROP', checks: ['fallback'] },
    { name: 'group without members matches nothing (item 11)', to: 'p', pkt: { src: '192.0.2.5', dst: '10.0.0.1', protocol: 'gre' }, verdict: 'DROP', checks: ['fallback'] },
    { name: '1-65535 means any port (§1.1)', to: 'p', pkt: tcpIn('192.0.2.99', 1), verdict: 'ACCEPT', checks: ['f#17'] },
    { name: '/0 member means any address (item 16)', to: 'p', pkt: tcpIn('203.0.113.200', 7000, 'udp'), verdict: 'ACCEPT', checks: ['f#18'] },
    { name: 'egress to a host prefix', from: 'p', pkt: { dst: '192.0.2.25', dstPort: 25 }, verdict: 'ACCEPT', checks: ['f#14'] },
    { name: 'egress prefix is the destination: other host dropped', from: 'p', pkt: { dst: '192.0.2.26', dstPort: 25 }, verdict: 'DROP', checks: ['fallback'] },
    { name: 'egress prefix is not the source', from: 'p', pkt: { src: '10.0.0.1', dst: '198.51.100.1', dstPort: 25 }, verdict: 'DROP', checks: ['fallback'] },
    { name: 'egress IPv6 udp 53 anywhere (dual-stack port)', from: 'p', pkt: { dst: '2001:db8:53::53', protocol: 'udp', dstPort: 53 }, verdict: 'ACCEPT', checks: ['f#15'] },
    { name: 'egress remote group is matched on the destination', from: 'p', pkt: { dst: '198.51.100.130', dstPort: 3306 }, verdict: 'ACCEPT', checks: ['f#16'] },
    { name: 'egress remote group: non-member destination', from: 'p', pkt: { dst: '10.9.9.9', dstPort: 3306 }, verdict: 'DROP', checks: ['fallback'] },
    { name: 'no implicit egress allow (§4.4)', from: 'p', pkt: { dst: '192.0.2.25', dstPort: 22 }, verdict: 'DROP', checks: ['fallback'] },
    { name: 'stateful egress: reply to inbound ssh', from: 'p', pkt: { dst: '198.51.100.5', srcPort: 22, dstPort: 33333, ct: 'ESTABLISHED' }, verdict: 'ACCEPT', checks: ['established'] },
    { name: 'to the host: egress decides (item 13)', from: 'p', to: 'host', pkt: { dst: '10.0.0.254', dstPort: 22 }, verdict: 'DROP', checks: ['fallback'] },
  ]);

  it('reads rules back in words', () => {
    // Rules are sorted by the parser; find them by their input position.
    const rules = fieldsModel.groups.get('f')!.rules;
    const at = (index: number) => rules.find((r) => r.origin.index === index)!;
    expect(describeRule(at(0))).toBe('tcp 22 from 198.51.100.0/24');
    expect(describeRule(at(1))).toBe('udp 5000-5010 from anywhere');
    expect(describeRule(at(2))).toBe('icmp type 8 code 0 from anywhere');
    expect(describeRule(at(4))).toBe('ipv6-icmp type 128 from anywhere');
    expect(describeRule(at(7))).toBe('IPv4 any protocol from 203.0.113.7/32');
    expect(describeRule(at(8))).toBe('tcp 80 from members of group web');
    expect(describeRule(at(9))).toBe('tcp 443 from address group ag');
    expect(describeRule(at(16))).toBe('tcp 3306 to members of group web');
  });

  it('names the port, the group and the rule in its reason', () => {
    const d = evaluate(fieldsModel, path(fieldsModel, undefined, 'p'), packet({ src: '198.51.100.5', dst: '10.0.0.1', dstPort: 22 }));
    expect(d.reasons).toEqual(['ingress of port p: allowed by group f rule #0 (tcp 22 from 198.51.100.0/24)']);
  });
});

// ---------------------------------------------------------------------------------------------
// Allowed address pairs and anti-spoofing (§5; items 4-6)

const pairsModel = parseModel({
  security_groups: {
    all: {
      rules: [
        { direction: 'egress', ethertype: 'IPv4' },
        { direction: 'egress', ethertype: 'IPv6' },
        { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 5432, port_range_max: 5432, remote_group_id: 'all' },
      ],
    },
  },
  sg_member_ips: { all: { IPv4: ['192.0.2.50'] } },
  devices: {
    q: {
      device: 'tapq', mac_address: 'fa:16:3e:00:00:20', fixed_ips: ['10.1.0.5'], security_groups: ['all'],
      allowed_address_pairs: [
        { ip_address: '10.1.0.100' },
        { ip_address: '10.1.1.0/24', mac_address: 'fa:16:3e:00:00:21' },
        { ip_address: '2001:db8:9::/64', mac_address: 'fa:16:3e:00:00:22' },
        { ip_address: '10.2.0.5/16', mac_address: 'fa:16:3e:00:00:23' },
      ],
    },
    n: { device: 'tapn', mac_address: 'fa:16:3e:00:00:30', fixed_ips: [], security_groups: ['all'] },
  },
});

describe('address pairs and anti-spoofing', () => {
  const out = (src: string, srcMac: string, dst = src.includes(':') ? '2001:db8:ff::1' : '192.0.2.1'): Case['pkt'] => ({ src, srcMac, dst, dstPort: 80 });
  run(pairsModel, [
    { name: 'fixed IP with port MAC', from: 'q', pkt: out('10.1.0.5', 'fa:16:3e:00:00:20'), verdict: 'ACCEPT', checks: ['all#0'] },
    { name: 'pair IP, MAC defaulting to the port MAC (§1.1)', from: 'q', pkt: out('10.1.0.100', 'fa:16:3e:00:00:20'), verdict: 'ACCEPT', checks: ['all#0'] },
    { name: 'pair IP with another MAC', from: 'q', pkt: out('10.1.0.100', 'fa:16:3e:00:00:21'), verdict: 'DROP', checks: ['spoofed'] },
    { name: 'pair prefix covers its addresses, with its own MAC', from: 'q', pkt: out('10.1.1.77', 'fa:16:3e:00:00:21'), verdict: 'ACCEPT', checks: ['all#0'] },
    { name: 'pair prefix with the port MAC instead of its own', from: 'q', pkt: out('10.1.1.77', 'fa:16:3e:00:00:20'), verdict: 'DROP', checks: ['spoofed'] },
    { name: 'pair with host bits covers the whole network (item 4)', from: 'q', pkt: out('10.2.255.1', 'fa:16:3e:00:00:23'), verdict: 'ACCEPT', checks: ['all#0'] },
    { name: 'address in no pair', from: 'q', pkt: out('10.3.0.1', 'fa:16:3e:00:00:20'), verdict: 'DROP', checks: ['spoofed'] },
    { name: 'IPv6 pair prefix with its MAC', from: 'q', pkt: out('2001:db8:9::1234', 'fa:16:3e:00:00:22'), verdict: 'ACCEPT', checks: ['all#1'] },
    { name: 'IPv6 pair prefix with the port MAC', from: 'q', pkt: out('2001:db8:9::1234', 'fa:16:3e:00:00:20'), verdict: 'DROP', checks: ['spoofed'] },
    { name: 'link-local of the port MAC (item 5)', from: 'q', pkt: out('fe80::f816:3eff:fe00:20', 'fa:16:3e:00:00:20'), verdict: 'ACCEPT', checks: ['all#1'] },
    { name: 'link-local of an IPv6 pair MAC (item 5)', from: 'q', pkt: out('fe80::f816:3eff:fe00:22', 'fa:16:3e:00:00:22'), verdict: 'ACCEPT', checks: ['all#1'] },
    { name: 'no link-local for an IPv4 pair MAC (item 5)', from: 'q', pkt: out('fe80::f816:3eff:fe00:21', 'fa:16:3e:00:00:21'), verdict: 'DROP', checks: ['spoofed'] },
    { name: 'port link-local sent with a pair MAC', from: 'q', pkt: out('fe80::f816:3eff:fe00:20', 'fa:16:3e:00:00:22'), verdict: 'DROP', checks: ['spoofed'] },
    { name: 'IPv6 global address of no pair', from: 'q', pkt: out('2001:db8::1', 'fa:16:3e:00:00:20'), verdict: 'DROP', checks: ['spoofed'] },
    { name: 'no fixed IPs: any IPv4 source from the port MAC (§5)', from: 'n', pkt: out('203.0.113.9', 'fa:16:3e:00:00:30'), verdict: 'ACCEPT', checks: ['all#0'] },
    { name: 'no fixed IPs: any IPv6 source from the port MAC (item 5)', from: 'n', pkt: out('2001:db8:77::1', 'fa:16:3e:00:00:30'), verdict: 'ACCEPT', checks: ['all#1'] },
    { name: 'no fixed IPs: another MAC', from: 'n', pkt: out('203.0.113.9', 'fa:16:3e:00:00:31'), verdict: 'DROP', checks: ['spoofed'] },
    // Pairs are members of the port's groups (§1.2); self-reference reaches them.
    { name: 'self-referencing group: from a pair prefix of a member', to: 'q', pkt: { src: '10.1.1.9', dst: '10.1.0.5', dstPort: 5432 }, verdict: 'ACCEPT', checks: ['all#2'] },
    { name: 'self-referencing group: from a member on another host', to: 'q', pkt: { src: '192.0.2.50', dst: '10.1.0.5', dstPort: 5432 }, verdict: 'ACCEPT', checks: ['all#2'] },
    { name: 'self-referencing group: non-member', to: 'q', pkt: { src: '192.0.2.51', dst: '10.1.0.5', dstPort: 5432 }, verdict: 'DROP', checks: ['fallback'] },
    { name: 'q -> q from its own fixed IP (item 6)', from: 'q', to: 'q', pkt: { dst: '10.1.0.5', dstPort: 5432 }, verdict: 'ACCEPT', checks: ['all#0', 'all#2'] },
    { name: 'n -> q: n has no fixed IP, so its source is no member', from: 'n', to: 'q', pkt: { src: '10.1.0.77', dst: '10.1.0.5', dstPort: 5432 }, verdict: 'DROP', checks: ['all#0', 'fallback'] },
  ]);
});

// ---------------------------------------------------------------------------------------------
// Stateless ports (item 8), unfiltered ports (item 14), IPv6-only ports

const kindsModel = parseModel({
  security_groups: {
    sl: {
      stateful: false,
      rules: [
        { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 80, port_range_max: 80 },
        { direction: 'egress', ethertype: 'IPv4' },
      ],
    },
    web: {
      rules: [
        { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 80, port_range_max: 80 },
        { direction: 'egress', ethertype: 'IPv4' },
      ],
    },
    v6: {
      rules: [
        { direction: 'ingress', ethertype: 'IPv6', protocol: 'tcp', port_range_min: 22, port_range_max: 22 },
        { direction: 'egress', ethertype: 'IPv6' },
      ],
    },
  },
  devices: {
    s: { device: 'taps', mac_address: 'fa:16:3e:00:00:50', fixed_ips: ['10.5.0.1'], security_groups: ['sl'] },
    t: { device: 'tapt', mac_address: 'fa:16:3e:00:00:51', fixed_ips: ['10.5.0.2'], security_groups: ['web'] },
    u: { device: 'tapu', mac_address: 'fa:16:3e:00:00:52', fixed_ips: ['10.5.0.3'], port_security_enabled: false },
    v: { device: 'tapv', mac_address: 'fa:16:3e:00:00:53', fixed_ips: ['10.5.0.4'], device_owner: 'network:dhcp', security_groups: ['web'] },
    w: { device: 'tapw', mac_address: 'fa:16:3e:00:00:54', fixed_ips: ['2001:db8::20'], security_groups: ['v6'] },
  },
});
const LL_W = 'fe80::f816:3eff:fe00:54';

describe('stateless, unfiltered and IPv6-only ports', () => {
  run(kindsModel, [
    // Item 8: no RELATED/ESTABLISHED or INVALID rules on stateless ports.
    { name: 'stateless: new tcp 80 in', to: 's', pkt: { src: '192.0.2.1', dst: '10.5.0.1', dstPort: 80 }, verdict: 'ACCEPT', checks: ['sl#0'] },
    { name: 'stateless: reply to its own connection is not accepted', to: 's', pkt: { src: '192.0.2.1', dst: '10.5.0.1', srcPort: 443, dstPort: 40000, ct: 'ESTABLISHED' }, verdict: 'DROP', checks: ['fallback'] },
    { name: 'stateless: INVALID is not dropped by state', to: 's', pkt: { src: '192.0.2.1', dst: '10.5.0.1', dstPort: 80, ct: 'INVALID' }, verdict: 'ACCEPT', checks: ['sl#0'] },
    { name: 'stateless: INVALID to an unmatched port ends in fallback', to: 's', pkt: { src: '192.0.2.1', dst: '10.5.0.1', dstPort: 81, ct: 'INVALID' }, verdict: 'DROP', checks: ['fallback'] },
    // The stateless sender's packets are notracked where they enter, but the receiver's bridge
    // tracks them again in the receiver's zone: a stateful receiver sees the flow's state.
    { name: 'stateless s -> stateful t, an established reply passes t', from: 's', to: 't', pkt: { dst: '10.5.0.2', srcPort: 80, dstPort: 40000, ct: 'ESTABLISHED' }, verdict: 'ACCEPT', checks: ['sl#1', 'established'] },
    { name: 'stateless s -> stateful t, INVALID is dropped by t', from: 's', to: 't', pkt: { dst: '10.5.0.2', dstPort: 81, ct: 'INVALID' }, verdict: 'DROP', checks: ['sl#1', 'invalid'] },
    { name: 'stateful t -> stateless s', from: 't', to: 's', pkt: { dst: '10.5.0.1', dstPort: 80 }, verdict: 'ACCEPT', checks: ['web#1', 'sl#0'] },
    { name: 'stateful t -> s, INVALID: t egress rule first, s has no INVALID drop', from: 't', to: 's', pkt: { dst: '10.5.0.1', dstPort: 80, ct: 'INVALID' }, verdict: 'ACCEPT', checks: ['web#1', 'sl#0'] },
    // Item 14: port security off and trusted ports are not filtered at all.
    { name: 'port security off: anything in', to: 'u', pkt: { src: '192.0.2.1', dst: '10.5.0.3', protocol: 'udp', dstPort: 9 }, verdict: 'ACCEPT', checks: ['unfiltered'] },
    { name: 'port security off: spoofed out', from: 'u', pkt: { src: '203.0.113.1', srcMac: '02:00:00:00:00:99', dst: '192.0.2.1', dstPort: 1 }, verdict: 'ACCEPT', checks: ['unfiltered'] },
    { name: 'port security off: to the host', from: 'u', to: 'host', pkt: { dst: '10.5.0.254', dstPort: 22 }, verdict: 'ACCEPT', checks: ['unfiltered'] },
    { name: 'port security off: DHCP server reply out', from: 'u', pkt: { dst: '10.5.0.2', protocol: 'udp', srcPort: 67, dstPort: 68 }, verdict: 'ACCEPT', checks: ['unfiltered'] },
    { name: 'trusted port, though in a group: anything in', to: 'v', pkt: { src: '192.0.2.1', dst: '10.5.0.4', dstPort: 9999 }, verdict: 'ACCEPT', checks: ['unfiltered'] },
    { name: 'trusted port to the host (item 14)', from: 'v', to: 'host', pkt: { dst: '10.5.0.254', dstPort: 9999 }, verdict: 'ACCEPT', checks: ['unfiltered'] },
    { name: 'trusted DHCP server -> filtered t: offer accepted', from: 'v', to: 't', pkt: { dst: '10.5.0.2', protocol: 'udp', srcPort: 67, dstPort: 68 }, verdict: 'ACCEPT', checks: ['unfiltered', 'dhcpReply'] },
    { name: 'trusted -> filtered t: t ingress still applies', from: 'v', to: 't', pkt: { dst: '10.5.0.2', dstPort: 9999 }, verdict: 'DROP', checks: ['unfiltered', 'fallback'] },
    { name: 'filtered t -> unfiltered u: t egress applies', from: 't', to: 'u', pkt: { src: '10.5.0.9', dst: '10.5.0.3', dstPort: 80 }, verdict: 'DROP', checks: ['spoofed'] },
    { name: 'unfiltered u -> trusted v', from: 'u', to: 'v', pkt: { dst: '10.5.0.4', dstPort: 80 }, verdict: 'ACCEPT', checks: ['unfiltered', 'unfiltered'] },
    // IPv6-only port (§4.1, §4.3, §7).
    { name: 'IPv6-only: RA accepted (has an IPv6 fixed IP)', to: 'w', pkt: { src: 'fe80::1', dst: 'ff02::1', protocol: 'ipv6-icmp', icmpType: 134 }, verdict: 'ACCEPT', checks: ['raAccept'] },
    { name: 'IPv6-only: DHCPv6 reply to fe80::/64', to: 'w', pkt: { src: 'fe80::1', dst: LL_W, protocol: 'udp', srcPort: 547, dstPort: 546 }, verdict: 'ACCEPT', checks: ['dhcpReply'] },
    { name: 'IPv6-only: DHCPv6 reply to its fixed IP', to: 'w', pkt: { src: 'fe80::1', dst: '2001:db8::20', protocol: 'udp', srcPort: 547, dstPort: 546 }, verdict: 'ACCEPT', checks: ['dhcpReply'] },
    { name: 'IPv6-only: DHCPv6 reply to another address', to: 'w', pkt: { src: 'fe80::1', dst: '2001:db8::21', protocol: 'udp', srcPort: 547, dstPort: 546 }, verdict: 'DROP', checks: ['fallback'] },
    { name: 'IPv6-only: DHCPv6 solicit out', from: 'w', pkt: { src: LL_W, dst: 'ff02::1:2', protocol: 'udp', srcPort: 546, dstPort: 547 }, verdict: 'ACCEPT', checks: ['dhcpClient'] },
    { name: 'IPv6-only: acting as DHCPv6 server', from: 'w', pkt: { src: LL_W, dst: 'fe80::1', protocol: 'udp', srcPort: 547, dstPort: 546 }, verdict: 'DROP', checks: ['dhcpServerSpoof'] },
    { name: 'IPv6-only: tcp 22 in', to: 'w', pkt: { src: '2001:db8:1::1', dst: '2001:db8::20', dstPort: 22 }, verdict: 'ACCEPT', checks: ['v6#0'] },
    { name: 'IPv6-only: established reply in', to: 'w', pkt: { src: '2001:db8:1::1', dst: '2001:db8::20', srcPort: 443, dstPort: 50000, ct: 'ESTABLISHED' }, verdict: 'ACCEPT', checks: ['established'] },
    { name: 'IPv6-only: NA with a bogus state is still accepted (docs/semantics.md §6.1)', to: 'w', pkt: { src: 'fe80::1', dst: LL_W, protocol: 'ipv6-icmp', icmpType: 136, ct: 'INVALID' }, verdict: 'ACCEPT', checks: ['ndAccept'] },
    { name: 'IPv6-only: IPv4 from its MAC is spoofed (it has fixed IPs, none IPv4)', from: 'w', pkt: { src: '10.9.0.1', srcMac: 'fa:16:3e:00:00:54', dst: '192.0.2.1', dstPort: 80 }, verdict: 'DROP', checks: ['spoofed'] },
    { name: 'IPv6-only: DHCPv4 discover still allowed (§4.2 rule 1)', from: 'w', pkt: { src: '0.0.0.0', srcMac: 'fa:16:3e:00:00:54', dst: '255.255.255.255', protocol: 'udp', srcPort: 68, dstPort: 67 }, verdict: 'ACCEPT', checks: ['dhcpDiscover'] },
    { name: 'IPv6-only: NS from a foreign global address is spoofed', from: 'w', pkt: { src: '2001:db8::99', dst: 'ff02::1:ff00:1', protocol: 'ipv6-icmp', icmpType: 135 }, verdict: 'DROP', checks: ['spoofed'] },
    { name: 'IPv6-only: IPv4 to w is dropped (no IPv4 rules)', to: 'w', pkt: { src: '192.0.2.1', dst: '10.5.0.20', dstPort: 22 }, verdict: 'DROP', checks: ['fallback'] },
  ]);
});

// ---------------------------------------------------------------------------------------------
// Helpers

describe('helpers', () => {
  it('effective conntrack state', () => {
    const tcp = packet({ src: '10.5.0.1', dst: '10.5.0.2', dstPort: 80, ct: 'ESTABLISHED' });
    const ns = packet({ src: 'fe80::1', dst: 'ff02::1', protocol: 'ipv6-icmp', icmpType: 135, ct: 'NEW' });
    const rs = packet({ src: 'fe80::1', dst: 'ff02::2', protocol: 'ipv6-icmp', icmpType: 133, ct: 'ESTABLISHED' });
    const echo = packet({ src: 'fe80::1', dst: 'fe80::2', protocol: 'ipv6-icmp', icmpType: 128, ct: 'ESTABLISHED' });
    expect(effectiveCt(tcp)).toBe('ESTABLISHED');
    expect(effectiveCt(ns)).toBe('UNTRACKED');
    expect(effectiveCt(rs)).toBe('UNTRACKED');
    expect(effectiveCt(echo)).toBe('ESTABLISHED');
  });

  it('per-direction checks and replies', () => {
    const t = portById(kindsModel, 't');
    const req = sentBy(kindsModel, 't', { dst: '192.0.2.1', srcPort: 40000, dstPort: 443 });
    expect(evaluateEgress(kindsModel, t, req).allowed).toBe(true);
    const back = reply(req, '02:00:00:00:00:01');
    expect(back.srcPort).toBe(443);
    expect(back.dstPort).toBe(40000);
    expect(evaluateIngress(kindsModel, t, back).reason).toBe('ingress of port t: allowed: conntrack ESTABLISHED (part of a known connection)');
    expect(evaluateIngress(kindsModel, t, { ...back, ct: 'NEW' }).allowed).toBe(false);
  });

  it('formats an explanation', () => {
    const p = sentBy(golden, A, { dst: '10.0.0.12', srcPort: 40000, dstPort: 22 });
    const where = path(golden, A, B);
    expect(formatExplanation(where, p, evaluate(golden, where, p))).toBe(
      'tcp 10.0.0.11:40000 -> 10.0.0.12:22 (fa:16:3e:00:00:01, NEW) on tapaaaaaaaa-11 -> tapbbbbbbbb-22: ACCEPT\n' +
        `  egress of port ${A}: allowed by group ${DEF} rule #0 (IPv4 any protocol to anywhere)\n` +
        `  ingress of port ${B}: allowed by group ${DEF} rule #2 (IPv4 any protocol from members of group ${DEF})\n`,
    );
  });

  it('rejects a device that is not on this host', () => {
    expect(() => evaluate(kindsModel, { fromDevice: 'tapnope', to: undefined }, packet({ src: '10.0.0.1', dst: '10.0.0.2' }))).toThrow(/tapnope/);
  });
});
