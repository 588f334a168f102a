import type { Backend } from '../../src/compile.js';

/** Backends whose output every golden case records. */
export const BACKENDS: readonly Backend[] = ['iptables', 'nft'];
