/**
 * Plan one host: turn the normalised model into the backend-neutral HostPlan.
 *
 * Shape (linear by construction): every filtered port gets a fixed-size ingress and egress
 * chain per family (state, DHCP, ICMPv6, anti-spoofing) that ends by consulting the chains of
 * its groups; each group's rules exist once per (direction, family), shared by all its ports;
 * a remote group is one set match per rule, however many members it has (or, in `expanded`
 * mode, one rule per member, for hosts without ipset).
 */
import { compareStrings } from '../compare.js';
import { CT_ZONE_MAX, CT_ZONE_MIN, IPSET_MAXELEM } from '../limits.js';
import { aggregate, splitZeroLength } from '../net/cidr.js';
import { AddressList } from '../net/list.js';
import {
  type Family,
  type Prefix,
  comparePrefix,
  linkLocalPrefix,
  parsePrefix,
  prefixKey,
} from '../net/ip.js';
import { type Issue, ModelError, child } from '../model/errors.js';
import { hybridVeth, isInterfaceName, networkBridge } from '../model/devices.js';
import { ICMPV6, UDP } from '../model/protocols.js';
import type { Direction, FirewallDriver, GroupRule, Model, Port, RemoteGroupMode } from '../model/types.js';
import {
  type GroupChainPlan,
  type HostPlan,
  type Match,
  type PortFamilyPlan,
  type PortPlan,
  type Rule,
  type SetPlan,
  type SetRef,
  type SpoofPair,
  type Step,
  type ZonePlan,
  groupChainKey,
} from './ir.js';

export interface PlanOptions {
  readonly driver: FirewallDriver;
  readonly remoteGroups: RemoteGroupMode;
  /** Merge set members into the fewest covering prefixes (exact, never widening). */
  readonly aggregate: boolean;
}

const FAMILIES: readonly Family[] = [4, 6];
const DIRECTIONS: readonly Direction[] = ['ingress', 'egress'];

const pfx = (text: string): Prefix => {
  const p = parsePrefix(text);
  if (typeof p === 'string') throw new Error(p);
  return p.prefix;
};
const V4_ANY_HOST = pfx('0.0.0.0/32');
const V4_BROADCAST = pfx('255.255.255.255/32');
const V6_UNSPECIFIED = pfx('::/128');
const V6_ALL_NODES_LINK = pfx('ff02::/16');
const V6_LINK_LOCAL = pfx('fe80::/64');

const udp = (sport: number, dport: number): Match[] => [
  { kind: 'protocol', protocol: UDP },
  { kind: 'srcPort', range: { min: sport, max: sport } },
  { kind: 'dstPort', range: { min: dport, max: dport } },
];
const icmpv6 = (type: number): Match[] => [
  { kind: 'protocol', protocol: ICMPV6 },
  { kind: 'icmp', type, code: undefined },
];
const rule = (matches: Match[], verdict: Rule['verdict'], comment?: Rule['comment']): Step => ({
  kind: 'rule',
  rule: { matches, verdict, ...(comment !== undefined && { comment }) },
});
// Steps that do not depend on the port are single shared objects, so that printers can render
// each of them once per host instead of once per port.
const ESTABLISHED_STEP = rule([{ kind: 'ctState', states: ['RELATED', 'ESTABLISHED'] }], 'allow', 'established');
const INVALID_STEP = rule([{ kind: 'ctState', states: ['INVALID'] }], 'drop', 'invalidDrop');
const GROUPS: Step = { kind: 'groups' };
const FALLBACK: Step = { kind: 'fallback' };
const ANTI_SPOOF: Step = { kind: 'antiSpoof' };
const V4_STEPS = {
  dhcpBroadcast: rule([{ kind: 'dst', prefix: V4_BROADCAST }, ...udp(67, 68)], 'allow', 'dhcpServer'),
  dhcpDiscover: rule([{ kind: 'src', prefix: V4_ANY_HOST }, { kind: 'dst', prefix: V4_BROADCAST }, ...udp(68, 67)], 'allow', 'dhcpClient'),
  dhcpClient: rule(udp(68, 67), 'allow', 'dhcpClient'),
  dhcpSpoof: rule(udp(67, 68), 'drop', 'dhcpSpoof'),
};
const V6_STEPS = {
  // Neighbour discovery and MLD queries are conntrack-UNTRACKED: accept them explicitly.
  ndAllow: [130, 135, 136].map((t) => rule(icmpv6(t), 'allow', 'ndAllow')),
  raAllow: rule(icmpv6(134), 'allow', 'raAllow'),
  dhcpLinkLocal: rule([{ kind: 'dst', prefix: V6_LINK_LOCAL }, ...udp(547, 546)], 'allow', 'dhcpServer'),
  // MLD reports and DAD solicitations leave from :: before the VM has an address.
  fromUnspecified: [131, 135, 143].map((t) =>
    rule([{ kind: 'src', prefix: V6_UNSPECIFIED }, { kind: 'dst', prefix: V6_ALL_NODES_LINK }, ...icmpv6(t)], 'allow', 'icmpv6Allow'),
  ),
  raDrop: rule(icmpv6(134), 'drop', 'raDrop'),
  icmpv6Allow: rule([{ kind: 'protocol', protocol: ICMPV6 }], 'allow', 'icmpv6Allow'),
  dhcpClient: rule(udp(546, 547), 'allow', 'dhcpClient'),
  dhcpSpoof: rule(udp(547, 546), 'drop', 'dhcpSpoof'),
};

