/**
 * nft rules of the interpreter: the expressions sgnf prints, parsed strictly into a list of
 * items (matches, set lookups, statements, one final verdict) and evaluated against a packet
 * as nft_do_chain does: items run left to right, a failed match or a failed map lookup ends the
 * rule (NFT_BREAK), statements before that point have taken effect.
 *
 * Kernel details that decide verdicts (nft_meta.c, nft_ct.c, nft_payload.c):
 * - implicit dependencies: `tcp dport` needs `meta l4proto 6`, `ip saddr` an IPv4 packet (inet:
 *   nfproto; bridge: ether type), `icmpv6 type` l4proto 58, `exthdr` an IPv6 packet; a missing
 *   dependency ends the rule even when the comparison is `!=`;
 * - `meta l4proto` of IPv6 is the protocol after the extension headers (ipv6_find_hdr); in the
 *   Packet abstraction an extension-header protocol (0, 43, 44, 51, 60) carries no upper layer,
 *   so l4proto is unknown there and `ip6 nexthdr` / `exthdr X exists` see the header; 59 (no next
 *   header) ends the chain, so l4proto is 59;
 * - `meta iifkind` ends the rule for a device without rtnl_link_ops (a physical NIC, lo), even
 *   with `!=`; `oifname` of a packet without an output device is "";
 * - `notrack` does nothing to a packet that already has a conntrack entry or template, but
 *   `ct zone set` checks only for an entry: after `notrack` it attaches the zone template and
 *   the packet is tracked again (nft_ct_set_zone_eval `if (ct) return`).
 */
import { type Family, type Prefix, containsAddress, formatPrefix } from '../../../src/net/ip.js';
import type { CtState, Packet } from '../../../src/semantics/packet.js';
import { type KeyType, type KeyValue, NftSet, type NftVerdict, parseElements, parseVerdict } from './nft-sets.js';
import { type Fail, Tokens, U32_MAX, commentText, ifname, mac, number, prefix, range, tokenize } from './nft-syntax.js';

export type TableFamily = 'bridge' | 'inet';

export type Selector =
  | { readonly kind: 'iifname' | 'oifname' | 'iifkind' | 'mark' | 'l4proto' | 'nfproto' | 'nexthdr' | 'etherSaddr' | 'ctState' }
  | { readonly kind: 'addr'; readonly family: Family; readonly field: 'saddr' | 'daddr' }
  /** protocol undefined: `th` (whatever transport header the packet has). */
  | { readonly kind: 'port'; readonly protocol: number | undefined; readonly field: 'sport' | 'dport' }
  | { readonly kind: 'icmp'; readonly family: Family; readonly field: 'type' | 'code' }
  | { readonly kind: 'exthdr'; readonly header: number };

/** Datatypes of selectors: a set or map lookup needs its key type to be the selector's. */
export type DataType = KeyType | 'string' | 'inet_proto' | 'ether_addr' | 'inet_service' | 'icmp' | 'ct_state' | 'boolean';

/** A selector, optionally masked (`meta mark & 0xffff0000`) and or-ed (`... | 0x2`). */
export interface Lhs {
  readonly sel: Selector;
  readonly and: number | undefined;
  readonly or: number | undefined;
}

export type Rhs =
  | { readonly kind: 'value'; readonly value: string | number }
  | { readonly kind: 'prefix'; readonly prefix: Prefix }
  | { readonly kind: 'range'; readonly min: number; readonly max: number }
  | { readonly kind: 'states'; readonly states: ReadonlySet<CtState> }
  | { readonly kind: 'exists' };

/** The value a statement writes: a constant, an expression, or a map lookup keyed by one. */
export type Source =
  | { readonly kind: 'const'; readonly value: number }
  | { readonly kind: 'expr'; readonly lhs: Lhs }
  | { readonly kind: 'map'; readonly lhs: Lhs; readonly map: string };

export type RuleItem =
  | { readonly kind: 'match'; readonly lhs: Lhs; readonly negate: boolean; readonly rhs: Rhs }
  /** `lhs @set`: membership in a named set. */
  | { readonly kind: 'lookup'; readonly lhs: Lhs; readonly set: string }
  | { readonly kind: 'setMark'; readonly value: Source }
  | { readonly kind: 'setZone'; readonly value: Source }
  | { readonly kind: 'notrack' }
  | { readonly kind: 'counter' }
  | { readonly kind: 'verdict'; readonly verdict: NftVerdict }
  /** `lhs vmap @map` (named) or `lhs vmap { ... }` (anonymous, held here). */
  | { readonly kind: 'vmap'; readonly lhs: Lhs; readonly map: string | NftSet };

