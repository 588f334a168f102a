/**
 * RFC 6902 JSON Patch on a prepared cloud model, at a cost proportional to the change.
 *
 * The operations (add, remove, replace, move, copy, test; RFC 6901 pointers) are applied to the
 * raw input held by the state (state.ts) without copying it: an entry of a collection
 * (`/devices/<id>/...`, `/security_groups/<id>/...`, ...) is copied along the pointer's path and
 * put into a new version of its persistent map. Then only what the patch touched is parsed again:
 * those entries, and what their validity or meaning depends on (the groups whose rules name an
 * id that came or went, the ports of a group whose statefulness changed or that went, the member
 * lists of the groups whose members or ports changed). The new state equals `prepare` of the
 * patched input; the old one is untouched.
 *
 * An operation on the whole document or a whole collection is applied to a materialised copy and
 * the model is parsed again from scratch: such a patch is a new model anyway.
 *
 * Why not a JSON Patch library: the ones there are (fast-json-patch, the best kept) apply a patch
 * to one mutable document, in place or to a deep copy; in place would destroy the old model the
 * server compares with, and a deep copy of a 100,000-port model costs seconds, not milliseconds.
 */
import { compareStrings } from '../compare.js';
import { parseAddressGroup, parseMemberIps } from '../model/addresses.js';
import { ModelError, child } from '../model/errors.js';
import { TOP_FIELDS } from '../model/fields.js';
import { parseGroup } from '../model/group.js';
import { Collector, checkId, isObj } from '../model/input.js';
import { parseCloud, parseOptions } from '../model/parse.js';
import { parseDevice } from '../model/port.js';
import type { Diagnostic, Port, SecurityGroup } from '../model/types.js';
import type { Family } from '../net/ip.js';
import { type AddressList, AddressListBuilder } from '../net/list.js';
import type { PMap, PMapBuilder } from './pmap.js';
import {
  COLLECTIONS,
  type CloudState,
  type Collection,
  KeySet,
  type RawState,
  assemble,
  isCollection,
  materialize,
  rawOf,
  rawState,
  remotesOf,
  setOwn,
  stateOf,
} from './state.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

export interface PatchOperation {
  readonly op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  readonly path: string;
  readonly from?: string;
  readonly value?: unknown;
}

/** What a patch replaced, for the caches of the prepared model (keyed by these objects). */
export interface Replaced {
  readonly groups: readonly SecurityGroup[];
  readonly lists: readonly AddressList[];
}

const OPS = ['add', 'remove', 'replace', 'move', 'copy', 'test'] as const;

/** A failed operation: its index and field in the patch document, and why. */
class OpFailure extends Error {
  constructor(
    readonly field: 'op' | 'path' | 'from' | 'value' | undefined,
    message: string,
  ) {
    super(message);
  }
}

const fail = (field: OpFailure['field'], message: string): never => {
  throw new OpFailure(field, message);
};

// ---- JSON values: pure, copying along the path ----------------------------------------------

function parsePointer(p: string, field: 'path' | 'from'): string[] {
  if (p === '') return [];
  if (!p.startsWith('/')) fail(field, `"${p.slice(0, 60)}" is not a JSON pointer (it must be empty or start with "/")`);
  return p
    .slice(1)
    .split('/')
    .map((s) => {
      if (/~[^01]|~$/.test(s)) fail(field, `"${p.slice(0, 60)}" has an escape other than ~0 or ~1`);
      return s.replace(/~1/g, '/').replace(/~0/g, '~');
    });
}

