/**
 * A strict interpreter for the `iptables-restore` text sgnf emits (one family per file).
 *
 * parseIptables() turns the text into tables, chains and typed rules, refusing (with the line
 * number) everything it does not understand and everything the tools or the kernel would
 * refuse: an unknown option or module, a rule before its chain is declared, a jump to an
 * undeclared chain, a set that does not exist or has the other family, a jump loop, a table
 * without COMMIT, a whitespace-only line, a name over the kernel limits, a match used where the
 * kernel forbids it. It also insists on the canonical `iptables-save` form (option order,
 * `-s` with its length, lower-case MACs), because sgnf promises that form.
 *
 * traverse() then walks a packet through a built-in chain as ipt_do_table does: -j pushes a
 * return point, -g does not, RETURN and falling off a user chain pop, an empty stack means the
 * built-in chain's policy, and `-j CT` continues (only the first CT target attaches a template).
 */
import { IFNAME_MAX, IPTABLES_CHAIN_NAME_MAX, IPTABLES_COMMENT_MAX } from '../../../src/limits.js';
import { type Family, type Prefix, containsAddress, formatPrefix, parseMac, parsePrefix } from '../../../src/net/ip.js';
import { type IpsetState, RulesetError, splitLines } from './ipset.js';
import type { CtState, Packet } from '../../../src/semantics/packet.js';

export type TableName = 'filter' | 'raw';
export type Hook = 'PREROUTING' | 'INPUT' | 'FORWARD' | 'OUTPUT';

/** Built-in chains of each table, in hook order (they are also the hooks). */
export const BUILTIN_CHAINS: Readonly<Record<TableName, readonly Hook[]>> = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  raw: ['PREROUTING', 'OUTPUT'],
};

export interface PortRange {
  readonly min: number;
  readonly max: number;
}

export type RuleMatch =
  | { readonly kind: 'src' | 'dst'; readonly prefix: Prefix }
  | { readonly kind: 'in'; readonly name: string }
  | { readonly kind: 'protocol'; readonly protocol: number }
  /** -m tcp / udp / sctp. */
  | { readonly kind: 'ports'; readonly sport: PortRange | undefined; readonly dport: PortRange | undefined }
  | { readonly kind: 'multiport'; readonly dir: 'src' | 'dst'; readonly ranges: readonly PortRange[] }
  /** -m icmp (IPv4, type 255 = any) or -m icmp6. */
  | { readonly kind: 'icmp'; readonly family: Family; readonly type: number; readonly codeMin: number; readonly codeMax: number }
  | { readonly kind: 'set'; readonly set: string; readonly dir: 'src' | 'dst' }
  | { readonly kind: 'mac'; readonly mac: string }
  | { readonly kind: 'ctstate'; readonly states: ReadonlySet<CtState> }
  | { readonly kind: 'physdev'; readonly in: string | undefined; readonly out: string | undefined; readonly bridged: boolean }
  /** -m ipv6header --header H[,H...] --soft: the packet carries one of these extension headers. */
  | { readonly kind: 'ipv6header'; readonly headers: ReadonlySet<number> }
  | { readonly kind: 'comment'; readonly text: string };

export type Target =
  | { readonly kind: 'ACCEPT' | 'DROP' | 'RETURN' }
  | { readonly kind: 'jump' | 'goto'; readonly chain: string }
  | { readonly kind: 'notrack' }
  | { readonly kind: 'zone'; readonly zone: number };

export interface IptRule {
  /** 1-based line in the file. */
  readonly line: number;
  readonly chain: string;
  /** The rule without `-A CHAIN `. */
  readonly text: string;
  readonly matches: readonly RuleMatch[];
  readonly target: Target;
}

export interface IptChain {
  readonly name: string;
  /** Built-in chains only. */
  readonly policy: 'ACCEPT' | 'DROP' | undefined;
  readonly rules: IptRule[];
}

export interface IptTable {
  readonly name: TableName;
  readonly chains: ReadonlyMap<string, IptChain>;
  /** The hooks from which each chain can be reached. */
  readonly hooks: ReadonlyMap<string, ReadonlySet<Hook>>;
}

