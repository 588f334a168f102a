/**
 * A strict simulator of `iptables-restore` / `ip6tables-restore` with and without `--noflush`,
 * for the tables sgnf writes (filter, raw): a pure function from the tables of one family, the
 * ipsets that exist and a script to the tables afterwards.
 *
 * Behaviour pinned against iptables 1.8.9, legacy and nf_tables backends, on Linux 6.18; where
 * the two differ the simulator refuses what either refuses:
 * - each `*table` block commits at its COMMIT; a block that fails leaves its table unchanged,
 *   tables committed before stay, and the tool stops there. A block without COMMIT fails.
 * - without --noflush a block starts from its table emptied: no user chains, built-in chains
 *   without rules. A built-in chain the block does not declare keeps its policy under legacy and
 *   gets ACCEPT under nf_tables, so a block that leaves a non-ACCEPT policy undeclared is refused.
 *   Declaring a user chain twice in such a block fails (legacy: "File exists").
 * - `:CHAIN - [p:b]` creates a user chain or, with --noflush, flushes an existing one. For a
 *   built-in chain it sets the policy (`-` keeps it) and does NOT flush it, with or without
 *   --noflush. A user chain cannot have a policy (legacy refuses it).
 * - `-A CHAIN rule`: the chain must exist; a `-j`/`-g` target chain must exist at that line (a
 *   chain declared later in the block does not count) and be a user chain; `--match-set NAME`
 *   needs the set to exist with the file's family. The rule is checked by the strict
 *   interpreter's parser (test/support/verify/iptables.ts: canonical iptables-save form), and
 *   kept as its text after `-A CHAIN `.
 * - `-N CHAIN` fails if it exists. `-F CHAIN` fails if it does not; `-F` alone flushes every
 *   chain. `-P CHAIN POLICY` sets a built-in chain's policy.
 * - `-X CHAIN` is checked at its line, in order: the chain must exist, be a user chain, be empty
 *   and no rule of the table may jump or go to it at that moment. So a vanished chain is
 *   flushed (`:CHAIN - [0:0]`) and its referrers rewritten BEFORE its `-X`.
 * - COMMIT: the table is validated as the kernel does (jump loops, -m mac / --physdev-out at the
 *   hooks that forbid them; see finishTable in test/support/verify/iptables.ts). It refuses
 *   every loop, also those legacy accepts because its walk from the hooks never reaches them
 *   (an unreachable chain, rules behind an unconditional ACCEPT); nf_tables refuses most.
 * - `-D`, `-I` and `-R` are refused outright: they depend on rule positions or rule matching, and
 *   sgnf promises never to emit them.
 */
import { IPTABLES_CHAIN_NAME_MAX } from '../../../src/limits.js';
import type { Family } from '../../../src/net/ip.js';
import { RulesetError } from '../verify/ipset.js';
import { BUILTIN_CHAINS, type IptChain, type IptRule, type TableName, STANDARD_TARGETS, finishTable, parseRule } from '../verify/iptables.js';
import type { IpsetState as VerifyIpsetState } from '../verify/ipset.js';
import type { IpsetState } from './ipset.js';
import { ApplyError, type ApplyResult, rawLines } from './result.js';

export type { TableName } from '../verify/iptables.js';

export interface IptablesTable {
  readonly name: TableName;
  /** Built-in chains (with their policy) and user chains (policy undefined). */
  readonly chains: ReadonlyMap<string, IptChain>;
}

/** The tables of one family. Never mutated: apply returns a new state. */
export interface IptablesState {
  readonly family: Family;
  readonly tables: ReadonlyMap<TableName, IptablesTable>;
}

export const emptyIptables = (family: Family): IptablesState => ({ family, tables: new Map() });

export const TABLE_ORDER: readonly TableName[] = ['filter', 'raw'];

export interface IptablesRestoreOptions {
  /** --noflush (-n): blocks change their tables instead of replacing them. */
  readonly noflush?: boolean;
  /** The ipsets that exist (for `-m set --match-set`). */
  readonly sets?: IpsetState;
  /** Names the file in errors; default "iptables.v4" / "iptables.v6". */
  readonly file?: string;
}

