/**
 * One device entry (`devices.<port id>`) into a Port: its interface name, addresses, address
 * pairs, groups, statefulness, and what kind of port it is.
 */
import { CT_ZONE_MAX } from '../limits.js';
import { type Prefix, V6Scanner, comparePrefix, parseMac, parsePrefix, printable } from '../net/ip.js';
import { compareStrings } from '../compare.js';
import { child } from './errors.js';
import { INTERFACE_NAME_RULE, isInterfaceName, tapDevice } from './devices.js';
import { DEVICE_FIELDS, FIXED_IP_FIELDS, PAIR_FIELDS } from './fields.js';
import { type Collector, type Json, type Obj, checkId, describe, isObj } from './input.js';
import type { AddressPair, Port, PortKind, SecurityGroup } from './types.js';

export interface RawDevice {
  readonly id: string;
  readonly path: string;
  readonly obj: Obj;
}

export function parseDevice(c: Collector, raw: RawDevice, groups: ReadonlyMap<string, SecurityGroup>): Port | undefined {
  const { id, path, obj } = raw;
  c.keys(obj, path, DEVICE_FIELDS);
  const before = c.issues.length;

  const device = parseDeviceName(c, raw);

  const owner = obj['device_owner'];
  if (owner !== undefined && owner !== null && typeof owner !== 'string') c.error('not-a-string', child(path, 'device_owner'), 'must be a string');
  const trusted = typeof owner === 'string' && owner.startsWith('network:');

  const pse = obj['port_security_enabled'];
  let portSecurity = true;
  if (pse !== undefined && pse !== null) {
    if (typeof pse !== 'boolean') c.error('not-a-boolean', child(path, 'port_security_enabled'), 'must be true or false');
    else portSecurity = pse;
  }

  let mac = '';
  const mv = obj['mac_address'];
  if (typeof mv === 'string' && parseMac(mv) !== undefined) mac = parseMac(mv)!;
  else if (mv !== undefined && mv !== null) c.error('bad-mac', child(path, 'mac_address'), `${describe(mv)} is not a MAC address`);
  else if (portSecurity && !trusted) c.error('required', child(path, 'mac_address'), 'is required for a port with port security');

  const fixedIps = parseFixedIps(c, path, obj['fixed_ips']);
  const addressPairs = parseAddressPairs(c, path, obj['allowed_address_pairs'], mac);
  const groupList = parsePortGroups(c, path, obj['security_groups'], groups);

  if (!portSecurity && groupList.length > 0) {
    c.error('port-security-conflict', child(path, 'security_groups'), 'a port with port_security_enabled false cannot have security groups');
  }
  if (!portSecurity && addressPairs.length > 0) {
    c.error('port-security-conflict', child(path, 'allowed_address_pairs'), 'a port with port_security_enabled false cannot have allowed address pairs');
  }

  // Stateful unless its groups are stateless; Neutron's API refuses a mix, and so do we.
  const statefulness = new Set(groupList.map((g) => groups.get(g)?.stateful ?? true));
  if (statefulness.size > 1) c.error('mixed-stateful', child(path, 'security_groups'), 'a port cannot mix stateful and stateless security groups');
  const stateful = statefulness.size === 0 || statefulness.has(true);

  let networkId: string | undefined;
  const nv = obj['network_id'];
  if (nv !== undefined && nv !== null) {
    if (typeof nv === 'string' && checkId(c, child(path, 'network_id'), nv, 'network id')) networkId = nv;
    else if (typeof nv !== 'string') c.error('not-a-string', child(path, 'network_id'), 'must be a network id');
  }
  const kind: PortKind = !portSecurity ? 'portSecurityDisabled' : trusted ? 'trusted' : 'filtered';

  let host: string | undefined;
  const hv = obj['binding:host_id'];
  if (hv !== undefined && hv !== null && hv !== '') {
    if (typeof hv !== 'string') c.error('not-a-string', child(path, 'binding:host_id'), 'must be a host name');
    else host = hv;
  }

  let pinnedZone: number | undefined;
  const zv = obj['conntrack_zone'];
  if (zv !== undefined && zv !== null) {
    if (typeof zv !== 'number' || !Number.isInteger(zv) || zv < 1 || zv > CT_ZONE_MAX) {
      const code = typeof zv === 'number' && Number.isInteger(zv) ? 'out-of-range' : 'not-an-integer';
      c.error(code, child(path, 'conntrack_zone'), `must be an integer from 1 to ${CT_ZONE_MAX}`);
    } else pinnedZone = zv;
  }

  if (c.issues.length > before) return undefined;
  fixedIps.sort(comparePrefix);
  return { id, device, mac, fixedIps, addressPairs, groups: groupList, kind, networkId, host, stateful, pinnedZone };
}

