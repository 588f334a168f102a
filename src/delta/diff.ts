/**
 * Incremental updates: the change script that takes a host from the state the full output of
 * one model produced to the state the full output of the next model produces.
 *
 * Both models are compiled to states (delta/state.ts) and the states are compared object by
 * object, so a delta can only reach exactly what a full compile of the next model would load,
 * and its size is what changed: with names that depend on an object's own id alone
 * (docs/naming.md), a member change is set-element lines, a rule change rewrites that group's
 * chains, a port change its own chains and dispatch entries.
 */
import { type Backend, type CompileOptions, type PreparedModel, prepare } from '../compile.js';
import { ModelError } from '../model/errors.js';
import { conntrackBetween } from './conntrack.js';
import { type HostView, nextByMembers } from './members.js';
import { iptablesDelta } from './iptables.js';
import { nftDelta } from './nft.js';
import type { HostState, MemberChange } from './state.js';

/** Delta files of each backend, in the order they must be applied. */
export const DELTA_FILES: Readonly<Record<Backend, readonly string[]>> = {
  iptables: ['ipset.delta', 'iptables.v4.delta', 'iptables.v6.delta', 'ipset.cleanup', 'conntrack.delta'],
  nft: ['delta.nft', 'conntrack.delta'],
};

export interface DiffResult {
  /** Every file of DELTA_FILES[backend], in apply order; '' where there is nothing to do. */
  readonly files: Readonly<Record<string, string>>;
  /** True when no file holds anything: the host is already up to date. */
  readonly empty: boolean;
  /** Lines of each file that do something (comments not counted). */
  readonly lines: Readonly<Record<string, number>>;
}

/** The delta of a host the change does not reach: every file, all empty. */
export function emptyDiff(options: CompileOptions = {}): DiffResult {
  const names = DELTA_FILES[options.backend ?? 'iptables'];
  return { files: Object.fromEntries(names.map((n) => [n, ''])), empty: true, lines: Object.fromEntries(names.map((n) => [n, 0])) };
}

/** Which of the two models a ModelError of `diff` came from. */
export class DiffModelError extends ModelError {
  constructor(
    readonly model: 'old' | 'new',
    cause: ModelError,
    /** Where the model came from (a file name), for the message. */
    source?: string,
  ) {
    super(cause.issues);
    this.message = `${model} model${source === undefined ? '' : ` (${source})`}: ${cause.message}`;
  }
}

/** The change script from `old` to `next` for one host (`options.host`), as `compile` would see it. */
export function diff(old: unknown, next: unknown, options: CompileOptions = {}): DiffResult {
  return diffPrepared(prepareAs('old', old), prepareAs('new', next), options);
}

function prepareAs(which: 'old' | 'new', input: unknown): PreparedModel {
  try {
    return prepare(input);
  } catch (e) {
    throw e instanceof ModelError ? new DiffModelError(which, e) : e;
  }
}

/**
 * The delta between two prepared models. Each model's host state is computed once per option
 * set and kept, so an agent that diffs the model it holds against each next one compiles the
 * old side never again; a next model that differs only in members is derived from the old state
 * without laying out a chain (delta/members.ts).
 */
export function diffPrepared(old: PreparedModel, next: PreparedModel, options: CompileOptions = {}): DiffResult {
  const from = viewAs('old', old, options);
  let to: HostView;
  try {
    to = knownView(next, options) ?? remember(next, options, nextByMembers(old, next, options, from) ?? viewAs('new', next, options));
  } catch (e) {
    throw e instanceof ModelError && !(e instanceof DiffModelError) ? new DiffModelError('new', e) : e;
  }
  return deltaBetween(from.state, to.state, options.prefix ?? 'sgnf', conntrackBetween(from.plan, to.plan), to.changes?.from === from.state ? to.changes.sets : undefined);
}

const VIEWS = new WeakMap<PreparedModel, Map<string, HostView>>();
const viewKey = (o: CompileOptions): string => JSON.stringify([o.host, o.prefix, o.comments, o.driver, o.remoteGroups, o.aggregate, o.backend]);
const knownView = (m: PreparedModel, o: CompileOptions): HostView | undefined => VIEWS.get(m)?.get(viewKey(o));

function remember(m: PreparedModel, o: CompileOptions, view: HostView): HostView {
  let views = VIEWS.get(m);
  if (!views) VIEWS.set(m, (views = new Map()));
  views.set(viewKey(o), view);
  return view;
}

function viewAs(which: 'old' | 'new', m: PreparedModel, options: CompileOptions): HostView {
  const known = knownView(m, options);
  if (known) return known;
  try {
    return remember(m, options, { state: m.state(options), plan: m.plan(options) });
  } catch (e) {
    throw e instanceof ModelError ? new DiffModelError(which, e) : e;
  }
}

/**
 * The files that take a host from state `from` to state `to` (the audit's repair uses this with
 * the live state as `from`). `conntrack` is the conntrack.delta text.
 */
export function deltaBetween(from: HostState, to: HostState, prefix: string, conntrack = '', known?: ReadonlyMap<string, MemberChange>): DiffResult {
  let files: Record<string, string>;
  if (from.backend === 'iptables' && to.backend === 'iptables') files = { ...iptablesDelta(from, to, prefix, known), 'conntrack.delta': conntrack };
  else if (from.backend === 'nft' && to.backend === 'nft') files = { 'delta.nft': nftDelta(from, to, known), 'conntrack.delta': conntrack };
  else throw new Error('a delta needs two states of one backend');
  const lines: Record<string, number> = {};
  let empty = true;
  for (const [name, text] of Object.entries(files)) {
    let n = 0;
    for (const line of text.split('\n')) if (line !== '' && !line.startsWith('#')) n++;
    lines[name] = n;
    if (n > 0) empty = false;
  }
  return { files, empty, lines };
}
