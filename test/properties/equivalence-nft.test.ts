/**
 * Equivalence for the nft backend: for generated models and packets, the strict nft
 * interpreter's verdict on the compiled ruleset.nft + sets.nft (what the kernel would do) equals
 * the model evaluator's (what sgnf promises), in ipset and expanded mode, with the hybrid and the
 * linuxbridge driver. Packets arrive with an arbitrary mark: sgnf owns the mark of bridged
 * packets and must not depend on what it was.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile.js';
import { parseModel } from '../../src/model/parse.js';
import { evaluate } from '../../src/semantics/evaluate.js';
import { hostTopology } from '../../src/verify/interpret.js';
import { interpretNft, loadNftRuleset } from '../../src/verify/nft.js';
import { modelArb, packetSpecArb, resolvePacket, showPathPacket } from '../support/arbitraries.js';

const MODES = [
  { remoteGroups: 'ipset', driver: 'hybrid' },
  { remoteGroups: 'expanded', driver: 'hybrid' },
  { remoteGroups: 'ipset', driver: 'linuxbridge' },
  { remoteGroups: 'expanded', driver: 'linuxbridge' },
] as const;

const RUNS = Number(process.env['SGNF_PROPERTY_RUNS'] ?? 200);

/** Marks a packet may carry in: none, all bits, and ones that look like sgnf's port indices. */
const markArb = fc.oneof(fc.constant(0), fc.constant(0xffffffff), fc.integer({ min: 0, max: 0xffffffff }));

describe('nft interpreter verdict on the compiled ruleset == model evaluator verdict', () => {
  for (const mode of MODES) {
    it(`${mode.remoteGroups} mode, ${mode.driver} driver`, () => {
      fc.assert(
        fc.property(modelArb, fc.array(fc.tuple(packetSpecArb, markArb), { minLength: 1, maxLength: 25 }), (json, specs) => {
          const model = parseModel(json);
          const rs = loadNftRuleset(compile(json, { ...mode, backend: 'nft' }).files);
          const topology = hostTopology(model, mode.driver);
          for (const [spec, initialMark] of specs) {
            const pp = resolvePacket(model, spec, { sameNetwork: mode.driver === 'linuxbridge' });
            const want = evaluate(model, pp.path, pp.packet);
            const got = interpretNft(rs, pp.path, pp.packet, { ...topology, initialMark });
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
        { numRuns: RUNS },
      );
      expect(true).toBe(true);
    });
  }
});
