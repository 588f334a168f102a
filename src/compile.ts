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
import type { HostPlan, SetRef } from './plan/ir.js';
import { type GroupChainTextCache, iptablesNames, layoutFilter, layoutRaw } from './backends/iptables/layout.js';
import { countRules, printTables } from './backends/iptables/syntax.js';
import { type IpsetCache, hashsize, ipsetNames, ipsetType, renderIpset } from './backends/ipset/render.js';
import { renderNft } from './backends/nft/render.js';
import { type NftLayout, layoutNft } from './backends/nft/layout.js';
import { comment } from './backends/nft/syntax.js';
import type { IptTable } from './backends/iptables/syntax.js';
import type { HostState, IpsetSetState, IptablesTables, NftTableState } from './delta/state.js';
import type { Family } from './net/ip.js';
import { IPSET_MAXELEM } from './limits.js';
import { type CloudState, rawState, stateOf } from './cloud/state.js';
import { type Replaced, patchState } from './cloud/patch.js';

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

/** The files of each backend. */
export type OutputFile<B extends Backend = Backend> = { readonly iptables: 'ipset.restore' | 'iptables.v4' | 'iptables.v6'; readonly nft: 'ruleset.nft' | 'sets.nft' }[B];

/** Output files of each backend, in the order they must be applied. */
export const OUTPUT_FILES: { readonly [B in Backend]: readonly OutputFile<B>[] } = {
  iptables: ['ipset.restore', 'iptables.v4', 'iptables.v6'],
  nft: ['ruleset.nft', 'sets.nft'],
};

export interface CompileStats<B extends Backend = Backend> {
  /** Rules: iptables `-A` lines per family (filter + raw) and in total; nft: rules of all chains. */
  readonly rules: { readonly iptables: { readonly v4: number; readonly v6: number; readonly total: number }; readonly nft: { readonly total: number } }[B];
  readonly chains: number;
  readonly sets: number;
  readonly setEntries: number;
  readonly ports: { readonly filtered: number; readonly unfiltered: number };
}

/** What `compile` returns for backend B; without B, either (tell them apart by `backend`). */
export type CompileResult<B extends Backend = Backend> = B extends Backend
  ? {
      readonly backend: B;
      /** Output files by name, in the order they must be applied (see OUTPUT_FILES). */
      readonly files: { readonly [F in OutputFile<B>]: string };
      readonly stats: CompileStats<B>;
      /** Warnings about the input (unknown fields, `/0` members). */
      readonly diagnostics: readonly Diagnostic[];
    }
  : never;

/** The backend `options` ask for, as a type: `nft` only when they say so. */
export type BackendOf<O extends CompileOptions> = 'backend' extends keyof O
  ? O extends { readonly backend: infer B extends Backend }
    ? B
    : O extends { readonly backend?: undefined }
      ? 'iptables'
      : Backend
  : 'iptables';

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
export function compile<const O extends CompileOptions = Record<never, never>>(input: unknown, options?: O): CompileResult<BackendOf<O>> {
  return prepare(input).compile(options);
}

/** A model parsed once, compiled as often as needed (e.g. once per host of a cloud-wide model). */
export interface PreparedModel {
  /** The whole cloud: every device of the input is one of its ports (whatever its host). */
  readonly cloud: Model;
  compile<const O extends CompileOptions = Record<never, never>>(options?: O): CompileResult<BackendOf<O>>;
  /** The state a host holds once the full output is loaded: what deltas and audits compare. */
  state(options?: CompileOptions): HostState;
  /** The backend-neutral plan of a host (src/plan/ir.ts): what the printers print. */
  plan(options?: CompileOptions): HostPlan;
  /**
   * Apply an RFC 6902 JSON Patch: the prepared model of the patched input, at a cost proportional
   * to the change (src/cloud/patch.ts). This model stays as it was. Throws ModelError when an
   * operation does not apply (issue path `$[i]`, code `bad-patch`) or the patched model is invalid.
   */
  patch(operations: unknown): PreparedModel;
}

