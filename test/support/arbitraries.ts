/**
 * fast-check arbitraries for property tests (and the kernel lab): small but rich models in the
 * input JSON format, and packets biased towards what is interesting for a given model.
 *
 * Models are generated as a spec of small indexes into fixed pools and then resolved to JSON,
 * so every reference resolves (a remote group or address group that does not exist is mapped to
 * one that does), devices are unique, and shrinking works on plain records and arrays: a failing
 * case shrinks towards one group, one rule, one port, no members. Addresses come from the
 * documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32), plus
 * /0 prefixes, link-local and multicast addresses where those are the point.
 *
 * Every generated model compiles with both drivers and both remote-group modes: stateless and
 * stateful groups never meet on one port, stateless and stateful ports never share a network,
 * and every port has a network_id.
 */
import fc from 'fast-check';
import {
  type Family,
  type Prefix,
  eui64LinkLocal,
  familyBits,
  formatAddress,
  parseAddress,
} from '../../src/net/ip.js';
import type { GroupRule, Model, Port } from '../../src/model/types.js';
import type { CtState, Packet, PacketPath } from '../../src/semantics/packet.js';

// ---------------------------------------------------------------------------------------------
// Pools (the simplest value first: fast-check shrinks towards it)

/** Security group ids: short ones, and two long ones that collide when truncated (hashed names). */
export const GROUP_IDS = ['sg-a', 'sg-b', 'sg-c', '11111111-aaaa-4aaa-8aaa-000000000001', '11111111-aaaa-4aaa-8aaa-000000000002'] as const;
/** A group that exists only in sg_member_ips (its ports are all on other hosts). */
export const REMOTE_ONLY_GROUP = 'sg-remote';
export const ADDRESS_GROUP_IDS = ['ag-1', 'ag-2'] as const;
/** Port ids: short ones (default device tap<id>), and two long ones sharing a long prefix but not their first 11 characters (the hybrid driver names qvb/qbr devices from those). */
export const PORT_IDS = ['p1', 'p2', 'p3', 'p4', 'bbbbbbbb-2222-4222-8222-000000000001', 'bbbbbbbb-2322-4222-8222-000000000002'] as const;

export const PORT_MACS = ['fa:16:3e:00:00:01', 'fa:16:3e:00:00:02', 'fa:16:3e:00:00:03', 'fa:16:3e:00:00:04', 'fa:16:3e:00:00:05', 'fa:16:3e:00:00:06'];
const PAIR_MACS = ['fa:16:3e:aa:00:01', 'fa:16:3e:aa:00:02'];
const MEMBER_MACS = ['fa:16:3e:bb:00:01', 'fa:16:3e:bb:00:02'];
/** MACs that belong to nobody: spoofed senders. */
export const SPOOF_MACS = ['02:00:00:00:00:66', 'fa:16:3e:00:00:99'];

/** remote_ip_prefix values, per family: with host bits, bare hosts, /0. */
const RULE_PREFIXES: Readonly<Record<Family, readonly string[]>> = {
  4: ['192.0.2.0/24', '192.0.2.10/30', '198.51.100.0/24', '203.0.113.7', '0.0.0.0/0', '192.0.2.17/32', '198.51.100.128/25'],
  6: ['2001:db8::/32', '2001:db8::a/127', '2001:db8:5::/64', '::/0', '2001:db8::11', '2001:DB8:0:0::12/128'],
};
/** sg_member_ips entries (other hosts): hosts, a prefix, and rarely /0. */
export const MEMBER_ADDRESSES: Readonly<Record<Family, readonly string[]>> = {
  4: ['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.64/26', '192.0.2.21', '0.0.0.0/0'],
  6: ['2001:db8:5::1', '2001:db8:5::2', '2001:db8:5::/64', '2001:db8::15', '::/0'],
};
export const ADDRESS_GROUP_ADDRESSES = ['192.0.2.0/24', '198.51.100.7', '203.0.113.0/25', '2001:db8::/48', '2001:db8:5::9', '198.51.100.9/30', '0.0.0.0/0', '::/0'];
/**
 * Allowed address pairs: hosts, prefixes (with host bits), rarely /0, and two that repeat what
 * port p1 already has (its first fixed IP, its MAC's link-local address).
 */
export const PAIR_ADDRESSES = [
  '203.0.113.5', '203.0.113.0/28', '203.0.113.21/30', '2001:db8:a::1', '2001:db8:a::/64', '2001:db8:b::7/120', '0.0.0.0/0',
  '192.0.2.10', 'fe80::f816:3eff:fe00:1',
];