export interface IptRuleset {
  readonly family: Family;
  readonly file: string;
  readonly tables: ReadonlyMap<TableName, IptTable>;
}

/** Protocol names iptables resolves without /etc/protocols (libxtables' built-in list). */
const PROTOCOLS: Readonly<Record<string, number>> = {
  tcp: 6,
  udp: 17,
  udplite: 136,
  icmp: 1,
  icmpv6: 58,
  'ipv6-icmp': 58,
  esp: 50,
  ah: 51,
  sctp: 132,
  mh: 135,
};
const PORT_MODULES: Readonly<Record<string, number>> = { tcp: 6, udp: 17, sctp: 132 };
/** Protocols the multiport match accepts (xt_multiport check). */
const MULTIPORT_PROTOCOLS: ReadonlySet<number> = new Set([6, 17, 33, 132, 136]);
const MULTIPORT_MAX = 15;
/**
 * IPv6 extension headers (ipv6_ext_hdr()): ip6tables' `-p` skips them and compares the
 * upper-layer protocol, so `-p 43` never matches; only -m ipv6header sees them.
 */
const IPV6_EXTENSION_HEADERS: Readonly<Record<string, number>> = {
  'hop-by-hop': 0,
  'ipv6-route': 43,
  'ipv6-frag': 44,
  ah: 51,
  'ipv6-nonxt': 59,
  'ipv6-opts': 60,
};
const IPV6_EXTENSION_NUMBERS: ReadonlySet<number> = new Set(Object.values(IPV6_EXTENSION_HEADERS));
/** conntrack --ctstate in iptables-save order (the order of the state bits). */
const CT_STATES: readonly CtState[] = ['INVALID', 'NEW', 'RELATED', 'ESTABLISHED', 'UNTRACKED'];
/** xt_mac may be used only where a source MAC exists. */
const MAC_HOOKS: ReadonlySet<Hook> = new Set(['PREROUTING', 'INPUT', 'FORWARD']);

const CHAIN_NAME = /^[A-Za-z0-9_.:][A-Za-z0-9_.:-]*$/;
const IF_NAME = /^[A-Za-z0-9_.-]+$/;
export const STANDARD_TARGETS: ReadonlySet<string> = new Set(['ACCEPT', 'DROP', 'RETURN', 'QUEUE', 'CT', 'NOTRACK', 'REJECT', 'LOG']);

// ---------------------------------------------------------------------------------------------
// Parsing

/** Parse one iptables-restore file of `family`, resolving `-m set` against `sets`. */
export function parseIptables(text: string, family: Family, sets: IpsetState, file = `iptables.v${family}`): IptRuleset {
  const tables = new Map<TableName, IptTable>();
  let current: { name: TableName; chains: Map<string, IptChain>; start: number } | undefined;

  splitLines(text, file).forEach((line, i) => {
    const n = i + 1;
    const fail = (message: string): never => {
      throw new RulesetError(file, n, message);
    };
    if (line === '' || line.startsWith('#')) return;
    if (line.startsWith('*')) {
      if (current) fail(`table ${line.slice(1)} starts before COMMIT of table ${current.name}`);
      const name = line.slice(1);
      if (name !== 'filter' && name !== 'raw') fail(`table "${name}" is not understood (only filter and raw)`);
      if (tables.has(name as TableName)) fail(`table ${name} appears twice`);
      current = { name: name as TableName, chains: new Map(), start: n };
      return;
    }
    if (!current) return fail('a line outside a table (no *table before it)');
    if (line === 'COMMIT') {
      tables.set(current.name, finishTable(current.name, current.chains, file, current.start));
      current = undefined;
      return;
    }
    if (line.startsWith(':')) return declareChain(current.name, current.chains, line, fail);
    if (line.startsWith('-A ')) {
      const rule = parseRule(line, n, { table: current.name, chains: current.chains, family, sets }, fail);
      current.chains.get(rule.chain)!.rules.push(rule);
      return;
    }
    return fail(`not understood: "${line.slice(0, 40)}" (only *table, :chain, -A and COMMIT lines)`);
  });
  if (current) throw new RulesetError(file, current.start, `COMMIT expected: table ${current.name} is not committed`);
  return { family, file, tables };
}

