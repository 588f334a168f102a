/**
 * The live state of a kernel (`ipset save`, `iptables-save`, `nft -j list ruleset`) in the
 * simulators' canonical forms, so a kernel test can compare a namespace with a simulated host.
 */
import { type Prefix, formatAddress, formatPrefix, isHost, parsePrefix } from '../../../src/net/ip.js';
import { BUILTIN_CHAINS, type TableName } from '../verify/iptables.js';
import type { NftState } from './nft.js';
import { showVerdict } from '../verify/nft-sets.js';
import { TABLE_ORDER } from './iptables.js';

/** `ipset save` as ipsetSave() prints it (no hashsize, bucketsize or initval; sorted). */
export function canonicalIpsetSave(save: string): string {
  const sets = new Map<string, { header: string; entries: { text: string; p: Prefix }[] }>();
  for (const line of save.split('\n')) {
    const w = line.trim().split(/\s+/);
    if (w[0] === 'create') {
      const opt = (k: string): string | undefined => {
        const i = w.indexOf(k, 3);
        return i < 0 ? undefined : w[i + 1];
      };
      sets.set(w[1]!, { header: `create ${w[1]} ${w[2]} family ${opt('family') ?? 'inet'} maxelem ${opt('maxelem') ?? 65536}`, entries: [] });
    } else if (w[0] === 'add') {
      const parsed = parsePrefix(w[2]!);
      if (typeof parsed === 'string') throw new Error(`ipset save entry: ${parsed}`);
      const p = parsed.prefix;
      sets.get(w[1]!)!.entries.push({ text: isHost(p) ? formatAddress(p.family, p.addr) : formatPrefix(p), p });
    }
  }
  const out: string[] = [];
  for (const name of [...sets.keys()].sort()) {
    const s = sets.get(name)!;
    out.push(s.header);
    s.entries.sort((a, b) => (a.p.addr < b.p.addr ? -1 : a.p.addr > b.p.addr ? 1 : a.p.len - b.p.len));
    for (const e of s.entries) out.push(`add ${name} ${e.text}`);
  }
  return out.map((l) => `${l}\n`).join('');
}

/**
 * `iptables-save` (either backend) as iptablesSave() prints it: filter and raw only, counters
 * zeroed, chains reordered. A table left at its defaults (ACCEPT policies, no chains or rules)
 * is dropped: the kernel may instantiate one that no restore committed. Pass a simulated dump
 * (iptablesSave) through it too, so both sides drop the same tables.
 */
export function canonicalIptablesSave(save: string): string {
  const tables = new Map<string, { policies: Map<string, string>; users: Set<string>; rules: Map<string, string[]> }>();
  let cur: ReturnType<typeof tables.get>;
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) {
      cur = { policies: new Map(), users: new Set(), rules: new Map() };
      tables.set(line.slice(1), cur);
    } else if (line.startsWith(':') && cur) {
      const [name, policy] = line.slice(1).split(' ') as [string, string];
      if (policy === '-') cur.users.add(name);
      else cur.policies.set(name, policy);
    } else if (line.startsWith('-A ') && cur) {
      const chain = line.split(' ')[1]!;
      const list = cur.rules.get(chain) ?? [];
      list.push(line);
      cur.rules.set(chain, list);
    }
  }
  const out: string[] = [];
  for (const name of TABLE_ORDER) {
    const t = tables.get(name);
    if (!t) continue;
    const builtins = BUILTIN_CHAINS[name as TableName] as readonly string[];
    const pristine = t.users.size === 0 && t.rules.size === 0 && builtins.every((b) => (t.policies.get(b) ?? 'ACCEPT') === 'ACCEPT');
    if (pristine) continue;
    const users = [...t.users].sort();
    out.push(`*${name}`);
    for (const b of builtins) out.push(`:${b} ${t.policies.get(b) ?? 'ACCEPT'} [0:0]`);
    for (const u of users) out.push(`:${u} - [0:0]`);
    for (const c of [...builtins, ...users]) out.push(...(t.rules.get(c) ?? []));
    out.push('COMMIT');
  }
  return out.map((l) => `${l}\n`).join('');
}

