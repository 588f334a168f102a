/**
 * Named sets and maps of the nft interpreter: their declared types, their elements (checked as
 * nft and the kernel check them: type, interval flag, overlaps, conflicting map values) and
 * lookups. Element order never matters; interval sets refuse overlapping elements because sgnf
 * declares them without auto-merge (docs/netfilter.md §6.2).
 */
import { type Family, type Prefix, containsAddress, formatAddress, formatPrefix, isHost } from '../../../src/net/ip.js';
import { type Fail, type Tokens, U32_MAX, ifname, lastAddress, name, number, prefix } from './nft-syntax.js';

/** Key types sgnf declares (and nf_proto, the key of `meta nfproto vmap { ... }`). */
export type KeyType = 'ipv4_addr' | 'ipv6_addr' | 'ifname' | 'mark' | 'nf_proto';
export type ValueType = 'mark' | 'verdict' | 'ct_zone';

export type NftVerdict =
  | { readonly kind: 'accept' | 'drop' | 'return' | 'continue' }
  | { readonly kind: 'jump' | 'goto'; readonly chain: string };

export interface SetSpec {
  readonly kind: 'set' | 'map';
  readonly key: KeyType;
  readonly value: ValueType | undefined;
  readonly interval: boolean;
}

/** Runtime values of keys: names and nfproto as strings, marks as numbers, addresses as bigints. */
export type KeyValue = string | number | bigint;

export interface Element {
  /** Canonical key text (also the identity of the element). */
  readonly key: string;
  /** Address keys. */
  readonly prefix: Prefix | undefined;
  readonly value: number | NftVerdict | undefined;
  /** Line of the `add element` (or `elements =`) that added it. */
  readonly line: number;
}

const ADDRESS_FAMILY: Partial<Record<KeyType, Family>> = { ipv4_addr: 4, ipv6_addr: 6 };

export class NftSet {
  private readonly byKey = new Map<string, Element>();
  /** Address elements of an interval set, sorted by address once per change. */
  private intervals: Prefix[] = [];

  constructor(
    readonly name: string,
    readonly spec: SetSpec,
    readonly line: number,
    readonly comment: string | undefined,
  ) {}

  get size(): number {
    return this.byKey.size;
  }

  elements(): IterableIterator<Element> {
    return this.byKey.values();
  }

  clone(): NftSet {
    const c = new NftSet(this.name, this.spec, this.line, this.comment);
    for (const [k, e] of this.byKey) c.byKey.set(k, e);
    c.intervals = this.intervals;
    return c;
  }

  flush(): void {
    this.byKey.clear();
    this.intervals = [];
  }

  /** Add elements as one `add element` statement: an existing identical element is a no-op. */
  add(elements: readonly Element[], fail: Fail): void {
    for (const e of elements) {
      const old = this.byKey.get(e.key);
      if (old !== undefined) {
        if (!sameValue(old.value, e.value)) fail(`element ${e.key} already exists with another value (line ${old.line})`);
        continue;
      }
      this.byKey.set(e.key, e);
    }
    if (this.spec.interval) this.checkIntervals(fail);
  }

  get(key: string): Element | undefined {
    return this.byKey.get(key);
  }

  /** `create element`: as add, but an element already present (or given twice) fails. */
  create(elements: readonly Element[], fail: Fail): void {
    const seen = new Set<string>();
    for (const e of elements) {
      if (this.byKey.has(e.key) || seen.has(e.key)) fail(`element ${e.key} already exists in ${this.name} (File exists)`);
      seen.add(e.key);
    }
    this.add(elements, fail);
  }

  /** `delete element`: each element must be present when its turn comes (given twice fails). */
  delete(elements: readonly Element[], fail: Fail): void {
    for (const e of elements) if (!this.byKey.delete(e.key)) fail(`element ${e.key} does not exist in ${this.name} (No such file or directory)`);
    if (this.spec.interval) this.checkIntervals(fail);
  }

  /** nft refuses overlapping intervals in a set without auto-merge ("conflicting intervals"). */
  private checkIntervals(fail: Fail): void {
    const sorted = [...this.byKey.values()].map((e) => e.prefix!).sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : a.len - b.len));
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!;
      const cur = sorted[i]!;
      if (cur.addr <= lastAddress(prev)) fail(`conflicting intervals specified: ${show(prev)} and ${show(cur)} overlap`);
    }
    this.intervals = sorted;
  }

  lookup(value: KeyValue): Element | undefined {
    if (typeof value === 'bigint') {
      const family = ADDRESS_FAMILY[this.spec.key]!;
      if (!this.spec.interval) return this.byKey.get(formatAddress(family, value));
      const p = this.intervals.find((x) => containsAddress(x, family, value));
      return p === undefined ? undefined : this.byKey.get(show(p));
    }
    return this.byKey.get(String(value));
  }
}

const show = (p: Prefix): string => (isHost(p) ? formatAddress(p.family, p.addr) : formatPrefix(p));

function sameValue(a: Element['value'], b: Element['value']): boolean {
  if (typeof a !== 'object' || typeof b !== 'object') return a === b;
  return a.kind === b.kind && ('chain' in a ? a.chain : '') === ('chain' in b ? b.chain : '');
}

