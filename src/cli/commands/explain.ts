/** `sgnf explain`: would this packet pass, and which rule decides? From the model alone (no ruleset involved). */
import { UsageError, parseOptions } from '../args.js';
import { type Command, modelFile } from '../command.js';
import { readModel } from '../io.js';
import { parseModel } from '../../model/parse.js';
import type { Port } from '../../model/types.js';
import { formatAddress } from '../../net/ip.js';
import { evaluate, formatExplanation } from '../../semantics/evaluate.js';
import type { PacketPath } from '../../semantics/packet.js';
import { packet as buildPacket } from '../../semantics/scenario.js';

const OPTIONS = {
  host: { type: 'string', arg: 'NAME', describe: 'the host whose ports are local' },
  from: { type: 'string', arg: 'PORT', default: 'outside', describe: 'sending port (id or device), or outside' },
  to: { type: 'string', arg: 'PORT', default: 'outside', describe: 'receiving port (id or device), host, or outside' },
  protocol: { type: 'string', default: 'tcp', describe: 'protocol name or number' },
  src: { type: 'string', arg: 'ADDRESS', describe: "source address (default: the sender's first fixed IP)" },
  dst: { type: 'string', arg: 'ADDRESS', describe: "destination address (default: the receiver's first fixed IP)" },
  sport: { type: 'number', describe: 'source port' },
  dport: { type: 'number', describe: 'destination port' },
  'icmp-type': { type: 'number', describe: 'ICMP or ICMPv6 type' },
  'icmp-code': { type: 'number', describe: 'ICMP or ICMPv6 code' },
  'src-mac': { type: 'string', arg: 'MAC', describe: "source MAC (default: the sender's MAC)" },
  ct: { type: 'string', choices: ['NEW', 'ESTABLISHED', 'RELATED', 'INVALID', 'UNTRACKED'], default: 'NEW', describe: 'conntrack state' },
} as const;

export const command: Command = {
  usage: 'explain [model.json | -] --from PORT|outside --to PORT|host|outside [packet options]',
  description: 'Say whether a packet passes and which rule decides, from the model alone (the evaluator behind the tests).',
  options: OPTIONS,
  run(args) {
    const { values: a, positionals } = parseOptions(OPTIONS, args, 1);
    const model = parseModel(readModel(modelFile(positionals)), a.host === undefined ? {} : { host: a.host });
    const find = (what: string, ref: string): Port => {
      const port = model.ports.find((p) => p.id === ref || p.device === ref);
      if (!port) throw new UsageError(`--${what} ${ref}: no port on this host has that id or device name`);
      return port;
    };
    const from = a.from === 'outside' ? undefined : find('from', a.from);
    const to = a.to === 'outside' || a.to === 'host' ? a.to : find('to', a.to);
    const firstIp = (p: Port | undefined): string | undefined => {
      const ip = p?.fixedIps[0];
      return ip && formatAddress(ip.family, ip.addr);
    };
    const src = a.src ?? firstIp(from);
    const dst = a.dst ?? (typeof to === 'object' ? firstIp(to) : undefined);
    if (src === undefined || dst === undefined) throw new UsageError('give --src and --dst (they default only to fixed IPs of the ports named)');
    const path: PacketPath = { fromDevice: from?.device, to: typeof to === 'object' ? to.device : to === 'host' ? 'host' : undefined };
    let pkt;
    try {
      pkt = buildPacket({
        src,
        dst,
        protocol: /^[0-9]+$/.test(a.protocol) ? Number(a.protocol) : a.protocol,
        ct: a.ct,
        ...(a['src-mac'] !== undefined || from ? { srcMac: a['src-mac'] ?? from!.mac } : {}),
        ...(a.sport !== undefined && { srcPort: a.sport }),
        ...(a.dport !== undefined && { dstPort: a.dport }),
        ...(a['icmp-type'] !== undefined && { icmpType: a['icmp-type'] }),
        ...(a['icmp-code'] !== undefined && { icmpCode: a['icmp-code'] }),
      });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    process.stdout.write(formatExplanation(path, pkt, evaluate(model, path, pkt)));
    return 0;
  },
};
