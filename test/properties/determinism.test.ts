/**
 * Deterministic and order-free: the same model with every list shuffled and every object's keys
 * in another order compiles to byte-identical files.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile, type CompileOptions } from '../../src/compile.js';
import { modelArb } from '../support/arbitraries.js';
import { rng } from '../support/rng.js';
import { RUNS } from '../support/property-runs.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function shuffled<T>(list: readonly T[], r: () => number): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Lists whose order the shuffle may keep: the order of a member `[ip, mac]` is its meaning. */
type Keep = (path: readonly string[]) => boolean;

const isMemberTuple: Keep = (p) => p.length === 4 && p[0] === 'sg_member_ips';
const isRuleList: Keep = (p) => p[0] === 'security_groups' && (p.length === 2 || (p.length === 3 && (p[2] === 'rules' || p[2] === 'security_group_rules')));
const isFixedIps: Keep = (p) => p.length === 3 && p[0] === 'devices' && p[2] === 'fixed_ips';

/** Every object's keys in a random order, and every list shuffled unless `keep` says otherwise. */
function shuffleModel(v: Json, r: () => number, keep: Keep, path: readonly string[] = []): Json {
  if (Array.isArray(v)) {
    const items = v.map((x, i) => shuffleModel(x, r, keep, [...path, String(i)]));
    return keep(path) ? items : shuffled(items, r);
  }
  if (v !== null && typeof v === 'object') {
    const out: { [k: string]: Json } = {};
    for (const k of shuffled(Object.keys(v), r)) out[k] = shuffleModel(v[k]!, r, keep, [...path, k]);
    return out;
  }
  return v;
}

/** What sgnf's output may depend on: a group's rule order and a port's fixed-IP order (see below). */
const orderedData: Keep = (p) => isMemberTuple(p) || isRuleList(p) || isFixedIps(p);

const VARIANTS: readonly { name: string; options: CompileOptions }[] = [
  { name: 'ipset, hybrid', options: {} },
  { name: 'expanded, linuxbridge', options: { remoteGroups: 'expanded', driver: 'linuxbridge' } },
  { name: 'with comments', options: { comments: true } },
];

const sameFiles = (json: unknown, options: CompileOptions, seed: number, keep: Keep): void => {
  const a = compile(json, options).files;
  const b = compile(shuffleModel(json as Json, rng(seed), keep), options).files;
  for (const name of Object.keys(a)) expect(b[name], name).toBe(a[name]);
};

describe('deterministic and order-free', () => {
  for (const v of VARIANTS) {
    it(`keys in any order, every list but rules and fixed IPs shuffled: byte-identical files (${v.name})`, () => {
      fc.assert(
        fc.property(modelArb, fc.integer(), (json, seed) => sameFiles(json, v.options, seed, orderedData)),
        { numRuns: RUNS },
      );
    });
  }

  it('rules and fixed IPs shuffled as well: byte-identical files', () => {
    fc.assert(
      fc.property(modelArb, fc.integer(), (json, seed) => sameFiles(json, {}, seed, isMemberTuple)),
      { numRuns: RUNS },
    );
  });

  it('compiling twice gives the same bytes', () => {
    fc.assert(
      fc.property(modelArb, (json) => {
        expect(compile(json).files).toEqual(compile(structuredClone(json)).files);
      }),
      { numRuns: 50 },
    );
  });
});
