/**
 * The structured comparison of a host's live state with the state its model wants (both as
 * delta/state.ts holds them): one Drift per object that differs, and the live state `aligned`
 * to the wanted one — every object that is equal is the wanted object itself, so the delta
 * engine, which compares by identity first, walks past it at no cost and touches only what
 * drifted.
 */
import { formatPatch, structuredPatch } from 'diff';
import type { Family } from '../net/ip.js';
import type {
  ChainState,
  HostState,
  IpsetSetState,
  IptablesHostState,
  IptablesTableName,
  IptablesTables,
  NftChainState,
  NftHostState,
  NftSetState,
  NftTableState,
} from '../delta/state.js';
import { canonicalRule as iptablesCanonical } from './iptables-save.js';
import { canonicalHook, canonicalRule as nftCanonical } from './nft-notation.js';

export type DriftKind =
  | 'table-missing'
  | 'table-extra'
  | 'chain-missing'
  | 'chain-extra'
  | 'chain-changed'
  | 'hook-missing'
  | 'hook-extra'
  | 'hook-changed'
  | 'policy-changed'
  | 'set-missing'
  | 'set-extra'
  | 'set-type'
  | 'members'
  | 'elements';

/** Some of a list: how many, and the first few (in the order of the list). */
export interface Sample {
  readonly count: number;
  readonly first: readonly string[];
}

export interface Drift {
  readonly kind: DriftKind;
  /** The object, for people: `ipv4 filter chain sgnf-FORWARD`, `ipset sgnf-g4-web`, `inet sgnf_sg map out_ports`. */
  readonly object: string;
  /** iptables: `ipv4 filter`, `ipv6 raw`; nft: `inet sgnf_sg`. Absent for ipsets. */
  readonly table?: string;
  readonly chain?: string;
  /** An ipset, or an nft set or map. */
  readonly set?: string;
  /** Rules of a chain (missing or extra), members of a set (missing or extra). */
  readonly size?: number;
  /** A built-in chain's rule (the jump to sgnf's chain) that is missing or extra. */
  readonly rule?: string;
  /** What the model wants and what the host has (policies, hooks, set types). */
  readonly want?: string;
  readonly have?: string;
  /** Rules, members or elements the model wants and the host lacks, and the reverse. */
  readonly missing?: Sample;
  readonly extra?: Sample;
  /** chain-changed: a unified diff of the chain, host (`-`) to model (`+`). */
  readonly diff?: string;
}

export interface Comparison {
  readonly drifts: readonly Drift[];
  /** The live state with every object equal to the wanted one replaced by it. */
  readonly aligned: HostState;
  /** Objects compared (tables, chains, sets and maps), in sync or not. */
  readonly checked: { readonly chains: number; readonly sets: number };
}

/** Members or elements listed in a report, at most. */
const SAMPLE_SIZE = 5;
/** A chain diff gives up past this many differing lines (the counts are still exact). */
const DIFF_MAX_EDITS = 2000;

export function compareStates(live: HostState, want: HostState): Comparison {
  if (live.backend === 'iptables' && want.backend === 'iptables') return compareIptables(live, want);
  if (live.backend === 'nft' && want.backend === 'nft') return compareNft(live, want);
  throw new Error('an audit compares two states of one backend');
}

// ---------------------------------------------------------------------------------------------
// iptables

const TABLES: readonly IptablesTableName[] = ['filter', 'raw'];
const FAMILY_NAME = { 4: 'ipv4', 6: 'ipv6' } as const;

