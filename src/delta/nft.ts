/**
 * The change script between two nft states (delta/state.ts): `delta.nft`, one `nft -f`
 * transaction (all or nothing), in this order:
 *
 *   1. new tables, sets, maps and chains declared (so every later line finds what it names);
 *   2. every new or changed chain flushed and its rules added whole (no window where a packet
 *      sees a half-written chain: the transaction commits at once);
 *   3. set and map elements: `delete element` of what went or changed value, then `add element`;
 *   4. vanished chains flushed, then deleted (all flushed first: they may jump to each other);
 *      vanished sets, maps and tables deleted last.
 *
 * A chain that a verdict-map element referenced is deleted in the same transaction that deletes
 * the element: kernel 6.18 with nft 1.0.6 accepts that (kube-proxy splits it for kernels before
 * 6.2; the kernel lab checks it on the kernel CI runs). A pure membership change is element lines
 * only.
 */
import { endLines } from '../backends/shared/text.js';
import { comment } from '../backends/nft/syntax.js';
import { type MemberChange, type NftHostState, type NftSetState, type NftTableState, elementKey, sameList } from './state.js';

/** Elements per statement, as the full ruleset prints them. */
const ELEMENTS_PER_LINE = 1000;

export function nftDelta(from: NftHostState, to: NftHostState, known?: ReadonlyMap<string, MemberChange>): string {
  const declare: string[] = [];
  const rules: string[] = [];
  const delElements: string[] = [];
  const addElements: string[] = [];
  const removals: string[] = [];
  const removeTables: string[] = [];
  const tableIds = [...new Set([...from.tables.keys(), ...to.tables.keys()])].sort();
  for (const id of tableIds) {
    const have = from.tables.get(id);
    const want = to.tables.get(id);
    if (want === undefined) {
      removeTables.push(`delete table ${id}`);
      continue;
    }
    if (have === undefined) declare.push(`add table ${id}${want.comment === undefined ? '' : ` { ${comment(want.comment)}; }`}`);
    const emptyTable: NftTableState = { family: want.family, name: want.name, sets: new Map(), chains: new Map() };
    tableDelta(id, have ?? emptyTable, want, { declare, rules, delElements, addElements, removals }, known);
  }
  const lines = [...declare, ...rules, ...delElements, ...addElements, ...removals, ...removeTables];
  return lines.length === 0 ? '' : endLines(['# sgnf delta: `nft -f delta.nft` (one transaction).', ...lines]);
}

interface Out {
  readonly declare: string[];
  readonly rules: string[];
  readonly delElements: string[];
  readonly addElements: string[];
  readonly removals: string[];
}

function tableDelta(id: string, have: NftTableState, want: NftTableState, out: Out, known?: ReadonlyMap<string, MemberChange>): void {
  for (const name of [...want.sets.keys()].sort()) {
    const w = want.sets.get(name)!;
    const h = have.sets.get(name);
    if (h !== undefined && h.kind === w.kind && sameList(h.spec, w.spec)) {
      const change = known?.get(name);
      if (change) {
        pushElements(out.delElements, `delete element ${id} ${name}`, change.removed);
        pushElements(out.addElements, `add element ${id} ${name}`, change.added);
      } else elementDelta(id, name, h.elements, w.elements, out);
      continue;
    }
    // A set of another type cannot be changed in place: deleted first (its referencing chains
    // are rewritten in this transaction, see below), then declared anew.
    if (h !== undefined) out.declare.push(`delete ${h.kind} ${id} ${name}`);
    out.declare.push(`add ${w.kind} ${id} ${name} { ${w.spec.join('; ')}; }`);
    pushElements(out.addElements, `add element ${id} ${name}`, w.elements);
  }
  const retyped = new Set([...want.sets.keys()].filter((n) => have.sets.has(n) && !sameSet(have.sets.get(n)!, want.sets.get(n)!)));
  for (const name of [...want.chains.keys()].sort()) {
    const w = want.chains.get(name)!;
    const h = have.chains.get(name);
    const declaration = `add chain ${id} ${name}${w.hook === undefined ? '' : ` { ${w.hook} }`}`;
    if (h === undefined) out.declare.push(declaration);
    // A base chain's hook cannot change in place (only a tampered host has another one); base
    // chains are never jumped to, so deleting and declaring it again is safe.
    else if (h.hook !== w.hook) out.declare.push(`delete chain ${id} ${name}`, declaration);
    else if (sameList(h.rules, w.rules) && !referencesAny(w.rules, retyped)) continue;
    else out.rules.push(`flush chain ${id} ${name}`);
    for (const r of w.rules) out.rules.push(`add rule ${id} ${name} ${r}`);
  }
  // A retyped set is deleted in step 1: the chains referencing it must be flushed before that.
  if (retyped.size > 0) {
    const flushes = [...have.chains].filter(([, c]) => referencesAny(c.rules, retyped)).map(([n]) => `flush chain ${id} ${n}`);
    out.declare.unshift(...flushes);
  }
  // Vanishing chains may jump to each other: all are flushed before any is deleted.
  const gone = [...have.chains.keys()].filter((n) => !want.chains.has(n)).sort();
  for (const name of gone) out.removals.push(`flush chain ${id} ${name}`);
  for (const name of gone) out.removals.push(`delete chain ${id} ${name}`);
  for (const name of [...have.sets.keys()].sort()) {
    if (!want.sets.has(name)) out.removals.push(`delete ${have.sets.get(name)!.kind} ${id} ${name}`);
  }
}

const sameSet = (a: NftSetState, b: NftSetState): boolean => a.kind === b.kind && sameList(a.spec, b.spec);

/** Whether a rule names one of the sets (`@name` or `vmap @name`). */
function referencesAny(rules: readonly string[], sets: ReadonlySet<string>): boolean {
  if (sets.size === 0) return false;
  for (const r of rules) for (const m of r.matchAll(/@([a-z0-9_]+)/g)) if (sets.has(m[1]!)) return true;
  return false;
}

function elementDelta(id: string, name: string, have: readonly string[], want: readonly string[], out: Out): void {
  if (sameList(have, want)) return;
  const wanted = new Set(want);
  const had = new Set(have);
  // A map element whose value changes is deleted by its key and added with the new value.
  pushElements(
    out.delElements,
    `delete element ${id} ${name}`,
    have.filter((e) => !wanted.has(e)).map(elementKey),
  );
  pushElements(
    out.addElements,
    `add element ${id} ${name}`,
    want.filter((e) => !had.has(e)),
  );
}

function pushElements(out: string[], head: string, elements: readonly string[]): void {
  for (let i = 0; i < elements.length; i += ELEMENTS_PER_LINE) out.push(`${head} { ${elements.slice(i, i + ELEMENTS_PER_LINE).join(', ')} }`);
}
