/**
 * Interface names: the ones sgnf accepts, and the ones Neutron derives from ids
 * (docs/semantics.md §2): Linux names hold 15 characters and Neutron keeps 14. Every stage
 * that checks or derives one of these names calls here.
 */
import { IFNAME_MAX } from '../limits.js';

const NEUTRON_DEV_LEN = IFNAME_MAX - 1;

/**
 * The interface names sgnf accepts and prints: no whitespace, `/`, `:` (aliases), `+` (an
 * iptables wildcard), `*` (an nft wildcard) or quote, and not starting with `.` or `-`.
 */
const INTERFACE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** Whether `name` is an interface name sgnf accepts (1 to IFNAME_MAX characters of INTERFACE_NAME). */
export const isInterfaceName = (name: string): boolean => name.length <= IFNAME_MAX && INTERFACE_NAME.test(name);

/** The alphabet of interface names in words, for error messages. */
export const INTERFACE_NAME_RULE = `1 to ${IFNAME_MAX} characters: letters, digits, "_", ".", "-"`;

/** A port's tap device when the model gives none: `tap` + the first 11 characters of its id. */
export const tapDevice = (portId: string): string => `tap${portId}`.slice(0, NEUTRON_DEV_LEN);

/** hybrid driver: the port's own Linux bridge. */
export const hybridBridge = (portId: string): string => `qbr${portId}`.slice(0, NEUTRON_DEV_LEN);

/** hybrid driver: the veth joining the port's bridge to the integration bridge. */
export const hybridVeth = (portId: string): string => `qvb${portId}`.slice(0, NEUTRON_DEV_LEN);

/** linuxbridge driver: the network's bridge. */
export const networkBridge = (networkId: string): string => `brq${networkId}`.slice(0, NEUTRON_DEV_LEN);
