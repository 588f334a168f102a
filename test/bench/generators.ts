/**
 * Seeded generators of benchmark models, in the JSON input format of src/model/parse.ts.
 *
 *   defaultGroup  the Neutron thread's scenario: P local ports all in one group whose ingress
 *                 rules reference the group itself (IPv4, IPv6), egress any; M other members
 *   realisticMix  G groups of R rules using every field, ports in 1-3 groups, address groups,
 *                 address pairs, dual stack, a share of stateless groups; M remote members
 *   cloudWide     every port of a cloud with `binding:host_id`, compiled host by host
 *
 * Same parameters and seed give the same model, byte for byte. Addresses are handed out
 * sequentially with random gaps, as Neutron's IPAM does, so prefixes partly aggregate.
 */
import { rng } from '../support/rng.js';

export { rng };

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

class Gen {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = rng(seed);
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.next() * list.length)]!;
  }
  /** `k` distinct elements of `list`, in list order. */
  sample<T>(list: readonly T[], k: number): T[] {
    const idx = new Set<number>();
    while (idx.size < Math.min(k, list.length)) idx.add(Math.floor(this.next() * list.length));
    return [...idx].sort((a, b) => a - b).map((i) => list[i]!);
  }
}

const hex = (n: number, w: number): string => n.toString(16).padStart(w, '0');
/** A UUID-shaped id (what Neutron uses), unique per (kind, n); n first so tap names differ. */
const uuid = (kind: number, n: number): string =>
  `${hex(n, 8)}-${hex(kind & 0xffff, 4)}-4${hex((n >>> 4) & 0xfff, 3)}-8${hex(n & 0xfff, 3)}-${hex(kind, 12)}`;
const mac = (n: number): string => `fa:16:3e:${hex((n >>> 16) & 255, 2)}:${hex((n >>> 8) & 255, 2)}:${hex(n & 255, 2)}`;

