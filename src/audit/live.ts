/**
 * The live state of a host, from the dumps (dumps.ts), in the form a compile produces
 * (delta/state.ts), restricted to sgnf's objects:
 *
 * - iptables: in the filter and raw tables, the chains named `<prefix>-...`, and in the built-in
 *   chains their policy and the rules that jump or go to one of sgnf's chains; ipsets named
 *   `<prefix>-...` (the temporary `<prefix>-G4-...` sets of an interrupted update included:
 *   they are sgnf's too, and extra);
 * - nft: the tables `<p>_ports` and `<p>_sg` (p: the prefix in nft's alphabet) of any family.
 *
 * Everything else is another tool's: listed as foreign (the audit shows it with --all), never
 * compared.
 */
import type { Backend } from '../compile.js';
import type { ChainState, HostState, IpsetSetState, IptablesTableName, IptablesTables, NftTableState } from '../delta/state.js';
import { nftTablePrefix } from '../backends/nft/layout.js';
import type { Family } from '../net/ip.js';
import { DumpError, type LiveDumps, LIVE_FILES, type LiveFile } from './dumps.js';
import { parseIpsetSave } from './ipset-save.js';
import { parseIptablesSave } from './iptables-save.js';
import { parseNftRuleset } from './nft-ruleset.js';

/** An object of another tool, found next to sgnf's. */
export interface Foreign {
  readonly kind: 'table' | 'chain' | 'rules' | 'set' | 'object';
  /** `ipv4 nat`, `ipv4 filter chain DOCKER`, `ipset docker-ips`, `table ip filter`. */
  readonly object: string;
  /** How much it holds: `3 chains`, `12 rules`, `hash:ip family inet, 4 members`. */
  readonly detail: string;
}

export interface LiveState {
  readonly state: HostState;
  readonly foreign: readonly Foreign[];
}

const TABLES: readonly IptablesTableName[] = ['filter', 'raw'];
const FAMILY_NAME = { 4: 'ipv4', 6: 'ipv6' } as const;

/** Parse the dumps of `backend` and keep sgnf's objects (names starting with `prefix`). */
export function liveState(dumps: LiveDumps, backend: Backend, prefix: string): LiveState {
  const missing = LIVE_FILES[backend].filter((f) => typeof dumps[f] !== 'string');
  if (missing.length > 0) throw new DumpError(missing.map((file) => ({ code: 'missing-dump' as const, file, line: 0, message: `missing (the ${backend} backend reads ${LIVE_FILES[backend].join(', ')})` })));
  return backend === 'nft' ? nftLive(dumps['nft.ruleset']!, prefix) : iptablesLive(dumps, prefix);
}

const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;

function iptablesLive(dumps: LiveDumps, prefix: string): LiveState {
  const foreign: Foreign[] = [];
  const ours = (name: string): boolean => name.startsWith(`${prefix}-`);
  const tables = {} as Record<Family, IptablesTables>;
  for (const family of [4, 6] as const) {
    const file: LiveFile = family === 4 ? 'iptables-save.v4' : 'iptables-save.v6';
    const saved = parseIptablesSave(dumps[file]!, file);
    const out = new Map<IptablesTableName, ReadonlyMap<string, ChainState>>();
    for (const [tableName, chains] of saved) {
      const table = `${FAMILY_NAME[family]} ${tableName}`;
      if (!(TABLES as readonly string[]).includes(tableName)) {
        foreign.push({ kind: 'table', object: table, detail: plural(chains.size, 'chain') });
        continue;
      }
      const kept = new Map<string, ChainState>();
      for (const [name, chain] of chains) {
        if (chain.policy !== undefined) {
          // A built-in chain: sgnf's rules there are its jumps to its own chains.
          const mine: string[] = [];
          let others = 0;
          for (const r of chain.rules) {
            if (ours(target(r))) mine.push(r);
            else others++;
          }
          if (others > 0) foreign.push({ kind: 'rules', object: `${table} chain ${name}`, detail: plural(others, 'rule') });
          kept.set(name, { policy: chain.policy, rules: mine });
        } else if (ours(name)) kept.set(name, { rules: chain.rules });
        else foreign.push({ kind: 'chain', object: `${table} chain ${name}`, detail: plural(chain.rules.length, 'rule') });
      }
      out.set(tableName as IptablesTableName, kept);
    }
    tables[family] = out;
  }
  const sets = new Map<string, IpsetSetState>();
  for (const [name, set] of parseIpsetSave(dumps['ipset.save']!, 'ipset.save')) {
    if (ours(name)) sets.set(name, { type: set.type, hashsize: set.hashsize, maxelem: set.maxelem, members: set.members });
    else foreign.push({ kind: 'set', object: `ipset ${name}`, detail: `${set.type}, ${plural(set.members.length, 'member')}` });
  }
  return { state: { backend: 'iptables', sets, tables }, foreign };
}

/** The chain a rule jumps or goes to (its last -j/-g), or ''. */
function target(rule: string): string {
  let last = '';
  for (const m of rule.matchAll(/(?:^| )-[jg] (\S+)/g)) last = m[1]!;
  return last;
}

function nftLive(text: string, prefix: string): LiveState {
  const foreign: Foreign[] = [];
  const p = nftTablePrefix(prefix);
  const names = new Set([`${p}_ports`, `${p}_sg`]);
  const tables = new Map<string, NftTableState>();
  for (const [id, t] of parseNftRuleset(text, 'nft.ruleset')) {
    if (!names.has(t.name)) {
      foreign.push({ kind: 'table', object: `table ${id}`, detail: `${plural(t.chains.size, 'chain')}, ${plural(t.sets.size, 'set')}` });
      continue;
    }
    for (const o of t.others) foreign.push({ kind: 'object', object: `table ${id} ${o}`, detail: 'not created by sgnf' });
    tables.set(id, { family: t.family, name: t.name, ...(t.comment !== undefined && { comment: t.comment }), sets: t.sets, chains: t.chains });
  }
  return { state: { backend: 'nft', tables }, foreign };
}
