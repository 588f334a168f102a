/**
 * Parse and validate the Neutron-shaped JSON model and normalise it (see types.ts).
 *
 * Every problem is collected with the JSON path of the offending field; if there is any, a
 * ModelError carrying all of them is thrown and nothing is compiled. Unknown keys: Neutron
 * payloads carry many extra fields (ids, timestamps, descriptions), which are accepted; a key
 * that looks like a misspelling of a model field (edit distance <= 2) is an error, any other
 * unknown key is a warning (diagnostic).
 */
import { CT_ZONE_MAX, IFNAME_MAX, MODEL_ID_MAX } from '../limits.js';
import {
  type Family,
  type Prefix,
  comparePrefix,
  hostPrefix,
  parseAddress,
  parseMac,
  parsePrefix,
  prefixKey,
  printable,
} from '../net/ip.js';
import { AddressList, AddressListBuilder } from '../net/list.js';
import { type Issue, ModelError, child } from './errors.js';
import { tapDevice } from './devices.js';
import { IPV6_ONLY_PROTOCOLS, PROTOCOLS_WITH_PORTS, PROTOCOL_NUMBERS, ICMP, ICMPV6, isIcmp } from './protocols.js';
import type {
  AddressPair,
  Diagnostic,
  Direction,
  FirewallDriver,
  GroupRule,
  Model,
  Port,
  PortKind,
  PortRange,
  Remote,
  RemoteGroupMode,
  SecurityGroup,
} from './types.js';

export interface ParseOptions {
  /** Compile for this host only (devices whose `binding:host_id` equals it). */
  readonly host?: string;
}

/** Ids reach chain names, set names and comments: only this alphabet is accepted. */
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
/** Interface names: no whitespace, `/`, `:` (aliases) or `+` (an iptables wildcard). */
const SAFE_DEVICE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const has = (o: Obj, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k) && o[k] !== undefined;
/** Byte-order string comparison (never locale-dependent). */
export const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

// Fields each object understands, and extra fields of Neutron payloads accepted silently.
const TOP_FIELDS = ['security_groups', 'address_groups', 'sg_member_ips', 'devices', 'options'];
const TOP_EXTRA = ['security_group_source_groups', 'remote_address_group_ids'];
const GROUP_FIELDS = ['stateful', 'rules', 'security_group_rules'];
const GROUP_EXTRA = [
  'id', 'name', 'description', 'tenant_id', 'project_id', 'created_at', 'updated_at',
  'revision_number', 'tags', 'shared', 'standard_attr_id',
];
const RULE_FIELDS = [
  'direction', 'ethertype', 'protocol', 'port_range_min', 'port_range_max', 'remote_ip_prefix',
  'remote_group_id', 'remote_address_group_id', 'source_ip_prefix', 'dest_ip_prefix', 'stateful',
];
const RULE_EXTRA = [
  'id', 'security_group_id', 'tenant_id', 'project_id', 'description', 'created_at', 'updated_at',
  'revision_number', 'tags', 'normalized_cidr', 'belongs_to_default_sg', 'name', 'standard_attr_id',
];
const DEVICE_FIELDS = [
  'device', 'mac_address', 'fixed_ips', 'allowed_address_pairs', 'security_groups',
  'port_security_enabled', 'device_owner', 'network_id', 'binding:host_id', 'conntrack_zone',
];
const DEVICE_EXTRA = [
  'id', 'name', 'tenant_id', 'project_id', 'admin_state_up', 'status', 'description', 'created_at',
  'updated_at', 'revision_number', 'tags', 'extra_dhcp_opts', 'binding:vnic_type', 'binding:profile',
  'binding:vif_type', 'binding:vif_details', 'device_id', 'security_group_rules',
  'security_group_source_groups', 'sg_provider_rules', 'qos_policy_id', 'qos_network_policy_id',
  'dns_name', 'dns_assignment', 'dns_domain', 'ip_allocation', 'propagate_uplink_status',
  'mac_learning_enabled', 'port_security', 'standard_attr_id', 'resource_request', 'numa_affinity_policy',
  'data_plane_status', 'hints', 'trunk_details', 'network_type', 'physical_network', 'segmentation_id',
];
const PAIR_FIELDS = ['ip_address', 'mac_address'];
const FIXED_IP_FIELDS = ['ip_address', 'subnet_id'];
const ADDRESS_GROUP_FIELDS = ['addresses'];
const ADDRESS_GROUP_EXTRA = ['id', 'name', 'description', 'tenant_id', 'project_id', 'created_at', 'updated_at', 'revision_number', 'tags'];
const OPTION_FIELDS = ['firewall_driver', 'enable_ipset'];

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return dp[b.length]!;
}

