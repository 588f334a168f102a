/**
 * The `sgnf` command line: the only place that reads files, writes files and exits.
 *
 *   sgnf compile [model.json|-] [-o DIR]     print or write the ruleset
 *   sgnf check --golden DIR [model.json|-]   compare with golden files (exit 1 + diff), --update
 *   sgnf diff OLD NEW [-o DIR]               the change script from OLD to NEW (--exit-code)
 *   sgnf explain [model.json|-] --from P --to Q ...   would this packet pass, and why
 *
 * Exit codes: 0 ok, 1 golden mismatch or (diff --exit-code) a change, 2 bad input or usage
 * (nothing on stdout).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createTwoFilesPatch } from 'diff';
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { type CompileOptions, type CompileResult, prepare } from '../compile.js';
import { ModelError } from '../model/errors.js';
import { DiffModelError, diffPrepared } from '../delta/diff.js';
import { parseModel } from '../model/parse.js';
import type { Model, Port } from '../model/types.js';
import { formatAddress, printable } from '../net/ip.js';
import { evaluate, formatExplanation } from '../semantics/evaluate.js';
import { packet as buildPacket } from '../semantics/scenario.js';
import type { CtState, PacketPath } from '../semantics/packet.js';

const EXIT_MISMATCH = 1;
const EXIT_BAD_INPUT = 2;

class UsageError extends Error {}

interface CommonArgs {
  model: string;
  'remote-groups': 'ipset' | 'expanded';
  host?: string;
  prefix: string;
  comments: boolean;
  driver: 'hybrid' | 'linuxbridge';
  backend: 'iptables' | 'nft';
  aggregate: boolean;
}

function withCompileOptions<T>(y: Argv<T>) {
  return y
    .positional('model', { type: 'string', default: '-', describe: 'model JSON file, or - for standard input' })
    .option('remote-groups', {
      choices: ['ipset', 'expanded'] as const,
      describe: 'ipset: one set match per remote-group rule (default); expanded: one rule per member, for hosts without ipset',
    })
    .option('host', { type: 'string', describe: 'compile only the devices whose binding:host_id is NAME', requiresArg: true })
    .option('prefix', { type: 'string', default: 'sgnf', describe: 'prefix of every chain and set name' })
    .option('comments', { type: 'boolean', default: false, describe: 'add -m comment texts to rules' })
    .option('driver', {
      choices: ['hybrid', 'linuxbridge'] as const,
      describe: 'hybrid: a bridge per port, conntrack zone per port (default); linuxbridge: a bridge per network, zone per network',
    })
    .option('backend', { choices: ['iptables', 'nft'] as const, default: 'iptables' as const, describe: 'iptables (+ ipset) or nft' })
    .option('aggregate', { type: 'boolean', default: false, describe: 'merge set members into the fewest covering prefixes (exact)' });
}

function readModel(file: string): unknown {
  let text: string;
  try {
    text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file === '-' ? 'standard input' : file}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file === '-' ? 'standard input' : file} is not valid JSON: ${(e as Error).message}`);
  }
}

function compileOptions(a: CommonArgs): CompileOptions {
  return {
    prefix: a.prefix,
    comments: a.comments,
    backend: a.backend,
    aggregate: a.aggregate,
    ...(a['remote-groups'] !== undefined && { remoteGroups: a['remote-groups'] }),
    ...(a.driver !== undefined && { driver: a.driver }),
    ...(a.host !== undefined && { host: a.host }),
  };
}

const warn = (result: CompileResult): void => {
  for (const d of result.diagnostics) process.stderr.write(`sgnf: warning: ${d.path}: ${d.message}\n`);
};

function compileArgs(a: CommonArgs): CompileResult {
  const result = prepare(readModel(a.model)).compile(compileOptions(a));
  warn(result);
  return result;
}

/** Compile every host of a cloud-wide model (parsed once) into DIR/<host>/. */
function compileEachHost(a: CommonArgs, dir: string): void {
  const prepared = prepare(readModel(a.model));
  const hosts = new Set<string>();
  for (const p of prepared.cloud.ports) {
    const path = `$.devices[${JSON.stringify(p.id)}]["binding:host_id"]`;
    if (p.host === undefined) throw new ModelError([{ path, message: 'is required with --each-host' }]);
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(p.host)) throw new ModelError([{ path, message: `host name "${printable(p.host)}" cannot name a directory` }]);
    hosts.add(p.host);
  }
  // Compile everything before writing anything: no partial output on an error.
  const results = [...hosts].sort().map((host) => [host, prepared.compile({ ...compileOptions(a), host })] as const);
  if (results.length > 0) warn(results[0]![1]);
  for (const [host, result] of results) writeFiles(join(dir, host), result.files);
}

