/**
 * Which hosts does a change touch? Exactly those whose compiled output differs: a host is listed
 * if and only if compiling it from the new model (same options) gives other files than from the
 * old one. Computed from what changed and the indexes of the two states, never by compiling.
 *
 * A host's files are a function of four things, and every difference in them shows in the files:
 *   - the options, as resolved against the model's own (`options`: driver, remote-group mode);
 *   - its filtered ports, each as the plan sees it (device, addresses, anti-spoofing pairs, the
 *     group chains it jumps to, its conntrack zone); unfiltered ports print nothing;
 *   - the chains of the groups those ports use: each group's planned rules (with their comment
 *     when comments are on; in expanded mode the members of the groups they reference);
 *   - the members of every set those chains match (as the backend prints them: ipset entries,
 *     or the host and prefix elements of nft's two sets).
 * (This holds for models whose hosts compile: a change that leaves a host's ports invalid together,
 * two devices of one name say, throws ModelError here, as compiling the host would.)
 * So: a host whose own ports changed is compared port by port; a group whose chains changed
 * reaches the hosts that use it (before or after); a set whose entries changed reaches the hosts
 * whose chains match it. Everything else is equal on both sides by construction.
 */
import { type Backend, type CompileOptions, type PreparedModel, cloudStateOf, resolveOptions } from '../compile.js';
import { ModelError, child } from '../model/errors.js';
import { selectHost } from '../model/select-host.js';
import type { Direction, GroupRule, Port, SecurityGroup } from '../model/types.js';
import type { Family } from '../net/ip.js';
import { prefixKey } from '../net/ip.js';
import { AddressList } from '../net/list.js';
import { type ChainKeys, groupChainRules, matchesKey, planPortFamily, planZones, setMembers } from '../plan/host.js';
import type { Rule, Step, ZonePlan } from '../plan/ir.js';
import { membershipElements, zoneBridges } from '../backends/nft/layout.js';
import { PMap } from './pmap.js';
import { type CloudState, addressGroupRef, groupRef } from './state.js';

/** Compile options without `host`: affected asks about every host. */
export type AffectedOptions = Omit<CompileOptions, 'host'>;

export interface HostChange {
  readonly host: string;
  /** The model's options changed how this host compiles (driver or remote-group mode). */
  readonly options: boolean;
  /** Groups whose chains this host prints differently (rules changed, or appeared or went). */
  readonly groups: readonly string[];
  /** Sets whose entries changed: `group:<id>:IPv4`, `addressGroup:<id>:IPv6`, ... */
  readonly sets: readonly string[];
  /** Its conntrack zones changed (as printed: per port with hybrid, per network with linuxbridge). */
  readonly zones: boolean;
  /** Filtered ports of this host, by id, that came, went or changed (as printed; zones aside). */
  readonly ports: { readonly added: readonly string[]; readonly removed: readonly string[]; readonly changed: readonly string[] };
}

export interface Affected {
  /** Hosts whose compiled files differ, sorted. */
  readonly hosts: readonly string[];
  /** Why, per host (same order). */
  readonly changes: readonly HostChange[];
}

const FAMILIES: readonly Family[] = [4, 6];
const DIRECTIONS: readonly Direction[] = ['ingress', 'egress'];

interface Resolved {
  readonly driver: 'hybrid' | 'linuxbridge';
  readonly remoteGroups: 'ipset' | 'expanded';
  readonly comments: boolean;
  readonly aggregate: boolean;
  readonly backend: Backend;
}

/** One state as seen with one set of resolved options; memoises per-group answers. */
class Side {
  private readonly chainViews = new Map<string, string | undefined>();
  private readonly nonEmpty = new Map<string, ChainKeys>();
  private readonly users = new Map<string, ReadonlySet<string>>();

  constructor(
    readonly state: CloudState,
    readonly o: Resolved,
  ) {}

  /** The planned rules of a group's four chains as printed; undefined if it prints none. */
  chainView(id: string): string | undefined {
    if (this.chainViews.has(id)) return this.chainViews.get(id);
    const g = this.state.groups.get(id);
    let view: string | undefined;
    if (g) {
      let text = '';
      let any = false;
      for (const family of FAMILIES) {
        for (const direction of DIRECTIONS) {
          const rules = groupChainRules(this.state.model, g.rules, direction, family, this.o.remoteGroups, new Map());
          if (rules.length > 0) any = true;
          text += `${direction}/${family}\n`;
          for (const r of rules) text += ruleView(r, this.o.comments) + '\n';
        }
      }
      view = any ? text : undefined;
    }
    this.chainViews.set(id, view);
    return view;
  }

