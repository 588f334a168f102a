/**
 * The rare edges, enumerated rather than sampled: every boundary of a port range (first, last,
 * one outside, 1 and 65535), ICMP type and code (with and without a code, code 255, type 255 =
 * any ICMP), protocol 0 and 255. Random models reach these only now and then, so a property run
 * could pass or fail by its seed; here every edge runs in every run. Each packet's verdict is
 * written out by hand from the rule's meaning, and the model evaluator, the iptables interpreter
 * and the nft interpreter must all give it, in every mode.
 */
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile.js';
import { parseModel } from '../../src/model/parse.js';
import type { Model } from '../../src/model/types.js';
import { parseAddress } from '../../src/net/ip.js';
import { evaluate } from '../../src/semantics/evaluate.js';
import type { Packet, PacketPath, Verdict } from '../../src/semantics/packet.js';
import { hostTopology, interpret, loadRuleset } from '../support/verify/interpret.js';
import { interpretNft, loadNftRuleset } from '../support/verify/nft.js';
import { MODES } from '../support/property-runs.js';

/** What a probe carries: a transport port, an ICMP type/code, or a bare protocol number. */
type Service = { tcp: number } | { udp: number } | { sctp: number } | { icmp: [number, number] } | { proto: number };

interface Edge {
  readonly rule: Record<string, unknown>;
  /** Probes and whether the rule lets them in (A) or not (D). */
  readonly probes: readonly [Service, 'A' | 'D'][];
}

const EDGES: readonly Edge[] = [
  { rule: { protocol: 'tcp', port_range_min: 1000, port_range_max: 2000 }, probes: [[{ tcp: 999 }, 'D'], [{ tcp: 1000 }, 'A'], [{ tcp: 1500 }, 'A'], [{ tcp: 2000 }, 'A'], [{ tcp: 2001 }, 'D'], [{ udp: 1000 }, 'D']] },
  { rule: { protocol: 'tcp', port_range_min: 1 }, probes: [[{ tcp: 1 }, 'A'], [{ tcp: 2 }, 'D'], [{ tcp: 65535 }, 'D']] },
  { rule: { protocol: 'udp', port_range_min: 65535, port_range_max: 65535 }, probes: [[{ udp: 65535 }, 'A'], [{ udp: 65534 }, 'D'], [{ udp: 1 }, 'D']] },
  { rule: { protocol: 'sctp', port_range_min: 1, port_range_max: 65535 }, probes: [[{ sctp: 1 }, 'A'], [{ sctp: 65535 }, 'A'], [{ tcp: 1 }, 'D']] },
  { rule: { protocol: 'udp', port_range_min: 1, port_range_max: 65534 }, probes: [[{ udp: 1 }, 'A'], [{ udp: 65534 }, 'A'], [{ udp: 65535 }, 'D']] },
  { rule: { protocol: 'tcp', port_range_min: '2', port_range_max: '65535' }, probes: [[{ tcp: 1 }, 'D'], [{ tcp: 2 }, 'A'], [{ tcp: 65535 }, 'A']] },
  { rule: { protocol: 'icmp', port_range_min: 8 }, probes: [[{ icmp: [8, 0] }, 'A'], [{ icmp: [8, 1] }, 'A'], [{ icmp: [8, 255] }, 'A'], [{ icmp: [0, 0] }, 'D'], [{ icmp: [9, 0] }, 'D']] },
  { rule: { protocol: 'icmp', port_range_min: 8, port_range_max: 0 }, probes: [[{ icmp: [8, 0] }, 'A'], [{ icmp: [8, 1] }, 'D'], [{ icmp: [7, 0] }, 'D']] },
  { rule: { protocol: 'icmp', port_range_min: 3, port_range_max: 255 }, probes: [[{ icmp: [3, 255] }, 'A'], [{ icmp: [3, 254] }, 'D'], [{ icmp: [4, 255] }, 'D']] },
  { rule: { protocol: 'icmp', port_range_min: 0, port_range_max: 0 }, probes: [[{ icmp: [0, 0] }, 'A'], [{ icmp: [0, 1] }, 'D'], [{ icmp: [8, 0] }, 'D']] },
  { rule: { protocol: 'icmp', port_range_min: 255 }, probes: [[{ icmp: [0, 0] }, 'A'], [{ icmp: [8, 0] }, 'A'], [{ icmp: [254, 7] }, 'A'], [{ tcp: 22 }, 'D']] },
  { rule: { protocol: 'icmp', port_range_min: 254, port_range_max: 0 }, probes: [[{ icmp: [254, 0] }, 'A'], [{ icmp: [255, 0] }, 'D'], [{ icmp: [253, 0] }, 'D']] },
  { rule: { protocol: 0 }, probes: [[{ tcp: 22 }, 'A'], [{ udp: 53 }, 'A'], [{ icmp: [8, 0] }, 'A'], [{ proto: 200 }, 'A']] },
  { rule: { protocol: '0', port_range_min: null }, probes: [[{ tcp: 65535 }, 'A'], [{ proto: 255 }, 'A']] },
  { rule: { protocol: 255 }, probes: [[{ proto: 255 }, 'A'], [{ proto: 254 }, 'D'], [{ tcp: 22 }, 'D']] },
  { rule: { protocol: '200' }, probes: [[{ proto: 200 }, 'A'], [{ proto: 201 }, 'D'], [{ proto: 199 }, 'D']] },
  { rule: { ethertype: 'IPv6', protocol: 'ipv6-icmp', port_range_min: 128 }, probes: [[{ icmp: [128, 0] }, 'A'], [{ icmp: [128, 5] }, 'A'], [{ icmp: [129, 0] }, 'D']] },
  { rule: { ethertype: 'ipv6', protocol: 'icmp', port_range_min: 129, port_range_max: 0 }, probes: [[{ icmp: [129, 0] }, 'A'], [{ icmp: [129, 1] }, 'D'], [{ icmp: [128, 0] }, 'D']] },
  { rule: { ethertype: 'IPv6', protocol: 58, port_range_min: 255 }, probes: [[{ icmp: [128, 0] }, 'A'], [{ icmp: [129, 9] }, 'A'], [{ udp: 53 }, 'D']] },
  { rule: { ethertype: 'IPv6', protocol: 'udp', port_range_min: 65535 }, probes: [[{ udp: 65535 }, 'A'], [{ udp: 65534 }, 'D']] },
];

