/**
 * `explain(model, query)`: would this packet pass, and which check decides? The library form of
 * `sgnf explain`, answered by the model evaluator (evaluate.ts) from the model alone.
 */
import { parseModel } from '../model/parse.js';
import { selectHost } from '../model/select-host.js';
import type { CloudModel } from '../model/parse.js';
import type { Model, Port } from '../model/types.js';
import { formatAddress, parseAddress, parseMac, printable } from '../net/ip.js';
import { ICMP, ICMPV6, PROTOCOLS_WITH_PORTS, PROTOCOL_NUMBERS, TCP } from '../model/protocols.js';
import { type BuiltinRule, describePacket, describePath, evaluate, formatExplanation } from './evaluate.js';
import type { CtState, PacketPath, Verdict } from './packet.js';
import { packet as buildPacket } from './scenario.js';

/** A packet in words. Ports are named by port id or device name. */
export interface PacketQuery {
  /** The sending port, or `outside` (another host, the uplink; default). */
  readonly from?: string;
  /** The receiving port, `host` (this host itself), or `outside` (default). */
  readonly to?: string;
  /** The host whose devices are the local ports (`binding:host_id`); default: every device. */
  readonly host?: string;
  /** A protocol name (`tcp`, `udp`, `icmp`, …) or number; default `tcp`. */
  readonly protocol?: string | number;
  /** Source address; default the sending port's first fixed IP. */
  readonly src?: string;
  /** Destination address; default the receiving port's first fixed IP. */
  readonly dst?: string;
  readonly srcPort?: number;
  readonly dstPort?: number;
  readonly icmpType?: number;
  readonly icmpCode?: number;
  /** Source MAC; default the sending port's MAC. */
  readonly srcMac?: string;
  /** Conntrack state of the flow; default `NEW`. */
  readonly ct?: CtState;
}

/** One check on the packet's path: the sender's egress, then the receiver's ingress. */
export interface ExplainedCheck {
  readonly direction: 'ingress' | 'egress';
  /** Port id. */
  readonly port: string;
  readonly allowed: boolean;
  /**
   * What decided: a group rule (its group, its index in the group's input list, its id when the
   * input gave one), one of the port's built-in rules (anti-spoofing, DHCP, …), or nothing (an
   * unfiltered port).
   */
  readonly decidedBy:
    | { readonly kind: 'rule'; readonly group: string; readonly index: number; readonly id?: string }
    | { readonly kind: 'builtin'; readonly rule: BuiltinRule }
    | { readonly kind: 'unfiltered' };
  /** One line, e.g. `egress of port P: allowed by group G rule #2 (tcp 22 to 10.0.0.0/24)`. */
  readonly reason: string;
}

export interface ExplainResult {
  readonly verdict: Verdict;
  /** The packet in words, e.g. `tcp 10.0.0.11 -> 10.0.0.12:22 (fa:16:3e:00:00:01, NEW)`. */
  readonly packet: string;
  /** `sender device -> receiver device` (`outside`, `host`). */
  readonly path: string;
  /** Empty when no local port is on the path (the packet is not filtered here). */
  readonly checks: readonly ExplainedCheck[];
  /** What `sgnf explain` prints: the packet, its path, the verdict and one line per check. */
  readonly text: string;
}

/** The query names no such port, or an address, protocol, port number or MAC that cannot be. */
export class QueryError extends Error {
  constructor(
    message: string,
    /** The query field at fault, when it is one (`from`, `dstPort`, …). */
    readonly field?: keyof PacketQuery,
    /** Its value as the message shows it (quoted and escaped when it is not plain), and why it is refused. */
    readonly value?: string,
    readonly reason?: string,
  ) {
    super(message);
    this.name = 'QueryError';
  }
}

/** A refused field: the message names it, then its value (shown safely), then the reason. */
function refuse(field: keyof PacketQuery, value: unknown, reason: string): never {
  const shown = show(value);
  throw new QueryError(`${field} ${shown}: ${reason}`, field, shown, reason);
}

/** A value for a message: as it is when plain and short, else quoted with everything unusual escaped. */
function show(v: unknown): string {
  const text = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
  if (text === undefined) return v === undefined ? 'nothing' : Array.isArray(v) ? 'a list' : `a ${typeof v === 'object' && v !== null ? 'object' : typeof v}`;
  if (/^[A-Za-z0-9._:/@+-]{1,60}$/.test(text)) return text;
  return `"${printable(text)}"`;
}

const PORT_PROTOCOLS: ReadonlySet<number> = PROTOCOLS_WITH_PORTS;
const CT_STATES: readonly CtState[] = ['NEW', 'ESTABLISHED', 'RELATED', 'INVALID', 'UNTRACKED'];

/** The protocol number of a query: a name of the model's table (not "any": a packet has one), or 0 to 255. */
function queryProtocol(p: string | number | undefined): number {
  if (p === undefined) return TCP;
  if (typeof p === 'number' || (typeof p === 'string' && /^[0-9]{1,3}$/.test(p))) {
    const n = Number(p);
    if (Number.isInteger(n) && n >= 0 && n <= 255) return n;
    return refuse('protocol', p, 'a protocol number is 0 to 255');
  }
  const name = typeof p === 'string' ? p.toLowerCase() : undefined;
  const n = name !== undefined && Object.prototype.hasOwnProperty.call(PROTOCOL_NUMBERS, name) ? PROTOCOL_NUMBERS[name] : undefined;
  if (n === undefined) return refuse('protocol', p, 'is not a protocol of a packet (a name such as tcp, udp, icmp, ipv6-icmp, or a number 0 to 255)');
  return n;
}