class Collector {
  readonly issues: Issue[] = [];
  readonly diagnostics: Diagnostic[] = [];
  error(path: string, message: string): void {
    this.issues.push({ path, message });
  }
  warn(path: string, message: string): void {
    this.diagnostics.push({ level: 'warning', path, message });
  }
  /** Check an object's keys against the fields it understands. */
  keys(o: Obj, path: string, fields: readonly string[], extra: readonly string[]): void {
    for (const k of Object.keys(o)) {
      if (fields.includes(k) || extra.includes(k)) continue;
      const near = fields.find((f) => editDistance(k.toLowerCase(), f) <= 2);
      if (near !== undefined) {
        this.error(child(path, k), `unknown field "${printable(k)}" (did you mean "${near}"?)`);
      } else {
        this.warn(child(path, k), `unknown field "${printable(k)}" ignored`);
      }
    }
  }
}

function checkId(c: Collector, path: string, id: string, what: string): boolean {
  if (id.length === 0 || id.length > MODEL_ID_MAX || !SAFE_ID.test(id)) {
    c.error(
      path,
      `${what} "${printable(id)}" is not a valid id (1 to ${MODEL_ID_MAX} characters: letters, digits, ".", "_", ":", "-", starting with a letter or digit)`,
    );
    return false;
  }
  return true;
}

function ethertypeFamily(v: Json | undefined): Family | undefined {
  if (typeof v !== 'string') return undefined;
  const l = v.toLowerCase();
  return l === 'ipv4' ? 4 : l === 'ipv6' ? 6 : undefined;
}

/** Integers, or strings of digits (Neutron's API converts them). */
function intValue(v: Json | undefined): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^[0-9]{1,6}$/.test(v)) return Number(v);
  return undefined;
}

interface RawDevice {
  readonly id: string;
  readonly path: string;
  readonly obj: Obj;
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
  if (!isObj(input)) throw new ModelError([{ path: '$', message: 'the model must be a JSON object' }]);
  c.keys(input, '$', TOP_FIELDS, TOP_EXTRA);

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
    if (!isObj(v)) c.error(child('$', k), 'must be an object keyed by id');
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
    const g = parseGroup(c, id, sgObj[id]!, groupIds, memberGroupIds, addressGroupIds);
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
    c.warn(path, `member ${family === 4 ? '0.0.0.0/0' : '::/0'} of group "${group}" opens every rule that references the group to all addresses`);
  for (const id of memberGroupIds) parseMemberIps(c, id, memberObj[id]!, membersOf(id), warnZeroLength);