/** The protocol and ports of a DHCP server's reply, per family (shared by every port's rule). */
const DHCP_REPLY: Readonly<Record<Family, readonly Match[]>> = { 4: udp(67, 68), 6: udp(547, 546) };

/**
 * Work shared by the hosts of one prepared cloud model (compile.ts `prepare`): every host is
 * handed the same groups and member lists, so each group's chain rules and each set are planned
 * once, not once per host. Keyed by those immutable lists, which belong to the prepared model:
 * a fresh cache per prepared model, living and dying with it. Plain Maps, not WeakMaps: weak
 * keys cost the garbage collector at every collection (a quarter of the realistic mix's median).
 */
export interface PlanCache {
  readonly groupChains: Map<readonly GroupRule[], Map<string, { rules: Rule[]; refs: [string, SetRef][] }>>;
  readonly setMembers: Map<AddressList, Map<string, AddressList>>;
}

export const newPlanCache = (): PlanCache => ({ groupChains: new Map(), setMembers: new Map() });

export function planHost(model: Model, options: PlanOptions, cache: PlanCache = newPlanCache()): HostPlan {
  const filtered = model.ports.filter((p) => p.kind === 'filtered');
  const unfiltered = model.ports.filter((p) => p.kind !== 'filtered');

  // Group chains: only for groups used by a filtered port on this host.
  const usedGroups = [...new Set(filtered.flatMap((p) => p.groups))].sort(compareStrings);
  const groupChains = new Map<string, GroupChainPlan>();
  // The keys of each group's non-empty chains, looked up by every port of the group.
  const chainKeys = new Map<string, ChainKeys>();
  const setRefs = new Map<string, SetRef>();
  for (const id of usedGroups) {
    const group = model.groups.get(id)!;
    const keys: ChainKeys = { ingress: { 4: undefined, 6: undefined }, egress: { 4: undefined, 6: undefined } };
    for (const family of FAMILIES) {
      for (const direction of DIRECTIONS) {
        const rules = groupChainRulesOnce(cache, model, group.rules, direction, family, options.remoteGroups, setRefs);
        if (rules.length === 0) continue;
        const key = groupChainKey(id, direction, family);
        groupChains.set(key, { group: id, direction, family, rules });
        keys[direction][family] = key;
      }
    }
    chainKeys.set(id, keys);
  }

  const sets = [...setRefs.values()]
    .map((ref) => planSet(cache, model, ref, options.aggregate))
    .sort((a, b) => a.family - b.family || compareStrings(a.kind, b.kind) || compareStrings(a.id, b.id));

  const ports: PortPlan[] = filtered.map((port) => ({
    port,
    families: {
      4: planPortFamily(port, 4, chainKeys),
      6: planPortFamily(port, 6, chainKeys),
    },
  }));

  return {
    driver: options.driver,
    remoteGroups: options.remoteGroups,
    ports,
    unfiltered,
    groupChains,
    sets,
    zones: planZones(filtered, options.driver),
  };
}

