/**
 * Strict simulators of the apply steps of both backends, for tests: `ipset restore`,
 * `iptables-restore` / `ip6tables-restore` (with and without --noflush) and `nft -f`, each a pure
 * function over an explicit state, with a canonical dump for equality. See each file's comment
 * for the tool behaviour it models and how it was pinned.
 */
export { type ApplyResult, ApplyError, unwrap } from './result.js';
export { type IpsetSet, type IpsetState, type IpsetRestoreOptions, emptyIpset, ipsetRestore, ipsetSave } from './ipset.js';
export { type IptablesState, type IptablesTable, type IptablesRestoreOptions, emptyIptables, iptablesRestore, iptablesSave, referencedSets } from './iptables.js';
export { type NftState, emptyNft, nftApply, nftList } from './nft.js';
export {
  type IptablesHost,
  type IptablesBackendFiles,
  emptyIptablesHost,
  applyIpset,
  applyIptables,
  applyIptablesBackend,
  dumpIptablesHost,
  applyNftBackend,
} from './host.js';
