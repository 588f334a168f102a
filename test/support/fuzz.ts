/**
 * The hardening fuzzer (issue 14): models mutated the way a hostile or careless user would —
 * fields deleted, values of the wrong type, numbers at and past their boundaries, hostile
 * strings, lists and objects nested thousands deep, ids crafted to look like other ids' chain,
 * set or bridge names — compiled with random options. Every outcome must be a compiled result
 * whose files the strict interpreters accept, or a ModelError whose issues are well-formed; any
 * other exception, or text an interpreter refuses, is a finding.
 *
 * Cases are generated as specs (small numbers and strings) and built into JSON inside the
 * property, so a counterexample prints (and shrinks) as a spec, never as a value nested 5,000
 * deep. Bases: the golden models and models of the property arbitraries.
 */
import fc from 'fast-check';
import { type CompileOptions, compile } from '../../src/compile.js';
import { ISSUE_CODES, ModelError } from '../../src/model/errors.js';
import { nftObjectKey, objectKey } from '../../src/backends/shared/names.js';
import { modelArb } from './arbitraries.js';
import { goldenCases } from './golden.js';
import { loadRuleset } from './verify/interpret.js';
import { loadNftRuleset } from './verify/nft.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

const GOLDEN = goldenCases();

// ---------------------------------------------------------------------------------------------
// What mutations put in

/** Values of every JSON type, and the awkward ones of each. */
const TYPE_VALUES: readonly Json[] = [null, true, false, 0, -1, 1.5, 1e21, '', 'x', '0', '-1', ' ', [], [null], {}, { '': null }, ['x', 'y'], 'IPv4', 'tcp', 'ingress'];

/** Numbers at and past the boundaries of every numeric field (protocol, ports, ICMP, zones). */
const BOUNDARY_NUMBERS: readonly Json[] = [
  0, 1, -1, 254, 255, 256, 65534, 65535, 65536, 4096, 4097, 61439, 2 ** 31, 2 ** 32, 2 ** 53, -(2 ** 53), 1e21, -0, 0.5, 255.0, 65535.5,
  '0', '255', '256', '65535', '65536', '-1', '007', '1e3', ' 80', '80 ', '0x50', '１', '',
];

/** Strings that try to break out of a line, a word, a quote or a name. */
const HOSTILE_STRINGS: readonly string[] = [
  'a -j ACCEPT', 'x" -j ACCEPT -m comment --comment "y', 'a\n-A INPUT -j ACCEPT', 'a\r\nCOMMIT', 'COMMIT', '*filter', '-A', '--', '#',
  '\u0000', '\u2028', '\u202e', 'é', '$(reboot)', '`id`', ';', '{', '}', '"', "'", '\\', '%s%n', 'a'.repeat(101), 'z'.repeat(100),
  'x'.repeat(300), '10.0.0.1/8 10.0.0.2', '::ffff:1.2.3.4', '1.2.3.4%eth0', 'fe80::1%eth0', 'FA:16:3E:00:00:01', 'fa-16-3e-00-00-01',
  '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'ngress', 'INGRESS', 'FORWARD',
];

/**
 * Ids chosen to look like other names (issue 14, class 2): fixed chain names without the prefix,
 * an id's hashed key (at several budgets) or nft key, its temporary-set form, its upper case, the
 * first 11 characters of an id (tap, qbr, qvb and brq names), and the campaign's own examples.
 */
function craftedIds(ids: readonly string[]): string[] {
  const fixed = [
    'ngress', 'gress', 'ingress', 'egress', 'INGRESS', 'FALLBACK', 'FORWARD', 'INPUT', 'PREROUTING', 'i', 'o', 's', 'x', 'X', 't',
    'ggggggggggggggggggg1', 'ggggggggggggggggggg2', 'ggggggggggg_hwpbiy7', 's:', 's__axml2si', 'x-0kx8kl4', 'x-t', 'netaaaaaaaa-1', 'netaaaaaaaa-2',
  ];
  const derived = ids.flatMap((id) => [
    ...[7, 10, 12, 16, 20, 24].map((b) => objectKey(id, b)),
    nftObjectKey(id),
    `${id}-t`,
    `${id}_t`,
    id.toUpperCase(),
    `${id.slice(0, 11)}z`,
    `${id.slice(0, 11)}`,
    `x${id}`,
    id.replace(/-/g, '_'),
    id.replace(/_/g, '-'),
  ]);
  return [...fixed, ...derived].filter((s) => s.length > 0 && s.length <= 100);
}

