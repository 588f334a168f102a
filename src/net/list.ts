/**
 * Address lists: the members of a security group or the prefixes of an address group, sorted
 * by (family, address, length) and de-duplicated, stored column by column.
 *
 * Why not an array of Prefix objects: a cloud's groups hold millions of members, and an object
 * plus a bigint per member is what the garbage collector spends its time copying. Here a member
 * costs three numbers, a length byte and its text (usually the input string itself), and most
 * consumers never need more: the printers want the canonical entry texts in order. Prefix objects
 * are built on demand, once per list (`prefixes()`), for the address algebra and the evaluator.
 *
 * Sort key: three exact doubles holding the 128 address bits of IPv6 as 48 + 48 + 32 bits
 * (IPv4 in the low part, with IPv4 before IPv6), then the prefix length.
 */
import {
  type Family,
  type Prefix,
  addressText,
  familyBits,
  formatWords,
  parsePrefix,
  V6Scanner,
  v4Number,
} from './ip.js';

/** High key part of every IPv6 address: above any IPv4 key (0), so IPv4 sorts first. */
const V6_TAG = 2 ** 49;
const LOW_32 = 0xffffffffn;
const MID_48 = 0xffffffffffffn;

/** A list of sorted, de-duplicated columns: for the builder only (the constructor is private to the class). */
let fromColumns: (texts: string[], hi: Float64Array, mid: Float64Array, lo: Float64Array, lens: Uint8Array) => AddressList;

export class AddressList {
  private prefixCache: readonly Prefix[] | undefined;
  private entryCache: readonly string[] | undefined;
  private hostsOnlyCache: boolean | undefined;
  /** The lists of each family, made once: printers and slices ask for them host after host. */
  private familyCache: [AddressList | undefined, AddressList | undefined] | undefined;

  private constructor(
    /** Canonical text of each address (no length); '' where an IPv6 input spelled it otherwise. */
    private readonly texts: readonly string[],
    private readonly hi: Float64Array,
    private readonly mid: Float64Array,
    private readonly lo: Float64Array,
    private readonly lens: Uint8Array,
  ) {}

  static readonly EMPTY = new AddressList([], new Float64Array(0), new Float64Array(0), new Float64Array(0), new Uint8Array(0));

  /** Sorted and de-duplicated copy of any prefixes. */
  static of(prefixes: Iterable<Prefix>): AddressList {
    const b = new AddressListBuilder();
    for (const p of prefixes) b.addPrefix(p);
    return b.build();
  }

  get length(): number {
    return this.texts.length;
  }

  private familyAt(i: number): Family {
    return this.hi[i]! >= V6_TAG ? 6 : 4;
  }

  /** The entries of one family, as a list of its own (no copying of the key columns). */
  ofFamily(family: Family): AddressList {
    const cache = (this.familyCache ??= [undefined, undefined]);
    const slot = family === 4 ? 0 : 1;
    return (cache[slot] ??= this.familyList(family));
  }

  private familyList(family: Family): AddressList {
    const split = this.v6Start();
    const [from, to] = family === 4 ? [0, split] : [split, this.length];
    if (from === 0 && to === this.length) return this;
    return new AddressList(
      this.texts.slice(from, to),
      this.hi.subarray(from, to),
      this.mid.subarray(from, to),
      this.lo.subarray(from, to),
      this.lens.subarray(from, to),
    );
  }

  /**
   * The entries only this list holds and those only `other` holds, as indexes, by one merge walk
   * over the sorted key columns (no strings compared or hashed).
   */
  difference(other: AddressList): { readonly onlyHere: number[]; readonly onlyThere: number[] } {
    const onlyHere: number[] = [];
    const onlyThere: number[] = [];
    let i = 0;
    let j = 0;
    while (i < this.length && j < other.length) {
      const c =
        this.hi[i]! - other.hi[j]! || this.mid[i]! - other.mid[j]! || this.lo[i]! - other.lo[j]! || this.lens[i]! - other.lens[j]!;
      if (c === 0) {
        i++;
        j++;
      } else if (c < 0) onlyHere.push(i++);
      else onlyThere.push(j++);
    }
    while (i < this.length) onlyHere.push(i++);
    while (j < other.length) onlyThere.push(j++);
    return { onlyHere, onlyThere };
  }

