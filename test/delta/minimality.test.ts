/**
 * A delta costs what the change costs (README, "Updating a host", line counts):
 *
 * - one member added to or removed from a group: set element lines only, at most one per set
 *   that holds it (two for a /0 member, which a set holds as two /1 halves), no chain lines;
 * - one rule added, removed or changed: only the chains of that group are rewritten (when the
 *   group keeps a chain for each direction and family it had; a group chain that appears or
 *   empties also changes which group chains its ports jump to);
 * - one port added or removed: only its own chains, the dispatch (iptables: the shared dispatch
 *   chains, which list every port; nft: map elements) and its addresses in its groups' sets.
 *
 * Expected names are written from the naming rule (docs/naming.md), not read from the output.
 */
import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { type CompileOptions, prepare } from '../../src/compile.js';
import { diff } from '../../src/delta/diff.js';
import { nftObjectKey, objectKey } from '../../src/backends/shared/names.js';
import { GROUP_IDS, PORT_IDS, modelJson, modelSpecArb } from '../support/arbitraries.js';
import { type EditKind, editArb } from '../support/edits.js';
import { RUNS } from '../support/property-runs.js';

const DRIVERS = ['hybrid', 'linuxbridge'] as const;
const MEMBER_EDITS: readonly EditKind[] = ['memberAdd', 'memberRemove'];
const RULE_EDITS: readonly EditKind[] = ['ruleAdd', 'ruleRemove', 'ruleChange'];
const PORT_EDITS: readonly EditKind[] = ['portAdd', 'portRemove'];

const pairs = (kinds: readonly EditKind[]) => modelSpecArb.chain((spec) => editArb(spec, kinds).map((edit) => ({ old: modelJson(spec), next: modelJson(edit.spec), edit })));

/** The lines of a file that do something. */
const statements = (text: string | undefined): string[] => (text ?? '').split('\n').filter((l) => l !== '' && !l.startsWith('#'));
/** Chains a delta rewrites: iptables `:name` lines, nft `flush chain` / `add chain` targets. */
const iptablesChains = (files: Readonly<Record<string, string>>): string[] =>
  ['iptables.v4.delta', 'iptables.v6.delta'].flatMap((f) => statements(files[f]).flatMap((l) => (l.startsWith(':') ? [l.slice(1).split(' ')[0]!] : [])));
const nftChains = (files: Readonly<Record<string, string>>): string[] =>
  statements(files['delta.nft']).flatMap((l) => {
    const m = /^(?:flush|add|delete) chain \S+ \S+ (\S+)/.exec(l);
    return m ? [m[1]!] : [];
  });
const groupChainKeys = (model: unknown, o: CompileOptions): string[] => [...prepare(model).plan(o).groupChains.keys()].sort();

describe.each(DRIVERS)('minimal deltas (%s driver)', (driver) => {
  const ipt: CompileOptions = { driver, remoteGroups: 'ipset' };
  const nft: CompileOptions = { ...ipt, backend: 'nft' };

  test('one member: element lines only, at most one per set holding it', () => {
    fc.assert(
      fc.property(pairs(MEMBER_EDITS), ({ old, next }) => {
        const d = diff(old, next, ipt).files;
        expect(statements(d['iptables.v4.delta'])).toEqual([]);
        expect(statements(d['iptables.v6.delta'])).toEqual([]);
        expect(statements(d['ipset.cleanup'])).toEqual([]);
        const perSet = new Map<string, number>();
        for (const l of statements(d['ipset.delta'])) {
          const m = /^(add|del) (\S+) (\S+) -exist$/.exec(l);
          expect(m, l).not.toBeNull();
          perSet.set(m![2]!, (perSet.get(m![2]!) ?? 0) + 1);
        }
        for (const n of perSet.values()) expect(n).toBeLessThanOrEqual(2);

        const e = statements(diff(old, next, nft).files['delta.nft']);
        const nftPerSet = new Map<string, number>();
        for (const l of e) {
          const m = /^(add|delete) element inet sgnf_sg ([ag][46]_\S+_[hn]) \{ [^}]* \}$/.exec(l);
          expect(m, l).not.toBeNull();
          nftPerSet.set(`${m![1]} ${m![2]}`, (nftPerSet.get(`${m![1]} ${m![2]}`) ?? 0) + 1);
        }
        for (const n of nftPerSet.values()) expect(n).toBe(1);
      }),
      { numRuns: RUNS, seed: 11 },
    );
  });

  test('one rule: only the chains of that group', () => {
    fc.assert(
      fc.property(pairs(RULE_EDITS), ({ old, next, edit }) => {
        fc.pre(edit.group !== undefined);
        fc.pre(groupChainKeys(old, ipt).join() === groupChainKeys(next, ipt).join());
        const group = GROUP_IDS[edit.group!]!;
        const iptKey = objectKey(group, 28 - 'sgnf'.length - 5);
        for (const c of iptablesChains(diff(old, next, ipt).files)) expect(c).toMatch(new RegExp(`^sgnf-g[io][46]-${iptKey}$`));
        for (const c of nftChains(diff(old, next, nft).files)) expect(c).toMatch(new RegExp(`^g[io][46]_${nftObjectKey(group)}$`));
      }),
      { numRuns: RUNS, seed: 12 },
    );
  });

  test('one port: its own chains, the dispatch and its addresses in sets', () => {
    fc.assert(
      fc.property(pairs(PORT_EDITS), ({ old, next, edit }) => {
        fc.pre(edit.port !== undefined);
        fc.pre(groupChainKeys(old, ipt).join() === groupChainKeys(next, ipt).join());
        const port = PORT_IDS[edit.port!]!;
        const key = objectKey(port, 28 - 'sgnf'.length - 2);
        const own = new Set([`sgnf-i${key}`, `sgnf-o${key}`, `sgnf-s${key}`, 'sgnf-FORWARD', 'sgnf-INPUT', 'sgnf-INGRESS', 'sgnf-PREROUTING']);
        const d = diff(old, next, ipt).files;
        for (const c of iptablesChains(d)) expect(own, c).toContain(c);
        for (const l of statements(d['ipset.delta'])) expect(l).toMatch(/^(add|del) \S+ \S+ -exist$/);
        const k = nftObjectKey(port);
        const nftOwn = new Set(['i4', 'i6', 'o4', 'o6', 's4', 's6', 'out'].map((t) => `${t}_${k}`));
        const n = diff(old, next, nft).files['delta.nft']!;
        for (const c of nftChains({ 'delta.nft': n })) expect(nftOwn, c).toContain(c);
        for (const l of statements(n)) expect(l).toMatch(/^((add|delete) element|(add|flush|delete) chain|add rule \S+ \S+ [ios][46]_|add rule bridge \S+ out_)/);
      }),
      { numRuns: RUNS, seed: 13 },
    );
  });
});