  /** Which of a group's chains have rules (what its ports jump to), without planning them. */
  chainKeys(id: string): ChainKeys {
    let keys = this.nonEmpty.get(id);
    if (keys) return keys;
    keys = { ingress: { 4: undefined, 6: undefined }, egress: { 4: undefined, 6: undefined } };
    const g = this.state.groups.get(id);
    for (const r of g?.rules ?? []) if (this.yieldsRule(r)) keys[r.direction][r.family] = `${id}\u0000${r.direction}\u0000${r.family}`;
    this.nonEmpty.set(id, keys);
    return keys;
  }

  /** A rule yields at least one planned rule, except a remote with no member of its family in expanded mode. */
  private yieldsRule(r: GroupRule): boolean {
    if (this.o.remoteGroups === 'ipset' || (r.remote.kind !== 'group' && r.remote.kind !== 'addressGroup')) return true;
    const list = r.remote.kind === 'group' ? this.state.members.get(r.remote.id) : this.state.addressGroups.get(r.remote.id);
    return (list?.ofFamily(r.family).length ?? 0) > 0;
  }

  /** Hosts with a filtered port in the group. */
  usersOf(id: string): ReadonlySet<string> {
    const hosts = this.users.get(id);
    if (hosts) return hosts;
    const out = new Set<string>();
    for (const pid of this.state.portsOfGroup.get(id) ?? []) {
      const p = this.state.ports.get(pid);
      if (p?.kind === 'filtered' && p.host !== undefined) out.add(p.host);
    }
    this.users.set(id, out);
    return out;
  }

  /** A set's entries as the backend prints them; undefined without that list. */
  setView(kind: 'group' | 'addressGroup', id: string, family: Family): string {
    const all = (kind === 'group' ? this.state.members.get(id) : this.state.addressGroups.get(id)) ?? AddressList.EMPTY;
    const members = setMembers(all.ofFamily(family), this.o.aggregate);
    if (this.o.backend === 'nft') {
      const e = membershipElements(members);
      return `${e.hosts.join(' ')}\n${e.nets.join(' ')}`;
    }
    return members.entries().join(' ');
  }

  /** Hosts whose chains match the set (some used group has a rule of that family with this remote). */
  hostsMatching(kind: 'group' | 'addressGroup', id: string, family: Family): Set<string> {
    const out = new Set<string>();
    const ref = kind === 'group' ? groupRef(id) : addressGroupRef(id);
    for (const gid of this.state.refsTo.get(ref) ?? []) {
      const g = this.state.groups.get(gid);
      if (!g?.rules.some((r) => r.family === family && r.remote.kind === kind && r.remote.id === id)) continue;
      for (const h of this.usersOf(gid)) out.add(h);
    }
    return out;
  }

  /** Every filtered port of a host as printed (by port id), and its zones as printed. */
  hostView(host: string): { ports: Map<string, string>; zones: string } {
    const filtered = (this.state.portsByHost.get(host) ?? []).filter((p) => p.kind === 'filtered');
    const chainKeys = new Map<string, ChainKeys>();
    for (const p of filtered) for (const g of p.groups) if (!chainKeys.has(g)) chainKeys.set(g, this.chainKeys(g));
    // Zones are compared as the host prints them, not per port: with the linuxbridge driver a port
    // that moves to another network of the host changes nothing printed.
    const zones = planZones(filtered, this.o.driver);
    const ports = new Map<string, string>();
    for (const p of filtered) {
      let v = `${p.device}\n`;
      for (const f of FAMILIES) {
        const fp = planPortFamily(p, f, chainKeys);
        v += stepsView(fp.ingress, this.o.comments) + '\n' + stepsView(fp.egress, this.o.comments) + '\n';
        v += fp.spoofPairs.map((s) => `${s.prefix ? prefixKey(s.prefix) : '*'} ${s.mac}`).join(',') + '\n';
        v += fp.groupChains.ingress.join(',') + '\n' + fp.groupChains.egress.join(',') + '\n';
      }
      ports.set(p.id, v);
    }
    return { ports, zones: this.zonesView(zones) };
  }

  private zonesView(zones: readonly ZonePlan[]): string {
    if (this.o.backend === 'nft') {
      const z = zoneBridges(zones);
      return `${z.zoned.join(',')}\n${z.notrack.join(',')}\n${z.notrackPorts.join(',')}`;
    }
    // iptables: the raw table's rules in zone order, the zone's key in a comment.
    return zones
      .map((z) => `${this.o.comments ? z.key : ''} ${z.zone} ${z.bridge ?? z.ports.map((p) => `${p.id}/${p.device}`).join(',')}`)
      .join('\n');
  }
}

function ruleView(r: Rule, comments: boolean): string {
  let v = `${matchesKey(r.matches)}${r.verdict}`;
  if (comments && r.comment !== undefined) v += typeof r.comment === 'string' ? ` #${r.comment}` : ` #${r.comment.group} ${r.comment.id ?? `#${r.comment.rule}`}`;
  return v;
}