/** `type X`, `type X : Y`, `typeof EXPR`, `typeof EXPR : EXPR` of a set or map declaration. */
export function parseSetType(t: Tokens, kind: 'set' | 'map'): { key: KeyType; value: ValueType | undefined } {
  const typeof_ = t.accept('typeof');
  if (!typeof_) t.expect('type', '"type" or "typeof"');
  const key = typeof_ ? typeofKey(t) : dataType(t.word('key type'), t.fail);
  if (key === 'nf_proto') t.fail('nf_proto sets are not understood');
  let value: ValueType | undefined;
  if (t.accept(':')) {
    value = typeof_ ? typeofValue(t) : valueType(t.word('value type'), t.fail);
  }
  t.end();
  if (kind === 'map' && value === undefined) t.fail('a map needs "key : value" types');
  if (kind === 'set' && value !== undefined) t.fail('a set has no value type (declare a map)');
  return { key, value };
}

function dataType(word: string, fail: Fail): KeyType {
  if (word === 'ipv4_addr' || word === 'ipv6_addr' || word === 'ifname' || word === 'mark') return word;
  return fail(`set key type "${word}" is not understood`);
}

function valueType(word: string, fail: Fail): ValueType {
  if (word === 'mark' || word === 'verdict') return word;
  if (word === 'ct_zone') fail('unknown datatype ct_zone (use "typeof ... : ct zone")');
  return fail(`map value type "${word}" is not understood`);
}

function typeofKey(t: Tokens): KeyType {
  const w = t.word('typeof expression');
  if (w === 'iifname' || w === 'oifname') return 'ifname';
  if (w === 'meta') {
    const k = t.word('meta key');
    if (k === 'mark') return 'mark';
    if (k === 'iifname' || k === 'oifname') return 'ifname';
  }
  if ((w === 'ip' || w === 'ip6') && ['saddr', 'daddr'].includes(t.word('address field'))) return w === 'ip' ? 'ipv4_addr' : 'ipv6_addr';
  return t.fail(`typeof ${w} is not understood`);
}

function typeofValue(t: Tokens): ValueType {
  const w = t.word('typeof expression');
  if (w === 'ct' && t.accept('zone')) return 'ct_zone';
  if (w === 'meta' && t.accept('mark')) return 'mark';
  return t.fail(`typeof ${w} as a map value is not understood`);
}

/** `{ e, e, ... }` for a set of this spec: keys (and values) checked against the declared types. */
export function parseElements(t: Tokens, spec: SetSpec, line: number): Element[] {
  t.expect('{');
  const out: Element[] = [];
  do {
    const k = elementKey(t, spec);
    let value: Element['value'];
    if (spec.value !== undefined) {
      t.expect(':', `":" and a ${spec.value} value`);
      value = elementValue(t, spec.value);
    }
    out.push({ ...k, value, line });
  } while (t.accept(','));
  t.expect('}', '"," or "}"');
  return out;
}

function elementKey(t: Tokens, spec: SetSpec): { key: string; prefix: Prefix | undefined } {
  const family = ADDRESS_FAMILY[spec.key];
  if (family !== undefined) {
    const p = prefix(t.word(`an IPv${family} address`), family, t.fail);
    if (!isHost(p) && !spec.interval) t.fail(`${formatPrefix(p)} is a prefix: you must add 'flags interval' to the set`);
    return { key: show(p), prefix: p };
  }
  switch (spec.key) {
    case 'ifname':
      return { key: ifname(t.string('an interface name'), t.fail), prefix: undefined };
    case 'mark':
      return { key: String(number(t.word('a mark'), 0, U32_MAX, 'mark', t.fail)), prefix: undefined };
    case 'nf_proto': {
      const w = t.word('ipv4 or ipv6');
      if (w !== 'ipv4' && w !== 'ipv6') t.fail(`"${w}" is not an nfproto (ipv4, ipv6)`);
      return { key: w, prefix: undefined };
    }
    default:
      return t.fail(`elements of type ${spec.key} are not understood`);
  }
}

function elementValue(t: Tokens, type: ValueType): number | NftVerdict {
  switch (type) {
    case 'mark':
      return number(t.word('a mark'), 0, U32_MAX, 'mark', t.fail);
    case 'ct_zone':
      return number(t.word('a conntrack zone'), 0, 0xffff, 'ct zone', t.fail);
    case 'verdict':
      return parseVerdict(t) ?? t.fail(`a verdict expected, found ${t.describe()}`);
  }
}

/** `accept`, `drop`, `return`, `continue`, `jump X`, `goto X`; undefined if the next word is none. */
export function parseVerdict(t: Tokens): NftVerdict | undefined {
  for (const kind of ['accept', 'drop', 'return', 'continue'] as const) if (t.accept(kind)) return { kind };
  for (const kind of ['jump', 'goto'] as const) if (t.accept(kind)) return { kind, chain: name(t.word('a chain name'), t.fail) };
  return undefined;
}

export function showVerdict(v: NftVerdict): string {
  return 'chain' in v ? `${v.kind} ${v.chain}` : v.kind;
}
