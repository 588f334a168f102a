/**
 * A strict simulator of `nft -f` for the tables sgnf writes (`table bridge P_ports`,
 * `table inet P_sg`): a pure function from a ruleset and a script to the ruleset afterwards.
 *
 * A script is one transaction: every command takes effect in order on a copy, and any error
 * discards the copy (the state is unchanged). Behaviour pinned against nft 1.0.6 on Linux 6.18:
 * - `table F N` / `add table`: creates the table if missing; `create table` fails if it exists;
 *   `delete table` fails if it is missing; `flush table` empties every chain (not sets or maps).
 * - `table F N {` ... `}` blocks (one statement per line, tab-indented, as sgnf prints them) add
 *   to the table. nft expands a block into its chains, then its sets and maps (with their
 *   elements), then the rules, so a rule or a verdict-map element may name a chain or set
 *   declared later in the same block, but not one declared in a later command.
 * - `add chain` (optionally `{ type filter hook H priority P; policy X; }`): an existing chain is
 *   kept (a new policy is applied, another hook fails); `create chain` fails if it exists.
 *   `delete chain` fails if the chain is missing or, at that point of the transaction, a rule
 *   jumps or goes to it (also through an anonymous verdict map) or a verdict-map element names
 *   it ("Device or resource busy"); its own rules go with it. So the referrers are flushed or
 *   the elements deleted BEFORE the chain. `flush chain` fails if it is missing.
 * - `add set|map N { type ...; flags interval; }`: an existing one with the same declaration is
 *   kept, another declaration fails; `delete set|map` fails if missing or used by a rule at that
 *   point; `flush set` / `flush map` must name the right kind.
 * - `add element`: an element already present is fine unless it maps to another value; an
 *   interval overlapping another one fails. `create element` fails on any element present.
 *   `delete element` fails on an element absent at its turn (the same one twice fails).
 * - `add rule F T C ...`: the chain, and the sets, maps and chains the rule names, must exist
 *   (jumps only to regular chains; set types must match).
 * - `destroy table|chain|set|map|element` (nft >= 1.0.8) is `delete` that ignores absence.
 * - `insert`, `replace` and `delete rule` are refused: they need handles or positions, which a
 *   compiler cannot know.
 * At the end the whole ruleset is validated as the kernel validates a commit (loops, jump depth,
 * hook-restricted statements): validate() of test/support/verify/nft-script.ts, whose parsers
 * (rules, set types, elements) also decide what a statement means.
 */
import { RulesetError } from '../verify/ipset.js';
import { type BaseChain, type NftChain, type NftState, type NftTable, baseChain, validate } from '../verify/nft-script.js';
import { type Element, type NftSet as NftSetType, type NftVerdict, type SetSpec, NftSet, parseElements, parseSetType, showVerdict } from '../verify/nft-sets.js';
import { type NftRule, type TableFamily, parseRule, ruleTargets, setReferences } from '../verify/nft-rule.js';
import { type Fail, type Line, type Token, Tokens, commentText, name as checkName, scriptLines, tokenize } from '../verify/nft-syntax.js';
import { ApplyError, type ApplyResult } from './result.js';

export type { NftState } from '../verify/nft-script.js';

export const emptyNft = (): NftState => ({ tables: new Map() });

const key = (family: string, n: string): string => `${family} ${n}`;

/** Apply one `nft -f` script as one transaction. */
export function nftApply(state: NftState, text: string, options: { file?: string } = {}): ApplyResult<NftState> {
  const file = options.file ?? 'nft -f';
  const tx = new Transaction(state, file);
  try {
    let lines: Line[];
    try {
      lines = scriptLines(text, file);
    } catch (e) {
      if (e instanceof RulesetError) throw new ApplyError(file, e.line, stripPrefix(e, file));
      throw e;
    }
    let i = 0;
    while (i < lines.length) i = tx.command(lines, i);
    const next = { tables: tx.tables };
    try {
      validate(next, file);
    } catch (e) {
      if (e instanceof RulesetError) throw new ApplyError(file, e.line, `commit refused: ${stripPrefix(e, file)}`);
      throw e;
    }
    return { ok: true, state: next };
  } catch (e) {
    if (e instanceof ApplyError) return { ok: false, error: e.reason, line: e.line, file, state };
    throw e;
  }
}

