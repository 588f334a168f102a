/**
 * `affected` is exact: over generated clouds and generated changes (edits of every kind, as JSON
 * Patch), a host is listed if and only if compiling it from the new model gives other files than
 * from the old one, for every option set (both backends, both modes, both drivers, comments,
 * aggregation). The definition is computed the slow way: every host compiled from scratch.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { prepare } from '../../src/compile.js';
import { affected } from '../../src/cloud/affected.js';
import { OPTION_SETS, cloudArb, compileEveryHost, editsArb, hostsOf, patchOf, sameFiles } from '../support/cloud.js';
import { RUNS } from '../support/property-runs.js';

function check(seed: number | undefined, runs: number): { cases: number; listed: number; unlisted: number } {
  const seen = { cases: 0, listed: 0, unlisted: 0 };
  fc.assert(
    fc.property(cloudArb, editsArb, (cloud, edits) => {
      const change = patchOf(cloud, edits);
      if (!change) return;
      let before, after;
      try {
        before = prepare(cloud);
        after = prepare(change.result);
      } catch {
        return;
      }
      const hosts = [...new Set([...hostsOf(cloud), ...hostsOf(change.result)])].sort();
      for (const options of OPTION_SETS) {
        const a = compileEveryHost(cloud, hosts, options);
        const b = compileEveryHost(change.result, hosts, options);
        if (!a || !b) continue;
        const expected = hosts.filter((h) => !sameFiles(a.get(h), b.get(h)));
        const got = affected(before, after, options);
        expect({ options, edits, hosts: got.hosts }).toEqual({ options, edits, hosts: expected });
        seen.cases++;
        seen.listed += expected.length;
        seen.unlisted += hosts.length - expected.length;
      }
    }),
    { numRuns: runs, ...(seed !== undefined && { seed }) },
  );
  return seen;
}

describe('affected: a host is listed iff its compiled files change', () => {
  it('fixed seed', () => {
    const seen = check(11, RUNS);
    // Not vacuous: many comparisons ran, and both answers occurred often.
    expect(seen.cases).toBeGreaterThan(RUNS);
    expect(seen.listed).toBeGreaterThan(RUNS / 4);
    expect(seen.unlisted).toBeGreaterThan(RUNS / 4);
  });
  it('random seed', () => {
    check(undefined, RUNS);
  });
});