function stepsView(steps: readonly Step[], comments: boolean): string {
  return steps.map((s) => (s.kind === 'rule' ? ruleView(s.rule, comments) : s.kind)).join(';');
}

class Changes {
  private readonly byHost = new Map<string, { options: boolean; zones: boolean; groups: Set<string>; sets: Set<string>; added: string[]; removed: string[]; changed: string[] }>();
  of(host: string) {
    let c = this.byHost.get(host);
    if (!c) this.byHost.set(host, (c = { options: false, zones: false, groups: new Set(), sets: new Set(), added: [], removed: [], changed: [] }));
    return c;
  }
  result(): Affected {
    const hosts = [...this.byHost.keys()].sort();
    const sorted = (s: Iterable<string>): string[] => [...s].sort();
    return {
      hosts,
      changes: hosts.map((host) => {
        const c = this.byHost.get(host)!;
        return {
          host,
          options: c.options,
          zones: c.zones,
          groups: sorted(c.groups),
          sets: sorted(c.sets),
          ports: { added: sorted(c.added), removed: sorted(c.removed), changed: sorted(c.changed) },
        };
      }),
    };
  }
}

/** Every port must name its host: a cloud whose ports are not all bound cannot be compiled per host. */
function checkBound(state: CloudState, which: string): void {
  const unbound = state.model.unboundPorts;
  if (unbound.length === 0) return;
  throw new ModelError(
    unbound.map((p) => ({ code: 'required' as const, path: child(child('$.devices', p.id), 'binding:host_id'), message: `is required to tell which hosts a change affects (${which} model)` })),
  );
}

/** The hosts whose compiled files differ between two states of a cloud (see the header). */
function affectedHosts(oldState: CloudState, newState: CloudState, options: AffectedOptions = {}): Affected {
  checkBound(oldState, 'old');
  checkBound(newState, 'new');
  const resolve = (s: CloudState): Resolved => {
    const r = resolveOptions(s.model, options);
    return { driver: r.driver, remoteGroups: r.remoteGroups, comments: r.comments, aggregate: r.aggregate, backend: r.backend };
  };
  const a = new Side(oldState, resolve(oldState));
  const b = new Side(newState, resolve(newState));
  const out = new Changes();

  // Options: the iptables header names the driver and the mode; otherwise a driver change shows
  // in the zones of every filtered port, and a mode change in every chain that matches a set.
  const driverChanged = a.o.driver !== b.o.driver;
  const modeChanged = a.o.remoteGroups !== b.o.remoteGroups;
  if (driverChanged || modeChanged) {
    const hosts = new Set<string>();
    if (a.o.backend === 'iptables') {
      for (const h of oldState.portsByHost.keys()) hosts.add(h);
      for (const h of newState.portsByHost.keys()) hosts.add(h);
    } else {
      for (const side of [a, b]) {
        if (driverChanged) for (const [h, ports] of side.state.portsByHost) if (ports.some((p) => p.kind === 'filtered')) hosts.add(h);
        // The ipset side matches sets where the expanded side has per-member rules (or none).
        if (modeChanged && side.o.remoteGroups === 'ipset') {
          for (const groups of side.state.refsTo.values()) for (const g of groups) for (const h of side.usersOf(g)) hosts.add(h);
        }
      }
    }
    for (const h of hosts) out.of(h).options = true;
  }

  // Ports: hosts with a port that came, went or changed are compared port by port.
  const portIds = PMap.changedKeys(oldState.ports, newState.ports, samePort);
  const touched = new Set<string>();
  for (const id of portIds) {
    for (const p of [oldState.ports.get(id), newState.ports.get(id)]) if (p?.host !== undefined) touched.add(p.host);
  }
  for (const host of touched) {
    // A change that leaves a host uncompilable (two devices with one name, a zone pinned twice) is
    // bad input, even where it prints nothing (an unfiltered port): say so now.
    selectHost(newState.model, host);
    const va = a.hostView(host);
    const vb = b.hostView(host);
    const zones = va.zones !== vb.zones;
    const c = { added: [] as string[], removed: [] as string[], changed: [] as string[] };
    for (const [id, v] of va.ports) {
      const w = vb.ports.get(id);
      if (w === undefined) c.removed.push(id);
      else if (v !== w) c.changed.push(id);
    }
    for (const id of vb.ports.keys()) if (!va.ports.has(id)) c.added.push(id);
    if (zones || c.added.length + c.removed.length + c.changed.length > 0) {
      const h = out.of(host);
      h.zones ||= zones;
      h.added.push(...c.added);
      h.removed.push(...c.removed);
      h.changed.push(...c.changed);
    }
  }

  // Groups: a changed chain reaches the hosts that print it before or after.
  const groupIds = new Set(PMap.changedKeys(oldState.groups, newState.groups, sameGroup));
  const memberIds = PMap.changedKeys(oldState.members, newState.members, sameList);
  const addressGroupIds = PMap.changedKeys(oldState.addressGroups, newState.addressGroups, sameList);
  if (a.o.remoteGroups === 'expanded' || b.o.remoteGroups === 'expanded') {
    // Expanded chains hold the members of the groups and address groups their rules reference.
    for (const side of [a, b]) {
      for (const id of memberIds) for (const g of side.state.refsTo.get(groupRef(id)) ?? []) groupIds.add(g);
      for (const id of addressGroupIds) for (const g of side.state.refsTo.get(addressGroupRef(id)) ?? []) groupIds.add(g);
    }
  }
  for (const id of groupIds) {
    const va = a.chainView(id);
    const vb = b.chainView(id);
    if (va === vb) continue;
    const ua = a.usersOf(id);
    const ub = b.usersOf(id);
    for (const host of new Set([...ua, ...ub])) {
      if ((ua.has(host) ? va : undefined) !== (ub.has(host) ? vb : undefined)) out.of(host).groups.add(id);
    }
  }

  // Sets: changed entries reach every host that matches the set, before or after (a host that
  // matches it on one side only differs anyway: the set itself comes or goes).
  if (a.o.remoteGroups === 'ipset' && b.o.remoteGroups === 'ipset') {
    const sets: ['group' | 'addressGroup', string][] = [
      ...memberIds.map((id) => ['group', id] as ['group', string]),
      ...addressGroupIds.map((id) => ['addressGroup', id] as ['addressGroup', string]),
    ];
    for (const [kind, id] of sets) {
      for (const family of FAMILIES) {
        if (a.setView(kind, id, family) === b.setView(kind, id, family)) continue;
        const name = `${kind}:${id}:IPv${family}`;
        for (const side of [a, b]) for (const host of side.hostsMatching(kind, id, family)) out.of(host).sets.add(name);
      }
    }
  }
  return out.result();
}

