/**
 * IP addresses, prefixes and MAC addresses: strict parsing and the canonical text forms that
 * iptables-save, ipset and nft print (so compiled output compares equal to what the kernel
 * reports back). Addresses of both families are bigints, which keeps one code path for the
 * address algebra (see cidr.ts) and is fast enough for millions of members.
 */

export type Family = 4 | 6;

export interface Prefix {
  readonly family: Family;
  /** Network address: host bits are always zero. */
  readonly addr: bigint;
  readonly len: number;
  /**
   * Canonical text of `addr` (no length), when parsing already knew it: usually the input
   * string itself. Printers use it instead of formatting the bigint again, which for a million
   * members is most of the printing time. Never part of a prefix's identity.
   */
  readonly text?: string;
}

export const familyBits = (f: Family): number => (f === 4 ? 32 : 128);

/**
 * Dotted quad to a uint32, scanning characters by hand (this runs once per member address,
 * millions of times for large clouds): four decimal parts 0..255, no leading zeros (they mean
 * octal to some tools), no short forms.
 */
export function v4Number(text: string, from: number): number | undefined {
  const len = text.length;
  if (len - from < 7 || len - from > 15) return undefined;
  let v = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = from; i < len; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || dots === 3) return undefined;
      v = v * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return undefined; // leading zero
      part = part * 10 + (c - 48);
      if (part > 255) return undefined;
      digits++;
    } else return undefined;
  }
  if (dots !== 3 || digits === 0) return undefined;
  return v * 256 + part;
}

/** Parse dotted-quad IPv4; no leading zeros (they mean octal to some tools), no short forms. */
export function parseV4(text: string): bigint | undefined {
  const v = v4Number(text, 0);
  return v === undefined ? undefined : BigInt(v);
}

/** Value of a hex digit character code, or -1. */
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20; // ASCII lower case
  return l >= 97 && l <= 102 ? l - 87 : -1;
}

/**
 * An IPv6 scanner and the state of its last scan, owned by its caller: a member list keeps one
 * for all its members (a hand scanner rather than split/regex: member lists make this a hot path,
 * and the state is reused rather than allocated per address).
 */
export class V6Scanner {
  /** The eight 16-bit words of the last address `scan` accepted (two spare slots for the scan). */
  readonly words: number[] = new Array<number>(10).fill(0);
  /**
   * Whether the last text `scan` accepted was already in canonical form (what formatV6 prints).
   * Decided while scanning, so the usual, canonical member text is kept as it is without
   * formatting an address only to compare it.
   */
  canonical = false;
  // The shifted high part of the last value(): reused while consecutive addresses share it.
  private lastHi = -1;
  private lastHiBig = 0n;

  /** Scan IPv6 text (RFC 4291 forms, including an embedded dotted quad; no zone ids) into `words`. */
  scan(text: string): boolean {
    const WORDS = this.words;
    const len = text.length;
    if (len < 2 || len > 45) return false;
    let n = 0; // words parsed
    let gap = -1; // word index where "::" stands
    let i = 0;
    // RFC 5952 form so far: lower case, no leading zeros, no dotted quad (see below).
    let plain = true;
    if (text.charCodeAt(0) === 58 /* : */) {
      if (text.charCodeAt(1) !== 58) return false;
      gap = 0;
      i = 2;
    }
    while (i < len) {
      let j = i;
      let w = 0;
      for (let c: number, d: number; j < len && (d = hexDigit((c = text.charCodeAt(j)))) >= 0; j++) {
        w = w * 16 + d;
        if (c >= 65 && c <= 70) plain = false; // upper case
      }
      if (j < len && text.charCodeAt(j) === 46 /* . */) {
        // An embedded dotted quad ends the address and fills the last two words.
        const v4 = v4Number(text, i);
        if (v4 === undefined || n > 6) return false;
        WORDS[n++] = v4 >>> 16;
        WORDS[n++] = v4 & 0xffff;
        plain = false; // canonical only in glibc's two forms: left to formatting
        break;
      }
      if (j === i || j - i > 4 || n === 8) return false;
      if (j - i > 1 && text.charCodeAt(i) === 48) plain = false; // a leading zero
      WORDS[n++] = w;
      if (j === len) break;
      if (text.charCodeAt(j) !== 58) return false;
      j++;
      if (j < len && text.charCodeAt(j) === 58) {
        if (gap >= 0) return false;
        gap = n;
        j++;
      } else if (j === len) return false; // a single trailing colon
      i = j;
    }
    if (gap < 0 ? n !== 8 : n > 7) return false;
    const zeros = 8 - n;
    if (gap >= 0) {
      // Expand "::": move the words after it to the end, zeros in between.
      for (let k = n - 1; k >= gap; k--) WORDS[k + zeros] = WORDS[k]!;
      for (let k = gap; k < gap + zeros; k++) WORDS[k] = 0;
    }
    // Canonical: "::" stands exactly for the longest run of two or more zero words (the first on
    // ties), and nothing else is compressed; glibc's embedded-IPv4 forms are left to formatting.
    if (plain) {
      const run = zeroRun(WORDS);
      plain = runLength(run) >= 2 ? gap === runStart(run) && zeros === runLength(run) && !embedsV4(WORDS, run) : gap < 0;
    }
    this.canonical = plain;
    return true;
  }

