/**
 * Tampering with a simulated host, as an operator or another tool would with the real tools,
 * for the audit's properties: each operation is applied through the strict simulators
 * (test/support/apply) and names the object it changed as the audit must report it
 * (`<kind>: <object>`). Operations are drawn as small records (kind + indexes) and resolved
 * against the host, each on an object no earlier operation touched, so no two can cancel out.
 */
import fc from 'fast-check';
import type { Family } from '../../src/net/ip.js';
import { type IptablesHost, applyIpset, applyIptables } from './apply/host.js';
import type { TableName } from './verify/iptables.js';
import { type NftState, nftApply } from './apply/nft.js';

export interface TamperOp {
  readonly kind: number;
  readonly pick: number;
  readonly at: number;
}

export const tamperOpsArb: fc.Arbitrary<TamperOp[]> = fc.array(fc.record({ kind: fc.nat(9), pick: fc.nat(), at: fc.nat() }), { minLength: 1, maxLength: 3 });

export interface Tampered<H> {
  readonly host: H;
  /** `<drift kind>: <object>` of every object changed, sorted. */
  readonly expect: readonly string[];
}

const FAMILY_NAME = { 4: 'ipv4', 6: 'ipv6' } as const;
/** Addresses no generated model uses (the arbitraries stay in the documentation ranges). */
const FOREIGN_ADDRESS = { 4: '198.18.0.7', 6: '2001:db8:ffff::7' } as const;

const pickOf = <T>(list: readonly T[], n: number): T | undefined => (list.length === 0 ? undefined : list[n % list.length]);

// ---------------------------------------------------------------------------------------------
// iptables

interface ChainRef {
  readonly family: Family;
  readonly table: TableName;
  readonly chain: string;
  readonly rules: readonly string[];
  readonly builtin: boolean;
}

function chainsOf(host: IptablesHost): ChainRef[] {
  const out: ChainRef[] = [];
  for (const family of [4, 6] as const) {
    for (const [table, t] of (family === 4 ? host.v4 : host.v6).tables) {
      for (const [chain, c] of t.chains) out.push({ family, table, chain, rules: c.rules.map((r) => r.text), builtin: c.policy !== undefined });
    }
  }
  return out;
}

const chainObject = (c: { family: Family; table: string; chain: string }): string => `${FAMILY_NAME[c.family]} ${c.table} chain ${c.chain}`;

/** `*table`, the chain rewritten whole (`:chain` flushes it), COMMIT. */
function rewrite(c: { table: string; chain: string }, rules: readonly string[]): string {
  return [`*${c.table}`, `:${c.chain} - [0:0]`, ...rules.map((r) => (r === '' ? `-A ${c.chain}` : `-A ${c.chain} ${r}`)), 'COMMIT', ''].join('\n');
}