export interface PrepareOptions {
  /**
   * false: a model to compile (and diff) only, which does not keep its input: it cannot be
   * patched or sliced, and the input's objects are not kept alive by it (a whole cloud's input is
   * most of a prepared model's memory). Default true.
   */
  readonly keepInput?: boolean;
}

/** Parse and validate a model once; `compile({ host })` for each host then skips the parse. */
export function prepare(input: unknown, options: PrepareOptions = {}): PreparedModel {
  const cloud = stateOf(parseCloud(input), options.keepInput === false ? undefined : rawState(input));
  return preparedModel(cloud, { plan: newPlanCache(), ipset: new Map(), groupChainTexts: new Map() });
}

/** The persistent cloud state behind each prepared model (src/cloud/state.ts), for the cloud functions. */
const CLOUD_STATES = new WeakMap<PreparedModel, CloudState>();

/** @internal The parsed cloud of a model made by `prepare`, with the indexes selectHost uses. */
export const cloudOf = (p: PreparedModel): CloudModel => cloudStateOf(p).model;

/** @internal The cloud state of a model made by `prepare` (or by patching one). */
export function cloudStateOf(p: PreparedModel): CloudState {
  const s = CLOUD_STATES.get(p);
  if (!s) throw new TypeError('not a model made by prepare()');
  return s;
}

function preparedModel(cloudState: CloudState, caches: Caches): PreparedModel {
  const cloud = cloudState.model;
  // Kept per option set: an agent diffs the model it holds against each next one.
  const layouts = new Map<string, HostLayout>();
  const states = new Map<string, HostState>();
  const layoutOf = (options: CompileOptions): HostLayout => memo(layouts, options, () => layoutHost(selectHost(cloud, options.host), options, caches));
  const p: PreparedModel = {
    cloud,
    compile: <const O extends CompileOptions>(options: O = {} as O) => compileModel(selectHost(cloud, options.host), options, caches) as CompileResult<BackendOf<O>>,
    state: (options = {}) => memo(states, options, () => stateOfLayout(layoutOf(options))),
    plan: (options = {}) => layoutOf(options).plan,
    patch: (operations) => {
      const { state, replaced } = patchState(cloudState, operations);
      // The caches are keyed by immutable lists, so the patched model shares them; what the
      // patch replaced is dropped (this model would only compute it again if compiled again).
      forget(caches, replaced);
      return preparedModel(state, caches);
    },
  };
  CLOUD_STATES.set(p, cloudState);
  return p;
}

function forget(caches: Caches, replaced: Replaced): void {
  for (const g of replaced.groups) {
    for (const hit of caches.plan.groupChains.get(g.rules)?.values() ?? []) caches.groupChainTexts.delete(hit.rules);
    caches.plan.groupChains.delete(g.rules);
  }
  for (const list of replaced.lists) {
    for (const planned of caches.plan.setMembers.get(list)?.values() ?? []) caches.ipset.delete(planned);
    caches.plan.setMembers.delete(list);
    caches.ipset.delete(list);
  }
}