const stripPrefix = (e: RulesetError, file: string): string => e.message.slice(`${file}:${e.line}: `.length);

/** The parts of a `table F N {` block, applied in the order nft expands them. */
interface BlockChain {
  readonly name: string;
  readonly line: number;
  readonly base: BaseChain | undefined;
  readonly rules: readonly Line[];
}
interface BlockSet {
  readonly name: string;
  readonly line: number;
  readonly spec: SetSpec;
  readonly comment: string | undefined;
  readonly elements: readonly Line[];
}

class Transaction {
  readonly tables: Map<string, NftTable>;
  /** Tables, sets and chains copied in this transaction (free to change). */
  private readonly owned = new Set<object>();

  constructor(
    state: NftState,
    private readonly file: string,
  ) {
    this.tables = new Map(state.tables);
  }

  private failAt(n: number): Fail {
    return (message) => {
      throw new ApplyError(this.file, n, message);
    };
  }

  // -- copy on write ---------------------------------------------------------------------------

  /** The table as this transaction may change it (always look it up again by name). */
  private table(t: NftTable): NftTable {
    const k = key(t.family, t.name);
    const cur = this.tables.get(k) ?? t;
    if (this.owned.has(cur)) return cur;
    const copy: NftTable = { family: cur.family, name: cur.name, comment: cur.comment, sets: new Map(cur.sets), chains: new Map(cur.chains) };
    this.owned.add(copy);
    this.tables.set(k, copy);
    return copy;
  }

  private set(t: NftTable, name: string): NftSetType {
    const table = this.table(t);
    const cur = table.sets.get(name)!;
    if (this.owned.has(cur)) return cur;
    const copy = cur.clone();
    this.owned.add(copy);
    table.sets.set(name, copy);
    return copy;
  }

  private chain(t: NftTable, name: string): NftChain {
    const table = this.table(t);
    const cur = table.chains.get(name)!;
    if (this.owned.has(cur)) return cur;
    const copy: NftChain = { ...cur, rules: [...cur.rules] };
    this.owned.add(copy);
    table.chains.set(name, copy);
    return copy;
  }

  // -- lookups ---------------------------------------------------------------------------------

  /** `FAMILY NAME` of a table. */
  private tableRef(t: Tokens): { family: TableFamily; name: string } {
    const family = t.word('a table family');
    if (family !== 'bridge' && family !== 'inet') t.fail(`table family "${family}" is not modelled (bridge, inet)`);
    return { family: family as TableFamily, name: checkName(t.word('a table name'), t.fail) };
  }

  private existingTable(t: Tokens): NftTable {
    const { family, name } = this.tableRef(t);
    return this.tables.get(key(family, name)) ?? t.fail(`table ${family} ${name} does not exist (No such file or directory)`);
  }

  private addTable(family: TableFamily, n: string): NftTable {
    const existing = this.tables.get(key(family, n));
    if (existing) return this.table(existing);
    const table: NftTable = { family, name: n, comment: undefined, sets: new Map(), chains: new Map() };
    this.owned.add(table);
    this.tables.set(key(family, n), table);
    return table;
  }

  // -- commands --------------------------------------------------------------------------------

