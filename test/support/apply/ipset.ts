/**
 * A strict simulator of `ipset restore` (ipset 7.x on a current kernel): a pure function from the
 * sets that exist and a script to the sets that exist afterwards.
 *
 * Like the tool it works line by line and stops at the first error: the lines before it stay
 * applied, and the failing line is reported (blank and comment lines count, as in ipset's
 * "Error in line N"). Behaviour pinned against ipset 7.17 on Linux 6.18:
 * - create: an existing name fails, unless `-exist` and the kernel finds the same set. The kernel
 *   (ip_set_create, mtype_same_set) compares the type name and revision, maxelem, timeout and
 *   extensions; NOT hashsize (it changes as the set grows) and NOT the family (it compares the
 *   type's family, unspecified for hash types): `create S hash:net family inet6 -exist` on an
 *   inet set S succeeds and S stays inet. The defaults are family inet, hashsize 1024, maxelem
 *   65536; hashsize is rounded up to a power of two, at least 64.
 * - add: an entry already present fails without `-exist`; a set at maxelem fails even with it
 *   ("Hash is full"). hash:net refuses /0 and the other family's addresses; host bits are masked
 *   (`10.0.0.5/24` is 10.0.0.0/24) and a host is kept without length (`10.0.0.1/32` is
 *   10.0.0.1), as `ipset save` prints it. hash:ip stores addresses (an IPv4 /N adds each one).
 * - del: an absent entry fails without `-exist`.
 * - destroy NAME: a missing set fails without `-exist`; a set referenced by an iptables rule
 *   (`-m set --match-set`) fails even with `-exist`. `destroy` alone destroys every set, or none
 *   if one is referenced.
 * - flush NAME: a missing set fails, `-exist` or not. `flush` alone empties every set.
 * - rename FROM TO: FROM must exist and be unreferenced, TO must not exist.
 * - swap A B: both must exist with the same type and family (maxelem and hashsize may differ:
 *   the headers travel with the contents); referenced sets may be swapped.
 * - every set name is at most 31 characters.
 * Options ipset knows but sgnf never writes (timeout, counters, comment, netmask, ranges, ...)
 * are refused as "not modelled", so a script the simulator accepts means what it says here.
 */
import { IPSET_NAME_MAX } from '../../../src/limits.js';
import { type Family, type Prefix, formatAddress, formatPrefix, isHost, parsePrefix } from '../../../src/net/ip.js';
import { ApplyError, type ApplyResult, rawLines } from './result.js';

export type IpsetType = 'hash:net' | 'hash:ip';

export interface IpsetSet {
  readonly name: string;
  readonly type: IpsetType;
  readonly family: Family;
  readonly hashsize: number;
  readonly maxelem: number;
  /** Entries by their `ipset save` text. */
  readonly entries: ReadonlyMap<string, Prefix>;
}

/** The kernel's sets by name. Never mutated: apply returns a new map. */
export type IpsetState = ReadonlyMap<string, IpsetSet>;

export const emptyIpset = (): IpsetState => new Map();

export interface IpsetRestoreOptions {
  /** `ipset -exist restore`: every line behaves as if it carried -exist. */
  readonly exist?: boolean;
  /** Sets that iptables rules reference now: destroy and rename refuse them. */
  readonly referenced?: ReadonlySet<string>;
  /** Names the file in errors; default "ipset restore". */
  readonly file?: string;
}

const DEFAULTS = { family: 4 as Family, hashsize: 1024, maxelem: 65536 };
const HASHSIZE_MIN = 64;
/** A hash:ip IPv4 prefix is expanded into its addresses; larger than this is refused. */
const HASH_IP_EXPAND_MAX = 65536;

/** Apply an `ipset restore` script. On failure, `state` holds the lines before the failing one. */
export function ipsetRestore(state: IpsetState, text: string, options: IpsetRestoreOptions = {}): ApplyResult<IpsetState> {
  const file = options.file ?? 'ipset restore';
  const referenced = options.referenced ?? new Set<string>();
  const sets = new Map(state);
  // Sets whose entries map belongs to this run (copied on first change; the input stays intact).
  const owned = new Set<IpsetSet>();
  const writable = (s: IpsetSet): IpsetSet & { entries: Map<string, Prefix> } => {
    if (owned.has(s)) return s as IpsetSet & { entries: Map<string, Prefix> };
    const copy = { ...s, entries: new Map(s.entries) };
    owned.add(copy);
    sets.set(s.name, copy);
    return copy;
  };

  const lines = rawLines(text);
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const fail = (message: string): never => {
      throw new ApplyError(file, n, message);
    };
    try {
      applyLine(lines[i]!, { sets, referenced, exist: options.exist === true, writable, owned, fail });
    } catch (e) {
      if (e instanceof ApplyError) return { ok: false, error: e.reason, line: e.line, file, state: sets };
      throw e;
    }
  }
  return { ok: true, state: sets };
}