function memo<T>(cache: Map<string, T>, options: CompileOptions, make: () => T): T {
  const key = JSON.stringify([options.host, options.prefix, options.comments, options.driver, options.remoteGroups, options.aggregate, options.backend]);
  let v = cache.get(key);
  if (v === undefined) cache.set(key, (v = make()));
  return v;
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

/** A host's plan wired for its backend: what the printers print and the delta compares. */
type HostLayout =
  | { readonly backend: 'nft'; readonly model: Model; readonly plan: HostPlan; readonly nft: NftLayout; readonly o: ResolvedOptions }
  | {
      readonly backend: 'iptables';
      readonly model: Model;
      readonly plan: HostPlan;
      readonly o: ResolvedOptions;
      readonly setName: (ref: SetRef) => string;
      readonly tables: Readonly<Record<Family, readonly IptTable[]>>;
    };

type ResolvedOptions = ReturnType<typeof resolveOptions>;

function layoutHost(model: Model, options: CompileOptions, caches: Caches): HostLayout {
  const o = resolveOptions(model, options);
  const plan = planHost(model, o, caches.plan);
  if (o.backend === 'nft') return { backend: 'nft', model, plan, o, nft: layoutNft(plan, { prefix: o.prefix, comments: o.comments }) };
  const setName = ipsetNames(plan.sets, o.prefix);
  const names = iptablesNames(plan, o.prefix);
  // Expanded mode plans its group chains afresh for every host: nothing to share, nor to keep.
  const groupChainTexts = o.remoteGroups === 'ipset' ? caches.groupChainTexts : undefined;
  const layout = { prefix: o.prefix, comments: o.comments, setName, ...(groupChainTexts && { groupChainTexts }) };
  const raw = layoutRaw(plan, names, layout);
  return { backend: 'iptables', model, plan, o, setName, tables: { 4: [layoutFilter(plan, 4, names, layout), raw], 6: [layoutFilter(plan, 6, names, layout), raw] } };
}

function compileModel(model: Model, options: CompileOptions, caches: Caches): CompileResult {
  const l = layoutHost(model, options, caches);
  const { plan, o } = l;
  const common = {
    sets: plan.sets.length,
    setEntries: plan.sets.reduce((n, s) => n + s.members.length, 0),
    ports: { filtered: plan.ports.length, unfiltered: plan.unfiltered.length },
  };
  if (l.backend === 'nft') {
    const nft = renderNft(plan, { prefix: o.prefix, comments: o.comments }, l.nft);
    return {
      backend: 'nft',
      files: { 'ruleset.nft': nft.ruleset, 'sets.nft': nft.sets },
      stats: { rules: { total: nft.stats.rules }, chains: nft.stats.chains, ...common, setEntries: nft.stats.setElements },
      diagnostics: model.diagnostics,
    };
  }

  const header = `# Generated by sgnf (${o.remoteGroups} mode, ${o.driver} driver): load the ipset script first.`;
  const { 4: v4, 6: v6 } = l.tables;
  const files = {
    'ipset.restore': renderIpset(plan.sets, l.setName, o.prefix, caches.ipset),
    'iptables.v4': printTables(v4, header),
    'iptables.v6': printTables(v6, header),
  };
  const r4 = countRules(v4);
  const r6 = countRules(v6);
  return {
    backend: 'iptables',
    files,
    stats: {
      rules: { v4: r4, v6: r6, total: r4 + r6 },
      chains: [...v4, ...v6].reduce((n, t) => n + t.chains.length, 0),
      ...common,
    },
    diagnostics: model.diagnostics,
  };
}

/** The state a host holds once the full output of `l` is loaded (delta/state.ts). */
function stateOfLayout(l: HostLayout): HostState {
  if (l.backend === 'nft') {
    const tables = new Map<string, NftTableState>();
    for (const t of l.nft.tables) {
      tables.set(`${t.family} ${t.name}`, {
        family: t.family,
        name: t.name,
        ...(t.comment !== undefined && { comment: t.comment }),
        sets: new Map(t.sets.map((s) => [s.name, { kind: s.kind, spec: s.comment === undefined ? s.spec : [...s.spec, comment(s.comment)], elements: s.elements }])),
        chains: new Map(t.chains.map((c) => [c.name, c.hook === undefined ? { rules: c.rules } : { hook: c.hook, rules: c.rules }])),
      });
    }
    return { backend: 'nft', tables };
  }
  const sets = new Map<string, IpsetSetState>();
  for (const s of l.plan.sets) {
    sets.set(l.setName(s), { type: ipsetType(s.family), hashsize: hashsize(s.members.length), maxelem: IPSET_MAXELEM, members: s.members.entries() });
  }
  const tablesOf = (ts: readonly IptTable[]): IptablesTables =>
    new Map(ts.map((t) => [t.name, new Map(t.chains.map((c) => [c.name, c.policy === undefined ? { rules: c.rules } : { policy: c.policy, rules: c.rules }]))]));
  return { backend: 'iptables', sets, tables: { 4: tablesOf(l.tables[4]), 6: tablesOf(l.tables[6]) } };
}