  /** Whether both lists hold the same entries (compares the key columns, then the texts). */
  equals(other: AddressList): boolean {
    if (other === this) return true;
    const n = this.length;
    if (other.length !== n) return false;
    for (let i = 0; i < n; i++) {
      if (this.lo[i] !== other.lo[i] || this.mid[i] !== other.mid[i] || this.hi[i] !== other.hi[i] || this.lens[i] !== other.lens[i]) return false;
    }
    return true;
  }

  /** Whether every entry is a single address (/32 or /128): nothing can cover anything else. */
  hostsOnly(): boolean {
    if (this.hostsOnlyCache === undefined) {
      let hosts = true;
      for (let i = 0; i < this.length && hosts; i++) hosts = this.lens[i] === familyBits(this.familyAt(i));
      this.hostsOnlyCache = hosts;
    }
    return this.hostsOnlyCache;
  }

  hasZeroLength(): boolean {
    return this.lens.includes(0);
  }

  /** Entry texts as ipset and nft print them: `10.0.0.1`, `10.0.1.0/24` (hosts without length). */
  entries(): readonly string[] {
    // Usually every entry is a single address given in canonical form: its text is the entry.
    if (this.entryCache === undefined && this.hostsOnly() && !this.texts.includes('')) this.entryCache = this.texts;
    if (this.entryCache === undefined) {
      const out = new Array<string>(this.length);
      for (let i = 0; i < out.length; i++) {
        const len = this.lens[i]!;
        const text = this.textAt(i);
        out[i] = len === familyBits(this.familyAt(i)) ? text : `${text}/${len}`;
      }
      this.entryCache = out;
    }
    return this.entryCache;
  }

  /** The entries as Prefix objects, in order (built once per list). */
  prefixes(): readonly Prefix[] {
    if (this.prefixCache === undefined) {
      const out = new Array<Prefix>(this.length);
      for (let i = 0; i < out.length; i++) {
        const v6 = this.hi[i]! >= V6_TAG;
        const addr = v6
          ? (BigInt(this.hi[i]! - V6_TAG) << 80n) | (BigInt(this.mid[i]!) << 32n) | BigInt(this.lo[i]!)
          : BigInt(this.lo[i]!);
        out[i] = { family: v6 ? 6 : 4, addr, len: this.lens[i]!, text: this.textAt(i) };
      }
      this.prefixCache = out;
    }
    return this.prefixCache;
  }

  /** Entry i as a Prefix object (one, without building the whole `prefixes()` cache). */
  prefixAt(i: number): Prefix {
    if (this.prefixCache !== undefined) return this.prefixCache[i]!;
    const v6 = this.hi[i]! >= V6_TAG;
    const addr = v6 ? (BigInt(this.hi[i]! - V6_TAG) << 80n) | (BigInt(this.mid[i]!) << 32n) | BigInt(this.lo[i]!) : BigInt(this.lo[i]!);
    return { family: v6 ? 6 : 4, addr, len: this.lens[i]!, text: this.textAt(i) };
  }

  /** Canonical address text of entry i. */
  private textAt(i: number): string {
    const t = this.texts[i]!;
    if (t !== '') return t;
    const h = this.hi[i]! - V6_TAG;
    const m = this.mid[i]!;
    const l = this.lo[i]!;
    const hi32 = Math.floor(h / 65536);
    const mid32 = Math.floor(m / 65536);
    return formatWords([
      Math.floor(hi32 / 65536), hi32 % 65536, h % 65536,
      Math.floor(mid32 / 65536), mid32 % 65536, m % 65536,
      Math.floor(l / 65536), l % 65536,
    ]);
  }

  private v6Start(): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (this.hi[m]! >= V6_TAG) hi = m;
      else lo = m + 1;
    }
    return lo;
  }

  static {
    fromColumns = (texts, hi, mid, lo, lens) => (texts.length === 0 ? AddressList.EMPTY : new AddressList(texts, hi, mid, lo, lens));
  }
}


/**
 * Collects addresses and prefixes in any order, then sorts and de-duplicates them once.
 * `scan` parses a text into the next slot without keeping it, so the caller can check its
 * family first and then `commit` it. Columns are typed arrays grown by doubling: pushing
 * numbers onto plain arrays costs several times more, millions of times.
 */
export class AddressListBuilder {
  private readonly texts: string[] = [];
  private hi = new Float64Array(64);
  private mid = new Float64Array(64);
  private lo = new Float64Array(64);
  private lens = new Uint8Array(64);
  /** The IPv6 scanner of this list's addresses. */
  private readonly v6 = new V6Scanner();
  /** Text of the scanned, not yet committed entry (its numbers wait at index `texts.length`). */
  private pendingText = '';

