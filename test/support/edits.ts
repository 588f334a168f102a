/**
 * Random edits of a model spec (test/support/arbitraries.ts), for the incremental-update
 * properties: a model and a next model that differs from it by one edit of a named kind, the
 * kinds an agent sees all day (members, rules, ports, pairs, statefulness, port security,
 * address groups). Edits keep the spec valid: modelJson resolves every reference.
 */
import fc from 'fast-check';
import {
  GROUP_IDS,
  type GroupSpec,
  type MemberSpec,
  type ModelSpec,
  PORT_IDS,
  type PortSpec,
  groupSpecArb,
  memberSpecArb,
  modelSpecArb,
  portSpecArb,
  ruleSpecArb,
} from './arbitraries.js';

export type EditKind =
  | 'memberAdd'
  | 'memberRemove'
  | 'ruleAdd'
  | 'ruleRemove'
  | 'ruleChange'
  | 'portGroupAdd'
  | 'portGroupRemove'
  | 'portAdd'
  | 'portRemove'
  | 'pairAdd'
  | 'pairRemove'
  | 'statefulToggle'
  | 'portSecurityToggle'
  | 'addressGroupEdit'
  | 'groupAdd'
  | 'groupRemove';

export const EDIT_KINDS: readonly EditKind[] = [
  'memberAdd',
  'memberRemove',
  'ruleAdd',
  'ruleRemove',
  'ruleChange',
  'portGroupAdd',
  'portGroupRemove',
  'portAdd',
  'portRemove',
  'pairAdd',
  'pairRemove',
  'statefulToggle',
  'portSecurityToggle',
  'addressGroupEdit',
  'groupAdd',
  'groupRemove',
];

export interface Edit {
  readonly kind: EditKind;
  readonly spec: ModelSpec;
  /** What the edit touched: a group slot, a port slot, a member family. */
  readonly group?: number;
  readonly port?: number;
  readonly family?: 4 | 6;
}

const replaceAt = <T>(list: readonly T[], i: number, v: T): T[] => list.map((x, k) => (k === i ? v : x));
const removeAt = <T>(list: readonly T[], i: number): T[] => list.filter((_, k) => k !== i);