  /**
   * The bigint of `words`. BigInt arithmetic allocates at every step, so the parts are exact
   * doubles (48 + 48 + 32 bits), and the shifted high part is reused while consecutive addresses
   * share it (members of one subnet do): two or three BigInt operations instead of seven.
   */
  value(): bigint {
    const w = this.words;
    const hi = (w[0]! * 65536 + w[1]!) * 65536 + w[2]!;
    const mid = (w[3]! * 65536 + w[4]!) * 65536 + w[5]!;
    const lo = w[6]! * 65536 + w[7]!;
    if (hi !== this.lastHi) {
      this.lastHi = hi;
      this.lastHiBig = BigInt(hi) << 80n;
    }
    return mid === 0 ? this.lastHiBig | BigInt(lo) : this.lastHiBig | (BigInt(mid) << 32n) | BigInt(lo);
  }
}

export function parseV6(text: string, scanner = new V6Scanner()): bigint | undefined {
  return scanner.scan(text) ? scanner.value() : undefined;
}

export function parseAddress(text: string): { family: Family; addr: bigint } | undefined {
  if (text.includes(':')) {
    const a = parseV6(text);
    return a === undefined ? undefined : { family: 6, addr: a };
  }
  const a = parseV4(text);
  return a === undefined ? undefined : { family: 4, addr: a };
}

export function hostMask(family: Family, len: number): bigint {
  return (1n << BigInt(familyBits(family) - len)) - 1n;
}

export function networkOf(family: Family, addr: bigint, len: number): bigint {
  return addr & ~hostMask(family, len);
}

export interface ParsedPrefix {
  readonly prefix: Prefix;
  /** The text had host bits set (`10.0.0.5/24`); the prefix holds the network. */
  readonly hadHostBits: boolean;
}

/**
 * Parse `addr` or `addr/len`; a bare address is a host prefix (/32 or /128). The prefix keeps
 * the canonical text of its address (the input itself when it is canonical, as dotted quads
 * always are once validated).
 */
export function parsePrefix(text: string, scanner?: V6Scanner): ParsedPrefix | string {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  let family: Family;
  let addr: bigint;
  let canonical: string;
  if (addrText.includes(':')) {
    const v6 = scanner ?? new V6Scanner();
    if (!v6.scan(addrText)) return `"${printable(text)}" is not an IPv4 or IPv6 address or prefix`;
    family = 6;
    addr = v6.value();
    canonical = v6.canonical ? addrText : formatWords(v6.words);
  } else {
    const v = v4Number(addrText, 0);
    if (v === undefined) return `"${printable(text)}" is not an IPv4 or IPv6 address or prefix`;
    family = 4;
    addr = BigInt(v);
    canonical = addrText;
  }
  const bits = familyBits(family);
  // A bare address (the common case for members) is its own network: no masking needed.
  if (slash < 0) return { prefix: { family, addr, len: bits, text: canonical }, hadHostBits: false };
  const lenText = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(lenText) || Number(lenText) > bits) {
    return `"${printable(text)}" has an invalid prefix length (0 to ${bits} for IPv${family})`;
  }
  const len = Number(lenText);
  const net = networkOf(family, addr, len);
  const hadHostBits = net !== addr;
  return { prefix: { family, addr: net, len, text: hadHostBits ? formatAddress(family, net) : canonical }, hadHostBits };
}

// Text of every byte: printing members is hot, and number-to-string conversions are not free.
const DECIMAL = Array.from({ length: 256 }, (_, i) => String(i));
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16));
const HEX2 = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
/** A 16-bit word in hex without leading zeros. */
const hexWord = (w: number): string => (w < 256 ? HEX[w]! : HEX[w >>> 8]! + HEX2[w & 255]!);

function formatV4(addr: bigint): string {
  const n = Number(addr);
  return `${DECIMAL[n >>> 24]}.${DECIMAL[(n >>> 16) & 255]}.${DECIMAL[(n >>> 8) & 255]}.${DECIMAL[n & 255]}`;
}

/** RFC 5952 text, exactly as glibc's inet_ntop prints it (and so as iptables-save does). */
export function formatV6(addr: bigint): string {
  // Four 32-bit slices: 8 BigInt operations instead of 24 for the eight words.
  const words: number[] = [];
  for (let k = 3; k >= 0; k--) {
    const x = Number(BigInt.asUintN(32, addr >> BigInt(32 * k)));
    words.push(x >>> 16, x & 0xffff);
  }
  return formatWords(words);
}