function declareChain(table: TableName, chains: Map<string, IptChain>, line: string, fail: (m: string) => never): void {
  const m = /^:(\S+) (\S+)(?: \[([0-9]+):([0-9]+)\])?$/.exec(line);
  if (!m) return fail('a chain declaration is ":NAME POLICY [packets:bytes]"');
  const [, name, policy] = m as unknown as [string, string, string];
  checkChainName(name, fail);
  if (chains.has(name)) fail(`chain ${name} is declared twice`);
  const builtin = (BUILTIN_CHAINS[table] as readonly string[]).includes(name);
  if (builtin && policy !== 'ACCEPT' && policy !== 'DROP') fail(`built-in chain ${name} needs a policy ACCEPT or DROP, not "${policy}"`);
  if (!builtin && policy !== '-') fail(`user chain ${name} must have "-" as policy, not "${policy}"`);
  if (!builtin && STANDARD_TARGETS.has(name)) fail(`${name} is a target name, not a chain name`);
  chains.set(name, { name, policy: builtin ? (policy as 'ACCEPT' | 'DROP') : undefined, rules: [] });
}

export function checkChainName(name: string, fail: (m: string) => never): void {
  if (!CHAIN_NAME.test(name)) fail(`"${name}" is not a valid chain name`);
  if (name.length > IPTABLES_CHAIN_NAME_MAX) fail(`chain name ${name} is longer than ${IPTABLES_CHAIN_NAME_MAX} characters`);
}

function checkIfName(name: string, fail: (m: string) => never): string {
  if (!IF_NAME.test(name)) fail(`"${name}" is not an interface name this interpreter understands (no wildcards)`);
  if (name.length > IFNAME_MAX) fail(`interface name ${name} is longer than ${IFNAME_MAX} characters`);
  return name;
}

/**
 * Words of a rule line: separated by single spaces; a word may be double-quoted (with \" and \\
 * escapes, as iptables-restore reads it).
 */
export function tokenize(line: string, fail: (m: string) => never): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    if (line[i] === ' ') fail(`extra space at column ${i + 1}`);
    let word = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) fail('unterminated quote');
        const c = line[i]!;
        if (c === '\\') {
          const next = line[i + 1];
          if (next !== '"' && next !== '\\') fail(`unknown escape \\${next ?? ''}`);
          word += next;
          i += 2;
        } else if (c === '"') {
          i++;
          break;
        } else {
          word += c;
          i++;
        }
      }
      if (i < line.length && line[i] !== ' ') fail(`text after a closing quote at column ${i + 1}`);
    } else {
      while (i < line.length && line[i] !== ' ') {
        if (line[i] === '"' || line[i] === "'" || line[i] === '\\') fail(`quote or backslash inside a word at column ${i + 1}`);
        word += line[i];
        i++;
      }
    }
    out.push(word);
    if (i < line.length) {
      i++; // the separating space
      if (i === line.length) fail('trailing space');
    }
  }
  return out;
}

export interface RuleContext {
  readonly table: TableName;
  readonly chains: ReadonlyMap<string, IptChain>;
  readonly family: Family;
  readonly sets: IpsetState;
}

/** Canonical order of the basic options, as iptables-save prints them. */
const BASIC_OPTIONS = ['-s', '-d', '-i', '-p'] as const;