/** Protocol spellings: names in any case, numbers, numeric strings, "any" forms. */
const PROTOCOLS = [
  'tcp', 'udp', 'icmp', 'TCP', 'Udp', 'ICMP', 'sctp', 'udplite', 'dccp', 'gre', 'ipip', 'vrrp', 'esp', 'ah',
  6, 17, 1, 47, 132, 4, 200, '6', '17', '1', '58', 'any', 'ip', 'hopopt', 0, '0', null, '',
  'ipv6-icmp', 'icmpv6', 58, 'ipv6-route', 43, 'ipv6-frag', 'ipv6-opts', 'ipv6-nonxt', 41, 'ipv6-encap',
] as const;
/** Protocols Neutron rejects in IPv4 rules. */
const IPV6_ONLY = new Set<unknown>(['ipv6-icmp', 'icmpv6', 58, '58', 'ipv6-route', 43, 'ipv6-frag', 'ipv6-opts', 'ipv6-nonxt', 41, 'ipv6-encap']);
const PORT_PROTOCOLS = new Set<unknown>(['tcp', 'udp', 'TCP', 'Udp', 'sctp', 'udplite', 'dccp', 6, 17, 132, '6', '17']);
const ICMP_PROTOCOLS = new Set<unknown>(['icmp', 'ICMP', 1, '1', 'ipv6-icmp', 'icmpv6', 58, '58']);

export const SERVICE_PORTS = [22, 80, 53, 443, 1, 65535, 1000, 2000, 8080] as const;
const ICMP_TYPES = [8, 0, 3, 128, 129, 134, 135, 136, 255] as const;
const ICMP_CODES = [0, 1, 4] as const;

// ---------------------------------------------------------------------------------------------
// Model specs

export interface RuleSpec {
  readonly direction: 'ingress' | 'egress';
  /** undefined: no ethertype field (IPv4); 'ipv4' / 'ipv6' lower case are accepted too. */
  readonly ethertype: 'IPv4' | 'IPv6' | 'ipv4' | 'ipv6' | undefined;
  readonly protocol: (typeof PROTOCOLS)[number] | undefined;
  /** Ports (or ICMP type/code), applied only where the protocol allows them. */
  readonly ports: { readonly min: number; readonly max: number | undefined; readonly numeric: boolean } | undefined;
  readonly icmp: { readonly type: number; readonly code: number | undefined } | undefined;
  readonly remote:
    | { readonly kind: 'none' }
    | { readonly kind: 'prefix'; readonly pick: number; readonly field: 'remote_ip_prefix' | 'directional' }
    | { readonly kind: 'group'; readonly pick: number }
    | { readonly kind: 'addressGroup'; readonly pick: number };
  readonly id: string | undefined;
}

export interface GroupSpec {
  readonly stateful: boolean;
  /** Neutron's RPC form: the group is the list of its rules (only for stateful groups here). */
  readonly listForm: boolean;
  readonly rules: readonly RuleSpec[];
}

export interface PortSpec {
  readonly id: number;
  readonly kind: 'filtered' | 'portSecurityDisabled' | 'trusted';
  /** Which family of groups the port takes (stateless and stateful never mix). */
  readonly stateless: boolean;
  readonly groups: readonly number[];
  /** Fixed IPs: how many of each family (0..2). */
  readonly v4: number;
  readonly v6: number;
  readonly fixedIpForm: 'string' | 'object';
  readonly pairs: readonly { readonly pick: number; readonly mac: number | undefined }[];
  readonly explicitDevice: boolean;
  readonly network: 'net-a' | 'net-b';
  readonly macForm: 'colon' | 'upper' | 'dash';
}

export interface ModelSpec {
  /** One slot per GROUP_IDS entry; null = the group does not exist. */
  readonly groups: readonly (GroupSpec | null)[];
  readonly addressGroups: readonly (readonly number[] | null)[];
  /** Members on other hosts, per GROUP_IDS entry plus REMOTE_ONLY_GROUP (last slot). */
  readonly members: readonly (MemberSpec | null)[];
  readonly ports: readonly PortSpec[];
}

export interface MemberSpec {
  readonly v4: readonly { readonly pick: number; readonly mac: number | undefined }[];
  readonly v6: readonly { readonly pick: number; readonly mac: number | undefined }[];
}

const pick = <T>(list: readonly T[], n: number): T => list[n % list.length]!;

