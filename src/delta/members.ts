/**
 * The common change, made cheap: when the next model differs from the old one, on this host,
 * only in the member lists of its sets (a VM booting into a remote group on another host, an
 * address group edited), the next host state is the old one with those sets' members replaced.
 * No chain is laid out or compared; the cost is the host's ports and groups compared by value
 * (an identity check each where the two models share objects, as a patched model does) plus the
 * changed sets' members.
 *
 * Expanded mode writes members into rules, so it always takes the full path (diff.ts).
 */
import type { CompileOptions, PreparedModel } from '../compile.js';
import { cloudOf, resolveOptions } from '../compile.js';
import { hashsize, ipsetNames } from '../backends/ipset/render.js';
import { membershipElements } from '../backends/nft/layout.js';
import { nftObjectKey } from '../backends/shared/names.js';
import { selectHost } from '../model/select-host.js';
import { sameGroup, samePort } from '../cloud/affected.js';
import type { Model } from '../model/types.js';
import { AddressList } from '../net/list.js';
import { setMembers } from '../plan/host.js';
import type { HostPlan, SetPlan } from '../plan/ir.js';
import type { HostState, IpsetSetState, MemberChange, NftSetState, NftTableState } from './state.js';

export interface HostView {
  readonly state: HostState;
  readonly plan: HostPlan;
  /** Sets (by state name) whose members changed, and how, relative to the state `changes.from`. */
  readonly changes?: { readonly from: HostState; readonly sets: ReadonlyMap<string, MemberChange> };
}

/** The next host's state and plan derived from the old ones, or undefined when more than members changed. */
export function nextByMembers(old: PreparedModel, next: PreparedModel, options: CompileOptions, from: HostView): HostView | undefined {
  const a = selectHost(cloudOf(old), options.host);
  const b = selectHost(cloudOf(next), options.host);
  const o = resolveOptions(b, options);
  if (o.remoteGroups !== 'ipset' || a.options.driver !== b.options.driver || a.options.remoteGroups !== b.options.remoteGroups || !sameStructure(a, b)) {
    return undefined;
  }

  const changed = new Map<SetPlan, SetPlan>();
  for (const s of from.plan.sets) {
    const lists = s.kind === 'group' ? [a.members, b.members] : [a.addressGroups, b.addressGroups];
    const was = lists[0]!.get(s.id) ?? AddressList.EMPTY;
    const is = lists[1]!.get(s.id) ?? AddressList.EMPTY;
    if (was === is) continue;
    const members = setMembers(is.ofFamily(s.family), o.aggregate);
    if (!members.equals(s.members)) changed.set(s, { ...s, members });
  }
  if (changed.size === 0) return from;
  const plan: HostPlan = { ...from.plan, sets: from.plan.sets.map((s) => changed.get(s) ?? s) };
  const changes = new Map<string, MemberChange>();
  const state = withSets(from.state, changed, o.prefix, changes);
  return { plan, state, changes: { from: from.state, sets: changes } };
}

/** What one set gained and lost, by a merge walk over the two sorted lists. */
function memberChange(was: AddressList, is: AddressList): MemberChange {
  const d = is.difference(was);
  const added = is.entries();
  const removed = was.entries();
  return { added: d.onlyHere.map((i) => added[i]!), removed: d.onlyThere.map((i) => removed[i]!) };
}

/** The old state with the changed sets' members (iptables: ipsets; nft: the `_h`/`_n` pairs). */
function withSets(state: HostState, changed: ReadonlyMap<SetPlan, SetPlan>, prefix: string, changes: Map<string, MemberChange>): HostState {
  if (state.backend === 'iptables') {
    const sets = new Map(state.sets);
    const name = ipsetNames([...changed.values()], prefix);
    for (const [old, s] of changed) {
      const n = name(s);
      changes.set(n, memberChange(old.members, s.members));
      const was = sets.get(n)!;
      const next: IpsetSetState = { ...was, hashsize: hashsize(s.members.length), members: s.members.entries() };
      sets.set(n, next);
    }
    return { ...state, sets };
  }
  const tables = new Map(state.tables);
  const [id, inet] = [...tables].find(([, t]) => t.family === 'inet')!;
  const sets = new Map<string, NftSetState>(inet.sets);
  for (const [old, s] of changed) {
    const base = `${s.kind === 'group' ? 'g' : 'a'}${s.family}_${nftObjectKey(s.id)}`;
    // Host-only lists are the `_h` set's elements as they are: their change is the lists' change.
    if (old.members.hostsOnly() && s.members.hostsOnly()) changes.set(`${base}_h`, memberChange(old.members, s.members));
    const { hosts, nets } = membershipElements(s.members);
    sets.set(`${base}_h`, { ...sets.get(`${base}_h`)!, elements: hosts });
    sets.set(`${base}_n`, { ...sets.get(`${base}_n`)!, elements: nets });
  }
  const table: NftTableState = { ...inet, sets };
  tables.set(id, table);
  return { ...state, tables };
}

/** Whether two host models have the same ports and the same groups (members aside). */
function sameStructure(a: Model, b: Model): boolean {
  if (a.ports.length !== b.ports.length) return false;
  const groups = new Set<string>();
  for (let i = 0; i < a.ports.length; i++) {
    const p = a.ports[i]!;
    const q = b.ports[i]!;
    if (p !== q && !samePort(p, q)) return false;
    for (const g of p.groups) groups.add(g);
  }
  for (const g of groups) {
    const x = a.groups.get(g);
    const y = b.groups.get(g);
    if (x !== y && (x === undefined || y === undefined || !sameGroup(x, y))) return false;
  }
  return true;
}
