/**
 * conntrack.delta: the connections a change no longer allows, one line per `conntrack -D` call
 * (its arguments), so that a removed permission stops traffic instead of only new connections
 * (Neutron LP #1335375 for rule removal, #1580377 for member removal). Applied last with
 * `xargs -L1 conntrack -D < conntrack.delta` (a filter that matches nothing is not an error;
 * `xargs` goes on after a failed call). What is deleted:
 *
 * - a port that is gone from the host, lost its filtering, or changed zone or statefulness:
 *   every connection of its zone (hybrid: the zone is the port's own), or of its addresses in the
 *   network's shared zone (linuxbridge);
 * - an address a port may no longer send from (fixed IP or allowed pair removed): connections
 *   from and to it in the port's zone;
 * - a group rule a port no longer has: connections in the port's zone that were initiated in the
 *   rule's direction (ingress: to the port's addresses; egress: from them), narrowed by the rule's
 *   protocol, single destination port and remote prefix where it has them;
 * - a member gone from a remote group (or address group) that a kept rule references: the
 *   member's connections in the rule's direction (ingress: from it; egress: to it), narrowed by
 *   the rule likewise, in every zone: one line per member and rule, not per port (Neutron writes
 *   one per member and port; a 1 % member churn in a large cloud made that hundreds of
 *   thousands of lines).
 *
 * The filters follow the removed permission, not every other rule that might also allow the same
 * connection: a connection allowed by both a removed rule (or membership) and a kept rule is
 * deleted too, and a member's connections to ports whose rules never named its group go with
 * the rest of its connections of that rule's shape. That over-deletion touches only connections
 * of a permission that changed, and is harmless for TCP and UDP: the next packet creates a new
 * entry that the kept rule accepts (conntrack picks up established TCP flows, tcp_loose).
 */
import { endLines } from '../backends/shared/text.js';
import { type Family, type Prefix, formatAddress, formatPrefix, hostMask, isHost } from '../net/ip.js';
import type { Direction, Port } from '../model/types.js';
import { samePort } from '../cloud/affected.js';
import type { HostPlan, PortPlan, Rule, SetPlan } from '../plan/ir.js';

const FAMILY_ARG = { 4: 'ipv4', 6: 'ipv6' } as const;
const DIRECTIONS: readonly Direction[] = ['ingress', 'egress'];
const FAMILIES: readonly Family[] = [4, 6];