export const ruleSpecArb: fc.Arbitrary<RuleSpec> = fc.record({
  direction: fc.constantFrom('ingress', 'egress'),
  ethertype: fc.constantFrom(undefined, 'IPv4', 'IPv6', 'ipv6', 'ipv4'),
  protocol: fc.option(fc.constantFrom(...PROTOCOLS), { nil: undefined, freq: 3 }),
  ports: fc.option(
    fc.record({
      min: fc.constantFrom(...SERVICE_PORTS),
      max: fc.option(fc.constantFrom(...SERVICE_PORTS, 65535), { nil: undefined }),
      numeric: fc.boolean(),
    }),
    { nil: undefined },
  ),
  icmp: fc.option(fc.record({ type: fc.constantFrom(...ICMP_TYPES), code: fc.option(fc.constantFrom(...ICMP_CODES), { nil: undefined }) }), {
    nil: undefined,
  }),
  remote: fc.oneof(
    { weight: 3, arbitrary: fc.constant({ kind: 'none' as const }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('prefix' as const), pick: fc.nat(20), field: fc.constantFrom('remote_ip_prefix' as const, 'directional' as const) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('group' as const), pick: fc.nat(10) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('addressGroup' as const), pick: fc.nat(4) }) },
  ),
  id: fc.option(fc.constantFrom('r1', 'rule-2', 'c0ffee00-1111-4111-8111-000000000009'), { nil: undefined, freq: 4 }),
});

export const groupSpecArb: fc.Arbitrary<GroupSpec> = fc.record({
  stateful: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  listForm: fc.boolean(),
  rules: fc.array(ruleSpecArb, { maxLength: 5 }),
});

const memberEntry = fc.record({ pick: fc.nat(10), mac: fc.option(fc.nat(3), { nil: undefined }) });
export const memberSpecArb: fc.Arbitrary<MemberSpec> = fc.record({
  v4: fc.array(memberEntry, { maxLength: 3 }),
  v6: fc.array(memberEntry, { maxLength: 3 }),
});

export const portSpecArb: fc.Arbitrary<PortSpec> = fc.record({
  id: fc.nat(PORT_IDS.length - 1),
  kind: fc.oneof(
    { weight: 6, arbitrary: fc.constant('filtered' as const) },
    { weight: 1, arbitrary: fc.constant('portSecurityDisabled' as const) },
    { weight: 1, arbitrary: fc.constant('trusted' as const) },
  ),
  stateless: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  groups: fc.array(fc.nat(8), { minLength: 0, maxLength: 3 }),
  v4: fc.constantFrom(1, 0, 2),
  v6: fc.constantFrom(0, 1, 2),
  fixedIpForm: fc.constantFrom('string', 'object'),
  pairs: fc.array(fc.record({ pick: fc.nat(10), mac: fc.option(fc.nat(3), { nil: undefined }) }), { maxLength: 2 }),
  explicitDevice: fc.boolean(),
  network: fc.constantFrom('net-a', 'net-b'),
  macForm: fc.oneof({ weight: 4, arbitrary: fc.constant('colon' as const) }, { weight: 1, arbitrary: fc.constantFrom('upper' as const, 'dash' as const) }),
  });

/** Model specs: at least one group and one port. */
export const modelSpecArb: fc.Arbitrary<ModelSpec> = fc.record({
  groups: fc
    .tuple(groupSpecArb, ...GROUP_IDS.slice(1).map(() => fc.option(groupSpecArb, { nil: null, freq: 2 })))
    .map((g) => g as (GroupSpec | null)[]),
  addressGroups: fc.tuple(...ADDRESS_GROUP_IDS.map(() => fc.option(fc.array(fc.nat(20), { maxLength: 3 }), { nil: null }))),
  members: fc.tuple(...[...GROUP_IDS, REMOTE_ONLY_GROUP].map(() => fc.option(memberSpecArb, { nil: null, freq: 2 }))),
  ports: fc.uniqueArray(portSpecArb, { selector: (p) => p.id, minLength: 1, maxLength: 4 }),
});

// ---------------------------------------------------------------------------------------------
// Spec -> JSON

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const macText = (mac: string, form: PortSpec['macForm']): string =>
  form === 'upper' ? mac.toUpperCase() : form === 'dash' ? mac.replace(/:/g, '-') : mac;

/** Fixed IP k of port slot i: unique per port, in documentation ranges. */
export function fixedIp(family: Family, slot: number, k: number): string {
  const n = 10 + slot * 4 + k;
  return family === 4 ? `192.0.2.${n}` : `2001:db8::${n.toString(16)}`;
}