const v4 = (n: number): string => `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
/**
 * 2001:db8:<block>::<n>, in canonical (RFC 5952) text as Neutron sends it (netaddr prints
 * addresses that way): `2001:db8:0::0:1d3` would be `2001:db8::1d3`.
 */
const v6 = (block: number, n: number): string => {
  const hi = (n >>> 16) & 0xffff;
  const b = block & 0xffff;
  const tail = hi === 0 ? hex(n & 0xffff, 1) : `${hex(hi, 1)}:${hex(n & 0xffff, 1)}`;
  return b === 0 ? `2001:db8::${tail}` : `2001:db8:${hex(b, 1)}::${tail}`;
};

/**
 * Sequential IPAM with random gaps: `next()` returns increasing offsets; about `gap` of the
 * addresses are skipped (deleted ports), which limits how much aggregation can merge.
 */
class Pool {
  private n: number;
  constructor(private readonly g: Gen, start: number, private readonly gap = 0.1) {
    this.n = start;
  }
  next(): number {
    while (this.g.chance(this.gap)) this.n++;
    return this.n++;
  }
}

const V4_BASE = (10 << 24) >>> 0; // 10.0.0.0

// ---------------------------------------------------------------------------------------------
// (a) default group

export interface DefaultGroupParams {
  /** Local ports, all in the default group. */
  readonly ports: number;
  /** Members on other hosts, each with one IPv4 and one IPv6 address (sg_member_ips). */
  readonly members: number;
  readonly seed?: number;
}

export const DEFAULT_SG = uuid(0x5e, 1);

export function defaultGroup({ ports, members, seed = 1 }: DefaultGroupParams): Obj {
  const g = new Gen(seed);
  const pool = new Pool(g, V4_BASE + 0x100, 0.05);
  const devices: Obj = {};
  for (let i = 0; i < ports; i++) {
    const a = pool.next();
    devices[uuid(0xd0, i)] = {
      mac_address: mac(i),
      fixed_ips: [v4(a), v6(0, a - V4_BASE)],
      security_groups: [DEFAULT_SG],
    };
  }
  const m4: Json[] = [];
  const m6: Json[] = [];
  for (let i = 0; i < members; i++) {
    const a = pool.next();
    m4.push(v4(a));
    m6.push(v6(0, a - V4_BASE));
  }
  return {
    security_groups: {
      [DEFAULT_SG]: {
        stateful: true,
        rules: [
          { direction: 'egress', ethertype: 'IPv4' },
          { direction: 'egress', ethertype: 'IPv6' },
          { direction: 'ingress', ethertype: 'IPv4', remote_group_id: DEFAULT_SG },
          { direction: 'ingress', ethertype: 'IPv6', remote_group_id: DEFAULT_SG },
        ],
      },
    },
    sg_member_ips: { [DEFAULT_SG]: { IPv4: m4, IPv6: m6 } },
    devices,
  };
}

// ---------------------------------------------------------------------------------------------
// (b) realistic mix, (c) cloud-wide

export interface MixParams {
  readonly ports: number;
  readonly groups: number;
  readonly rulesPerGroup: number;
  /** Remote member addresses in sg_member_ips, spread over the groups (3/4 IPv4, 1/4 IPv6). */
  readonly members: number;
  /** Spread the ports over this many hosts (`binding:host_id` "host-NNN"); 0 = no host field. */
  readonly hosts?: number;
  /** Share of stateless groups (default 0.1). */
  readonly stateless?: number;
  readonly seed?: number;
}

export const hostName = (i: number): string => `host-${String(i).padStart(3, '0')}`;

const PROTOCOL_CHOICES: readonly (string | number | null)[] = [
  'tcp', 'tcp', 'tcp', 'udp', 'udp', 'icmp', '6', 17, 'sctp', 'udplite', 'dccp', 'gre', 'esp', 'ipip', 'vrrp', 'any', 0, null,
];

/** One security group rule; `groups` and `addressGroups` are ids it may reference. */
function mixRule(g: Gen, self: string, groups: readonly string[], addressGroups: readonly string[], n: number): Obj {
  const family = g.chance(0.7) ? 4 : 6;
  const direction = g.chance(0.75) ? 'ingress' : 'egress';
  const r: Obj = { id: uuid(0x7e, n), direction, ethertype: family === 4 ? 'IPv4' : 'IPv6' };
  let proto = g.pick(PROTOCOL_CHOICES);
  if (proto === 'icmp' && family === 6 && g.chance(0.5)) proto = 'ipv6-icmp';
  if (proto !== null) r['protocol'] = proto;
  const p = typeof proto === 'string' ? proto : String(proto);
  if (['tcp', 'udp', '6', '17', 'sctp', 'udplite', 'dccp'].includes(p) && g.chance(0.85)) {
    const lo = g.pick([22, 53, 80, 443, 3306, 5432, 6379, 8000, 8080, 9000, g.int(1024, 60000)]);
    r['port_range_min'] = lo;
    r['port_range_max'] = g.chance(0.7) ? lo : Math.min(65535, lo + g.int(1, 1000));
  } else if ((p === 'icmp' || p === 'ipv6-icmp') && g.chance(0.6)) {
    r['port_range_min'] = family === 4 ? g.pick([0, 3, 8, 11]) : g.pick([1, 2, 3, 128, 129]);
    if (g.chance(0.4)) r['port_range_max'] = 0;
  }
  const remote = g.next();
  if (remote < 0.3) {
    r['remote_group_id'] = g.chance(0.5) ? self : g.pick(groups);
  } else if (remote < 0.4 && addressGroups.length > 0) {
    r['remote_address_group_id'] = g.pick(addressGroups);
  } else if (remote < 0.75) {
    const len = family === 4 ? g.pick([0, 8, 16, 24, 28, 32]) : g.pick([0, 32, 48, 64, 128]);
    const text =
      family === 4
        ? `${g.int(1, 223)}.${g.int(0, 255)}.${g.int(0, 255)}.${g.int(0, 255)}/${len}`
        : `2001:db8:${hex(g.int(0, 0xffff), 1)}:${hex(g.int(0, 0xffff), 1)}::${hex(g.int(0, 0xffff), 1)}/${len}`;
    // Neutron accepts source_ip_prefix / dest_ip_prefix as the direction-specific spellings.
    const key = g.chance(0.8) ? 'remote_ip_prefix' : direction === 'ingress' ? 'source_ip_prefix' : 'dest_ip_prefix';
    r[key] = text;
  }
  return r;
}

/** Address group: prefixes of mixed lengths, partly adjacent (so some of them aggregate). */
function addressGroupEntries(g: Gen, i: number): Json[] {
  const out: Json[] = [];
  const n = g.int(10, 200);
  let base = V4_BASE + (200 << 16) + i * 4096;
  for (let k = 0; k < n; k++) {
    if (g.chance(0.15)) {
      out.push(`2001:db8:ffff:${hex(i, 1)}::${hex(k, 1)}${g.chance(0.3) ? '/127' : ''}`);
      continue;
    }
    const len = g.pick([32, 32, 32, 31, 30, 29, 28]);
    const size = 2 ** (32 - len);
    base = Math.ceil(base / size) * size;
    out.push(len === 32 ? v4(base) : `${v4(base)}/${len}`);
    base += size * (g.chance(0.6) ? 1 : g.int(2, 4));
  }
  return out;
}

export function realisticMix(params: MixParams): Obj {
  const { ports, groups: nGroups, rulesPerGroup, members, hosts = 0, stateless = 0.1, seed = 1 } = params;
  const g = new Gen(seed);
  const groupIds = Array.from({ length: nGroups }, (_, i) => uuid(0x5e, i + 100));
  const statelessIds = new Set(groupIds.filter((_, i) => i > 0 && g.chance(stateless)));
  const statefulIds = groupIds.filter((id) => !statelessIds.has(id));
  const agIds = Array.from({ length: Math.max(1, Math.floor(nGroups / 4)) }, (_, i) => uuid(0xa9, i));

  const security_groups: Obj = {};
  let ruleNo = 0;
  for (const id of groupIds) {
    const rules: Json[] = [];
    for (let k = 0; k < rulesPerGroup; k++) rules.push(mixRule(g, id, groupIds, agIds, ruleNo++));
    security_groups[id] = {
      name: `sg-${id.slice(-4)}`,
      description: 'generated',
      ...(statelessIds.has(id) ? { stateful: false } : g.chance(0.5) ? { stateful: true } : {}),
      rules,
    };
  }

  const address_groups: Obj = {};
  agIds.forEach((id, i) => {
    address_groups[id] = i % 2 === 0 ? { name: `ag-${i}`, addresses: addressGroupEntries(g, i) } : addressGroupEntries(g, i);
  });

  // Remote members: each group gets a run of addresses from its own subnet.
  const sg_member_ips: Obj = {};
  const perGroup = nGroups === 0 ? 0 : Math.ceil(members / nGroups);
  let left = members;
  groupIds.forEach((id, gi) => {
    const pool = new Pool(g, V4_BASE + ((gi + 1) << 18), 0.1);
    const m4: Json[] = [];
    const m6: Json[] = [];
    for (let k = 0; k < perGroup && left > 0; k++, left--) {
      const a = pool.next();
      if (k % 4 === 3) m6.push(v6(gi + 1, a));
      else m4.push(k % 16 === 5 ? [v4(a), mac(a)] : v4(a));
    }
    if (m4.length + m6.length > 0) sg_member_ips[id] = { IPv4: m4, IPv6: m6 };
  });

  const devices: Obj = {};
  const netCount = Math.max(1, Math.ceil(ports / 250));
  const pools = Array.from({ length: netCount }, (_, i) => new Pool(g, V4_BASE + ((i + 1) << 12) + (128 << 16) * 0 + (0xc0 << 16), 0.05));
  for (let i = 0; i < ports; i++) {
    const net = i % netCount;
    const a = pools[net]!.next();
    const d: Obj = { device: `tap${hex(i, 8)}`, mac_address: mac(0x100000 + i), network_id: uuid(0x4e, net) };
    if (hosts > 0) d['binding:host_id'] = hostName(g.int(0, hosts - 1));
    const dual = g.chance(0.6);
    const ipv4 = g.chance(0.5) ? v4(a) : { ip_address: v4(a), subnet_id: uuid(0x5b, net) };
    d['fixed_ips'] = dual ? [ipv4, v6(0x1000 + net, a)] : [ipv4];
    const kind = g.next();
    if (kind < 0.03) {
      d['port_security_enabled'] = false;
    } else if (kind < 0.05) {
      d['device_owner'] = g.pick(['network:dhcp', 'network:router_interface']);
    } else {
      d['device_owner'] = 'compute:nova';
      const pool = g.chance(stateless) && statelessIds.size > 0 ? [...statelessIds] : statefulIds;
      d['security_groups'] = g.sample(pool, g.int(1, 3));
      if (g.chance(0.2)) {
        const pairs: Json[] = [{ ip_address: v4(V4_BASE + (250 << 16) + i) }];
        if (g.chance(0.3)) pairs.push({ ip_address: `${v4(V4_BASE + (251 << 16) + i * 16)}/28`, mac_address: mac(0x200000 + i) });
        if (dual && g.chance(0.5)) pairs.push({ ip_address: v6(0x2000, i) });
        d['allowed_address_pairs'] = pairs;
      }
    }
    devices[uuid(0xd0, i)] = d;
  }
  return {
    options: { firewall_driver: 'iptables_hybrid', enable_ipset: true },
    security_groups,
    address_groups,
    sg_member_ips,
    devices,
  };
}

export interface CloudParams {
  readonly ports: number;
  readonly hosts: number;
  readonly seed?: number;
}

/**
 * The whole cloud in one model: every port bound to a host, members coming from the devices
 * themselves (no sg_member_ips). One group per 50 ports, 10 rules each.
 */
export function cloudWide({ ports, hosts, seed = 1 }: CloudParams): Obj {
  return realisticMix({ ports, hosts, groups: Math.max(1, Math.round(ports / 50)), rulesPerGroup: 10, members: 0, seed });
}

// ---------------------------------------------------------------------------------------------
// (d) one port with a long list

export type PortListKind = 'pairs4' | 'pairs6' | 'fixed4' | 'fixed6' | 'groups';

/**
 * What a single port may carry many of: allowed address pairs (IPv4; IPv6 with a MAC each, so
 * every pair adds a link-local pair too), fixed IPs of either family, or security groups. The
 * port sits in the default group with nine ordinary ports; `size` entries on the one port.
 */
export function portLists(kind: PortListKind, size: number): Obj {
  const model = defaultGroup({ ports: 10, members: 10 });
  const devices = model['devices'] as Obj;
  const big: Obj = { ...(devices[uuid(0xd0, 0)] as Obj) };
  const v4At = (i: number): string => v4(V4_BASE + (100 << 16) + i);
  const v6At = (i: number): string => v6(0x3000 + (i >>> 16), i & 0xffff);
  switch (kind) {
    case 'pairs4':
      big['allowed_address_pairs'] = Array.from({ length: size }, (_, i) => ({ ip_address: v4At(i) }));
      break;
    case 'pairs6':
      big['allowed_address_pairs'] = Array.from({ length: size }, (_, i) => ({ ip_address: v6At(i), mac_address: mac(0x400000 + i) }));
      break;
    case 'fixed4':
      big['fixed_ips'] = Array.from({ length: size }, (_, i) => v4At(i));
      break;
    case 'fixed6':
      big['fixed_ips'] = Array.from({ length: size }, (_, i) => v6At(i));
      break;
    case 'groups': {
      const groups = model['security_groups'] as Obj;
      const ids = Array.from({ length: size }, (_, i) => uuid(0x6e, i));
      ids.forEach((id, i) => {
        groups[id] = { rules: [{ direction: 'ingress', protocol: 'tcp', port_range_min: 1 + (i % 65535) }] };
      });
      big['security_groups'] = [DEFAULT_SG, ...ids];
      break;
    }
  }
  devices[uuid(0xd0, 0)] = big;
  return model;
}
