/**
 * A host as the iptables backend sees it: its ipsets and the iptables tables of both families,
 * changed only by the simulated tools (ipset restore, iptables-restore, ip6tables-restore), each
 * reading what the others left (rules need their sets; a set a rule matches cannot be destroyed).
 * The nft backend's host is an NftState alone (applyNftBackend).
 */
import type { Family } from '../../../src/net/ip.js';
import { type IpsetRestoreOptions, type IpsetState, emptyIpset, ipsetRestore, ipsetSave } from './ipset.js';
import { type IptablesState, emptyIptables, iptablesRestore, iptablesSave, referencedSets } from './iptables.js';
import { type NftState, nftApply } from './nft.js';
import type { ApplyResult } from './result.js';

export interface IptablesHost {
  readonly ipset: IpsetState;
  readonly v4: IptablesState;
  readonly v6: IptablesState;
}

export const emptyIptablesHost = (): IptablesHost => ({ ipset: emptyIpset(), v4: emptyIptables(4), v6: emptyIptables(6) });

/** `ipset restore` on the host: sets matched by an iptables rule of either family are busy. */
export function applyIpset(host: IptablesHost, text: string, options: Omit<IpsetRestoreOptions, 'referenced'> = {}): ApplyResult<IptablesHost> {
  const r = ipsetRestore(host.ipset, text, { ...options, referenced: referencedSets(host.v4, host.v6) });
  const state = { ...host, ipset: r.state };
  return r.ok ? { ok: true, state } : { ...r, state };
}

/** `iptables-restore` (family 4) or `ip6tables-restore` (6) on the host. */
export function applyIptables(host: IptablesHost, family: Family, text: string, options: { noflush?: boolean; file?: string } = {}): ApplyResult<IptablesHost> {
  const key = family === 4 ? 'v4' : 'v6';
  const r = iptablesRestore(host[key], text, { ...options, sets: host.ipset });
  const state = { ...host, [key]: r.state };
  return r.ok ? { ok: true, state } : { ...r, state };
}

/** The files of one apply of the iptables backend, each optional, in the order they are applied. */
export interface IptablesBackendFiles {
  /** `ipset restore` before the tables (ipset.restore, ipset.delta). */
  readonly ipset?: string;
  readonly v4?: string;
  readonly v6?: string;
  /** `ipset restore` after the tables (ipset.cleanup: destroy sets nothing references). */
  readonly ipsetCleanup?: string;
}

/**
 * Apply the files in order: ipset, iptables (v4), ip6tables (v6), ipset cleanup; stops at the
 * first failure, whose `file` is "ipset", "iptables.v4", "iptables.v6" or "ipset.cleanup".
 */
export function applyIptablesBackend(host: IptablesHost, files: IptablesBackendFiles, options: { noflush?: boolean } = {}): ApplyResult<IptablesHost> {
  let state = host;
  const steps: [string | undefined, (h: IptablesHost, text: string) => ApplyResult<IptablesHost>][] = [
    [files.ipset, (h, t) => applyIpset(h, t, { file: 'ipset' })],
    [files.v4, (h, t) => applyIptables(h, 4, t, { noflush: options.noflush, file: 'iptables.v4' })],
    [files.v6, (h, t) => applyIptables(h, 6, t, { noflush: options.noflush, file: 'iptables.v6' })],
    [files.ipsetCleanup, (h, t) => applyIpset(h, t, { file: 'ipset.cleanup' })],
  ];
  for (const [text, apply] of steps) {
    if (text === undefined) continue;
    const r = apply(state, text);
    if (!r.ok) return r;
    state = r.state;
  }
  return { ok: true, state };
}

/** Canonical dump of the whole host (ipset save, iptables-save, ip6tables-save), for equality. */
export function dumpIptablesHost(host: IptablesHost, options: { hashsize?: boolean } = {}): string {
  return `# ipset\n${ipsetSave(host.ipset, options)}# iptables\n${iptablesSave(host.v4)}# ip6tables\n${iptablesSave(host.v6)}`;
}

/**
 * Apply nft scripts in order, each its own `nft -f` transaction (ruleset.nft then sets.nft; or
 * delta.nft then a second file of deletions). Stops at the first that fails; its `file` is the
 * name given, or "nft[i]".
 */
export function applyNftBackend(state: NftState, files: string | readonly (string | { name: string; text: string })[]): ApplyResult<NftState> {
  let s = state;
  const list = typeof files === 'string' ? [files] : files;
  for (const [i, f] of list.entries()) {
    const { name, text } = typeof f === 'string' ? { name: `nft[${i}]`, text: f } : f;
    const r = nftApply(s, text, { file: name });
    if (!r.ok) return r;
    s = r.state;
  }
  return { ok: true, state: s };
}