/** Group chain rules cached by the group's rule list: in ipset mode they depend on nothing else. */
function groupChainRulesOnce(
  planCache: PlanCache,
  model: Model,
  rules: readonly GroupRule[],
  direction: Direction,
  family: Family,
  mode: RemoteGroupMode,
  setRefs: Map<string, SetRef>,
): Rule[] {
  if (mode !== 'ipset') return groupChainRules(model, rules, direction, family, mode, setRefs);
  let cache = planCache.groupChains.get(rules);
  if (!cache) planCache.groupChains.set(rules, (cache = new Map()));
  const key = `${direction}/${family}`;
  let hit = cache.get(key);
  if (!hit) {
    const refs = new Map<string, SetRef>();
    hit = { rules: groupChainRules(model, rules, direction, family, mode, refs), refs: [...refs] };
    cache.set(key, hit);
  }
  for (const [k, ref] of hit.refs) setRefs.set(k, ref);
  return hit.rules;
}

/** The rules of one group for one direction and family, with their remote turned into matches. */
export function groupChainRules(
  model: Model,
  rules: readonly GroupRule[],
  direction: Direction,
  family: Family,
  mode: RemoteGroupMode,
  setRefs: Map<string, SetRef>,
): Rule[] {
  const out: Rule[] = [];
  const seen = new Set<string>();
  const push = (r: Rule): void => {
    const key = matchesKey(r.matches);
    if (seen.has(key)) return; // an identical earlier rule already allows it
    seen.add(key);
    out.push(r);
  };
  const addrDir = direction === 'ingress' ? 'src' : 'dst';
  for (const r of rules) {
    if (r.direction !== direction || r.family !== family) continue;
    const service: Match[] = [];
    if (r.protocol !== undefined) service.push({ kind: 'protocol', protocol: r.protocol });
    if (r.ports) service.push({ kind: 'dstPort', range: r.ports });
    if (r.icmp) service.push({ kind: 'icmp', type: r.icmp.type, code: r.icmp.code });
    const comment = { group: r.origin.group, rule: r.origin.index, id: r.origin.id };
    const remote = r.remote;
    if (remote.kind === 'any') push({ matches: service, verdict: 'allow', comment });
    else if (remote.kind === 'prefix') {
      push({ matches: [{ kind: addrDir, prefix: remote.prefix }, ...service], verdict: 'allow', comment });
    } else if (mode === 'ipset') {
      const ref: SetRef = { kind: remote.kind === 'group' ? 'group' : 'addressGroup', id: remote.id, family };
      setRefs.set(`${ref.kind}\u0000${ref.id}\u0000${family}`, ref);
      push({ matches: [...service, { kind: 'set', set: ref, dir: addrDir }], verdict: 'allow', comment });
    } else {
      // Expanded: one rule per member; a /0 member means "any address" (no address match).
      const members = (remote.kind === 'group' ? model.members.get(remote.id) : model.addressGroups.get(remote.id)) ?? AddressList.EMPTY;
      for (const m of members.ofFamily(family).prefixes()) {
        push({ matches: m.len === 0 ? service : [{ kind: addrDir, prefix: m }, ...service], verdict: 'allow', comment });
      }
    }
  }
  return out;
}

/**
 * Equal for equal match lists (to drop duplicate rules). Hand-built rather than JSON.stringify:
 * in expanded mode this runs once per member.
 */
export function matchesKey(matches: readonly Match[]): string {
  let k = '';
  for (const m of matches) {
    switch (m.kind) {
      case 'src':
      case 'dst':
        k += `${m.kind}=${prefixKey(m.prefix)};`;
        break;
      case 'protocol':
        k += `p=${m.protocol};`;
        break;
      case 'srcPort':
      case 'dstPort':
        k += `${m.kind}=${m.range.min}-${m.range.max};`;
        break;
      case 'icmp':
        k += `icmp=${m.type}/${m.code ?? ''};`;
        break;
      case 'set':
        k += `set=${m.set.kind}/${m.set.family}/${m.dir}/${m.set.id};`;
        break;
      default:
        k += JSON.stringify(m, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString(16) : v)) + ';';
    }
  }
  return k;
}

