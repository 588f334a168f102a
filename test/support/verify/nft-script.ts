/**
 * nft scripts as `nft -f` applies them, one transaction per script: the statements sgnf prints
 * (`table`, `delete table`, table blocks with sets, maps and chains, `add element`, `flush set`)
 * change a copy of the state, which is validated as the kernel validates a commit and only then
 * returned. Anything not understood, and anything nft or the kernel would refuse, is a
 * RulesetError with the file and line:
 *   syntax, keywords as names, names over NFT_NAME_MAX, a hook or priority the family lacks,
 *   a `delete` or `flush` of something that does not exist, elements of the wrong type, a prefix
 *   in a set without `flags interval`, overlapping intervals, a map key with two values,
 *   undefined sets, maps and chains, a lookup whose type differs from the set's, a jump to a base
 *   chain, jump loops and jumps deeper than the kernel's stack (Too many links), `notrack` or
 *   `ct zone set` reachable from a hook other than prerouting and output, `ct` in a bridge table,
 *   and base chains whose order relative to conntrack or br_netfilter would be a tie.
 */
import { RulesetError } from './ipset.js';
import { type NftVerdict, type SetSpec, NftSet, parseElements, parseSetType } from './nft-sets.js';
import { type NftRule, type TableFamily, parseRule, ruleTargets, setReferences, usesNotrack, usesZone } from './nft-rule.js';
import { type Fail, type Line, Tokens, commentText, name, number, scriptLines, tokenize } from './nft-syntax.js';

export type Hook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';
const HOOKS: readonly Hook[] = ['prerouting', 'input', 'forward', 'output', 'postrouting'];

export interface BaseChain {
  readonly hook: Hook;
  readonly priority: number;
  readonly policy: 'accept' | 'drop';
}

export interface NftChain {
  readonly name: string;
  readonly line: number;
  readonly base: BaseChain | undefined;
  readonly rules: NftRule[];
}

export interface NftTable {
  readonly family: TableFamily;
  readonly name: string;
  comment: string | undefined;
  readonly sets: Map<string, NftSet>;
  readonly chains: Map<string, NftChain>;
}

export interface NftState {
  /** By `<family> <name>`, in creation order. */
  readonly tables: ReadonlyMap<string, NftTable>;
}

/** Named priorities (nft 1.0.6, `priority NAME`), per family. */
const PRIORITIES: Readonly<Record<TableFamily, Readonly<Record<string, number>>>> = {
  inet: { raw: -300, mangle: -150, dstnat: -100, filter: 0, security: 50, srcnat: 100 },
  bridge: { dstnat: -300, filter: -200, out: 100, srcnat: 300 },
};

/** Where conntrack (NF_IP_PRI_CONNTRACK) and br_netfilter (NF_BR_PRI_BRNF) sit in their hooks. */
export const CONNTRACK_PRIORITY = -200;
export const BR_NETFILTER_PRIORITY = 0;
/** NFT_JUMP_STACK_SIZE: the kernel refuses chains nested deeper (EMLINK, "Too many links"). */
const JUMP_STACK = 16;

/** Apply one script to a state (undefined: an empty ruleset); returns the new state. */
export function applyScript(before: NftState | undefined, text: string, file: string): NftState {
  const tables = cloneTables(before);
  const lines = scriptLines(text, file);
  let i = 0;
  const failAt =
    (n: number): Fail =>
    (message) => {
      throw new RulesetError(file, n, message);
    };

  while (i < lines.length) {
    const l = lines[i]!;
    const fail = failAt(l.n);
    if (l.depth !== 0) fail('indentation outside a block');
    const t = new Tokens(tokenize(l.text, fail), fail);
    const verb = t.word('a command');
    if (verb === 'table') {
      const table = tableRef(t, tables, 'create');
      if (t.accept('{')) {
        t.end();
        i = tableBlock(table, l.n, lines, i + 1, failAt);
        continue;
      }
      t.end();
    } else if (verb === 'delete') {
      t.expect('table', '"table" (only tables are deleted)');
      const table = tableRef(t, tables, 'existing');
      t.end();
      tables.delete(key(table.family, table.name));
    } else if (verb === 'add') {
      t.expect('element', '"element"');
      const set = setRef(t, tables);
      set.add(parseElements(t, set.spec, l.n), fail);
      t.end();
    } else if (verb === 'flush') {
      t.expect('set', '"set" (only sets are flushed)');
      const set = setRef(t, tables);
      if (set.spec.kind !== 'set') fail(`${set.name} is a map ("flush map")`);
      t.end();
      set.flush();
    } else fail(`command "${verb}" is not understood`);
    i++;
  }
  const state = { tables };
  validate(state, file);
  return state;
}

