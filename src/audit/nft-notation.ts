/**
 * One notation for nft rules, hooks and elements, whoever wrote them: `nft list ruleset` prints
 * what the kernel holds in its own words, which differ from what sgnf writes (backends/nft/) in
 * notation only. Both sides are read through these functions before they are compared, so a
 * difference that remains is a real one. What nft 1.0.6 rewrites (found by loading every golden
 * output and listing it, test/kernel/audit.test.ts):
 *
 * - hook priorities by name, per family and with offsets (`dstnat`, `filter + 5`): numbers here;
 * - ICMP and ICMPv6 types and codes by name (`echo-request`, `no-route`): numbers here;
 * - protocols by their /etc/protocols name (`meta l4proto gre`, `ip6 nexthdr ah`): numbers;
 * - conntrack states in the kernel's bit order (`established,related`): that order here;
 * - `mark & 0xffff0000 @set` lists as `mark & 0xffff0000 == @set`: the implicit `==` dropped;
 * - `meta mark set meta mark & M | V` lists with M | V as the mask (the same value: the bits of
 *   V are set either way): the mask without V's bits here.
 *
 * Text inside double quotes (interface names, comments) is never touched.
 */
import { badLine, shown } from './dumps.js';
import { protocolNumber } from './protocols.js';

/** Standard priority names (nft 1.0.6, `nft describe` / the manual's priority table). */
const PRIORITIES: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  bridge: { dstnat: -300, filter: -200, out: 100, srcnat: 300 },
  other: { raw: -300, mangle: -150, dstnat: -100, filter: 0, security: 50, srcnat: 100 },
};

/** `type filter hook forward priority filter + 5; policy accept;` with the priority as a number. */
export function canonicalHook(line: string, family: string, file: string, lineNo: number): string {
  const m = /^type (\S+) hook (\S+)((?: device "[^"]*")?) priority ([^;]+); policy (\S+);$/.exec(line);
  if (!m) return line;
  const [, type, hook, device, priority, policy] = m as unknown as [string, string, string, string, string, string];
  const p = /^(-?\d+)$|^([a-z]+)(?: ([+-]) (\d+))?$/.exec(priority);
  if (!p) badLine(file, lineNo, `not a chain priority: ${shown(priority)}`);
  let value: number;
  if (p[1] !== undefined) value = Number(p[1]);
  else {
    const base = (family === 'bridge' ? PRIORITIES['bridge']! : PRIORITIES['other']!)[p[2]!];
    if (base === undefined) badLine(file, lineNo, `unknown priority name ${shown(p[2]!)} in the ${family} family`);
    value = base + (p[3] === undefined ? 0 : (p[3] === '+' ? 1 : -1) * Number(p[4]));
  }
  return `type ${type} hook ${hook}${device} priority ${value}; policy ${policy};`;
}

const ICMP_TYPES: Readonly<Record<string, number>> = {
  'echo-reply': 0,
  'destination-unreachable': 3,
  'source-quench': 4,
  redirect: 5,
  'echo-request': 8,
  'router-advertisement': 9,
  'router-solicitation': 10,
  'time-exceeded': 11,
  'parameter-problem': 12,
  'timestamp-request': 13,
  'timestamp-reply': 14,
  'info-request': 15,
  'info-reply': 16,
  'address-mask-request': 17,
  'address-mask-reply': 18,
};
const ICMPV6_TYPES: Readonly<Record<string, number>> = {
  'destination-unreachable': 1,
  'packet-too-big': 2,
  'time-exceeded': 3,
  'parameter-problem': 4,
  'echo-request': 128,
  'echo-reply': 129,
  'mld-listener-query': 130,
  'mld-listener-report': 131,
  'mld-listener-done': 132,
  'mld-listener-reduction': 132,
  'nd-router-solicit': 133,
  'nd-router-advert': 134,
  'nd-neighbor-solicit': 135,
  'nd-neighbor-advert': 136,
  'nd-redirect': 137,
  'router-renumbering': 138,
  'ind-neighbor-solicit': 141,
  'ind-neighbor-advert': 142,
  'mld2-listener-report': 143,
};
const ICMP_CODES: Readonly<Record<string, number>> = {
  'net-unreachable': 0,
  'host-unreachable': 1,
  'prot-unreachable': 2,
  'port-unreachable': 3,
  'frag-needed': 4,
  'net-prohibited': 9,
  'host-prohibited': 10,
  'admin-prohibited': 13,
};
const ICMPV6_CODES: Readonly<Record<string, number>> = {
  'no-route': 0,
  'admin-prohibited': 1,
  'addr-unreachable': 3,
  'port-unreachable': 4,
  'policy-fail': 5,
  'reject-route': 6,
};
const SYMBOLS: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  'icmp type': ICMP_TYPES,
  'icmp code': ICMP_CODES,
  'icmpv6 type': ICMPV6_TYPES,
  'icmpv6 code': ICMPV6_CODES,
};

/** Conntrack states in the order of their bits (how nft lists them). */
const CT_STATE_ORDER = ['invalid', 'established', 'related', 'new', 'untracked'];

/** Nothing in a rule that could need rewriting: most of sgnf's rules. */
const PLAIN = /icmp|l4proto|nexthdr|protocol|ct state [a-z]+,|== @|mark set meta mark &/;

/** A rule in the one notation. */
export function canonicalRule(rule: string): string {
  if (!PLAIN.test(rule)) return rule;
  if (!rule.includes('"')) return canonicalWords(rule);
  // Only outside strings: the even parts of a split at the quotes.
  const parts = rule.split('"');
  for (let i = 0; i < parts.length; i += 2) parts[i] = canonicalWords(parts[i]!);
  return parts.join('"');
}

function canonicalWords(s: string): string {
  return s
    .replace(/\b(icmp|icmpv6) (type|code) ([a-z][a-z0-9-]*)\b/g, (all, h: string, f: string, name: string) => {
      const n = SYMBOLS[`${h} ${f}`]![name];
      return n === undefined ? all : `${h} ${f} ${n}`;
    })
    .replace(/\b(meta l4proto|ip6 nexthdr|ip protocol) ([a-z][a-z0-9.-]*)\b/g, (all, k: string, name: string) => {
      const n = protocolNumber(name);
      return n === undefined ? all : `${k} ${n}`;
    })
    .replace(/\bct state ([a-z]+(?:,[a-z]+)+)/g, (all, list: string) => {
      const states = list.split(',');
      if (!states.every((x) => CT_STATE_ORDER.includes(x))) return all;
      return `ct state ${states.sort((a, b) => CT_STATE_ORDER.indexOf(a) - CT_STATE_ORDER.indexOf(b)).join(',')}`;
    })
    .replace(/ == @/g, ' @')
    .replace(/\bmeta mark set meta mark & 0x([0-9a-f]{8}) \| 0x([0-9a-f]{8})\b/g, (_all, m: string, v: string) => {
      const value = parseInt(v, 16);
      const mask = (parseInt(m, 16) & ~value) >>> 0;
      return `meta mark set meta mark & 0x${mask.toString(16).padStart(8, '0')} | 0x${v}`;
    });
}

/** A set or map declaration line (`type ipv4_addr`, `flags interval`): as listed. */
export function canonicalSpec(line: string): string {
  return line;
}

/** A set or map element: as listed (sgnf writes elements as nft prints them). */
export function canonicalElement(element: string): string {
  return element;
}
