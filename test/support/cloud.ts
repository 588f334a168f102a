/**
 * Generated clouds and generated changes to them, for the server-side properties (affected,
 * patch, slice): a model of arbitraries.ts with every port bound to one of a few hosts, and edits
 * of every kind expressed as RFC 6902 JSON Patch operations against the model's JSON.
 *
 * Also the definitions the properties compare with: a plain JSON Patch (deep copies, written from
 * the RFC, independent of src/cloud/patch.ts) and every host compiled from scratch.
 */
import fc from 'fast-check';
import { compile, type CompileOptions } from '../../src/compile.js';
import {
  ADDRESS_GROUP_ADDRESSES,
  ADDRESS_GROUP_IDS,
  GROUP_IDS,
  MEMBER_ADDRESSES,
  PAIR_ADDRESSES,
  PORT_IDS,
  PORT_MACS,
  REMOTE_ONLY_GROUP,
  type ModelSpec,
  type RuleSpec,
  fixedIp,
  modelJson,
  modelSpecArb,
  portSpecArb,
  ruleJson,
  ruleSpecArb,
} from './arbitraries.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

export const HOSTS = ['h1', 'h2', 'h3'] as const;
/** Hosts an edit may move a port to: also one that has no port yet. */
const EDIT_HOSTS = [...HOSTS, 'h4'] as const;

export interface CloudSpec {
  readonly model: ModelSpec;
  /** Host of each port (by position in model.ports). */
  readonly hosts: readonly number[];
  readonly options: { readonly driver?: 'iptables_hybrid' | 'linuxbridge'; readonly ipset?: boolean } | null;
}

export const cloudSpecArb: fc.Arbitrary<CloudSpec> = fc.record({
  model: modelSpecArb.chain((m) =>
    // Up to six ports (arbitraries.ts stops at four): more of them share hosts and groups.
    fc.uniqueArray(portSpecArb, { selector: (p) => p.id, minLength: 1, maxLength: PORT_IDS.length }).map((ports) => ({ ...m, ports })),
  ),
  hosts: fc.array(fc.nat(HOSTS.length - 1), { minLength: PORT_IDS.length, maxLength: PORT_IDS.length }),
  options: fc.option(
    fc.record({ driver: fc.option(fc.constantFrom('iptables_hybrid' as const, 'linuxbridge' as const), { nil: undefined }), ipset: fc.option(fc.boolean(), { nil: undefined }) }),
    { nil: null, freq: 2 },
  ),
});

export function cloudJson(spec: CloudSpec): Obj {
  const json = modelJson(spec.model);
  const devices = json['devices'] as Obj;
  spec.model.ports.forEach((p, i) => {
    (devices[PORT_IDS[p.id]!] as Obj)['binding:host_id'] = HOSTS[spec.hosts[i]! % HOSTS.length]!;
  });
  if (spec.options) {
    const o: Obj = {};
    if (spec.options.driver !== undefined) o['firewall_driver'] = spec.options.driver;
    if (spec.options.ipset !== undefined) o['enable_ipset'] = spec.options.ipset;
    json['options'] = o;
  }
  return json;
}

export const cloudArb: fc.Arbitrary<Obj> = cloudSpecArb.map(cloudJson);

// ---------------------------------------------------------------------------------------------
// Edits