/** Write every file next to its final name first, then rename: no half-written ruleset. */
function writeFiles(dir: string, files: Readonly<Record<string, string>>): void {
  mkdirSync(dir, { recursive: true });
  const staged = Object.entries(files).map(([name, text]) => {
    const tmp = join(dir, `.${name}.${process.pid}.tmp`);
    writeFileSync(tmp, text);
    return [tmp, join(dir, name)] as const;
  });
  for (const [tmp, final] of staged) renameSync(tmp, final);
}

function printSections(files: Readonly<Record<string, string>>): void {
  const out = Object.entries(files)
    .map(([name, text]) => `# ==== ${name} ====\n${text}`)
    .join('\n');
  process.stdout.write(out);
}

function check(a: CommonArgs & { golden: string; update: boolean }): number {
  const result = compileArgs(a);
  if (a.update) {
    writeFiles(a.golden, result.files);
    process.stderr.write(`sgnf: updated ${Object.keys(result.files).length} files in ${a.golden}\n`);
    return 0;
  }
  let diffs = '';
  for (const [name, text] of Object.entries(result.files)) {
    const path = join(a.golden, name);
    const expected = existsSync(path) ? readFileSync(path, 'utf8') : '';
    if (expected !== text) {
      diffs += createTwoFilesPatch(`${path} (golden)`, `${name} (compiled)`, expected, text, undefined, undefined, { context: 3 });
    }
  }
  if (diffs === '') {
    process.stderr.write(`sgnf: ${a.golden}: ${Object.keys(result.files).length} files match\n`);
    return 0;
  }
  process.stdout.write(diffs);
  process.stderr.write(`sgnf: ${a.golden}: compiled output differs from the golden files (run with --update to accept)\n`);
  return EXIT_MISMATCH;
}

/** Parse one model of a diff; bad input names the file it came from. */
function prepareFile(file: string, which: 'old' | 'new') {
  try {
    return prepare(readModel(file));
  } catch (e) {
    if (e instanceof ModelError) throw new DiffModelError(which, e, file === '-' ? 'standard input' : file);
    throw e;
  }
}

/**
 * The change script from OLD to NEW: printed as sections, or written to DIR (every file of
 * DELTA_FILES, empty ones too, so an agent applies them all unconditionally).
 */
function diffCommand(a: CommonArgs & { next: string; out?: string; 'each-host': boolean; 'exit-code': boolean }): number {
  const options = compileOptions(a);
  const old = prepareFile(a.model, 'old');
  const next = prepareFile(a.next, 'new');
  if (a['each-host']) {
    if (a.out === undefined) throw new UsageError('--each-host needs -o DIR');
    if (a.host !== undefined) throw new UsageError('--each-host and --host exclude each other');
    const hosts = new Set<string>();
    for (const [m, which] of [[old, 'old'], [next, 'new']] as const) {
      for (const p of m.cloud.ports) {
        const path = `$.devices[${JSON.stringify(p.id)}]["binding:host_id"]`;
        if (p.host === undefined) throw new DiffModelError(which, new ModelError([{ path, message: 'is required with --each-host' }]));
        if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(p.host)) {
          throw new DiffModelError(which, new ModelError([{ path, message: `host name "${printable(p.host)}" cannot name a directory` }]));
        }
        hosts.add(p.host);
      }
    }
    // Everything computed before anything is written: no partial output on an error.
    const results = [...hosts].sort().map((host) => [host, diffPrepared(old, next, { ...options, host })] as const);
    for (const [host, r] of results) writeFiles(join(a.out, host), r.files);
    return a['exit-code'] && results.some(([, r]) => !r.empty) ? EXIT_MISMATCH : 0;
  }
  const result = diffPrepared(old, next, options);
  if (a.out !== undefined) writeFiles(a.out, result.files);
  else printSections(result.files);
  return a['exit-code'] && !result.empty ? EXIT_MISMATCH : 0;
}

interface ExplainArgs {
  model: string;
  host?: string;
  from: string;
  to: string;
  protocol: string;
  src?: string;
  dst?: string;
  sport?: number;
  dport?: number;
  'icmp-type'?: number;
  'icmp-code'?: number;
  'src-mac'?: string;
  ct: CtState;
}

/** Answer "would this packet pass, and why?" from the model's semantics (no ruleset involved). */
function explain(a: ExplainArgs): void {
  let model: Model;
  model = parseModel(readModel(a.model), a.host === undefined ? {} : { host: a.host });
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
}

