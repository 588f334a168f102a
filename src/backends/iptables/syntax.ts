/**
 * iptables-restore text: tables of chains of rules, printed in the canonical form that
 * iptables-save prints back (so a loaded ruleset can be compared with its source), with only
 * chain declarations and `-A` lines (iptables-nft 1.8.9 crashes on `-I` followed by `-R`).
 */
import { endLines, pushPrefixed } from '../shared/text.js';
import { IPTABLES_CHAIN_NAME_MAX, IPTABLES_COMMENT_MAX } from '../../limits.js';
import type { Family, Prefix } from '../../net/ip.js';
import { formatPrefix } from '../../net/ip.js';
import type { Match } from '../../plan/ir.js';

export interface IptChain {
  readonly name: string;
  /** Built-in chains carry a policy; user chains print `-`. */
  readonly policy?: 'ACCEPT' | 'DROP';
  readonly rules: readonly string[];
}

export interface IptTable {
  readonly name: 'filter' | 'raw';
  /** Built-in chains in hook order, then user chains (sorted by the printer). */
  readonly chains: readonly IptChain[];
}

/** Protocol names iptables knows without /etc/protocols; everything else is printed as a number. */
const PROTOCOL_NAMES: Readonly<Record<number, string>> = {
  1: 'icmp',
  6: 'tcp',
  17: 'udp',
  50: 'esp',
  51: 'ah',
  58: 'ipv6-icmp',
  132: 'sctp',
  136: 'udplite',
};

/** `-p` as sgnf prints it (and iptables-save prints back on any host). */
export const protocolText = (protocol: number): string => PROTOCOL_NAMES[protocol] ?? String(protocol);
/**
 * IPv6 extension headers: ip6tables' `-p` sees only the upper-layer protocol behind them, so
 * `-p 43` never matches ("never matched protocol"; Neutron emitted such dead rules). A rule for
 * one of these protocols means "the packet carries this header": the ipv6header match says so.
 */
const IPV6_EXTENSION_HEADERS: Readonly<Record<number, string>> = {
  43: 'ipv6-route',
  44: 'ipv6-frag',
  51: 'ah',
  59: 'ipv6-nonxt',
  60: 'ipv6-opts',
};
/** Protocols with a port match module of their own name. */
const PORT_MODULES: Readonly<Record<number, string>> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };

export function checkChainName(name: string): string {
  if (name.length > IPTABLES_CHAIN_NAME_MAX) throw new Error(`chain name ${name} exceeds ${IPTABLES_CHAIN_NAME_MAX} characters`);
  return name;
}

/** A double-quoted comment; its text is built from fixed strings and validated ids only. */
export function comment(text: string): string {
  if (text.length > IPTABLES_COMMENT_MAX) throw new Error(`comment exceeds ${IPTABLES_COMMENT_MAX} characters: ${text}`);
  if (!/^[\x20-\x7e]*$/.test(text) || /["\\]/.test(text)) throw new Error(`comment has characters that need quoting: ${text}`);
  return `-m comment --comment "${text}"`;
}

/** `-s`/`-d` and the prefix, as iptables-save prints it; nothing for /0 (any address). */
export const addressMatch = (flag: '-s' | '-d', p: Prefix): string => (p.len > 0 ? `${flag} ${formatPrefix(p)}` : '');

const range = (r: { min: number; max: number }): string => (r.min === r.max ? `${r.min}` : `${r.min}:${r.max}`);

/**
 * Render matches in iptables-save order: -s, -d, -p, then match modules in the order given.
 * `setName` maps a plan set reference to its ipset name.
 */
export function renderMatches(matches: readonly Match[], family: Family, setName: (m: Extract<Match, { kind: 'set' }>) => string): string[] {
  const out: string[] = [];
  const src = matches.find((m) => m.kind === 'src');
  const dst = matches.find((m) => m.kind === 'dst');
  const proto = matches.find((m) => m.kind === 'protocol');
  if (src && src.prefix.len > 0) out.push(addressMatch('-s', src.prefix));
  if (dst && dst.prefix.len > 0) out.push(addressMatch('-d', dst.prefix));
  const extHeader = family === 6 && proto ? IPV6_EXTENSION_HEADERS[proto.protocol] : undefined;
  if (proto && extHeader === undefined) out.push(`-p ${protocolText(proto.protocol)}`);
  const sport = matches.find((m) => m.kind === 'srcPort');
  const dport = matches.find((m) => m.kind === 'dstPort');
  if (sport || dport) {
    const p = proto?.protocol;
    const module = p === undefined ? undefined : PORT_MODULES[p];
    if (module) {
      out.push(`-m ${module}` + (sport ? ` --sport ${range(sport.range)}` : '') + (dport ? ` --dport ${range(dport.range)}` : ''));
    } else {
      // udplite and dccp have no module of their own: multiport matches them.
      if (sport) out.push(`-m multiport --sports ${range(sport.range)}`);
      if (dport) out.push(`-m multiport --dports ${range(dport.range)}`);
    }
  }
  if (extHeader !== undefined) out.push(`-m ipv6header --header ${extHeader} --soft`);
  for (const m of matches) {
    switch (m.kind) {
      case 'icmp': {
        const t = m.code === undefined ? `${m.type}` : `${m.type}/${m.code}`;
        out.push(family === 4 ? `-m icmp --icmp-type ${t}` : `-m icmp6 --icmpv6-type ${t}`);
        break;
      }
      case 'set':
        out.push(`-m set --match-set ${setName(m)} ${m.dir}`);
        break;
      case 'srcMac':
        out.push(`-m mac --mac-source ${m.mac}`);
        break;
      case 'ctState':
        out.push(`-m conntrack --ctstate ${m.states.join(',')}`);
        break;
      default:
        break;
    }
  }
  return out;
}

export function printTables(tables: readonly IptTable[], header: string): string {
  const lines: string[] = [header];
  for (const t of tables) {
    const builtins = t.chains.filter((c) => c.policy !== undefined);
    // User chains in byte order of their names (as iptables-save lists them). Names are ASCII,
    // so the default string sort is that order, and it needs no comparator calls.
    const byName = new Map(t.chains.filter((c) => c.policy === undefined).map((c) => [c.name, c]));
    const users = [...byName.keys()].sort().map((n) => byName.get(n)!);
    if (users.length + builtins.length !== t.chains.length) throw new Error(`table ${t.name} has two chains of one name`);
    const chains = [...builtins, ...users];
    lines.push(`*${t.name}`);
    for (const c of chains) lines.push(`:${checkChainName(c.name)} ${c.policy ?? '-'} [0:0]`);
    for (const c of chains) {
      // An empty rule prints as a bare `-A name`.
      if (c.rules.includes('')) for (const r of c.rules) lines.push(r === '' ? `-A ${c.name}` : `-A ${c.name} ${r}`);
      else pushPrefixed(lines, `-A ${c.name} `, c.rules);
    }
    lines.push('COMMIT');
  }
  return endLines(lines);
}

export function countRules(tables: readonly IptTable[]): number {
  let n = 0;
  for (const t of tables) for (const c of t.chains) n += c.rules.length;
  return n;
}
