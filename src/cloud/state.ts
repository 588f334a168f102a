/**
 * The prepared cloud model as persistent maps, with the indexes the server-side questions need:
 * which ports are in a group (its members, and the hosts that use it) and which groups' rules
 * reference a group or an address group (the hosts a membership change reaches).
 *
 * A state is immutable: patching one (patch.ts) builds a new state that shares everything the
 * patch did not touch, so the old one stays valid and comparing the two (affected.ts) looks only
 * at what changed. The raw input objects are kept (not copied) for patching and slicing.
 */
import type { CloudModel } from '../model/parse.js';
import type { Diagnostic, Model, Port, SecurityGroup } from '../model/types.js';
import type { AddressList } from '../net/list.js';
import { PMap } from './pmap.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** The input, split at its top level: each collection a persistent map of raw entries. */
export interface RawState {
  readonly securityGroups: PMap<Json>;
  readonly sgMemberIps: PMap<Json>;
  readonly addressGroups: PMap<Json>;
  readonly devices: PMap<Json>;
  /** Every other top-level key (`options`, and extra keys of Neutron payloads). */
  readonly top: { readonly [k: string]: Json };
}

/** Keys of `refsTo`: what a rule's remote names. */
export const groupRef = (id: string): string => `g\u0000${id}`;
export const addressGroupRef = (id: string): string => `a\u0000${id}`;

export interface CloudState {
  /** What the compiler reads (selectHost, planHost): backed by the maps below. */
  readonly model: CloudModel;
  readonly raw: RawState;
  readonly groups: PMap<SecurityGroup>;
  readonly members: PMap<AddressList>;
  readonly addressGroups: PMap<AddressList>;
  /** Every device of the cloud, by port id. */
  readonly ports: PMap<Port>;
  readonly portsByHost: PMap<readonly Port[]>;
  /** Ids of the ports (of every kind) that list a group, sorted; by group id. */
  readonly portsOfGroup: PMap<readonly string[]>;
  /** Groups whose rules reference a group (`groupRef`) or an address group (`addressGroupRef`), sorted. */
  readonly refsTo: PMap<readonly string[]>;
}

/** The remotes a group's rules reference, as `refsTo` keys. */
export function remotesOf(g: SecurityGroup): Set<string> {
  const out = new Set<string>();
  for (const r of g.rules) {
    if (r.remote.kind === 'group') out.add(groupRef(r.remote.id));
    else if (r.remote.kind === 'addressGroup') out.add(addressGroupRef(r.remote.id));
  }
  return out;
}

const asObject = (v: unknown): { [k: string]: Json } => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as { [k: string]: Json }) : {});

/** Split a (valid) input at its top level. */
export function rawState(input: unknown): RawState {
  const o = asObject(input);
  const top: { [k: string]: Json } = {};
  for (const [k, v] of Object.entries(o)) {
    if (k !== 'security_groups' && k !== 'sg_member_ips' && k !== 'address_groups' && k !== 'devices') top[k] = v;
  }
  return {
    securityGroups: PMap.from(Object.entries(asObject(o['security_groups']))),
    sgMemberIps: PMap.from(Object.entries(asObject(o['sg_member_ips']))),
    addressGroups: PMap.from(Object.entries(asObject(o['address_groups']))),
    devices: PMap.from(Object.entries(asObject(o['devices']))),
    top,
  };
}

/** The state of a freshly parsed cloud model (its input `raw`). */
export function stateOf(cloud: CloudModel, raw: RawState): CloudState {
  const groups = PMap.from(cloud.groups);
  const ports = PMap.from(cloud.ports.map((p) => [p.id, p] as const));
  const portsByHost = PMap.from(cloud.portsByHost);
  const ofGroup = new Map<string, string[]>();
  for (const p of cloud.ports) {
    for (const g of p.groups) {
      const l = ofGroup.get(g);
      if (l) l.push(p.id);
      else ofGroup.set(g, [p.id]);
    }
  }
  const refs = new Map<string, string[]>();
  for (const g of groups.values()) {
    for (const r of remotesOf(g)) {
      const l = refs.get(r);
      if (l) l.push(g.id);
      else refs.set(r, [g.id]);
    }
  }
  return assemble({
    raw,
    groups,
    members: PMap.from(cloud.members),
    addressGroups: PMap.from(cloud.addressGroups),
    ports,
    portsByHost,
    // Ports are parsed in id order and groups iterate in id order: both lists are sorted.
    portsOfGroup: PMap.from(ofGroup),
    refsTo: PMap.from(refs),
    options: cloud.options,
    diagnostics: cloud.diagnostics,
    namedDevices: cloud.namedDevices,
    unboundPorts: cloud.unboundPorts,
    sortedPorts: cloud.ports,
  });
}

export interface StateParts extends Omit<CloudState, 'model'> {
  readonly options: Model['options'];
  readonly diagnostics: readonly Diagnostic[] | (() => readonly Diagnostic[]);
  readonly namedDevices: ReadonlySet<string>;
  readonly unboundPorts: readonly Port[];
  /** Every port in id order, when already at hand (computed on first use otherwise). */
  readonly sortedPorts?: readonly Port[];
}

/** A state and the CloudModel view of it; lists a patched state does not need are built on first use. */
export function assemble(parts: StateParts): CloudState {
  let sorted = parts.sortedPorts;
  let diagnostics = typeof parts.diagnostics === 'function' ? undefined : parts.diagnostics;
  const model: CloudModel = {
    groups: parts.groups,
    addressGroups: parts.addressGroups,
    members: parts.members,
    get ports(): readonly Port[] {
      return (sorted ??= [...parts.ports.values()]);
    },
    options: parts.options,
    get diagnostics(): readonly Diagnostic[] {
      return (diagnostics ??= (parts.diagnostics as () => readonly Diagnostic[])());
    },
    namedDevices: parts.namedDevices,
    portsByHost: parts.portsByHost,
    unboundPorts: parts.unboundPorts,
  };
  const { raw, groups, members, addressGroups, ports, portsByHost, portsOfGroup, refsTo } = parts;
  return { model, raw, groups, members, addressGroups, ports, portsByHost, portsOfGroup, refsTo };
}