export type Edit =
  | { readonly kind: 'moveHost'; readonly port: number; readonly host: number }
  | { readonly kind: 'addMember'; readonly group: number; readonly family: 4 | 6; readonly pick: number }
  | { readonly kind: 'removeMember'; readonly group: number; readonly index: number }
  | { readonly kind: 'dropMemberGroup'; readonly group: number }
  | { readonly kind: 'moveMember'; readonly group: number; readonly to: number }
  | { readonly kind: 'addRule'; readonly group: number; readonly rule: RuleSpec }
  | { readonly kind: 'removeRule'; readonly group: number; readonly index: number }
  | { readonly kind: 'replaceRule'; readonly group: number; readonly index: number; readonly rule: RuleSpec }
  | { readonly kind: 'copyRule'; readonly group: number; readonly to: number; readonly index: number }
  | { readonly kind: 'ruleId'; readonly group: number; readonly index: number; readonly id: string | null }
  | { readonly kind: 'portSecurity'; readonly port: number }
  | { readonly kind: 'portGroups'; readonly port: number; readonly groups: readonly number[] }
  | { readonly kind: 'fixedIp'; readonly port: number; readonly add: boolean; readonly family: 4 | 6 }
  | { readonly kind: 'pair'; readonly port: number; readonly pick: number; readonly mac: boolean }
  | { readonly kind: 'removePair'; readonly port: number }
  | { readonly kind: 'addressGroup'; readonly ag: number; readonly pick: number; readonly add: boolean }
  | { readonly kind: 'dropAddressGroup'; readonly ag: number }
  | { readonly kind: 'stateful'; readonly group: number }
  | { readonly kind: 'network'; readonly port: number; readonly net: string }
  | { readonly kind: 'options'; readonly driver: 'iptables_hybrid' | 'linuxbridge' | null; readonly ipset: boolean | null }
  | { readonly kind: 'addPort'; readonly id: number; readonly host: number; readonly groups: readonly number[]; readonly v6: boolean }
  | { readonly kind: 'removePort'; readonly port: number }
  | { readonly kind: 'zone'; readonly port: number; readonly zone: number | null }
  | { readonly kind: 'device'; readonly port: number; readonly name: string | null }
  | { readonly kind: 'mac'; readonly port: number; readonly mac: number }
  | { readonly kind: 'owner'; readonly port: number; readonly trusted: boolean }
  | { readonly kind: 'addGroup'; readonly group: number; readonly rules: readonly RuleSpec[] }
  | { readonly kind: 'removeGroup'; readonly group: number }
  | { readonly kind: 'noop'; readonly port: number };

const n = fc.nat(20);
export const editArb: fc.Arbitrary<Edit> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('moveHost' as const), port: n, host: fc.nat(HOSTS.length) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('addMember' as const), group: n, family: fc.constantFrom(4 as const, 6 as const), pick: n }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('removeMember' as const), group: n, index: n }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('dropMemberGroup' as const), group: n }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('moveMember' as const), group: n, to: n }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('addRule' as const), group: n, rule: ruleSpecArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('removeRule' as const), group: n, index: n }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('replaceRule' as const), group: n, index: n, rule: ruleSpecArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('copyRule' as const), group: n, to: n, index: n }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('ruleId' as const), group: n, index: n, id: fc.constantFrom('r1', 'rule-9', null) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('portSecurity' as const), port: n }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('portGroups' as const), port: n, groups: fc.array(n, { maxLength: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('fixedIp' as const), port: n, add: fc.boolean(), family: fc.constantFrom(4 as const, 6 as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('pair' as const), port: n, pick: n, mac: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('removePair' as const), port: n }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('addressGroup' as const), ag: n, pick: n, add: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('dropAddressGroup' as const), ag: n }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('stateful' as const), group: n }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('network' as const), port: n, net: fc.constantFrom('net-a', 'net-b', 'net-c') }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('options' as const),
      driver: fc.constantFrom('iptables_hybrid' as const, 'linuxbridge' as const, null),
      ipset: fc.constantFrom(true, false, null),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('addPort' as const), id: n, host: n, groups: fc.array(n, { maxLength: 2 }), v6: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('removePort' as const), port: n }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('zone' as const), port: n, zone: fc.constantFrom(5000, 5001, 7, null) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('device' as const), port: n, name: fc.constantFrom('vm-x', 'vm-y', null) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('mac' as const), port: n, mac: n }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('owner' as const), port: n, trusted: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('addGroup' as const), group: n, rules: fc.array(ruleSpecArb, { maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('removeGroup' as const), group: n }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('noop' as const), port: n }) },
);

export interface Op {
  readonly op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  readonly path: string;
  readonly value?: Json;
  readonly from?: string;
}

const esc = (s: string): string => s.replace(/~/g, '~0').replace(/\//g, '~1');
const at = <T>(list: readonly T[], i: number): T | undefined => (list.length === 0 ? undefined : list[i % list.length]);
const obj = (v: Json | undefined): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {});
const keys = (v: Json | undefined): string[] => Object.keys(obj(v)).sort();