const isObject = (v: Json | undefined): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const hasOwn = (o: Obj, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

function arrayIndex(list: readonly Json[], s: string, forAdd: boolean, field: 'path' | 'from'): number {
  if (forAdd && s === '-') return list.length;
  if (!/^(0|[1-9][0-9]*)$/.test(s)) fail(field, `"${s.slice(0, 30)}" is not an array index`);
  const i = Number(s);
  if (i > list.length || (!forAdd && i === list.length)) fail(field, `index ${s} is out of range (the array has ${list.length} items)`);
  return i;
}

function jsonGet(v: Json | undefined, segs: readonly string[], field: 'path' | 'from'): Json {
  for (const s of segs) {
    if (Array.isArray(v)) v = v[arrayIndex(v, s, false, field)];
    else if (isObject(v) && hasOwn(v, s)) v = v[s];
    else fail(field, isObject(v) ? `no member "${s.slice(0, 60)}"` : `"${s.slice(0, 60)}" is below a value that is neither an object nor an array`);
  }
  return v!;
}

function copyObject(o: Obj): Obj {
  const out: Obj = {};
  for (const k of Object.keys(o)) setOwn(out, k, o[k]!);
  return out;
}

/** A change to the container of a pointer's last segment: returns the changed copy. */
type Edit = (container: Json, last: string) => Json;

/** A copy of `v` with `edit` applied to the container of the last segment. */
function jsonEdit(v: Json, segs: readonly string[], edit: Edit): Json {
  if (segs.length === 1) return edit(v, segs[0]!);
  const [s, ...rest] = segs as [string, ...string[]];
  if (Array.isArray(v)) {
    const i = arrayIndex(v, s, false, 'path');
    const out = v.slice();
    out[i] = jsonEdit(v[i]!, rest, edit);
    return out;
  }
  if (isObject(v) && hasOwn(v, s)) {
    const out = copyObject(v);
    setOwn(out, s, jsonEdit(v[s]!, rest, edit));
    return out;
  }
  return fail('path', isObject(v) ? `no member "${s.slice(0, 60)}"` : `"${s.slice(0, 60)}" is below a value that is neither an object nor an array`);
}

const addEdit =
  (value: Json): Edit =>
  (c, last) => {
    if (Array.isArray(c)) {
      const out = c.slice();
      out.splice(arrayIndex(c, last, true, 'path'), 0, value);
      return out;
    }
    if (isObject(c)) {
      const out = copyObject(c);
      setOwn(out, last, value);
      return out;
    }
    return fail('path', 'the parent is neither an object nor an array');
  };

const removeEdit: Edit = (c, last) => {
  if (Array.isArray(c)) {
    const out = c.slice();
    out.splice(arrayIndex(c, last, false, 'path'), 1);
    return out;
  }
  if (isObject(c) && hasOwn(c, last)) {
    const out = copyObject(c);
    delete out[last];
    return out;
  }
  return fail('path', isObject(c) ? `no member "${last.slice(0, 60)}"` : 'the parent is neither an object nor an array');
};

const replaceEdit =
  (value: Json): Edit =>
  (c, last) => {
    if (Array.isArray(c)) {
      const out = c.slice();
      out[arrayIndex(c, last, false, 'path')] = value;
      return out;
    }
    if (isObject(c) && hasOwn(c, last)) {
      const out = copyObject(c);
      setOwn(out, last, value);
      return out;
    }
    return fail('path', isObject(c) ? `no member "${last.slice(0, 60)}"` : 'the parent is neither an object nor an array');
  };

function deepEqual(a: Json, b: Json): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]!));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => hasOwn(b, k) && deepEqual(a[k]!, b[k]!));
  }
  return false;
}

/** An own copy of a JSON value from the patch document (it may be reused by the caller). */
const cloneValue = (v: unknown): Json => JSON.parse(JSON.stringify(v)) as Json;

// ---- the document being patched --------------------------------------------------------------

/**
 * The input being patched: split (collections as persistent maps, entries copied along paths) or,
 * after an operation on the document or a whole collection, plain (then parsed from scratch).
 */
class Document {
  cols: Record<Collection, PMapBuilder<Json>>;
  readonly present: Set<Collection>;
  top: Obj;
  plain: Json | undefined;
  readonly touched: Record<Collection, Set<string>> = {
    security_groups: new Set(),
    sg_member_ips: new Set(),
    address_groups: new Set(),
    devices: new Set(),
  };
  /** Top-level keys other than the collections were added or removed. */
  topKeys = false;
  options = false;

  constructor(raw: RawState) {
    this.cols = {} as Record<Collection, PMapBuilder<Json>>;
    for (const c of COLLECTIONS) this.cols[c] = raw.collections[c].edit();
    this.present = new Set(raw.present);
    this.top = raw.top as Obj;
  }

