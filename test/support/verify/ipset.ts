/**
 * A strict interpreter for the `ipset restore` scripts sgnf emits: it replays the script
 * (destroy -exist, create [-exist], add, swap, destroy) against an empty set of kernel sets, as
 * `ipset restore` would on a fresh host, and returns the sets that exist at the end.
 *
 * Strict means: every line it does not understand, and every line the kernel would refuse (a
 * duplicate entry, a /0 in hash:net, an address of the other family, a name over
 * IPSET_NAME_MAX, a full set, a `create -exist` with another header), is an error naming the
 * line. Only `hash:net` sets exist in sgnf output, so only those are understood.
 */
import { IPSET_NAME_MAX } from '../../../src/limits.js';
import {
  type Family,
  type Prefix,
  familyBits,
  formatAddress,
  formatPrefix,
  isHost,
  networkOf,
  parsePrefix,
} from '../../../src/net/ip.js';

export class RulesetError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super(`${file}:${line}: ${message}`);
    this.name = 'RulesetError';
  }
}

export interface SetHeader {
  readonly type: 'hash:net';
  readonly family: Family;
  readonly hashsize: number | undefined;
  readonly maxelem: number;
}

/** A kernel set: its header and a membership test that costs one lookup per prefix length. */
export class IpSet {
  private readonly byLength = new Map<number, Set<bigint>>();
  private count = 0;

  constructor(
    readonly name: string,
    readonly header: SetHeader,
  ) {}

  get size(): number {
    return this.count;
  }

  /** false when the entry is already present. */
  add(p: Prefix): boolean {
    let s = this.byLength.get(p.len);
    if (!s) this.byLength.set(p.len, (s = new Set()));
    if (s.has(p.addr)) return false;
    s.add(p.addr);
    this.count++;
    return true;
  }

  /** hash:net semantics: the address is in some stored prefix. */
  contains(family: Family, addr: bigint): boolean {
    if (family !== this.header.family) return false;
    for (const [len, nets] of this.byLength) if (nets.has(networkOf(family, addr, len))) return true;
    return false;
  }

  /** Entries, sorted by length then address (for tests and structure dumps). */
  members(): Prefix[] {
    const out: Prefix[] = [];
    for (const len of [...this.byLength.keys()].sort((a, b) => a - b)) {
      for (const addr of [...this.byLength.get(len)!].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
        out.push({ family: this.header.family, addr, len });
      }
    }
    return out;
  }
}

export type IpsetState = ReadonlyMap<string, IpSet>;

/** Kernel set names: printable, no spaces, at most IPSET_NAME_MAX characters. */
const SET_NAME = /^[A-Za-z0-9_.:-]+$/;

/** Replay an ipset restore script; `file` names it in errors. */
export function parseIpset(text: string, file = 'ipset.restore'): IpsetState {
  const sets = new Map<string, IpSet>();
  const lines = splitLines(text, file);
  lines.forEach((line, i) => {
    const n = i + 1;
    const fail = (message: string): never => {
      throw new RulesetError(file, n, message);
    };
    if (line === '' || line.startsWith('#')) return;
    const words = splitWords(line, fail);
    const [verb, ...args] = words;
    const exist = args[args.length - 1] === '-exist';
    if (exist) args.pop();
    const name = args[0] ?? fail(`"${verb}" needs a set name`);
    checkSetName(name, fail);
    switch (verb) {
      case 'create': {
        const header = parseHeader(args.slice(1), fail);
        const old = sets.get(name);
        if (old) {
          if (!exist) fail(`set ${name} already exists`);
          if (old.header.family !== header.family || old.header.maxelem !== header.maxelem) {
            fail(`set ${name} already exists with another header (create -exist refuses a different family or maxelem)`);
          }
          return;
        }
        sets.set(name, new IpSet(name, header));
        return;
      }
      case 'add': {
        if (args.length !== 2) fail('add takes a set name and one entry');
        const set = sets.get(name) ?? fail(`set ${name} does not exist`);
        const p = parseEntry(args[1]!, set.header.family, fail);
        if (!set.add(p) && !exist) fail(`${args[1]} is already in set ${name}`);
        if (set.size > set.header.maxelem) fail(`set ${name} is full (maxelem ${set.header.maxelem})`);
        return;
      }
      case 'swap': {
        if (args.length !== 2 || exist) fail('swap takes two set names');
        const other = args[1]!;
        checkSetName(other, fail);
        const a = sets.get(name) ?? fail(`set ${name} does not exist`);
        const b = sets.get(other) ?? fail(`set ${other} does not exist`);
        if (a.header.type !== b.header.type || a.header.family !== b.header.family) fail(`sets ${name} and ${other} have different types`);
        // The contents trade places (with their headers); the names stay.
        sets.set(name, rename(b, name));
        sets.set(other, rename(a, other));
        return;
      }
      case 'destroy': {
        if (args.length !== 1) fail('destroy takes one set name (sgnf never destroys all sets)');
        if (!sets.delete(name) && !exist) fail(`set ${name} does not exist`);
        return;
      }
      default:
        return fail(`unknown or unsupported ipset command "${verb}"`);
    }
  });
  return sets;
}