/** One edit of `kind` applied to `spec`, choosing where with `n` (any natural number). */
function applyEdit(spec: ModelSpec, kind: EditKind, n: number, extra: { rule: GroupSpec['rules'][number]; group: GroupSpec; member: MemberSpec['v4'][number]; port: PortSpec }): Edit {
  const groups = spec.groups.map((g, i) => [g, i] as const).filter(([g]) => g !== null) as [GroupSpec, number][];
  const pickOf = <T>(list: readonly T[]): T | undefined => (list.length === 0 ? undefined : list[n % list.length]);
  switch (kind) {
    case 'memberAdd':
    case 'memberRemove': {
      const slot = n % spec.members.length;
      const family = (n >> 3) % 2 === 0 ? 4 : 6;
      const key = family === 4 ? 'v4' : 'v6';
      // A slot with neither a group nor members is no group at all: giving it members would add a
      // group id, which modelJson's reference pool would then hand to other rules.
      if (spec.members[slot] === null && !spec.groups[slot]) return { kind, group: slot, family, spec };
      const m: MemberSpec = spec.members[slot] ?? { v4: [], v6: [] };
      if (kind === 'memberAdd') return { kind, group: slot, family, spec: { ...spec, members: replaceAt(spec.members, slot, { ...m, [key]: [...m[key], extra.member] }) } };
      if (m[key].length === 0) return { kind, group: slot, family, spec };
      return { kind, group: slot, family, spec: { ...spec, members: replaceAt(spec.members, slot, { ...m, [key]: removeAt(m[key], (n >> 4) % m[key].length) }) } };
    }
    case 'ruleAdd':
    case 'ruleRemove':
    case 'ruleChange': {
      const hit = pickOf(groups);
      if (!hit) return { kind, spec };
      const [g, slot] = hit;
      const at = g.rules.length === 0 ? 0 : (n >> 3) % g.rules.length;
      const rules =
        kind === 'ruleAdd' ? [...g.rules, extra.rule] : g.rules.length === 0 ? g.rules : kind === 'ruleRemove' ? removeAt(g.rules, at) : replaceAt(g.rules, at, extra.rule);
      return { kind, group: slot, spec: { ...spec, groups: replaceAt(spec.groups, slot, { ...g, rules }) } };
    }
    case 'statefulToggle': {
      const hit = pickOf(groups);
      if (!hit) return { kind, spec };
      const [g, slot] = hit;
      return { kind, group: slot, spec: { ...spec, groups: replaceAt(spec.groups, slot, { ...g, stateful: !g.stateful }) } };
    }
    case 'groupAdd': {
      const free = spec.groups.map((g, i) => [g, i] as const).filter(([g]) => g === null);
      const hit = pickOf(free);
      if (!hit) return { kind, spec };
      return { kind, group: hit[1], spec: { ...spec, groups: replaceAt(spec.groups, hit[1], extra.group) } };
    }
    case 'groupRemove': {
      // The first slot always holds a group (modelSpecArb): remove one of the others.
      const hit = pickOf(groups.filter(([, i]) => i > 0));
      if (!hit) return { kind, spec };
      return { kind, group: hit[1], spec: { ...spec, groups: replaceAt(spec.groups, hit[1], null) } };
    }
    case 'addressGroupEdit': {
      const slot = n % spec.addressGroups.length;
      const a = spec.addressGroups[slot] ?? null;
      const next = a === null ? [n % 20] : a.length > 0 && (n >> 5) % 2 === 0 ? removeAt(a, (n >> 6) % a.length) : [...a, (n >> 2) % 20];
      return { kind, spec: { ...spec, addressGroups: replaceAt(spec.addressGroups, slot, next) } };
    }
    case 'portAdd': {
      if (spec.ports.some((p) => p.id === extra.port.id)) return { kind, spec };
      return { kind, port: extra.port.id, spec: { ...spec, ports: [...spec.ports, extra.port] } };
    }
    default: {
      if (spec.ports.length === 0) return { kind, spec };
      const at = n % spec.ports.length;
      const p = spec.ports[at]!;
      const put = (q: PortSpec): Edit => ({ kind, port: p.id, spec: { ...spec, ports: replaceAt(spec.ports, at, q) } });
      switch (kind) {
        case 'portRemove':
          return { kind, port: p.id, spec: { ...spec, ports: removeAt(spec.ports, at) } };
        case 'portGroupAdd':
          return put({ ...p, groups: [...p.groups, n >> 3] });
        case 'portGroupRemove':
          return p.groups.length === 0 ? put(p) : put({ ...p, groups: removeAt(p.groups, (n >> 3) % p.groups.length) });
        case 'pairAdd':
          return put({ ...p, pairs: [...p.pairs, { pick: n >> 3, mac: undefined }] });
        case 'pairRemove':
          return p.pairs.length === 0 ? put(p) : put({ ...p, pairs: removeAt(p.pairs, (n >> 3) % p.pairs.length) });
        case 'portSecurityToggle':
          return put({ ...p, kind: p.kind === 'portSecurityDisabled' ? 'filtered' : 'portSecurityDisabled' });
        default:
          throw new Error(`unknown edit ${kind satisfies never}`);
      }
    }
  }
}

const extraArb = fc.record({
  rule: ruleSpecArb,
  group: groupSpecArb,
  member: fc.record({ pick: fc.nat(10), mac: fc.option(fc.nat(3), { nil: undefined }) }),
  port: portSpecArb,
});

/** One edit of one of `kinds` on a spec. */
export const editArb = (spec: ModelSpec, kinds: readonly EditKind[] = EDIT_KINDS): fc.Arbitrary<Edit> =>
  fc.tuple(fc.constantFrom(...kinds), fc.nat(1 << 12), extraArb).map(([kind, n, extra]) => applyEdit(spec, kind, n, extra));

/** A model spec and a chain of `length` edits (the first spec is the old model). */
export const editChainArb = (length: number, kinds: readonly EditKind[] = EDIT_KINDS): fc.Arbitrary<{ start: ModelSpec; edits: Edit[] }> =>
  modelSpecArb.chain((start) => {
    let arb: fc.Arbitrary<Edit[]> = fc.constant([]);
    for (let i = 0; i < length; i++) {
      arb = arb.chain((done) => editArb(done.length === 0 ? start : done[done.length - 1]!.spec, kinds).map((e) => [...done, e]));
    }
    return arb.map((edits) => ({ start, edits }));
  });

export { GROUP_IDS, PORT_IDS, memberSpecArb };
