/**
 * `nft list ruleset` output, parsed into tables of sets, maps and chains (delta/state.ts), with
 * every rule, declaration and element read back into the notation sgnf writes (nft-notation.ts).
 *
 *   table FAMILY NAME {
 *           comment "..."
 *           set|map NAME {
 *                   type ... | typeof ...
 *                   flags ...
 *                   comment "..."
 *                   elements = { e1, e2,
 *                                e3 }
 *           }
 *           chain NAME {
 *                   type filter hook HOOK priority P; policy accept;
 *                   rule
 *           }
 *           (flowtables and stateful objects: kept as foreign lines)
 *   }
 *
 * `nft -a list ruleset` (`# handle N` after each line) reads the same.
 */
import type { NftChainState, NftSetState, NftTableState } from '../delta/state.js';
import { badLine, shown } from './dumps.js';
import { canonicalElement, canonicalHook, canonicalRule, canonicalSpec } from './nft-notation.js';

/** A table as listed; `line` is the line of its `table` statement. */
export interface ListedTable extends NftTableState {
  readonly line: number;
  /** Objects of kinds sgnf never creates (flowtables, counters, quotas, ...), by `kind name`. */
  readonly others: readonly string[];
}

const FAMILIES = new Set(['ip', 'ip6', 'inet', 'arp', 'bridge', 'netdev']);
const NAME = /^[A-Za-z_.][A-Za-z0-9_./-]*$|^"[^"]*"$/;
const OBJECT_KINDS = new Set(['flowtable', 'counter', 'quota', 'ct', 'limit', 'secmark', 'synproxy']);

interface Cursor {
  readonly file: string;
  line: number;
  /** Rules read into the one notation, by their text as listed (port chains repeat rules). */
  readonly rules: Map<string, string>;
}

export function parseNftRuleset(text: string, file: string): ReadonlyMap<string, ListedTable> {
  const tables = new Map<string, ListedTable>();
  const lines = cleanLines(text);
  const at: Cursor = { file, line: 0, rules: new Map() };
  for (let i = 0; i < lines.length; i++) {
    at.line = i + 1;
    const line = lines[i]!;
    if (line === '' || line.startsWith('#')) continue;
    const m = /^table (\S+) (\S+) \{$/.exec(line);
    if (!m) badLine(file, at.line, `expected a table, not ${shown(line)}`);
    const [, family, name] = m as unknown as [string, string, string];
    if (!FAMILIES.has(family)) badLine(file, at.line, `not an nft family: ${shown(family)}`);
    if (!NAME.test(name)) badLine(file, at.line, `not a table name: ${shown(name)}`);
    const id = `${family} ${name}`;
    if (tables.has(id)) badLine(file, at.line, `table ${id} is listed twice`);
    const r = parseTable(lines, i + 1, at, family, name);
    tables.set(id, r.table);
    i = r.next - 1;
  }
  return tables;
}

/** Every line without its indentation, trailing blanks and `# handle N` (one cut per line). */
function cleanLines(text: string): string[] {
  const out: string[] = [];
  const n = text.length;
  for (let start = 0; start <= n; ) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = n;
    let a = start;
    let b = end;
    while (a < b && isBlank(text.charCodeAt(a))) a++;
    while (b > a && isBlank(text.charCodeAt(b - 1))) b--;
    let line = text.slice(a, b);
    if (line.includes('# handle ')) {
      const h = line.lastIndexOf(' # handle ');
      if (h >= 0 && /^ # handle \d+$/.test(line.slice(h))) line = line.slice(0, h);
      else if (/^# handle \d+$/.test(line)) line = '';
    }
    out.push(line);
    start = end + 1;
  }
  return out;
}

const isBlank = (c: number): boolean => c === 9 || c === 32 || c === 13;

function parseTable(lines: readonly string[], from: number, at: Cursor, family: string, name: string): { table: ListedTable; next: number } {
  const tableLine = at.line;
  const sets = new Map<string, NftSetState>();
  const chains = new Map<string, NftChainState>();
  const others: string[] = [];
  let comment: string | undefined;
  for (let i = from; i < lines.length; i++) {
    at.line = i + 1;
    const line = lines[i]!;
    if (line === '') continue;
    if (line === '}') {
      const table: ListedTable = { family: family as NftTableState['family'], name, sets, chains, others, line: tableLine, ...(comment !== undefined && { comment }) };
      return { table, next: i + 1 };
    }
    const c = /^comment "([^"]*)"$/.exec(line);
    if (c) {
      comment = c[1]!;
      continue;
    }
    if (/^flags \S+$/.test(line)) {
      others.push(line);
      continue;
    }
    const m = /^(set|map|chain) (\S+) \{$/.exec(line);
    if (m) {
      const [, kind, objName] = m as unknown as [string, string, string];
      if (!NAME.test(objName)) badLine(at.file, at.line, `not a ${kind} name: ${shown(objName)}`);
      if (kind === 'chain') {
        if (chains.has(objName)) badLine(at.file, at.line, `chain ${objName} is listed twice`);
        const r = parseChain(lines, i + 1, at, family);
        chains.set(objName, r.chain);
        i = r.next - 1;
      } else {
        if (sets.has(objName)) badLine(at.file, at.line, `${kind} ${objName} is listed twice`);
        const r = parseSet(lines, i + 1, at, kind as 'set' | 'map');
        sets.set(objName, r.set);
        i = r.next - 1;
      }
      continue;
    }
    const o = /^(\S+) (?:(?:helper|timeout|expectation) )?(\S+) \{$/.exec(line);
    if (o && OBJECT_KINDS.has(o[1]!)) {
      others.push(`${o[1]} ${o[2]}`);
      i = skipBlock(lines, i + 1, at) - 1;
      continue;
    }
    badLine(at.file, at.line, `not a line of an nft table listing: ${shown(line)}`);
  }
  badLine(at.file, tableLine, `table ${family} ${name} is not closed (a truncated listing?)`);
}

/** The index after the `}` that closes a block whose `{` ended the line before `from`. */
function skipBlock(lines: readonly string[], from: number, at: Cursor): number {
  let depth = 1;
  const opened = at.line;
  for (let i = from; i < lines.length; i++) {
    at.line = i + 1;
    depth += braces(lines[i]!);
    if (depth <= 0) return i + 1;
  }
  badLine(at.file, opened, 'a block is not closed (a truncated listing?)');
}

/** `{` minus `}` outside double-quoted strings. */
function braces(s: string): number {
  if (s.indexOf('{') < 0 && s.indexOf('}') < 0) return 0;
  let d = 0;
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch === 34) quoted = !quoted;
    else if (!quoted && ch === 123) d++;
    else if (!quoted && ch === 125) d--;
  }
  return d;
}

