/**
 * Address lists of the input: a group's members on other hosts (`sg_member_ips`) and address
 * groups (`address_groups`). Member lists can hold millions of entries: their loops build no
 * path and no object per member unless it is wrong.
 */
import { type Family, parseMac, printable } from '../net/ip.js';
import { AddressList, AddressListBuilder } from '../net/list.js';
import { child } from './errors.js';
import { ADDRESS_GROUP_FIELDS } from './fields.js';
import { type Collector, type Json, ethertypeFamily, isObj } from './input.js';

/** Reports a /0 member (it opens every rule that references the group to all addresses). */
export type ZeroLengthWarning = (group: string, family: Family, path: string) => void;

export function parseMemberIps(c: Collector, group: string, v: Json, out: AddressListBuilder, warnZeroLength: ZeroLengthWarning): void {
  const path = child('$.sg_member_ips', group);
  if (!isObj(v)) {
    c.error('not-an-object', path, 'must be an object {"IPv4": [...], "IPv6": [...]}');
    return;
  }
  for (const [k, list] of Object.entries(v)) {
    const kp = child(path, k);
    const family = ethertypeFamily(k);
    if (family === undefined) {
      c.error('bad-value', kp, 'member lists are keyed by ethertype: "IPv4" or "IPv6"');
      continue;
    }
    if (!Array.isArray(list)) {
      c.error('not-a-list', kp, 'must be a list of members ("ip" or ["ip", "mac"])');
      continue;
    }
    // A plain loop, paths built only for errors: this runs once per member, millions of times.
    for (let i = 0; i < list.length; i++) {
      const m = list[i];
      const pair = Array.isArray(m);
      const ipText = pair ? m[0] : m;
      if (pair) {
        const mac = m[1];
        if (m.length > 2 || (mac !== undefined && mac !== null && (typeof mac !== 'string' || parseMac(mac) === undefined))) {
          c.error('bad-member', child(kp, i), 'a member is "ip" or ["ip", "mac"] with a valid MAC address');
          continue;
        }
      }
      const f = typeof ipText === 'string' ? out.scan(ipText) : 'must be an IP address or prefix';
      if (typeof f === 'string') c.error('bad-address', memberPath(kp, i, pair), f);
      else if (f !== family) c.error('family-mismatch', memberPath(kp, i, pair), `${printable(ipText as string)} is not an IPv${family} address`);
      else {
        if (out.pendingLength === 0) warnZeroLength(group, family, memberPath(kp, i, pair));
        out.commit();
      }
    }
  }
}

/** Path of a member's address: the list item, or the first element of an ["ip", "mac"] item. */
const memberPath = (list: string, i: number, pair: boolean): string => (pair ? child(child(list, i), 0) : child(list, i));

export function parseAddressGroup(c: Collector, path: string, v: Json): AddressList {
  let list: Json | undefined = v;
  if (isObj(v)) {
    c.keys(v, path, ADDRESS_GROUP_FIELDS);
    list = v['addresses'];
    path = child(path, 'addresses');
  }
  if (!Array.isArray(list)) {
    c.error('not-a-list', path, 'must be a list of IP addresses or prefixes');
    return AddressList.EMPTY;
  }
  const out = new AddressListBuilder();
  list.forEach((a, i) => {
    const f = typeof a === 'string' ? out.scan(a) : 'must be an IP address or prefix string';
    if (typeof f === 'string') c.error('bad-address', child(path, i), f);
    else out.commit();
  });
  return out.build();
}