/** The rules list of a group and its JSON pointer (object or list form). */
function rulesOf(model: Obj, g: string): { list: Json[]; path: string } | undefined {
  const v = obj(model['security_groups'])[g];
  if (Array.isArray(v)) return { list: v, path: `/security_groups/${esc(g)}` };
  if (v && typeof v === 'object') {
    const key = 'rules' in v ? 'rules' : 'security_group_rules';
    const list = v[key];
    if (Array.isArray(list)) return { list, path: `/security_groups/${esc(g)}/${key}` };
    return { list: [], path: `/security_groups/${esc(g)}/rules` };
  }
  return undefined;
}

const groupRefs = (model: Obj): string[] => [...new Set([...keys(model['security_groups']), ...keys(model['sg_member_ips'])])];

/** The JSON Patch operations of one edit of the current model (none when it does not apply). */
export function editOps(model: Obj, e: Edit): Op[] {
  const devices = obj(model['devices']);
  const portIds = Object.keys(devices).sort();
  const groups = keys(model['security_groups']);
  const memberGroups = keys(model['sg_member_ips']);
  const ags = keys(model['address_groups']);
  const port = 'port' in e ? at(portIds, e.port) : undefined;
  const dev = port === undefined ? undefined : obj(devices[port]);
  const dp = port === undefined ? '' : `/devices/${esc(port)}`;
  switch (e.kind) {
    case 'moveHost':
      if (!port) return [];
      return [{ op: 'replace', path: `${dp}/binding:host_id`, value: EDIT_HOSTS[e.host % EDIT_HOSTS.length]! }];
    case 'addMember': {
      const g = at([...GROUP_IDS, REMOTE_ONLY_GROUP], e.group)!;
      const ip = at(MEMBER_ADDRESSES[e.family], e.pick)!;
      const fam = e.family === 4 ? 'IPv4' : 'IPv6';
      const m = obj(model['sg_member_ips'])[g];
      if (m === undefined) return [{ op: 'add', path: `/sg_member_ips/${esc(g)}`, value: { [fam]: [ip] } }];
      return Array.isArray(obj(m)[fam])
        ? [{ op: 'add', path: `/sg_member_ips/${esc(g)}/${fam}/-`, value: ip }]
        : [{ op: 'add', path: `/sg_member_ips/${esc(g)}/${fam}`, value: [ip] }];
    }
    case 'removeMember': {
      const g = at(memberGroups, e.group);
      if (!g) return [];
      const m = obj(obj(model['sg_member_ips'])[g]);
      const fam = at(Object.keys(m).filter((k) => Array.isArray(m[k]) && (m[k] as Json[]).length > 0), e.index);
      if (!fam) return [];
      const list = m[fam] as Json[];
      const i = e.index % list.length;
      return [
        { op: 'test', path: `/sg_member_ips/${esc(g)}/${fam}/${i}`, value: list[i]! },
        { op: 'remove', path: `/sg_member_ips/${esc(g)}/${fam}/${i}` },
      ];
    }
    case 'dropMemberGroup': {
      const g = at(memberGroups, e.group);
      return g ? [{ op: 'remove', path: `/sg_member_ips/${esc(g)}` }] : [];
    }
    case 'moveMember': {
      const g = at(memberGroups, e.group);
      const to = at(memberGroups, e.to);
      if (!g || !to || g === to) return [];
      const m = obj(obj(model['sg_member_ips'])[g]);
      const t = obj(obj(model['sg_member_ips'])[to]);
      const fam = ['IPv4', 'IPv6'].find((k) => Array.isArray(m[k]) && (m[k] as Json[]).length > 0 && Array.isArray(t[k]));
      return fam ? [{ op: 'move', from: `/sg_member_ips/${esc(g)}/${fam}/0`, path: `/sg_member_ips/${esc(to)}/${fam}/-` }] : [];
    }
    case 'addRule': {
      const g = at(groups, e.group);
      const r = g && rulesOf(model, g);
      if (!g || !r) return [];
      return [{ op: 'add', path: `${r.path}/-`, value: ruleJson(e.rule, g, groupRefs(model), ags) }];
    }
    case 'removeRule': {
      const g = at(groups, e.group);
      const r = g && rulesOf(model, g);
      if (!r || r.list.length === 0) return [];
      return [{ op: 'remove', path: `${r.path}/${e.index % r.list.length}` }];
    }
    case 'replaceRule': {
      const g = at(groups, e.group);
      const r = g && rulesOf(model, g);
      if (!g || !r || r.list.length === 0) return [];
      return [{ op: 'replace', path: `${r.path}/${e.index % r.list.length}`, value: ruleJson(e.rule, g, groupRefs(model), ags) }];
    }
    case 'copyRule': {
      const g = at(groups, e.group);
      const to = at(groups, e.to);
      const r = g && rulesOf(model, g);
      const t = to && rulesOf(model, to);
      if (!r || !t || r.list.length === 0 || Array.isArray(obj(model['security_groups'])[g!]) !== Array.isArray(obj(model['security_groups'])[to!])) return [];
      return [{ op: 'copy', from: `${r.path}/${e.index % r.list.length}`, path: `${t.path}/0` }];
    }
    case 'ruleId': {
      const g = at(groups, e.group);
      const r = g && rulesOf(model, g);
      if (!r || r.list.length === 0) return [];
      const p = `${r.path}/${e.index % r.list.length}/id`;
      const has = 'id' in obj(r.list[e.index % r.list.length]);
      if (e.id === null) return has ? [{ op: 'remove', path: p }] : [];
      return [{ op: 'add', path: p, value: e.id }];
    }
    case 'portSecurity': {
      if (!dev) return [];
      if (dev['port_security_enabled'] === false) {
        return [
          { op: 'replace', path: `${dp}/port_security_enabled`, value: true },
          { op: 'add', path: `${dp}/security_groups`, value: groups.slice(0, 1) },
        ];
      }
      const ops: Op[] = [{ op: 'add', path: `${dp}/port_security_enabled`, value: false }];
      if ('security_groups' in dev) ops.push({ op: 'remove', path: `${dp}/security_groups` });
      if ('allowed_address_pairs' in dev) ops.push({ op: 'remove', path: `${dp}/allowed_address_pairs` });
      return ops;
    }
    case 'portGroups':
      if (!dev || dev['port_security_enabled'] === false) return [];
      return [{ op: 'add', path: `${dp}/security_groups`, value: [...new Set(e.groups.map((i) => at(groups, i)!).filter((g) => g !== undefined))] }];
    case 'fixedIp': {
      if (!dev || !port) return [];
      const ips = Array.isArray(dev['fixed_ips']) ? dev['fixed_ips'] : [];
      if (!e.add) return ips.length === 0 ? [] : [{ op: 'remove', path: `${dp}/fixed_ips/${ips.length - 1}` }];
      const slot = PORT_IDS.indexOf(port as (typeof PORT_IDS)[number]);
      return [{ op: 'add', path: `${dp}/fixed_ips/-`, value: fixedIp(e.family, slot < 0 ? 5 : slot, 3) }];
    }
    case 'pair': {
      if (!dev || dev['port_security_enabled'] === false) return [];
      const pair: Obj = { ip_address: at(PAIR_ADDRESSES, e.pick)!, ...(e.mac && { mac_address: 'fa:16:3e:aa:00:07' }) };
      return Array.isArray(dev['allowed_address_pairs'])
        ? [{ op: 'add', path: `${dp}/allowed_address_pairs/0`, value: pair }]
        : [{ op: 'add', path: `${dp}/allowed_address_pairs`, value: [pair] }];
    }
    case 'removePair': {
      const pairs = dev?.['allowed_address_pairs'];
      return Array.isArray(pairs) && pairs.length > 0 ? [{ op: 'remove', path: `${dp}/allowed_address_pairs/0` }] : [];
    }
    case 'addressGroup': {
      const ag = at([...ADDRESS_GROUP_IDS], e.ag)!;
      const v = obj(model['address_groups'])[ag];
      const address = at(ADDRESS_GROUP_ADDRESSES, e.pick)!;
      if (v === undefined) return e.add ? [{ op: 'add', path: `/address_groups/${esc(ag)}`, value: [address] }] : [];
      const [list, path] = Array.isArray(v) ? [v, `/address_groups/${esc(ag)}`] : [obj(v)['addresses'] as Json[], `/address_groups/${esc(ag)}/addresses`];
      if (!Array.isArray(list)) return [];
      if (e.add) return [{ op: 'add', path: `${path}/-`, value: address }];
      return list.length === 0 ? [] : [{ op: 'remove', path: `${path}/${e.pick % list.length}` }];
    }
    case 'dropAddressGroup': {
      const ag = at(ags, e.ag);
      return ag ? [{ op: 'remove', path: `/address_groups/${esc(ag)}` }] : [];
    }
    case 'stateful': {
      const g = at(groups, e.group);
      const v = g === undefined ? undefined : obj(model['security_groups'])[g];
      if (g === undefined || v === null || typeof v !== 'object' || Array.isArray(v)) return [];
      return [{ op: 'add', path: `/security_groups/${esc(g)}/stateful`, value: v['stateful'] === false }];
    }
    case 'network':
      return dev ? [{ op: 'replace', path: `${dp}/network_id`, value: e.net }] : [];
    case 'options': {
      const o: Obj = {};
      if (e.driver !== null) o['firewall_driver'] = e.driver;
      if (e.ipset !== null) o['enable_ipset'] = e.ipset;
      return [{ op: 'add', path: '/options', value: o }];
    }
    case 'addPort': {
      const free = PORT_IDS.filter((id) => !(id in devices));
      const id = at(free, e.id);
      if (!id) return [];
      const slot = PORT_IDS.indexOf(id);
      const d: Obj = {
        device: `new${slot}-tap`,
        mac_address: PORT_MACS[slot]!,
        fixed_ips: e.v6 ? [fixedIp(4, slot, 0), fixedIp(6, slot, 0)] : [fixedIp(4, slot, 0)],
        security_groups: [...new Set(e.groups.map((i) => at(groups, i)!).filter((g) => g !== undefined))],
        network_id: 'net-a',
        'binding:host_id': EDIT_HOSTS[e.host % EDIT_HOSTS.length]!,
      };
      return [{ op: 'add', path: `/devices/${esc(id)}`, value: d }];
    }
    case 'removePort':
      return port ? [{ op: 'remove', path: dp }] : [];
    case 'zone':
      if (!dev) return [];
      if (e.zone === null) return 'conntrack_zone' in dev ? [{ op: 'remove', path: `${dp}/conntrack_zone` }] : [];
      return [{ op: 'add', path: `${dp}/conntrack_zone`, value: e.zone }];
    case 'device':
      if (!dev) return [];
      if (e.name === null) return 'device' in dev ? [{ op: 'remove', path: `${dp}/device` }] : [];
      return [{ op: 'add', path: `${dp}/device`, value: e.name }];
    case 'mac':
      return dev ? [{ op: 'replace', path: `${dp}/mac_address`, value: at(PORT_MACS, e.mac)! }] : [];
    case 'owner':
      if (!dev) return [];
      return [{ op: 'add', path: `${dp}/device_owner`, value: e.trusted ? 'network:dhcp' : 'compute:nova' }];
    case 'addGroup': {
      const g = at([...GROUP_IDS], e.group)!;
      return [{ op: 'add', path: `/security_groups/${esc(g)}`, value: { rules: e.rules.map((r) => ruleJson(r, g, [...groupRefs(model), g], ags)) } }];
    }
    case 'removeGroup': {
      const g = at(groups, e.group);
      return g ? [{ op: 'remove', path: `/security_groups/${esc(g)}` }] : [];
    }
    case 'noop':
      return dev && port ? [{ op: 'test', path: dp, value: dev }, { op: 'copy', from: dp, path: dp }] : [];
  }
}

