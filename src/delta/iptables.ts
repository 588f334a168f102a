/**
 * The change script between two iptables-backend states (delta/state.ts), in four files applied
 * in this order:
 *
 *   ipset.delta        `ipset restore`: new sets created and filled; a changed set gets `del` and
 *                      `add` lines with -exist, or is refilled under its temporary name and
 *                      swapped in when the change is large (see refillIsCheaper).
 *   iptables.v4.delta  `iptables-restore --noflush`, per table one commit: every new or changed
 *   iptables.v6.delta  chain written whole after its `:chain` line (which flushes it), vanished
 *                      chains flushed and then deleted with -X once nothing references them;
 *                      built-in chains (other tools' rules live there too) get `-D`/`-A` by rule
 *                      text, never by index (`-D N`, `-I N`, `-R` depend on state a compiler
 *                      cannot see, and trip an iptables-nft-restore crash).
 *   ipset.cleanup      `ipset restore`: the sets nothing references any more, destroyed after the
 *                      tables stopped using them.
 *
 * Every file is written even when empty, so an agent can apply all of them unconditionally.
 *
 * A set of another type or family on the host (only a drifted host has one: the audit's repair)
 * cannot be changed in place: the kernel swaps only compatible sets and destroys or renames only
 * unreferenced ones. The delta then takes the host to the wanted state with that set under its
 * temporary name (created and filled, the rules moved to it, the old set destroyed), which
 * matches the same packets; the next delta from there moves the rules back to the real name.
 */
import { ipsetTempName } from '../backends/ipset/render.js';
import type { Family } from '../net/ip.js';
import { type ChainState, type IpsetSetState, type IptablesHostState, type IptablesTableName, type MemberChange, minus, sameList } from './state.js';
import { endLines } from '../backends/shared/text.js';

export interface IptablesDeltaFiles {
  readonly 'ipset.delta': string;
  readonly 'iptables.v4.delta': string;
  readonly 'iptables.v6.delta': string;
  readonly 'ipset.cleanup': string;
}

const TABLES: readonly IptablesTableName[] = ['filter', 'raw'];

export function iptablesDelta(from: IptablesHostState, want: IptablesHostState, prefix: string, known?: ReadonlyMap<string, MemberChange>): IptablesDeltaFiles {
  const to = retargetRetyped(from, want, prefix);
  return {
    'ipset.delta': ipsetDelta(from, to, prefix, known),
    'iptables.v4.delta': tablesDelta(from, to, 4),
    'iptables.v6.delta': tablesDelta(from, to, 6),
    'ipset.cleanup': ipsetCleanup(from, to),
  };
}

const sortedKeys = <V>(m: ReadonlyMap<string, V>): string[] => [...m.keys()].sort();

/** `want` with every set whose type the host has wrong under its temporary name (see above). */
function retargetRetyped(from: IptablesHostState, want: IptablesHostState, prefix: string): IptablesHostState {
  const renamed = new Map<string, string>();
  for (const [name, w] of want.sets) {
    const h = from.sets.get(name);
    if (h !== undefined && h.type !== w.type) renamed.set(name, ipsetTempName(name, prefix));
  }
  if (renamed.size === 0) return want;
  const sets = new Map([...want.sets].map(([n, s]) => [renamed.get(n) ?? n, s] as const));
  const rule = (r: string): string => r.replace(/--match-set (\S+) /g, (all, n: string) => (renamed.has(n) ? `--match-set ${renamed.get(n)} ` : all));
  const tables = (family: Family): IptablesHostState['tables'][Family] =>
    new Map([...want.tables[family]].map(([t, chains]) => [t, new Map([...chains].map(([c, chain]) => [c, { ...chain, rules: chain.rules.map(rule) }] as const))] as const));
  return { backend: 'iptables', sets, tables: { 4: tables(4), 6: tables(6) } };
}

/**
 * Refill (temporary set + swap) instead of `del`/`add` lines when the change is large: more than
 * a quarter of the new size (plus a few, so small sets change line by line). Measured with ipset
 * 7.17 on kernel 6.18: a `del`/`add -exist` line costs about twice an `add` into a fresh set
 * (20,000 members: 10,000 changes 462 ms, 5,000 changes 285 ms, a refill 208 ms; 5,000 members:
 * 2,500 changes 75 ms against a 47-73 ms refill). Neutron switches at 5 changes whatever the size.
 * A swap also makes a large change appear at once; a small one applied line by line only passes
 * through memberships between the old and the new.
 */
function refillIsCheaper(changes: number, newSize: number): boolean {
  return changes > newSize / 4 + 8;
}