function compareIptables(live: IptablesHostState, want: IptablesHostState): Comparison {
  const drifts: Drift[] = [];
  let chains = 0;
  const sets = new Map<string, IpsetSetState>();
  for (const name of [...new Set([...want.sets.keys(), ...live.sets.keys()])].sort()) {
    const w = want.sets.get(name);
    const h = live.sets.get(name);
    if (w === undefined) {
      drifts.push({ kind: 'set-extra', object: `ipset ${name}`, set: name, size: h!.members.length });
      sets.set(name, h!);
      continue;
    }
    if (h === undefined) {
      drifts.push({ kind: 'set-missing', object: `ipset ${name}`, set: name, size: w.members.length });
      continue;
    }
    if (h.type !== w.type || h.maxelem !== w.maxelem) {
      const kind = (s: IpsetSetState): string => `${s.type} maxelem ${s.maxelem}`;
      drifts.push({ kind: 'set-type', object: `ipset ${name}`, set: name, want: kind(w), have: kind(h) });
      sets.set(name, h);
      continue;
    }
    const d = memberDrift(h.members, w.members);
    if (d === undefined) {
      sets.set(name, w);
      continue;
    }
    drifts.push({ kind: 'members', object: `ipset ${name}`, set: name, ...d });
    sets.set(name, h);
  }
  const tables = {} as Record<Family, IptablesTables>;
  for (const family of [4, 6] as const) {
    const out = new Map<IptablesTableName, ReadonlyMap<string, ChainState>>();
    for (const t of TABLES) {
      const w = want.tables[family].get(t);
      const h = live.tables[family].get(t);
      const table = `${FAMILY_NAME[family]} ${t}`;
      if (w === undefined && h === undefined) continue;
      if (h === undefined) {
        drifts.push({ kind: 'table-missing', object: table, table, size: [...w!.values()].reduce((n, c) => n + c.rules.length, 0) });
        chains += w!.size;
        continue;
      }
      const r = compareIptablesTable(table, h, w ?? new Map(), drifts);
      chains += r.checked;
      out.set(t, r.aligned);
    }
    tables[family] = out;
  }
  return { drifts, aligned: { backend: 'iptables', sets, tables }, checked: { chains, sets: new Set([...want.sets.keys(), ...live.sets.keys()]).size } };
}

function compareIptablesTable(
  table: string,
  have: ReadonlyMap<string, ChainState>,
  want: ReadonlyMap<string, ChainState>,
  drifts: Drift[],
): { aligned: ReadonlyMap<string, ChainState>; checked: number } {
  const aligned = new Map<string, ChainState>();
  const names = [...new Set([...want.keys(), ...have.keys()])].sort();
  for (const name of names) {
    const w = want.get(name);
    const h = have.get(name);
    const builtin = (w ?? h)!.policy !== undefined;
    if (builtin) {
      // Shared with other tools: sgnf's rules there (the jumps) compared as a multiset.
      const hr = h?.rules ?? [];
      const wr = w?.rules ?? [];
      if (w?.policy !== undefined && h !== undefined && h.policy !== w.policy) {
        drifts.push({ kind: 'policy-changed', object: `${table} chain ${name}`, table, chain: name, want: w.policy, have: h.policy! });
      }
      const wanted = inLiveNotation(hr, wr, iptablesCanon);
      const missing = minusCounted(wanted, hr);
      const extra = minusCounted(hr, wanted);
      for (const rule of missing) drifts.push({ kind: 'hook-missing', object: `${table} chain ${name}`, table, chain: name, rule });
      for (const rule of extra) drifts.push({ kind: 'hook-extra', object: `${table} chain ${name}`, table, chain: name, rule });
      if (h !== undefined) aligned.set(name, w !== undefined && missing.length === 0 && extra.length === 0 && h.policy === w.policy ? w : h);
      continue;
    }
    if (h === undefined) {
      drifts.push({ kind: 'chain-missing', object: `${table} chain ${name}`, table, chain: name, size: w!.rules.length });
      continue;
    }
    if (w === undefined) {
      drifts.push({ kind: 'chain-extra', object: `${table} chain ${name}`, table, chain: name, size: h.rules.length });
      aligned.set(name, h);
      continue;
    }
    if (sameRules(h.rules, w.rules, iptablesCanon)) {
      aligned.set(name, w);
      continue;
    }
    const line = (r: string): string => (r === '' ? `-A ${name}` : `-A ${name} ${r}`);
    drifts.push({ kind: 'chain-changed', object: `${table} chain ${name}`, table, chain: name, ...chainDiff(`${table} chain ${name}`, h.rules, w.rules, iptablesCanon, line) });
    aligned.set(name, h);
  }
  return { aligned, checked: names.length };
}

