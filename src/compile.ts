/**
 * The library entry point: model JSON in, ruleset texts out. Pure: no I/O, no processes.
 *
 *   parse + validate (model/parse) -> normalised Model
 *   plan (plan/host)                -> backend-neutral HostPlan
 *   print (backends/*)              -> iptables-restore (v4, v6) + ipset restore texts, or nft
 */
import { checkPrefix } from './backends/shared/names.js';
import { type CloudModel, parseCloud } from './model/parse.js';
import { selectHost } from './model/select-host.js';
import type { Diagnostic, FirewallDriver, Model, RemoteGroupMode } from './model/types.js';
import { type PlanCache, newPlanCache, planHost } from './plan/host.js';
import type { HostPlan } from './plan/ir.js';
import { type GroupChainTextCache, iptablesNames, layoutFilter, layoutRaw } from './backends/iptables/layout.js';
import { countRules, printTables } from './backends/iptables/syntax.js';
import { type IpsetCache, ipsetNames, renderIpset } from './backends/ipset/render.js';
import { renderNft } from './backends/nft/render.js';

export interface CompileOptions {
  /** `ipset` (default): one set match per remote-group rule; `expanded`: one rule per member. */
  readonly remoteGroups?: RemoteGroupMode;
  /** Compile only the devices bound to this host (`binding:host_id`). */
  readonly host?: string;
  /** Prefix of every chain and set name (default `sgnf`). */
  readonly prefix?: string;
  /** Add `-m comment` to rules (default false). */
  readonly comments?: boolean;
  /** `hybrid` (default; a bridge per port, zone per port) or `linuxbridge` (zone per network). */
  readonly driver?: FirewallDriver;
  /** Aggregate set members into the fewest covering prefixes (exact; default false). */
  readonly aggregate?: boolean;
  /** `iptables` (default: iptables-restore + ipset) or `nft`. */
  readonly backend?: Backend;
}

export type Backend = 'iptables' | 'nft';

/** Output files of each backend, in the order they must be applied. */
export const OUTPUT_FILES: Readonly<Record<Backend, readonly string[]>> = {
  iptables: ['ipset.restore', 'iptables.v4', 'iptables.v6'],
  nft: ['ruleset.nft', 'sets.nft'],
};

export interface CompileStats {
  /** Rules: iptables `-A` lines per family (filter + raw) and in total; nft: rules of all chains (`total`). */
  readonly rules: { readonly v4?: number; readonly v6?: number; readonly total: number };
  readonly chains: number;
  readonly sets: number;
  readonly setEntries: number;
  readonly ports: { readonly filtered: number; readonly unfiltered: number };
}

export interface CompileResult {
  /** Output files by name, in the order they must be applied (see OUTPUT_FILES). */
  readonly files: Readonly<Record<string, string>>;
  readonly stats: CompileStats;
  readonly diagnostics: readonly Diagnostic[];
  readonly plan: HostPlan;
}

export function resolveOptions(model: { options: { driver?: FirewallDriver; remoteGroups?: RemoteGroupMode } }, options: CompileOptions) {
  const prefix = checkPrefix(options.prefix ?? 'sgnf');
  return {
    prefix,
    comments: options.comments ?? false,
    driver: options.driver ?? model.options.driver ?? 'hybrid',
    remoteGroups: options.remoteGroups ?? model.options.remoteGroups ?? 'ipset',
    aggregate: options.aggregate ?? false,
    backend: options.backend ?? 'iptables',
  };
}

/** Compile a model: parse, plan, print. Throws ModelError for bad input. */
export function compile(input: unknown, options: CompileOptions = {}): CompileResult {
  return prepare(input).compile(options);
}

/** A model parsed once, compiled as often as needed (e.g. once per host of a cloud-wide model). */
export interface PreparedModel {
  readonly cloud: CloudModel;
  compile(options?: CompileOptions): CompileResult;
}

/** Parse and validate a model once; `compile({ host })` for each host then skips the parse. */
export function prepare(input: unknown): PreparedModel {
  const cloud = parseCloud(input);
  const caches: Caches = { plan: newPlanCache(), ipset: new Map(), groupChainTexts: new Map() };
  return { cloud, compile: (options = {}) => compileModel(selectHost(cloud, options.host), options, caches) };
}

/**
 * What the hosts of one prepared model share (see PlanCache): keyed by lists the plan cache
 * keeps, so they hold nothing the prepared model does not already hold.
 */
interface Caches {
  readonly plan: PlanCache;
  readonly ipset: IpsetCache;
  readonly groupChainTexts: GroupChainTextCache;
}

function compileModel(model: Model, options: CompileOptions, caches: Caches): CompileResult {
  const o = resolveOptions(model, options);
  const plan = planHost(model, o, caches.plan);
  const common = {
    sets: plan.sets.length,
    setEntries: plan.sets.reduce((n, s) => n + s.members.length, 0),
    ports: { filtered: plan.ports.length, unfiltered: plan.unfiltered.length },
  };
  if (o.backend === 'nft') {
    const nft = renderNft(plan, { prefix: o.prefix, comments: o.comments });
    return {
      files: { 'ruleset.nft': nft.ruleset, 'sets.nft': nft.sets },
      stats: { rules: { total: nft.stats.rules }, chains: nft.stats.chains, ...common, setEntries: nft.stats.setElements },
      diagnostics: model.diagnostics,
      plan,
    };
  }

  const setName = ipsetNames(plan.sets, o.prefix);
  const names = iptablesNames(plan, o.prefix);
  // Expanded mode plans its group chains afresh for every host: nothing to share, nor to keep.
  const groupChainTexts = o.remoteGroups === 'ipset' ? caches.groupChainTexts : undefined;
  const layout = { prefix: o.prefix, comments: o.comments, setName, ...(groupChainTexts && { groupChainTexts }) };
  const header = `# Generated by sgnf (${o.remoteGroups} mode, ${o.driver} driver): load the ipset script first.`;
  const v4 = [layoutFilter(plan, 4, names, layout), layoutRaw(plan, names, layout)];
  const v6 = [layoutFilter(plan, 6, names, layout), layoutRaw(plan, names, layout)];
  const files = {
    'ipset.restore': renderIpset(plan.sets, setName, o.prefix, caches.ipset),
    'iptables.v4': printTables(v4, header),
    'iptables.v6': printTables(v6, header),
  };
  const r4 = countRules(v4);
  const r6 = countRules(v6);
  return {
    files,
    stats: {
      rules: { v4: r4, v6: r6, total: r4 + r6 },
      chains: [...v4, ...v6].reduce((n, t) => n + t.chains.length, 0),
      ...common,
    },
    diagnostics: model.diagnostics,
    plan,
  };
}
