/**
 * `explain(model, query)`: would this packet pass, and which check decides? The library form of
 * `sgnf explain`, answered by the model evaluator (evaluate.ts) from the model alone.
 */
import { parseModel } from '../model/parse.js';
import { selectHost } from '../model/select-host.js';
import type { CloudModel } from '../model/parse.js';
import type { Model, Port } from '../model/types.js';
import { formatAddress } from '../net/ip.js';
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

/** The query names no such port, or an address, protocol or MAC that cannot be. */
export class QueryError extends Error {
  constructor(
    message: string,
    /** The query field at fault, when it is one (`from`, `to`). */
    readonly field?: keyof PacketQuery,
  ) {
    super(message);
    this.name = 'QueryError';
  }
}

/**
 * Would the packet pass? `model` is the model's JSON (or a model made by `prepare`). Throws
 * ModelError for a bad model and QueryError for a bad query.
 */
export function explain(model: unknown, query: PacketQuery): ExplainResult {
  const m = hostModel(model, query.host);
  const find = (what: 'from' | 'to', ref: string): Port => {
    const port = m.ports.find((p) => p.id === ref || p.device === ref);
    if (!port) throw new QueryError(`${what} ${ref}: no port on this host has that id or device name`, what);
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
  const path: PacketPath = { fromDevice: from?.device, to: typeof to === 'object' ? to.device : to === 'host' ? 'host' : undefined };
  let pkt;
  try {
    const protocol = typeof query.protocol === 'string' && /^[0-9]+$/.test(query.protocol) ? Number(query.protocol) : query.protocol;
    pkt = buildPacket({
      src,
      dst,
      ...(protocol !== undefined && { protocol }),
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