function parseChain(lines: readonly string[], from: number, at: Cursor, family: string): { chain: NftChainState; next: number } {
  const rules: string[] = [];
  let hook: string | undefined;
  const opened = at.line;
  for (let i = from; i < lines.length; i++) {
    at.line = i + 1;
    const line = lines[i]!;
    if (line === '') continue;
    if (line === '}') return { chain: hook === undefined ? { rules } : { hook, rules }, next: i + 1 };
    if (rules.length === 0 && hook === undefined && /^type \S+ hook /.test(line)) {
      hook = canonicalHook(line, family, at.file, at.line);
      continue;
    }
    if (braces(line) !== 0) badLine(at.file, at.line, `unbalanced braces in ${shown(line)}`);
    let rule = at.rules.get(line);
    if (rule === undefined) at.rules.set(line, (rule = canonicalRule(line)));
    rules.push(rule);
  }
  badLine(at.file, opened, 'a chain is not closed (a truncated listing?)');
}

function parseSet(lines: readonly string[], from: number, at: Cursor, kind: 'set' | 'map'): { set: NftSetState; next: number } {
  const spec: string[] = [];
  const elements: string[] = [];
  const opened = at.line;
  for (let i = from; i < lines.length; i++) {
    at.line = i + 1;
    const line = lines[i]!;
    if (line === '') continue;
    if (line === '}') return { set: { kind, spec, elements }, next: i + 1 };
    if (line.startsWith('elements = {')) {
      // The element list, over as many lines as nft wraps it into.
      // One line per few elements: the depth is kept line by line (joining first and counting
      // again at every line would be quadratic in the set's size).
      const parts = [line.slice('elements = {'.length)];
      const first = at.line;
      let depth = 1 + braces(parts[0]!);
      while (depth > 0) {
        i++;
        if (i >= lines.length) badLine(at.file, first, 'an element list is not closed (a truncated listing?)');
        at.line = i + 1;
        const next = lines[i]!;
        depth += braces(next);
        parts.push(next);
      }
      const last = parts[parts.length - 1]!;
      if (depth !== 0 || !last.endsWith('}')) badLine(at.file, at.line, 'an element list does not end with its closing brace');
      parts[parts.length - 1] = last.slice(0, -1);
      if (parts.every(plainElements)) {
        // Addresses, marks, verdicts: `a, b,` per line, split at the commas of each line.
        for (const part of parts) {
          const t = part.trim();
          if (t === '') continue;
          for (const e of (t.endsWith(',') ? t.slice(0, -1) : t).split(', ')) {
            if (e === '' || e.trim() !== e) badLine(at.file, first, 'an empty element in an element list');
            elements.push(canonicalElement(e));
          }
        }
      } else for (const e of splitElements(parts.join(' '), at.file, first)) elements.push(canonicalElement(e));
      continue;
    }
    spec.push(canonicalSpec(line));
  }
  badLine(at.file, opened, `a ${kind} is not closed (a truncated listing?)`);
}

/** Whether a line of elements has no strings or brackets (the commas then separate elements). */
const plainElements = (part: string): boolean => !/["{}()[\]]/.test(part);

/** Elements at the commas outside strings and brackets, trimmed. */
function splitElements(body: string, file: string, line: number): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let startAt = 0;
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch === '"') quoted = !quoted;
    else if (quoted) continue;
    else if (ch === '{' || ch === '(' || ch === '[') depth++;
    else if (ch === '}' || ch === ')' || ch === ']') depth--;
    else if (ch === ',' && depth === 0) {
      out.push(body.slice(startAt, i).trim());
      startAt = i + 1;
    }
  }
  if (quoted || depth !== 0) badLine(file, line, 'unbalanced quotes or brackets in an element list');
  const last = body.slice(startAt).trim();
  if (last !== '') out.push(last);
  if (out.some((e) => e === '')) badLine(file, line, 'an empty element in an element list');
  return out;
}
