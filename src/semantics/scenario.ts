/**
 * Small builders for packets and paths in words, for tests, properties and `sgnf explain`:
 * `packet({ src: '10.0.0.11', dst: '10.0.0.12', protocol: 'tcp', dstPort: 22, srcMac })` and
 * `path(model, 'port-a', 'port-b')` (port ids, 'host', or undefined for "elsewhere").
 */
import { formatAddress, parseAddress, parseMac } from '../net/ip.js';
import { PROTOCOL_NUMBERS } from '../model/protocols.js';
import type { Model, Port } from '../model/types.js';
import type { CtState, Packet, PacketPath } from './packet.js';

export interface PacketSpec {
  readonly src: string;
  readonly dst: string;
  /** A name (tcp, udp, icmp, ipv6-icmp, ...) or a number; default tcp. */
  readonly protocol?: string | number;
  readonly srcPort?: number;
  readonly dstPort?: number;
  readonly icmpType?: number;
  readonly icmpCode?: number;
  readonly srcMac?: string;
  /** Default NEW. */
  readonly ct?: CtState;
}

const DEFAULT_MAC = '02:00:00:00:00:01';

/** A packet from text addresses; both must be of the same family. */
export function packet(spec: PacketSpec): Packet {
  const src = parseAddress(spec.src);
  const dst = parseAddress(spec.dst);
  if (!src || !dst) throw new Error(`bad address in ${spec.src} -> ${spec.dst}`);
  if (src.family !== dst.family) throw new Error(`mixed families in ${spec.src} -> ${spec.dst}`);
  const mac = parseMac(spec.srcMac ?? DEFAULT_MAC);
  if (mac === undefined) throw new Error(`bad MAC ${spec.srcMac}`);
  const name = (spec.protocol ?? 'tcp').toString().toLowerCase();
  // Own names only: "constructor" is on every object's prototype.
  let protocol = typeof spec.protocol === 'number' ? spec.protocol : Object.prototype.hasOwnProperty.call(PROTOCOL_NUMBERS, name) ? PROTOCOL_NUMBERS[name] : undefined;
  if (protocol === undefined) throw new Error(`unknown protocol ${String(spec.protocol)}`);
  if (src.family === 6 && protocol === 1) protocol = 58;
  return {
    family: src.family,
    protocol,
    src: src.addr,
    dst: dst.addr,
    srcMac: mac,
    ct: spec.ct ?? 'NEW',
    ...(spec.srcPort !== undefined && { srcPort: spec.srcPort }),
    ...(spec.dstPort !== undefined && { dstPort: spec.dstPort }),
    ...(spec.icmpType !== undefined && { icmpType: spec.icmpType }),
    ...(spec.icmpCode !== undefined && { icmpCode: spec.icmpCode }),
  };
}

export function portById(model: Model, id: string): Port {
  const port = model.ports.find((p) => p.id === id);
  if (!port) throw new Error(`no local port "${id}"`);
  return port;
}

/** A path between local ports given by id; undefined = another host / the uplink. */
export function path(model: Model, from: string | undefined, to: string | 'host' | undefined): PacketPath {
  return {
    fromDevice: from === undefined ? undefined : portById(model, from).device,
    to: to === undefined || to === 'host' ? to : portById(model, to).device,
  };
}

/** A packet the port sends from its own first fixed IP of the family and its MAC. */
export function sentBy(model: Model, portId: string, spec: Omit<PacketSpec, 'src' | 'srcMac'> & { src?: string; srcMac?: string }): Packet {
  const port = portById(model, portId);
  const dst = parseAddress(spec.dst);
  if (!dst) throw new Error(`bad address ${spec.dst}`);
  const own = port.fixedIps.find((ip) => ip.family === dst.family);
  const src = spec.src ?? (own ? formatAddress(own.family, own.addr) : undefined);
  if (src === undefined) throw new Error(`port ${portId} has no IPv${dst.family} fixed IP: give src`);
  return packet({ ...spec, src, srcMac: spec.srcMac ?? port.mac });
}

/** The reply direction of a packet: addresses and ports swapped, with the given MAC and state. */
export function reply(p: Packet, srcMac: string, ct: CtState = 'ESTABLISHED'): Packet {
  const { srcPort, dstPort, ...rest } = p;
  return {
    ...rest,
    src: p.dst,
    dst: p.src,
    srcMac,
    ct,
    ...(dstPort !== undefined && { srcPort: dstPort }),
    ...(srcPort !== undefined && { dstPort: srcPort }),
  };
}