export function ruleJson(r: RuleSpec, self: string, groupRefs: readonly string[], addressGroupRefs: readonly string[]): { [k: string]: Json } {
  const out: { [k: string]: Json } = { direction: r.direction };
  if (r.ethertype !== undefined) out['ethertype'] = r.ethertype;
  const family: Family = r.ethertype === 'IPv6' || r.ethertype === 'ipv6' ? 6 : 4;
  let protocol = r.protocol;
  // Neutron rejects IPv6-only protocols in IPv4 rules: use tcp there instead.
  if (family === 4 && IPV6_ONLY.has(protocol)) protocol = 'tcp';
  if (protocol !== undefined) out['protocol'] = protocol as Json;
  if (PORT_PROTOCOLS.has(protocol) && r.ports) {
    const max = r.ports.max === undefined ? undefined : Math.max(r.ports.min, r.ports.max);
    out['port_range_min'] = r.ports.numeric ? r.ports.min : String(r.ports.min);
    if (max !== undefined) out['port_range_max'] = r.ports.numeric ? max : String(max);
  } else if (ICMP_PROTOCOLS.has(protocol) && r.icmp) {
    out['port_range_min'] = r.icmp.type;
    // Type 255 means "any ICMP" and takes no code.
    if (r.icmp.code !== undefined && r.icmp.type !== 255) out['port_range_max'] = r.icmp.code;
  }
  switch (r.remote.kind) {
    case 'none':
      break;
    case 'prefix': {
      const field = r.remote.field === 'remote_ip_prefix' ? 'remote_ip_prefix' : r.direction === 'ingress' ? 'source_ip_prefix' : 'dest_ip_prefix';
      out[field] = pick(RULE_PREFIXES[family], r.remote.pick);
      break;
    }
    case 'group':
      // Pick 0 is the group itself: self-references are common.
      out['remote_group_id'] = r.remote.pick === 0 ? self : pick(groupRefs, r.remote.pick);
      break;
    case 'addressGroup':
      if (addressGroupRefs.length > 0) out['remote_address_group_id'] = pick(addressGroupRefs, r.remote.pick);
      break;
  }
  if (r.id !== undefined) out['id'] = r.id;
  return out;
}

/** The model JSON of a spec; every reference resolves, so parseModel accepts it. */
export function modelJson(spec: ModelSpec): { [k: string]: Json } {
  const groupIds = GROUP_IDS.filter((_, i) => spec.groups[i]);
  const memberIds = [...GROUP_IDS, REMOTE_ONLY_GROUP].filter((_, i) => spec.members[i]);
  const groupRefs = [...new Set([...groupIds, ...memberIds])];
  const addressGroupIds = ADDRESS_GROUP_IDS.filter((_, i) => spec.addressGroups[i]);

  const security_groups: { [k: string]: Json } = {};
  GROUP_IDS.forEach((id, i) => {
    const g = spec.groups[i];
    if (!g) return;
    const rules = g.rules.map((r) => ruleJson(r, id, groupRefs, addressGroupIds));
    security_groups[id] = g.listForm && g.stateful ? rules : { stateful: g.stateful, rules };
  });

  const address_groups: { [k: string]: Json } = {};
  ADDRESS_GROUP_IDS.forEach((id, i) => {
    const a = spec.addressGroups[i];
    if (!a) return;
    const addresses = [...new Set(a.map((n) => pick(ADDRESS_GROUP_ADDRESSES, n)))];
    address_groups[id] = i % 2 === 0 ? { addresses } : addresses;
  });

  const sg_member_ips: { [k: string]: Json } = {};
  [...GROUP_IDS, REMOTE_ONLY_GROUP].forEach((id, i) => {
    const m = spec.members[i];
    if (!m) return;
    const entries = (family: Family, list: MemberSpec['v4']): Json[] =>
      list.map((e) => {
        const ip = pick(MEMBER_ADDRESSES[family], e.pick);
        return e.mac === undefined ? ip : [ip, pick(MEMBER_MACS, e.mac)];
      });
    sg_member_ips[id] = { IPv4: entries(4, m.v4), IPv6: entries(6, m.v6) };
  });

  const devices: { [k: string]: Json } = {};
  const devicesUsed = new Set<string>();
  for (const p of spec.ports) {
    const id = PORT_IDS[p.id]!;
    const d: { [k: string]: Json } = {};
    let device = p.explicitDevice ? `vm${p.id}-tap` : `tap${id.slice(0, 11)}`;
    if (devicesUsed.has(device)) device = `vm${p.id}-tap`;
    devicesUsed.add(device);
    if (device !== `tap${id.slice(0, 11)}`) d['device'] = device;
    d['mac_address'] = macText(PORT_MACS[p.id]!, p.macForm);
    const ips: Json[] = [];
    for (let k = 0; k < p.v4; k++) ips.push(fixedIp(4, p.id, k));
    for (let k = 0; k < p.v6; k++) ips.push(fixedIp(6, p.id, k));
    d['fixed_ips'] = p.fixedIpForm === 'object' ? ips.map((ip) => ({ ip_address: ip, subnet_id: 'subnet-1' })) : ips;

    const wanted = groupIds.filter((g) => spec.groups[GROUP_IDS.indexOf(g as (typeof GROUP_IDS)[number])]!.stateful !== p.stateless);
    const groups = p.kind === 'portSecurityDisabled' || wanted.length === 0 ? [] : [...new Set(p.groups.map((n) => pick(wanted, n)))];
    const stateful = groups.length === 0 || !p.stateless;
    if (p.kind === 'portSecurityDisabled') d['port_security_enabled'] = false;
    else {
      d['security_groups'] = groups;
      d['allowed_address_pairs'] = p.pairs.map((ap) => ({
        ip_address: pick(PAIR_ADDRESSES, ap.pick),
        ...(ap.mac !== undefined && { mac_address: pick(PAIR_MACS, ap.mac) }),
      }));
    }
    if (p.kind === 'trusted') d['device_owner'] = p.id % 2 === 0 ? 'network:dhcp' : 'network:router_interface';
    // linuxbridge has one zone per network: stateless ports get a network of their own.
    d['network_id'] = stateful ? p.network : 'net-stateless';
    devices[id] = d;
  }

  return { security_groups, address_groups, sg_member_ips, devices };
}