/** A wanted rule in the notation live rules are read into (sgnf's own: the identity, in practice). */
const iptablesCanon = (want: string): string => iptablesCanonical(want, 'model', 0);

// ---------------------------------------------------------------------------------------------
// nft

function compareNft(live: NftHostState, want: NftHostState): Comparison {
  const drifts: Drift[] = [];
  const canon = nftCanonMemo();
  let chains = 0;
  let sets = 0;
  const tables = new Map<string, NftTableState>();
  for (const id of [...new Set([...want.tables.keys(), ...live.tables.keys()])].sort()) {
    const w = want.tables.get(id);
    const h = live.tables.get(id);
    if (w === undefined) {
      drifts.push({ kind: 'table-extra', object: `table ${id}`, table: id, size: h!.chains.size + h!.sets.size });
      tables.set(id, h!);
      continue;
    }
    if (h === undefined) {
      drifts.push({ kind: 'table-missing', object: `table ${id}`, table: id, size: w.chains.size + w.sets.size });
      chains += w.chains.size;
      sets += w.sets.size;
      continue;
    }
    const r = compareNftTable(id, h, w, drifts, canon);
    chains += r.chains;
    sets += r.sets;
    tables.set(id, r.aligned);
  }
  return { drifts, aligned: { backend: 'nft', tables }, checked: { chains, sets } };
}

function compareNftTable(id: string, have: NftTableState, want: NftTableState, drifts: Drift[], nftCanon: (want: string) => string): { aligned: NftTableState; chains: number; sets: number } {
  const sets = new Map<string, NftSetState>();
  const setNames = [...new Set([...want.sets.keys(), ...have.sets.keys()])].sort();
  for (const name of setNames) {
    const w = want.sets.get(name);
    const h = have.sets.get(name);
    const kind = (w ?? h)!.kind;
    const object = `${id} ${kind} ${name}`;
    if (w === undefined) {
      drifts.push({ kind: 'set-extra', object, table: id, set: name, size: h!.elements.length });
      sets.set(name, h!);
      continue;
    }
    if (h === undefined) {
      drifts.push({ kind: 'set-missing', object, table: id, set: name, size: w.elements.length });
      continue;
    }
    if (h.kind !== w.kind || !sameList(h.spec, w.spec)) {
      const decl = (s: NftSetState): string => `${s.kind} { ${s.spec.join('; ')} }`;
      drifts.push({ kind: 'set-type', object, table: id, set: name, want: decl(w), have: decl(h) });
      sets.set(name, h);
      continue;
    }
    const d = memberDrift(h.elements, w.elements);
    if (d === undefined) {
      sets.set(name, w);
      continue;
    }
    drifts.push({ kind: w.kind === 'map' ? 'elements' : 'members', object, table: id, set: name, ...d });
    sets.set(name, h);
  }
  const chains = new Map<string, NftChainState>();
  const chainNames = [...new Set([...want.chains.keys(), ...have.chains.keys()])].sort();
  const family = want.family;
  for (const name of chainNames) {
    const w = want.chains.get(name);
    const h = have.chains.get(name);
    const object = `${id} chain ${name}`;
    if (w === undefined) {
      drifts.push({ kind: 'chain-extra', object, table: id, chain: name, size: h!.rules.length });
      chains.set(name, h!);
      continue;
    }
    if (h === undefined) {
      drifts.push({ kind: 'chain-missing', object, table: id, chain: name, size: w.rules.length });
      continue;
    }
    const wantHook = w.hook === undefined ? undefined : canonicalHook(w.hook, family, 'model', 0);
    const sameHook = h.hook === wantHook;
    if (!sameHook) drifts.push({ kind: 'hook-changed', object, table: id, chain: name, want: wantHook ?? '(a regular chain)', have: h.hook ?? '(a regular chain)' });
    const same = sameRules(h.rules, w.rules, nftCanon);
    if (!same) drifts.push({ kind: 'chain-changed', object, table: id, chain: name, ...chainDiff(object, h.rules, w.rules, nftCanon, (r) => r) });
    if (sameHook && same) chains.set(name, w);
    else chains.set(name, { ...(sameHook ? (w.hook !== undefined ? { hook: w.hook } : {}) : h.hook !== undefined ? { hook: h.hook } : {}), rules: h.rules });
  }
  const aligned: NftTableState = { family: want.family, name: want.name, ...(want.comment !== undefined && { comment: want.comment }), sets, chains };
  return { aligned, chains: chainNames.length, sets: setNames.length };
}

