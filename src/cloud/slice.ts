/**
 * The smallest model that compiles one host of a cloud identically: what the server sends that
 * host's agent instead of the cloud (or Neutron's per-device payload with its rules expanded per
 * member). `compile(slice(cloud, h), o)` gives byte-for-byte the files of
 * `compile(cloud, { ...o, host: h })`, for every option set.
 *
 * It holds: the host's filtered devices (normalised; unfiltered ports print nothing); the groups
 * they use, with their rules as given (a rule's position names it in comments); for every group
 * those rules reference, its member addresses of the families referenced (minus what the host's
 * own devices add anyway), and not its ports; the address groups referenced (families referenced
 * only); the model's options. Nothing else.
 */
import { type PreparedModel, cloudStateOf } from '../compile.js';
import { tapDevice } from '../model/devices.js';
import type { Family } from '../net/ip.js';
import { type Prefix, addressText, isHost } from '../net/ip.js';
import { AddressList } from '../net/list.js';
import type { Port } from '../model/types.js';
import { type CloudState, rawOf } from './state.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

/** The rule fields the parser reads (`stateful` goes to the group), and `id`, which comments print. */
const RULE_KEYS = [
  'direction', 'ethertype', 'protocol', 'port_range_min', 'port_range_max', 'remote_ip_prefix', 'remote_group_id',
  'remote_address_group_id', 'source_ip_prefix', 'dest_ip_prefix', 'id',
] as const;

const FAMILY_KEY: Readonly<Record<Family, string>> = { 4: 'IPv4', 6: 'IPv6' };

const prefixText = (p: Prefix): string => (isHost(p) ? addressText(p) : `${addressText(p)}/${p.len}`);

function rawRules(group: Json | undefined): Json[] {
  if (Array.isArray(group)) return group;
  if (group !== null && typeof group === 'object') {
    const list = group['rules'] ?? group['security_group_rules'];
    return Array.isArray(list) ? list : [];
  }
  return [];
}

/** A rule with only what the parser reads (no null fields: the parser takes them as absent). */
function ruleJson(r: Json): Obj {
  const out: Obj = {};
  if (r === null || typeof r !== 'object' || Array.isArray(r)) return out;
  for (const k of RULE_KEYS) {
    const v = r[k];
    if (v !== undefined && v !== null) out[k] = v;
  }
  return out;
}

// Parts every slice of a state version shares, made once and frozen (a slice shares them: it is
// JSON to send, and a caller that changes one gets an error instead of changing another slice).
// Keyed by the immutable objects of the state, so they live as long as those do.
const RULES = new WeakMap<object, readonly Obj[]>();
const ENTRIES = new WeakMap<AddressList, readonly string[]>();
const OWN = new WeakMap<Port, readonly string[]>();

/** A group's rules as the slice sends them (their input list, model fields only). */
function sliceRules(raw: Json | undefined): readonly Obj[] {
  if (raw === null || typeof raw !== 'object') return [];
  let rules = RULES.get(raw);
  if (!rules) RULES.set(raw, (rules = Object.freeze(rawRules(raw).map((r) => Object.freeze(ruleJson(r))))));
  return rules;
}

/** A member list's entry texts, frozen. */
function frozenEntries(list: AddressList): readonly string[] {
  let e = ENTRIES.get(list);
  if (!e) ENTRIES.set(list, (e = Object.freeze(list.entries().slice())));
  return e;
}

/** The member entries a port adds to its groups (its fixed IPs and address pairs). */
function ownEntries(p: Port): readonly string[] {
  let e = OWN.get(p);
  if (!e) OWN.set(p, (e = AddressList.of([...p.fixedIps, ...p.addressPairs.map((ap) => ap.prefix)]).entries()));
  return e;
}

/** Position of each entry of a list (made when a host first subtracts its own entries). */
const POSITIONS = new WeakMap<readonly string[], Map<string, number>>();

/**
 * A list without a few of its entries (the host's own): copied in runs around them, not entry by
 * entry, from the list's own (unfrozen) entries: copying a frozen array leaves V8's fast path.
 */
function without(list: readonly string[], few: ReadonlySet<string>): readonly string[] | undefined {
  let pos = POSITIONS.get(list);
  if (!pos) {
    pos = new Map();
    for (let i = 0; i < list.length; i++) pos.set(list[i]!, i);
    POSITIONS.set(list, pos);
  }
  const at: number[] = [];
  for (const e of few) {
    const i = pos.get(e);
    if (i !== undefined) at.push(i);
  }
  if (at.length === 0) return undefined;
  at.sort((a, b) => a - b);
  const runs: (readonly string[])[] = [];
  let from = 0;
  for (const i of at) {
    runs.push(list.slice(from, i));
    from = i + 1;
  }
  runs.push(list.slice(from));
  return ([] as string[]).concat(...runs);
}