/** Valid model JSON, rich enough to exercise every field of the input format. */
export const modelArb: fc.Arbitrary<{ [k: string]: Json }> = modelSpecArb.map(modelJson);

// ---------------------------------------------------------------------------------------------
// Packets

export type Route = 'between' | 'fromElsewhere' | 'toElsewhere' | 'toHost';

export type ServiceSpec =
  | { readonly kind: 'tcp' | 'udp' | 'sctp' | 'dccp' | 'udplite'; readonly sport: number; readonly dport: number }
  | { readonly kind: 'icmp'; readonly type: number; readonly code: number }
  | { readonly kind: 'dhcp'; readonly role: 'client' | 'server' }
  | { readonly kind: 'nd'; readonly type: 130 | 131 | 133 | 134 | 135 | 136 | 143 }
  /** Before an address: DHCP discover from 0.0.0.0 to broadcast; MLD report / DAD from :: to multicast. */
  | { readonly kind: 'boot'; readonly type: 131 | 135 | 143 }
  | { readonly kind: 'other'; readonly protocol: number };

export interface PacketSpec {
  readonly family: Family;
  readonly route: Route;
  readonly from: number;
  readonly to: number;
  /** Source: the sender's own address, an address pair, its link-local, the unspecified address, a member elsewhere, or anything. */
  readonly src: 'own' | 'pair' | 'linkLocal' | 'unspecified' | 'interesting' | 'spoofed';
  readonly srcPick: number;
  readonly mac: 'own' | 'pair' | 'spoofed';
  readonly dst: 'own' | 'pair' | 'broadcast' | 'linkLocal' | 'interesting' | 'other';
  readonly dstPick: number;
  readonly service: ServiceSpec;
  /**
   * Aim at one group rule of the ports on the path: take its family, protocol, ports (or ICMP
   * type/code) and remote, `edge` choosing a boundary (first, last, just outside) of each.
   */
  readonly aim: { readonly rule: number; readonly edge: number } | undefined;
  readonly ct: CtState;
}

const transport = (kind: 'tcp' | 'udp' | 'sctp' | 'dccp' | 'udplite') =>
  fc.record({
    kind: fc.constant(kind),
    sport: fc.oneof(fc.constantFrom(40000, ...SERVICE_PORTS), fc.integer({ min: 1, max: 65535 })),
    dport: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...SERVICE_PORTS, 1500, 8081) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 65535 }) }),
  });

export const serviceSpecArb: fc.Arbitrary<ServiceSpec> = fc.oneof(
  { weight: 6, arbitrary: transport('tcp') },
  { weight: 3, arbitrary: transport('udp') },
  { weight: 1, arbitrary: fc.oneof(transport('sctp'), transport('dccp'), transport('udplite')) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('icmp' as const), type: fc.constantFrom(8, 0, 3, 128, 129, 1, 255, 11), code: fc.constantFrom(0, 1, 4) }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('dhcp' as const), role: fc.constantFrom('client' as const, 'server' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('nd' as const), type: fc.constantFrom(135 as const, 136 as const, 134 as const, 134 as const, 133 as const, 130 as const, 131 as const, 143 as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('boot' as const), type: fc.constantFrom(135 as const, 131 as const, 143 as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('other' as const), protocol: fc.constantFrom(47, 4, 50, 51, 112, 200, 43, 44, 60, 41) }) },
);