const SENDER_MAC = 'fa:16:3e:00:00:01';
const family = (e: Edge): 4 | 6 => (String(e.rule['ethertype'] ?? 'IPv4').toLowerCase() === 'ipv6' ? 6 : 4);
const address = (f: 4 | 6, n: number): bigint => parseAddress(f === 4 ? `192.0.2.${n}` : `2001:db8::${n}`)!.addr;

/** A sender allowed everything out, and one receiver per edge whose only group holds the edge's rule. */
function edgeModel(): Record<string, unknown> {
  const security_groups: Record<string, unknown> = { out: { rules: [{ direction: 'egress' }, { direction: 'egress', ethertype: 'IPv6' }] } };
  const devices: Record<string, unknown> = {
    sender: { mac_address: SENDER_MAC, fixed_ips: ['192.0.2.1', '2001:db8::1'], security_groups: ['out'], network_id: 'net' },
  };
  EDGES.forEach((e, i) => {
    security_groups[`g${i}`] = { rules: [{ direction: 'ingress', ...e.rule }] };
    devices[`r${i}`] = { mac_address: `fa:16:3e:00:01:${(i + 16).toString(16)}`, fixed_ips: [`192.0.2.${i + 10}`, `2001:db8::${i + 10}`], security_groups: [`g${i}`], network_id: 'net' };
  });
  return { security_groups, devices };
}

function probePacket(f: 4 | 6, to: number, s: Service): Packet {
  const base = { family: f, src: address(f, 1), dst: address(f, to + 10), srcMac: SENDER_MAC, ct: 'NEW' as const };
  if ('tcp' in s) return { ...base, protocol: 6, srcPort: 40000, dstPort: s.tcp };
  if ('udp' in s) return { ...base, protocol: 17, srcPort: 40000, dstPort: s.udp };
  if ('sctp' in s) return { ...base, protocol: 132, srcPort: 40000, dstPort: s.sctp };
  if ('icmp' in s) return { ...base, protocol: f === 4 ? 1 : 58, icmpType: s.icmp[0], icmpCode: s.icmp[1] };
  return { ...base, protocol: s.proto };
}

interface Probe {
  readonly name: string;
  readonly path: PacketPath;
  readonly packet: Packet;
  readonly want: Verdict;
}

function probes(model: Model): Probe[] {
  const device = (id: string): string => model.ports.find((p) => p.id === id)!.device;
  return EDGES.flatMap((e, i) =>
    e.probes.map(([s, v]): Probe => ({
      name: `rule ${JSON.stringify(e.rule)}, packet ${JSON.stringify(s)}`,
      path: { fromDevice: device('sender'), to: device(`r${i}`) },
      packet: probePacket(family(e), i, s),
      want: v === 'A' ? 'ACCEPT' : 'DROP',
    })),
  );
}

describe('every edge of port ranges, ICMP types and codes, and protocol numbers', () => {
  const json = edgeModel();
  const model = parseModel(json);
  const all = probes(model);

  it('has the verdicts written here in the model evaluator', () => {
    for (const p of all) expect(evaluate(model, p.path, p.packet).verdict, p.name).toBe(p.want);
  });

  for (const mode of MODES) {
    it(`has them in the compiled ruleset, iptables and nft (${mode.remoteGroups}, ${mode.driver})`, () => {
      const topology = hostTopology(model, mode.driver);
      const ipt = loadRuleset(compile(json, mode).files);
      const nft = loadNftRuleset(compile(json, { ...mode, backend: 'nft' }).files);
      for (const p of all) {
        expect(interpret(ipt, p.path, p.packet, topology).verdict, `iptables: ${p.name}`).toBe(p.want);
        expect(interpretNft(nft, p.path, p.packet, topology).verdict, `nft: ${p.name}`).toBe(p.want);
      }
    });
  }
});