interface Block {
  readonly name: TableName;
  readonly start: number;
  readonly chains: Map<string, IptChain>;
  /** Chains declared with a `:` line in this block. */
  readonly declared: Set<string>;
  /** Policies of the built-in chains before the block (for the undeclared-policy check). */
  readonly oldPolicies: ReadonlyMap<string, 'ACCEPT' | 'DROP'>;
}

const CHAIN_NAME = /^[A-Za-z0-9_.:][A-Za-z0-9_.:-]*$/;

/** Apply an iptables-restore script of `state.family`. */
export function iptablesRestore(state: IptablesState, text: string, options: IptablesRestoreOptions = {}): ApplyResult<IptablesState> {
  const family = state.family;
  const file = options.file ?? `iptables.v${family}`;
  const noflush = options.noflush === true;
  const sets = setsView(options.sets ?? new Map());
  const tables = new Map(state.tables);
  let block: Block | undefined;

  const lines = rawLines(text);
  try {
    for (let i = 0; i < lines.length; i++) {
      const n = i + 1;
      const line = lines[i]!;
      const fail = (message: string): never => {
        throw new ApplyError(file, n, message);
      };
      if (line === '' || line.startsWith('#')) continue;
      if (/[\x00-\x08\x0a-\x1f\x7f]/.test(line)) fail('control character in line');
      if (line.trim() === '') fail('a line of only whitespace (iptables-restore: no command specified)');
      if (line.startsWith('*')) {
        if (block) fail(`table ${line.slice(1)} starts before COMMIT of table ${block.name}`);
        const name = line.slice(1);
        if (name !== 'filter' && name !== 'raw') fail(`table "${name}" is not modelled (filter, raw)`);
        block = startBlock(name as TableName, tables.get(name as TableName), n, noflush);
        continue;
      }
      if (!block) fail('a line outside a table (no *table before it)');
      const b = block!;
      if (line === 'COMMIT') {
        tables.set(b.name, commit(b, file, n, noflush));
        block = undefined;
        continue;
      }
      if (line.startsWith(':')) {
        declare(b, line, noflush, fail);
        continue;
      }
      if (line.startsWith('-A ')) {
        const rule = appendRule(line, n, b, family, sets, fail);
        b.chains.get(rule.chain)!.rules.push(rule);
        continue;
      }
      const words = line.split(' ');
      const op = words[0]!;
      const chainArg = (): string => {
        if (words.length !== 2 || words[1] === '') fail(`${op} takes one chain name`);
        return words[1]!;
      };
      const existing = (name: string): IptChain => b.chains.get(name) ?? fail(`${op} ${name}: no chain by that name in table ${b.name}`);
      switch (op) {
        case '-N': {
          const name = chainArg();
          checkChainName(name, fail);
          if (b.chains.has(name)) fail(`-N ${name}: chain already exists`);
          b.chains.set(name, { name, policy: undefined, rules: [] });
          break;
        }
        case '-F': {
          if (words.length === 1) for (const c of b.chains.values()) c.rules.length = 0;
          else existing(chainArg()).rules.length = 0;
          break;
        }
        case '-X': {
          if (words.length === 1) fail('-X without a chain (delete every user chain) is not modelled');
          const c = existing(chainArg());
          if (c.policy !== undefined) fail(`-X ${c.name}: a built-in chain cannot be deleted`);
          if (c.rules.length > 0) fail(`-X ${c.name}: the chain is not empty (${c.rules.length} rules; flush it first)`);
          const by = referrer(b.chains, c.name);
          if (by) fail(`-X ${c.name}: the chain is still referenced (Device or resource busy) by chain ${by.chain}: ${by.text}`);
          b.chains.delete(c.name);
          break;
        }
        case '-P': {
          if (words.length !== 3) fail('-P takes a chain and a policy');
          const c = existing(words[1]!);
          if (c.policy === undefined) fail(`-P ${c.name}: only built-in chains have a policy`);
          const policy = words[2]!;
          if (policy !== 'ACCEPT' && policy !== 'DROP') fail(`-P ${c.name}: policy "${policy}" (ACCEPT or DROP)`);
          b.chains.set(c.name, { ...c, policy: policy as 'ACCEPT' | 'DROP' });
          break;
        }
        case '-D':
        case '-I':
        case '-R':
          fail(`${op} edits a rule by position or by match: refused (sgnf must never emit -D/-I/-R; rewrite the chain after its ":chain" line)`);
          break;
        default:
          fail(`command "${op}" is not modelled (*table, :chain, -A, -N, -F, -X, -P, COMMIT)`);
      }
    }
    if (block) throw new ApplyError(file, lines.length + 1, `COMMIT expected: table ${block.name} (from line ${block.start}) is not committed`);
  } catch (e) {
    if (e instanceof ApplyError) return { ok: false, error: e.reason, line: e.line, file, state: { family, tables } };
    throw e;
  }
  return { ok: true, state: { family, tables } };
}