export const packetSpecArb: fc.Arbitrary<PacketSpec> = fc.record({
  family: fc.constantFrom(4 as const, 6 as const),
  route: fc.oneof(
    { weight: 4, arbitrary: fc.constant('between' as const) },
    { weight: 3, arbitrary: fc.constant('fromElsewhere' as const) },
    { weight: 2, arbitrary: fc.constant('toElsewhere' as const) },
    { weight: 1, arbitrary: fc.constant('toHost' as const) },
  ),
  from: fc.nat(5),
  to: fc.nat(5),
  src: fc.oneof(
    { weight: 8, arbitrary: fc.constant('own' as const) },
    { weight: 2, arbitrary: fc.constantFrom('pair' as const, 'linkLocal' as const, 'interesting' as const) },
    { weight: 1, arbitrary: fc.constantFrom('unspecified' as const, 'spoofed' as const) },
  ),
  srcPick: fc.nat(20),
  mac: fc.oneof({ weight: 8, arbitrary: fc.constant('own' as const) }, { weight: 1, arbitrary: fc.constantFrom('pair' as const, 'spoofed' as const) }),
  dst: fc.oneof(
    { weight: 6, arbitrary: fc.constant('own' as const) },
    { weight: 2, arbitrary: fc.constantFrom('pair' as const, 'interesting' as const) },
    { weight: 1, arbitrary: fc.constantFrom('broadcast' as const, 'linkLocal' as const, 'other' as const) },
  ),
  dstPick: fc.nat(20),
  service: serviceSpecArb,
  aim: fc.oneof(fc.constant(undefined), fc.record({ rule: fc.nat(30), edge: fc.nat(11) })),
  ct: fc.oneof(
    { weight: 6, arbitrary: fc.constant('NEW' as const) },
    { weight: 3, arbitrary: fc.constant('ESTABLISHED' as const) },
    { weight: 1, arbitrary: fc.constantFrom('RELATED' as const, 'INVALID' as const, 'UNTRACKED' as const) },
  ),
});

export interface PathPacket {
  readonly path: PacketPath;
  readonly packet: Packet;
}

const addr = (text: string): bigint => parseAddress(text)!.addr;
const OTHER: Readonly<Record<Family, bigint>> = { 4: addr('203.0.113.99'), 6: addr('2001:db8:ffff::99') };
const SPOOFED: Readonly<Record<Family, bigint>> = { 4: addr('192.0.2.250'), 6: addr('2001:db8::250') };
const BROADCAST: Readonly<Record<Family, bigint>> = { 4: addr('255.255.255.255'), 6: addr('ff02::1') };
const MLD_ROUTERS = addr('ff02::16');
const SOLICITED_NODE = addr('ff02::1:ff00:0');
const PORT_PROTOCOL_NUMBERS = new Set([6, 17, 33, 132, 136]);

/** An address inside a prefix: its first, second or last address (/0: a documentation address). */
function inside(p: Prefix, n: number): bigint {
  if (p.len === 0) return OTHER[p.family];
  const size = 1n << BigInt(familyBits(p.family) - p.len);
  const offsets = [0n, size > 1n ? 1n : 0n, size - 1n];
  return p.addr + offsets[n % 3]!;
}

/** Addresses a rule, a member list or an address group of the model mentions, per family. */
function interestingPrefixes(model: Model, family: Family): Prefix[] {
  const out: Prefix[] = [];
  for (const g of model.groups.values()) for (const r of g.rules) if (r.remote.kind === 'prefix' && r.family === family) out.push(r.remote.prefix);
  for (const list of [...model.members.values(), ...model.addressGroups.values()]) for (const p of list.prefixes()) if (p.family === family) out.push(p);
  return out;
}

export interface ResolveOptions {
  /**
   * Bridge a packet only between ports of the same network (default true), as on a real host:
   * networks meet only through a router. With false, any two local ports may exchange packets,
   * which the hybrid driver's per-port zones allow to model (e.g. a stateless sender and a
   * stateful receiver, which the generator never puts on one network).
   */
  readonly sameNetwork?: boolean;
}

/** The group rules that decide a packet on this path: the sender's egress and the receiver's ingress. */
function rulesOnPath(model: Model, sender: Port | undefined, receiver: Port | undefined): GroupRule[] {
  const of = (p: Port | undefined, direction: 'ingress' | 'egress'): GroupRule[] =>
    p?.kind !== 'filtered' ? [] : p.groups.flatMap((g) => model.groups.get(g)?.rules.filter((r) => r.direction === direction) ?? []);
  return [...of(sender, 'egress'), ...of(receiver, 'ingress')];
}

/** Addresses of a rule's remote (undefined: any address). */
function remotePrefixes(model: Model, r: GroupRule): Prefix[] | undefined {
  const remote = r.remote;
  switch (remote.kind) {
    case 'any':
      return undefined;
    case 'prefix':
      return [remote.prefix];
    case 'group':
      return (model.members.get(remote.id)?.prefixes() ?? []).filter((p) => p.family === r.family);
    case 'addressGroup':
      return (model.addressGroups.get(remote.id)?.prefixes() ?? []).filter((p) => p.family === r.family);
  }
}

