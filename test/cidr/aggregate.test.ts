/**
 * CIDR aggregation (src/net/cidr.ts `aggregate`, compile's `aggregate` option) must be exact:
 * the same addresses before and after, never widened. Checked against two independent
 * oracles: ip-num's Pool (interval union of the input) over the whole address space, and a
 * brute-force bitmap over small universes. Plus: the result is the unique minimal cover (so every
 * sibling pair is merged), idempotent, independent of input order, and compile's option keeps
 * each set's addresses.
 */
import fc from 'fast-check';
import * as ipnum from 'ip-num';
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/index.js';
import { aggregate, sortUnique } from '../../src/net/cidr.js';
import { type Family, type Prefix, comparePrefix, familyBits, formatPrefix, networkOf, parsePrefix } from '../../src/net/ip.js';

const { Pool, IPv4CidrRange, IPv6CidrRange } = ipnum;

// ---- generators -----------------------------------------------------------------------------

const prefixIn = (family: Family, base: bigint, minLen: number): fc.Arbitrary<Prefix> => {
  const bits = familyBits(family);
  const span = (1n << BigInt(bits - minLen)) - 1n;
  return fc
    .tuple(fc.bigInt({ min: 0n, max: span }), fc.integer({ min: minLen, max: bits }))
    .map(([off, len]) => ({ family, addr: networkOf(family, base + off, len), len }));
};

/** Anywhere in either family, any length (with a bias towards long prefixes). */
const anyPrefix: fc.Arbitrary<Prefix> = fc.oneof(
  prefixIn(4, 0n, 0),
  prefixIn(4, 0x0a000000n, 16),
  prefixIn(6, 0n, 0),
  prefixIn(6, 0x20010db8n << 96n, 100),
);

/** A small universe (a /24 and a /120) where sibling merges are frequent and bitmaps are cheap. */
const V4_BASE = 0x0a000000n; // 10.0.0.0/24
const V6_BASE = 0x20010db8n << 96n; // 2001:db8::/120
const smallPrefix: fc.Arbitrary<Prefix> = fc.oneof(prefixIn(4, V4_BASE, 24), prefixIn(6, V6_BASE, 120));

/** Runs of adjacent host prefixes (what sequential IPAM hands out): many merges. */
const adjacentRun: fc.Arbitrary<Prefix[]> = fc
  .tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 64 }))
  .map(([start, n]) =>
    Array.from({ length: Math.min(n, 256 - start) }, (_, i) => ({ family: 4 as const, addr: V4_BASE + BigInt(start + i), len: 32 })),
  );

const prefixLists = (p: fc.Arbitrary<Prefix>): fc.Arbitrary<Prefix[]> => fc.array(p, { maxLength: 40 });
const smallLists: fc.Arbitrary<Prefix[]> = fc
  .tuple(prefixLists(smallPrefix), adjacentRun)
  .map(([a, b]) => [...a, ...b]);

// ---- oracles --------------------------------------------------------------------------------

const text = (p: Prefix): string => formatPrefix(p);

/** Merged [first, last] intervals of one family, by ip-num. */
function ipnumIntervals(prefixes: readonly Prefix[], family: Family): [bigint, bigint][] {
  const ofFamily = prefixes.filter((p) => p.family === family);
  if (ofFamily.length === 0) return [];
  const pool =
    family === 4
      ? Pool.fromCidrRanges(ofFamily.map((p) => IPv4CidrRange.fromCidr(text(p))))
      : Pool.fromCidrRanges(ofFamily.map((p) => IPv6CidrRange.fromCidr(text(p))));
  const ranges = pool
    .aggregate()
    .getRanges()
    .map((r) => [r.getFirst().getValue(), r.getLast().getValue()] as [bigint, bigint])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1));
  // ip-num 1.6 leaves ranges that share a first address unmerged (10.0.0.0/24 + 10.0.0.0/32):
  // finish the union here.
  const out: [bigint, bigint][] = [];
  for (const [a, b] of ranges) {
    const last = out[out.length - 1];
    if (last && a <= last[1] + 1n) last[1] = b > last[1] ? b : last[1];
    else out.push([a, b]);
  }
  return out;
}

/** Addresses of a small universe as a bitmap string ('1' = covered). */
function bitmap(prefixes: readonly Prefix[], family: Family): string {
  const base = family === 4 ? V4_BASE : V6_BASE;
  const bits = new Array<string>(256).fill('0');
  for (const p of prefixes) {
    if (p.family !== family) continue;
    const size = 1n << BigInt(familyBits(family) - p.len);
    for (let a = p.addr; a < p.addr + size; a++) bits[Number(a - base)] = '1';
  }
  return bits.join('');
}

