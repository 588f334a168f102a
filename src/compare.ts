/**
 * Byte-order string comparison: the one order of ids, names and keys in every output (never
 * locale-dependent). For the ASCII of validated ids and names it equals the default sort and
 * the order iptables-save and nft list print.
 */
export const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
