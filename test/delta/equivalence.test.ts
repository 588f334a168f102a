/**
 * Incremental updates reach exactly the state of the full output (issue: "applying full(old)
 * then diff(old, new) succeeds in strict mode and gives exactly the state of full(new)").
 *
 * The host is the strict simulators of test/support/apply (ipset restore, iptables-restore
 * --noflush, nft -f): each fails where the real tool fails, so a delta that deletes a chain still
 * referenced, adds an entry twice without -exist or names a missing set fails the property.
 * Over generated models and random edits of every kind, both backends, both drivers, ipset and
 * expanded modes; a fixed seed runs too, so the rare edges (the last member of a group, the first
 * of an empty one) are checked the same way in every CI run.
 */
import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { compile } from '../../src/compile.js';
import { diff } from '../../src/delta/diff.js';
import type { CompileOptions } from '../../src/compile.js';
import { modelJson, modelSpecArb } from '../support/arbitraries.js';
import { type Edit, editArb, editChainArb } from '../support/edits.js';
import { type IptablesHost, applyIptablesBackend, applyNftBackend, dumpIptablesHost, emptyIptablesHost } from '../support/apply/host.js';
import { type NftState, emptyNft, nftList } from '../support/apply/nft.js';
import { unwrap } from '../support/apply/result.js';
import { MODES, RUNS } from '../support/property-runs.js';
import { reordered } from '../support/shuffle.js';

const SEEDS = [20261203, undefined];

type Files = Readonly<Record<string, string>>;

function loadFull(host: IptablesHost, files: Files): IptablesHost {
  return unwrap(applyIptablesBackend(host, { ipset: files['ipset.restore'], v4: files['iptables.v4'], v6: files['iptables.v6'] }));
}

function applyDelta(host: IptablesHost, files: Files): IptablesHost {
  return unwrap(
    applyIptablesBackend(
      host,
      { ipset: files['ipset.delta'], v4: files['iptables.v4.delta'], v6: files['iptables.v6.delta'], ipsetCleanup: files['ipset.cleanup'] },
      { noflush: true },
    ),
  );
}

/** hashsize is a sizing hint the kernel grows by itself: a delta never re-creates a set for it. */
const dump = (h: IptablesHost): string => dumpIptablesHost(h, { hashsize: false });

const fullState = (model: unknown, o: CompileOptions): string => dump(loadFull(emptyIptablesHost(), compile(model, o).files));

/** A host of one backend in the simulators: load a full output, apply a delta, dump the state. */
interface SimHost<S> {
  readonly empty: () => S;
  readonly loadFull: (s: S, files: Files) => S;
  readonly applyDelta: (s: S, files: Files) => S;
  readonly dump: (s: S) => string;
}
const IPTABLES_HOST: SimHost<IptablesHost> = { empty: emptyIptablesHost, loadFull, applyDelta, dump };
const NFT_HOST: SimHost<NftState> = {
  empty: emptyNft,
  loadFull: (s, files) => unwrap(applyNftBackend(s, [{ name: 'ruleset.nft', text: files['ruleset.nft']! }])),
  applyDelta: (s, files) => unwrap(applyNftBackend(s, [{ name: 'delta.nft', text: files['delta.nft']! }])),
  dump: nftList,
};

const BACKENDS = [
  { backend: 'iptables' as const, host: IPTABLES_HOST as SimHost<unknown> },
  { backend: 'nft' as const, host: NFT_HOST as SimHost<unknown> },
];

describe.each(BACKENDS.flatMap((b) => MODES.map((m) => ({ ...b, ...m }))))('$backend backend, $remoteGroups mode, $driver driver', ({ backend, host, ...mode }) => {
  const o: CompileOptions = { ...mode, backend };
  const full = (model: unknown): unknown => host.loadFull(host.empty(), compile(model, o).files);
  test.each(SEEDS)('full(old) + diff(old, new) = full(new) for every kind of edit (seed %s)', (seed) => {
    fc.assert(
      fc.property(
        modelSpecArb.chain((spec) => editArb(spec).map((edit) => ({ spec, edit }))),
        ({ spec, edit }: { spec: Parameters<typeof modelJson>[0]; edit: Edit }) => {
          const old = modelJson(spec);
          const next = modelJson(edit.spec);
          expect(host.dump(host.applyDelta(full(old), diff(old, next, o).files))).toBe(host.dump(full(next)));
        },
      ),
      { numRuns: RUNS, ...(seed !== undefined && { seed }) },
    );
  });

  test('diff(a, b) then diff(b, c) gives full(c)', () => {
    fc.assert(
      fc.property(editChainArb(2), ({ start, edits }) => {
        const [a, b, c] = [start, edits[0]!.spec, edits[1]!.spec].map(modelJson);
        const state = host.applyDelta(host.applyDelta(full(a), diff(a, b, o).files), diff(b, c, o).files);
        expect(host.dump(state)).toBe(host.dump(full(c)));
      }),
      { numRuns: Math.ceil(RUNS / 2), seed: 7 },
    );
  });
});

describe('large membership changes', () => {
  const model = (members: string[]) => ({
    security_groups: { g: { rules: [{ direction: 'ingress', remote_group_id: 'g' }] } },
    sg_member_ips: { g: { IPv4: members } },
    devices: { p1: { mac_address: 'fa:16:3e:00:00:01', fixed_ips: ['192.0.2.1'], security_groups: ['g'] } },
  });
  const hosts = (from: number, n: number) => Array.from({ length: n }, (_, i) => `198.51.${100 + ((from + i) >> 8)}.${(from + i) & 255}`);

  test.each([
    ['a few changes: del and add lines', hosts(0, 100), [...hosts(1, 99), '203.0.113.1'], /^del /m],
    ['most members replaced: refilled under the temporary name and swapped in', hosts(0, 100), hosts(500, 60), /^swap sgnf-G4-g sgnf-g4-g$/m],
    ['every member gone', hosts(0, 40), [], /^swap /m],
  ] as const)('%s', (_, before, after, shape) => {
    const d = diff(model([...before]), model([...after]));
    expect(d.files['ipset.delta']).toMatch(shape);
    const host = applyDelta(loadFull(emptyIptablesHost(), compile(model([...before])).files), d.files);
    expect(dump(host)).toBe(fullState(model([...after]), {}));
  });
});

describe('nothing to do', () => {
  test('diff(m, m) is empty, and so is the diff of the same model in another input order', () => {
    fc.assert(
      fc.property(modelSpecArb, fc.nat(), fc.constantFrom(...MODES), fc.constantFrom('iptables' as const, 'nft' as const), (spec, seed, mode, backend) => {
        const m = modelJson(spec);
        const o = { ...mode, backend };
        const same = diff(m, m, o);
        expect(same.empty).toBe(true);
        for (const text of Object.values(same.files)) expect(text).toBe('');
        expect(diff(m, reordered(m, seed), o).empty).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});

