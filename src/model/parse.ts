/**
 * Parse and validate the Neutron-shaped JSON model and normalise it (see types.ts): this file
 * assembles the cloud model from the parsers of each kind of object (group.ts, port.ts,
 * addresses.ts) and hands it to selectHost (select-host.ts) for one host.
 *
 * Every problem is collected with the JSON path of the offending field; if there is any, a
 * ModelError carrying all of them is thrown and nothing is compiled. Unknown keys: Neutron
 * payloads carry many extra fields (ids, timestamps, descriptions), which are accepted; a key
 * that looks like a misspelling of a model field (edit distance <= 2) is an error, any other
 * unknown key is a warning (diagnostic); see fields.ts.
 */
import type { Family } from '../net/ip.js';
import { type AddressList, AddressListBuilder } from '../net/list.js';
import { compareStrings } from '../compare.js';
import { parseAddressGroup, parseMemberIps } from './addresses.js';
import { ModelError, child } from './errors.js';
import { OPTION_FIELDS, TOP_FIELDS } from './fields.js';
import { parseGroup } from './group.js';
import { Collector, type Json, checkId, isObj } from './input.js';
import { type RawDevice, parseDevice } from './port.js';
import { selectHost } from './select-host.js';
import type { FirewallDriver, Model, Port, RemoteGroupMode, SecurityGroup } from './types.js';

export interface ParseOptions {
  /** Compile for this host only (devices whose `binding:host_id` equals it). */
  readonly host?: string;
}

/** Parse and validate a model, keeping the devices of the chosen host (all without `host`). */
export function parseModel(input: unknown, options: ParseOptions = {}): Model {
  return selectHost(parseCloud(input), options.host);
}

/**
 * A parsed model with every device of the cloud: parse once, then `selectHost` for each host
 * (a cloud-wide model compiled for 100 hosts is parsed once, not 100 times).
 */
export interface CloudModel extends Model {
  /** Ports whose `device` name was given, not derived from the port id (for error messages). */
  readonly namedDevices: ReadonlySet<string>;
  /** Ports by `binding:host_id`, in port order: selectHost looks at one host's ports only. */
  readonly portsByHost: ReadonlyMap<string, readonly Port[]>;
  /** Ports without `binding:host_id` (an error when compiling for a host). */
  readonly unboundPorts: readonly Port[];
}

