/**
 * The audit over generated models and random tampering (issue 12), on hosts built by the strict
 * simulators of test/support/apply:
 *
 * - the full output loaded: in sync, and the repair is empty;
 * - the full output loaded, then tampered with (test/support/tamper.ts: rules deleted, foreign
 *   rules inserted, chains flushed, sgnf's jumps deleted from built-in chains, policies changed,
 *   members and elements added and removed, sets deleted after their references, map elements
 *   re-pointed, extra chains, sets and tables): the audit reports exactly the tampered objects,
 *   and the repair applies strictly and gives exactly the state of the full output.
 *
 * Both backends, both drivers, ipset and expanded modes; a fixed seed plus a random one.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { type CompileOptions, compile, prepare } from '../../src/compile.js';
import { type AuditResult, auditPrepared } from '../../src/audit/audit.js';
import { modelJson, modelSpecArb } from '../support/arbitraries.js';
import { type IptablesHost, applyIptablesBackend, applyNftBackend, dumpIptablesHost, emptyIptablesHost } from '../support/apply/host.js';
import { type NftState, emptyNft, nftList } from '../support/apply/nft.js';
import { unwrap } from '../support/apply/result.js';
import { iptablesDumps, nftDumps } from '../support/audit-dumps.js';
import { MODES, RUNS } from '../support/property-runs.js';
import { tamperIptables, tamperNft, tamperOpsArb } from '../support/tamper.js';

const SEEDS = [20261212, undefined];
const runs = Math.max(20, Math.ceil(RUNS / 6));

type Files = Readonly<Record<string, string>>;

const objects = (r: AuditResult): string[] => r.drifts.map((d) => `${d.kind}: ${d.object}`).sort();

function loadIptables(files: Files): IptablesHost {
  return unwrap(applyIptablesBackend(emptyIptablesHost(), { ipset: files['ipset.restore'], v4: files['iptables.v4'], v6: files['iptables.v6'] }));
}

function repairIptables(host: IptablesHost, files: Files): IptablesHost {
  return unwrap(
    applyIptablesBackend(host, { ipset: files['ipset.delta'], v4: files['iptables.v4.delta'], v6: files['iptables.v6.delta'], ipsetCleanup: files['ipset.cleanup'] }, { noflush: true }),
  );
}

const dumpIpt = (h: IptablesHost): string => dumpIptablesHost(h, { hashsize: false });
const loadNft = (files: Files): NftState => unwrap(applyNftBackend(emptyNft(), [{ name: 'ruleset.nft', text: files['ruleset.nft']! }]));

describe.each(MODES)('$remoteGroups mode, $driver driver', (mode) => {
  describe('iptables backend', () => {
    const o: CompileOptions = { ...mode, backend: 'iptables' };
    test.each(SEEDS)('tampered objects reported exactly; full + tampering + repair = full (seed %s)', (seed) => {
      fc.assert(
        fc.property(modelSpecArb, tamperOpsArb, (spec, ops) => {
          const model = prepare(modelJson(spec));
          const full = loadIptables(model.compile(o).files);
          const clean = auditPrepared(model, iptablesDumps(full), o);
          expect(objects(clean)).toEqual([]);
          expect(clean.repair().empty).toBe(true);
          const t = tamperIptables(full, ops);
          const r = auditPrepared(model, iptablesDumps(t.host), o);
          expect(objects(r)).toEqual(t.expect);
          const repaired = repairIptables(t.host, r.repair().files);
          expect(dumpIpt(repaired)).toBe(dumpIpt(full));
          expect(auditPrepared(model, iptablesDumps(repaired), o).inSync).toBe(true);
        }),
        { numRuns: runs, ...(seed !== undefined && { seed }) },
      );
    });
  });

  describe('nft backend', () => {
    const o: CompileOptions = { ...mode, backend: 'nft' };
    test.each(SEEDS)('tampered objects reported exactly; full + tampering + repair = full (seed %s)', (seed) => {
      fc.assert(
        fc.property(modelSpecArb, tamperOpsArb, (spec, ops) => {
          const model = prepare(modelJson(spec));
          const full = loadNft(model.compile(o).files);
          const clean = auditPrepared(model, nftDumps(full), o);
          expect(objects(clean)).toEqual([]);
          expect(clean.repair().empty).toBe(true);
          const t = tamperNft(full, ops);
          const r = auditPrepared(model, nftDumps(t.host), o);
          expect(objects(r)).toEqual(t.expect);
          const repaired = unwrap(applyNftBackend(t.host, [{ name: 'delta.nft', text: r.repair().files['delta.nft']! }]));
          expect(nftList(repaired)).toBe(nftList(full));
          expect(auditPrepared(model, nftDumps(repaired), o).inSync).toBe(true);
        }),
        { numRuns: runs, ...(seed !== undefined && { seed }) },
      );
    });
  });
});

test('a tampering that changes nothing is never expected (the generator applies every kind)', () => {
  // Every kind of operation applies to some generated host: the properties above cover them all.
  const seen = { iptables: new Set<number>(), nft: new Set<number>() };
  fc.assert(
    fc.property(modelSpecArb, fc.nat(9), fc.nat(), fc.nat(), (spec, kind, pick, at) => {
      const m = modelJson(spec);
      const ipt = tamperIptables(loadIptables(compile(m, { backend: 'iptables' }).files), [{ kind, pick, at }]);
      if (ipt.expect.length > 0) seen.iptables.add(kind);
      const nft = tamperNft(loadNft(compile(m, { backend: 'nft' }).files), [{ kind, pick, at }]);
      if (nft.expect.length > 0) seen.nft.add(kind);
    }),
    { numRuns: 300, seed: 5 },
  );
  expect([...seen.iptables].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  expect([...seen.nft].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});