const key = (family: string, n: string): string => `${family} ${n}`;

function cloneTables(before: NftState | undefined): Map<string, NftTable> {
  const out = new Map<string, NftTable>();
  for (const [k, t] of before?.tables ?? []) {
    out.set(k, {
      family: t.family,
      name: t.name,
      comment: t.comment,
      sets: new Map([...t.sets].map(([n, s]) => [n, s.clone()])),
      chains: new Map([...t.chains].map(([n, c]) => [n, { ...c, rules: [...c.rules] }])),
    });
  }
  return out;
}

function family(t: Tokens): TableFamily {
  const f = t.word('a table family');
  if (f !== 'bridge' && f !== 'inet') t.fail(`table family "${f}" is not understood (sgnf uses bridge and inet)`);
  return f;
}

function tableRef(t: Tokens, tables: Map<string, NftTable>, mode: 'create' | 'existing'): NftTable {
  const f = family(t);
  const n = name(t.word('a table name'), t.fail);
  const existing = tables.get(key(f, n));
  if (existing) return existing;
  if (mode === 'existing') t.fail(`table ${f} ${n} does not exist (No such file or directory)`);
  const table: NftTable = { family: f, name: n, comment: undefined, sets: new Map(), chains: new Map() };
  tables.set(key(f, n), table);
  return table;
}

function setRef(t: Tokens, tables: Map<string, NftTable>): NftSet {
  const table = tableRef(t, tables, 'existing');
  const n = name(t.word('a set name'), t.fail);
  return table.sets.get(n) ?? t.fail(`set ${n} does not exist in table ${table.family} ${table.name}`);
}

/** The body of `table F N {`; returns the index of the line after its `}`. */
function tableBlock(table: NftTable, line: number, lines: readonly Line[], start: number, failAt: (n: number) => Fail): number {
  let i = start;
  for (;;) {
    const l = lines[i];
    if (!l) return failAt(line)(`table ${table.name} is not closed`);
    const fail = failAt(l.n);
    if (l.text === '}' && l.depth === 0) return i + 1;
    if (l.depth !== 1) fail(`indentation of ${l.depth} in a table block (1 expected)`);
    const t = new Tokens(tokenize(l.text, fail), fail);
    const w = t.word('a table element');
    if (w === 'comment') {
      table.comment = commentText(t.string('comment text'), fail);
      t.end();
      i++;
    } else if (w === 'set' || w === 'map') {
      const n = name(t.word(`a ${w} name`), fail);
      t.expect('{');
      t.end();
      i = setBlock(table, w, n, l.n, lines, i + 1, failAt);
    } else if (w === 'chain') {
      const n = name(t.word('a chain name'), fail);
      t.expect('{');
      t.end();
      i = chainBlock(table, n, l.n, lines, i + 1, failAt);
    } else fail(`"${w}" is not understood in a table block`);
  }
}

