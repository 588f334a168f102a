/**
 * The same model in another input order: every object's keys shuffled, and every list whose
 * order carries no meaning (see orderedData), for determinism properties.
 */
import { rng } from './rng.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function shuffled<T>(list: readonly T[], r: () => number): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Lists whose order the shuffle may keep: the order of a member `[ip, mac]` is its meaning. */
export type Keep = (path: readonly string[]) => boolean;

export const isMemberTuple: Keep = (p) => p.length === 4 && p[0] === 'sg_member_ips';
const isRuleList: Keep = (p) => p[0] === 'security_groups' && (p.length === 2 || (p.length === 3 && (p[2] === 'rules' || p[2] === 'security_group_rules')));
const isFixedIps: Keep = (p) => p.length === 3 && p[0] === 'devices' && p[2] === 'fixed_ips';

/** Every object's keys in a random order, and every list shuffled unless `keep` says otherwise. */
export function shuffleModel(v: unknown, r: () => number, keep: Keep, path: readonly string[] = []): Json {
  if (Array.isArray(v)) {
    const items = v.map((x, i) => shuffleModel(x, r, keep, [...path, String(i)]));
    return keep(path) ? items : shuffled(items, r);
  }
  if (v !== null && typeof v === 'object') {
    const out: { [k: string]: Json } = {};
    for (const k of shuffled(Object.keys(v), r)) out[k] = shuffleModel((v as { [k: string]: Json })[k]!, r, keep, [...path, k]);
    return out;
  }
  return v as Json;
}

/** What sgnf's output may depend on: a group's rule order and a port's fixed-IP order (see below). */
export const orderedData: Keep = (p) => isMemberTuple(p) || isRuleList(p) || isFixedIps(p);


/** `model` in the order a seed picks, keeping only what order means: a member [ip, mac]. */
export const reordered = (model: unknown, seed: number): Json => shuffleModel(model, rng(seed), isMemberTuple);
