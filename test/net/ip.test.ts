import { isIPv6 } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Prefix, eui64LinkLocal, formatV6, parseAddress, parseMac, parsePrefix, parseV4, parseV6, formatPrefix, V6Scanner } from '../../src/net/ip.js';

/** The prefix a text parses to; fails the test (not silently skips a check) when it does not parse. */
function prefixOf(text: string): Prefix {
  const p = parsePrefix(text);
  if (typeof p === 'string') throw new Error(`${text}: ${p}`);
  return p.prefix;
}

const v6 = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n });
/** Addresses with long zero runs, where the compression rules matter. */
const sparseV6 = fc
  .array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 })
  .map((ws) => ws.reduce((acc, w) => (acc << 16n) | BigInt(w), 0n));

describe('IPv6 text', () => {
  it('round-trips every address', () => {
    fc.assert(fc.property(fc.oneof(v6, sparseV6), (a) => {
        expect(parseV6(formatV6(a))).toBe(a);
      }));
  });
  it('prints RFC 5952 text like the WHATWG URL serializer, except glibc’s embedded IPv4 forms', () => {
    fc.assert(
      fc.property(fc.oneof(v6, sparseV6), (a) => {
        const text = formatV6(a);
        if (text.includes('.')) return; // ::a.b.c.d and ::ffff:a.b.c.d: glibc inet_ntop prints these
        expect(text).toBe(new URL(`http://[${text}]/`).hostname.slice(1, -1));
        expect(new URL(`http://[${text}]/`).hostname).toBe(new URL(`http://[${a.toString(16).padStart(32, '0').replace(/(.{4})(?!$)/g, '$1:')}]/`).hostname);
      }),
    );
  });
  it('matches glibc for the special cases', () => {
    expect(formatV6(parseV6('::ffff:192.0.2.1')!)).toBe('::ffff:192.0.2.1');
    expect(formatV6(parseV6('::192.0.2.1')!)).toBe('::192.0.2.1');
    expect(formatV6(parseV6('::1')!)).toBe('::1');
    expect(formatV6(0n)).toBe('::');
    expect(formatV6(parseV6('2001:db8:0:0:1:0:0:1')!)).toBe('2001:db8::1:0:0:1');
    expect(formatV6(parseV6('2001:0:0:1:0:0:0:1')!)).toBe('2001:0:0:1::1');
    expect(formatV6(parseV6('2001:db8:0:1:1:1:1:1')!)).toBe('2001:db8:0:1:1:1:1:1');
  });
  it('accepts exactly what node accepts (no zone ids)', () => {
    for (const t of ['::', '1::', '::1:2', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:1.2.3.4', 'fe80::1%eth0', '1:2:3:4:5:6:7:8:9', ':::', '1::2::3', '12345::', 'g::1', '::1.2.3']) {
      expect(parseV6(t) !== undefined, t).toBe(isIPv6(t) && !t.includes('%'));
    }
  });
});

describe('IPv6 canonical-text detection', () => {
  /** Other spellings of one address: upper case, leading zeros, uncompressed, compressed elsewhere. */
  const spellings = (a: bigint): string[] => {
    const words = Array.from({ length: 8 }, (_, i) => Number((a >> BigInt(16 * (7 - i))) & 0xffffn));
    const full = words.map((w) => w.toString(16)).join(':');
    const out = [formatV6(a), formatV6(a).toUpperCase(), words.map((w) => w.toString(16).padStart(4, '0')).join(':'), full];
    // "::" over every run of zero words, not only the longest.
    for (let i = 0; i < 8; i++) {
      for (let j = i + 1; j <= 8 && words[j - 1] === 0; j++) {
        out.push(`${words.slice(0, i).map((w) => w.toString(16)).join(':')}::${words.slice(j).map((w) => w.toString(16)).join(':')}`);
      }
    }
    return out;
  };
  it('calls a spelling canonical exactly when it is what formatV6 prints (embedded IPv4 aside)', () => {
    const scanner = new V6Scanner();
    fc.assert(
      fc.property(fc.oneof(v6, sparseV6), (a) => {
        for (const t of spellings(a)) {
          expect(scanner.scan(t), t).toBe(true);
          // glibc's embedded-IPv4 forms are always left to formatting (never wrongly kept).
          expect(scanner.canonical, t).toBe(t === formatV6(a) && !t.includes('.'));
        }
      }),
    );
    for (const t of ['::ffff:192.0.2.1', '::192.0.2.1', '::ffff:c000:201', '1::192.0.2.1']) {
      expect(scanner.scan(t), t).toBe(true);
      expect(scanner.canonical, t).toBe(false); // embedded forms are always formatted
    }
  });
});

describe('IPv4 text', () => {
  it('parses every dotted quad to its value, and prints it back', () => {
    fc.assert(
      fc.property(fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)), (bytes) => {
        const text = bytes.join('.');
        const value = BigInt(bytes.reduce((a, b) => a * 256 + b, 0));
        expect(parseV4(text), text).toBe(value);
        expect(parseAddress(text), text).toEqual({ family: 4, addr: value });
        expect(formatPrefix(prefixOf(text)), text).toBe(`${text}/32`);
      }),
    );
  });
  it('rejects what is not a dotted quad', () => {
    for (const t of ['1.2.3', '1.2.3.4.5', '01.2.3.4', '256.1.1.1', '1.2.3.-1', ' 1.2.3.4', '0x1.2.3.4', '1.2.3.4 ', '', '1.2.3.4/']) {
      expect(parseV4(t), t).toBeUndefined();
    }
  });
});

describe('prefixes', () => {
  it('normalise to the network and say when host bits were set', () => {
    const cases: [string, string, boolean][] = [
      ['192.168.7.9/24', '192.168.7.0/24', true],
      ['192.168.7.0/24', '192.168.7.0/24', false],
      ['2001:db8::1/64', '2001:db8::/64', true],
      ['2001:DB8::/64', '2001:db8::/64', false],
      ['10.0.0.1', '10.0.0.1/32', false],
      ['10.255.0.1/0', '0.0.0.0/0', true],
    ];
    for (const [text, network, hostBits] of cases) {
      const p = parsePrefix(text);
      expect(p, text).toMatchObject({ hadHostBits: hostBits });
      expect(formatPrefix(prefixOf(text)), text).toBe(network);
    }
  });
  it('reject bad lengths', () => {
    for (const t of ['10.0.0.0/33', '10.0.0.0/', '10.0.0.0/08', '::/129', '::/-1', '10.0.0.0/1/2']) {
      expect(typeof parsePrefix(t), t).toBe('string');
    }
  });
  it('parseAddress picks the family', () => {
    expect(parseAddress('10.0.0.1')?.family).toBe(4);
    expect(parseAddress('::1')?.family).toBe(6);
    expect(parseAddress('example.com')).toBeUndefined();
  });
});

describe('MAC addresses', () => {
  it('normalise to lower case with colons', () => {
    expect(parseMac('FA:16:3E:00:00:01')).toBe('fa:16:3e:00:00:01');
    expect(parseMac('fa-16-3e-00-00-01')).toBe('fa:16:3e:00:00:01');
    expect(parseMac('fa:16-3e:00:00:01')).toBeUndefined();
    expect(parseMac('fa:16:3e:00:00')).toBeUndefined();
  });
  it('derive the EUI-64 link-local address', () => {
    expect(formatV6(eui64LinkLocal('fa:16:3e:11:11:11'))).toBe('fe80::f816:3eff:fe11:1111');
  });
});
