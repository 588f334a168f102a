import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sortUnique } from '../../src/net/cidr.js';
import { type Prefix, formatAddress, formatPrefix, isHost, networkOf, parsePrefix } from '../../src/net/ip.js';
import { AddressList, AddressListBuilder } from '../../src/net/list.js';

const v4 = fc.integer({ min: 0, max: 0xffffffff }).map(BigInt);
const v6 = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
  // Long zero runs and shared high parts, as real member lists have.
  fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 }).map((ws) => ws.reduce((a, w) => (a << 16n) | BigInt(w), 0n)),
);
const prefixArb: fc.Arbitrary<Prefix> = fc.oneof(
  fc.tuple(v4, fc.oneof(fc.constant(32), fc.integer({ min: 0, max: 32 }))).map(([a, len]) => ({ family: 4 as const, addr: networkOf(4, a, len), len })),
  fc.tuple(v6, fc.oneof(fc.constant(128), fc.integer({ min: 0, max: 128 }))).map(([a, len]) => ({ family: 6 as const, addr: networkOf(6, a, len), len })),
);
/** The ways users write an address: canonical, upper case, uncompressed, with a length. */
const textArb = fc.tuple(prefixArb, fc.integer({ min: 0, max: 3 })).map(([p, style]) => {
  const addr = formatAddress(p.family, p.addr);
  if (style === 1 && p.family === 6) return addr.toUpperCase() + (isHost(p) ? '' : `/${p.len}`);
  if (style === 2 && p.family === 6) return p.addr.toString(16).padStart(32, '0').replace(/(.{4})(?!$)/g, '$1:') + `/${p.len}`;
  return isHost(p) && style !== 3 ? addr : `${addr}/${p.len}`;
});

const same = (p: Prefix): [number, bigint, number] => [p.family, p.addr, p.len];

describe('AddressList', () => {
  it('holds exactly the sorted, de-duplicated prefixes, whatever the input order and repeats', () => {
    fc.assert(
      fc.property(fc.array(prefixArb, { maxLength: 60 }), fc.boolean(), (ps, twice) => {
        const input = twice ? [...ps, ...[...ps].reverse()] : ps;
        const list = AddressList.of(input);
        const want = sortUnique(input);
        expect(list.prefixes().map(same)).toEqual(want.map(same));
        expect(list.length).toBe(want.length);
        // Entry texts: hosts without their length, as ipset and nft print them.
        expect(list.entries()).toEqual(want.map((p) => (isHost(p) ? formatAddress(p.family, p.addr) : formatPrefix(p))));
        for (const f of [4, 6] as const) expect(list.ofFamily(f).prefixes().map(same)).toEqual(want.filter((p) => p.family === f).map(same));
        expect(list.hostsOnly()).toBe(want.every(isHost));
        expect(list.hasZeroLength()).toBe(want.some((p) => p.len === 0));
      }),
    );
  });

  it('scans texts exactly as parsePrefix parses them, keeping the canonical text', () => {
    fc.assert(
      fc.property(fc.array(textArb, { maxLength: 30 }), (texts) => {
        const b = new AddressListBuilder();
        const parsed: Prefix[] = [];
        for (const t of texts) {
          const f = b.scan(t);
          const p = parsePrefix(t);
          if (typeof p === 'string') throw new Error(p);
          expect(f).toBe(p.prefix.family);
          expect(b.pendingLength).toBe(p.prefix.len);
          b.commit();
          parsed.push(p.prefix);
        }
        const list = b.build();
        expect(list.prefixes().map(same)).toEqual(sortUnique(parsed).map(same));
        for (const p of list.prefixes()) expect(p.text).toBe(formatAddress(p.family, p.addr));
      }),
    );
  });

  it('refuses, with the same message, what parsePrefix refuses', () => {
    const b = new AddressListBuilder();
    for (const bad of ['10.0.0.01', '10.0.0', '2001:db8::1::2', '::ffff:1.2.3', '10.0.0.0/33', 'fe80::1%eth0', '']) {
      expect(b.scan(bad), bad).toBe(parsePrefix(bad));
    }
  });
});