// ---------------------------------------------------------------------------------------------
// Specs

export type MutationKind = 'delete' | 'retype' | 'boundary' | 'hostile' | 'nest' | 'renameId' | 'copyId' | 'network' | 'duplicate' | 'unknownKey';

export interface MutationSpec {
  readonly kind: MutationKind;
  /** Which place (an index into the places the model has, modulo their number). */
  readonly at: number;
  /** Which value (an index into the kind's values). */
  readonly pick: number;
}

export interface FuzzSpec {
  /** A golden model (its index) or a generated one. */
  readonly base: { readonly golden: number } | { readonly generated: Obj };
  readonly mutations: readonly MutationSpec[];
  readonly options: CompileOptions;
}

const mutationArb: fc.Arbitrary<MutationSpec> = fc.record({
  kind: fc.constantFrom<MutationKind>('delete', 'retype', 'boundary', 'boundary', 'hostile', 'nest', 'renameId', 'renameId', 'copyId', 'copyId', 'network', 'duplicate', 'unknownKey'),
  at: fc.nat(10_000),
  pick: fc.nat(10_000),
});

/** Name prefixes: the default mostly, valid odd ones, and a few that must be refused. */
const prefixArb = fc.oneof(
  { weight: 8, arbitrary: fc.constant('sgnf') },
  { weight: 3, arbitrary: fc.constantFrom('neutron-openvswi', 'a', 'sgnf-i', 'sgnf-INGRESS', 'A-b-1', 'x-t') },
  { weight: 1, arbitrary: fc.constantFrom('sgnf_x', 'x'.repeat(17), '1abc', '', 'a\nb', 'a\u2028b') },
);

const optionsArb: fc.Arbitrary<CompileOptions> = fc.record(
  {
    backend: fc.constantFrom('iptables' as const, 'nft' as const),
    driver: fc.constantFrom('hybrid' as const, 'linuxbridge' as const),
    remoteGroups: fc.constantFrom('ipset' as const, 'expanded' as const),
    comments: fc.boolean(),
    aggregate: fc.boolean(),
    prefix: prefixArb,
    host: fc.constantFrom('compute-1', 'compute-2', 'host-a', 'nope'),
  },
  { requiredKeys: ['backend'] },
);

export const fuzzSpecArb: fc.Arbitrary<FuzzSpec> = fc.record({
  base: fc.oneof(
    { weight: 3, arbitrary: fc.nat(GOLDEN.length - 1).map((golden) => ({ golden })) },
    { weight: 2, arbitrary: modelArb.map((generated) => ({ generated: generated as Obj })) },
  ),
  // One mutation mostly (each one more makes a refusal likelier, and compiled output is the richer check).
  mutations: fc.oneof({ weight: 3, arbitrary: fc.array(mutationArb, { minLength: 1, maxLength: 1 }) }, { weight: 2, arbitrary: fc.array(mutationArb, { minLength: 2, maxLength: 4 }) }),
  options: optionsArb,
});

// ---------------------------------------------------------------------------------------------
// Spec -> JSON