export interface NftRule {
  readonly line: number;
  /** The rule as written (without its indentation). */
  readonly text: string;
  readonly items: readonly RuleItem[];
  readonly comment: string | undefined;
}

// ---------------------------------------------------------------------------------------------
// Parsing

const CT_STATES: Readonly<Record<string, CtState>> = {
  new: 'NEW',
  established: 'ESTABLISHED',
  related: 'RELATED',
  invalid: 'INVALID',
  untracked: 'UNTRACKED',
};
const PORT_PROTOCOLS: Readonly<Record<string, number>> = { tcp: 6, udp: 17, dccp: 33, sctp: 132, udplite: 136 };
const EXTHDRS: Readonly<Record<string, number>> = { hbh: 0, rt: 43, frag: 44, dst: 60 };
const PROTOCOL_NAMES: Readonly<Record<number, string>> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 33: 'dccp', 58: 'icmpv6', 132: 'sctp', 136: 'udplite' };

export function selectorType(s: Selector): DataType {
  switch (s.kind) {
    case 'iifname':
    case 'oifname':
      return 'ifname';
    case 'iifkind':
      return 'string';
    case 'mark':
      return 'mark';
    case 'l4proto':
    case 'nexthdr':
      return 'inet_proto';
    case 'nfproto':
      return 'nf_proto';
    case 'etherSaddr':
      return 'ether_addr';
    case 'ctState':
      return 'ct_state';
    case 'addr':
      return s.family === 4 ? 'ipv4_addr' : 'ipv6_addr';
    case 'port':
      return 'inet_service';
    case 'icmp':
      return 'icmp';
    case 'exthdr':
      return 'boolean';
  }
}

/** Protocols a rule depends on, explicitly or implicitly: two different ones are an nft error. */
class Dependencies {
  private l3: 'ip' | 'ip6' | undefined;
  private l4: number | undefined;
  constructor(private readonly fail: Fail) {}

  network(p: 'ip' | 'ip6'): void {
    if (this.l3 !== undefined && this.l3 !== p) this.fail(`conflicting protocols specified: ${this.l3} vs. ${p}`);
    this.l3 = p;
  }

  transport(p: number): void {
    const show = (n: number): string => PROTOCOL_NAMES[n] ?? String(n);
    if (this.l4 !== undefined && this.l4 !== p) this.fail(`conflicting protocols specified: ${show(this.l4)} vs. ${show(p)}`);
    this.l4 = p;
  }

  get hasTransport(): boolean {
    return this.l4 !== undefined;
  }
}

/** Parse one rule of a chain in a table of `family`. */
export function parseRule(text: string, line: number, family: TableFamily, fail: Fail): NftRule {
  const t = new Tokens(tokenize(text, fail), fail);
  const deps = new Dependencies(fail);
  const items: RuleItem[] = [];
  let comment: string | undefined;
  let final = false;

  const push = (item: RuleItem): void => {
    if (final) fail('a statement after the verdict (nft: it would never run)');
    if (item.kind === 'verdict' || item.kind === 'vmap') final = true;
    items.push(item);
  };
  const noConntrack = (what: string): void => {
    if (family === 'bridge') fail(`${what} in a bridge table: this kernel has no nf_conntrack_bridge (Protocol error)`);
  };

  while (!t.done) {
    if (t.accept('comment')) {
      comment = commentText(t.string('comment text'), fail);
      t.end();
      break;
    }
    const verdict = parseVerdict(t);
    if (verdict) {
      push({ kind: 'verdict', verdict });
      continue;
    }
    if (t.accept('notrack')) {
      push({ kind: 'notrack' });
      continue;
    }
    if (t.accept('counter')) {
      push({ kind: 'counter' });
      continue;
    }
    if (t.peek()?.kind === 'word' && t.peek()!.text === 'ct' && t.peek(1)?.kind === 'word' && t.peek(1)!.text === 'zone') {
      t.accept('ct');
      t.accept('zone');
      noConntrack('ct zone');
      t.expect('set', '"set" (ct zone matches are not understood)');
      push({ kind: 'setZone', value: parseSource(t, deps, 'ct_zone') });
      continue;
    }
    if (t.peek()?.kind === 'word' && t.peek()!.text === 'meta' && t.peek(1)?.kind === 'word' && t.peek(1)!.text === 'mark' && t.peek(2)?.kind === 'word' && t.peek(2)!.text === 'set') {
      t.accept('meta');
      t.accept('mark');
      t.accept('set');
      push({ kind: 'setMark', value: parseSource(t, deps, 'mark') });
      continue;
    }
    const sel = parseSelector(t, deps);
    if (sel.kind === 'ctState') noConntrack('ct state');
    const lhs = parseMask(t, sel);
    if (t.accept('vmap')) {
      const next = t.peek();
      if (next?.kind === 'ref') push({ kind: 'vmap', lhs, map: t.ref('a verdict map') });
      else push({ kind: 'vmap', lhs, map: anonymousVmap(t, lhs, line) });
      continue;
    }
    if (t.peek()?.kind === 'ref') {
      push({ kind: 'lookup', lhs, set: t.ref('a set') });
      continue;
    }
    const negate = t.accept('!=');
    if (!negate) t.accept('==');
    const rhs = parseRhs(t, sel);
    if (sel.kind === 'l4proto' && !negate && rhs.kind === 'value') deps.transport(rhs.value as number);
    push({ kind: 'match', lhs, negate, rhs });
  }
  if (items.length === 0) fail('a rule without expressions');
  return { line, text, items, comment };
}