  const rawDevices: RawDevice[] = [];
  for (const id of Object.keys(devObj)) {
    const path = child('$.devices', id);
    if (!checkId(c, path, id, 'port id')) continue;
    const obj = devObj[id];
    if (!isObj(obj)) {
      c.error(path, 'must be an object');
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

/**
 * The model as one host sees it: only the devices bound to `host` (all of them without a host)
 * are local ports; every device still counted as a member of its groups. Checks what must be
 * unique on one host: device names and pinned conntrack zones.
 */
export function selectHost(cloud: CloudModel, host: string | undefined): Model {
  const c = new Collector();
  let candidates = cloud.ports;
  if (host !== undefined) {
    for (const port of cloud.unboundPorts) {
      c.error(child(child('$.devices', port.id), 'binding:host_id'), `is required when compiling for a host (--host ${printable(host)})`);
    }
    candidates = cloud.portsByHost.get(host) ?? [];
  }
  const devicesSeen = new Map<string, string>();
  const zonesSeen = new Map<number, string>();
  const ports: Port[] = [];
  for (const port of candidates) {
    // Built only for a message: this loop runs for every port of every host compiled.
    const path = (): string => child('$.devices', port.id);
    const other = devicesSeen.get(port.device);
    if (other !== undefined) {
      const given = cloud.namedDevices.has(port.id);
      c.error(
        given ? child(path(), 'device') : path(),
        `device name "${port.device}"${given ? '' : ' (derived from the port id)'} is already used by port "${other}"`,
      );
    } else devicesSeen.set(port.device, port.id);
    if (port.pinnedZone !== undefined) {
      const z = zonesSeen.get(port.pinnedZone);
      if (z !== undefined) c.error(child(path(), 'conntrack_zone'), `zone ${port.pinnedZone} is already pinned by port "${z}"`);
      else zonesSeen.set(port.pinnedZone, port.id);
    }
    ports.push(port);
  }
  if (c.issues.length > 0) throw new ModelError(c.issues);
  const { groups, addressGroups, members, options, diagnostics } = cloud;
  return { groups, addressGroups, members, ports, options, diagnostics };
}

function parseOptions(c: Collector, v: Json | undefined): Model['options'] {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) {
    c.error('$.options', 'must be an object');
    return {};
  }
  c.keys(v, '$.options', OPTION_FIELDS, []);
  let driver: FirewallDriver | undefined;
  let remoteGroups: RemoteGroupMode | undefined;
  const d = v['firewall_driver'];
  if (d !== undefined && d !== null) {
    if (d === 'iptables_hybrid' || d === 'hybrid') driver = 'hybrid';
    else if (d === 'iptables' || d === 'linuxbridge') driver = 'linuxbridge';
    else c.error('$.options.firewall_driver', 'must be "iptables_hybrid" (or "hybrid") or "iptables" (or "linuxbridge")');
  }
  const e = v['enable_ipset'];
  if (e !== undefined && e !== null) {
    if (typeof e !== 'boolean') c.error('$.options.enable_ipset', 'must be true or false');
    else remoteGroups = e ? 'ipset' : 'expanded';
  }
  return { ...(driver && { driver }), ...(remoteGroups && { remoteGroups }) };
}

function parseAddressGroup(c: Collector, path: string, v: Json): AddressList {
  let list: Json | undefined = v;
  if (isObj(v)) {
    c.keys(v, path, ADDRESS_GROUP_FIELDS, ADDRESS_GROUP_EXTRA);
    list = v['addresses'];
    path = child(path, 'addresses');
  }
  if (!Array.isArray(list)) {
    c.error(path, 'must be a list of IP addresses or prefixes');
    return AddressList.EMPTY;
  }
  const out = new AddressListBuilder();
  list.forEach((a, i) => {
    const f = typeof a === 'string' ? out.scan(a) : 'must be an IP address or prefix string';
    if (typeof f === 'string') c.error(child(path, i), f);
    else out.commit();
  });
  return out.build();
}

function parseGroup(
  c: Collector,
  id: string,
  v: Json,
  groupIds: ReadonlySet<string>,
  memberGroupIds: ReadonlySet<string>,
  addressGroupIds: ReadonlySet<string>,
): SecurityGroup | undefined {
  const path = child('$.security_groups', id);
  let rulesJson: Json | undefined;
  let rulesPath: string;
  let stateful: boolean | undefined;
  if (Array.isArray(v)) {
    // Neutron's RPC form: the group is its list of rule dicts, `stateful` on each rule.
    rulesJson = v;
    rulesPath = path;
  } else if (isObj(v)) {
    c.keys(v, path, GROUP_FIELDS, GROUP_EXTRA);
    const key = has(v, 'rules') ? 'rules' : 'security_group_rules';
    rulesJson = v[key] ?? [];
    rulesPath = child(path, key);
    const s = v['stateful'];
    if (s !== undefined && s !== null) {
      if (typeof s !== 'boolean') c.error(child(path, 'stateful'), 'must be true or false');
      else stateful = s;
    }
  } else {
    c.error(path, 'must be an object ({"stateful": ..., "rules": [...]}) or a list of rules');
    return undefined;
  }
  if (!Array.isArray(rulesJson)) {
    c.error(rulesPath, 'must be a list of rules');
    return undefined;
  }
  const rules: GroupRule[] = [];
  const seen = new Set<string>();
  let ruleStateful: boolean | undefined;
  rulesJson.forEach((r, i) => {
    const rp = child(rulesPath, i);
    if (!isObj(r)) {
      c.error(rp, 'must be an object');
      return;
    }
    const s = r['stateful'];
    if (s !== undefined && s !== null) {
      if (typeof s !== 'boolean') c.error(child(rp, 'stateful'), 'must be true or false');
      else if (stateful !== undefined && s !== stateful) c.error(child(rp, 'stateful'), `contradicts the group's "stateful": ${stateful}`);
      else if (ruleStateful !== undefined && s !== ruleStateful) c.error(child(rp, 'stateful'), 'rules of one group must agree on "stateful"');
      else ruleStateful = s;
    }
    const rule = parseRule(c, rp, r, { group: id, index: i }, groupIds, memberGroupIds, addressGroupIds);
    if (!rule) return;
    // Neutron collapses identical rules of a group; keep the first.
    const key = ruleKey(rule);
    if (seen.has(key)) return;
    seen.add(key);
    rules.push(rule);
  });
  // All group rules allow, so their order carries no meaning: sort them for byte-identical
  // output whatever order they arrive in (the origin index still names the input position).
  rules.sort(compareRules);
  return { id, stateful: stateful ?? ruleStateful ?? true, rules };
}

const REMOTE_ORDER = { any: 0, prefix: 1, group: 2, addressGroup: 3 } as const;

function compareRules(a: GroupRule, b: GroupRule): number {
  const num = (x: number | undefined): number => (x === undefined ? -1 : x);
  return (
    a.family - b.family ||
    compareStrings(a.direction, b.direction) ||
    REMOTE_ORDER[a.remote.kind] - REMOTE_ORDER[b.remote.kind] ||
    (a.remote.kind === 'prefix' && b.remote.kind === 'prefix' ? comparePrefix(a.remote.prefix, b.remote.prefix) : 0) ||
    ('id' in a.remote && 'id' in b.remote ? compareStrings(a.remote.id, b.remote.id) : 0) ||
    num(a.protocol) - num(b.protocol) ||
    num(a.ports?.min) - num(b.ports?.min) ||
    num(a.ports?.max) - num(b.ports?.max) ||
    num(a.icmp?.type) - num(b.icmp?.type) ||
    num(a.icmp?.code) - num(b.icmp?.code)
  );
}

function ruleKey(r: GroupRule): string {
  const remote =
    r.remote.kind === 'prefix' ? prefixKey(r.remote.prefix) : r.remote.kind === 'any' ? '' : `${r.remote.kind}:${r.remote.id}`;
  return [r.direction, r.family, r.protocol ?? '', r.ports?.min ?? '', r.ports?.max ?? '', r.icmp?.type ?? '', r.icmp?.code ?? '', remote].join('|');
}

function parseRule(
  c: Collector,
  path: string,
  r: Obj,
  origin: { group: string; index: number },
  groupIds: ReadonlySet<string>,
  memberGroupIds: ReadonlySet<string>,
  addressGroupIds: ReadonlySet<string>,
): GroupRule | undefined {
  c.keys(r, path, RULE_FIELDS, RULE_EXTRA);
  const before = c.issues.length;

  const dir = r['direction'];
  let direction: Direction = 'ingress';
  if (dir === 'ingress' || dir === 'egress') direction = dir;
  else c.error(child(path, 'direction'), dir === undefined ? 'is required ("ingress" or "egress")' : 'must be "ingress" or "egress"');

  let family: Family = 4;
  if (has(r, 'ethertype') && r['ethertype'] !== null) {
    const f = ethertypeFamily(r['ethertype']);
    if (f === undefined) c.error(child(path, 'ethertype'), 'must be "IPv4" or "IPv6"');
    else family = f;
  }

  // Protocol: a name, a number 0..255 or a string of one; none, "any", 0, "ip", "hopopt" = any.
  let protocol: number | undefined;
  const pv = r['protocol'];
  if (pv !== undefined && pv !== null && pv !== '') {
    const asInt = intValue(pv);
    if (asInt !== undefined) {
      if (asInt > 255) c.error(child(path, 'protocol'), `${asInt} is not an IP protocol number (0 to 255)`);
      else protocol = asInt;
    } else if (typeof pv === 'string' && Object.prototype.hasOwnProperty.call(PROTOCOL_NUMBERS, pv.toLowerCase())) {
      protocol = PROTOCOL_NUMBERS[pv.toLowerCase()];
    } else {
      c.error(child(path, 'protocol'), `"${printable(String(pv))}" is not a known protocol (a name such as tcp, udp, icmp, ipv6-icmp, or a number 0 to 255)`);
    }
  }
  if (protocol === 0) protocol = undefined;
  if (family === 6 && protocol === ICMP) protocol = ICMPV6;
  if (family === 4 && protocol !== undefined && IPV6_ONLY_PROTOCOLS.has(protocol)) {
    c.error(child(path, 'protocol'), `protocol ${printable(String(pv))} exists only in IPv6 but the rule's ethertype is IPv4`);
  }

  // Ports (or ICMP type/code).
  const minV = r['port_range_min'];
  const maxV = r['port_range_max'];
  const min = minV === undefined || minV === null ? undefined : intValue(minV);
  const max = maxV === undefined || maxV === null ? undefined : intValue(maxV);
  if (minV !== undefined && minV !== null && min === undefined) c.error(child(path, 'port_range_min'), 'must be an integer');
  if (maxV !== undefined && maxV !== null && max === undefined) c.error(child(path, 'port_range_max'), 'must be an integer');
  let ports: PortRange | undefined;
  let icmp: GroupRule['icmp'];
  const hasPorts = min !== undefined || max !== undefined;
  if (hasPorts) {
    if (protocol === undefined) {
      c.error(child(path, min !== undefined ? 'port_range_min' : 'port_range_max'), 'a port range needs a protocol with ports (tcp, udp, sctp, dccp, udplite) or icmp');
    } else if (isIcmp(protocol)) {
      if (min === undefined) c.error(child(path, 'port_range_max'), 'an ICMP code (port_range_max) needs an ICMP type (port_range_min)');
      else if (min > 255) c.error(child(path, 'port_range_min'), `ICMP type ${min} is greater than 255`);
      else if (max !== undefined && max > 255) c.error(child(path, 'port_range_max'), `ICMP code ${max} is greater than 255`);
      else if (min === 255 && max === undefined) icmp = undefined; // type 255 with no code: Neutron means any ICMP
      else if (min === 255) c.error(child(path, 'port_range_min'), 'ICMP type 255 means "any type" to iptables and cannot take a code');
      else icmp = { type: min, code: max };
    } else if (PROTOCOLS_WITH_PORTS.has(protocol)) {
      if (min === undefined) c.error(child(path, 'port_range_max'), 'port_range_max needs port_range_min');
      else {
        const hi = max ?? min;
        if (min < 1 || min > 65535) c.error(child(path, 'port_range_min'), `port ${min} is outside 1 to 65535`);
        else if (hi < 1 || hi > 65535) c.error(child(path, 'port_range_max'), `port ${hi} is outside 1 to 65535`);
        else if (min > hi) c.error(child(path, 'port_range_min'), `port_range_min ${min} is greater than port_range_max ${hi}`);
        else if (!(min === 1 && hi === 65535)) ports = { min, max: hi };
      }
    } else {
      c.error(child(path, min !== undefined ? 'port_range_min' : 'port_range_max'), `a port range is not allowed with protocol ${printable(String(pv))}, which has no ports`);
    }
  }

  // Remote: at most one of a prefix, a group, an address group.
  const prefixFields = ['remote_ip_prefix', 'source_ip_prefix', 'dest_ip_prefix'].filter((k) => has(r, k) && r[k] !== null);
  const remoteFields = [...prefixFields, ...['remote_group_id', 'remote_address_group_id'].filter((k) => has(r, k) && r[k] !== null)];
  let remote: Remote = { kind: 'any' };
  if (remoteFields.length > 1) {
    c.error(child(path, remoteFields[1]!), `only one of ${remoteFields.join(', ')} may be set`);
  } else if (prefixFields.length === 1) {
    const k = prefixFields[0]!;
    if (k === 'source_ip_prefix' && direction !== 'ingress') c.error(child(path, k), 'source_ip_prefix is only valid on ingress rules (use dest_ip_prefix)');
    if (k === 'dest_ip_prefix' && direction !== 'egress') c.error(child(path, k), 'dest_ip_prefix is only valid on egress rules (use source_ip_prefix)');
    const v = r[k];
    const p = typeof v === 'string' ? parsePrefix(v) : 'must be an IP address or prefix string';
    if (typeof p === 'string') c.error(child(path, k), p);
    else if (p.prefix.family !== family) {
      c.error(child(path, k), `${printable(v as string)} is an IPv${p.prefix.family} prefix but the rule's ethertype is IPv${family}`);
    } else if (p.prefix.len > 0) remote = { kind: 'prefix', prefix: p.prefix };
  } else if (has(r, 'remote_group_id') && r['remote_group_id'] !== null) {
    const g = r['remote_group_id'];
    if (typeof g !== 'string') c.error(child(path, 'remote_group_id'), 'must be a security group id');
    else if (!groupIds.has(g) && !memberGroupIds.has(g)) c.error(child(path, 'remote_group_id'), `unknown remote group "${printable(g)}" (not in security_groups or sg_member_ips)`);
    else remote = { kind: 'group', id: g };
  } else if (has(r, 'remote_address_group_id') && r['remote_address_group_id'] !== null) {
    const g = r['remote_address_group_id'];
    if (typeof g !== 'string') c.error(child(path, 'remote_address_group_id'), 'must be an address group id');
    else if (!addressGroupIds.has(g)) c.error(child(path, 'remote_address_group_id'), `unknown address group "${printable(g)}" (not in address_groups)`);
    else remote = { kind: 'addressGroup', id: g };
  }

  if (c.issues.length > before) return undefined;
  const id = typeof r['id'] === 'string' && SAFE_ID.test(r['id']) && r['id'].length <= MODEL_ID_MAX ? r['id'] : undefined;
  return { direction, family, protocol, ports, icmp, remote, origin: { ...origin, id } };
}

function parseMemberIps(
  c: Collector,
  group: string,
  v: Json,
  out: AddressListBuilder,
  warnZeroLength: (group: string, family: Family, path: string) => void,
): void {
  const path = child('$.sg_member_ips', group);
  if (!isObj(v)) {
    c.error(path, 'must be an object {"IPv4": [...], "IPv6": [...]}');
    return;
  }
  for (const [k, list] of Object.entries(v)) {
    const kp = child(path, k);
    const family = ethertypeFamily(k);
    if (family === undefined) {
      c.error(kp, 'member lists are keyed by ethertype: "IPv4" or "IPv6"');
      continue;
    }
    if (!Array.isArray(list)) {
      c.error(kp, 'must be a list of members ("ip" or ["ip", "mac"])');
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
          c.error(child(kp, i), 'a member is "ip" or ["ip", "mac"] with a valid MAC address');
          continue;
        }
      }
      const f = typeof ipText === 'string' ? out.scan(ipText) : 'must be an IP address or prefix';
      if (typeof f === 'string') c.error(memberPath(kp, i, pair), f);
      else if (f !== family) c.error(memberPath(kp, i, pair), `${printable(ipText as string)} is not an IPv${family} address`);
      else {
        if (out.pendingLength === 0) warnZeroLength(group, family, memberPath(kp, i, pair));
        out.commit();
      }
    }
  }
}

