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

/** The four collections of the input, keyed by id. */
export const COLLECTIONS = ['security_groups', 'sg_member_ips', 'address_groups', 'devices'] as const;
export type Collection = (typeof COLLECTIONS)[number];
export const isCollection = (k: string): k is Collection => (COLLECTIONS as readonly string[]).includes(k);

/** The input, split at its top level: each collection a persistent map of raw entries. */
export interface RawState {
  readonly collections: Readonly<Record<Collection, PMap<Json>>>;
  /** The collections the input has (as objects; any other value stays in `top`). */
  readonly present: ReadonlySet<Collection>;
  /** Every other top-level key (`options`, and extra keys of Neutron payloads). */
  readonly top: { readonly [k: string]: Json };
}

/** Keys of `refsTo`: what a rule's remote names. */
export const groupRef = (id: string): string => `g\u0000${id}`;
export const addressGroupRef = (id: string): string => `a\u0000${id}`;

export interface CloudState {
  /** What the compiler reads (selectHost, planHost): backed by the maps below. */
  readonly model: CloudModel;
  /** The input, split (undefined for a model prepared with `keepInput: false`). */
  readonly rawInput: RawState | undefined;
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
  /** Ports whose device name was given (see CloudModel.namedDevices). */
  readonly named: PMap<true>;
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

const isPlainObject = (v: unknown): v is { [k: string]: Json } => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Set a key of a plain object, also `__proto__` (an own property, as JSON.parse makes it). */
export function setOwn(o: { [k: string]: Json }, k: string, v: Json): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

/** Split an input at its top level. */
export function rawState(input: unknown): RawState {
  const o = asObject(input);
  const top: { [k: string]: Json } = {};
  const present = new Set<Collection>();
  const collections = {} as Record<Collection, PMap<Json>>;
  for (const c of COLLECTIONS) collections[c] = PMap.empty();
  for (const [k, v] of Object.entries(o)) {
    if (isCollection(k) && isPlainObject(v)) {
      collections[k] = PMap.from(Object.entries(v));
      present.add(k);
    } else setOwn(top, k, v);
  }
  return { collections, present, top };
}

/** The input a raw state stands for (a new object; the entries are shared, not copied). */
export function materialize(raw: RawState): { [k: string]: Json } {
  const out: { [k: string]: Json } = {};
  for (const [k, v] of Object.entries(raw.top)) setOwn(out, k, v);
  for (const c of COLLECTIONS) {
    if (!raw.present.has(c)) continue;
    const o: { [k: string]: Json } = {};
    for (const [k, v] of raw.collections[c]) setOwn(o, k, v);
    setOwn(out, c, o);
  }
  return out;
}

/** The input of a state, for patching and slicing: refused for a model that did not keep it. */
export function rawOf(state: CloudState): RawState {
  if (!state.rawInput) throw new TypeError('this model was prepared with keepInput: false: it cannot be patched or sliced');
  return state.rawInput;
}

/** The state of a freshly parsed cloud model (its input `raw`, unless it is not to be kept). */
export function stateOf(cloud: CloudModel, raw: RawState | undefined): CloudState {
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
  const named = PMap.empty<true>().edit();
  for (const id of cloud.namedDevices) named.set(id, true);
  return assemble({
    rawInput: raw,
    groups,
    members: PMap.from(cloud.members),
    addressGroups: PMap.from(cloud.addressGroups),
    ports,
    portsByHost,
    // Ports are parsed in id order and groups iterate in id order: both lists are sorted.
    portsOfGroup: PMap.from(ofGroup),
    refsTo: PMap.from(refs),
    named: named.build(),
    options: cloud.options,
    diagnostics: cloud.diagnostics,
    unboundPorts: cloud.unboundPorts,
    sortedPorts: cloud.ports,
  });
}

export interface StateParts extends Omit<CloudState, 'model'> {
  readonly options: Model['options'];
  readonly diagnostics: readonly Diagnostic[];
  readonly unboundPorts: readonly Port[];
  /** Every port in id order, when already at hand (computed on first use otherwise). */
  readonly sortedPorts?: readonly Port[];
}

/** The keys of a persistent map as a read-only set. */
export class KeySet implements ReadonlySet<string> {
  constructor(private readonly map: PMap<unknown>) {}
  get size(): number {
    return this.map.size;
  }
  has(k: string): boolean {
    return this.map.has(k);
  }
  keys(): IterableIterator<string> {
    return this.map.keys();
  }
  values(): IterableIterator<string> {
    return this.map.keys();
  }
  *entries(): IterableIterator<[string, string]> {
    for (const k of this.map.keys()) yield [k, k];
  }
  [Symbol.iterator](): IterableIterator<string> {
    return this.map.keys();
  }
  forEach(f: (value: string, key: string, set: ReadonlySet<string>) => void): void {
    for (const k of this.map.keys()) f(k, k, this);
  }
}

/** A state and the CloudModel view of it; the sorted port list is built on first use. */
export function assemble(parts: StateParts): CloudState {
  let sorted = parts.sortedPorts;
  const model: CloudModel = {
    groups: parts.groups,
    addressGroups: parts.addressGroups,
    members: parts.members,
    get ports(): readonly Port[] {
      return (sorted ??= [...parts.ports.values()]);
    },
    options: parts.options,
    diagnostics: parts.diagnostics,
    namedDevices: new KeySet(parts.named),
    portsByHost: parts.portsByHost,
    unboundPorts: parts.unboundPorts,
  };
  const { rawInput, groups, members, addressGroups, ports, portsByHost, portsOfGroup, refsTo, named } = parts;
  return { model, rawInput, groups, members, addressGroups, ports, portsByHost, portsOfGroup, refsTo, named };
}