interface LineContext {
  readonly sets: Map<string, IpsetSet>;
  readonly referenced: ReadonlySet<string>;
  readonly exist: boolean;
  readonly writable: (s: IpsetSet) => IpsetSet & { entries: Map<string, Prefix> };
  readonly owned: Set<IpsetSet>;
  readonly fail: (message: string) => never;
}

function applyLine(line: string, ctx: LineContext): void {
  const { sets, referenced, fail } = ctx;
  if (/[\r\v\f\x00]/.test(line)) fail('control character in line');
  const trimmed = line.trim();
  if (trimmed === '' || trimmed.startsWith('#')) return;
  let exist = ctx.exist;
  const words: string[] = [];
  for (const w of trimmed.split(/[ \t]+/)) {
    if (w === '-exist' || w === '-!') exist = true;
    else if (w.startsWith('-')) fail(`option ${w} is not modelled`);
    else words.push(w);
  }
  const [verb, ...args] = words as [string, ...string[]];
  const nameArg = (k: number): string => {
    const name = args[k] ?? fail(`"${verb}" needs a set name`);
    if (name.length > IPSET_NAME_MAX) fail(`Syntax error: setname '${name}' is longer than ${IPSET_NAME_MAX} characters`);
    return name;
  };
  const arity = (min: number, max: number): void => {
    if (args.length < min || args.length > max) fail(`"${verb}" takes ${min === max ? min : `${min} to ${max}`} argument(s), found ${args.length}`);
  };
  const existing = (name: string): IpsetSet => sets.get(name) ?? fail(`The set with the given name does not exist: ${name}`);

  switch (verb) {
    case 'create': {
      const name = nameArg(0);
      const header = parseHeader(args.slice(1), fail);
      const old = sets.get(name);
      if (old) {
        // -exist passes only for the same set as the kernel compares it (see the file comment).
        if (!exist || old.type !== header.type || old.maxelem !== header.maxelem) {
          fail(`Set cannot be created: set with the same name already exists: ${name}${exist ? ` (another type or maxelem: ${describeHeader(old)})` : ''}`);
        }
        return;
      }
      const set: IpsetSet = { name, ...header, entries: new Map() };
      ctx.owned.add(set);
      sets.set(name, set);
      return;
    }
    case 'add':
    case 'del': {
      arity(2, 2);
      const set = existing(nameArg(0));
      const entries = parseEntries(args[1]!, set, fail);
      const w = ctx.writable(set);
      for (const [key, p] of entries) {
        if (verb === 'add') {
          if (w.entries.has(key)) {
            if (!exist) fail(`Element cannot be added to the set: it's already added: ${key} in ${set.name}`);
            continue;
          }
          if (w.entries.size >= set.maxelem) fail(`Hash is full, cannot add more elements: ${set.name} (maxelem ${set.maxelem})`);
          w.entries.set(key, p);
        } else if (!w.entries.delete(key) && !exist) {
          fail(`Element cannot be deleted from the set: it's not added: ${key} in ${set.name}`);
        }
      }
      return;
    }
    case 'destroy': {
      arity(0, 1);
      if (args.length === 0) {
        const busy = [...sets.keys()].find((s) => referenced.has(s));
        if (busy !== undefined) fail(`Set cannot be destroyed: it is in use by a kernel component: ${busy} (no set destroyed)`);
        sets.clear();
        return;
      }
      const name = nameArg(0);
      if (!sets.has(name)) {
        if (!exist) fail(`The set with the given name does not exist: ${name}`);
        return;
      }
      if (referenced.has(name)) fail(`Set cannot be destroyed: it is in use by a kernel component: ${name} (an iptables rule matches it)`);
      sets.delete(name);
      return;
    }
    case 'flush': {
      arity(0, 1);
      const targets = args.length === 0 ? [...sets.values()] : [existing(nameArg(0))];
      for (const s of targets) ctx.writable(s).entries.clear();
      return;
    }
    case 'rename': {
      arity(2, 2);
      const from = existing(nameArg(0));
      const to = nameArg(1);
      if (sets.has(to)) fail(`Set cannot be renamed: a set with the new name already exists: ${to}`);
      if (referenced.has(from.name)) fail(`Set cannot be renamed: it is in use by another system: ${from.name}`);
      sets.delete(from.name);
      const renamed = { ...from, name: to };
      if (ctx.owned.has(from)) ctx.owned.add(renamed);
      sets.set(to, renamed);
      return;
    }
    case 'swap': {
      arity(2, 2);
      const a = existing(nameArg(0));
      const bName = nameArg(1);
      const b = sets.get(bName) ?? fail(`Sets cannot be swapped: the second set does not exist: ${bName}`);
      if (a.type !== b.type || a.family !== b.family) {
        fail(`The sets cannot be swapped: their type does not match: ${describeHeader(a)} and ${describeHeader(b)}`);
      }
      // Contents and headers trade places; the names (which rules reference) stay.
      const a2 = { ...b, name: a.name };
      const b2 = { ...a, name: b.name };
      if (ctx.owned.has(b)) ctx.owned.add(a2);
      if (ctx.owned.has(a)) ctx.owned.add(b2);
      sets.set(a.name, a2);
      sets.set(b.name, b2);
      return;
    }
    default:
      fail(`command "${verb}" is not modelled (create, add, del, destroy, flush, rename, swap)`);
  }
}