  /**
   * Parse `addr` or `addr/len` into the pending entry: returns its family, or an error message.
   * Bare addresses (nearly every member) take a path without bigints or intermediate objects.
   */
  scan(text: string): Family | string {
    const n = this.texts.length;
    if (n === this.lens.length) this.grow();
    // Both scanners refuse anything else (a "/", the other family) without allocating.
    const v = v4Number(text, 0);
    if (v !== undefined) {
      this.hi[n] = 0;
      this.mid[n] = 0;
      this.lo[n] = v;
      this.lens[n] = 32;
      this.pendingText = text;
      return 4;
    }
    const v6 = this.v6;
    if (v6.scan(text)) {
      const w = v6.words;
      this.hi[n] = V6_TAG + (w[0]! * 65536 + w[1]!) * 65536 + w[2]!;
      this.mid[n] = (w[3]! * 65536 + w[4]!) * 65536 + w[5]!;
      this.lo[n] = w[6]! * 65536 + w[7]!;
      this.lens[n] = 128;
      // Other spellings are formatted when printed: a string made here would be kept.
      this.pendingText = v6.canonical ? text : '';
      return 6;
    }
    // Prefixes, and the error message of anything invalid.
    const p = parsePrefix(text, v6);
    if (typeof p === 'string') return p;
    this.setPending(p.prefix);
    return p.prefix.family;
  }

  /** Length of the pending entry (after a successful scan). */
  get pendingLength(): number {
    return this.lens[this.texts.length]!;
  }

  commit(): void {
    this.texts.push(this.pendingText);
  }

  addPrefix(p: Prefix): void {
    if (this.texts.length === this.lens.length) this.grow();
    this.setPending(p);
    this.commit();
  }

  private setPending(p: Prefix): void {
    const n = this.texts.length;
    if (p.family === 4) {
      this.hi[n] = 0;
      this.mid[n] = 0;
      this.lo[n] = Number(p.addr);
    } else {
      this.hi[n] = V6_TAG + Number(p.addr >> 80n);
      this.mid[n] = Number((p.addr >> 32n) & MID_48);
      this.lo[n] = Number(p.addr & LOW_32);
    }
    this.lens[n] = p.len;
    this.pendingText = addressText(p);
  }

  private grow(): void {
    const size = this.lens.length * 2;
    const wider = <T extends Float64Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(size);
      b.set(a);
      return b;
    };
    this.hi = wider(this.hi, (k) => new Float64Array(k));
    this.mid = wider(this.mid, (k) => new Float64Array(k));
    this.lo = wider(this.lo, (k) => new Float64Array(k));
    this.lens = wider(this.lens, (k) => new Uint8Array(k));
  }

  build(): AddressList {
    const n = this.texts.length;
    const { hi, mid, lo, lens } = this;
    const cmp = (i: number, j: number): number => hi[i]! - hi[j]! || mid[i]! - mid[j]! || lo[i]! - lo[j]! || lens[i]! - lens[j]!;
    // Lists usually arrive sorted (then the columns are kept as they are), or as a long sorted
    // run (a group's member list) followed by a few more addresses (its ports' own): only that
    // tail is sorted, then merged with the run in one pass.
    let run = 1;
    while (run < n && cmp(run - 1, run) < 0) run++;
    if (run >= n) return fromColumns(this.texts, hi.subarray(0, n), mid.subarray(0, n), lo.subarray(0, n), lens.subarray(0, n));
    const tail = new Array<number>(n - run);
    for (let i = run; i < n; i++) tail[i - run] = i;
    tail.sort(cmp);
    const order = new Array<number>(n);
    for (let a = 0, b = 0, o = 0; o < n; o++) order[o] = b >= tail.length || (a < run && cmp(a, tail[b]!) <= 0) ? a++ : tail[b++]!;
    const texts = new Array<string>(n);
    const H = new Float64Array(n);
    const M = new Float64Array(n);
    const L = new Float64Array(n);
    const N = new Uint8Array(n);
    let k = 0;
    let last = -1;
    for (const i of order) {
      if (last >= 0 && cmp(last, i) === 0) continue;
      last = i;
      texts[k] = this.texts[i]!;
      H[k] = hi[i]!;
      M[k] = mid[i]!;
      L[k] = lo[i]!;
      N[k] = lens[i]!;
      k++;
    }
    texts.length = k;
    return fromColumns(texts, H.subarray(0, k), M.subarray(0, k), L.subarray(0, k), N.subarray(0, k));
  }
}