function rename(s: IpSet, name: string): IpSet {
  const out = new IpSet(name, s.header);
  for (const m of s.members()) out.add(m);
  return out;
}

/** Lines of a text that must end with one newline; whitespace-only lines are refused. */
export function splitLines(text: string, file: string): string[] {
  if (text.length > 0 && !text.endsWith('\n')) throw new RulesetError(file, text.split('\n').length, 'the last line has no newline');
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((l, i) => {
    if (l !== '' && l.trim() === '') throw new RulesetError(file, i + 1, 'a line of only whitespace (iptables-restore: "no command specified")');
    if (/[\r\t\v\f]/.test(l)) throw new RulesetError(file, i + 1, 'control character in line');
  });
  return lines;
}

/** Words separated by single spaces (the canonical form; no quoting in ipset scripts). */
function splitWords(line: string, fail: (m: string) => never): string[] {
  if (line.startsWith(' ') || line.endsWith(' ') || line.includes('  ')) fail('words must be separated by single spaces');
  if (/["'\\]/.test(line)) fail('quotes and backslashes are not understood in ipset scripts');
  return line.split(' ');
}

function checkSetName(name: string, fail: (m: string) => never): void {
  if (!SET_NAME.test(name)) fail(`"${name}" is not a set name`);
  if (name.length > IPSET_NAME_MAX) fail(`set name ${name} is longer than ${IPSET_NAME_MAX} characters`);
}

function parseHeader(args: string[], fail: (m: string) => never): SetHeader {
  if (args[0] !== 'hash:net') fail(`set type "${args[0] ?? ''}" is not understood (only hash:net)`);
  let family: Family | undefined;
  let hashsize: number | undefined;
  let maxelem: number | undefined;
  for (let i = 1; i < args.length; i += 2) {
    const key = args[i]!;
    const value = args[i + 1] ?? fail(`"${key}" needs a value`);
    const num = (): number => (/^[1-9][0-9]{0,9}$/.test(value) ? Number(value) : fail(`${key} "${value}" is not a positive integer`));
    const once = (v: unknown): void => {
      if (v !== undefined) fail(`${key} given twice`);
    };
    switch (key) {
      case 'family':
        once(family);
        family = value === 'inet' ? 4 : value === 'inet6' ? 6 : fail(`family "${value}" (inet or inet6)`);
        break;
      case 'hashsize':
        once(hashsize);
        hashsize = num();
        break;
      case 'maxelem':
        once(maxelem);
        maxelem = num();
        break;
      default:
        fail(`create option "${key}" is not understood`);
    }
  }
  // Without `family` the kernel assumes inet; sgnf always says which.
  if (family === undefined) fail('create without "family"');
  return { type: 'hash:net', family: family!, hashsize, maxelem: maxelem ?? 65536 };
}

/** A hash:net entry in `ipset save` form: a bare host address, or a network with its length. */
function parseEntry(text: string, family: Family, fail: (m: string) => never): Prefix {
  const parsed = parsePrefix(text);
  if (typeof parsed === 'string') return fail(parsed);
  const p = parsed.prefix;
  if (p.family !== family) fail(`${text} is IPv${p.family} but the set is IPv${family}`);
  if (p.len === 0) fail(`${text}: hash:net cannot hold a /0`);
  const canonical = isHost(p) ? formatAddress(p.family, p.addr) : formatPrefix(p);
  if (text !== canonical) fail(`${text} is not in canonical form (${canonical})`);
  if (p.len > familyBits(family)) fail(`${text}: bad length`);
  return p;
}