  /** Apply the command starting at lines[i]; returns the index of the next command. */
  command(lines: readonly Line[], i: number): number {
    const l = lines[i]!;
    const fail = this.failAt(l.n);
    if (l.depth !== 0) fail('indentation outside a block');
    const tokens = tokenize(l.text, fail);
    const t = new Tokens(tokens, fail);
    const verb = t.word('a command');
    if (verb === 'table') {
      const ref = this.tableRef(t);
      const table = this.addTable(ref.family, ref.name);
      if (t.accept('{')) {
        t.end();
        return this.tableBlock(table, l.n, lines, i + 1);
      }
      t.end();
      return i + 1;
    }
    const what = t.word('an object (table, chain, set, map, rule, element)');
    switch (`${verb} ${what}`) {
      case 'add table':
      case 'create table': {
        const ref = this.tableRef(t);
        if (verb === 'create' && this.tables.has(key(ref.family, ref.name))) fail(`table ${ref.family} ${ref.name} exists (File exists)`);
        t.end();
        this.addTable(ref.family, ref.name);
        break;
      }
      case 'delete table':
      case 'destroy table': {
        const ref = verb === 'delete' ? this.existingTable(t) : this.tableRef(t);
        t.end();
        this.tables.delete(key(ref.family, ref.name));
        break;
      }
      case 'flush table': {
        const table = this.table(this.existingTable(t));
        t.end();
        for (const n of [...table.chains.keys()]) this.chain(table, n).rules.length = 0;
        break;
      }
      case 'add chain':
      case 'create chain': {
        const table = this.existingTable(t);
        const n = checkName(t.word('a chain name'), fail);
        const base = t.done ? undefined : baseChain(braced(l.text, fail), table.family, fail);
        if (verb === 'create' && table.chains.has(n)) fail(`chain ${n} exists (File exists)`);
        this.addChain(table, n, base, l.n, fail);
        break;
      }
      case 'delete chain':
      case 'destroy chain': {
        const table = this.existingTable(t);
        const n = checkName(t.word('a chain name'), fail);
        t.end();
        if (!table.chains.has(n)) {
          if (verb === 'delete') fail(`chain ${n} does not exist in table ${table.family} ${table.name} (No such file or directory)`);
          break;
        }
        const by = this.chainUser(table, n);
        if (by) fail(`chain ${n} is in use (Device or resource busy): ${by}`);
        this.table(table).chains.delete(n);
        break;
      }
      case 'flush chain': {
        const table = this.existingTable(t);
        const n = checkName(t.word('a chain name'), fail);
        t.end();
        const c = table.chains.get(n) ?? fail(`chain ${n} does not exist in table ${table.family} ${table.name} (No such file or directory)`);
        this.chain(table, c.name).rules.length = 0;
        break;
      }
      case 'add set':
      case 'add map':
      case 'create set':
      case 'create map': {
        const table = this.existingTable(t);
        const n = checkName(t.word(`a ${what} name`), fail);
        const decl = setDeclaration(tokens.slice(5), what as 'set' | 'map', fail);
        if (verb === 'create' && table.sets.has(n)) fail(`${what} ${n} exists (File exists)`);
        this.addSet(table, { name: n, line: l.n, spec: decl.spec, comment: decl.comment, elements: [] }, fail);
        if (decl.elements.length > 0) this.set(table, n).add(decl.elements.map((e) => ({ ...e, line: l.n })), fail);
        break;
      }
      case 'delete set':
      case 'delete map':
      case 'destroy set':
      case 'destroy map': {
        const table = this.existingTable(t);
        const n = checkName(t.word(`a ${what} name`), fail);
        t.end();
        const s = table.sets.get(n);
        if (!s || s.spec.kind !== what) {
          if (verb === 'delete') fail(`${what} ${n} does not exist in table ${table.family} ${table.name} (No such file or directory)`);
          break;
        }
        const by = this.setUser(table, n);
        if (by) fail(`${what} ${n} is in use (Device or resource busy): ${by}`);
        this.table(table).sets.delete(n);
        break;
      }
      case 'flush set':
      case 'flush map': {
        const table = this.existingTable(t);
        const n = checkName(t.word(`a ${what} name`), fail);
        t.end();
        const s = table.sets.get(n);
        if (!s || s.spec.kind !== what) fail(`${what} ${n} does not exist in table ${table.family} ${table.name} (No such file or directory)`);
        this.set(table, n).flush();
        break;
      }
      case 'add element':
      case 'create element':
      case 'delete element':
      case 'destroy element': {
        const table = this.existingTable(t);
        const n = checkName(t.word('a set or map name'), fail);
        const s = table.sets.get(n) ?? fail(`set ${n} does not exist in table ${table.family} ${table.name} (No such file or directory)`);
        // delete may name a map element by its key alone.
        const keysOnly = verb !== 'add' && verb !== 'create' && !tokens.some((x) => x.kind === 'word' && x.text === ':');
        const spec = keysOnly ? { ...s.spec, value: undefined } : s.spec;
        const elements = parseElements(t, spec, l.n);
        t.end();
        if (verb === 'add' || verb === 'create') this.checkVerdicts(table, elements, fail);
        const w = this.set(table, n);
        if (verb === 'add') w.add(elements, fail);
        else if (verb === 'create') w.create(elements, fail);
        else if (verb === 'delete') w.delete(elements, fail);
        else w.delete(elements.filter((e) => w.get(e.key) !== undefined), fail);
        break;
      }
      case 'add rule': {
        const table = this.existingTable(t);
        const n = checkName(t.word('a chain name'), fail);
        const c = table.chains.get(n) ?? fail(`chain ${n} does not exist in table ${table.family} ${table.name} (No such file or directory)`);
        const m = /^add rule \S+ \S+ \S+ (.+)$/.exec(l.text) ?? fail('a rule is "add rule FAMILY TABLE CHAIN STATEMENTS"');
        this.addRule(table, c, m[1]!, l.n, fail);
        break;
      }
      case 'insert rule':
      case 'replace rule':
      case 'delete rule':
        fail(`${verb} rule needs a rule handle or position: refused (sgnf must never emit it; flush the chain and add its rules)`);
        break;
      default:
        fail(`command "${verb} ${what}" is not modelled`);
    }
    return i + 1;
  }