/**
 * Set members cached by source list, family and aggregation; the printers can then cache what
 * they derive from the same member list (the ipset script's entries).
 */
function planSet(planCache: PlanCache, model: Model, ref: SetRef, doAggregate: boolean): SetPlan {
  const all = (ref.kind === 'group' ? model.members.get(ref.id) : model.addressGroups.get(ref.id)) ?? AddressList.EMPTY;
  let cache = planCache.setMembers.get(all);
  if (!cache) planCache.setMembers.set(all, (cache = new Map()));
  const key = `${ref.family}/${doAggregate}`;
  let members = cache.get(key);
  if (members === undefined) cache.set(key, (members = setMembers(all.ofFamily(ref.family), doAggregate)));
  if (members.length > IPSET_MAXELEM) {
    const path = ref.kind === 'group' ? child('$.sg_member_ips', ref.id) : child('$.address_groups', ref.id);
    throw new ModelError([{ code: 'set-too-large', path, message: `${members.length} IPv${ref.family} members exceed the set limit of ${IPSET_MAXELEM}` }]);
  }
  return { ...ref, members };
}

/** A set's entries: hash:net cannot hold /0, so it becomes its two halves. */
export function setMembers(list: AddressList, doAggregate: boolean): AddressList {
  if (!doAggregate && !list.hasZeroLength()) return list;
  const split = list.prefixes().flatMap(splitZeroLength);
  // Aggregation would merge the two halves of a split /0 back into /0, which hash:net refuses.
  return AddressList.of(doAggregate ? aggregate(split).flatMap(splitZeroLength) : split);
}

export type ChainKeys = Record<Direction, Record<Family, string | undefined>>;

export function planPortFamily(port: Port, family: Family, chainKeys: ReadonlyMap<string, ChainKeys>): PortFamilyPlan {
  // Plain loops and pushes: this runs twice for every port of every host.
  const chainsOf = (d: Direction): string[] => {
    const keys: string[] = [];
    for (const g of port.groups) {
      const k = chainKeys.get(g)![d][family];
      if (k !== undefined) keys.push(k);
    }
    return keys;
  };
  const toFixedIps: Step[] = [];
  for (const ip of port.fixedIps) {
    if (ip.family === family) toFixedIps.push(rule([{ kind: 'dst', prefix: ip }, ...DHCP_REPLY[family]], 'allow', 'dhcpServer'));
  }
  const ingress: Step[] = [];
  const egress: Step[] = [];
  if (family === 4) {
    if (port.stateful) ingress.push(ESTABLISHED_STEP);
    ingress.push(...toFixedIps, V4_STEPS.dhcpBroadcast);
    egress.push(V4_STEPS.dhcpDiscover, ANTI_SPOOF, V4_STEPS.dhcpClient, V4_STEPS.dhcpSpoof);
    if (port.stateful) egress.push(ESTABLISHED_STEP);
  } else {
    ingress.push(...V6_STEPS.ndAllow);
    if (port.stateful) ingress.push(ESTABLISHED_STEP);
    if (toFixedIps.length > 0) ingress.push(V6_STEPS.raAllow);
    ingress.push(...toFixedIps, V6_STEPS.dhcpLinkLocal);
    egress.push(...V6_STEPS.fromUnspecified, ANTI_SPOOF, V6_STEPS.raDrop, V6_STEPS.icmpv6Allow, V6_STEPS.dhcpClient, V6_STEPS.dhcpSpoof);
    if (port.stateful) egress.push(ESTABLISHED_STEP);
  }
  for (const steps of [ingress, egress]) {
    steps.push(GROUPS);
    if (port.stateful) steps.push(INVALID_STEP);
    steps.push(FALLBACK);
  }
  return {
    ingress,
    egress,
    spoofPairs: spoofPairs(port, family),
    groupChains: { ingress: chainsOf('ingress'), egress: chainsOf('egress') },
  };
}