/**
 * Parsed rules by family, table and line text: the same lines come back in every full output
 * and delta of a property run, and parsing is most of a restore. A cached rule is used only when
 * the references parseRule checks against the state (its chain, a target chain, its sets) hold;
 * otherwise the line is parsed again, which reports the error.
 */
const ruleCache: Record<`${Family}${TableName}`, Map<string, IptRule>> = { '4filter': new Map(), '4raw': new Map(), '6filter': new Map(), '6raw': new Map() };
const RULE_CACHE_MAX = 100_000;

function appendRule(line: string, n: number, b: Block, family: Family, sets: VerifyIpsetState, fail: (m: string) => never): IptRule {
  const cache = ruleCache[`${family}${b.name}`];
  const cached = cache.get(line);
  if (cached && referencesHold(cached, b.chains, family, sets)) return { ...cached, line: n };
  const rule = parseRule(line, n, { table: b.name, chains: b.chains, family, sets }, fail);
  if (cache.size >= RULE_CACHE_MAX) cache.clear();
  cache.set(line, rule);
  return rule;
}

function referencesHold(rule: IptRule, chains: ReadonlyMap<string, IptChain>, family: Family, sets: VerifyIpsetState): boolean {
  if (!chains.has(rule.chain)) return false;
  const t = rule.target;
  if (t.kind === 'jump' || t.kind === 'goto') {
    const c = chains.get(t.chain);
    if (!c || c.policy !== undefined) return false;
  }
  for (const m of rule.matches) if (m.kind === 'set' && sets.get(m.set)?.header.family !== family) return false;
  return true;
}

function startBlock(name: TableName, table: IptablesTable | undefined, start: number, noflush: boolean): Block {
  const chains = new Map<string, IptChain>();
  const oldPolicies = new Map<string, 'ACCEPT' | 'DROP'>();
  for (const b of BUILTIN_CHAINS[name]) {
    const old = table?.chains.get(b);
    const policy = old?.policy ?? 'ACCEPT';
    oldPolicies.set(b, policy);
    chains.set(b, { name: b, policy, rules: noflush && old ? [...old.rules] : [] });
  }
  if (noflush && table) {
    for (const c of table.chains.values()) if (c.policy === undefined) chains.set(c.name, { name: c.name, policy: undefined, rules: [...c.rules] });
  }
  return { name, start, chains, declared: new Set(), oldPolicies };
}