const pick = <T>(list: readonly T[], n: number): T => list[n % list.length]!;
const isObj = (v: Json | undefined): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Where a value can be replaced: (container, key). Walks at most 12 levels deep (nested values are not walked). */
function places(root: Obj): [Obj | Json[], string | number][] {
  const out: [Obj | Json[], string | number][] = [];
  const stack: [Json, number][] = [[root, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (depth > 12) continue;
    if (Array.isArray(v)) v.forEach((x, i) => (out.push([v, i]), stack.push([x, depth + 1])));
    else if (isObj(v)) for (const k of Object.keys(v)) out.push([v, k]), stack.push([v[k]!, depth + 1]);
  }
  return out;
}

const get = (c: Obj | Json[], k: string | number): Json => (Array.isArray(c) ? c[k as number]! : c[k as string]!);
function set(c: Obj | Json[], k: string | number, v: Json): void {
  if (Array.isArray(c)) c[k as number] = v;
  else c[k as string] = v;
}

/** Every string equal to `from`, as a key or a value, becomes `to` (ids are distinctive). */
function rename(v: Json, from: string, to: string, depth = 0): Json {
  if (depth > 12) return v;
  if (typeof v === 'string') return v === from ? to : v;
  if (Array.isArray(v)) return v.map((x) => rename(x, from, to, depth + 1));
  if (isObj(v)) {
    const out: Obj = {};
    for (const [k, x] of Object.entries(v)) out[k === from ? to : k] = rename(x, from, to, depth + 1);
    return out;
  }
  return v;
}

/** The ids of a model: groups, address groups, member groups, ports, networks. */
function idsOf(m: Obj): { groups: string[]; ports: string[]; addressGroups: string[]; networks: string[] } {
  const keys = (k: string): string[] => (isObj(m[k]) ? Object.keys(m[k] as Obj) : []);
  const devices = isObj(m['devices']) ? Object.values(m['devices'] as Obj) : [];
  const networks = devices.flatMap((d) => (isObj(d) && typeof d['network_id'] === 'string' ? [d['network_id']] : []));
  return { groups: [...new Set([...keys('security_groups'), ...keys('sg_member_ips')])], ports: keys('devices'), addressGroups: keys('address_groups'), networks: [...new Set(networks)] };
}

/** `[[[…v…]]]` or `{"a": {"a": …v…}}`, built without recursion. */
function nested(depth: number, v: Json, asObject: boolean): Json {
  let out = v;
  for (let i = 0; i < depth; i++) out = asObject ? { a: out } : [out];
  return out;
}

function applyMutation(model: Obj, m: MutationSpec): Obj {
  const all = places(model);
  switch (m.kind) {
    case 'delete': {
      if (all.length === 0) return model;
      const [c, k] = pick(all, m.at);
      if (Array.isArray(c)) c.splice(k as number, 1);
      else delete c[k as string];
      return model;
    }
    case 'retype':
    case 'boundary': {
      // Boundary numbers go to numeric places when there are any.
      const numeric = all.filter(([c, k]) => typeof get(c, k) === 'number' || /port|protocol|zone/.test(String(k)));
      const where = m.kind === 'boundary' && numeric.length > 0 ? numeric : all;
      if (where.length === 0) return model;
      const [c, k] = pick(where, m.at);
      set(c, k, structuredClone(pick(m.kind === 'boundary' ? BOUNDARY_NUMBERS : TYPE_VALUES, m.pick)));
      return model;
    }
    case 'hostile': {
      const strings = all.filter(([c, k]) => typeof get(c, k) === 'string');
      if (strings.length === 0) return model;
      const [c, k] = pick(strings, m.at);
      set(c, k, pick(HOSTILE_STRINGS, m.pick));
      return model;
    }
    case 'nest': {
      // Mostly a field's own value (a leaf), where the parser describes what it refuses.
      const leaves = all.filter(([c, k]) => typeof get(c, k) !== 'object' || get(c, k) === null);
      const where = leaves.length > 0 && m.pick % 3 !== 0 ? leaves : all;
      if (where.length === 0) return model;
      const [c, k] = pick(where, m.at);
      const depth = pick([2, 50, 5_000, 20_000], m.pick >> 1);
      set(c, k, nested(depth, get(c, k), m.pick % 2 === 1));
      return model;
    }
    case 'renameId':
    case 'copyId':
    case 'network': {
      const ids = idsOf(model);
      const every = [...ids.groups, ...ids.ports, ...ids.addressGroups, ...ids.networks];
      const crafted = craftedIds(every);
      const to = pick(crafted, m.pick);
      if (m.kind === 'renameId') {
        if (every.length === 0) return model;
        return rename(model, pick(every, m.at), to) as Obj;
      }
      if (m.kind === 'network') {
        // Networks that share a bridge name, or take a crafted one.
        const devices = isObj(model['devices']) ? Object.values(model['devices'] as Obj).filter(isObj) : [];
        if (devices.length === 0) return model;
        pick(devices, m.at)['network_id'] = to;
        return model;
      }
      // A second object under a crafted id (the same content: it joins the same groups).
      const section = pick(['security_groups', 'devices', 'address_groups', 'sg_member_ips'] as const, m.at);
      const objs = model[section];
      if (!isObj(objs) || Object.keys(objs).length === 0) return model;
      const from = pick(Object.keys(objs), m.at >> 2);
      let copy = structuredClone(objs[from]!);
      if (section === 'devices' && isObj(copy)) {
        // Another port needs its own device name and MAC, or it is refused for that alone.
        delete copy['device'];
        const hex = (n: number): string => (n & 255).toString(16).padStart(2, '0');
        copy = { ...copy, mac_address: `fa:16:3e:7f:${hex(m.pick >> 8)}:${hex(m.pick)}` };
      }
      if (!(to in objs)) objs[to] = copy;
      return model;
    }
    case 'duplicate': {
      const lists = all.filter(([c, k]) => Array.isArray(get(c, k)) && (get(c, k) as Json[]).length > 0);
      if (lists.length === 0) return model;
      const list = get(...pick(lists, m.at)) as Json[];
      list.push(structuredClone(pick(list, m.pick)));
      return model;
    }
    case 'unknownKey': {
      const objs = all.map(([c, k]) => get(c, k)).filter(isObj);
      const target = objs.length === 0 ? model : pick(objs, m.at);
      const key = pick(['port_range_mn', 'protcol', 'Direction', 'ethertype ', 'colour', '__proto__', 'constructor', 'x'.repeat(1000), '', 'mac-address'], m.pick);
      Object.defineProperty(target, key, { value: structuredClone(pick(TYPE_VALUES, m.at)), enumerable: true, configurable: true, writable: true });
      return model;
    }
  }
}

/** The model JSON of a spec (a fresh value: mutations work on a copy of the base). */
export function fuzzModel(spec: FuzzSpec): Obj {
  const base = 'golden' in spec.base ? (GOLDEN[spec.base.golden]!.model as Obj) : spec.base.generated;
  let model = JSON.parse(JSON.stringify(base)) as Obj;
  // Nesting last: the other mutations walk and copy the tree, which a deep value would make slow.
  const ordered = [...spec.mutations].sort((a, b) => Number(a.kind === 'nest') - Number(b.kind === 'nest'));
  for (const m of ordered) model = applyMutation(model, m);
  return model;
}

/** The options of a spec, with the golden case's own flags under them. */
export function fuzzOptions(spec: FuzzSpec): CompileOptions {
  const golden = 'golden' in spec.base ? GOLDEN[spec.base.golden]!.options : {};
  // A host only when the base binds its ports to hosts; otherwise most cases would compile nothing.
  const { host, ...rest } = spec.options;
  const bound = 'golden' in spec.base && GOLDEN[spec.base.golden]!.options.host !== undefined;
  return { ...golden, ...rest, ...(bound && host !== undefined && { host }) };
}

// ---------------------------------------------------------------------------------------------
// The check

export type Outcome =
  | { readonly kind: 'compiled'; readonly files: Readonly<Record<string, string>>; readonly backend: 'iptables' | 'nft' }
  | { readonly kind: 'refused'; readonly error: ModelError };

/** One line: no control character, line or paragraph separator, or direction override (fixed text may hold "…"). */
const PRINTABLE_LINE = /^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$/;
const CODES: ReadonlySet<string> = new Set(ISSUE_CODES);

/**
 * Compile and check the outcome: a ModelError with well-formed issues (a known code, a JSON path,
 * one printable line each, bounded), or files the strict interpreters accept. Throws otherwise.
 */
export function checkCase(model: unknown, options: CompileOptions): Outcome {
  let result;
  try {
    result = compile(model, options);
  } catch (e) {
    if (!(e instanceof ModelError)) throw e;
    if (e.issues.length === 0) throw new Error('a ModelError without issues');
    for (const i of e.issues) {
      const shown = JSON.stringify(i).slice(0, 300);
      if (!CODES.has(i.code)) throw new Error(`issue with an unknown code: ${shown}`);
      if (!/^(\$|options\.)/.test(i.path)) throw new Error(`issue path is not a JSON path: ${shown}`);
      if (!PRINTABLE_LINE.test(i.path) || !PRINTABLE_LINE.test(i.message) || i.message === '') throw new Error(`issue not one printable line: ${shown}`);
      if (i.path.length > 1_000 || i.message.length > 1_000) throw new Error(`issue too long (${i.path.length} + ${i.message.length} characters): ${shown}`);
    }
    return { kind: 'refused', error: e };
  }
  for (const d of result.diagnostics) {
    if (!PRINTABLE_LINE.test(d.path) || !PRINTABLE_LINE.test(d.message) || d.message.length > 1_000) throw new Error(`warning not one bounded printable line: ${JSON.stringify(d).slice(0, 300)}`);
  }
  const files = result.files as Readonly<Record<string, string>>;
  if (result.backend === 'nft') loadNftRuleset(files);
  else loadRuleset(files);
  return { kind: 'compiled', files, backend: result.backend };
}

/** Runs of the fuzzer: SGNF_FUZZ_RUNS (npm run fuzz sets a large one), else a bounded default. */
export const FUZZ_RUNS = Number(process.env['SGNF_FUZZ_RUNS'] ?? 1_000);