/**
 * Source (IP, MAC) pairs a port may send from: its address pairs, its fixed IPs, and for IPv6
 * the EUI-64 link-local of its MAC and of each IPv6 pair's MAC (always, unlike Neutron, which has
 * no IPv6 spoof chain at all on IPv4-only ports). A port without fixed IPs may send any address
 * from its MAC.
 */
function spoofPairs(port: Port, family: Family): SpoofPair[] {
  const pairs: SpoofPair[] = [];
  for (const ap of port.addressPairs) if (ap.prefix.family === family) pairs.push({ prefix: ap.prefix, mac: ap.mac });
  for (const ip of port.fixedIps) if (ip.family === family) pairs.push({ prefix: ip, mac: port.mac });
  if (family === 6) {
    pairs.push({ prefix: linkLocalPrefix(port.mac), mac: port.mac });
    // One link-local per MAC, however many pairs carry it.
    const macs = new Set([port.mac]);
    for (const ap of port.addressPairs) {
      if (ap.prefix.family !== 6 || macs.has(ap.mac)) continue;
      macs.add(ap.mac);
      pairs.push({ prefix: linkLocalPrefix(ap.mac), mac: ap.mac });
    }
  }
  if (port.fixedIps.length === 0) pairs.push({ prefix: undefined, mac: port.mac });
  // Sorted, then equal neighbours dropped: duplicates go without a set of keys (a port may have
  // tens of thousands of pairs, and hashing as many key strings cost more than the sort).
  pairs.sort((a, b) => {
    if (!a.prefix || !b.prefix) return (a.prefix ? 0 : 1) - (b.prefix ? 0 : 1) || compareStrings(a.mac, b.mac);
    return comparePrefix(a.prefix, b.prefix) || compareStrings(a.mac, b.mac);
  });
  let n = 0;
  for (const p of pairs) {
    const last = n > 0 ? pairs[n - 1]! : undefined;
    if (last && last.mac === p.mac && last.prefix && p.prefix && samePrefix(last.prefix, p.prefix)) continue;
    pairs[n++] = p;
  }
  pairs.length = n;
  return pairs;
}

const samePrefix = (a: Prefix, b: Prefix): boolean => a.family === b.family && a.addr === b.addr && a.len === b.len;

/**
 * Conntrack zones. hybrid: one zone per port (each port has its own bridge, so the two
 * directions of a flow meet in the same zone); linuxbridge: one per network bridge. A zone is
 * a stable hash of the port (or network) id, probed upwards on collision, so adding a port
 * does not renumber the zones of existing ports (and so does not break their connections);
 * `conntrack_zone` pins it.
 */