function ipsetDelta(from: IptablesHostState, to: IptablesHostState, prefix: string, known?: ReadonlyMap<string, MemberChange>): string {
  const lines: string[] = [];
  const header = (s: IpsetSetState): string => `${s.type} hashsize ${s.hashsize} maxelem ${s.maxelem}`;
  for (const name of sortedKeys(to.sets)) {
    const want = to.sets.get(name)!;
    const have = from.sets.get(name);
    if (have === undefined) {
      // Nothing references a new set yet: fill it in place.
      lines.push(`create ${name} ${header(want)} -exist`);
      for (const m of want.members) lines.push(`add ${name} ${m} -exist`);
      continue;
    }
    // hashsize is a sizing hint the kernel grows by itself: it never makes a set different.
    const sameKind = have.type === want.type && have.maxelem === want.maxelem;
    const change = known?.get(name);
    if (sameKind && (change ? change.added.length + change.removed.length === 0 : sameList(have.members, want.members))) continue;
    const added = change?.added ?? minus(want.members, have.members);
    const removed = change?.removed ?? minus(have.members, want.members);
    if (sameKind && !refillIsCheaper(added.length + removed.length, want.members.length)) {
      for (const m of removed) lines.push(`del ${name} ${m} -exist`);
      for (const m of added) lines.push(`add ${name} ${m} -exist`);
      continue;
    }
    // Refilled under the temporary name and swapped in: rules referencing the set never see it
    // half-filled. (A set of another type cannot be swapped; the state holds none for a compile.)
    const temp = ipsetTempName(name, prefix);
    lines.push(`destroy ${temp} -exist`, `create ${temp} ${header(want)}`);
    for (const m of want.members) lines.push(`add ${temp} ${m}`);
    lines.push(`swap ${temp} ${name}`, `destroy ${temp}`);
  }
  return lines.length === 0 ? '' : endLines(['# sgnf ipset delta: `ipset restore -f ipset.delta`, before the iptables deltas.', ...lines]);
}

function ipsetCleanup(from: IptablesHostState, to: IptablesHostState): string {
  const gone = sortedKeys(from.sets).filter((n) => !to.sets.has(n));
  if (gone.length === 0) return '';
  return endLines(['# sgnf ipset cleanup: `ipset restore -f ipset.cleanup`, after the iptables deltas.', ...gone.map((n) => `destroy ${n}`)]);
}

function tablesDelta(from: IptablesHostState, to: IptablesHostState, family: Family): string {
  // A members-only change keeps the very tables (delta/members.ts).
  if (from.tables[family] === to.tables[family]) return '';
  const lines: string[] = [];
  for (const table of TABLES) {
    const have = from.tables[family].get(table) ?? new Map<string, ChainState>();
    const want = to.tables[family].get(table) ?? new Map<string, ChainState>();
    const block = tableDelta(have, want);
    if (block.length > 0) lines.push(`*${table}`, ...block, 'COMMIT');
  }
  if (lines.length === 0) return '';
  const tool = family === 4 ? 'iptables-restore' : 'ip6tables-restore';
  return endLines([`# sgnf delta: \`${tool} --noflush < iptables.v${family}.delta\`, after ipset.delta.`, ...lines]);
}

/** The lines of one table's block (without `*table` and COMMIT); none when nothing changed. */
function tableDelta(have: ReadonlyMap<string, ChainState>, want: ReadonlyMap<string, ChainState>): string[] {
  const declare: string[] = [];
  const rules: string[] = [];
  const removeRules: string[] = [];
  const deleteChains: string[] = [];
  const names = [...new Set([...have.keys(), ...want.keys()])].sort();
  for (const name of names) {
    const h = have.get(name);
    const w = want.get(name);
    const builtin = (h ?? w)!.policy !== undefined;
    if (builtin) {
      // Shared with other tools: touch only sgnf's own rules, by their text.
      if (w !== undefined && w.policy !== undefined && h?.policy !== w.policy) declare.push(`:${name} ${w.policy} [0:0]`);
      const hr = h?.rules ?? [];
      const wr = w?.rules ?? [];
      for (const r of minusCounted(hr, wr)) removeRules.push(`-D ${name} ${r}`);
      for (const r of minusCounted(wr, hr)) rules.push(`-A ${name} ${r}`);
      continue;
    }
    if (w === undefined) {
      // Flushed first (it may reference other vanishing chains), deleted last.
      declare.push(`:${name} - [0:0]`);
      deleteChains.push(`-X ${name}`);
    } else if (h === undefined || !sameList(h.rules, w.rules)) {
      declare.push(`:${name} - [0:0]`);
      for (const r of w.rules) rules.push(r === '' ? `-A ${name}` : `-A ${name} ${r}`);
    }
  }
  return [...declare, ...removeRules, ...rules, ...deleteChains];
}

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