  raw(): RawState {
    const collections = {} as Record<Collection, PMap<Json>>;
    for (const c of COLLECTIONS) collections[c] = this.cols[c].build();
    return { collections, present: this.present, top: this.top };
  }

  private toPlain(): Json {
    if (this.plain === undefined) {
      const collections = {} as Record<Collection, PMap<Json>>;
      for (const c of COLLECTIONS) collections[c] = this.cols[c].build();
      this.plain = materialize({ collections, present: this.present, top: this.top });
    }
    return this.plain;
  }

  get(segs: readonly string[], field: 'path' | 'from'): Json {
    if (this.plain !== undefined) return jsonGet(this.plain, segs, field);
    if (segs.length === 0) return this.toPlainCopy();
    const [k, key, ...rest] = segs as [string, string | undefined, ...string[]];
    if (isCollection(k) && this.present.has(k)) {
      if (key === undefined) return jsonGet(this.toPlainCopy(), [k], field);
      const entry = this.cols[k].get(key);
      if (entry === undefined) fail(field, `no member "${key.slice(0, 60)}"`);
      return jsonGet(entry, rest, field);
    }
    return jsonGet(this.top, segs, field);
  }

  /** The whole document as plain JSON, without leaving split mode (for a test or a copy of it all). */
  private toPlainCopy(): Json {
    const collections = {} as Record<Collection, PMap<Json>>;
    for (const c of COLLECTIONS) collections[c] = this.cols[c].build();
    const copy = materialize({ collections, present: this.present, top: this.top });
    // Builders cannot be used after build(): start new ones from what they built.
    for (const c of COLLECTIONS) this.cols[c] = collections[c].edit();
    return copy;
  }

  /** Apply one edit at a pointer: to an entry of a collection, to the top level, or (whole) in plain mode. */
  edit(segs: readonly string[], kind: 'add' | 'remove' | 'replace', value?: Json): void {
    const edit = kind === 'add' ? addEdit(value!) : kind === 'replace' ? replaceEdit(value!) : removeEdit;
    if (segs.length === 0) {
      if (kind === 'remove') fail('path', 'the whole document cannot be removed');
      this.plain = value!;
      return;
    }
    const [k, key, ...rest] = segs as [string, string | undefined, ...string[]];
    if (this.plain === undefined && isCollection(k) && key === undefined) this.toPlain();
    if (this.plain !== undefined) {
      this.plain = jsonEdit(this.plain, segs, edit);
      return;
    }
    if (isCollection(k) && this.present.has(k) && key !== undefined) {
      const col = this.cols[k];
      if (rest.length === 0) {
        // The entry itself: an object member of the collection.
        if (kind !== 'add' && !col.has(key)) fail('path', `no member "${key.slice(0, 60)}"`);
        if (kind === 'remove') col.delete(key);
        else col.set(key, value!);
      } else {
        const entry = col.get(key);
        if (entry === undefined) fail('path', `no member "${key.slice(0, 60)}"`);
        col.set(key, jsonEdit(entry!, rest, edit));
      }
      this.touched[k].add(key);
      return;
    }
    const before = new Set(Object.keys(this.top));
    this.top = jsonEdit(this.top, segs, edit) as Obj;
    if (k === 'options') this.options = true;
    const after = Object.keys(this.top);
    if (after.length !== before.size || after.some((x) => !before.has(x))) this.topKeys = true;
  }
}

/** Apply the operations to a raw state: the new raw state and what it touched, or a plain document. */
function applyOperations(raw: RawState, ops: unknown): Document {
  if (!Array.isArray(ops)) throw new ModelError([{ code: 'bad-patch', path: '$', message: 'a JSON Patch is a list of operations' }]);
  const doc = new Document(raw);
  ops.forEach((o: unknown, i) => {
    try {
      applyOne(doc, o);
    } catch (e) {
      if (!(e instanceof OpFailure)) throw e;
      const what = isObj(o) ? `${typeof o['op'] === 'string' ? o['op'] : 'operation'} ${typeof o['path'] === 'string' ? JSON.stringify(o['path'].slice(0, 200)) : ''}`.trim() : 'operation';
      throw new ModelError([{ code: 'bad-patch', path: e.field === undefined ? `$[${i}]` : `$[${i}].${e.field}`, message: `${what}: ${e.message}` }]);
    }
  });
  return doc;
}

