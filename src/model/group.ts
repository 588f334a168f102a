/**
 * One security group and its rules: Neutron's API normalisation applied once (protocols are
 * numbers, "any port" is absent, prefixes are networks), identical rules collapsed, rules sorted.
 */
import { MODEL_ID_MAX } from '../limits.js';
import { type Family, comparePrefix, parsePrefix, prefixKey, printable } from '../net/ip.js';
import { compareStrings } from '../compare.js';
import { child } from './errors.js';
import { GROUP_FIELDS, RULE_FIELDS } from './fields.js';
import { type Collector, type Json, type Obj, SAFE_ID, describe, ethertypeFamily, has, inRange, intValue, isObj } from './input.js';
import { IPV6_ONLY_PROTOCOLS, PROTOCOLS_WITH_PORTS, PROTOCOL_NUMBERS, ICMP, ICMPV6, isIcmp } from './protocols.js';
import type { Direction, GroupRule, PortRange, Remote, SecurityGroup } from './types.js';

/** The ids a rule may refer to. */
export interface KnownIds {
  /** Groups of `security_groups`. */
  readonly groups: ReadonlySet<string>;
  /** Groups of `sg_member_ips` (remote groups may live only there). */
  readonly memberGroups: ReadonlySet<string>;
  readonly addressGroups: ReadonlySet<string>;
}