export function conntrackBetween(from: HostPlan, to: HostPlan): string {
  // A members-only change shares the ports and chains (delta/members.ts): only lost members count.
  if (from.ports === to.ports && from.groupChains === to.groupChains && from.zones === to.zones) return lostMembersOnly(from, to);
  const lines = new Set<string>();
  const zoneOf = zoneIndex(from);
  const newZoneOf = zoneIndex(to);
  const newPorts = new Map(to.ports.map((p) => [p.port.id, p]));
  const newSets = new Map(to.sets.map((s) => [setKey(s), s]));
  const oldSets = new Map(from.sets.map((s) => [setKey(s), s]));
  const shared = from.driver === 'linuxbridge';
  const keys = ruleKeys();
  const rulesBefore = portRulesOf(from, keys);
  const rulesAfter = portRulesOf(to, keys);
  // Members each set lost, computed once per set (many ports reference the same set).
  const lostBySet = new Map<string, readonly Prefix[]>();
  const lost = (key: string): readonly Prefix[] => {
    let out = lostBySet.get(key);
    if (out !== undefined) return out;
    const was = oldSets.get(key);
    out = was === undefined ? [] : membersLost(was, newSets.get(key));
    lostBySet.set(key, out);
    return out;
  };

  const memberRules = new Map<string, { set: string; f: Family; d: Direction; r: Rule }>();
  // Chains whose rules are the same objects in both plans (a members-only change shares them):
  // no rule of theirs was removed, and their set rules are recorded once per chain.
  const seen = new Set<string>();
  const sameChains = (a: readonly string[], b: readonly string[]): boolean =>
    a.length === b.length && a.every((k, i) => k === b[i] && from.groupChains.get(k)?.rules === to.groupChains.get(k)?.rules);
  for (const p of from.ports) {
    const zone = zoneOf.get(p.port.id);
    if (zone === undefined || zone === 'notrack') continue;
    const n = newPorts.get(p.port.id);
    const addrs = (f: Family): Prefix[] => addresses(p.port, f);
    if (n === undefined || newZoneOf.get(p.port.id) !== zone || to.driver !== from.driver) {
      // The port's connections: all of its own zone, or its addresses' in the network's zone.
      for (const f of FAMILIES) {
        if (!shared) lines.add(`-f ${FAMILY_ARG[f]} -w ${zone}`);
        else for (const a of addrs(f)) for (const side of ['src', 'dst'] as const) lines.add(filter(f, zone, { [side]: a }));
      }
      continue;
    }
    const samePortData = p.port === n.port || samePort(p.port, n.port);
    for (const f of FAMILIES) {
      if (!samePortData) {
        const kept = new Set(addresses(n.port, f).map(formatPrefix));
        for (const a of addrs(f)) {
          if (kept.has(formatPrefix(a))) continue;
          for (const side of ['src', 'dst'] as const) lines.add(filter(f, zone, { [side]: a }));
        }
      }
      for (const d of DIRECTIONS) {
        // Ports of the same groups share their chain list: unchanged rules are looked at once.
        const chains = p.families[f].groupChains[d];
        if (sameChains(chains, n.families[f].groupChains[d])) {
          // No rule removed: only the set rules matter, recorded once per chain.
          for (const k of chains) {
            if (seen.has(k)) continue;
            seen.add(k);
            for (const r of from.groupChains.get(k)?.rules ?? []) {
              for (const m of r.matches) if (m.kind === 'set') memberRules.set(`${setKey(m.set)}\u0000${d}\u0000${keys(r)}`, { set: setKey(m.set), f, d, r });
            }
          }
          continue;
        }
        const before = rulesBefore(p, f, d);
        const after = rulesAfter(n, f, d);
        const mine = addresses(n.port, f);
        for (const [key, r] of before) {
          const still = after.get(key);
          if (still === undefined) {
            for (const line of ruleFilters(f, zone, d, r, mine, shared)) lines.add(line);
            continue;
          }
          // The rule stays; members its set lost no longer have its permission (below).
          for (const m of r.matches) if (m.kind === 'set') memberRules.set(`${setKey(m.set)}\u0000${d}\u0000${key}`, { set: setKey(m.set), f, d, r });
        }
      }
    }
  }
  // A member that left a set loses the permission of every rule naming the set: its connections
  // are deleted once per rule, in every zone (one line per member and rule however many ports
  // use the rule; see the header for why this is the right width).
  for (const { set, f, d, r } of memberRules.values()) addMemberLines(lines, f, d, r, lost(set));
  return lines.size === 0 ? '' : endLines([...lines].sort());
}

/** The members a set lost (all of them when the set is gone). */
function membersLost(was: SetPlan, is: SetPlan | undefined): readonly Prefix[] {
  if (is === undefined) return was.members.prefixes();
  if (is.members === was.members) return [];
  return was.members.difference(is.members).onlyHere.map((i) => was.members.prefixAt(i));
}

/** The lines for members a kept rule no longer lets through: one per member, in every zone. */
function addMemberLines(lines: Set<string>, f: Family, d: Direction, r: Rule, gone: readonly Prefix[]): void {
  for (const e of gone) for (const line of ruleFilters(f, undefined, d, r, [], false, e)) lines.add(line);
}

/**
 * The members-only case (the next plan shares the old one's ports, chains and zones): the
 * connections of the members each set lost, once per rule naming the set. Nothing is looked at
 * when no set lost a member (a VM joining a group), and only the rules of sets that did otherwise.
 */
function lostMembersOnly(from: HostPlan, to: HostPlan): string {
  const newSets = new Map(to.sets.map((s) => [setKey(s), s]));
  const lostBySet = new Map<string, readonly Prefix[]>();
  for (const was of from.sets) {
    const gone = membersLost(was, newSets.get(setKey(was)));
    if (gone.length > 0) lostBySet.set(setKey(was), gone);
  }
  if (lostBySet.size === 0) return '';
  const keys = ruleKeys();
  const lines = new Set<string>();
  const done = new Set<string>();
  for (const g of from.groupChains.values()) {
    for (const r of g.rules) {
      for (const m of r.matches) {
        if (m.kind !== 'set') continue;
        const gone = lostBySet.get(setKey(m.set));
        if (gone === undefined) continue;
        const once = `${setKey(m.set)}\u0000${g.direction}\u0000${keys(r)}`;
        if (done.has(once)) continue;
        done.add(once);
        addMemberLines(lines, g.family, g.direction, r, gone);
      }
    }
  }
  return lines.size === 0 ? '' : endLines([...lines].sort());
}