function applyOne(doc: Document, o: unknown): void {
  if (!isObj(o)) return fail(undefined, 'must be an object {"op": ..., "path": ...}');
  const op = o['op'];
  if (typeof op !== 'string' || !(OPS as readonly string[]).includes(op)) return fail('op', `must be one of ${OPS.join(', ')}`);
  if (typeof o['path'] !== 'string') return fail('path', 'must be a string (a JSON pointer)');
  const path = parsePointer(o['path'], 'path');
  const needsValue = op === 'add' || op === 'replace' || op === 'test';
  if (needsValue && !Object.prototype.hasOwnProperty.call(o, 'value')) return fail('value', `is required by "${op}"`);
  switch (op) {
    case 'add':
      return doc.edit(path, 'add', cloneValue(o['value']));
    case 'remove':
      return doc.edit(path, 'remove');
    case 'replace':
      return doc.edit(path, 'replace', cloneValue(o['value']));
    case 'test':
      if (!deepEqual(doc.get(path, 'path'), o['value'] as Json)) fail('value', 'the value at the path differs');
      return;
    case 'move':
    case 'copy': {
      if (typeof o['from'] !== 'string') return fail('from', `must be a string (a JSON pointer) for "${op}"`);
      const from = parsePointer(o['from'], 'from');
      const value = doc.get(from, 'from');
      if (op === 'move') {
        if (path.length > from.length && from.every((s, i) => path[i] === s)) fail('path', 'a value cannot be moved into one of its own children');
        if (path.length === from.length && from.every((s, i) => path[i] === s)) return;
        doc.edit(from, 'remove');
      }
      // Values are never changed in place here: the copy may share them.
      return doc.edit(path, 'add', value);
    }
  }
}

// ---- parsing what the patch touched -----------------------------------------------------------

function sortedInsert(list: readonly string[], id: string): readonly string[] {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (list[m]! < id) lo = m + 1;
    else hi = m;
  }
  if (list[lo] === id) return list;
  const out = list.slice();
  out.splice(lo, 0, id);
  return out;
}

const sortedRemove = (list: readonly string[], id: string): readonly string[] => (list.includes(id) ? list.filter((x) => x !== id) : list);

/** A port in a list sorted by port id: replaced, inserted or removed. */
function withPort(list: readonly Port[], id: string, port: Port | undefined): readonly Port[] {
  const out = list.filter((p) => p.id !== id);
  if (port) {
    let i = 0;
    while (i < out.length && compareStrings(out[i]!.id, id) < 0) i++;
    out.splice(i, 0, port);
  }
  return out;
}

/** Whether a diagnostic belongs to the object at `prefix` (its path is the prefix or below it). */
const under = (path: string, prefix: string): boolean =>
  path === prefix || (path.startsWith(prefix) && (path[prefix.length] === '.' || path[prefix.length] === '['));

const COLLECTION_WHAT: Readonly<Record<Collection, string>> = {
  security_groups: 'security group id',
  sg_member_ips: 'security group id',
  address_groups: 'address group id',
  devices: 'port id',
};