/** Turn a packet spec into a concrete path and packet for this (normalised) model. */
export function resolvePacket(model: Model, spec: PacketSpec, options: ResolveOptions = {}): PathPacket {
  const ports = model.ports;
  const sender: Port | undefined = spec.route === 'fromElsewhere' || ports.length === 0 ? undefined : pick(ports, spec.from);
  let receiver: Port | undefined;
  if ((spec.route === 'between' || spec.route === 'fromElsewhere') && ports.length > 0) {
    const sameNetwork = options.sameNetwork ?? true;
    const others = ports.filter((p) => p !== sender && (!sameNetwork || !sender || p.networkId === sender.networkId));
    receiver = others.length > 0 ? pick(others, spec.to) : undefined;
  }
  const path: PacketPath = {
    fromDevice: sender?.device,
    to: spec.route === 'toHost' && sender ? 'host' : receiver?.device,
  };

  const candidates = spec.aim ? rulesOnPath(model, sender, receiver) : [];
  const aimed = spec.aim && candidates.length > 0 ? pick(candidates, spec.aim.rule) : undefined;
  const fixed = (p: Port | undefined, f: Family): Prefix[] => p?.fixedIps.filter((ip) => ip.family === f) ?? [];
  // A sender sends from its own addresses: use a family it has, unless the spec asks otherwise.
  let f: Family = aimed?.family ?? spec.family;
  const other: Family = f === 4 ? 6 : 4;
  if (!aimed && spec.src === 'own' && sender && fixed(sender, f).length === 0 && fixed(sender, other).length > 0) f = other;
  else if (!aimed && !sender && spec.dst === 'own' && receiver && fixed(receiver, f).length === 0 && fixed(receiver, other).length > 0) f = other;

  const interesting = interestingPrefixes(model, f);
  const pairs = (p: Port | undefined): Prefix[] => p?.addressPairs.filter((ap) => ap.prefix.family === f).map((ap) => ap.prefix) ?? [];
  const fromList = (list: Prefix[], n: number, fallback: bigint): bigint => (list.length > 0 ? inside(pick(list, n), n >> 1) : fallback);
  const interestingAddr = (n: number): bigint => fromList(interesting, n, OTHER[f]);
  const linkLocal = (p: Port | undefined, fallback: bigint): bigint => (f === 6 && p?.mac ? eui64LinkLocal(p.mac) : fallback);

  let src: bigint;
  switch (spec.src) {
    case 'own':
      src = sender ? fromList(fixed(sender, f), spec.srcPick, linkLocal(sender, interestingAddr(spec.srcPick))) : interestingAddr(spec.srcPick);
      break;
    case 'pair':
      src = fromList(pairs(sender), spec.srcPick, interestingAddr(spec.srcPick));
      break;
    case 'linkLocal':
      src = linkLocal(sender, interestingAddr(spec.srcPick));
      break;
    case 'unspecified':
      src = 0n;
      break;
    case 'interesting':
      src = interestingAddr(spec.srcPick);
      break;
    case 'spoofed':
      src = SPOOFED[f];
      break;
  }

  let dst: bigint;
  switch (spec.dst) {
    case 'own':
      dst = receiver ? fromList(fixed(receiver, f), spec.dstPick, linkLocal(receiver, interestingAddr(spec.dstPick))) : interestingAddr(spec.dstPick);
      break;
    case 'pair':
      dst = fromList(pairs(receiver), spec.dstPick, interestingAddr(spec.dstPick));
      break;
    case 'broadcast':
      dst = BROADCAST[f];
      break;
    case 'linkLocal':
      dst = linkLocal(receiver, BROADCAST[f]);
      break;
    case 'interesting':
      dst = interestingAddr(spec.dstPick);
      break;
    case 'other':
      dst = OTHER[f];
      break;
  }

  const pairMacs = sender?.addressPairs.map((ap) => ap.mac) ?? [];
  const srcMac =
    spec.mac === 'spoofed' || !sender?.mac
      ? pick(SPOOF_MACS, spec.srcPick)
      : spec.mac === 'pair' && pairMacs.length > 0
        ? pick(pairMacs, spec.srcPick)
        : sender.mac;

  const base = { family: f, src, dst, srcMac, ct: spec.ct };
  const packet = aimed ? aimedPacket(model, aimed, spec.aim!.edge, base, sender, receiver) : servicePacket(spec, base);
  return { path, packet };
}

type PacketBase = Pick<Packet, 'family' | 'src' | 'dst' | 'srcMac' | 'ct'>;