/** Path of a member's address: the list item, or the first element of an ["ip", "mac"] item. */
const memberPath = (list: string, i: number, pair: boolean): string => (pair ? child(child(list, i), 0) : child(list, i));

function parseDevice(
  c: Collector,
  raw: RawDevice,
  groups: ReadonlyMap<string, SecurityGroup>,
): Port | undefined {
  const { id, path, obj } = raw;
  c.keys(obj, path, DEVICE_FIELDS, DEVICE_EXTRA);
  const before = c.issues.length;

  // Interface name: given, or Neutron's derivation tap + the first 11 characters of the port id.
  let device = tapDevice(id);
  const dv = obj['device'];
  // Neutron's RPC payload for the hybrid driver gives the port id as `device`: derive the tap.
  if (dv !== undefined && dv !== null && dv !== id) {
    if (typeof dv !== 'string') c.error(child(path, 'device'), 'must be an interface name');
    else device = dv;
  }
  if (device.length > IFNAME_MAX || !SAFE_DEVICE.test(device)) {
    c.error(
      dv === undefined || dv === null || dv === id ? path : child(path, 'device'),
      `interface name "${printable(device)}" is not valid (1 to ${IFNAME_MAX} characters: letters, digits, "_", ".", "-")`,
    );
  }

  const owner = obj['device_owner'];
  if (owner !== undefined && owner !== null && typeof owner !== 'string') c.error(child(path, 'device_owner'), 'must be a string');
  const trusted = typeof owner === 'string' && owner.startsWith('network:');

  const pse = obj['port_security_enabled'];
  let portSecurity = true;
  if (pse !== undefined && pse !== null) {
    if (typeof pse !== 'boolean') c.error(child(path, 'port_security_enabled'), 'must be true or false');
    else portSecurity = pse;
  }

  let mac = '';
  const mv = obj['mac_address'];
  if (typeof mv === 'string' && parseMac(mv) !== undefined) mac = parseMac(mv)!;
  else if (mv !== undefined && mv !== null) c.error(child(path, 'mac_address'), `"${printable(String(mv))}" is not a MAC address`);
  else if (portSecurity && !trusted) c.error(child(path, 'mac_address'), 'is required for a port with port security');

  const fixedIps: Prefix[] = [];
  const fv = obj['fixed_ips'] ?? [];
  if (!Array.isArray(fv)) c.error(child(path, 'fixed_ips'), 'must be a list of IP addresses');
  else {
    const seen = new Set<string>();
    fv.forEach((f, i) => {
      let fp = child(child(path, 'fixed_ips'), i);
      let text: Json | undefined = f;
      if (isObj(f)) {
        c.keys(f, fp, FIXED_IP_FIELDS, []);
        text = f['ip_address'];
        fp = child(fp, 'ip_address');
      }
      const a = typeof text === 'string' ? parseAddress(text) : undefined;
      if (!a) c.error(fp, `"${printable(String(text))}" is not an IP address`);
      else {
        const p = hostPrefix(a.family, a.addr);
        const k = prefixKey(p);
        if (!seen.has(k)) fixedIps.push(p);
        seen.add(k);
      }
    });
  }

  const addressPairs: AddressPair[] = [];
  const av = obj['allowed_address_pairs'] ?? [];
  if (!Array.isArray(av)) c.error(child(path, 'allowed_address_pairs'), 'must be a list of {"ip_address": ..., "mac_address": ...}');
  else {
    av.forEach((ap, i) => {
      const pp = child(child(path, 'allowed_address_pairs'), i);
      if (!isObj(ap)) {
        c.error(pp, 'must be an object {"ip_address": ..., "mac_address": ...}');
        return;
      }
      c.keys(ap, pp, PAIR_FIELDS, []);
      const ipv = ap['ip_address'];
      const p = typeof ipv === 'string' ? parsePrefix(ipv) : 'is required: an IP address or prefix';
      if (typeof p === 'string') c.error(child(pp, 'ip_address'), p);
      const macv = ap['mac_address'];
      let pairMac = mac;
      if (macv !== undefined && macv !== null) {
        const m = typeof macv === 'string' ? parseMac(macv) : undefined;
        if (m === undefined) c.error(child(pp, 'mac_address'), `"${printable(String(macv))}" is not a MAC address`);
        else pairMac = m;
      }
      if (typeof p !== 'string') addressPairs.push({ prefix: p.prefix, mac: pairMac });
    });
  }

  const groupList: string[] = [];
  const gv = obj['security_groups'] ?? [];
  if (!Array.isArray(gv)) c.error(child(path, 'security_groups'), 'must be a list of security group ids');
  else {
    gv.forEach((g, i) => {
      const gp = child(child(path, 'security_groups'), i);
      if (typeof g !== 'string') c.error(gp, 'must be a security group id');
      else if (!groups.has(g)) c.error(gp, `unknown security group "${printable(g)}" (not in security_groups)`);
      else if (!groupList.includes(g)) groupList.push(g);
    });
  }
  groupList.sort(compareStrings);

  if (!portSecurity && groupList.length > 0) {
    c.error(child(path, 'security_groups'), 'a port with port_security_enabled false cannot have security groups');
  }
  if (!portSecurity && addressPairs.length > 0) {
    c.error(child(path, 'allowed_address_pairs'), 'a port with port_security_enabled false cannot have allowed address pairs');
  }

  // Stateful unless its groups are stateless; Neutron's API refuses a mix, and so do we.
  const statefulness = new Set(groupList.map((g) => groups.get(g)?.stateful ?? true));
  if (statefulness.size > 1) c.error(child(path, 'security_groups'), 'a port cannot mix stateful and stateless security groups');
  const stateful = statefulness.size === 0 || statefulness.has(true);

  let networkId: string | undefined;
  const nv = obj['network_id'];
  if (nv !== undefined && nv !== null) {
    if (typeof nv === 'string' && checkId(c, child(path, 'network_id'), nv, 'network id')) networkId = nv;
    else if (typeof nv !== 'string') c.error(child(path, 'network_id'), 'must be a network id');
  }
  const kind: PortKind = !portSecurity ? 'portSecurityDisabled' : trusted ? 'trusted' : 'filtered';

  let host: string | undefined;
  const hv = obj['binding:host_id'];
  if (hv !== undefined && hv !== null && hv !== '') {
    if (typeof hv !== 'string') c.error(child(path, 'binding:host_id'), 'must be a host name');
    else host = hv;
  }

  let pinnedZone: number | undefined;
  const zv = obj['conntrack_zone'];
  if (zv !== undefined && zv !== null) {
    if (typeof zv !== 'number' || !Number.isInteger(zv) || zv < 1 || zv > CT_ZONE_MAX) {
      c.error(child(path, 'conntrack_zone'), `must be an integer from 1 to ${CT_ZONE_MAX}`);
    } else pinnedZone = zv;
  }

  if (c.issues.length > before) return undefined;
  fixedIps.sort(comparePrefix);
  return { id, device, mac, fixedIps, addressPairs, groups: groupList, kind, networkId, host, stateful, pinnedZone };
}