/** The slice of one host (see the header) from a cloud state. */
function sliceState(state: CloudState, host: string): Obj {
  const raw = rawOf(state);
  const ports = (state.portsByHost.get(host) ?? []).filter((p) => p.kind === 'filtered');

  const used = [...new Set(ports.flatMap((p) => p.groups))].sort();
  // Remotes the used groups' rules reference, with the families they are referenced in.
  const remoteGroups = new Map<string, Set<Family>>();
  const addressGroups = new Map<string, Set<Family>>();
  const security_groups: Obj = {};
  for (const id of used) {
    const g = state.groups.get(id)!;
    for (const r of g.rules) {
      if (r.remote.kind !== 'group' && r.remote.kind !== 'addressGroup') continue;
      const into = r.remote.kind === 'group' ? remoteGroups : addressGroups;
      let fams = into.get(r.remote.id);
      if (!fams) into.set(r.remote.id, (fams = new Set()));
      fams.add(r.family);
    }
    security_groups[id] = { stateful: g.stateful, rules: sliceRules(raw.collections.security_groups.get(id)) as Obj[] };
  }

  const devices: Obj = {};
  for (const p of ports) {
    const d: Obj = {};
    if (p.device !== tapDevice(p.id)) d['device'] = p.device;
    d['mac_address'] = p.mac;
    d['fixed_ips'] = p.fixedIps.map(addressText);
    if (p.addressPairs.length > 0) {
      d['allowed_address_pairs'] = p.addressPairs.map((ap): Obj => {
        const pair: Obj = { ip_address: prefixText(ap.prefix) };
        if (ap.mac !== p.mac) pair['mac_address'] = ap.mac;
        return pair;
      });
    }
    d['security_groups'] = [...p.groups];
    if (p.networkId !== undefined) d['network_id'] = p.networkId;
    d['binding:host_id'] = host;
    if (p.pinnedZone !== undefined) d['conntrack_zone'] = p.pinnedZone;
    devices[p.id] = d;
  }

  // Members the host's own devices add to a used group need not be sent again.
  const local = new Map<string, Set<string>>();
  for (const p of ports) {
    let own: readonly string[] | undefined;
    for (const g of p.groups) {
      if (!remoteGroups.has(g)) continue;
      own ??= ownEntries(p);
      let s = local.get(g);
      if (!s) local.set(g, (s = new Set()));
      for (const e of own) s.add(e);
    }
  }
  const sg_member_ips: Obj = {};
  for (const [id, fams] of [...remoteGroups].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const members = state.members.get(id) ?? AddressList.EMPTY;
    const mine = local.get(id);
    const entry: Obj = {};
    for (const f of [4, 6] as const) {
      if (!fams.has(f)) continue;
      const family = members.ofFamily(f);
      // Shared (frozen) where nothing is left out; a copy cut from the list's own entries otherwise.
      const rest = (mine && without(family.entries(), mine)) || frozenEntries(family);
      if (rest.length > 0) entry[FAMILY_KEY[f]] = rest as Json[];
    }
    // A referenced group must exist: in security_groups (used here) or in sg_member_ips.
    if (Object.keys(entry).length > 0 || security_groups[id] === undefined) sg_member_ips[id] = entry;
  }

  const address_groups: Obj = {};
  for (const [id, fams] of [...addressGroups].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const list = state.addressGroups.get(id) ?? AddressList.EMPTY;
    const entries: string[] = [];
    for (const f of [4, 6] as const) if (fams.has(f)) entries.push(...frozenEntries(list.ofFamily(f)));
    address_groups[id] = entries;
  }

  const o = state.model.options;
  const options: Obj = {};
  if (o.driver !== undefined) options['firewall_driver'] = o.driver;
  if (o.remoteGroups !== undefined) options['enable_ipset'] = o.remoteGroups === 'ipset';

  const out: Obj = {};
  if (used.length > 0) out['security_groups'] = security_groups;
  if (Object.keys(address_groups).length > 0) out['address_groups'] = address_groups;
  if (Object.keys(sg_member_ips).length > 0) out['sg_member_ips'] = sg_member_ips;
  if (ports.length > 0) out['devices'] = devices;
  if (Object.keys(options).length > 0) out['options'] = options;
  return out;
}

/**
 * The smallest model compiling `host` as the cloud does (see the header): JSON, ready to send.
 * A host without ports gets a model without devices (its rulesets are then empty). Its rule and
 * member lists are frozen and shared with other slices of the same model.
 */
export function slice(prepared: PreparedModel, host: string): Obj {
  return sliceState(cloudStateOf(prepared), host);
}