export function parseRule(line: string, n: number, ctx: RuleContext, fail: (m: string) => never): IptRule {
  const words = tokenize(line, fail);
  const chain = words[1] ?? fail('-A needs a chain');
  if (!ctx.chains.has(chain)) fail(`chain ${chain} is not declared`);
  const text = line.slice(3 + chain.length + 1);
  let i = 2;
  const next = (what: string): string => words[i++] ?? fail(`${what} needs a value`);
  const matches: RuleMatch[] = [];
  let lastBasic = -1;
  let protocol: number | undefined;
  let target: Target | undefined;

  while (i < words.length) {
    const w = words[i++]!;
    if (target) fail(`"${w}" after the target`);
    if (w === '!') fail('negation is not understood');
    const basic = (BASIC_OPTIONS as readonly string[]).indexOf(w);
    if (basic >= 0) {
      if (basic <= lastBasic) fail(`${w} out of order or repeated (iptables-save order: ${BASIC_OPTIONS.join(' ')}, then -m)`);
      if (matches.some((m) => !['src', 'dst', 'in', 'protocol'].includes(m.kind))) fail(`${w} after a match module`);
      lastBasic = basic;
      const v = next(w);
      if (w === '-s' || w === '-d') matches.push({ kind: w === '-s' ? 'src' : 'dst', prefix: parseAddressMatch(v, ctx.family, fail) });
      else if (w === '-i') matches.push({ kind: 'in', name: checkIfName(v, fail) });
      else {
        protocol = parseProtocol(v, fail);
        matches.push({ kind: 'protocol', protocol });
      }
      continue;
    }
    if (w === '-m') {
      const module = next('-m');
      const opts: [string, string[]][] = [];
      while (i < words.length && words[i]!.startsWith('--')) {
        const opt = words[i++]!;
        const arity = OPTION_ARITY[`${module} ${opt}`] ?? fail(`option ${opt} of -m ${module} is not understood`);
        const args: string[] = [];
        for (let k = 0; k < arity; k++) args.push(next(opt));
        if (opts.some(([o]) => o === opt)) fail(`${opt} given twice`);
        opts.push([opt, args]);
      }
      matches.push(parseModule(module, opts, { ...ctx, protocol }, fail));
      continue;
    }
    if (w === '-j' || w === '-g') {
      const name = next(w);
      if (w === '-g' || !['ACCEPT', 'DROP', 'RETURN', 'CT'].includes(name)) {
        const c = ctx.chains.get(name) ?? fail(`${w} ${name}: chain not declared (before this line)`);
        if (c.policy !== undefined) fail(`${w} ${name}: cannot jump to a built-in chain`);
        target = { kind: w === '-j' ? 'jump' : 'goto', chain: name };
      } else if (name === 'CT') {
        if (ctx.table !== 'raw') fail('-j CT is only valid in the raw table');
        const opt = next('-j CT');
        if (opt === '--notrack') target = { kind: 'notrack' };
        else if (opt === '--zone') target = { kind: 'zone', zone: parseNumber(next('--zone'), 0, 65535, 'zone', fail) };
        else fail(`-j CT option ${opt} is not understood`);
      } else target = { kind: name as 'ACCEPT' | 'DROP' | 'RETURN' };
      continue;
    }
    fail(`"${w}" is not understood`);
  }
  if (!target) fail('a rule without -j or -g');
  return { line: n, chain, text, matches, target: target! };
}

const OPTION_ARITY: Readonly<Record<string, number>> = {
  'tcp --sport': 1,
  'tcp --dport': 1,
  'udp --sport': 1,
  'udp --dport': 1,
  'sctp --sport': 1,
  'sctp --dport': 1,
  'multiport --sports': 1,
  'multiport --dports': 1,
  'icmp --icmp-type': 1,
  'icmp6 --icmpv6-type': 1,
  'set --match-set': 2,
  'mac --mac-source': 1,
  'conntrack --ctstate': 1,
  'physdev --physdev-in': 1,
  'physdev --physdev-out': 1,
  'physdev --physdev-is-bridged': 0,
  'comment --comment': 1,
  'ipv6header --header': 1,
  'ipv6header --soft': 0,
};

