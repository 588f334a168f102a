/**
 * Equivalence: for generated models and packets, the strict interpreter's verdict on the
 * compiled ruleset (what the kernel would do) equals the model evaluator's (what sgnf
 * promises), in ipset and expanded mode, with the hybrid and the linuxbridge driver.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile.js';
import { parseModel } from '../../src/model/parse.js';
import { evaluate } from '../../src/semantics/evaluate.js';
import { hostTopology, interpret, loadRuleset } from '../support/verify/interpret.js';
import { modelArb, packetSpecArb, resolvePacket, showPathPacket } from '../support/arbitraries.js';
import { MODES, RUNS, SEEDS, seeded } from '../support/property-runs.js';

describe('interpreter verdict on the compiled ruleset == model evaluator verdict', () => {
  for (const mode of MODES) {
    for (const seed of SEEDS) it(`${mode.remoteGroups} mode, ${mode.driver} driver (seed ${seed ?? 'random'})`, () => {
      let checked = 0;
      fc.assert(
        fc.property(modelArb, fc.array(packetSpecArb, { minLength: 1, maxLength: 25 }), (json, specs) => {
          const model = parseModel(json);
          const rs = loadRuleset(compile(json, mode).files);
          const topology = hostTopology(model, mode.driver);
          for (const spec of specs) {
            const resolved = resolvePacket(model, spec, { sameNetwork: mode.driver === 'linuxbridge' });
            const pp = resolved;
            const want = evaluate(model, pp.path, pp.packet);
            const got = interpret(rs, pp.path, pp.packet, topology);
            checked++;
            if (want.verdict !== got.verdict) {
              throw new Error(
                [
                  `packet: ${showPathPacket(pp)}`,
                  `evaluator: ${want.verdict}\n  ${want.reasons.join('\n  ')}`,
                  `interpreter: ${got.verdict} (ct ${got.ct})\n  ${got.reasons.join('\n  ')}`,
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