/** A wanted rule in the one notation live rules are read into (port chains repeat the same rules). */
function nftCanonMemo(): (want: string) => string {
  const seen = new Map<string, string>();
  return (want) => {
    let c = seen.get(want);
    if (c === undefined) seen.set(want, (c = nftCanonical(want)));
    return c;
  };
}

// ---------------------------------------------------------------------------------------------
// shared

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Live rules (read into one notation) equal to the wanted ones, in order. */
function sameRules(have: readonly string[], want: readonly string[], canon: (w: string) => string): boolean {
  if (have === want) return true;
  if (have.length !== want.length) return false;
  for (let i = 0; i < have.length; i++) {
    const h = have[i]!;
    const w = want[i]!;
    if (h !== w && h !== canon(w)) return false;
  }
  return true;
}

/** The wanted rules in the live notation (a rule already equal to a live one is left alone). */
function inLiveNotation(have: readonly string[], want: readonly string[], canon: (w: string) => string): string[] {
  const haveSet = new Set(have);
  return want.map((w) => (haveSet.has(w) ? w : canon(w)));
}

/** Members (or elements) that differ, as sets; undefined when none does. */
function memberDrift(have: readonly string[], want: readonly string[]): { missing: Sample; extra: Sample } | undefined {
  if (have === want || sameList(have, want)) return undefined;
  const wanted = new Set(want);
  const extra = have.filter((m) => !wanted.has(m));
  if (extra.length === 0 && have.length === wanted.size) return undefined;
  const had = new Set(have);
  const missing = want.filter((m) => !had.has(m));
  if (extra.length === 0 && missing.length === 0) return undefined;
  return { missing: sample(missing), extra: sample(extra) };
}

const sample = (list: readonly string[]): Sample => ({ count: list.length, first: list.slice(0, SAMPLE_SIZE) });

/** `a` minus `b` as multisets, in `a`'s order. */
function minusCounted(a: readonly string[], b: readonly string[]): string[] {
  const left = new Map<string, number>();
  for (const x of b) left.set(x, (left.get(x) ?? 0) + 1);
  const out: string[] = [];
  for (const x of a) {
    const n = left.get(x) ?? 0;
    if (n > 0) left.set(x, n - 1);
    else out.push(x);
  }
  return out;
}

/** The rules missing and extra (as multisets) and a unified diff of the chain, host to model. */
function chainDiff(
  object: string,
  have: readonly string[],
  want: readonly string[],
  canon: (w: string) => string,
  line: (rule: string) => string,
): { missing: Sample; extra: Sample; diff: string } {
  // Both sides in one notation, so the diff shows only real changes.
  const wanted = inLiveNotation(have, want, canon);
  const missing = minusCounted(wanted, have);
  const extra = minusCounted(have, wanted);
  const text = (rules: readonly string[]): string => (rules.length === 0 ? '' : `${rules.map(line).join('\n')}\n`);
  const patch = structuredPatch(`host: ${object}`, `model: ${object}`, text(have), text(wanted), '', '', { context: 2, maxEditLength: DIFF_MAX_EDITS });
  let diff: string;
  if (patch === undefined) diff = `(diff omitted: more than ${DIFF_MAX_EDITS} lines differ)\n`;
  // Without the `====` line formatPatch starts with.
  else diff = formatPatch(patch).replace(/^=+\n/, '');
  return { missing: sample(missing.map(line)), extra: sample(extra.map(line)), diff };
}