function parseModule(
  module: string,
  opts: [string, string[]][],
  ctx: RuleContext & { protocol: number | undefined },
  fail: (m: string) => never,
): RuleMatch {
  const opt = (name: string): string[] | undefined => opts.find(([o]) => o === name)?.[1];
  const needProtocol = (p: number, what: string): void => {
    if (ctx.protocol !== p) fail(`${what} needs "-p ${Object.keys(PROTOCOLS).find((k) => PROTOCOLS[k] === p) ?? p}" before it`);
  };
  switch (module) {
    case 'tcp':
    case 'udp':
    case 'sctp': {
      needProtocol(PORT_MODULES[module]!, `-m ${module}`);
      const s = opt('--sport');
      const d = opt('--dport');
      return { kind: 'ports', sport: s && parseRange(s[0]!, fail), dport: d && parseRange(d[0]!, fail) };
    }
    case 'multiport': {
      if (ctx.protocol === undefined || !MULTIPORT_PROTOCOLS.has(ctx.protocol)) fail('-m multiport needs -p tcp, udp, udplite, sctp or dccp');
      if (opts.length !== 1) fail('-m multiport takes exactly one of --sports, --dports');
      const [o, [list]] = opts[0]! as [string, [string]];
      const ranges = list.split(',').map((r) => parseRange(r, fail));
      if (ranges.reduce((k, r) => k + (r.min === r.max ? 1 : 2), 0) > MULTIPORT_MAX) fail(`-m multiport holds at most ${MULTIPORT_MAX} ports`);
      return { kind: 'multiport', dir: o === '--sports' ? 'src' : 'dst', ranges };
    }
    case 'icmp':
    case 'icmp6': {
      const family: Family = module === 'icmp' ? 4 : 6;
      if (ctx.family !== family) fail(`-m ${module} is not available in IPv${ctx.family}`);
      needProtocol(family === 4 ? 1 : 58, `-m ${module}`);
      const v = (opt(family === 4 ? '--icmp-type' : '--icmpv6-type') ?? fail(`-m ${module} needs a type`))[0]!;
      const m = /^([0-9]+)(?:\/([0-9]+))?$/.exec(v) ?? fail(`ICMP type "${v}" (numbers T or T/C only)`);
      const type = parseNumber(m[1]!, 0, 255, 'ICMP type', fail);
      const code = m[2] === undefined ? undefined : parseNumber(m[2], 0, 255, 'ICMP code', fail);
      return { kind: 'icmp', family, type, codeMin: code ?? 0, codeMax: code ?? 255 };
    }
    case 'set': {
      const [name, dir] = (opt('--match-set') ?? fail('-m set needs --match-set'))! as [string, string];
      if (dir !== 'src' && dir !== 'dst') fail(`--match-set direction "${dir}" (src or dst)`);
      const set = ctx.sets.get(name) ?? fail(`set ${name} does not exist`);
      if (set.header.family !== ctx.family) fail(`set ${name} is IPv${set.header.family}, not applicable in IPv${ctx.family}`);
      return { kind: 'set', set: name, dir: dir as 'src' | 'dst' };
    }
    case 'mac': {
      const v = (opt('--mac-source') ?? fail('-m mac needs --mac-source'))[0]!;
      const mac = parseMac(v);
      if (mac === undefined || mac !== v) fail(`MAC "${v}" (lower case, colon separated)`);
      return { kind: 'mac', mac: mac! };
    }
    case 'conntrack': {
      const v = (opt('--ctstate') ?? fail('-m conntrack needs --ctstate'))[0]!;
      const states = v.split(',') as CtState[];
      for (const s of states) if (!CT_STATES.includes(s)) fail(`conntrack state "${s}" is not understood`);
      const canonical = CT_STATES.filter((s) => states.includes(s));
      if (canonical.join(',') !== v) fail(`--ctstate ${v} is not in iptables-save form (${canonical.join(',')})`);
      return { kind: 'ctstate', states: new Set(states) };
    }
    case 'physdev': {
      const pin = opt('--physdev-in');
      const pout = opt('--physdev-out');
      const bridged = opt('--physdev-is-bridged') !== undefined;
      if (!pin && !pout && !bridged) fail('-m physdev without options');
      const order = opts.map(([o]) => o).join(' ');
      const want = ['--physdev-in', '--physdev-out', '--physdev-is-bridged'].filter((o) => opt(o) !== undefined).join(' ');
      if (order !== want) fail(`-m physdev options out of iptables-save order (${want})`);
      return { kind: 'physdev', in: pin && checkIfName(pin[0]!, fail), out: pout && checkIfName(pout[0]!, fail), bridged };
    }
    case 'ipv6header': {
      if (ctx.family !== 6) fail('-m ipv6header is only available in IPv6');
      if (opt('--soft') === undefined) fail('-m ipv6header without --soft (exact header lists are not understood)');
      const v = (opt('--header') ?? fail('-m ipv6header needs --header'))[0]!;
      const headers = v.split(',').map((h) => IPV6_EXTENSION_HEADERS[h] ?? fail(`IPv6 extension header "${h}" is not understood`));
      if (opts[0]![0] !== '--header') fail('-m ipv6header options out of iptables-save order (--header, --soft)');
      return { kind: 'ipv6header', headers: new Set(headers) };
    }
    case 'comment': {
      const v = (opt('--comment') ?? fail('-m comment needs --comment'))[0]!;
      if (v.length > IPTABLES_COMMENT_MAX) fail(`comment longer than ${IPTABLES_COMMENT_MAX} characters (the kernel would truncate it)`);
      if (!/^[\x20-\x7e]*$/.test(v)) fail('comment with a non-printable character');
      return { kind: 'comment', text: v };
    }
    default:
      return fail(`match module "${module}" is not understood`);
  }
}

