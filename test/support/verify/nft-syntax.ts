/**
 * The words of an nft script, for the strict interpreter (nft.ts): lines, tokens, names, strings
 * and the values sgnf prints (addresses, marks, ports, protocol numbers), each checked the way
 * nft 1.0.6 checks it and, where sgnf promises one, in the canonical form `nft list` prints.
 */
import { IFNAME_MAX, NFT_COMMENT_MAX, NFT_NAME_MAX } from '../../../src/limits.js';
import { type Family, type Prefix, familyBits, formatAddress, formatPrefix, isHost, parseMac, parsePrefix } from '../../../src/net/ip.js';
import { RulesetError } from './ipset.js';

export type Fail = (message: string) => never;

/** One line of a script, without its indentation, and the indentation depth (tabs). */
export interface Line {
  readonly n: number;
  readonly depth: number;
  readonly text: string;
}

/**
 * Lines of a script. sgnf prints one statement per line, indented by tabs; blank lines and
 * full-line `#` comments are skipped (nft allows both).
 */
export function scriptLines(text: string, file: string): Line[] {
  if (text.length > 0 && !text.endsWith('\n')) throw new RulesetError(file, text.split('\n').length, 'the last line has no newline');
  const raw = text.split('\n');
  raw.pop();
  const out: Line[] = [];
  raw.forEach((l, i) => {
    const n = i + 1;
    const body = l.replace(/^\t*/, '');
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(l)) throw new RulesetError(file, n, 'control character in line');
    if (body.includes('\t')) throw new RulesetError(file, n, 'a tab inside a statement (sgnf indents with leading tabs only)');
    if (body !== body.trim()) throw new RulesetError(file, n, 'leading or trailing spaces');
    if (body === '' || body.startsWith('#')) return;
    out.push({ n, depth: l.length - body.length, text: body });
  });
  return out;
}

export type Token =
  | { readonly kind: 'word'; readonly text: string }
  | { readonly kind: 'string'; readonly text: string }
  /** `@name`: a named set or map. */
  | { readonly kind: 'ref'; readonly text: string }
  | { readonly kind: 'punct'; readonly text: '{' | '}' | ',' | ';' | '|' | '&' | '!=' | '==' | '=' };

const WORD = /^[A-Za-z0-9_.:/-]+/;

/** Tokens of one statement; `#` after the start of a statement is refused (sgnf never prints it). */
export function tokenize(text: string, fail: Fail): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ') {
      i++;
      continue;
    }
    if (c === '"') {
      const end = text.indexOf('"', i + 1);
      if (end < 0) fail('unterminated string');
      out.push({ kind: 'string', text: text.slice(i + 1, end) });
      i = end + 1;
      continue;
    }
    if (text.startsWith('!=', i) || text.startsWith('==', i)) {
      out.push({ kind: 'punct', text: text.slice(i, i + 2) as '!=' | '==' });
      i += 2;
      continue;
    }
    if ('{},;|&='.includes(c)) {
      out.push({ kind: 'punct', text: c as '{' | '}' | ',' | ';' | '|' | '&' | '=' });
      i++;
      continue;
    }
    if (c === '@') {
      const m = WORD.exec(text.slice(i + 1));
      if (!m) fail('"@" without a set name');
      out.push({ kind: 'ref', text: m[0] });
      i += 1 + m[0].length;
      continue;
    }
    const m = WORD.exec(text.slice(i));
    if (!m) fail(`character "${c}" is not understood`);
    out.push({ kind: 'word', text: m[0] });
    i += m[0].length;
  }
  return out;
}

/** A cursor over the tokens of one statement. */
export class Tokens {
  private i = 0;
  constructor(
    private readonly list: readonly Token[],
    readonly fail: Fail,
  ) {}

  get done(): boolean {
    return this.i >= this.list.length;
  }

  peek(offset = 0): Token | undefined {
    return this.list[this.i + offset];
  }

  /** The next token if it is this word (or punctuation), consumed. */
  accept(text: string): boolean {
    const t = this.peek();
    if (t && (t.kind === 'word' || t.kind === 'punct') && t.text === text) {
      this.i++;
      return true;
    }
    return false;
  }

  expect(text: string, what = `"${text}"`): void {
    if (!this.accept(text)) this.fail(`${what} expected, found ${this.describe()}`);
  }

  word(what: string): string {
    const t = this.peek();
    if (t?.kind !== 'word') this.fail(`${what} expected, found ${this.describe()}`);
    this.i++;
    return t.text;
  }

  string(what: string): string {
    const t = this.peek();
    if (t?.kind !== 'string') this.fail(`${what} (a quoted string) expected, found ${this.describe()}`);
    this.i++;
    return t.text;
  }