export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const parser = yargs(argv)
    .scriptName('sgnf')
    .usage(
      'sgnf: compile a security-group model to netfilter rulesets.\n\n' +
        'Apply the ipset script first, then iptables-restore and ip6tables-restore\n' +
        '(or, with --backend nft, `nft -f ruleset.nft`; later membership changes: `nft -f sets.nft`).',
    )
    .command(
      'compile [model]',
      'compile a model; print the files (sections separated by "# ==== NAME ====") or write them with -o',
      (y) =>
        withCompileOptions(y)
          .option('out', { alias: 'o', type: 'string', requiresArg: true, describe: 'write ipset.restore, iptables.v4, iptables.v6 (nft: ruleset.nft, sets.nft) into DIR' })
          .option('each-host', { type: 'boolean', default: false, describe: 'compile every binding:host_id of the model into DIR/<host>/ (needs -o)' }),
      (a) => {
        if (a['each-host']) {
          if (a.out === undefined) throw new UsageError('--each-host needs -o DIR');
          if (a.host !== undefined) throw new UsageError('--each-host and --host exclude each other');
          compileEachHost(a as unknown as CommonArgs, a.out);
          return;
        }
        const result = compileArgs(a as unknown as CommonArgs);
        if (a.out !== undefined) writeFiles(a.out, result.files);
        else printSections(result.files);
      },
    )
    .command(
      'check [model]',
      'compile and compare with the files in a golden directory; exit 1 with a unified diff when they differ',
      (y) =>
        withCompileOptions(y)
          .option('golden', { type: 'string', demandOption: true, requiresArg: true, describe: 'directory holding the expected files' })
          .option('update', { type: 'boolean', default: false, describe: 'rewrite the golden files with the compiled output' }),
      (a) => {
        code = check(a as unknown as CommonArgs & { golden: string; update: boolean });
      },
    )
    .command(
      'diff <model> <next>',
      'the change script from the OLD model to the NEW one (apply order: see the README, "Updating a host")',
      (y) =>
        withCompileOptions(y)
          .positional('model', { type: 'string', describe: 'the model the host was loaded with (JSON file, or -)' })
          .positional('next', { type: 'string', describe: 'the model to bring it to (JSON file, or -)' })
          .option('out', { alias: 'o', type: 'string', requiresArg: true, describe: 'write every delta file (empty ones too) into DIR' })
          .option('each-host', { type: 'boolean', default: false, describe: 'the change of every binding:host_id into DIR/<host>/ (needs -o)' })
          .option('exit-code', { type: 'boolean', default: false, describe: 'exit 1 when the change is not empty (like git diff --exit-code)' }),
      (a) => {
        if (a.model === '-' && a.next === '-') throw new UsageError('only one of the two models can come from standard input');
        code = diffCommand(a as unknown as CommonArgs & { next: string; out?: string; 'each-host': boolean; 'exit-code': boolean });
      },
    )
    .command(
      'explain [model]',
      'say whether a packet passes and which rule decides, from the model alone',
      (y) =>
        y
          .positional('model', { type: 'string', default: '-', describe: 'model JSON file, or - for standard input' })
          .option('host', { type: 'string', requiresArg: true, describe: 'the host whose ports are local' })
          .option('from', { type: 'string', default: 'outside', describe: 'sending port (id or device), or outside' })
          .option('to', { type: 'string', default: 'outside', describe: 'receiving port (id or device), host, or outside' })
          .option('protocol', { type: 'string', default: 'tcp', describe: 'protocol name or number' })
          .option('src', { type: 'string', describe: "source address (default: the sender's first fixed IP)" })
          .option('dst', { type: 'string', describe: "destination address (default: the receiver's first fixed IP)" })
          .option('sport', { type: 'number', describe: 'source port' })
          .option('dport', { type: 'number', describe: 'destination port' })
          .option('icmp-type', { type: 'number' })
          .option('icmp-code', { type: 'number' })
          .option('src-mac', { type: 'string', describe: "source MAC (default: the sender's MAC)" })
          .option('ct', { choices: ['NEW', 'ESTABLISHED', 'RELATED', 'INVALID', 'UNTRACKED'] as const, default: 'NEW' as const, describe: 'conntrack state' }),
      (a) => explain(a as unknown as ExplainArgs),
    )
    .demandCommand(1, 'name a command: compile, check, diff or explain')
    .strict()
    .help()
    .version(false)
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new UsageError(msg);
    });
  try {
    await parser.parseAsync(argv);
  } catch (e) {
    if (e instanceof ModelError) {
      process.stderr.write(`sgnf: ${e.message}\n`);
      return EXIT_BAD_INPUT;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`sgnf: ${e.message}\n\nRun "sgnf --help" for usage.\n`);
      return EXIT_BAD_INPUT;
    }
    throw e;
  }
  return code;
}

main(hideBin(process.argv)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`sgnf: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 3;
  },
);