function setBlock(table: NftTable, kind: 'set' | 'map', n: string, line: number, lines: readonly Line[], start: number, failAt: (n: number) => Fail): number {
  let types: { key: SetSpec['key']; value: SetSpec['value'] } | undefined;
  let interval = false;
  let comment: string | undefined;
  const pending: { line: number; text: string }[] = [];
  let i = start;
  for (;; i++) {
    const l = lines[i];
    if (!l) return failAt(line)(`${kind} ${n} is not closed`);
    const fail = failAt(l.n);
    if (l.text === '}' && l.depth === 1) break;
    if (l.depth !== 2) fail(`indentation of ${l.depth} in a ${kind} block (2 expected)`);
    const t = new Tokens(tokenize(l.text, fail), fail);
    const w = t.peek();
    if (w?.kind === 'word' && (w.text === 'type' || w.text === 'typeof')) {
      if (types) fail(`${kind} ${n} has two types`);
      types = parseSetType(t, kind);
    } else if (t.accept('flags')) {
      if (t.word('a flag') !== 'interval') fail('only "flags interval" is understood');
      t.end();
      interval = true;
    } else if (t.accept('comment')) {
      comment = commentText(t.string('comment text'), fail);
      t.end();
    } else if (w?.kind === 'word' && w.text === 'elements') {
      pending.push({ line: l.n, text: l.text });
    } else fail(`${t.describe()} is not understood in a ${kind} block`);
  }
  const fail = failAt(line);
  if (!types) return fail(`${kind} ${n} has no type`);
  if (interval && types.key !== 'ipv4_addr' && types.key !== 'ipv6_addr') fail(`flags interval on ${types.key} keys is not understood`);
  const spec: SetSpec = { kind, key: types.key, value: types.value, interval };
  const existing = table.sets.get(n);
  if (existing && JSON.stringify(existing.spec) !== JSON.stringify(spec)) fail(`${kind} ${n} exists with another type (File exists)`);
  const set = existing ?? new NftSet(n, spec, line, comment);
  table.sets.set(n, set);
  for (const e of pending) {
    const ef = failAt(e.line);
    const t = new Tokens(tokenize(e.text, ef), ef);
    t.expect('elements');
    t.expect('=');
    set.add(parseElements(t, spec, e.line), ef);
    t.end();
  }
  return i + 1;
}

function chainBlock(table: NftTable, n: string, line: number, lines: readonly Line[], start: number, failAt: (n: number) => Fail): number {
  let base: BaseChain | undefined;
  const rules: NftRule[] = [];
  let i = start;
  for (;; i++) {
    const l = lines[i];
    if (!l) return failAt(line)(`chain ${n} is not closed`);
    const fail = failAt(l.n);
    if (l.text === '}' && l.depth === 1) break;
    if (l.depth !== 2) fail(`indentation of ${l.depth} in a chain block (2 expected)`);
    if (l.text.startsWith('type ')) {
      if (i !== start) fail('the chain type must come first');
      base = baseChain(l.text, table.family, fail);
      continue;
    }
    rules.push(parseRule(l.text, l.n, table.family, fail));
  }
  const existing = table.chains.get(n);
  if (existing) {
    if (base !== undefined && JSON.stringify(base) !== JSON.stringify(existing.base)) failAt(line)(`chain ${n} exists with another hook (File exists)`);
    existing.rules.push(...rules);
  } else table.chains.set(n, { name: n, line, base, rules });
  return i + 1;
}

/** `type filter hook H priority P; policy accept|drop;` */
export function baseChain(text: string, fam: TableFamily, fail: Fail): BaseChain {
  const t = new Tokens(tokenize(text, fail), fail);
  t.expect('type');
  const type = t.word('a chain type');
  if (type !== 'filter') fail(`chain type "${type}" is not understood (sgnf uses filter)`);
  t.expect('hook');
  const hook = t.word('a hook') as Hook;
  if (!HOOKS.includes(hook)) fail(`hook "${hook}" is not understood in the ${fam} family`);
  t.expect('priority');
  const p = t.word('a priority');
  const named = PRIORITIES[fam][p];
  const priority = named ?? (/^-?[0-9]+$/.test(p) ? Number(p) : fail(`priority "${p}" is not a number or a ${fam} priority name`));
  if (named === undefined) number(p.replace(/^-/, ''), 0, 2 ** 31, 'priority', fail);
  t.expect(';');
  let policy: 'accept' | 'drop' = 'accept';
  if (t.accept('policy')) {
    const w = t.word('accept or drop');
    if (w !== 'accept' && w !== 'drop') fail(`policy "${w}" is not understood`);
    policy = w;
    t.expect(';');
  }
  t.end();
  if (fam === 'bridge' && (hook === 'prerouting' || hook === 'forward') && (priority === BR_NETFILTER_PRIORITY || priority === BR_NETFILTER_PRIORITY - 1)) {
    fail(`bridge ${hook} priority ${priority} ties with br_netfilter's hook: the order is undefined`);
  }
  if (fam === 'inet' && hook === 'prerouting' && priority === CONNTRACK_PRIORITY) fail(`priority ${priority} ties with conntrack: the order is undefined`);
  return { hook, priority, policy };
}