export function parseGroup(c: Collector, id: string, v: Json, ids: KnownIds): SecurityGroup | undefined {
  const path = child('$.security_groups', id);
  let rulesJson: Json | undefined;
  let rulesPath: string;
  let stateful: boolean | undefined;
  if (Array.isArray(v)) {
    // Neutron's RPC form: the group is its list of rule dicts, `stateful` on each rule.
    rulesJson = v;
    rulesPath = path;
  } else if (isObj(v)) {
    c.keys(v, path, GROUP_FIELDS);
    const key = has(v, 'rules') ? 'rules' : 'security_group_rules';
    rulesJson = v[key] ?? [];
    rulesPath = child(path, key);
    const s = v['stateful'];
    if (s !== undefined && s !== null) {
      if (typeof s !== 'boolean') c.error('not-a-boolean', child(path, 'stateful'), 'must be true or false');
      else stateful = s;
    }
  } else {
    c.error('not-an-object', path, 'must be an object ({"stateful": ..., "rules": [...]}) or a list of rules');
    return undefined;
  }
  if (!Array.isArray(rulesJson)) {
    c.error('not-a-list', rulesPath, 'must be a list of rules');
    return undefined;
  }
  const rules: GroupRule[] = [];
  const seen = new Set<string>();
  let ruleStateful: boolean | undefined;
  rulesJson.forEach((r, i) => {
    const rp = child(rulesPath, i);
    if (!isObj(r)) {
      c.error('not-an-object', rp, 'must be an object');
      return;
    }
    const s = r['stateful'];
    if (s !== undefined && s !== null) {
      if (typeof s !== 'boolean') c.error('not-a-boolean', child(rp, 'stateful'), 'must be true or false');
      else if (stateful !== undefined && s !== stateful) c.error('mixed-stateful', child(rp, 'stateful'), `contradicts the group's "stateful": ${stateful}`);
      else if (ruleStateful !== undefined && s !== ruleStateful) c.error('mixed-stateful', child(rp, 'stateful'), 'rules of one group must agree on "stateful"');
      else ruleStateful = s;
    }
    const rule = parseRule(c, rp, r, { group: id, index: i }, ids);
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

function parseRule(c: Collector, path: string, r: Obj, origin: { group: string; index: number }, ids: KnownIds): GroupRule | undefined {
  c.keys(r, path, RULE_FIELDS);
  const before = c.issues.length;

  const dir = r['direction'];
  let direction: Direction = 'ingress';
  if (dir === 'ingress' || dir === 'egress') direction = dir;
  else if (dir === undefined) c.error('required', child(path, 'direction'), 'is required ("ingress" or "egress")');
  else c.error('bad-value', child(path, 'direction'), 'must be "ingress" or "egress"');

  let family: Family = 4;
  if (has(r, 'ethertype') && r['ethertype'] !== null) {
    const f = ethertypeFamily(r['ethertype']);
    if (f === undefined) c.error('bad-value', child(path, 'ethertype'), 'must be "IPv4" or "IPv6"');
    else family = f;
  }

  const protocol = parseProtocol(c, path, r['protocol'], family);
  const { ports, icmp } = parsePortRange(c, path, r, protocol);
  const remote = parseRemote(c, path, r, direction, family, ids);

  if (c.issues.length > before) return undefined;
  const id = typeof r['id'] === 'string' && SAFE_ID.test(r['id']) && r['id'].length <= MODEL_ID_MAX ? r['id'] : undefined;
  return { direction, family, protocol, ports, icmp, remote, origin: { ...origin, id } };
}

/** A name, a number 0..255 or a string of one; none, "any", 0, "ip", "hopopt" = any (undefined). */
function parseProtocol(c: Collector, path: string, pv: Json | undefined, family: Family): number | undefined {
  let protocol: number | undefined;
  if (pv !== undefined && pv !== null && pv !== '') {
    const asInt = intValue(pv);
    if (asInt !== undefined) {
      if (inRange(c, child(path, 'protocol'), asInt, 0, 255, 'IP protocol number')) protocol = asInt;
    } else if (typeof pv === 'string' && Object.prototype.hasOwnProperty.call(PROTOCOL_NUMBERS, pv.toLowerCase())) {
      protocol = PROTOCOL_NUMBERS[pv.toLowerCase()];
    } else {
      c.error('unknown-protocol', child(path, 'protocol'), `${describe(pv)} is not a known protocol (a name such as tcp, udp, icmp, ipv6-icmp, or a number 0 to 255)`);
    }
  }
  if (protocol === 0) protocol = undefined;
  if (family === 6 && protocol === ICMP) protocol = ICMPV6;
  if (family === 4 && protocol !== undefined && IPV6_ONLY_PROTOCOLS.has(protocol)) {
    c.error('family-mismatch', child(path, 'protocol'), `protocol ${typeof pv === 'string' ? printable(pv) : describe(pv)} exists only in IPv6 but the rule's ethertype is IPv4`);
  }
  return protocol;
}

/** port_range_min/max: transport ports, or the ICMP type and code. */
function parsePortRange(
  c: Collector,
  path: string,
  r: Obj,
  protocol: number | undefined,
): { ports: PortRange | undefined; icmp: GroupRule['icmp'] } {
  const minV = r['port_range_min'];
  const maxV = r['port_range_max'];
  const min = minV === undefined || minV === null ? undefined : intValue(minV);
  const max = maxV === undefined || maxV === null ? undefined : intValue(maxV);
  if (minV !== undefined && minV !== null && min === undefined) c.error('not-an-integer', child(path, 'port_range_min'), 'must be an integer');
  if (maxV !== undefined && maxV !== null && max === undefined) c.error('not-an-integer', child(path, 'port_range_max'), 'must be an integer');
  let ports: PortRange | undefined;
  let icmp: GroupRule['icmp'];
  if (min === undefined && max === undefined) return { ports, icmp };
  if (protocol === undefined) {
    c.error('bad-port-range', child(path, min !== undefined ? 'port_range_min' : 'port_range_max'), 'a port range needs a protocol with ports (tcp, udp, sctp, dccp, udplite) or icmp');
  } else if (isIcmp(protocol)) {
    if (min === undefined) c.error('bad-port-range', child(path, 'port_range_max'), 'an ICMP code (port_range_max) needs an ICMP type (port_range_min)');
    else if (!inRange(c, child(path, 'port_range_min'), min, 0, 255, 'ICMP type')) return { ports, icmp };
    else if (max !== undefined && !inRange(c, child(path, 'port_range_max'), max, 0, 255, 'ICMP code')) return { ports, icmp };
    else if (min === 255 && max === undefined) icmp = undefined; // type 255 with no code: Neutron means any ICMP
    else if (min === 255) c.error('bad-port-range', child(path, 'port_range_min'), 'ICMP type 255 means "any type" to iptables and cannot take a code');
    else icmp = { type: min, code: max };
  } else if (PROTOCOLS_WITH_PORTS.has(protocol)) {
    if (min === undefined) c.error('bad-port-range', child(path, 'port_range_max'), 'port_range_max needs port_range_min');
    else {
      const hi = max ?? min;
      if (min < 1 || min > 65535) c.error('out-of-range', child(path, 'port_range_min'), `port ${min} is outside 1 to 65535`);
      else if (hi < 1 || hi > 65535) c.error('out-of-range', child(path, 'port_range_max'), `port ${hi} is outside 1 to 65535`);
      else if (min > hi) c.error('bad-port-range', child(path, 'port_range_min'), `port_range_min ${min} is greater than port_range_max ${hi}`);
      else if (!(min === 1 && hi === 65535)) ports = { min, max: hi };
    }
  } else {
    const pv = r['protocol'];
    c.error('bad-port-range', child(path, min !== undefined ? 'port_range_min' : 'port_range_max'), `a port range is not allowed with protocol ${typeof pv === 'string' ? printable(pv) : describe(pv)}, which has no ports`);
  }
  return { ports, icmp };
}

/** At most one of a prefix, a group, an address group; none = any. */
function parseRemote(c: Collector, path: string, r: Obj, direction: Direction, family: Family, ids: KnownIds): Remote {
  const prefixFields = ['remote_ip_prefix', 'source_ip_prefix', 'dest_ip_prefix'].filter((k) => has(r, k) && r[k] !== null);
  const remoteFields = [...prefixFields, ...['remote_group_id', 'remote_address_group_id'].filter((k) => has(r, k) && r[k] !== null)];
  if (remoteFields.length > 1) {
    c.error('conflicting-remotes', child(path, remoteFields[1]!), `only one of ${remoteFields.join(', ')} may be set`);
  } else if (prefixFields.length === 1) {
    const k = prefixFields[0]!;
    if (k === 'source_ip_prefix' && direction !== 'ingress') c.error('wrong-direction', child(path, k), 'source_ip_prefix is only valid on ingress rules (use dest_ip_prefix)');
    if (k === 'dest_ip_prefix' && direction !== 'egress') c.error('wrong-direction', child(path, k), 'dest_ip_prefix is only valid on egress rules (use source_ip_prefix)');
    const v = r[k];
    const p = typeof v === 'string' ? parsePrefix(v) : 'must be an IP address or prefix string';
    if (typeof p === 'string') c.error('bad-address', child(path, k), p);
    else if (p.prefix.family !== family) {
      c.error('family-mismatch', child(path, k), `${printable(v as string)} is an IPv${p.prefix.family} prefix but the rule's ethertype is IPv${family}`);
    } else if (p.prefix.len > 0) return { kind: 'prefix', prefix: p.prefix };
  } else if (has(r, 'remote_group_id') && r['remote_group_id'] !== null) {
    const g = r['remote_group_id'];
    if (typeof g !== 'string') c.error('not-a-string', child(path, 'remote_group_id'), 'must be a security group id');
    else if (!ids.groups.has(g) && !ids.memberGroups.has(g)) c.error('unknown-group', child(path, 'remote_group_id'), `unknown remote group "${printable(g)}" (not in security_groups or sg_member_ips)`);
    else return { kind: 'group', id: g };
  } else if (has(r, 'remote_address_group_id') && r['remote_address_group_id'] !== null) {
    const g = r['remote_address_group_id'];
    if (typeof g !== 'string') c.error('not-a-string', child(path, 'remote_address_group_id'), 'must be an address group id');
    else if (!ids.addressGroups.has(g)) c.error('unknown-address-group', child(path, 'remote_address_group_id'), `unknown address group "${printable(g)}" (not in address_groups)`);
    else return { kind: 'addressGroup', id: g };
  }
  return { kind: 'any' };
}
