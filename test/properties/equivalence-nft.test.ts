/**
 * Equivalence for the nft backend: for generated models and packets, the strict nft
 * interpreter's verdict on the compiled ruleset.nft + sets.nft (what the kernel would do) equals
 * the model evaluator's (what sgnf promises), in ipset and expanded mode, with the hybrid and the
 * linuxbridge driver. Packets arrive with an arbitrary mark: sgnf owns the mark of bridged
 * packets and must not depend on what it was.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { portIndices } from '../../src/backends/nft/layout.js';
import { compile, prepare } from '../../src/compile.js';
import { parseModel } from '../../src/model/parse.js';
import { evaluate } from '../../src/semantics/evaluate.js';
import { hostTopology } from '../support/verify/interpret.js';
import { interpretNft, loadNftRuleset } from '../support/verify/nft.js';
import { modelArb, packetSpecArb, resolvePacket, showPathPacket } from '../support/arbitraries.js';
import { MODES, RUNS, SEEDS, seeded } from '../support/property-runs.js';

/**
 * The mark a packet carries in: none, all bits, any, or one made of this host's own port
 * indices (in-port bits, out-port bits), which a random mark would almost never hit.
 */
type MarkSpec = { readonly kind: 'value'; readonly value: number } | { readonly kind: 'ports'; readonly in: number; readonly out: number };
const markArb: fc.Arbitrary<MarkSpec> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(0, 0xffffffff).map((value) => ({ kind: 'value' as const, value })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffffffff }).map((value) => ({ kind: 'value' as const, value })) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('ports' as const), in: fc.nat(6), out: fc.nat(6) }) },
);

function resolveMark(spec: MarkSpec, indices: readonly number[]): number {
  if (spec.kind === 'value') return spec.value;
  const pick = (n: number): number => [0, ...indices][n % (indices.length + 1)]!;
  return ((pick(spec.in) << 16) | pick(spec.out)) >>> 0;
}

describe('nft interpreter verdict on the compiled ruleset == model evaluator verdict', () => {
  for (const mode of MODES) {
    for (const seed of SEEDS) it(`${mode.remoteGroups} mode, ${mode.driver} driver (seed ${seed ?? 'random'})`, () => {
      let checked = 0;
      fc.assert(
        fc.property(modelArb, fc.array(fc.tuple(packetSpecArb, markArb), { minLength: 1, maxLength: 25 }), (json, specs) => {
          const model = parseModel(json);
          const compiled = compile(json, { ...mode, backend: 'nft' });
          const rs = loadNftRuleset(compiled.files);
          const indices = [...portIndices(prepare(json).plan({ ...mode, backend: 'nft' }).ports.map((p) => p.port.id)).values()];
          const topology = hostTopology(model, mode.driver);
          for (const [spec, markSpec] of specs) {
            const initialMark = resolveMark(markSpec, indices);
            const pp = resolvePacket(model, spec, { sameNetwork: mode.driver === 'linuxbridge' });
            const want = evaluate(model, pp.path, pp.packet);
            const got = interpretNft(rs, pp.path, pp.packet, { ...topology, initialMark });
            checked++;
            if (want.verdict !== got.verdict) {
              throw new Error(
                [
                  `packet: ${showPathPacket(pp)} (mark in 0x${initialMark.toString(16)})`,
                  `evaluator: ${want.verdict}\n  ${want.reasons.join('\n  ')}`,
                  `nft interpreter: ${got.verdict} (ct ${got.ct}, zone ${String(got.zone)})\n  ${got.reasons.join('\n  ')}`,
                ].join('\n'),
              );
            }
          }
        }),
        seeded(seed, Math.ceil(RUNS / 2)),
      );
      // Every model gets at least one packet: fewer checks means the packets were not built.
      expect(checked).toBeGreaterThanOrEqual(Math.ceil(RUNS / 2));
    });
  }
});