function parseSelector(t: Tokens, deps: Dependencies): Selector {
  const w = t.word('an expression');
  switch (w) {
    case 'iifname':
    case 'oifname':
      return { kind: w };
    case 'meta': {
      const k = t.word('a meta key');
      if (k === 'iifname' || k === 'oifname' || k === 'iifkind' || k === 'mark' || k === 'l4proto' || k === 'nfproto') return { kind: k };
      return t.fail(`meta ${k} is not understood`);
    }
    case 'ct':
      if (t.accept('state')) return { kind: 'ctState' };
      return t.fail(`ct ${t.describe()} is not understood`);
    case 'ip':
    case 'ip6': {
      deps.network(w);
      const f = t.word('an IP header field');
      if (f === 'saddr' || f === 'daddr') return { kind: 'addr', family: w === 'ip' ? 4 : 6, field: f };
      if (w === 'ip6' && f === 'nexthdr') return { kind: 'nexthdr' };
      return t.fail(`${w} ${f} is not understood`);
    }
    case 'ether':
      if (t.accept('saddr')) return { kind: 'etherSaddr' };
      return t.fail(`ether ${t.describe()} is not understood`);
    case 'th': {
      if (!deps.hasTransport) t.fail('th without a transport protocol (meta l4proto) before it is not understood');
      return { kind: 'port', protocol: undefined, field: portField(t) };
    }
    case 'icmp':
    case 'icmpv6': {
      deps.transport(w === 'icmp' ? 1 : 58);
      const f = t.word('type or code');
      if (f !== 'type' && f !== 'code') t.fail(`${w} ${f} is not understood`);
      return { kind: 'icmp', family: w === 'icmp' ? 4 : 6, field: f };
    }
    case 'exthdr': {
      const h = t.word('an extension header');
      const header = EXTHDRS[h];
      if (header === undefined) t.fail(`exthdr ${h} is not understood`);
      deps.network('ip6');
      return { kind: 'exthdr', header };
    }
    default: {
      const protocol = PORT_PROTOCOLS[w];
      if (protocol === undefined) return t.fail(`"${w}" is not understood`);
      deps.transport(protocol);
      return { kind: 'port', protocol, field: portField(t) };
    }
  }
}

function portField(t: Tokens): 'sport' | 'dport' {
  const f = t.word('sport or dport');
  if (f !== 'sport' && f !== 'dport') t.fail(`port field "${f}" is not understood`);
  return f;
}

/** `& MASK` and `| BITS` (marks only: binary operations need an integer). */
function parseMask(t: Tokens, sel: Selector): Lhs {
  let and: number | undefined;
  let or: number | undefined;
  if (t.accept('&')) and = number(t.word('a mask'), 0, U32_MAX, 'mask', t.fail);
  if (t.accept('|')) or = number(t.word('a value'), 0, U32_MAX, 'value', t.fail);
  if ((and !== undefined || or !== undefined) && sel.kind !== 'mark') t.fail('binary operations are understood on meta mark only');
  return { sel, and, or };
}