// ---------------------------------------------------------------------------------------------
// Commit-time validation

export function validate(state: NftState, file: string): void {
  for (const table of state.tables.values()) {
    const fail =
      (line: number): Fail =>
      (message) => {
        throw new RulesetError(file, line, message);
      };
    const where = `table ${table.family} ${table.name}`;
    const chainTarget = (chain: string, line: number): void => {
      const c = table.chains.get(chain) ?? fail(line)(`chain ${chain} does not exist in ${where}`);
      if (c.base) fail(line)(`${chain} is a base chain: jumps and gotos to it are refused (Operation not supported)`);
    };
    for (const chain of table.chains.values()) {
      for (const rule of chain.rules) {
        for (const ref of setReferences(rule)) {
          const set = table.sets.get(ref.name) ?? fail(rule.line)(`set ${ref.name} does not exist in ${where}`);
          const want = ref.use === 'set' ? 'set' : 'map';
          if (set.spec.kind !== want) fail(rule.line)(`@${ref.name} is a ${set.spec.kind}, a ${want} is needed here`);
          if (set.spec.key !== ref.key) fail(rule.line)(`datatype mismatch: @${ref.name} holds ${set.spec.key}, the expression is ${ref.key}`);
          if (ref.use !== 'set' && set.spec.value !== ref.use) fail(rule.line)(`@${ref.name} maps to ${set.spec.value}, ${ref.use} is needed here`);
        }
        for (const v of ruleTargets(rule)) if ('chain' in v) chainTarget(v.chain, rule.line);
      }
    }
    for (const set of table.sets.values()) {
      if (set.spec.value !== 'verdict') continue;
      for (const e of set.elements()) {
        const v = e.value as NftVerdict;
        if ('chain' in v) chainTarget(v.chain, e.line);
      }
    }
    checkGraph(table, fail);
  }
}

/** Edges of the jump graph: every chain a rule or a verdict map it uses can continue in. */
function edges(table: NftTable, chain: NftChain): { to: string; line: number }[] {
  const out: { to: string; line: number }[] = [];
  for (const rule of chain.rules) {
    for (const v of ruleTargets(rule)) if ('chain' in v) out.push({ to: v.chain, line: rule.line });
    for (const ref of setReferences(rule)) {
      if (ref.use !== 'verdict') continue;
      for (const e of table.sets.get(ref.name)!.elements()) {
        const v = e.value as NftVerdict;
        if ('chain' in v) out.push({ to: v.chain, line: e.line });
      }
    }
  }
  return out;
}

/**
 * From every base chain: no loop, no path deeper than the jump stack, and hook-restricted
 * statements only where their hook allows them (nft_notrack / nft_ct validate).
 */
function checkGraph(table: NftTable, fail: (line: number) => Fail): void {
  for (const root of table.chains.values()) {
    if (!root.base) continue;
    const hook = root.base.hook;
    const path: string[] = [];
    // A chain explored to the end has no loop below it: only a deeper visit can tell more.
    const done = new Map<string, number>();
    const walk = (chain: NftChain, level: number, line: number): void => {
      if (path.includes(chain.name)) fail(line)(`jump loop ${[...path, chain.name].join(' -> ')} (Too many links)`);
      if (level >= JUMP_STACK) fail(line)(`chains nested ${level} deep from ${root.name} exceed the kernel's jump stack of ${JUMP_STACK} (Too many links)`);
      if ((done.get(chain.name) ?? -1) >= level) return;
      for (const rule of chain.rules) {
        if ((usesNotrack(rule) || usesZone(rule)) && hook !== 'prerouting' && hook !== 'output') {
          fail(rule.line)(`${usesNotrack(rule) ? 'notrack' : 'ct zone set'} reached from the ${hook} hook (only prerouting and output allow it)`);
        }
      }
      path.push(chain.name);
      for (const e of edges(table, chain)) walk(table.chains.get(e.to)!, level + 1, e.line);
      path.pop();
      done.set(chain.name, level);
    };
    walk(root, 0, root.line);
  }
}