export function planZones(filtered: readonly Port[], driver: FirewallDriver): ZonePlan[] {
  interface Pending {
    key: string;
    ports: Port[];
    pinned: number | undefined;
    stateful: boolean;
    bridge: string | undefined;
  }
  const pending: Pending[] = [];
  const issues: Issue[] = [];
  if (driver === 'hybrid') {
    const qvbOwner = new Map<string, string>();
    for (const p of filtered) {
      // The hybrid driver's bridge (qbr) and its veth (qvb) are named from the port id's first
      // 11 characters, as Neutron names them: they must be valid names, and distinct.
      const qvb = hybridVeth(p.id);
      if (!isInterfaceName(qvb)) {
        issues.push({ code: 'bad-interface-name', path: child('$.devices', p.id), message: 'the port id cannot form the hybrid driver\'s qvb device name (use letters, digits, "_", ".", "-")' });
      }
      const other = qvbOwner.get(qvb);
      if (other !== undefined) {
        issues.push({
          code: 'duplicate-device',
          path: child('$.devices', p.id),
          message: `the hybrid driver names this port's bridge devices (${qvb}, qbr…) from the first 11 characters of its id, like port "${other}"'s: ids must differ there`,
        });
      } else qvbOwner.set(qvb, p.id);
      pending.push({ key: p.id, ports: [p], pinned: p.pinnedZone, stateful: p.stateful, bridge: undefined });
    }
  } else {
    const byNet = new Map<string, Port[]>();
    for (const p of filtered) {
      if (p.networkId === undefined) {
        issues.push({ code: 'required', path: child(child('$.devices', p.id), 'network_id'), message: 'is required with the linuxbridge driver (conntrack zones are per network bridge)' });
        continue;
      }
      const l = byNet.get(p.networkId);
      if (l) l.push(p);
      else byNet.set(p.networkId, [p]);
    }
    const bridgeOwner = new Map<string, string>();
    for (const [net, ports] of [...byNet].sort((a, b) => compareStrings(a[0], b[0]))) {
      const bridge = networkBridge(net);
      if (!isInterfaceName(bridge)) {
        issues.push({ code: 'bad-interface-name', path: child(child('$.devices', ports[0]!.id), 'network_id'), message: `bridge name "${bridge}" derived from it is not a valid interface name` });
      }
      // Neutron names the bridge from the network id's first 11 characters: the kernel would see
      // one device for both networks (and one conntrack zone rule would shadow the other).
      const other = bridgeOwner.get(bridge);
      if (other !== undefined) {
        issues.push({
          code: 'duplicate-device',
          path: child(child('$.devices', ports[0]!.id), 'network_id'),
          message: `networks ${JSON.stringify(other)} and ${JSON.stringify(net)} both map to the bridge device ${bridge} (the first 11 characters of the network id): ids must differ there`,
        });
      } else bridgeOwner.set(bridge, net);
      const stateful = new Set(ports.map((p) => p.stateful));
      if (stateful.size > 1) {
        const odd = ports.find((p) => p.stateful !== ports[0]!.stateful)!;
        issues.push({
          code: 'mixed-stateful',
          path: child(child('$.devices', odd.id), 'security_groups'),
          message: `stateful and stateless ports cannot share network "${net}" with the linuxbridge driver (its bridge has one conntrack zone)`,
        });
      }
      const pins = [...new Set(ports.map((p) => p.pinnedZone).filter((z): z is number => z !== undefined))];
      if (pins.length > 1) {
        issues.push({ code: 'zone-conflict', path: child(child('$.devices', ports[0]!.id), 'conntrack_zone'), message: `ports of network "${net}" pin different zones (${pins.join(', ')})` });
      }
      pending.push({ key: net, ports, pinned: pins[0], stateful: ports[0]!.stateful, bridge });
    }
  }
  if (issues.length > 0) throw new ModelError(issues);

  const used = new Set<number>(pending.flatMap((p) => (p.pinned !== undefined ? [p.pinned] : [])));
  const span = CT_ZONE_MAX - CT_ZONE_MIN + 1;
  // The probe below finds a free zone only if there is one: count first, never loop on a full range.
  let free = span;
  for (const z of used) if (z >= CT_ZONE_MIN) free--;
  const unpinned = pending.filter((p) => p.stateful && p.pinned === undefined);
  if (unpinned.length > free) {
    const first = unpinned[free]!;
    const what = driver === 'hybrid' ? 'stateful filtered ports (hybrid driver: a zone per port)' : 'networks with stateful filtered ports (linuxbridge driver: a zone per network)';
    throw new ModelError([
      {
        code: 'zones-exhausted',
        path: driver === 'hybrid' ? child('$.devices', first.key) : child(child('$.devices', first.ports[0]!.id), 'network_id'),
        message:
          `no conntrack zone left: ${unpinned.length} ${what} need a zone from ${CT_ZONE_MIN} to ${CT_ZONE_MAX}, ` +
          `and only ${free} of them are free; pin zones below ${CT_ZONE_MIN} with conntrack_zone, or compile fewer ports per host (--host)`,
      },
    ]);
  }
  return pending.map((p) => {
    if (!p.stateful) return { key: p.key, zone: 'notrack' as const, ports: p.ports, bridge: p.bridge };
    let zone = p.pinned;
    if (zone === undefined) {
      zone = CT_ZONE_MIN + (fnv1a(p.key) % span);
      while (used.has(zone)) zone = zone === CT_ZONE_MAX ? CT_ZONE_MIN : zone + 1;
      used.add(zone);
    }
    return { key: p.key, zone, ports: p.ports, bridge: p.bridge };
  });
}

/** 32-bit FNV-1a: a small, stable, well-spread hash for zone numbers. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