function parseRhs(t: Tokens, sel: Selector): Rhs {
  switch (selectorType(sel)) {
    case 'ifname':
      return { kind: 'value', value: ifname(t.string('an interface name'), t.fail) };
    case 'string':
      return { kind: 'value', value: t.string('a device kind') };
    case 'mark':
      return { kind: 'value', value: number(t.word('a mark'), 0, U32_MAX, 'mark', t.fail) };
    case 'inet_proto':
      return { kind: 'value', value: number(t.word('a protocol number (sgnf prints numbers)'), 0, 255, 'protocol', t.fail) };
    case 'nf_proto': {
      const w = t.word('ipv4 or ipv6');
      if (w !== 'ipv4' && w !== 'ipv6') t.fail(`"${w}" is not an nfproto`);
      return { kind: 'value', value: w };
    }
    case 'ipv4_addr':
    case 'ipv6_addr': {
      const f = (sel as { family: Family }).family;
      const p = prefix(t.word(`an IPv${f} address or prefix`), f, t.fail);
      if (p.len === 0) t.fail(`${formatPrefix(p)} matches every address (sgnf prints no match instead)`);
      return { kind: 'prefix', prefix: p };
    }
    case 'ether_addr':
      return { kind: 'value', value: mac(t.word('a MAC address'), t.fail) };
    case 'inet_service': {
      const r = range(t.word('a port or range'), 0xffff, 'port', t.fail);
      return { kind: 'range', ...r };
    }
    case 'icmp':
      return { kind: 'value', value: number(t.word('an ICMP type or code number'), 0, 255, 'ICMP type/code', t.fail) };
    case 'ct_state': {
      const states = new Set<CtState>();
      do {
        const w = t.word('a conntrack state');
        const s = CT_STATES[w];
        if (s === undefined) t.fail(`conntrack state "${w}" is not understood`);
        if (states.has(s)) t.fail(`conntrack state "${w}" twice`);
        states.add(s);
      } while (t.accept(','));
      return { kind: 'states', states };
    }
    case 'boolean':
      t.expect('exists', '"exists"');
      return { kind: 'exists' };
  }
}

function parseSource(t: Tokens, deps: Dependencies, target: 'mark' | 'ct_zone'): Source {
  const first = t.peek();
  if (first?.kind === 'word' && /^[0-9]/.test(first.text)) {
    t.word('a value');
    return { kind: 'const', value: target === 'mark' ? number(first.text, 0, U32_MAX, 'mark', t.fail) : number(first.text, 0, 0xffff, 'ct zone', t.fail) };
  }
  const lhs = parseMask(t, parseSelector(t, deps));
  if (t.accept('map')) return { kind: 'map', lhs, map: t.ref('a map') };
  if (target === 'ct_zone' || selectorType(lhs.sel) !== 'mark') t.fail(`a ${target === 'mark' ? 'mark' : 'zone'} cannot be set from ${describeSelector(lhs.sel)}`);
  return { kind: 'expr', lhs };
}

