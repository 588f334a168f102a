/**
 * The netfilter state sgnf owns on one host, in a form that can be compared object by object:
 * what a full compile produces (stateOfCompile) and, for the audit, what the kernel tools list.
 * Deltas are computed between two such states (delta/iptables.ts, delta/nft.ts), so the rules
 * of what a model means live in one place (the compiler) and a delta can only ever reach
 * exactly the state of the full output.
 */
import type { Family } from '../net/ip.js';

/** A chain: built-in chains carry their policy; rules are the text after `-A <chain> `. */
export interface ChainState {
  readonly policy?: string;
  readonly rules: readonly string[];
}

export type IptablesTableName = 'filter' | 'raw';

/** One family's tables, chains by name. Built-in chains hold only sgnf's own rules (the jumps). */
export type IptablesTables = ReadonlyMap<IptablesTableName, ReadonlyMap<string, ChainState>>;

export interface IpsetSetState {
  /** `hash:net family inet` — what `create` needs besides the sizes. */
  readonly type: string;
  readonly hashsize: number;
  readonly maxelem: number;
  /** Entries as `ipset save` prints them (hosts without their length), sorted, unique. */
  readonly members: readonly string[];
}

export interface IptablesHostState {
  readonly backend: 'iptables';
  readonly sets: ReadonlyMap<string, IpsetSetState>;
  readonly tables: Readonly<Record<Family, IptablesTables>>;
}

export interface NftChainState {
  /** Base chains: `type filter hook forward priority -200; policy accept;`. */
  readonly hook?: string;
  readonly rules: readonly string[];
}

export interface NftSetState {
  readonly kind: 'set' | 'map';
  /** Declaration lines (`type ipv4_addr`, `flags interval`, `comment "…"`). */
  readonly spec: readonly string[];
  /** Elements as printed (`10.0.0.1`, `"tapx" : 0x00010000`, `0x0000dc94 : goto i4_x`). */
  readonly elements: readonly string[];
}

export interface NftTableState {
  readonly family: 'bridge' | 'inet';
  readonly name: string;
  readonly comment?: string;
  readonly sets: ReadonlyMap<string, NftSetState>;
  readonly chains: ReadonlyMap<string, NftChainState>;
}

export interface NftHostState {
  readonly backend: 'nft';
  /** By `<family> <name>`, e.g. `inet sgnf_sg`. */
  readonly tables: ReadonlyMap<string, NftTableState>;
}

export type HostState = IptablesHostState | NftHostState;

/** The key of a set or map element: what `delete element` names (a map's key, before ` : `). */
export function elementKey(element: string): string {
  const at = element.indexOf(' : ');
  return at < 0 ? element : element.slice(0, at);
}

export function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** `a` minus `b` for sorted or unsorted string lists, in `a`'s order. */
export function minus(a: readonly string[], b: readonly string[]): string[] {
  if (b.length === 0) return [...a];
  const drop = new Set(b);
  const out: string[] = [];
  for (const x of a) if (!drop.has(x)) out.push(x);
  return out;
}

/** A set's membership change when it is already known (delta/members.ts): spares comparing the lists. */
export interface MemberChange {
  readonly added: readonly string[];
  readonly removed: readonly string[];
}