  private addChain(table: NftTable, n: string, base: BaseChain | undefined, line: number, fail: Fail): NftChain {
    const existing = table.chains.get(n);
    if (!existing) {
      const c: NftChain = { name: n, line, base, rules: [] };
      this.owned.add(c);
      this.table(table).chains.set(n, c);
      return c;
    }
    if (base === undefined) return existing;
    if (existing.base === undefined) fail(`chain ${n} exists as a regular chain: it cannot become a base chain (File exists)`);
    if (existing.base!.hook !== base.hook || existing.base!.priority !== base.priority) {
      fail(`chain ${n} exists with hook ${existing.base!.hook} priority ${existing.base!.priority}: it cannot change (Operation not supported)`);
    }
    const updated: NftChain = { ...this.chain(table, n), base };
    this.owned.add(updated);
    this.table(table).chains.set(n, updated);
    return updated;
  }

  private addSet(table: NftTable, s: BlockSet, fail: Fail): void {
    const existing = table.sets.get(s.name);
    if (existing) {
      if (JSON.stringify(existing.spec) !== JSON.stringify(s.spec)) fail(`${s.spec.kind} ${s.name} exists with another declaration (File exists)`);
      return;
    }
    const created = new NftSet(s.name, s.spec, s.line, s.comment);
    this.owned.add(created);
    this.table(table).sets.set(s.name, created);
  }

  /** Checks a rule as the kernel does when it is added, then appends it. */
  private addRule(table: NftTable, chain: NftChain, text: string, line: number, fail: Fail): void {
    const rule = parsedRule(text, line, table.family, fail);
    for (const ref of setReferences(rule)) {
      const s = table.sets.get(ref.name) ?? fail(`set ${ref.name} does not exist in table ${table.family} ${table.name} (No such file or directory)`);
      const want = ref.use === 'set' ? 'set' : 'map';
      if (s.spec.kind !== want) fail(`@${ref.name} is a ${s.spec.kind}, a ${want} is needed here`);
      if (s.spec.key !== ref.key) fail(`datatype mismatch: @${ref.name} holds ${s.spec.key}, the expression is ${ref.key}`);
      if (ref.use !== 'set' && s.spec.value !== ref.use) fail(`@${ref.name} maps to ${s.spec.value}, ${ref.use} is needed here`);
    }
    for (const v of ruleTargets(rule)) if ('chain' in v) this.checkTarget(table, v.chain, fail);
    this.chain(table, chain.name).rules.push(rule);
  }