/** Validate one whole cloud model; every device is in `ports`. */
export function parseCloud(input: unknown): CloudModel {
  const c = new Collector();
  if (!isObj(input)) throw new ModelError([{ code: 'not-an-object', path: '$', message: 'the model must be a JSON object' }]);
  c.keys(input, '$', TOP_FIELDS);

  const modelOptions = parseOptions(c, input['options']);
  const sgInput = input['security_groups'] ?? {};
  const agInput = input['address_groups'] ?? {};
  const memberInput = input['sg_member_ips'] ?? {};
  const devInput = input['devices'] ?? {};
  for (const [k, v] of [
    ['security_groups', sgInput],
    ['address_groups', agInput],
    ['sg_member_ips', memberInput],
    ['devices', devInput],
  ] as const) {
    if (!isObj(v)) c.error('not-an-object', child('$', k), 'must be an object keyed by id');
  }
  const sgObj = isObj(sgInput) ? sgInput : {};
  const agObj = isObj(agInput) ? agInput : {};
  const memberObj = isObj(memberInput) ? memberInput : {};
  const devObj = isObj(devInput) ? devInput : {};

  // Ids first: rules and devices refer to them.
  const groupIds = new Set<string>();
  for (const id of Object.keys(sgObj)) if (checkId(c, child('$.security_groups', id), id, 'security group id')) groupIds.add(id);
  const memberGroupIds = new Set<string>();
  for (const id of Object.keys(memberObj)) if (checkId(c, child('$.sg_member_ips', id), id, 'security group id')) memberGroupIds.add(id);
  const addressGroupIds = new Set<string>();
  for (const id of Object.keys(agObj)) if (checkId(c, child('$.address_groups', id), id, 'address group id')) addressGroupIds.add(id);

  const addressGroups = new Map<string, AddressList>();
  for (const id of [...addressGroupIds].sort(compareStrings)) {
    addressGroups.set(id, parseAddressGroup(c, child('$.address_groups', id), agObj[id]!));
  }

  const groups = new Map<string, SecurityGroup>();
  for (const id of [...groupIds].sort(compareStrings)) {
    const g = parseGroup(c, id, sgObj[id]!, { groups: groupIds, memberGroups: memberGroupIds, addressGroups: addressGroupIds });
    if (g) groups.set(id, g);
  }

  // Members from sg_member_ips, then from every device of each group.
  const memberLists = new Map<string, AddressListBuilder>();
  const membersOf = (group: string): AddressListBuilder => {
    let b = memberLists.get(group);
    if (!b) memberLists.set(group, (b = new AddressListBuilder()));
    return b;
  };
  const warnZeroLength = (group: string, family: Family, path: string): void =>
    c.warn('any-address-member', path, `member ${family === 4 ? '0.0.0.0/0' : '::/0'} of group "${group}" opens every rule that references the group to all addresses`);
  for (const id of memberGroupIds) parseMemberIps(c, id, memberObj[id]!, membersOf(id), warnZeroLength);

  const rawDevices: RawDevice[] = [];
  for (const id of Object.keys(devObj)) {
    const path = child('$.devices', id);
    if (!checkId(c, path, id, 'port id')) continue;
    const obj = devObj[id];
    if (!isObj(obj)) {
      c.error('not-an-object', path, 'must be an object');
      continue;
    }
    rawDevices.push({ id, path, obj });
  }
  rawDevices.sort((a, b) => compareStrings(a.id, b.id));

  const ports: Port[] = [];
  const namedDevices = new Set<string>();
  for (const raw of rawDevices) {
    const port = parseDevice(c, raw, groups);
    if (!port) continue;
    for (const g of port.groups) {
      const b = membersOf(g);
      port.fixedIps.forEach((p, i) => {
        if (p.len === 0) warnZeroLength(g, p.family, child(child(raw.path, 'fixed_ips'), i));
        b.addPrefix(p);
      });
      port.addressPairs.forEach((ap, i) => {
        if (ap.prefix.len === 0) warnZeroLength(g, ap.prefix.family, child(child(child(raw.path, 'allowed_address_pairs'), i), 'ip_address'));
        b.addPrefix(ap.prefix);
      });
    }
    if (typeof raw.obj['device'] === 'string' && raw.obj['device'] !== raw.id) namedDevices.add(port.id);
    ports.push(port);
  }

  if (c.issues.length > 0) throw new ModelError(c.issues);

  const members = new Map<string, AddressList>();
  for (const id of [...memberLists.keys()].sort(compareStrings)) members.set(id, memberLists.get(id)!.build());

  const portsByHost = new Map<string, Port[]>();
  const unboundPorts: Port[] = [];
  for (const p of ports) {
    if (p.host === undefined) {
      unboundPorts.push(p);
      continue;
    }
    const l = portsByHost.get(p.host);
    if (l) l.push(p);
    else portsByHost.set(p.host, [p]);
  }
  return { groups, addressGroups, members, ports, options: modelOptions, diagnostics: c.diagnostics, namedDevices, portsByHost, unboundPorts };
}

export function parseOptions(c: Collector, v: Json | undefined): Model['options'] {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) {
    c.error('not-an-object', '$.options', 'must be an object');
    return {};
  }
  c.keys(v, '$.options', OPTION_FIELDS);
  let driver: FirewallDriver | undefined;
  let remoteGroups: RemoteGroupMode | undefined;
  const d = v['firewall_driver'];
  if (d !== undefined && d !== null) {
    if (d === 'iptables_hybrid' || d === 'hybrid') driver = 'hybrid';
    else if (d === 'iptables' || d === 'linuxbridge') driver = 'linuxbridge';
    else c.error('bad-value', '$.options.firewall_driver', 'must be "iptables_hybrid" (or "hybrid") or "iptables" (or "linuxbridge")');
  }
  const e = v['enable_ipset'];
  if (e !== undefined && e !== null) {
    if (typeof e !== 'boolean') c.error('not-a-boolean', '$.options.enable_ipset', 'must be true or false');
    else remoteGroups = e ? 'ipset' : 'expanded';
  }
  return { ...(driver && { driver }), ...(remoteGroups && { remoteGroups }) };
}
