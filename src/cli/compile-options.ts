/**
 * The compile options as command-line flags: one table for `compile` and `check` (and for the
 * golden cases' args.json, test/support/golden.ts), and the one mapping from flags to the
 * library's CompileOptions.
 */
import { type OptionTable, type Values, parseOptions } from './args.js';
import type { CompileOptions } from '../compile.js';

export const COMPILE_FLAGS = {
  'remote-groups': {
    type: 'string',
    choices: ['ipset', 'expanded'],
    describe: "ipset: one set match per remote-group rule; expanded: one rule per member, for hosts without ipset (default: the model's enable_ipset, else ipset)",
  },
  host: { type: 'string', arg: 'NAME', describe: 'compile only the devices whose binding:host_id is NAME' },
  prefix: { type: 'string', arg: 'P', describe: 'prefix of every chain and set name (default: sgnf)' },
  comments: { type: 'boolean', describe: 'add comment texts to rules' },
  driver: {
    type: 'string',
    choices: ['hybrid', 'linuxbridge'],
    describe: "hybrid: a bridge and a conntrack zone per port; linuxbridge: a bridge and a zone per network (default: the model's firewall_driver, else hybrid)",
  },
  backend: { type: 'string', choices: ['iptables', 'nft'], describe: 'iptables (+ ipset) or nft (default: iptables)' },
  aggregate: { type: 'boolean', describe: 'merge set members into the fewest covering prefixes (exact)' },
} as const satisfies OptionTable;

/** The library options the flags ask for (flags not given leave the library's defaults). */
export function compileOptions(v: Values<typeof COMPILE_FLAGS>): CompileOptions {
  return {
    ...(v['remote-groups'] !== undefined && { remoteGroups: v['remote-groups'] }),
    ...(v.host !== undefined && { host: v.host }),
    ...(v.prefix !== undefined && { prefix: v.prefix }),
    ...(v.comments && { comments: true }),
    ...(v.driver !== undefined && { driver: v.driver }),
    ...(v.backend !== undefined && { backend: v.backend }),
    ...(v.aggregate && { aggregate: true }),
  };
}

/** The library options of a list of compile flags (no positionals). Throws UsageError. */
export function compileOptionsFromArgs(args: readonly string[]): CompileOptions {
  return compileOptions(parseOptions(COMPILE_FLAGS, args, 0).values);
}