/** A change: one to three edits, each against the model the previous ones produced. */
export const editsArb = fc.array(editArb, { minLength: 1, maxLength: 3 });

/** The patch of a list of edits and the model it produces (undefined when the reference refuses it). */
export function patchOf(model: Obj, edits: readonly Edit[]): { ops: Op[]; result: Obj } | undefined {
  let current = model;
  const ops: Op[] = [];
  for (const e of edits) {
    const more = editOps(current, e);
    const next = applyReference(current, more);
    if (next === undefined) return undefined;
    current = next as Obj;
    ops.push(...more);
  }
  return { ops, result: current };
}

// ---------------------------------------------------------------------------------------------
// Definitions

const clone = (v: Json): Json => JSON.parse(JSON.stringify(v)) as Json;

function deepEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}

/** RFC 6902 on deep copies, written from the RFC: the reference the library's patch is checked against. */
export function applyReference(doc: Json, ops: readonly Op[]): Json | undefined {
  let root = clone(doc);
  const parse = (p: string): string[] | undefined => (p === '' ? [] : p.startsWith('/') ? p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')) : undefined);
  const index = (list: Json[], s: string, forAdd: boolean): number | undefined => {
    if (forAdd && s === '-') return list.length;
    if (!/^(0|[1-9][0-9]*)$/.test(s)) return undefined;
    const i = Number(s);
    return i < list.length || (forAdd && i === list.length) ? i : undefined;
  };
  const get = (segs: readonly string[]): Json | undefined => {
    let v: Json | undefined = root;
    for (const s of segs) {
      if (Array.isArray(v)) {
        const i = index(v, s, false);
        v = i === undefined ? undefined : v[i];
      } else if (v !== null && typeof v === 'object') v = Object.prototype.hasOwnProperty.call(v, s) ? v[s] : undefined;
      else return undefined;
      if (v === undefined) return undefined;
    }
    return v;
  };
  const add = (segs: readonly string[], value: Json): boolean => {
    if (segs.length === 0) {
      root = value;
      return true;
    }
    const parent = get(segs.slice(0, -1));
    const last = segs[segs.length - 1]!;
    if (Array.isArray(parent)) {
      const i = index(parent, last, true);
      if (i === undefined) return false;
      parent.splice(i, 0, value);
      return true;
    }
    if (parent !== null && typeof parent === 'object' && parent !== undefined) {
      parent[last] = value;
      return true;
    }
    return false;
  };
  const remove = (segs: readonly string[]): boolean => {
    if (segs.length === 0) return false;
    const parent = get(segs.slice(0, -1));
    const last = segs[segs.length - 1]!;
    if (Array.isArray(parent)) {
      const i = index(parent, last, false);
      if (i === undefined) return false;
      parent.splice(i, 1);
      return true;
    }
    if (parent !== null && typeof parent === 'object' && parent !== undefined && Object.prototype.hasOwnProperty.call(parent, last)) {
      delete parent[last];
      return true;
    }
    return false;
  };
  for (const op of ops) {
    const path = parse(op.path);
    if (!path) return undefined;
    switch (op.op) {
      case 'add':
        if (!add(path, clone(op.value!))) return undefined;
        break;
      case 'remove':
        if (!remove(path)) return undefined;
        break;
      case 'replace':
        if (get(path) === undefined || !(path.length === 0 ? add(path, clone(op.value!)) : remove(path) && add(path, clone(op.value!)))) return undefined;
        break;
      case 'test':
        if (!deepEqual(get(path), op.value)) return undefined;
        break;
      case 'move': {
        const from = parse(op.from ?? '');
        if (!from) return undefined;
        if (path.length > from.length && from.every((s, i) => path[i] === s)) return undefined;
        const v = get(from);
        if (v === undefined || !remove(from) || !add(path, v)) return undefined;
        break;
      }
      case 'copy': {
        const from = parse(op.from ?? '');
        const v = from && get(from);
        if (v === undefined || !add(path, clone(v))) return undefined;
        break;
      }
    }
  }
  return root;
}

/** Hosts named by a model's devices. */
export function hostsOf(model: Json): string[] {
  const out = new Set<string>();
  for (const d of Object.values(obj(obj(model)['devices']))) {
    const h = obj(d)['binding:host_id'];
    if (typeof h === 'string') out.add(h);
  }
  return [...out].sort();
}

/** Every host compiled from scratch; undefined if any host does not compile. */
export function compileEveryHost(model: Json, hosts: readonly string[], options: CompileOptions): Map<string, Readonly<Record<string, string>>> | undefined {
  const out = new Map<string, Readonly<Record<string, string>>>();
  try {
    for (const host of hosts) out.set(host, compile(model, { ...options, host }).files);
  } catch {
    return undefined;
  }
  return out;
}

/** Option sets the server-side properties run with: both backends, both modes, both drivers, comments, aggregation. */
export const OPTION_SETS: readonly CompileOptions[] = [
  {},
  { backend: 'nft' },
  { remoteGroups: 'expanded' },
  { driver: 'linuxbridge', comments: true },
  { aggregate: true },
  { backend: 'nft', remoteGroups: 'expanded', driver: 'linuxbridge' },
  { backend: 'nft', comments: true, aggregate: true, driver: 'hybrid' },
  { remoteGroups: 'ipset', driver: 'hybrid', comments: true },
];

export const sameFiles = (a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>> | undefined): boolean =>
  a !== undefined && b !== undefined && Object.keys(a).length === Object.keys(b).length && Object.keys(a).every((k) => a[k] === b[k]);