function parseHeader(args: readonly string[], fail: (m: string) => never): Omit<IpsetSet, 'name' | 'entries'> {
  const type = args[0];
  if (type !== 'hash:net' && type !== 'hash:ip') fail(`set type "${type ?? ''}" is not modelled (hash:net, hash:ip)`);
  let family: Family | undefined;
  let hashsize: number | undefined;
  let maxelem: number | undefined;
  for (let i = 1; i < args.length; i += 2) {
    const key = args[i]!;
    const value = args[i + 1] ?? fail(`"${key}" needs a value`);
    const num = (): number => (/^[1-9][0-9]{0,9}$/.test(value) && Number(value) <= 0xffffffff ? Number(value) : fail(`${key} "${value}" is not a positive integer`));
    const once = (v: unknown): void => {
      if (v !== undefined) fail(`${key} given twice`);
    };
    if (key === 'family') {
      once(family);
      family = value === 'inet' ? 4 : value === 'inet6' ? 6 : fail(`family "${value}" (inet or inet6)`);
    } else if (key === 'hashsize') {
      once(hashsize);
      hashsize = num();
    } else if (key === 'maxelem') {
      once(maxelem);
      maxelem = num();
    } else fail(`create option "${key}" is not modelled (family, hashsize, maxelem)`);
  }
  let h = HASHSIZE_MIN;
  while (h < (hashsize ?? DEFAULTS.hashsize)) h *= 2;
  return { type: type as IpsetType, family: family ?? DEFAULTS.family, hashsize: h, maxelem: maxelem ?? DEFAULTS.maxelem };
}

const describeHeader = (s: Omit<IpsetSet, 'name' | 'entries'>): string => `${s.type} family ${s.family === 4 ? 'inet' : 'inet6'} maxelem ${s.maxelem}`;

/** The entries one add/del argument stands for, by their `ipset save` text. */
function parseEntries(text: string, set: IpsetSet, fail: (m: string) => never): Map<string, Prefix> {
  if (text.includes('-') && !text.includes(':')) fail(`ranges ("${text}") are not modelled`);
  if (text.includes(',')) fail(`"${text}": entries with several parts are not modelled`);
  const parsed = parsePrefix(text);
  if (typeof parsed === 'string') return fail(`Syntax error: cannot parse ${text}: ${parsed}`);
  const p = parsed.prefix;
  if (p.family !== set.family) fail(`Syntax error: cannot parse ${text}: resolving to IPv${set.family} address failed`);
  const out = new Map<string, Prefix>();
  if (set.type === 'hash:net') {
    if (p.len === 0) fail(`The value of the CIDR parameter of the IP address is invalid: ${text} (hash:net cannot hold a /0)`);
    const entry: Prefix = { family: p.family, addr: p.addr, len: p.len };
    out.set(isHost(entry) ? formatAddress(p.family, p.addr) : formatPrefix(entry), entry);
    return out;
  }
  // hash:ip: a set of addresses.
  if (p.family === 6 && p.len !== 128) fail(`${text}: IPv6 prefixes in hash:ip are not modelled`);
  const count = 1n << BigInt((p.family === 4 ? 32 : 128) - p.len);
  if (count > BigInt(HASH_IP_EXPAND_MAX)) fail(`${text}: expanding more than ${HASH_IP_EXPAND_MAX} addresses is not modelled`);
  for (let k = 0n; k < count; k++) {
    const addr = p.addr + k;
    out.set(formatAddress(p.family, addr), { family: p.family, addr, len: p.family === 4 ? 32 : 128 });
  }
  return out;
}

export interface IpsetSaveOptions {
  /**
   * Print hashsize. Off by default: the kernel grows it with the set, and `create -exist` keeps
   * the old one, so it says nothing about what the set matches.
   */
  readonly hashsize?: boolean;
}

/** `ipset save` in a canonical order: sets by name, entries by address then length. */
export function ipsetSave(state: IpsetState, options: IpsetSaveOptions = {}): string {
  const out: string[] = [];
  for (const name of [...state.keys()].sort()) {
    const s = state.get(name)!;
    const hs = options.hashsize ? ` hashsize ${s.hashsize}` : '';
    out.push(`create ${name} ${s.type} family ${s.family === 4 ? 'inet' : 'inet6'}${hs} maxelem ${s.maxelem}`);
    const entries = [...s.entries].sort(([, a], [, b]) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : a.len - b.len));
    for (const [key] of entries) out.push(`add ${name} ${key}`);
  }
  return out.map((l) => `${l}\n`).join('');
}