/** An integer from `min` to `max`, or a QueryError naming the field. */
function queryInt(field: keyof PacketQuery, v: unknown, min: number, max: number, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) refuse(field, v, `${what} is an integer from ${min} to ${max}`);
  return v as number;
}

/** The packet fields of a query, checked like model fields: each refusal names its field. */
function checkPacketFields(q: PacketQuery): number {
  const protocol = queryProtocol(q.protocol);
  const icmp = protocol === ICMP || protocol === ICMPV6;
  for (const [field, what] of [['srcPort', 'a port'], ['dstPort', 'a port']] as const) {
    if (q[field] === undefined) continue;
    queryInt(field, q[field], 0, 65535, what);
    if (!PORT_PROTOCOLS.has(protocol)) refuse(field, q[field], `a port needs a protocol with ports (tcp, udp, sctp, dccp, udplite), not protocol ${protocol}`);
  }
  for (const [field, what] of [['icmpType', 'an ICMP type'], ['icmpCode', 'an ICMP code']] as const) {
    if (q[field] === undefined) continue;
    queryInt(field, q[field], 0, 255, what);
    if (!icmp) refuse(field, q[field], `${what} needs protocol icmp or ipv6-icmp, not protocol ${protocol}`);
  }
  if (q.icmpCode !== undefined && q.icmpType === undefined) refuse('icmpCode', q.icmpCode, 'an ICMP code needs an ICMP type');
  for (const field of ['src', 'dst'] as const) {
    const v = q[field];
    if (v !== undefined && (typeof v !== 'string' || parseAddress(v) === undefined)) refuse(field, v, 'is not an IPv4 or IPv6 address');
  }
  if (q.srcMac !== undefined && (typeof q.srcMac !== 'string' || parseMac(q.srcMac) === undefined)) refuse('srcMac', q.srcMac, 'is not a MAC address');
  if (q.ct !== undefined && !CT_STATES.includes(q.ct)) refuse('ct', q.ct, `is not a conntrack state (${CT_STATES.join(', ')})`);
  for (const field of ['from', 'to', 'host'] as const) {
    if (q[field] !== undefined && typeof q[field] !== 'string') refuse(field, q[field], 'must be a string');
  }
  return protocol;
}

/**
 * Would the packet pass? `model` is the model's JSON (or a model made by `prepare`). Throws
 * ModelError for a bad model and QueryError for a bad query.
 */
export function explain(model: unknown, query: PacketQuery): ExplainResult {
  const protocol = checkPacketFields(query);
  const m = hostModel(model, query.host);
  const find = (what: 'from' | 'to', ref: string): Port => {
    const port = m.ports.find((p) => p.id === ref || p.device === ref);
    if (!port) refuse(what, ref, 'no port on this host has that id or device name');
    return port;
  };
  const fromRef = query.from ?? 'outside';
  const toRef = query.to ?? 'outside';
  const from = fromRef === 'outside' ? undefined : find('from', fromRef);
  const to = toRef === 'outside' || toRef === 'host' ? toRef : find('to', toRef);
  const firstIp = (p: Port | undefined): string | undefined => {
    const ip = p?.fixedIps[0];
    return ip && formatAddress(ip.family, ip.addr);
  };
  const src = query.src ?? firstIp(from);
  const dst = query.dst ?? (typeof to === 'object' ? firstIp(to) : undefined);
  if (src === undefined || dst === undefined) throw new QueryError('give src and dst (they default only to fixed IPs of the ports named)');
  if (parseAddress(src)!.family !== parseAddress(dst)!.family) refuse(query.src !== undefined ? 'src' : 'dst', query.src ?? query.dst, `is not of the family of ${query.src !== undefined ? 'dst' : 'src'} ${show(query.src !== undefined ? dst : src)}`);
  const path: PacketPath = { fromDevice: from?.device, to: typeof to === 'object' ? to.device : to === 'host' ? 'host' : undefined };
  let pkt;
  try {
    pkt = buildPacket({
      src,
      dst,
      protocol,
      ...(query.ct !== undefined && { ct: query.ct }),
      ...(query.srcMac !== undefined || from ? { srcMac: query.srcMac ?? from!.mac } : {}),
      ...(query.srcPort !== undefined && { srcPort: query.srcPort }),
      ...(query.dstPort !== undefined && { dstPort: query.dstPort }),
      ...(query.icmpType !== undefined && { icmpType: query.icmpType }),
      ...(query.icmpCode !== undefined && { icmpCode: query.icmpCode }),
    });
  } catch (e) {
    throw new QueryError((e as Error).message);
  }
  const e = evaluate(m, path, pkt);
  return {
    verdict: e.verdict,
    packet: describePacket(pkt),
    path: describePath(path),
    checks: e.checks.map((c) => ({
      direction: c.direction,
      port: c.port.id,
      allowed: c.allowed,
      decidedBy:
        c.cause.kind === 'rule'
          ? { kind: 'rule', group: c.cause.rule.origin.group, index: c.cause.rule.origin.index, ...(c.cause.rule.origin.id !== undefined && { id: c.cause.rule.origin.id }) }
          : c.cause,
      reason: c.reason,
    })),
    text: formatExplanation(path, pkt, e),
  };
}

/** The model one host sees, from JSON or from a prepared model (whose `cloud` is the parsed cloud). */
function hostModel(model: unknown, host: string | undefined): Model {
  const prepared = model as { cloud?: unknown; compile?: unknown } | null;
  if (typeof prepared === 'object' && prepared !== null && typeof prepared.compile === 'function' && typeof prepared.cloud === 'object') {
    return selectHost(prepared.cloud as CloudModel, host);
  }
  return parseModel(model, host === undefined ? {} : { host });
}