  private checkTarget(table: NftTable, chain: string, fail: Fail): void {
    const c = table.chains.get(chain) ?? fail(`chain ${chain} does not exist in table ${table.family} ${table.name} (No such file or directory)`);
    if (c.base) fail(`${chain} is a base chain: jumps and gotos to it are refused (Operation not supported)`);
  }

  private checkVerdicts(table: NftTable, elements: readonly Element[], fail: Fail): void {
    for (const e of elements) if (typeof e.value === 'object' && 'chain' in e.value) this.checkTarget(table, e.value.chain, fail);
  }

  /** What uses chain `n` now: a rule that jumps or goes to it, or a verdict-map element. */
  private chainUser(table: NftTable, n: string): string | undefined {
    for (const c of table.chains.values()) {
      if (c.name === n) continue;
      for (const r of c.rules) for (const v of ruleTargets(r)) if ('chain' in v && v.chain === n) return `rule "${r.text}" of chain ${c.name}`;
    }
    for (const s of table.sets.values()) {
      if (s.spec.value !== 'verdict') continue;
      for (const e of s.elements()) {
        const v = e.value as NftVerdict;
        if ('chain' in v && v.chain === n) return `element ${e.key} : ${showVerdict(v)} of map ${s.name}`;
      }
    }
    return undefined;
  }

  /** A rule that uses set or map `n` now. */
  private setUser(table: NftTable, n: string): string | undefined {
    for (const c of table.chains.values()) for (const r of c.rules) if (setReferences(r).some((ref) => ref.name === n)) return `rule "${r.text}" of chain ${c.name}`;
    return undefined;
  }

  /** `table F N {` ... `}`: returns the index of the line after the closing brace. */
  private tableBlock(table: NftTable, line: number, lines: readonly Line[], start: number): number {
    const chains: BlockChain[] = [];
    const sets: BlockSet[] = [];
    let comment: string | undefined;
    let i = start;
    for (;;) {
      const l = lines[i];
      if (!l) return this.failAt(line)(`table ${table.name} is not closed`);
      const fail = this.failAt(l.n);
      if (l.text === '}' && l.depth === 0) break;
      if (l.depth !== 1) fail(`indentation of ${l.depth} in a table block (1 expected)`);
      const t = new Tokens(tokenize(l.text, fail), fail);
      const w = t.word('a table element');
      if (w === 'comment') {
        comment = commentText(t.string('comment text'), fail);
        t.end();
        i++;
      } else if (w === 'set' || w === 'map' || w === 'chain') {
        const n = checkName(t.word(`a ${w} name`), fail);
        t.expect('{');
        t.end();
        const body: Line[] = [];
        for (i++; ; i++) {
          const b = lines[i] ?? this.failAt(l.n)(`${w} ${n} is not closed`);
          if (b.text === '}' && b.depth === 1) break;
          if (b.depth !== 2) this.failAt(b.n)(`indentation of ${b.depth} in a ${w} block (2 expected)`);
          body.push(b);
        }
        i++;
        if (w === 'chain') {
          let base: BaseChain | undefined;
          if (body[0]?.text.startsWith('type ')) base = baseChain(body.shift()!.text, table.family, this.failAt(l.n + 1));
          chains.push({ name: n, line: l.n, base, rules: body });
        } else sets.push(setBlock(n, w, l.n, body, (m) => this.failAt(m)));
      } else fail(`"${w}" is not understood in a table block`);
    }
    // nft's order: the table, its chains, its sets and maps with their elements, then rules.
    if (comment !== undefined) this.table(table).comment = comment;
    for (const c of chains) this.addChain(table, c.name, c.base, c.line, this.failAt(c.line));
    for (const s of sets) {
      const fail = this.failAt(s.line);
      this.addSet(table, s, fail);
      for (const e of s.elements) {
        const ef = this.failAt(e.n);
        const t = new Tokens(tokenize(e.text, ef), ef);
        t.expect('elements');
        t.expect('=');
        const elements = parseElements(t, s.spec, e.n);
        t.end();
        this.checkVerdicts(table, elements, ef);
        this.set(table, s.name).add(elements, ef);
      }
    }
    for (const c of chains) for (const r of c.rules) this.addRule(table, table.chains.get(c.name)!, r.text, r.n, this.failAt(r.n));
    return i + 1;
  }
}

