/**
 * A persistent (immutable, structure-sharing) map from strings, for the prepared cloud model.
 *
 * Why: a patched model must leave the model it was patched from intact (the server compares the
 * two and compiles either), and copying a Map of 100,000 devices costs tens of milliseconds.
 * Here the keys are spread over a fixed number of buckets by a hash: a change copies the bucket
 * array and the touched buckets only, and two versions share every other bucket, so `changedKeys`
 * finds what differs between them by comparing buckets by reference.
 *
 * Iteration is in key order (byte order), like the Maps the parser builds; the sorted key list is
 * computed once per version, when first needed.
 */
const BUCKETS = 1024;
const MASK = BUCKETS - 1;

/** 32-bit FNV-1a of a string's UTF-16 code units. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

type Bucket<V> = ReadonlyMap<string, V>;

export class PMap<V> implements ReadonlyMap<string, V> {
  private sortedKeys: string[] | undefined;

  private constructor(
    private readonly buckets: readonly (Bucket<V> | undefined)[],
    readonly size: number,
  ) {}

  static empty<V>(): PMap<V> {
    return new PMap<V>(new Array<Bucket<V> | undefined>(BUCKETS).fill(undefined), 0);
  }

  static from<V>(entries: Iterable<readonly [string, V]>): PMap<V> {
    const b = PMap.empty<V>().edit();
    for (const [k, v] of entries) b.set(k, v);
    return b.build();
  }

  get(key: string): V | undefined {
    return this.buckets[hash(key) & MASK]?.get(key);
  }

  has(key: string): boolean {
    return this.buckets[hash(key) & MASK]?.has(key) ?? false;
  }

  /** A builder for several changes: the bucket array and each touched bucket are copied once. */
  edit(): PMapBuilder<V> {
    return new PMapBuilder(this.buckets, this.size, this);
  }

  set(key: string, value: V): PMap<V> {
    return this.edit().set(key, value).build();
  }

  delete(key: string): PMap<V> {
    return this.has(key) ? this.edit().delete(key).build() : this;
  }

  /** Keys in byte order. */
  keys(): IterableIterator<string> {
    if (this.sortedKeys === undefined) {
      const out: string[] = [];
      for (const b of this.buckets) if (b) for (const k of b.keys()) out.push(k);
      this.sortedKeys = out.sort();
    }
    return this.sortedKeys[Symbol.iterator]();
  }

  *values(): IterableIterator<V> {
    for (const k of this.keys()) yield this.get(k)!;
  }

  *entries(): IterableIterator<[string, V]> {
    for (const k of this.keys()) yield [k, this.get(k)!];
  }

  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.entries();
  }

  forEach(f: (value: V, key: string, map: ReadonlyMap<string, V>) => void): void {
    for (const [k, v] of this.entries()) f(v, k, this);
  }

  /**
   * Keys whose values differ between two versions (present in one only, or not `equal`).
   * Buckets the versions share are skipped: after a patch this looks at the touched buckets only.
   */
  static changedKeys<V>(a: PMap<V>, b: PMap<V>, equal: (x: V, y: V) => boolean): string[] {
    const out: string[] = [];
    for (let i = 0; i < BUCKETS; i++) {
      const x = a.buckets[i];
      const y = b.buckets[i];
      if (x === y) continue;
      if (x) {
        for (const [k, v] of x) {
          if (!y?.has(k)) out.push(k);
          else {
            const w = y.get(k)!;
            if (v !== w && !equal(v, w)) out.push(k);
          }
        }
      }
      if (y) for (const k of y.keys()) if (!x?.has(k)) out.push(k);
    }
    return out.sort();
  }
}

export class PMapBuilder<V> {
  private readonly buckets: (Bucket<V> | undefined)[];
  private readonly copied = new Set<number>();
  private done = false;
  /** Whether anything was set or deleted: a builder that changed nothing gives back its origin. */
  private changed = false;

  constructor(
    from: readonly (Bucket<V> | undefined)[],
    private size: number,
    private readonly origin: PMap<V>,
  ) {
    this.buckets = from.slice();
  }

  private own(i: number): Map<string, V> {
    if (this.done) throw new Error('PMapBuilder used after build()');
    const b = this.buckets[i];
    if (this.copied.has(i)) return b as Map<string, V>;
    const m = new Map<string, V>(b);
    this.buckets[i] = m;
    this.copied.add(i);
    return m;
  }

  get(key: string): V | undefined {
    return this.buckets[hash(key) & MASK]?.get(key);
  }

  has(key: string): boolean {
    return this.buckets[hash(key) & MASK]?.has(key) ?? false;
  }

  set(key: string, value: V): this {
    const m = this.own(hash(key) & MASK);
    if (!m.has(key)) this.size++;
    m.set(key, value);
    this.changed = true;
    return this;
  }

  delete(key: string): this {
    const i = hash(key) & MASK;
    if (!this.buckets[i]?.has(key)) return this;
    const m = this.own(i);
    m.delete(key);
    this.size--;
    this.changed = true;
    if (m.size === 0) {
      this.buckets[i] = undefined;
      this.copied.delete(i);
    }
    return this;
  }

  /** The map built; the origin itself when nothing changed (so identity tells an untouched collection). */
  build(): PMap<V> {
    this.done = true;
    if (!this.changed) return this.origin;
    return new (PMap as unknown as new (b: readonly (Bucket<V> | undefined)[], size: number) => PMap<V>)(this.buckets, this.size);
  }
}