function servicePacket(spec: PacketSpec, base: PacketBase): Packet {
  const f = base.family;
  const s = spec.service;
  switch (s.kind) {
    case 'tcp':
    case 'udp':
    case 'sctp':
    case 'dccp':
    case 'udplite': {
      const protocol = { tcp: 6, udp: 17, sctp: 132, dccp: 33, udplite: 136 }[s.kind];
      return { ...base, protocol, srcPort: s.sport, dstPort: s.dport };
    }
    case 'icmp':
      return { ...base, protocol: f === 4 ? 1 : 58, icmpType: s.type, icmpCode: s.code };
    case 'dhcp': {
      const [client, server] = f === 4 ? [68, 67] : [546, 547];
      return s.role === 'client' ? { ...base, protocol: 17, srcPort: client, dstPort: server } : { ...base, protocol: 17, srcPort: server, dstPort: client };
    }
    case 'nd':
      // ND is IPv6 only; in IPv4 the same slot sends an ICMP echo.
      return f === 6 ? { ...base, protocol: 58, icmpType: s.type, icmpCode: 0 } : { ...base, protocol: 1, icmpType: 8, icmpCode: 0 };
    case 'boot':
      if (f === 4) return { ...base, src: 0n, dst: BROADCAST[4], protocol: 17, srcPort: 68, dstPort: 67 };
      // MLD reports go to all MLDv2 routers, a DAD solicitation to the solicited-node group.
      return { ...base, src: 0n, dst: s.type === 135 ? SOLICITED_NODE | (base.dst & 0xffffffn) : MLD_ROUTERS, protocol: 58, icmpType: s.type, icmpCode: 0 };
    case 'other':
      // IPv6 extension headers exist only in IPv6 packets; IPv4 gets GRE instead.
      return { ...base, protocol: f === 4 && [43, 44, 60].includes(s.protocol) ? 47 : s.protocol };
  }
}

/** A packet at a boundary of one group rule: its service, and an address of its remote. */
function aimedPacket(model: Model, r: GroupRule, edge: number, base: PacketBase, sender: Port | undefined, receiver: Port | undefined): Packet {
  const out = { ...base };
  // Put the remote address where the rule looks (source of ingress, destination of egress),
  // unless that end is a local port that must keep its own address (then half of the time).
  const remote = remotePrefixes(model, r);
  const local = r.direction === 'ingress' ? sender : receiver;
  if (remote && remote.length > 0 && (!local || edge % 2 === 0)) {
    const a = inside(pick(remote, edge >> 1), edge);
    if (r.direction === 'ingress') out.src = a;
    else out.dst = a;
  }
  const protocol = r.protocol ?? pick([6, 17, r.family === 4 ? 1 : 58], edge);
  const outside = edge % 4 === 3; // just outside the rule's range
  if (PORT_PROTOCOL_NUMBERS.has(protocol)) {
    const lo = r.ports?.min ?? 1;
    const hi = r.ports?.max ?? 65535;
    const dport = outside ? (hi < 65535 ? hi + 1 : lo - 1) : pick([lo, hi, lo + ((hi - lo) >> 1)], edge);
    return { ...out, protocol, srcPort: pick([40000, 1, 65535, 22], edge), dstPort: Math.min(65535, Math.max(1, dport)) };
  }
  if (protocol === 1 || protocol === 58) {
    // Just outside: the right type with the wrong code (when the rule names a code), or the
    // next type.
    const wrongCode = outside && r.icmp?.code !== undefined && (edge >> 2) % 2 === 0;
    const type = r.icmp ? (outside && !wrongCode ? (r.icmp.type + 1) % 256 : r.icmp.type) : pick([8, 0, 128, 3], edge);
    const code = r.icmp?.code !== undefined ? (wrongCode ? (r.icmp.code + 1) % 256 : r.icmp.code) : pick([0, 1, 4], edge);
    return { ...out, protocol, icmpType: type, icmpCode: code };
  }
  return { ...out, protocol };
}

/** Packets for one model, biased towards its ports, rules, members, pairs and special traffic. */
export const packetArb = (model: Model, options: ResolveOptions = {}): fc.Arbitrary<PathPacket> =>
  packetSpecArb.map((s) => resolvePacket(model, s, options));

/** A readable one-line form of a path and packet, for counterexamples. */
export function showPathPacket({ path, packet: p }: PathPacket): string {
  const a = (x: bigint): string => formatAddress(p.family, x);
  const ports = p.srcPort !== undefined ? ` ${p.srcPort}->${p.dstPort}` : p.icmpType !== undefined ? ` type ${p.icmpType}/${p.icmpCode}` : '';
  return `${path.fromDevice ?? 'elsewhere'} -> ${path.to ?? 'elsewhere'}: proto ${p.protocol}${ports} ${a(p.src)} -> ${a(p.dst)} mac ${p.srcMac} ct ${p.ct}`;
}