/**
 * Parsed rules by family and text: parsing depends on nothing else, and the same rules come back
 * in every full output and delta of a property run.
 */
const ruleCache = new Map<string, NftRule>();
const RULE_CACHE_MAX = 200_000;

function parsedRule(text: string, line: number, family: TableFamily, fail: Fail): NftRule {
  const k = `${family} ${text}`;
  const cached = ruleCache.get(k);
  if (cached) return { ...cached, line };
  const rule = parseRule(text, line, family, fail);
  if (ruleCache.size >= RULE_CACHE_MAX) ruleCache.clear();
  ruleCache.set(k, rule);
  return rule;
}

/** The text between the braces of a one-line `{ ... }` clause. */
function braced(text: string, fail: Fail): string {
  const m = /\{(.*)\}$/.exec(text) ?? fail('"{ ... }" expected');
  return m[1]!.trim();
}

/** `{ type ...; flags interval; comment "..."; elements = { ... }; }` of `add set|map`. */
function setDeclaration(tokens: readonly Token[], kind: 'set' | 'map', fail: Fail): { spec: SetSpec; comment: string | undefined; elements: Element[] } {
  const first = tokens[0];
  const last = tokens[tokens.length - 1];
  if (first?.text !== '{' || last?.text !== '}') fail(`a ${kind} declaration "{ type ...; }" expected`);
  // Clauses separated by ";" outside nested braces.
  const clauses: Token[][] = [[]];
  let depth = 0;
  for (const tok of tokens.slice(1, -1)) {
    if (tok.kind === 'punct' && tok.text === '{') depth++;
    if (tok.kind === 'punct' && tok.text === '}') depth--;
    if (depth === 0 && tok.kind === 'punct' && tok.text === ';') clauses.push([]);
    else clauses[clauses.length - 1]!.push(tok);
  }
  let types: { key: SetSpec['key']; value: SetSpec['value'] } | undefined;
  let interval = false;
  let comment: string | undefined;
  let elementTokens: Token[] | undefined;
  for (const c of clauses.filter((c) => c.length > 0)) {
    const t = new Tokens(c, fail);
    const w = c[0]!;
    if (w.kind === 'word' && (w.text === 'type' || w.text === 'typeof')) {
      if (types) fail(`${kind} declared with two types`);
      types = parseSetType(t, kind);
    } else if (t.accept('flags')) {
      if (t.word('a flag') !== 'interval') fail('only "flags interval" is modelled');
      t.end();
      interval = true;
    } else if (t.accept('comment')) {
      comment = commentText(t.string('comment text'), fail);
      t.end();
    } else if (t.accept('elements')) {
      t.expect('=');
      elementTokens = c.slice(2);
    } else fail(`${t.describe()} is not modelled in a ${kind} declaration`);
  }
  if (!types) return fail(`${kind} without a type`);
  if (interval && types.key !== 'ipv4_addr' && types.key !== 'ipv6_addr') fail(`flags interval on ${types.key} keys is not modelled`);
  const spec: SetSpec = { kind, key: types.key, value: types.value, interval };
  let elements: Element[] = [];
  if (elementTokens) {
    const t = new Tokens(elementTokens, fail);
    elements = parseElements(t, spec, 0);
    t.end();
  }
  return { spec, comment, elements };
}