/** The unique fewest-prefix cover of an interval: largest aligned block at each step. */
function intervalToPrefixes(family: Family, first: bigint, last: bigint): Prefix[] {
  const bits = familyBits(family);
  const out: Prefix[] = [];
  let a = first;
  while (a <= last) {
    let len = bits;
    while (len > 0) {
      const size = 1n << BigInt(bits - len + 1);
      if (a % size !== 0n || a + size - 1n > last) break;
      len--;
    }
    out.push({ family, addr: a, len });
    a += 1n << BigInt(bits - len);
  }
  return out;
}

function minimalCover(prefixes: readonly Prefix[]): Prefix[] {
  return ([4, 6] as const).flatMap((f) => ipnumIntervals(prefixes, f).flatMap(([a, b]) => intervalToPrefixes(f, a, b)));
}

const shuffled = <T>(list: readonly T[]): fc.Arbitrary<T[]> =>
  fc.array(fc.nat(), { minLength: list.length, maxLength: list.length }).map((keys) =>
    list.map((x, i) => [keys[i]!, x] as const).sort((p, q) => p[0] - q[0]).map(([, x]) => x),
  );

// ---- properties -----------------------------------------------------------------------------

describe('aggregate: exact, never widening', () => {
  it('covers exactly the same addresses (ip-num interval union, whole address space)', () => {
    fc.assert(
      fc.property(prefixLists(anyPrefix), (list) => {
        const out = aggregate(list);
        for (const f of [4, 6] as const) expect(ipnumIntervals(out, f)).toEqual(ipnumIntervals(list, f));
      }),
      { numRuns: 500 },
    );
  });

  it('covers exactly the same addresses (brute-force bitmap, small universes)', () => {
    fc.assert(
      fc.property(smallLists, (list) => {
        const out = aggregate(list);
        expect(bitmap(out, 4)).toBe(bitmap(list, 4));
        expect(bitmap(out, 6)).toBe(bitmap(list, 6));
      }),
      { numRuns: 500 },
    );
  });

  it('is the unique minimal cover: every sibling pair merged, nothing covered twice', () => {
    fc.assert(
      fc.property(fc.oneof(smallLists, prefixLists(anyPrefix)), (list) => {
        const out = aggregate(list);
        expect(out.map(text)).toEqual(minimalCover(list).map(text));
      }),
      { numRuns: 500 },
    );
  });

  it('gives sorted networks, no prefix inside another, no two mergeable siblings', () => {
    fc.assert(
      fc.property(fc.oneof(smallLists, prefixLists(anyPrefix)), (list) => {
        const out = aggregate(list);
        expect(out).toEqual(sortUnique(out));
        for (const p of out) expect(networkOf(p.family, p.addr, p.len)).toBe(p.addr);
        for (let i = 1; i < out.length; i++) {
          const [a, b] = [out[i - 1]!, out[i]!];
          if (a.family !== b.family) continue;
          const aEnd = a.addr + (1n << BigInt(familyBits(a.family) - a.len));
          expect(aEnd <= b.addr, `${text(a)} overlaps ${text(b)}`).toBe(true);
          const siblings = a.len === b.len && a.len > 0 && aEnd === b.addr && networkOf(a.family, a.addr, a.len - 1) === a.addr;
          expect(siblings, `${text(a)} and ${text(b)} should have merged`).toBe(false);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('is idempotent and independent of input order and duplicates', () => {
    fc.assert(
      fc.property(
        smallLists.chain((list) => fc.tuple(fc.constant(list), shuffled([...list, ...list.slice(0, 5)]))),
        ([list, other]) => {
          const out = aggregate(list);
          expect(aggregate(out)).toEqual(out);
          expect(aggregate(other)).toEqual(out);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('merges aligned sibling runs into their parent, and only those', () => {
    const p = (t: string): Prefix => {
      const r = parsePrefix(t);
      if (typeof r === 'string') throw new Error(r);
      return r.prefix;
    };
    const agg = (...ts: string[]): string[] => aggregate(ts.map(p)).map(text);
    expect(agg('10.0.0.0', '10.0.0.1', '10.0.0.2', '10.0.0.3')).toEqual(['10.0.0.0/30']);
    expect(agg('10.0.0.1', '10.0.0.2')).toEqual(['10.0.0.1/32', '10.0.0.2/32']); // adjacent, not siblings
    expect(agg('10.0.0.0/25', '10.0.0.128/25', '10.0.1.0/24')).toEqual(['10.0.0.0/23']);
    expect(agg('10.0.0.0/24', '10.0.0.77', '10.0.0.0/25')).toEqual(['10.0.0.0/24']); // covered ones dropped
    expect(agg('0.0.0.0/1', '128.0.0.0/1')).toEqual(['0.0.0.0/0']);
    expect(agg('2001:db8::/128', '2001:db8::1/128', '10.0.0.0/32')).toEqual(['10.0.0.0/32', '2001:db8::/127']);
    expect(agg()).toEqual([]);
    const all256 = Array.from({ length: 256 }, (_, i) => `10.9.8.${i}`);
    expect(agg(...all256)).toEqual(['10.9.8.0/24']);
    expect(agg(...all256.slice(1))).toHaveLength(8); // /32 /31 /30 /29 /28 /27 /26 /25
  });

  it('is linear enough for a million members', () => {
    const list = Array.from({ length: 1_000_000 }, (_, i) => ({ family: 4 as const, addr: 0x0a000000n + BigInt(i), len: 32 }));
    const t = performance.now();
    expect(aggregate(list).map(text)).toEqual(intervalToPrefixes(4, 0x0a000000n, 0x0a000000n + 999_999n).map(text));
    expect(performance.now() - t).toBeLessThan(10_000);
  });
});

describe("compile's aggregate option", () => {
  /** Each set's entries from an ipset restore script, as prefixes. */
  function setEntries(script: string): Map<string, Prefix[]> {
    const sets = new Map<string, Prefix[]>();
    for (const line of script.split('\n')) {
      const m = /^add (\S+)-t (\S+)$/.exec(line);
      if (!m) continue;
      const r = parsePrefix(m[2]!);
      if (typeof r === 'string') throw new Error(r);
      let l = sets.get(m[1]!);
      if (!l) sets.set(m[1]!, (l = []));
      l.push(r.prefix);
    }
    return sets;
  }

  const member = fc.oneof(
    prefixIn(4, V4_BASE, 24).map(text),
    prefixIn(6, V6_BASE, 120).map(text),
    fc.constant('0.0.0.0/0'),
  );

  it('keeps every set address for address (same addresses with and without it, fewer entries or as many)', () => {
    fc.assert(
      fc.property(fc.array(member, { maxLength: 60 }), fc.array(member, { maxLength: 30 }), (members, addresses) => {
        const family = (t: string): string => (t.includes(':') ? 'IPv6' : 'IPv4');
        const model = {
          security_groups: {
            web: {
              rules: [
                { direction: 'ingress', ethertype: 'IPv4', remote_group_id: 'web' },
                { direction: 'ingress', ethertype: 'IPv6', remote_group_id: 'web' },
                { direction: 'ingress', ethertype: 'IPv4', remote_address_group_id: 'office' },
                { direction: 'ingress', ethertype: 'IPv6', remote_address_group_id: 'office' },
              ],
            },
          },
          address_groups: { office: addresses },
          sg_member_ips: {
            web: { IPv4: members.filter((m) => family(m) === 'IPv4'), IPv6: members.filter((m) => family(m) === 'IPv6') },
          },
          devices: { vm1: { mac_address: 'fa:16:3e:00:00:01', fixed_ips: ['10.0.0.200'], security_groups: ['web'] } },
        };
        const plain = setEntries(compile(model).files['ipset.restore']!);
        const merged = setEntries(compile(model, { aggregate: true }).files['ipset.restore']!);
        expect([...merged.keys()].sort()).toEqual([...plain.keys()].sort());
        for (const [name, entries] of plain) {
          const after = merged.get(name)!;
          expect(after.length).toBeLessThanOrEqual(entries.length);
          for (const f of [4, 6] as const) expect(ipnumIntervals(after, f), name).toEqual(ipnumIntervals(entries, f));
          // hash:net cannot hold /0, so even aggregated sets stop at /1.
          for (const p of after) expect(p.len).toBeGreaterThan(0);
        }
      }),
      { numRuns: 150 },
    );
  });
});

// comparePrefix is the order the properties above rely on for "sorted".
it('comparePrefix orders by family, address, length', () => {
  const list = [
    { family: 6 as const, addr: 0n, len: 0 },
    { family: 4 as const, addr: 5n, len: 32 },
    { family: 4 as const, addr: 4n, len: 30 },
    { family: 4 as const, addr: 4n, len: 31 },
  ];
  expect([...list].sort(comparePrefix).map((p) => `${p.family}/${p.addr}/${p.len}`)).toEqual(['4/4/30', '4/4/31', '4/5/32', '6/0/0']);
});