/** Parse what the patch touched again and assemble the new state (see the header). */
function reparse(old: CloudState, raw: RawState, doc: Document): { state: CloudState; replaced: Replaced } {
  const c = new Collector();
  const cols = raw.collections;
  const oldCols = rawOf(old).collections;
  const reparsed: string[] = [];
  /** Warnings on unknown top-level keys are exactly at `$.<key>` (anything below is another object's). */
  const topWarnings = new Set<string>();

  // New keys must be valid ids; keys that came or went change what rules and ports may name.
  const cameOrWent: Record<Collection, string[]> = { security_groups: [], sg_member_ips: [], address_groups: [], devices: [] };
  for (const col of COLLECTIONS) {
    for (const key of doc.touched[col]) {
      const now = cols[col].has(key);
      if (now !== oldCols[col].has(key)) cameOrWent[col].push(key);
      if (now && !oldCols[col].has(key)) checkId(c, child(`$.${col}`, key), key, COLLECTION_WHAT[col]);
    }
  }

  // Top level and options.
  if (doc.topKeys) {
    const keys: Obj = {};
    for (const k of Object.keys(raw.top)) setOwn(keys, k, null);
    for (const col of raw.present) keys[col] = null;
    c.keys(keys, '$', TOP_FIELDS);
    for (const k of [...Object.keys(rawOf(old).top), ...Object.keys(raw.top)]) if (!TOP_FIELDS.fields.includes(k)) topWarnings.add(child('$', k));
  }
  let options = old.model.options;
  if (doc.options) {
    options = parseOptions(c, raw.top['options']);
    reparsed.push('$.options');
  }

  // Address groups.
  const addressGroups = old.addressGroups.edit();
  const replacedLists: AddressList[] = [];
  for (const id of doc.touched.address_groups) {
    const path = child('$.address_groups', id);
    reparsed.push(path);
    const prev = old.addressGroups.get(id);
    if (prev) replacedLists.push(prev);
    const v = cols.address_groups.get(id);
    if (v === undefined) addressGroups.delete(id);
    else addressGroups.set(id, parseAddressGroup(c, path, v));
  }

  // Groups: the touched ones, and those whose rules name an id that came or went.
  const ids = { groups: new KeySet(cols.security_groups), memberGroups: new KeySet(cols.sg_member_ips), addressGroups: new KeySet(cols.address_groups) };
  const groupIds = new Set(doc.touched.security_groups);
  for (const id of [...cameOrWent.security_groups, ...cameOrWent.sg_member_ips]) for (const g of old.refsTo.get(`g\u0000${id}`) ?? []) groupIds.add(g);
  for (const id of cameOrWent.address_groups) for (const g of old.refsTo.get(`a\u0000${id}`) ?? []) groupIds.add(g);
  const groups = old.groups.edit();
  const refsTo = old.refsTo.edit();
  const portIds = new Set(doc.touched.devices);
  const replacedGroups: SecurityGroup[] = [];
  for (const id of [...groupIds].sort(compareStrings)) {
    reparsed.push(child('$.security_groups', id));
    const prev = old.groups.get(id);
    const v = cols.security_groups.get(id);
    const next = v === undefined ? undefined : parseGroup(c, id, v, ids);
    if (next) groups.set(id, next);
    else groups.delete(id);
    if (prev) replacedGroups.push(prev);
    // Its ports: a group that went makes them invalid; a statefulness change is theirs too.
    if (prev && (!next || next.stateful !== prev.stateful)) for (const p of old.portsOfGroup.get(id) ?? []) portIds.add(p);
    const before = prev ? remotesOf(prev) : new Set<string>();
    const after = next ? remotesOf(next) : new Set<string>();
    for (const r of before) if (!after.has(r)) refsTo.set(r, sortedRemove(refsTo.get(r) ?? [], id));
    for (const r of after) if (!before.has(r)) refsTo.set(r, sortedInsert(refsTo.get(r) ?? [], id));
  }
  const groupsMap = groups.build();

  // Ports.
  const ports = old.ports.edit();
  const portsOfGroup = old.portsOfGroup.edit();
  const portsByHost = old.portsByHost.edit();
  const named = old.named.edit();
  let unbound = old.model.unboundPorts;
  const memberGroups = new Set(doc.touched.sg_member_ips);
  const warnZeroLength = (group: string, family: Family, path: string): void =>
    c.warn('any-address-member', path, `member ${family === 4 ? '0.0.0.0/0' : '::/0'} of group "${group}" opens every rule that references the group to all addresses`);
  for (const id of [...portIds].sort(compareStrings)) {
    const path = child('$.devices', id);
    reparsed.push(path);
    const prev = old.ports.get(id);
    const v = cols.devices.get(id);
    let next: Port | undefined;
    if (v !== undefined) {
      if (!isObj(v)) c.error('not-an-object', path, 'must be an object');
      else {
        next = parseDevice(c, { id, path, obj: v }, groupsMap);
        if (next) {
          for (const g of next.groups) {
            next.fixedIps.forEach((p, i) => p.len === 0 && warnZeroLength(g, p.family, child(child(path, 'fixed_ips'), i)));
            next.addressPairs.forEach((ap, i) => ap.prefix.len === 0 && warnZeroLength(g, ap.prefix.family, child(child(child(path, 'allowed_address_pairs'), i), 'ip_address')));
          }
          if (typeof v['device'] === 'string' && v['device'] !== id) named.set(id, true);
          else named.delete(id);
        }
      }
    }
    if (!next) named.delete(id);
    if (next) ports.set(id, next);
    else ports.delete(id);
    for (const g of prev?.groups ?? []) {
      memberGroups.add(g);
      if (!next?.groups.includes(g)) portsOfGroup.set(g, sortedRemove(portsOfGroup.get(g) ?? [], id));
    }
    for (const g of next?.groups ?? []) {
      memberGroups.add(g);
      if (!prev?.groups.includes(g)) portsOfGroup.set(g, sortedInsert(portsOfGroup.get(g) ?? [], id));
    }
    for (const g of [...(prev?.groups ?? []), ...(next?.groups ?? [])]) if ((portsOfGroup.get(g) ?? []).length === 0) portsOfGroup.delete(g);
    if (prev?.host !== undefined) {
      const l = withPort(portsByHost.get(prev.host) ?? [], id, undefined);
      if (l.length > 0) portsByHost.set(prev.host, l);
      else portsByHost.delete(prev.host);
    }
    if (next?.host !== undefined) portsByHost.set(next.host, withPort(portsByHost.get(next.host) ?? [], id, next));
    if (prev?.host === undefined || next?.host === undefined) {
      unbound = withPort(unbound, id, next?.host === undefined ? next : undefined);
    }
  }
  const portsMap = ports.build();
  const portsOfGroupMap = portsOfGroup.build();

  // Member lists: sg_member_ips and the addresses of the group's ports, built again.
  const members = old.members.edit();
  for (const g of [...memberGroups].sort(compareStrings)) {
    const prev = old.members.get(g);
    if (prev) replacedLists.push(prev);
    const b = new AddressListBuilder();
    const v = cols.sg_member_ips.get(g);
    const path = child('$.sg_member_ips', g);
    reparsed.push(path);
    if (v !== undefined) parseMemberIps(c, g, v, b, warnZeroLength);
    const of = portsOfGroupMap.get(g) ?? [];
    for (const pid of of) {
      const p = portsMap.get(pid)!;
      for (const ip of p.fixedIps) b.addPrefix(ip);
      for (const ap of p.addressPairs) b.addPrefix(ap.prefix);
    }
    if (v === undefined && of.length === 0) members.delete(g);
    else members.set(g, b.build());
  }

  if (c.issues.length > 0) throw new ModelError(c.issues);

  const diagnostics: Diagnostic[] = old.model.diagnostics.filter((d) => !topWarnings.has(d.path) && !reparsed.some((p) => under(d.path, p)));
  diagnostics.push(...c.diagnostics);
  const state = assemble({
    rawInput: raw,
    groups: groupsMap,
    members: members.build(),
    addressGroups: addressGroups.build(),
    ports: portsMap,
    portsByHost: portsByHost.build(),
    portsOfGroup: portsOfGroupMap,
    refsTo: refsTo.build(),
    named: named.build(),
    options,
    diagnostics,
    unboundPorts: unbound,
    // No device touched: the sorted list of the old model serves (a member change makes no list of 100,000 ports).
    ...(portsMap === old.ports && { sortedPorts: old.model.ports }),
  });
  return { state, replaced: { groups: replacedGroups, lists: replacedLists } };
}

/**
 * Apply a JSON Patch to a cloud state: the new state, equal to preparing the patched input, and
 * what it replaced. A patch that does not apply, or a patched model that is not valid, throws
 * ModelError (the old state is unchanged either way).
 */
export function patchState(old: CloudState, ops: unknown): { state: CloudState; replaced: Replaced } {
  const doc = applyOperations(rawOf(old), ops);
  if (doc.plain !== undefined) {
    const input = doc.plain;
    const state = stateOf(parseCloud(input), rawState(input));
    return { state, replaced: { groups: [...old.groups.values()], lists: [...old.members.values(), ...old.addressGroups.values()] } };
  }
  return reparse(old, doc.raw(), doc);
}

export { materialize };
