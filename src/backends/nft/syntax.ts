/**
 * nft text: names, quoted strings, comments, addresses and rule expressions, each checked so
 * that no string from the model can leave its token (nft 1.0.6 has no quoted identifiers and no
 * escape for `"` inside strings, and many bare words are keywords; see docs/netfilter.md §6.1).
 */
import { createHash } from 'node:crypto';
import { NFT_COMMENT_MAX, NFT_NAME_MAX } from '../../limits.js';
import { INTERFACE_NAME_RULE, isInterfaceName } from '../../model/devices.js';
import { type Family, type Prefix, addressText, formatPrefix, isHost } from '../../net/ip.js';
import type { CtState, Match } from '../../plan/ir.js';

/**
 * Every table, chain, set and map name we print: a letter, then at least one `_`. No nft keyword
 * has this shape (`fwd`, `ip`, `mark`, `type`... are rejected as names; `sg_fwd` is not).
 */
export const NFT_SAFE_NAME = /^[a-z][a-z0-9]*_[a-z0-9_]*$/;

export function checkName(name: string): string {
  if (!NFT_SAFE_NAME.test(name)) throw new Error(`nft name "${name}" is outside the safe grammar ${NFT_SAFE_NAME.source}`);
  if (name.length > NFT_NAME_MAX) throw new Error(`nft name ${name} exceeds ${NFT_NAME_MAX} bytes`);
  return name;
}

/** 32 bits of sha256: a stable hash for names and port indices. */
export function hash32(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0);
}

/** Interface names as nft strings. `*` (a wildcard in nft) and `"` can never pass. */
export function ifname(dev: string): string {
  if (!isInterfaceName(dev)) throw new Error(`interface name "${dev}" cannot be printed safely (${INTERFACE_NAME_RULE})`);
  return `"${dev}"`;
}

/**
 * A comment clause. Its text is built from fixed strings and validated ids; a plan that bypassed
 * the parser still cannot break out of it: nft strings cannot hold `"`, and a newline or control
 * character would end the statement, so those become `_`. A text over the limit is refused,
 * never cut (src/limits.ts): the layout picks a form that fits (fittingComment).
 */
export function comment(text: string): string {
  if (text.length > NFT_COMMENT_MAX) throw new Error(`nft comment over ${NFT_COMMENT_MAX} characters: ${text}`);
  return `comment "${text.replace(/[^\x20-\x7e]|["\\]/g, '_')}"`;
}

/**
 * The first of `texts` (a long form, then shorter ones) that fits an nft comment. Comments name
 * model ids of up to MODEL_ID_MAX characters, so a full text may not fit: a shorter form is
 * chosen, and a text is never cut.
 */