function parseNumber(text: string, min: number, max: number, what: string, fail: (m: string) => never): number {
  if (!/^(0|[1-9][0-9]*)$/.test(text)) fail(`${what} "${text}" is not a number`);
  const v = Number(text);
  if (v < min || v > max) fail(`${what} ${v} is outside ${min} to ${max}`);
  return v;
}

/** `N` or `N:M` with N < M, as iptables-save prints port ranges. */
function parseRange(text: string, fail: (m: string) => never): PortRange {
  const [a, b, ...rest] = text.split(':');
  if (rest.length > 0 || a === undefined) fail(`port range "${text}"`);
  const min = parseNumber(a!, 0, 65535, 'port', fail);
  const max = b === undefined ? min : parseNumber(b, 0, 65535, 'port', fail);
  if (b !== undefined && min >= max) fail(`port range ${text} is not in iptables-save form (N or N:M with N < M)`);
  if (min === 0 && max === 65535) fail('port range 0:65535 matches every port (iptables-save drops it)');
  return { min, max };
}

function parseProtocol(v: string, fail: (m: string) => never): number {
  const named = PROTOCOLS[v];
  if (named !== undefined) return named;
  if (/^[0-9]+$/.test(v)) {
    const p = parseNumber(v, 0, 255, 'protocol', fail);
    if (p === 0) fail('-p 0 means any protocol (iptables-save prints no -p)');
    return p;
  }
  return fail(`protocol "${v}" is not understood (a number or one of ${Object.keys(PROTOCOLS).join(', ')})`);
}

/** `-s`/`-d`: a network of the file's family with its length, in canonical form. */
function parseAddressMatch(v: string, family: Family, fail: (m: string) => never): Prefix {
  if (!v.includes('/')) fail(`${v} has no prefix length (iptables-save prints one)`);
  const p = parsePrefix(v);
  if (typeof p === 'string') return fail(p);
  if (p.prefix.family !== family) fail(`${v} is an IPv${p.prefix.family} address in an IPv${family} file`);
  if (p.prefix.len === 0) fail(`${v} matches everything (iptables-save prints no address)`);
  const canonical = formatPrefix(p.prefix);
  if (canonical !== v) fail(`${v} is not in canonical form (${canonical})`);
  return p.prefix;
}

/** Checks that need the whole table: built-ins declared, no loops, matches used at allowed hooks. */
export function finishTable(name: TableName, chains: Map<string, IptChain>, file: string, start: number): IptTable {
  for (const b of BUILTIN_CHAINS[name]) {
    if (!chains.has(b)) throw new RulesetError(file, start, `built-in chain ${b} of table ${name} is not declared`);
  }
  checkLoops(chains, file);
  const hooks = reachingHooks(name, chains);
  for (const chain of chains.values()) {
    const from = hooks.get(chain.name)!;
    for (const r of chain.rules) {
      for (const m of r.matches) {
        if (m.kind === 'mac' && [...from].some((h) => !MAC_HOOKS.has(h))) {
          throw new RulesetError(file, r.line, `-m mac in chain ${chain.name}, which is reachable from ${[...from].join(', ')} (only PREROUTING, INPUT, FORWARD)`);
        }
        if (m.kind === 'physdev' && m.out !== undefined && !m.bridged && from.has('OUTPUT')) {
          throw new RulesetError(file, r.line, '--physdev-out without --physdev-is-bridged is refused by the kernel in chains reachable from OUTPUT');
        }
      }
    }
  }
  return { name, chains, hooks };
}

