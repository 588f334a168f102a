/** `sgnf explain`: would this packet pass, and which rule decides? From the model alone (no ruleset involved). */
import { UsageError, parseOptions } from '../args.js';
import { type Command, FORMAT_OPTION, modelFile } from '../command.js';
import { readModel } from '../io.js';
import { type PacketQuery, QueryError, explain } from '../../semantics/explain.js';

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
  format: { ...FORMAT_OPTION, describe: 'json: the verdict and the checks as one JSON object (the library\'s explain result)' },
} as const;

/** The option of each query field, for messages. */
const OPTION_OF: Readonly<Record<keyof PacketQuery, string>> = {
  from: 'from',
  to: 'to',
  host: 'host',
  protocol: 'protocol',
  src: 'src',
  dst: 'dst',
  srcPort: 'sport',
  dstPort: 'dport',
  icmpType: 'icmp-type',
  icmpCode: 'icmp-code',
  srcMac: 'src-mac',
  ct: 'ct',
};

export const command: Command = {
  usage: 'explain [model.json | -] --from PORT|outside --to PORT|host|outside [packet options]',
  description: 'Say whether a packet passes and which rule decides, from the model alone (the evaluator behind the tests).',
  options: OPTIONS,
  run(args) {
    const { values: a, positionals } = parseOptions(OPTIONS, args, 1);
    let result;
    try {
      result = explain(readModel(modelFile(positionals)), {
        from: a.from,
        to: a.to,
        protocol: a.protocol,
        ct: a.ct,
        ...(a.host !== undefined && { host: a.host }),
        ...(a.src !== undefined && { src: a.src }),
        ...(a.dst !== undefined && { dst: a.dst }),
        ...(a.sport !== undefined && { srcPort: a.sport }),
        ...(a.dport !== undefined && { dstPort: a.dport }),
        ...(a['icmp-type'] !== undefined && { icmpType: a['icmp-type'] }),
        ...(a['icmp-code'] !== undefined && { icmpCode: a['icmp-code'] }),
        ...(a['src-mac'] !== undefined && { srcMac: a['src-mac'] }),
      });
    } catch (e) {
      if (e instanceof QueryError) {
        throw new UsageError(e.field !== undefined && e.value !== undefined ? `--${OPTION_OF[e.field]} ${e.value}: ${e.reason}` : e.message);
      }
      throw e;
    }
    if (a.format === 'json') {
      const { text: _text, ...rest } = result;
      process.stdout.write(`${JSON.stringify(rest)}\n`);
    } else process.stdout.write(result.text);
    return 0;
  },
};
