/**
 * Sizes the nft printer must survive: expanded mode puts one rule per remote member into a group
 * chain, and a set can hold hundreds of thousands of members. Nothing may be spread onto the call
 * stack (`push(...lines)` overflows it at about 10^5 elements), and every rule and element is
 * printed exactly once.
 */
import { describe, expect, test } from 'vitest';
import { renderNft } from '../../src/backends/nft/render.js';
import { hostPrefix } from '../../src/net/ip.js';
import { AddressList } from '../../src/net/list.js';
import { type HostPlan, type Rule, groupChainKey } from '../../src/plan/ir.js';

const GROUP = '5e000000-0000-4000-8000-000000000001';

/** A host without ports: only the group chain and the sets are under test. */
function plan(rules: readonly Rule[], members: number): HostPlan {
  return {
    driver: 'hybrid',
    remoteGroups: 'expanded',
    ports: [],
    unfiltered: [],
    groupChains: new Map([[groupChainKey(GROUP, 'ingress', 4), { group: GROUP, direction: 'ingress', family: 4, rules }]]),
    sets: [{ kind: 'group', id: GROUP, family: 4, members: AddressList.of(Array.from({ length: members }, (_, i) => hostPrefix(4, 0x0a000000n + BigInt(i)))) }],
    zones: [],
  };
}

describe('large rulesets', () => {
  test('a group chain of 200,000 rules prints each rule once, in order', () => {
    const rules: Rule[] = Array.from({ length: 200_000 }, (_, i) => ({
      matches: [{ kind: 'src', prefix: hostPrefix(4, 0x0a000000n + BigInt(i)) }],
      verdict: 'allow',
    }));
    const { ruleset, stats } = renderNft(plan(rules, 0), { prefix: 'sgnf', comments: false });
    const lines = ruleset.split('\n').filter((l) => l.startsWith('\t\tip saddr '));
    expect(lines).toHaveLength(200_000);
    expect(lines[0]).toBe('\t\tip saddr 10.0.0.0 accept');
    expect(lines[199_999]).toBe('\t\tip saddr 10.3.13.63 accept');
    expect(stats.rules).toBeGreaterThanOrEqual(200_000);
  });

  test('a set of 300,000 members fills both scripts with the same element lines', () => {
    const { ruleset, sets, stats } = renderNft(plan([], 300_000), { prefix: 'sgnf', comments: false });
    const adds = (text: string): string[] => text.split('\n').filter((l) => l.startsWith('add element inet sgnf_sg g4_'));
    expect(adds(ruleset)).toEqual(adds(sets));
    const elements = adds(sets).flatMap((l) => l.slice(l.indexOf('{ ') + 2, -2).split(', '));
    expect(elements).toHaveLength(300_000);
    expect(new Set(elements).size).toBe(300_000);
    expect(stats.setElements).toBe(300_000);
  });
});
