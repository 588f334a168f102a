/**
 * Drift audit: does a host still hold what its model compiles to? A pure function of the model,
 * the compile options and the texts the standard tools print on the host (dumps.ts):
 *
 *   live dumps --parse, keep sgnf's objects (live.ts)--> live state ─┐
 *   model --prepare().state(options)--> wanted state ────────────────┴─ compare (compare.ts)
 *     -> one Drift per object that differs, a summary, and the repair: the delta (delta/diff.ts)
 *        from the live state to the wanted one, touching only what drifted.
 */
import { type Backend, type CompileOptions, type PreparedModel, prepare } from '../compile.js';
import { checkPrefix } from '../backends/shared/names.js';
import { type DiffResult, deltaBetween } from '../delta/diff.js';
import { type Comparison, type Drift, type DriftKind, compareStates } from './compare.js';
import type { LiveDumps } from './dumps.js';
import { type Foreign, liveState } from './live.js';

export interface AuditResult {
  readonly backend: Backend;
  /** True when every object of sgnf's is as the model wants it. */
  readonly inSync: boolean;
  /** One per object that differs, in a fixed order (sets, then tables and chains by name). */
  readonly drifts: readonly Drift[];
  /** Objects compared. */
  readonly checked: Comparison['checked'];
  /** One line: `in sync: ...` or `drift: N objects differ (...)`. */
  readonly summary: string;
  /** Other tools' objects next to sgnf's (never compared). */
  readonly foreign: readonly Foreign[];
  /**
   * The change script that takes the host to the model's state, in the files and order of
   * DELTA_FILES (conntrack.delta stays empty: which connections a drift let in is unknown).
   * Computed on first call.
   */
  repair(): DiffResult;
}

/** Audit one host (`options.host`) of `model` against its dumps. Throws ModelError / DumpError. */
export function audit(model: unknown, dumps: LiveDumps, options: CompileOptions = {}): AuditResult {
  return auditPrepared(prepare(model), dumps, options);
}

export function auditPrepared(model: PreparedModel, dumps: LiveDumps, options: CompileOptions = {}): AuditResult {
  const o = { backend: options.backend ?? 'iptables', prefix: checkPrefix(options.prefix ?? 'sgnf') };
  const want = model.state(options);
  const live = liveState(dumps, o.backend, o.prefix);
  const c = compareStates(live.state, want);
  let repair: DiffResult | undefined;
  return {
    backend: o.backend,
    inSync: c.drifts.length === 0,
    drifts: c.drifts,
    checked: c.checked,
    summary: summaryLine(c),
    foreign: live.foreign,
    repair: () => (repair ??= deltaBetween(c.aligned, want, o.prefix)),
  };
}

/** How each kind of drift is counted in the summary (singular, plural). */
const DRIFT_LABELS: Readonly<Record<DriftKind, readonly [string, string]>> = {
  'table-missing': ['table missing', 'tables missing'],
  'table-extra': ['extra table', 'extra tables'],
  'chain-missing': ['chain missing', 'chains missing'],
  'chain-extra': ['extra chain', 'extra chains'],
  'chain-changed': ['chain changed', 'chains changed'],
  'hook-missing': ['hook missing', 'hooks missing'],
  'hook-extra': ['extra hook', 'extra hooks'],
  'hook-changed': ['hook changed', 'hooks changed'],
  'policy-changed': ['policy changed', 'policies changed'],
  'set-missing': ['set missing', 'sets missing'],
  'set-extra': ['extra set', 'extra sets'],
  'set-type': ['set of the wrong type', 'sets of the wrong type'],
  members: ['set with other members', 'sets with other members'],
  elements: ['map with other elements', 'maps with other elements'],
};

function summaryLine(c: Comparison): string {
  const checked = `${c.checked.chains} chain${c.checked.chains === 1 ? '' : 's'} and ${c.checked.sets} set${c.checked.sets === 1 ? '' : 's'} checked`;
  if (c.drifts.length === 0) return `in sync: ${checked}`;
  const counts = new Map<DriftKind, number>();
  for (const d of c.drifts) counts.set(d.kind, (counts.get(d.kind) ?? 0) + 1);
  const parts = (Object.keys(DRIFT_LABELS) as DriftKind[])
    .filter((k) => counts.has(k))
    .map((k) => {
      const n = counts.get(k)!;
      return `${n} ${DRIFT_LABELS[k][n === 1 ? 0 : 1]}`;
    });
  return `drift: ${c.drifts.length} difference${c.drifts.length === 1 ? '' : 's'} (${parts.join(', ')}); ${checked}`;
}