  ref(what: string): string {
    const t = this.peek();
    if (t?.kind !== 'ref') this.fail(`${what} (@name) expected, found ${this.describe()}`);
    this.i++;
    return name(t.text, this.fail);
  }

  end(): void {
    if (!this.done) this.fail(`${this.describe()} is not understood here`);
  }

  describe(t: Token | undefined = this.peek()): string {
    if (t === undefined) return 'the end of the line';
    return t.kind === 'string' ? `"${t.text}"` : t.kind === 'ref' ? `"@${t.text}"` : `"${t.text}"`;
  }
}

/** Words nft 1.0.6 refuses as bare names (docs/netfilter.md §6.1), plus a few more keywords. */
const KEYWORDS: ReadonlySet<string> = new Set(
  (
    'fwd ip ip6 tcp udp sctp dccp udplite icmp icmpv6 th ether accept drop return continue goto jump counter set map meta ct ' +
    'inet bridge arp netdev table chain vmap dup log limit quota rule mark type typeof hook priority policy elements flags ' +
    'size timeout interval add delete flush insert comment notrack exthdr'
  ).split(' '),
);

/** A table, chain or set name: a bare identifier that is no keyword, at most NFT_NAME_MAX bytes. */
export function name(text: string, fail: Fail): string {
  if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(text)) fail(`"${text}" is not a valid nft name`);
  if (KEYWORDS.has(text)) fail(`"${text}" is an nft keyword and cannot be a bare name`);
  if (Buffer.byteLength(text) > NFT_NAME_MAX) fail(`name of ${Buffer.byteLength(text)} bytes exceeds ${NFT_NAME_MAX} (NFT_NAME_MAXLEN)`);
  return text;
}

export function commentText(text: string, fail: Fail): string {
  if (text.length > NFT_COMMENT_MAX) fail(`comment of ${text.length} characters exceeds ${NFT_COMMENT_MAX}`);
  return text;
}

const IFNAME = /^[A-Za-z0-9_.-]+$/;

/** An interface name as nft compares it: at most IFNAMSIZ-1 bytes; no `*` wildcard. */
export function ifname(text: string, fail: Fail): string {
  if (text.endsWith('*')) fail(`interface wildcard "${text}" is not understood`);
  if (!IFNAME.test(text)) fail(`"${text}" is not an interface name`);
  if (text.length > IFNAME_MAX) fail(`interface name "${text}" is longer than ${IFNAME_MAX} bytes`);
  return text;
}

/** A decimal (no leading zeros) or 0x hex number within [min, max]. */
export function number(text: string, min: number, max: number, what: string, fail: Fail): number {
  let v: number;
  if (/^0x[0-9a-f]{1,8}$/.test(text)) v = parseInt(text.slice(2), 16);
  else if (/^(0|[1-9][0-9]{0,9})$/.test(text)) v = Number(text);
  else return fail(`${what} "${text}" is not a number`);
  if (v < min || v > max) fail(`${what} ${text} is outside ${min}..${max}`);
  return v;
}

export const U32_MAX = 0xffffffff;

/** `N` or `N-M` (nft refuses an empty or reversed range; sgnf prints `N` for N-N). */
export function range(text: string, max: number, what: string, fail: Fail): { min: number; max: number } {
  const dash = text.indexOf('-');
  if (dash < 0) {
    const v = number(text, 0, max, what, fail);
    return { min: v, max: v };
  }
  const lo = number(text.slice(0, dash), 0, max, what, fail);
  const hi = number(text.slice(dash + 1), 0, max, what, fail);
  if (hi <= lo) fail(`${what} range ${text} is empty or reversed (nft prints N-N as N)`);
  return { min: lo, max: hi };
}

/**
 * An address or prefix of one family in nft's canonical form: hosts without a length, prefixes
 * with their network address (nft would silently mask host bits; sgnf promises it does not).
 */
export function prefix(text: string, family: Family, fail: Fail): Prefix {
  const p = parsePrefix(text);
  if (typeof p === 'string') return fail(p);
  if (p.prefix.family !== family) fail(`${text} is an IPv${p.prefix.family} address where IPv${family} is expected (datatype mismatch)`);
  if (p.hadHostBits) fail(`${text} has host bits set (nft lists it as ${formatPrefix(p.prefix)})`);
  const canonical = isHost(p.prefix) ? formatAddress(family, p.prefix.addr) : formatPrefix(p.prefix);
  if (text !== canonical) fail(`${text} is not in canonical form (nft lists it as ${canonical})`);
  return p.prefix;
}

/** The last address of a prefix. */
export const lastAddress = (p: Prefix): bigint => p.addr + (1n << BigInt(familyBits(p.family) - p.len)) - 1n;

export function mac(text: string, fail: Fail): string {
  const m = parseMac(text);
  if (m === undefined || m !== text) fail(`"${text}" is not a MAC address in canonical form (lower case, colons)`);
  return text;
}