/**
 * What nft rule text cannot compare (nft lists rules in its own words): per table, each set or
 * map with its declaration and its elements, and each chain with its hook and its rule count.
 */
export function nftShape(state: NftState): string {
  const out: string[] = [];
  for (const t of state.tables.values()) {
    const head = `${t.family} ${t.name}`;
    out.push(`table ${head}`);
    for (const s of t.sets.values()) {
      const elements = [...s.elements()].map((e) => `${e.key}${e.value === undefined ? '' : ` : ${typeof e.value === 'number' ? e.value : showVerdict(e.value)}`}`);
      out.push(`${head} ${s.spec.kind} ${s.name}${s.spec.interval ? ' interval' : ''} {${elements.sort().join(', ')}}`);
    }
    for (const c of t.chains.values()) {
      const b = c.base ? ` hook ${c.base.hook} priority ${c.base.priority} policy ${c.base.policy}` : '';
      out.push(`${head} chain ${c.name}${b} rules ${c.rules.length}`);
    }
  }
  return out.sort().map((l) => `${l}\n`).join('');
}

type Json = Record<string, unknown>;

/** nftShape() of a live ruleset: the output of `nft -j list ruleset` (tables bridge and inet). */
export function nftJsonShape(json: string): string {
  const items = (JSON.parse(json) as { nftables: Json[] }).nftables;
  const out: string[] = [];
  const rules = new Map<string, number>();
  for (const it of items) {
    const r = it['rule'] as Json | undefined;
    if (r) rules.set(`${r['family']} ${r['table']} ${r['chain']}`, (rules.get(`${r['family']} ${r['table']} ${r['chain']}`) ?? 0) + 1);
  }
  const keyText = (k: unknown): string => {
    if (typeof k === 'string' || typeof k === 'number') return String(k);
    const p = (k as Json)['prefix'] as Json | undefined;
    if (p) {
      const parsed = parsePrefix(`${p['addr']}/${p['len']}`);
      if (typeof parsed === 'string') throw new Error(parsed);
      return formatPrefix(parsed.prefix);
    }
    throw new Error(`nft JSON element key not understood: ${JSON.stringify(k)}`);
  };
  const valueText = (v: unknown): string => {
    if (typeof v === 'number' || typeof v === 'string') return String(v);
    const o = v as Json;
    for (const kind of ['jump', 'goto']) if (o[kind]) return `${kind} ${(o[kind] as Json)['target']}`;
    for (const kind of ['accept', 'drop', 'return', 'continue']) if (kind in o) return kind;
    throw new Error(`nft JSON element value not understood: ${JSON.stringify(v)}`);
  };
  for (const it of items) {
    const t = it['table'] as Json | undefined;
    if (t) out.push(`table ${t['family']} ${t['name']}`);
    for (const kind of ['set', 'map'] as const) {
      const s = it[kind] as Json | undefined;
      if (!s) continue;
      const interval = ((s['flags'] as string[] | undefined) ?? []).includes('interval');
      const elements = ((s['elem'] as unknown[] | undefined) ?? []).map((e) => {
        // Map elements are [key, value]; elements with options are { elem: { val } }.
        if (Array.isArray(e)) return `${keyText(e[0])} : ${valueText(e[1])}`;
        const inner = (e as Json)['elem'] as Json | undefined;
        return keyText(inner ? inner['val'] : e);
      });
      out.push(`${s['family']} ${s['table']} ${kind} ${s['name']}${interval ? ' interval' : ''} {${elements.sort().join(', ')}}`);
    }
    const c = it['chain'] as Json | undefined;
    if (c) {
      const b = c['hook'] !== undefined ? ` hook ${c['hook']} priority ${c['prio']} policy ${c['policy']}` : '';
      out.push(`${c['family']} ${c['table']} chain ${c['name']}${b} rules ${rules.get(`${c['family']} ${c['table']} ${c['name']}`) ?? 0}`);
    }
  }
  return out.sort().map((l) => `${l}\n`).join('');
}