// ---- equality of parsed objects (to skip no-op replacements; the views decide the rest) -------

const samePrefix = (x: { family: number; addr: bigint; len: number }, y: { family: number; addr: bigint; len: number }): boolean =>
  x.family === y.family && x.addr === y.addr && x.len === y.len;

function sameArray<T>(x: readonly T[], y: readonly T[], eq: (a: T, b: T) => boolean): boolean {
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (!eq(x[i]!, y[i]!)) return false;
  return true;
}

export function samePort(x: Port, y: Port): boolean {
  return (
    x.id === y.id &&
    x.device === y.device &&
    x.mac === y.mac &&
    x.kind === y.kind &&
    x.networkId === y.networkId &&
    x.host === y.host &&
    x.stateful === y.stateful &&
    x.pinnedZone === y.pinnedZone &&
    sameArray(x.groups, y.groups, (a, b) => a === b) &&
    sameArray(x.fixedIps, y.fixedIps, samePrefix) &&
    sameArray(x.addressPairs, y.addressPairs, (a, b) => a.mac === b.mac && samePrefix(a.prefix, b.prefix))
  );
}

function sameRule(x: GroupRule, y: GroupRule): boolean {
  const rx = x.remote;
  const ry = y.remote;
  return (
    x.direction === y.direction &&
    x.family === y.family &&
    x.protocol === y.protocol &&
    x.ports?.min === y.ports?.min &&
    x.ports?.max === y.ports?.max &&
    x.icmp?.type === y.icmp?.type &&
    x.icmp?.code === y.icmp?.code &&
    rx.kind === ry.kind &&
    (rx.kind !== 'prefix' || samePrefix(rx.prefix, (ry as typeof rx).prefix)) &&
    (!('id' in rx) || rx.id === (ry as typeof rx).id) &&
    x.origin.group === y.origin.group &&
    x.origin.index === y.origin.index &&
    x.origin.id === y.origin.id
  );
}

export function sameGroup(x: SecurityGroup, y: SecurityGroup): boolean {
  return x.id === y.id && x.stateful === y.stateful && sameArray(x.rules, y.rules, sameRule);
}

export function sameList(x: AddressList, y: AddressList): boolean {
  return x.length === y.length && sameArray(x.entries(), y.entries(), (a, b) => a === b);
}

/**
 * The hosts whose compiled files differ between two prepared models of one cloud (`next` made by
 * `prepare` from a new model, or by `old.patch(...)`), with the reasons per host.
 */
export function affected(old: PreparedModel, next: PreparedModel, options: AffectedOptions = {}): Affected {
  return affectedHosts(cloudStateOf(old), cloudStateOf(next), options);
}

/** The hosts a prepared cloud model names (`binding:host_id` of its devices), sorted. */
export function hosts(prepared: PreparedModel): string[] {
  return [...cloudStateOf(prepared).portsByHost.keys()].sort();
}