export function tamperIptables(start: IptablesHost, ops: readonly TamperOp[], prefix = 'sgnf'): Tampered<IptablesHost> {
  let host = start;
  const touched = new Set<string>();
  const expect = new Set<string>();
  const ok = <T extends { ok: boolean; state?: IptablesHost }>(r: T): boolean => {
    if (r.ok) host = r.state!;
    return r.ok;
  };
  const tables = (f: Family, text: string): boolean => ok(applyIptables(host, f, text, { noflush: true }));
  const ipset = (text: string): boolean => ok(applyIpset(host, text));
  for (const op of ops) {
    const chains = chainsOf(host).filter((c) => !touched.has(chainObject(c)));
    const userChains = chains.filter((c) => !c.builtin && c.chain.startsWith(`${prefix}-`));
    const sets = [...host.ipset.keys()].filter((s) => !touched.has(`ipset ${s}`) && s.startsWith(`${prefix}-`));
    switch (op.kind) {
      case 0: {
        // A rule deleted.
        const c = pickOf(userChains.filter((x) => x.rules.length > 0), op.pick);
        if (!c) break;
        const rules = c.rules.filter((_, i) => i !== op.at % c.rules.length);
        if (tables(c.family, rewrite(c, rules))) mark(chainObject(c), `chain-changed: ${chainObject(c)}`);
        break;
      }
      case 1: {
        // A foreign ACCEPT inserted.
        const c = pickOf(userChains, op.pick);
        if (!c) break;
        const rules = [...c.rules];
        rules.splice(op.at % (rules.length + 1), 0, '-j ACCEPT');
        if (tables(c.family, rewrite(c, rules))) mark(chainObject(c), `chain-changed: ${chainObject(c)}`);
        break;
      }
      case 2: {
        // A chain flushed.
        const c = pickOf(userChains.filter((x) => x.rules.length > 0), op.pick);
        if (c && tables(c.family, rewrite(c, []))) mark(chainObject(c), `chain-changed: ${chainObject(c)}`);
        break;
      }
      case 3: {
        // One of sgnf's jumps deleted from a built-in chain (the others written back).
        const c = pickOf(chains.filter((x) => x.builtin && x.rules.length > 0), op.pick);
        if (!c) break;
        const rules = c.rules.filter((_, i) => i !== op.at % c.rules.length);
        const text = [`*${c.table}`, `-F ${c.chain}`, ...rules.map((r) => `-A ${c.chain} ${r}`), 'COMMIT', ''].join('\n');
        if (tables(c.family, text)) mark(chainObject(c), `hook-missing: ${chainObject(c)}`);
        break;
      }
      case 4: {
        // A member added to a set.
        const s = pickOf(sets, op.pick);
        if (!s) break;
        const family = host.ipset.get(s)!.family;
        if (!host.ipset.get(s)!.entries.has(FOREIGN_ADDRESS[family]) && ipset(`add ${s} ${FOREIGN_ADDRESS[family]}\n`)) mark(`ipset ${s}`, `members: ipset ${s}`);
        break;
      }
      case 5: {
        // A member removed from a set.
        const s = pickOf(sets.filter((x) => host.ipset.get(x)!.entries.size > 0), op.pick);
        if (!s) break;
        const entries = [...host.ipset.get(s)!.entries.keys()];
        if (ipset(`del ${s} ${entries[op.at % entries.length]}\n`)) mark(`ipset ${s}`, `members: ipset ${s}`);
        break;
      }
      case 6: {
        // A set destroyed, after the rules that match it were removed.
        const s = pickOf(sets, op.pick);
        if (!s) break;
        const users = chainsOf(host).filter((c) => c.rules.some((r) => r.includes(`--match-set ${s} `)));
        if (users.some((c) => touched.has(chainObject(c)) || c.builtin)) break;
        for (const c of users) {
          if (!tables(c.family, rewrite(c, c.rules.filter((r) => !r.includes(`--match-set ${s} `))))) throw new Error(`could not remove the references to ${s}`);
          mark(chainObject(c), `chain-changed: ${chainObject(c)}`);
        }
        if (!ipset(`destroy ${s}\n`)) throw new Error(`could not destroy ${s}`);
        mark(`ipset ${s}`, `set-missing: ipset ${s}`);
        break;
      }
      case 7: {
        // An extra chain of ours.
        const c = { family: (op.pick % 2 === 0 ? 4 : 6) as Family, table: 'filter', chain: `${prefix}-zz-stale` };
        if (!touched.has(chainObject(c)) && tables(c.family, `*filter\n:${c.chain} - [0:0]\nCOMMIT\n`)) mark(chainObject(c), `chain-extra: ${chainObject(c)}`);
        break;
      }
      case 8: {
        // An extra set of ours.
        const name = `${prefix}-zz-stale`;
        if (!touched.has(`ipset ${name}`) && ipset(`create ${name} hash:net family inet\n`)) mark(`ipset ${name}`, `set-extra: ipset ${name}`);
        break;
      }
      case 9: {
        // A built-in chain's policy changed.
        const c = pickOf(chains.filter((x) => x.builtin && x.table === 'filter'), op.pick);
        if (c && tables(c.family, `*${c.table}\n:${c.chain} DROP [0:0]\nCOMMIT\n`)) mark(chainObject(c), `policy-changed: ${chainObject(c)}`);
        break;
      }
    }
  }
  return { host, expect: [...expect].sort() };

  function mark(object: string, drift: string): void {
    touched.add(object);
    expect.add(drift);
  }
}

// ---------------------------------------------------------------------------------------------
// nft

