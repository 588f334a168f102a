/**
 * `sgnf audit MODEL --live DIR`: does the host still hold what the model compiles to? DIR holds
 * what the standard tools printed on the host (iptables-save.v4, iptables-save.v6, ipset.save;
 * or nft.ruleset). Exit 0 in sync, 1 drift, 2 bad input.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError, parseOptions } from '../args.js';
import { type Command, EXIT_BAD_INPUT, FORMAT_OPTION, modelFile } from '../command.js';
import { COMPILE_FLAGS, compileOptions } from '../compile-options.js';
import { readModel } from '../io.js';
import { filesIn, writeAll } from '../output.js';
import { prepare } from '../../compile.js';
import { auditPrepared } from '../../audit/audit.js';
import { DumpError, LIVE_FILES, type LiveDumps } from '../../audit/dumps.js';
import { auditJson, formatAudit } from '../../audit/report.js';
import { ModelError } from '../../model/errors.js';

const EXIT_DRIFT = 1;

const OPTIONS = {
  ...COMPILE_FLAGS,
  live: {
    type: 'string',
    arg: 'DIR',
    describe: 'what the host printed: iptables-save.v4, iptables-save.v6 and ipset.save (nft: nft.ruleset)',
  },
  all: { type: 'boolean', describe: "also list other tools' tables, chains and sets (never compared)" },
  repair: { type: 'boolean', describe: 'write the change script that brings the host back to the model into DIR (needs -o)' },
  out: { type: 'string', short: 'o', arg: 'DIR', describe: 'with --repair: where the delta files go (every one, empty ones too)' },
  json: { type: 'boolean', describe: 'the report as one JSON object (same as --format json)' },
  format: FORMAT_OPTION,
} as const;

export const command: Command = {
  usage: 'audit [model.json | -] --live DIR [--repair -o DIR] [--all] [--json] [options]',
  description:
    "Compare a host's live netfilter state with what the model compiles to (the same options as compile).\n" +
    'Dump the host into DIR first: iptables-save > DIR/iptables-save.v4; ip6tables-save > DIR/iptables-save.v6;\n' +
    'ipset save > DIR/ipset.save (nft backend: nft list ruleset > DIR/nft.ruleset).\n' +
    'Exit 0 in sync, 1 drift (one entry per drifted object, then a summary line), 2 bad input.\n' +
    'With --repair -o DIR, the delta files that bring the host back (apply them as a diff).',
  options: OPTIONS,
  run(args) {
    const { values: a, positionals } = parseOptions(OPTIONS, args, 1);
    const json = a.json || a.format === 'json';
    try {
      if (a.live === undefined) throw new UsageError('audit needs --live DIR (the dumps of the host)');
      if (a.repair && a.out === undefined) throw new UsageError('--repair needs -o DIR');
      if (!a.repair && a.out !== undefined) throw new UsageError('-o DIR goes with --repair');
      const options = compileOptions(a);
      const model = prepare(readModel(modelFile(positionals)));
      const dumps = readDumps(a.live, options.backend ?? 'iptables');
      let result;
      try {
        result = auditPrepared(model, dumps, options);
      } catch (e) {
        // Name the files where the host's dumps are.
        if (e instanceof DumpError) throw new DumpError(e.problems.map((p) => ({ ...p, file: join(a.live!, p.file) })));
        throw e;
      }
      const written = a.repair ? writeAll(a.out!, filesIn(result.repair().files)) : undefined;
      if (json) {
        const report = { ...auditJson(result, { all: a.all }), ...(written && { repair: { written } }) };
        process.stdout.write(`${JSON.stringify(report)}\n`);
      } else {
        process.stdout.write(formatAudit(result, { all: a.all }));
        if (written) process.stderr.write(`sgnf: repair written to ${a.out}: ${written.length} files (apply them in the order of an update)\n`);
      }
      return result.inSync ? 0 : EXIT_DRIFT;
    } catch (e) {
      if (!json || !(e instanceof ModelError || e instanceof UsageError)) throw e;
      const error =
        e instanceof DumpError
          ? { error: 'invalid live state', issues: e.issues }
          : e instanceof ModelError
            ? { error: 'invalid model', issues: e.issues }
            : { error: 'usage', message: e.message };
      process.stderr.write(`${JSON.stringify(error)}\n`);
      return EXIT_BAD_INPUT;
    }
  },
};

function readDumps(dir: string, backend: 'iptables' | 'nft'): LiveDumps {
  const dumps: Record<string, string> = {};
  for (const name of LIVE_FILES[backend]) {
    const path = join(dir, name);
    try {
      dumps[name] = readFileSync(path, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? `no such file (the ${backend} backend reads ${LIVE_FILES[backend].join(', ')})` : (e as Error).message}`);
    }
  }
  return dumps;
}