function checkLoops(chains: ReadonlyMap<string, IptChain>, file: string): void {
  const state = new Map<string, 'active' | 'done'>();
  const visit = (c: IptChain, via: IptRule | undefined): void => {
    const s = state.get(c.name);
    if (s === 'done') return;
    if (s === 'active') throw new RulesetError(file, via!.line, `jump loop through chain ${c.name}`);
    state.set(c.name, 'active');
    for (const r of c.rules) if (r.target.kind === 'jump' || r.target.kind === 'goto') visit(chains.get(r.target.chain)!, r);
    state.set(c.name, 'done');
  };
  for (const c of chains.values()) visit(c, undefined);
}

function reachingHooks(table: TableName, chains: ReadonlyMap<string, IptChain>): Map<string, Set<Hook>> {
  const hooks = new Map<string, Set<Hook>>([...chains.keys()].map((k) => [k, new Set<Hook>()]));
  for (const hook of BUILTIN_CHAINS[table]) {
    const stack = [hook as string];
    while (stack.length > 0) {
      const c = stack.pop()!;
      const set = hooks.get(c)!;
      if (set.has(hook)) continue;
      set.add(hook);
      for (const r of chains.get(c)!.rules) if (r.target.kind === 'jump' || r.target.kind === 'goto') stack.push(r.target.chain);
    }
  }
  return hooks;
}

// ---------------------------------------------------------------------------------------------
// Traversal

/** What the kernel knows about a packet at a hook, beyond the packet itself. */
export interface HookContext {
  readonly packet: Packet;
  readonly ct: CtState;
  /** `-i`: the in-interface (for a bridged packet, the bridge). */
  readonly inInterface: string | undefined;
  /** br_netfilter's bridge-port information; undefined for a packet that did not cross a bridge. */
  readonly bridge: { readonly physIn: string; readonly physOut: string | undefined } | undefined;
}

export interface TraversalResult {
  readonly verdict: 'ACCEPT' | 'DROP';
  /** Every rule whose target was taken, outermost first, then how the chain ended. */
  readonly trace: readonly string[];
  /** The first CT target taken (raw table). */
  readonly ct: { readonly notrack: true } | { readonly zone: number } | undefined;
}

const MAX_STEPS = 1_000_000;

/** Walk a packet through built-in chain `hook` of a table, as ipt_do_table does. */
export function traverse(table: IptTable, hook: Hook, ctx: HookContext, sets: IpsetState): TraversalResult {
  const builtin = table.chains.get(hook);
  if (!builtin || builtin.policy === undefined) throw new Error(`table ${table.name} has no built-in chain ${hook}`);
  const trace: string[] = [];
  const stack: { chain: IptChain; index: number }[] = [];
  let chain = builtin;
  let index = 0;
  let ct: TraversalResult['ct'];
  const policy = (): TraversalResult => {
    trace.push(`${table.name} ${hook}: policy ${builtin.policy}`);
    return { verdict: builtin.policy!, trace, ct };
  };
  for (let steps = 0; steps < MAX_STEPS; steps++) {
    const rule = chain.rules[index];
    if (rule !== undefined && !ruleMatches(rule, ctx, sets)) {
      index++;
      continue;
    }
    if (rule !== undefined) trace.push(describe(table, chain, index, rule));
    const t = rule?.target ?? { kind: 'RETURN' as const };
    switch (t.kind) {
      case 'RETURN': {
        // RETURN or the end of a chain: back to the caller; with none, the hook's policy.
        const frame = stack.pop();
        if (!frame) return policy();
        chain = frame.chain;
        index = frame.index;
        continue;
      }
      case 'ACCEPT':
      case 'DROP':
        return { verdict: t.kind, trace, ct };
      case 'notrack':
      case 'zone':
        // xt_CT attaches a template only to a packet that has none yet.
        if (ct === undefined) ct = t.kind === 'notrack' ? { notrack: true } : { zone: t.zone };
        index++;
        continue;
      case 'jump':
        stack.push({ chain, index: index + 1 });
        chain = table.chains.get(t.chain)!;
        index = 0;
        continue;
      case 'goto':
        chain = table.chains.get(t.chain)!;
        index = 0;
        continue;
    }
  }
  throw new Error(`traversal of ${table.name} ${hook} did not end after ${MAX_STEPS} steps`);
}