function declare(b: Block, line: string, noflush: boolean, fail: (m: string) => never): void {
  const m = /^:(\S+) (\S+)(?: \[[0-9]+:[0-9]+\])?$/.exec(line) ?? fail('a chain line is ":NAME POLICY [packets:bytes]"');
  const [, name, policy] = m as unknown as [string, string, string];
  const builtin = (BUILTIN_CHAINS[b.name] as readonly string[]).includes(name);
  if (builtin) {
    if (policy !== 'ACCEPT' && policy !== 'DROP' && policy !== '-') fail(`built-in chain ${name}: policy "${policy}" (ACCEPT, DROP or -)`);
    const c = b.chains.get(name)!;
    // A built-in chain is never flushed by its ":" line, even with --noflush.
    if (policy !== '-') b.chains.set(name, { ...c, policy: policy as 'ACCEPT' | 'DROP' });
    b.declared.add(name);
    return;
  }
  checkChainName(name, fail);
  if (policy !== '-') fail(`Can't set policy \`${policy}' on \`${name}': a user chain has "-" as policy`);
  const c = b.chains.get(name);
  if (c) {
    if (!noflush) fail(`error creating chain '${name}': File exists (declared twice in a block restored without --noflush)`);
    c.rules.length = 0;
  } else b.chains.set(name, { name, policy: undefined, rules: [] });
  b.declared.add(name);
}

function checkChainName(name: string, fail: (m: string) => never): void {
  if (!CHAIN_NAME.test(name)) fail(`"${name}" is not a valid chain name`);
  if (name.length > IPTABLES_CHAIN_NAME_MAX) fail(`Invalid chain name \`${name}' (${IPTABLES_CHAIN_NAME_MAX} chars max)`);
  if (STANDARD_TARGETS.has(name)) fail(`${name} is a target name, not a chain name`);
}

function commit(b: Block, file: string, n: number, noflush: boolean): IptablesTable {
  if (!noflush) {
    for (const [name, old] of b.oldPolicies) {
      if (!b.declared.has(name) && old !== 'ACCEPT') {
        throw new ApplyError(file, n, `built-in chain ${name} (policy ${old}) is not declared in a block restored without --noflush: legacy keeps its policy, nf_tables resets it to ACCEPT`);
      }
    }
  }
  try {
    finishTable(b.name, b.chains, file, n);
  } catch (e) {
    if (e instanceof RulesetError) throw new ApplyError(file, e.line, e.message.slice(`${file}:${e.line}: `.length));
    throw e;
  }
  return { name: b.name, chains: b.chains };
}

/** A rule that jumps or goes to `chain`, if any. */
function referrer(chains: ReadonlyMap<string, IptChain>, chain: string): IptRule | undefined {
  for (const c of chains.values()) {
    for (const r of c.rules) if ((r.target.kind === 'jump' || r.target.kind === 'goto') && r.target.chain === chain) return r;
  }
  return undefined;
}

/** The ipset state as the rule parser reads it: a set's family under `header`. */
function setsView(sets: IpsetState): VerifyIpsetState {
  const view = {
    get: (name: string) => {
      const s = sets.get(name);
      return s && { name, header: { type: s.type, family: s.family, hashsize: s.hashsize, maxelem: s.maxelem } };
    },
    has: (name: string) => sets.has(name),
  };
  return view as unknown as VerifyIpsetState;
}

/** Every set a rule of these tables matches (`-m set --match-set NAME`). */
export function referencedSets(...states: IptablesState[]): Set<string> {
  const out = new Set<string>();
  for (const s of states) {
    for (const t of s.tables.values()) {
      for (const c of t.chains.values()) for (const r of c.rules) for (const m of r.matches) if (m.kind === 'set') out.add(m.set);
    }
  }
  return out;
}

/**
 * `iptables-save` without counters, canonical: tables filter then raw, built-in chains in hook
 * order then user chains sorted; each chain's rules in order, built-in chains' first.
 */
export function iptablesSave(state: IptablesState): string {
  const out: string[] = [];
  for (const name of TABLE_ORDER) {
    const t = state.tables.get(name);
    if (!t) continue;
    const builtins = BUILTIN_CHAINS[name] as readonly string[];
    const users = [...t.chains.keys()].filter((c) => !builtins.includes(c)).sort();
    out.push(`*${name}`);
    for (const c of builtins) out.push(`:${c} ${t.chains.get(c)!.policy} [0:0]`);
    for (const c of users) out.push(`:${c} - [0:0]`);
    for (const c of [...builtins, ...users]) for (const r of t.chains.get(c)!.rules) out.push(`-A ${c} ${r.text}`);
    out.push('COMMIT');
  }
  return out.map((l) => `${l}\n`).join('');
}