function zoneIndex(plan: HostPlan): Map<string, number | 'notrack'> {
  const out = new Map<string, number | 'notrack'>();
  for (const z of plan.zones) for (const p of z.ports) out.set(p.id, z.zone);
  return out;
}

const setKey = (s: { kind: string; id: string; family: Family }): string => `${s.kind}\u0000${s.family}\u0000${s.id}`;

/** The addresses a port's traffic may carry: fixed IPs and allowed address pairs. */
function addresses(port: Port, f: Family): Prefix[] {
  const out = port.fixedIps.filter((p) => p.family === f);
  for (const pair of port.addressPairs) if (pair.prefix.family === f) out.push(pair.prefix);
  return out;
}

/**
 * The group rules a port applies in one direction and family, by a key of what they match;
 * memoised by the port's chain list (ports of the same groups share it).
 */
function portRulesOf(plan: HostPlan, keys: RuleKeys): (p: PortPlan, f: Family, d: Direction) => ReadonlyMap<string, Rule> {
  const memo = new Map<string, Map<string, Rule>>();
  return (p, f, d) => {
    const chains = p.families[f].groupChains[d];
    const id = chains.join('\u0001');
    let out = memo.get(id);
    if (out === undefined) {
      out = new Map<string, Rule>();
      for (const key of chains) for (const r of plan.groupChains.get(key)?.rules ?? []) out.set(keys(r), r);
      memo.set(id, out);
    }
    return out;
  };
}

type RuleKeys = (r: Rule) => string;

/** What a rule matches and decides, as text; memoised (the ports of a group share its rules). */
function ruleKeys(): RuleKeys {
  const memo = new Map<Rule, string>();
  return (r) => {
    let k = memo.get(r);
    if (k === undefined) memo.set(r, (k = JSON.stringify(r.matches, (_, v) => (typeof v === 'bigint' ? v.toString() : v)) + r.verdict));
    return k;
  };
}

/**
 * The deletions for connections a rule allowed for a port: initiated towards the port's
 * addresses (ingress) or from them (egress), narrowed by the rule's protocol, single port and
 * remote prefix, or by one member `peer` of its remote set.
 */
function ruleFilters(f: Family, zone: number | undefined, d: Direction, r: Rule, mine: readonly Prefix[], shared: boolean, peer?: Prefix): string[] {
  let remote: Prefix | undefined = peer;
  let proto = '';
  for (const m of r.matches) {
    if (m.kind === 'protocol') proto = ` -p ${m.protocol}`;
    else if (m.kind === 'dstPort' && m.range.min === m.range.max && proto !== '') proto += ` --dport ${m.range.min}`;
    else if ((m.kind === 'src' && d === 'ingress') || (m.kind === 'dst' && d === 'egress')) remote ??= m.prefix.len === 0 ? undefined : m.prefix;
  }
  const side = d === 'ingress' ? { remote: 'src', local: 'dst' } : { remote: 'dst', local: 'src' };
  // The port's own addresses tell connections it accepted from those it opened. A lost member
  // in a port's own zone (hybrid) needs no address: the member's side already says which way
  // (a port without fixed IPs may use any address: then the zone alone narrows it).
  const locals: (Prefix | undefined)[] = (peer !== undefined && !shared) || mine.length === 0 ? [undefined] : [...mine];
  return locals.map((local) => filter(f, zone, { [side.remote]: remote, [side.local]: local }) + proto);
}

function filter(f: Family, zone: number | undefined, ends: { src?: Prefix | undefined; dst?: Prefix | undefined }): string {
  let line = zone === undefined ? `-f ${FAMILY_ARG[f]}` : `-f ${FAMILY_ARG[f]} -w ${zone}`;
  if (ends.src) line += ` -s ${formatAddress(f, ends.src.addr)}${mask('src', ends.src)}`;
  if (ends.dst) line += ` -d ${formatAddress(f, ends.dst.addr)}${mask('dst', ends.dst)}`;
  return line;
}

/** conntrack takes a prefix as an address and a mask (`--mask-src 255.255.255.0`). */
function mask(side: 'src' | 'dst', p: Prefix): string {
  if (isHost(p)) return '';
  const all = hostMask(p.family, 0);
  return ` --mask-${side} ${formatAddress(p.family, all & ~hostMask(p.family, p.len))}`;
}