function anonymousVmap(t: Tokens, lhs: Lhs, line: number): NftSet {
  const key = selectorType(lhs.sel);
  if (key !== 'nf_proto' && key !== 'ifname' && key !== 'mark') t.fail(`an anonymous verdict map keyed by ${key} is not understood`);
  // A private map object: the anonymous set nft creates for it.
  const spec = { kind: 'map' as const, key, value: 'verdict' as const, interval: false };
  const set = new NftSet('(anonymous)', spec, line, undefined);
  set.add(parseElements(t, spec, line), t.fail);
  return set;
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/** What conntrack knows about the packet in this pass. */
export interface Conntrack {
  /** What the raw stage attached before conntrack ran: nothing, `notrack`, or a zone template. */
  attached: 'none' | 'untracked' | { readonly zone: number };
  /** The state conntrack gave the packet; undefined until the conntrack hook has run. */
  state: CtState | undefined;
}

export interface EvalContext {
  readonly family: TableFamily;
  readonly packet: Packet;
  readonly iif: string;
  /** rtnl_link_ops kind of the input device; undefined for devices without one. */
  readonly iifKind: string | undefined;
  readonly oif: string | undefined;
  mark: number;
  readonly conntrack: Conntrack;
  /** A named set or map of the table (the interpreter has checked that it exists). */
  readonly set: (name: string) => NftSet;
}

export interface RuleOutcome {
  /** The rule ran to its end (no match failed, no lookup missed). */
  readonly complete: boolean;
  readonly verdict: NftVerdict | undefined;
  /** What its statements did, for the trace. */
  readonly effects: readonly string[];
}

/** IPv6 extension headers: a packet whose protocol is one of these has no upper layer (see top). */
const V6_EXTENSION_HEADERS: ReadonlySet<number> = new Set([0, 43, 44, 51, 60]);

export function l4proto(p: Packet): number | undefined {
  return p.family === 6 && V6_EXTENSION_HEADERS.has(p.protocol) ? undefined : p.protocol;
}

/** The value of a selector for this packet; undefined = the expression breaks the rule. */
function selectorValue(sel: Selector, ctx: EvalContext): KeyValue | boolean | CtState | undefined {
  const p = ctx.packet;
  switch (sel.kind) {
    case 'iifname':
      return ctx.iif;
    case 'oifname':
      return ctx.oif ?? '';
    case 'iifkind':
      return ctx.iifKind;
    case 'mark':
      return ctx.mark;
    case 'l4proto':
      return l4proto(p);
    case 'nfproto':
      return ctx.family === 'inet' ? (p.family === 4 ? 'ipv4' : 'ipv6') : 'bridge';
    case 'nexthdr':
      return p.family === 6 ? p.protocol : undefined;
    case 'etherSaddr':
      return p.srcMac.toLowerCase();
    case 'ctState':
      if (ctx.conntrack.state === undefined) throw new Error('ct state before the conntrack hook is not modelled');
      return ctx.conntrack.state;
    case 'addr':
      return p.family === sel.family ? (sel.field === 'saddr' ? p.src : p.dst) : undefined;
    case 'port': {
      const proto = l4proto(p);
      if (proto === undefined || (sel.protocol !== undefined && proto !== sel.protocol)) return undefined;
      const v = sel.field === 'sport' ? p.srcPort : p.dstPort;
      if (v === undefined) throw new Error(`a protocol ${p.protocol} packet needs srcPort and dstPort for ${describeSelector(sel)}`);
      return v;
    }
    case 'icmp': {
      if (l4proto(p) !== (sel.family === 4 ? 1 : 58)) return undefined;
      const v = sel.field === 'type' ? p.icmpType : p.icmpCode;
      if (v === undefined) throw new Error('an ICMP packet needs icmpType and icmpCode');
      return v;
    }
    case 'exthdr':
      return p.family === 6 && p.protocol === sel.header;
  }
}

function lhsValue(lhs: Lhs, ctx: EvalContext): KeyValue | boolean | CtState | undefined {
  const v = selectorValue(lhs.sel, ctx);
  if (typeof v !== 'number' || (lhs.and === undefined && lhs.or === undefined)) return v;
  return ((v & (lhs.and ?? U32_MAX)) | (lhs.or ?? 0)) >>> 0;
}

function rhsMatches(v: KeyValue | boolean | CtState, rhs: Rhs, family: Family | undefined): boolean {
  switch (rhs.kind) {
    case 'value':
      return v === rhs.value;
    case 'prefix':
      return typeof v === 'bigint' && family !== undefined && containsAddress(rhs.prefix, family, v);
    case 'range':
      return typeof v === 'number' && v >= rhs.min && v <= rhs.max;
    case 'states':
      return rhs.states.has(v as CtState);
    case 'exists':
      return v === true;
  }
}

/** Run one rule: matches and lookups may break it; statements change ctx as they run. */
export function evalRule(rule: NftRule, ctx: EvalContext): RuleOutcome {
  const effects: string[] = [];
  const broken = { complete: false, verdict: undefined, effects };
  for (const item of rule.items) {
    switch (item.kind) {
      case 'match': {
        const v = lhsValue(item.lhs, ctx);
        if (v === undefined) return broken;
        if (rhsMatches(v, item.rhs, ctx.packet.family) === item.negate) return broken;
        break;
      }
      case 'lookup': {
        const v = lhsValue(item.lhs, ctx);
        if (v === undefined || typeof v === 'boolean' || !ctx.set(item.set).lookup(v)) return broken;
        break;
      }
      case 'setMark': {
        const v = sourceValue(item.value, ctx);
        if (v === undefined) return broken;
        ctx.mark = v >>> 0;
        effects.push(`mark ${hex(ctx.mark)}`);
        break;
      }
      case 'setZone': {
        const v = sourceValue(item.value, ctx);
        if (v === undefined) return broken;
        effects.push(setZone(ctx.conntrack, v));
        break;
      }
      case 'notrack':
        effects.push(notrack(ctx.conntrack));
        break;
      case 'counter':
        break;
      case 'verdict':
        return { complete: true, verdict: item.verdict, effects };
      case 'vmap': {
        const v = lhsValue(item.lhs, ctx);
        const map = typeof item.map === 'string' ? ctx.set(item.map) : item.map;
        const e = v === undefined || typeof v === 'boolean' ? undefined : map.lookup(v);
        if (!e) return broken;
        return { complete: true, verdict: e.value as NftVerdict, effects };
      }
    }
  }
  return { complete: true, verdict: undefined, effects };
}

function sourceValue(src: Source, ctx: EvalContext): number | undefined {
  switch (src.kind) {
    case 'const':
      return src.value;
    case 'expr': {
      const v = lhsValue(src.lhs, ctx);
      return typeof v === 'number' ? v : undefined;
    }
    case 'map': {
      const v = lhsValue(src.lhs, ctx);
      if (v === undefined || typeof v === 'boolean') return undefined;
      const e = ctx.set(src.map).lookup(v);
      return e === undefined ? undefined : (e.value as number);
    }
  }
}

function notrack(ct: Conntrack): string {
  if (ct.state !== undefined || ct.attached !== 'none') return 'notrack (no effect: conntrack already attached)';
  ct.attached = 'untracked';
  return 'notrack';
}

function setZone(ct: Conntrack, zone: number): string {
  if (ct.state !== undefined) throw new Error('ct zone set after the conntrack hook is not modelled');
  if (typeof ct.attached === 'object') return `ct zone ${zone} (no effect: template ${ct.attached.zone} attached)`;
  const note = ct.attached === 'untracked' ? ' (replaces the earlier notrack: tracked again)' : '';
  ct.attached = { zone };
  return `ct zone ${zone}${note}`;
}

const hex = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

export function describeSelector(s: Selector): string {
  switch (s.kind) {
    case 'addr':
      return `${s.family === 4 ? 'ip' : 'ip6'} ${s.field}`;
    case 'port':
      return `${s.protocol === undefined ? 'th' : PROTOCOL_NAMES[s.protocol]} ${s.field}`;
    case 'icmp':
      return `${s.family === 4 ? 'icmp' : 'icmpv6'} ${s.field}`;
    case 'exthdr':
      return `exthdr ${s.header}`;
    default:
      return s.kind;
  }
}

/** Every set or map a rule names, with the datatype it looks up and the value type it needs. */
export function setReferences(rule: NftRule): { name: string; key: DataType; use: 'set' | 'mark' | 'ct_zone' | 'verdict' }[] {
  const out: { name: string; key: DataType; use: 'set' | 'mark' | 'ct_zone' | 'verdict' }[] = [];
  for (const item of rule.items) {
    if (item.kind === 'lookup') out.push({ name: item.set, key: selectorType(item.lhs.sel), use: 'set' });
    else if (item.kind === 'vmap' && typeof item.map === 'string') out.push({ name: item.map, key: selectorType(item.lhs.sel), use: 'verdict' });
    else if ((item.kind === 'setMark' || item.kind === 'setZone') && item.value.kind === 'map') {
      out.push({ name: item.value.map, key: selectorType(item.value.lhs.sel), use: item.kind === 'setMark' ? 'mark' : 'ct_zone' });
    }
  }
  return out;
}

/** Every chain a rule can continue in: jump/goto verdicts and the verdicts of anonymous maps. */
export function ruleTargets(rule: NftRule): NftVerdict[] {
  const out: NftVerdict[] = [];
  for (const item of rule.items) {
    if (item.kind === 'verdict') out.push(item.verdict);
    else if (item.kind === 'vmap' && typeof item.map !== 'string') for (const e of item.map.elements()) out.push(e.value as NftVerdict);
  }
  return out;
}

export const usesNotrack = (rule: NftRule): boolean => rule.items.some((i) => i.kind === 'notrack');
export const usesZone = (rule: NftRule): boolean => rule.items.some((i) => i.kind === 'setZone');