/**
 * Where RFC 5952 puts "::": the longest run of two or more zero words, the first on ties. Packed
 * into one number, start * 16 + length (start -1: none): this runs for every IPv6 address parsed
 * or printed, and a number is no object.
 */
type ZeroRun = number;
const runStart = (r: ZeroRun): number => (r < 0 ? -1 : r >> 4);
const runLength = (r: ZeroRun): number => (r < 0 ? 0 : r & 15);

/** The zero run of `words`. */
function zeroRun(words: readonly number[]): ZeroRun {
  let start = -1;
  let len = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > len) {
      start = i;
      len = j - i;
    }
    i = j;
  }
  return len < 2 ? -1 : start * 16 + len;
}

/** glibc prints an embedded IPv4 for ::a.b.c.d and ::ffff:a.b.c.d. */
const embedsV4 = (words: readonly number[], run: ZeroRun): boolean =>
  runStart(run) === 0 && (runLength(run) === 6 || (runLength(run) === 5 && words[5] === 0xffff));

/** RFC 5952 text of eight 16-bit words (see formatV6). */
export function formatWords(words: readonly number[]): string {
  const run = zeroRun(words);
  const start = runStart(run);
  const len = runLength(run);
  if (embedsV4(words, run)) {
    const prefix = len === 6 ? '::' : '::ffff:';
    const hi = words[6]!;
    const lo = words[7]!;
    return `${prefix}${DECIMAL[hi >>> 8]}.${DECIMAL[hi & 255]}.${DECIMAL[lo >>> 8]}.${DECIMAL[lo & 255]}`;
  }
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === start) {
      out += i === 0 ? '::' : ':';
      i += len - 1;
      continue;
    }
    out += hexWord(words[i]!);
    if (i < 7) out += ':';
  }
  return out;
}

export function formatAddress(family: Family, addr: bigint): string {
  return family === 4 ? formatV4(addr) : formatV6(addr);
}

/** Canonical text of a prefix's address (no length): the parser's text when it kept one. */
export function addressText(p: Prefix): string {
  return p.text ?? formatAddress(p.family, p.addr);
}

/** Always with the length, as iptables-save and ipset print prefixes: `10.0.0.11/32`. */
export function formatPrefix(p: Prefix): string {
  return `${addressText(p)}/${p.len}`;
}

export function hostPrefix(family: Family, addr: bigint): Prefix {
  return { family, addr, len: familyBits(family) };
}

export function isHost(p: Prefix): boolean {
  return p.len === familyBits(p.family);
}

/** Order: family, then address, then prefix length. */
export function comparePrefix(a: Prefix, b: Prefix): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.addr !== b.addr) return a.addr < b.addr ? -1 : 1;
  return a.len - b.len;
}

export function prefixKey(p: Prefix): string {
  return `${p.family}/${p.addr.toString(16)}/${p.len}`;
}

export function containsAddress(p: Prefix, family: Family, addr: bigint): boolean {
  return p.family === family && networkOf(family, addr, p.len) === p.addr;
}

// ---------------------------------------------------------------------------------------------
// MAC addresses

const MAC = /^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$/;

/** Canonical form: lower case, colon separated (what iptables-nft and nft print). */
export function parseMac(text: string): string | undefined {
  if (!MAC.test(text)) return undefined;
  return text.toLowerCase().replace(/-/g, ':');
}

/** The EUI-64 interface id words of a canonical MAC (RFC 4291, app. A): U/L bit flipped, ff:fe inserted. */
function eui64Words(mac: string): number[] {
  const b = (i: number): number => hexDigit(mac.charCodeAt(3 * i)) * 16 + hexDigit(mac.charCodeAt(3 * i + 1));
  return [0xfe80, 0, 0, 0, ((b(0) ^ 0x02) << 8) | b(1), (b(2) << 8) | 0xff, 0xfe00 | b(3), (b(4) << 8) | b(5)];
}

/** The EUI-64 link-local address (fe80::/64) a host derives from its MAC (RFC 4291, app. A). */
export function eui64LinkLocal(mac: string): bigint {
  const w = eui64Words(mac);
  return (0xfe80n << 112n) | (BigInt(w[4]! * 65536 + w[5]!) << 32n) | BigInt(w[6]! * 65536 + w[7]!);
}

/** The EUI-64 link-local host prefix of a MAC, with its text (every port has one). */
export function linkLocalPrefix(mac: string): Prefix {
  return { family: 6, addr: eui64LinkLocal(mac), len: 128, text: formatWords(eui64Words(mac)) };
}

/** Escape a user string for an error message: never let it break a line of output. */
export function printable(s: string): string {
  const shown = s.length > 60 ? s.slice(0, 57) + '...' : s;
  return shown.replace(/[^\x20-\x7e]|["\\]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}
