/**
 * Interface names Neutron derives from ids (neutron-semantics.md §2): Linux names hold 15
 * characters and Neutron keeps 14. Every stage that needs one of these names calls here.
 */
import { IFNAME_MAX } from '../limits.js';

const NEUTRON_DEV_LEN = IFNAME_MAX - 1;

/** A port's tap device when the model gives none: `tap` + the first 11 characters of its id. */
export const tapDevice = (portId: string): string => `tap${portId}`.slice(0, NEUTRON_DEV_LEN);

/** hybrid driver: the port's own Linux bridge. */
export const hybridBridge = (portId: string): string => `qbr${portId}`.slice(0, NEUTRON_DEV_LEN);

/** hybrid driver: the veth joining the port's bridge to the integration bridge. */
export const hybridVeth = (portId: string): string => `qvb${portId}`.slice(0, NEUTRON_DEV_LEN);

/** linuxbridge driver: the network's bridge. */
export const networkBridge = (networkId: string): string => `brq${networkId}`.slice(0, NEUTRON_DEV_LEN);
