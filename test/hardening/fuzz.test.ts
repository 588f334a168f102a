/**
 * The hardening fuzzer in the suite (test/support/fuzz.ts): a bounded run here, with a fixed seed
 * (the same cases every run) and a random one (new cases every run; a failure prints its seed).
 * `npm run fuzz` runs it longer (SGNF_FUZZ_RUNS=20000). A sample of the compiled cases loads in
 * the kernel: test/kernel/fuzz-load.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FIXED_SEED, SEEDS, seeded } from '../support/property-runs.js';
import { FUZZ_RUNS, checkCase, fuzzModel, fuzzOptions, fuzzSpecArb } from '../support/fuzz.js';

describe('fuzzer: every input compiles to text the strict interpreters accept, or is refused with a ModelError', () => {
  for (const seed of SEEDS) {
    it(`${Math.ceil(FUZZ_RUNS / 2)} mutated models (seed ${seed ?? 'random'})`, () => {
      const outcomes = { compiled: 0, refused: 0 };
      fc.assert(
        fc.property(fuzzSpecArb, (spec) => {
          outcomes[checkCase(fuzzModel(spec), fuzzOptions(spec)).kind]++;
        }),
        seeded(seed, Math.ceil(FUZZ_RUNS / 2)),
      );
      // Both outcomes must occur, or the mutations are not reaching the parser or the printers.
      if (seed === FIXED_SEED) {
        expect(outcomes.compiled).toBeGreaterThan(0);
        expect(outcomes.refused).toBeGreaterThan(0);
      }
    }, 300_000);
  }
});

describe('ids crafted to look like other names (the campaign’s examples)', () => {
  const port = (extra: object = {}) => ({ mac_address: 'fa:16:3e:00:00:01', fixed_ips: ['192.0.2.11'], security_groups: ['sg'], network_id: 'net', ...extra });
  const group = { rules: [{ direction: 'ingress', remote_group_id: 'sg' }, { direction: 'egress' }] };
  const cases: [string, object][] = [
    ['a port whose id completes a fixed chain name', { security_groups: { sg: group }, devices: { ngress: port(), gress: port({ mac_address: 'fa:16:3e:00:00:02' }) } }],
    ['groups whose ids equal another id’s hashed form', { security_groups: { sg: group, ggggggggggggggggggg1: group, ggggggggggggggggggg2: group, ggggggggggg_hwpbiy7: group }, devices: { p1: port({ security_groups: ['sg', 'ggggggggggggggggggg1', 'ggggggggggggggggggg2', 'ggggggggggg_hwpbiy7'] }) } }],
    ['ipset groups s: and s__axml2si', { security_groups: { sg: group, 's:': group, s__axml2si: group }, devices: { p1: port({ security_groups: ['sg', 's:', 's__axml2si'] }) } }],
    ['nft ports X and x-0kx8kl4', { security_groups: { sg: group }, devices: { X: port(), 'x-0kx8kl4': port({ mac_address: 'fa:16:3e:00:00:02' }) } }],
    ['linuxbridge networks sharing their first 11 characters', { security_groups: { sg: group }, devices: { p1: port({ network_id: 'netaaaaaaaa-1' }), p2: port({ mac_address: 'fa:16:3e:00:00:02', network_id: 'netaaaaaaaa-2' }) } }],
    ['a group x-t next to the group x', { security_groups: { sg: group, x: group, 'x-t': group }, devices: { p1: port({ security_groups: ['x', 'x-t'] }) } }],
  ];
  for (const [name, model] of cases) {
    for (const backend of ['iptables', 'nft'] as const) {
      for (const driver of ['hybrid', 'linuxbridge'] as const) {
        it(`${name}: compiled and accepted, or refused (${backend}, ${driver})`, () => {
          const outcome = checkCase(model, { backend, driver });
          expect(['compiled', 'refused']).toContain(outcome.kind);
        });
      }
    }
  }
});