export function fittingComment(...texts: readonly string[]): string {
  return texts.find((t) => t.length <= NFT_COMMENT_MAX) ?? texts[texts.length - 1]!;
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
export function mac(m: string): string {
  if (!MAC.test(m)) throw new Error(`MAC "${m}" is not in canonical form`);
  return m;
}

/** nft prints host prefixes without their length; so do we (outputs compare with `nft list`). */
export const element = (p: Prefix): string => (isHost(p) ? addressText(p) : formatPrefix(p));

export const hex32 = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

const L3 = { 4: 'ip', 6: 'ip6' } as const;

/** Protocols with a header expression of their own (which implies `meta l4proto`). */
const PORT_HEADERS: Readonly<Record<number, string>> = { 6: 'tcp', 17: 'udp', 33: 'dccp', 132: 'sctp', 136: 'udplite' };

/**
 * IPv6 extension headers: `meta l4proto` (like ip6tables -p) sees only the protocol behind them,
 * so a rule for one of them means "the packet carries this header" (the iptables backend uses
 * `-m ipv6header --soft`). nft 1.0.6 has `exthdr X exists` for these three; it has no name for
 * AH, which is matched when it follows the fixed header (where RFC 8200 puts it without other
 * extension headers); "no next header" ends the chain, so l4proto reports it.
 */
const V6_EXT_HEADERS: Readonly<Record<number, string>> = {
  43: 'exthdr rt exists',
  44: 'exthdr frag exists',
  51: 'ip6 nexthdr 51',
  59: 'meta l4proto 59',
  60: 'exthdr dst exists',
};

const range = (r: { min: number; max: number }): string => (r.min === r.max ? `${r.min}` : `${r.min}-${r.max}`);
const ctStates = (s: readonly CtState[]): string => s.map((x) => x.toLowerCase()).join(',');

/** A set match: the host-address set and the prefix set of one plan set (see layout). */
export type SetNames = (m: Extract<Match, { kind: 'set' }>) => { readonly hosts: string; readonly nets: string };

/** The matches of one plan rule by kind (the first of each kind, as the plan has at most one). */
interface Matches {
  ct?: Extract<Match, { kind: 'ctState' }>;
  src?: Extract<Match, { kind: 'src' }>;
  dst?: Extract<Match, { kind: 'dst' }>;
  protocol?: Extract<Match, { kind: 'protocol' }>;
  sport?: Extract<Match, { kind: 'srcPort' }>;
  dport?: Extract<Match, { kind: 'dstPort' }>;
  icmp?: Extract<Match, { kind: 'icmp' }>;
  mac?: Extract<Match, { kind: 'srcMac' }>;
  set?: Extract<Match, { kind: 'set' }>;
}

/** One pass over the matches (this runs for every rule of every chain). */
function byKind(matches: readonly Match[]): Matches {
  const m: Matches = {};
  for (const x of matches) {
    switch (x.kind) {
      case 'ctState': m.ct ??= x; break;
      case 'src': m.src ??= x; break;
      case 'dst': m.dst ??= x; break;
      case 'protocol': m.protocol ??= x; break;
      case 'srcPort': m.sport ??= x; break;
      case 'dstPort': m.dport ??= x; break;
      case 'icmp': m.icmp ??= x; break;
      case 'srcMac': m.mac ??= x; break;
      case 'set': m.set ??= x; break;
    }
  }
  return m;
}

/**
 * The expressions of one plan rule, in evaluation order (conntrack state, addresses, protocol,
 * then the set lookup last), as alternatives: a rule with a set match becomes two rules, one per
 * set of the pair; any other rule is one.
 */
export function ruleExprs(matches: readonly Match[], family: Family, sets: SetNames): string[][] {
  const m = byKind(matches);
  const out = plainExprs(m, family);
  const lookups = setLookups(m, family, sets);
  return lookups === undefined ? [out] : lookups.map((l) => [...out, l]);
}

/** Like ruleExprs, but each alternative as one line of text (what the layout prints). */
export function ruleTexts(matches: readonly Match[], family: Family, sets: SetNames): string[] {
  const m = byKind(matches);
  const text = plainExprs(m, family).join(' ');
  const lookups = setLookups(m, family, sets);
  if (lookups === undefined) return [text];
  return text === '' ? lookups : lookups.map((l) => `${text} ${l}`);
}

/** Every expression but the set lookup. */
function plainExprs(m: Matches, family: Family): string[] {
  const out: string[] = [];
  if (m.ct) out.push(`ct state ${ctStates(m.ct.states)}`);
  addressExpr(m.src, family, out);
  addressExpr(m.dst, family, out);
  protocolExprs(m.protocol?.protocol, m.sport, m.dport, m.icmp, family, out);
  if (m.mac) out.push(`ether saddr ${mac(m.mac.mac)}`);
  return out;
}

/** `ip saddr 10.0.0.5`; nothing for the any-address. */
function addressExpr(a: Extract<Match, { kind: 'src' | 'dst' }> | undefined, family: Family, out: string[]): void {
  if (!a || a.prefix.len === 0) return;
  if (a.prefix.family !== family) throw new Error(`IPv${a.prefix.family} prefix in an IPv${family} rule`);
  out.push(`${L3[family]} ${a.kind === 'src' ? 'saddr' : 'daddr'} ${element(a.prefix)}`);
}

/** The two lookups of a set match (host set, prefix set), or undefined without one. */
function setLookups(m: Matches, family: Family, sets: SetNames): [string, string] | undefined {
  const set = m.set;
  if (!set) return undefined;
  if (set.set.family !== family) throw new Error(`IPv${set.set.family} set in an IPv${family} rule`);
  const names = sets(set);
  const field = `${L3[family]} ${set.dir === 'src' ? 'saddr' : 'daddr'}`;
  return [`${field} @${checkName(names.hosts)}`, `${field} @${checkName(names.nets)}`];
}

/** Appends the protocol expressions to `out`. */
function protocolExprs(
  protocol: number | undefined,
  sport: Extract<Match, { kind: 'srcPort' }> | undefined,
  dport: Extract<Match, { kind: 'dstPort' }> | undefined,
  icmp: Extract<Match, { kind: 'icmp' }> | undefined,
  family: Family,
  out: string[],
): void {
  if (protocol === undefined) {
    if (sport || dport || icmp) throw new Error('port or ICMP match without a protocol');
    return;
  }
  if (!Number.isInteger(protocol) || protocol < 0 || protocol > 255) throw new Error(`bad protocol ${protocol}`);
  if (icmp) {
    const hdr = family === 4 ? 'icmp' : 'icmpv6';
    if (protocol !== (family === 4 ? 1 : 58)) throw new Error(`ICMP match on protocol ${protocol} in IPv${family}`);
    out.push(`${hdr} type ${icmp.type}`);
    if (icmp.code !== undefined) out.push(`${hdr} code ${icmp.code}`);
    return;
  }
  if (sport || dport) {
    const hdr = PORT_HEADERS[protocol];
    if (hdr === undefined) out.push(`meta l4proto ${protocol}`);
    const field = hdr ?? 'th';
    if (sport) out.push(`${field} sport ${range(sport.range)}`);
    if (dport) out.push(`${field} dport ${range(dport.range)}`);
    return;
  }
  const ext = family === 6 ? V6_EXT_HEADERS[protocol] : undefined;
  // Numbers, not names: nft resolves names through /etc/protocols, which a host may lack.
  out.push(ext ?? `meta l4proto ${protocol}`);
}
