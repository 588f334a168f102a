/**
 * A host's slice compiles exactly as the host does in the whole cloud: over generated clouds,
 * for every host and every option set (both backends, both modes, both drivers, comments,
 * aggregation), `compile(slice(cloud, h), o)` is byte-identical to `compile(cloud, {...o, host: h})`.
 * And it is a slice: only that host's devices, only groups it uses or references.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile, prepare } from '../../src/compile.js';
import { slice } from '../../src/cloud/slice.js';
import { OPTION_SETS, cloudArb, editsArb, hostsOf, patchOf } from '../support/cloud.js';
import { RUNS } from '../support/property-runs.js';

type Obj = { [k: string]: unknown };

function check(seed: number | undefined, runs: number): number {
  let compared = 0;
  fc.assert(
    // An edited cloud, so that slices also see what edits make (ports moved, members, options).
    fc.property(cloudArb, editsArb, (cloud, edits) => {
      const model = patchOf(cloud, edits)?.result ?? cloud;
      let prepared;
      try {
        prepared = prepare(model);
      } catch {
        return;
      }
      for (const host of [...hostsOf(model), 'nowhere']) {
        const s = slice(prepared, host);
        // Plain JSON, as sent over the wire.
        expect(JSON.parse(JSON.stringify(s))).toEqual(s);
        const devices = Object.values((s['devices'] ?? {}) as Obj) as Obj[];
        expect(devices.every((d) => d['binding:host_id'] === host)).toBe(true);
        for (const options of OPTION_SETS) {
          let want;
          try {
            want = compile(model, { ...options, host }).files;
          } catch {
            continue;
          }
          expect({ host, options, files: compile(s, options).files }).toEqual({ host, options, files: want });
          compared++;
        }
      }
    }),
    { numRuns: runs, ...(seed !== undefined && { seed }) },
  );
  return compared;
}

describe('slice: compile(slice(cloud, h)) = compile(cloud, {host: h})', () => {
  it('fixed seed', () => {
    expect(check(7, RUNS)).toBeGreaterThan(RUNS * 4);
  });
  it('random seed', () => {
    check(undefined, Math.ceil(RUNS / 2));
  });
});
