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
}

export const familyBits = (f: Family): number => (f === 4 ? 32 : 128);

const V4_PART = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/;

/** Parse dotted-quad IPv4; no leading zeros (they mean octal to some tools), no short forms. */
export function parseV4(text: string): bigint | undefined {
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

/** Parse IPv6 (RFC 4291 text forms, including an embedded dotted quad); no zone ids. */
export function parseV6(text: string): bigint | undefined {
  if (text.length === 0 || text.length > 45) return undefined;
  let head = text;
  let tailV4: bigint | undefined;
  const lastColon = text.lastIndexOf(':');
  if (lastColon >= 0 && text.indexOf('.', lastColon) > lastColon) {
    tailV4 = parseV4(text.slice(lastColon + 1));
    if (tailV4 === undefined) return undefined;
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const toGroups = (s: string): string[] | undefined => (s === '' ? [] : s.split(':'));
  const left = toGroups(halves[0]!);
  const right = halves.length === 2 ? toGroups(halves[1]!) : [];
  if (left === undefined || right === undefined) return undefined;
  const groups = [...left, ...right];
  if (halves.length === 1 ? groups.length !== 8 : groups.length > 7) return undefined;
  let v = 0n;
  const fill = 8 - groups.length;
  const all = [...left, ...Array<string>(halves.length === 2 ? fill : 0).fill('0'), ...right];
  for (const g of all) {
    if (!HEX_GROUP.test(g)) return undefined;
    v = (v << 16n) | BigInt(parseInt(g, 16));
  }
  if (tailV4 !== undefined) v = (v & ~0xffffffffn) | tailV4;
  return v;
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

/** Parse `addr` or `addr/len`; a bare address is a host prefix (/32 or /128). */
export function parsePrefix(text: string): ParsedPrefix | string {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const parsed = parseAddress(addrText);
  if (parsed === undefined) return `"${printable(text)}" is not an IPv4 or IPv6 address or prefix`;
  const bits = familyBits(parsed.family);
  let len = bits;
  if (slash >= 0) {
    const lenText = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(lenText) || Number(lenText) > bits) {
      return `"${printable(text)}" has an invalid prefix length (0 to ${bits} for IPv${parsed.family})`;
    }
    len = Number(lenText);
  }
  const net = networkOf(parsed.family, parsed.addr, len);
  return { prefix: { family: parsed.family, addr: net, len }, hadHostBits: net !== parsed.addr };
}

export function formatV4(addr: bigint): string {
  const n = Number(addr);
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** RFC 5952 text, exactly as glibc's inet_ntop prints it (and so as iptables-save does). */
export function formatV6(addr: bigint): string {
  const words: number[] = [];
  for (let i = 7; i >= 0; i--) words.push(Number((addr >> BigInt(i * 16)) & 0xffffn));
  // Longest run of zero words (length >= 2), the first one on ties.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) bestStart = -1;
  // glibc prints an embedded IPv4 for ::a.b.c.d and ::ffff:a.b.c.d.
  if (bestStart === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
    const prefix = bestLen === 6 ? '::' : '::ffff:';
    return prefix + formatV4(addr & 0xffffffffn);
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

export function formatAddress(family: Family, addr: bigint): string {
  return family === 4 ? formatV4(addr) : formatV6(addr);
}

/** Always with the length, as iptables-save and ipset print prefixes: `10.0.0.11/32`. */
export function formatPrefix(p: Prefix): string {
  return `${formatAddress(p.family, p.addr)}/${p.len}`;
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

export function prefixContains(outer: Prefix, inner: Prefix): boolean {
  return (
    outer.family === inner.family &&
    outer.len <= inner.len &&
    networkOf(outer.family, inner.addr, outer.len) === outer.addr
  );
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

/** The EUI-64 link-local address (fe80::/64) a host derives from its MAC (RFC 4291, app. A). */
export function eui64LinkLocal(mac: string): bigint {
  const b = mac.split(':').map((x) => parseInt(x, 16));
  const iid = [b[0]! ^ 0x02, b[1]!, b[2]!, 0xff, 0xfe, b[3]!, b[4]!, b[5]!];
  let v = 0xfe80n << 112n;
  for (let i = 0; i < 8; i++) v |= BigInt(iid[i]!) << BigInt((7 - i) * 8);
  return v;
}

/** Escape a user string for an error message: never let it break a line of output. */
export function printable(s: string): string {
  const shown = s.length > 60 ? s.slice(0, 57) + '...' : s;
  return shown.replace(/[^\x20-\x7e]|["\\]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}