const describe = (table: IptTable, chain: IptChain, index: number, r: IptRule): string =>
  `${table.name} ${chain.name} #${index + 1} (line ${r.line}): ${r.text}`;

export function ruleMatches(rule: IptRule, ctx: HookContext, sets: IpsetState): boolean {
  for (const m of rule.matches) if (!matchOne(m, ctx, sets)) return false;
  return true;
}

function matchOne(m: RuleMatch, ctx: HookContext, sets: IpsetState): boolean {
  const p = ctx.packet;
  switch (m.kind) {
    case 'src':
      return containsAddress(m.prefix, p.family, p.src);
    case 'dst':
      return containsAddress(m.prefix, p.family, p.dst);
    case 'in':
      return ctx.inInterface === m.name;
    case 'protocol':
      return upperLayerProtocol(p) === m.protocol;
    case 'ports': {
      const { srcPort, dstPort } = transportPorts(p);
      return (m.sport === undefined || inRange(srcPort, m.sport)) && (m.dport === undefined || inRange(dstPort, m.dport));
    }
    case 'multiport': {
      const { srcPort, dstPort } = transportPorts(p);
      const port = m.dir === 'src' ? srcPort : dstPort;
      return m.ranges.some((r) => inRange(port, r));
    }
    case 'icmp': {
      if (p.icmpType === undefined || p.icmpCode === undefined) throw new Error('an ICMP packet needs icmpType and icmpCode');
      // The IPv4 match treats type 255 as "any"; the IPv6 one has no such case.
      if (m.family === 4 && m.type === 255) return true;
      return p.icmpType === m.type && p.icmpCode >= m.codeMin && p.icmpCode <= m.codeMax;
    }
    case 'set':
      return sets.get(m.set)!.contains(p.family, m.dir === 'src' ? p.src : p.dst);
    case 'mac':
      return p.srcMac.toLowerCase() === m.mac;
    case 'ctstate':
      return m.states.has(ctx.ct);
    case 'physdev': {
      // xt_physdev: without bridge information every positive option fails.
      const b = ctx.bridge;
      if (!b) return false;
      if (m.bridged && b.physOut === undefined) return false;
      if (m.in !== undefined && b.physIn !== m.in) return false;
      if (m.out !== undefined && b.physOut !== m.out) return false;
      return true;
    }
    case 'ipv6header':
      return p.family === 6 && m.headers.has(p.protocol);
    case 'comment':
      return true;
  }
}

/**
 * The protocol `-p` compares. An IPv6 packet whose protocol is an extension header is taken to
 * carry that header and no upper-layer protocol, so `-p` matches nothing in it (as ip6tables,
 * which skips extension headers, would for `-p 43`).
 */
function upperLayerProtocol(p: Packet): number | undefined {
  return p.family === 6 && IPV6_EXTENSION_NUMBERS.has(p.protocol) ? undefined : p.protocol;
}

const inRange = (v: number, r: PortRange): boolean => v >= r.min && v <= r.max;

function transportPorts(p: Packet): { srcPort: number; dstPort: number } {
  if (p.srcPort === undefined || p.dstPort === undefined) throw new Error(`a protocol ${p.protocol} packet needs srcPort and dstPort`);
  return { srcPort: p.srcPort, dstPort: p.dstPort };
}