/** The body of `set N {` / `map N {` in a table block. */
function setBlock(n: string, kind: 'set' | 'map', line: number, body: readonly Line[], failAt: (n: number) => Fail): BlockSet {
  let types: { key: SetSpec['key']; value: SetSpec['value'] } | undefined;
  let interval = false;
  let comment: string | undefined;
  const elements: Line[] = [];
  for (const l of body) {
    const fail = failAt(l.n);
    const t = new Tokens(tokenize(l.text, fail), fail);
    const w = t.peek();
    if (w?.kind === 'word' && (w.text === 'type' || w.text === 'typeof')) {
      if (types) fail(`${kind} ${n} has two types`);
      types = parseSetType(t, kind);
    } else if (t.accept('flags')) {
      if (t.word('a flag') !== 'interval') fail('only "flags interval" is modelled');
      t.end();
      interval = true;
    } else if (t.accept('comment')) {
      comment = commentText(t.string('comment text'), fail);
      t.end();
    } else if (w?.kind === 'word' && w.text === 'elements') elements.push(l);
    else fail(`${t.describe()} is not modelled in a ${kind} block`);
  }
  const fail = failAt(line);
  if (!types) return fail(`${kind} ${n} has no type`);
  if (interval && types.key !== 'ipv4_addr' && types.key !== 'ipv6_addr') fail(`flags interval on ${types.key} keys is not modelled`);
  return { name: n, line, spec: { kind, key: types.key, value: types.value, interval }, comment, elements };
}

// ---------------------------------------------------------------------------------------------
// Canonical listing

/**
 * The ruleset in a canonical text, for equality: tables, sets, maps and chains sorted by name;
 * elements sorted (addresses by address then length); rules in order, as written.
 */
export function nftList(state: NftState): string {
  const out: string[] = [];
  for (const k of [...state.tables.keys()].sort()) {
    const t = state.tables.get(k)!;
    out.push(`table ${t.family} ${t.name}`);
    if (t.comment !== undefined) out.push(`\tcomment "${t.comment}"`);
    for (const n of [...t.sets.keys()].sort()) {
      const s = t.sets.get(n)!;
      const type = s.spec.value === undefined ? s.spec.key : `${s.spec.key} : ${s.spec.value}`;
      out.push(`\t${s.spec.kind} ${n} { type ${type};${s.spec.interval ? ' flags interval;' : ''}${s.comment !== undefined ? ` comment "${s.comment}";` : ''} }`);
      for (const e of [...s.elements()].sort(compareElements)) out.push(`\t\t${e.key}${e.value === undefined ? '' : ` : ${typeof e.value === 'number' ? e.value : showVerdict(e.value)}`}`);
    }
    for (const n of [...t.chains.keys()].sort()) {
      const c = t.chains.get(n)!;
      const b = c.base;
      out.push(`\tchain ${n}${b ? ` { type filter hook ${b.hook} priority ${b.priority}; policy ${b.policy}; }` : ''}`);
      for (const r of c.rules) out.push(`\t\t${r.text}`);
    }
  }
  return out.map((l) => `${l}\n`).join('');
}

function compareElements(a: Element, b: Element): number {
  if (a.prefix && b.prefix) return a.prefix.addr < b.prefix.addr ? -1 : a.prefix.addr > b.prefix.addr ? 1 : a.prefix.len - b.prefix.len;
  const na = /^[0-9]+$/.test(a.key) ? Number(a.key) : NaN;
  const nb = /^[0-9]+$/.test(b.key) ? Number(b.key) : NaN;
  if (!Number.isNaN(na) && !Number.isNaN(nb)) return na - nb;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}