/** The interface name: given, or Neutron's derivation tap + the first 11 characters of the port id. */
function parseDeviceName(c: Collector, { id, path, obj }: RawDevice): string {
  let device = tapDevice(id);
  const dv = obj['device'];
  // Neutron's RPC payload for the hybrid driver gives the port id as `device`: derive the tap.
  const derived = dv === undefined || dv === null || dv === id;
  if (!derived) {
    if (typeof dv !== 'string') c.error('not-a-string', child(path, 'device'), 'must be an interface name');
    else device = dv;
  }
  if (!isInterfaceName(device)) {
    c.error('bad-interface-name', derived ? path : child(path, 'device'), `interface name "${printable(device)}" is not valid (${INTERFACE_NAME_RULE})`);
  }
  return device;
}

/** Host prefixes of the fixed IPs (strings or `{"ip_address": ...}`), duplicates dropped. */
function parseFixedIps(c: Collector, path: string, fv: Json | undefined): Prefix[] {
  const fixedIps: Prefix[] = [];
  if (fv === undefined || fv === null) return fixedIps;
  if (!Array.isArray(fv)) {
    c.error('not-a-list', child(path, 'fixed_ips'), 'must be a list of IP addresses');
    return fixedIps;
  }
  const seen = new Set<string>();
  const scanner = new V6Scanner();
  // A port may have thousands: a plain loop, paths built only for messages.
  for (let i = 0; i < fv.length; i++) {
    const f = fv[i];
    const itemPath = (): string => child(child(path, 'fixed_ips'), i);
    let text: Json | undefined = f;
    if (isObj(f)) {
      c.keys(f, itemPath, FIXED_IP_FIELDS);
      text = f['ip_address'];
    }
    // Parsed as a prefix without a length: the address keeps its canonical text, which the
    // printers then copy instead of formatting the number again, and which keys duplicates.
    const parsed = typeof text === 'string' && !text.includes('/') ? parsePrefix(text, scanner) : undefined;
    if (parsed === undefined || typeof parsed === 'string') c.error('bad-address', isObj(f) ? child(itemPath(), 'ip_address') : itemPath(), `${describe(text)} is not an IP address`);
    else {
      const p = parsed.prefix;
      const k = `${p.family}/${p.text}`;
      if (!seen.has(k)) {
        seen.add(k);
        fixedIps.push(p);
      }
    }
  }
  return fixedIps;
}

/** Allowed address pairs; a pair without a MAC takes the port's. */
function parseAddressPairs(c: Collector, path: string, av: Json | undefined, mac: string): AddressPair[] {
  const addressPairs: AddressPair[] = [];
  if (av === undefined || av === null) return addressPairs;
  if (!Array.isArray(av)) {
    c.error('not-a-list', child(path, 'allowed_address_pairs'), 'must be a list of {"ip_address": ..., "mac_address": ...}');
    return addressPairs;
  }
  // A port may have thousands: a plain loop, paths built only for messages.
  for (let i = 0; i < av.length; i++) {
    const ap = av[i];
    const pp = (): string => child(child(path, 'allowed_address_pairs'), i);
    if (!isObj(ap)) {
      c.error('not-an-object', pp(), 'must be an object {"ip_address": ..., "mac_address": ...}');
      continue;
    }
    c.keys(ap, pp, PAIR_FIELDS);
    const ipv = ap['ip_address'];
    const p = typeof ipv === 'string' ? parsePrefix(ipv) : 'is required: an IP address or prefix';
    if (typeof p === 'string') c.error(ipv === undefined || ipv === null ? 'required' : 'bad-address', child(pp(), 'ip_address'), p);
    const macv = ap['mac_address'];
    let pairMac = mac;
    if (macv !== undefined && macv !== null) {
      const m = typeof macv === 'string' ? parseMac(macv) : undefined;
      if (m === undefined) c.error('bad-mac', child(pp(), 'mac_address'), `${describe(macv)} is not a MAC address`);
      else pairMac = m;
    }
    if (typeof p !== 'string') addressPairs.push({ prefix: p.prefix, mac: pairMac });
  }
  return addressPairs;
}

/** The port's group ids: known, de-duplicated, sorted. */
function parsePortGroups(c: Collector, path: string, gv: Json | undefined, groups: ReadonlyMap<string, SecurityGroup>): string[] {
  const groupList: string[] = [];
  if (gv === undefined || gv === null) return groupList;
  if (!Array.isArray(gv)) {
    c.error('not-a-list', child(path, 'security_groups'), 'must be a list of security group ids');
    return groupList;
  }
  const seen = new Set<string>();
  gv.forEach((g, i) => {
    const gp = child(child(path, 'security_groups'), i);
    if (typeof g !== 'string') c.error('not-a-string', gp, 'must be a security group id');
    else if (!groups.has(g)) c.error('unknown-group', gp, `unknown security group "${printable(g)}" (not in security_groups)`);
    else if (!seen.has(g)) {
      seen.add(g);
      groupList.push(g);
    }
  });
  return groupList.sort(compareStrings);
}