export function tamperNft(start: NftState, ops: readonly TamperOp[], prefix = 'sgnf'): Tampered<NftState> {
  let state = start;
  const touched = new Set<string>();
  const expect = new Set<string>();
  const apply = (text: string): boolean => {
    const r = nftApply(state, text);
    if (r.ok) state = r.state;
    return r.ok;
  };
  const ours = new Set([`${prefix}_ports`, `${prefix}_sg`]);
  // The tables a full load made (an extra table is reported whole: nothing inside it is touched).
  const loaded = new Set(start.tables.keys());
  for (const op of ops) {
    const tables = [...state.tables.entries()].filter(([id, t]) => ours.has(t.name) && loaded.has(id)).map(([, t]) => t);
    const chains = tables.flatMap((t) => [...t.chains.values()].map((c) => ({ id: `${t.family} ${t.name}`, t, c, object: `${t.family} ${t.name} chain ${c.name}` }))).filter((x) => !touched.has(x.object));
    const sets = tables.flatMap((t) => [...t.sets.values()].map((s) => ({ id: `${t.family} ${t.name}`, t, s, object: `${t.family} ${t.name} ${s.spec.kind} ${s.name}` }))).filter((x) => !touched.has(x.object));
    const rewrite = (x: (typeof chains)[number], rules: readonly string[]): string => [`flush chain ${x.id} ${x.c.name}`, ...rules.map((r) => `add rule ${x.id} ${x.c.name} ${r}`), ''].join('\n');
    const texts = (x: (typeof chains)[number]): string[] => x.c.rules.map((r) => r.text);
    switch (op.kind) {
      case 0: {
        const x = pickOf(chains.filter((y) => y.c.rules.length > 0), op.pick);
        if (x && apply(rewrite(x, texts(x).filter((_, i) => i !== op.at % x.c.rules.length)))) mark(x.object, `chain-changed: ${x.object}`);
        break;
      }
      case 1: {
        const x = pickOf(chains, op.pick);
        if (!x) break;
        const rules = texts(x);
        rules.splice(op.at % (rules.length + 1), 0, 'accept');
        if (apply(rewrite(x, rules))) mark(x.object, `chain-changed: ${x.object}`);
        break;
      }
      case 2: {
        const x = pickOf(chains.filter((y) => y.c.rules.length > 0), op.pick);
        if (x && apply(rewrite(x, []))) mark(x.object, `chain-changed: ${x.object}`);
        break;
      }
      case 3: {
        // A base chain declared again with another priority (its rules kept).
        const x = pickOf(chains.filter((y) => y.c.base !== undefined), op.pick);
        if (!x) break;
        const b = x.c.base!;
        const text = [`delete chain ${x.id} ${x.c.name}`, `add chain ${x.id} ${x.c.name} { type filter hook ${b.hook} priority ${b.priority + 1}; policy ${b.policy}; }`, ...texts(x).map((r) => `add rule ${x.id} ${x.c.name} ${r}`), ''].join('\n');
        if (apply(text)) mark(x.object, `hook-changed: ${x.object}`);
        break;
      }
      case 4: {
        // An address added to a host set.
        const x = pickOf(sets.filter((y) => y.s.spec.kind === 'set' && (y.s.spec.key === 'ipv4_addr' || y.s.spec.key === 'ipv6_addr')), op.pick);
        if (!x) break;
        const address = FOREIGN_ADDRESS[x.s.spec.key === 'ipv4_addr' ? 4 : 6];
        if (apply(`add element ${x.id} ${x.s.name} { ${address} }\n`)) mark(x.object, `members: ${x.object}`);
        break;
      }
      case 5: {
        // An element deleted from a set or map.
        const x = pickOf(sets.filter((y) => [...y.s.elements()].length > 0), op.pick);
        if (!x) break;
        const all = [...x.s.elements()];
        const e = all[op.at % all.length]!;
        const key = x.s.spec.key === 'mark' ? `0x${Number(e.key).toString(16).padStart(8, '0')}` : x.s.spec.key === 'ifname' ? `"${e.key}"` : e.key;
        if (apply(`delete element ${x.id} ${x.s.name} { ${key} }\n`)) mark(x.object, `${x.s.spec.kind === 'map' ? 'elements' : 'members'}: ${x.object}`);
        break;
      }
      case 6: {
        // A set deleted after the rules that use it were removed.
        const x = pickOf(sets, op.pick);
        if (!x) break;
        // (A rule of a chain touched before still using it makes the delete fail: then nothing changes.)
        const uses = (r: string): boolean => new RegExp(`@${x.s.name}\\b`).test(r);
        const users = chains.filter((y) => y.id === x.id && y.c.rules.some((r) => uses(r.text)));
        const lines = users.map((u) => rewrite(u, texts(u).filter((r) => !uses(r))));
        if (!apply([...lines, `delete ${x.s.spec.kind} ${x.id} ${x.s.name}`, ''].join('\n'))) break;
        for (const u of users) mark(u.object, `chain-changed: ${u.object}`);
        mark(x.object, `set-missing: ${x.object}`);
        break;
      }
      case 7: {
        const t = pickOf(tables, op.pick);
        if (!t) break;
        const object = `${t.family} ${t.name} chain zz_stale`;
        if (!touched.has(object) && apply(`add chain ${t.family} ${t.name} zz_stale\n`)) mark(object, `chain-extra: ${object}`);
        break;
      }
      case 8: {
        // A verdict-map element pointed at another chain.
        const x = pickOf(sets.filter((y) => y.s.spec.value === 'verdict' && [...y.s.elements()].length > 0), op.pick);
        if (!x) break;
        const all = [...x.s.elements()];
        const e = all[op.at % all.length]!;
        const key = x.s.spec.key === 'mark' ? `0x${Number(e.key).toString(16).padStart(8, '0')}` : x.s.spec.key === 'ifname' ? `"${e.key}"` : e.key;
        const current = e.value !== undefined && typeof e.value === 'object' && 'chain' in e.value ? e.value.chain : undefined;
        const targets = [...x.t.chains.values()].filter((c) => c.base === undefined && c.name !== current).map((c) => c.name);
        const other = pickOf(targets, op.at);
        if (other && apply(`delete element ${x.id} ${x.s.name} { ${key} }\nadd element ${x.id} ${x.s.name} { ${key} : goto ${other} }\n`)) mark(x.object, `elements: ${x.object}`);
        break;
      }
      case 9: {
        // An extra table named as ours in another family.
        const object = `table bridge ${prefix}_sg`;
        if (!touched.has(object) && apply(`add table bridge ${prefix}_sg\n`)) mark(object, `table-extra: ${object}`);
        break;
      }
    }
  }
  return { host: state, expect: [...expect].sort() };

  function mark(object: string, drift: string): void {
    touched.add(object);
    expect.add(drift);
  }
}

