/**
 * The address parsers and printers are hand-written scanners (they run once per member, so
 * they are hot). This checks them against the plain split/regex versions they replaced, on
 * valid addresses in every text form and on near-misses made by mutating them.
 */
import { isIPv4, isIPv6 } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatV6, parseV4, parseV6 } from '../../src/net/ip.js';

// ---- the reference versions (straightforward, slow) -----------------------------------------

const V4_PART = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/;
function refV4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0;
  for (const p of parts) {
    if (!V4_PART.test(p)) return undefined;
    v = v * 256 + Number(p);
  }
  return BigInt(v);
}

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
function refV6(text: string): bigint | undefined {
  if (text.length === 0 || text.length > 45) return undefined;
  let head = text;
  let tailV4: bigint | undefined;
  const lastColon = text.lastIndexOf(':');
  if (lastColon >= 0 && text.indexOf('.', lastColon) > lastColon) {
    tailV4 = refV4(text.slice(lastColon + 1));
    if (tailV4 === undefined) return undefined;
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const left = halves[0] === '' ? [] : halves[0]!.split(':');
  const right = halves.length === 2 && halves[1] !== '' ? halves[1]!.split(':') : [];
  const groups = [...left, ...right];
  if (halves.length === 1 ? groups.length !== 8 : groups.length > 7) return undefined;
  const all = [...left, ...Array<string>(halves.length === 2 ? 8 - groups.length : 0).fill('0'), ...right];
  let v = 0n;
  for (const g of all) {
    if (!HEX_GROUP.test(g)) return undefined;
    v = (v << 16n) | BigInt(parseInt(g, 16));
  }
  if (tailV4 !== undefined) v = (v & ~0xffffffffn) | tailV4;
  return v;
}

function refFormatV6(addr: bigint): string {
  const words: number[] = [];
  for (let i = 7; i >= 0; i--) words.push(Number((addr >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) [bestStart, bestLen] = [i, j - i];
    i = j;
  }
  if (bestLen < 2) bestStart = -1;
  if (bestStart === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
    const a = Number(addr & 0xffffffffn);
    return (bestLen === 6 ? '::' : '::ffff:') + `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
  }
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += i === 0 ? '::' : ':';
      i += bestLen - 1;
      continue;
    }
    out += words[i]!.toString(16);
    if (i < 7) out += ':';
  }
  return out;
}

// ---- generators -----------------------------------------------------------------------------

const word = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
const v6Value = fc.array(word, { minLength: 8, maxLength: 8 }).map((ws) => ws.reduce((a, w) => (a << 16n) | BigInt(w), 0n));

/**
 * Any of the text forms of an IPv6 address: full, zero-padded, upper case, "::" anywhere, dotted
 * tail; with the address's value (the words a "::" stands for are zero).
 */
const v6Spelling = fc
  .record({
    words: fc.array(word, { minLength: 8, maxLength: 8 }),
    pad: fc.boolean(),
    upper: fc.boolean(),
    gapAt: fc.integer({ min: -1, max: 8 }),
    gapLen: fc.integer({ min: 1, max: 8 }),
    dotted: fc.boolean(),
  })
  .map(({ words, pad, upper, gapAt, gapLen, dotted }) => {
    const hex = (w: number): string => (pad ? w.toString(16).padStart(4, '0') : w.toString(16));
    const groups = words.map(hex);
    let tail: string[] = [];
    if (dotted) {
      tail = [`${words[6]! >>> 8}.${words[6]! & 255}.${words[7]! >>> 8}.${words[7]! & 255}`];
      groups.length = 6;
    }
    let text: string;
    const all = [...groups, ...tail];
    const value = [...words];
    if (gapAt >= 0 && gapAt < groups.length) {
      const len = Math.min(gapLen, groups.length - gapAt);
      text = `${all.slice(0, gapAt).join(':')}::${all.slice(gapAt + len).join(':')}`;
      value.fill(0, gapAt, gapAt + len);
    } else text = all.join(':');
    return { text: upper ? text.toUpperCase() : text, value: value.reduce((a, w) => (a << 16n) | BigInt(w), 0n) };
  });
const v6Text = v6Spelling.map((s) => s.text);

const v4Text = fc.oneof(
  fc.ipV4(),
  fc.tuple(fc.nat(300), fc.nat(300), fc.nat(300), fc.nat(300)).map((p) => p.join('.')),
);

/** Near-misses: insert, delete or replace one character of a valid text. */
const ALPHABET = '0123456789abcdefABCDEFg:.:./% -';
const mutate = (text: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc
    .tuple(text, fc.nat(), fc.constantFrom(...ALPHABET.split('')), fc.constantFrom('insert', 'delete', 'replace'))
    .map(([t, at, ch, op]) => {
      const i = t.length === 0 ? 0 : at % (t.length + (op === 'insert' ? 1 : 0));
      if (op === 'insert') return t.slice(0, i) + ch + t.slice(i);
      if (op === 'delete') return t.slice(0, i) + t.slice(i + 1);
      return t.slice(0, i) + ch + t.slice(i + 1);
    });

const RUNS = { numRuns: 3000 };

describe('hand-written address scanners agree with the reference versions', () => {
  it('IPv4: valid addresses and near-misses', () => {
    fc.assert(
      fc.property(fc.oneof(v4Text, mutate(v4Text), fc.string({ maxLength: 16 })), (t) => {
        expect(parseV4(t)).toBe(refV4(t));
        // node agrees too (it rejects leading zeros as well, since v20).
        expect(parseV4(t) !== undefined, t).toBe(isIPv4(t));
      }),
      RUNS,
    );
  });

  it('IPv6: every text form and near-misses', () => {
    fc.assert(
      fc.property(fc.oneof(v6Text, mutate(v6Text), mutate(mutate(v6Text)), fc.string({ maxLength: 46 })), (t) => {
        expect(parseV6(t)).toBe(refV6(t));
        expect(parseV6(t) !== undefined).toBe(isIPv6(t) && !t.includes('%'));
      }),
      RUNS,
    );
  });

  it('IPv6: the compact forms of every address parse to their value', () => {
    fc.assert(
      fc.property(v6Spelling, ({ text, value }) => {
        expect(parseV6(text), text).toBe(value);
      }),
      RUNS,
    );
  });

  it('IPv6 printing: same text as the reference, and it parses back', () => {
    fc.assert(
      fc.property(v6Value, (a) => {
        expect(formatV6(a)).toBe(refFormatV6(a));
        expect(parseV6(formatV6(a))).toBe(a);
      }),
      RUNS,
    );
  });

  it('edge cases', () => {
    const cases = ['::', ':', ':::', '1::', '::1', '1:', ':1', '1::2:', '::1.2.3.4', '::ffff:1.2.3.4', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8',
      '1:2:3:4:5:6:7:8::', '1:2:3:4:5:6:7:1.2.3.4', '1:2:3:4:5:6:1.2.3.4', '1::1.2.3.4:5', '::01.2.3.4', '::1.2.3', '00000::', '0000::',
      'fFfF::', '1.2.3.4', '1::2::3', '', '::g', '::1.2.3.4.5', `${'0:'.repeat(7)}0`, `${'0000:'.repeat(7)}0000`, `${'0000:'.repeat(7)}00000`];
    for (const t of cases) expect(parseV6(t), t).toBe(refV6(t));
    for (const t of ['0.0.0.0', '255.255.255.255', '256.0.0.0', '1.2.3.04', '1..2.3', '1.2.3.4.', '.1.2.3', '1.2.3.4 ', '']) {
      expect(parseV4(t), t).toBe(refV4(t));
    }
  });
});
