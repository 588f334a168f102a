/**
 * Deterministic and order-free: the same model with every list shuffled and every object's keys
 * in another order compiles to byte-identical files.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile, type CompileOptions } from '../../src/compile.js';
import { modelArb } from '../support/arbitraries.js';
import { type Keep, isMemberTuple, orderedData, shuffleModel } from '../support/shuffle.js';
import { rng } from '../support/rng.js';
import { RUNS } from '../support/property-runs.js';

const VARIANTS: readonly { name: string; options: CompileOptions }[] = [
  { name: 'ipset, hybrid', options: {} },
  { name: 'expanded, linuxbridge', options: { remoteGroups: 'expanded', driver: 'linuxbridge' } },
  { name: 'with comments', options: { comments: true } },
];

const sameFiles = (json: unknown, options: CompileOptions, seed: number, keep: Keep): void => {
  const a: Readonly<Record<string, string>> = compile(json, options).files;
  const b: Readonly<Record<string, string>> = compile(shuffleModel(json, rng(seed), keep), options).files;
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
