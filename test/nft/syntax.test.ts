/**
 * nft naming and escaping: every name fits the safe grammar and the length limit, distinct ids
 * get distinct names, no input string can leave its token, and plan matches print as nft text.
 */
import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { NFT_COMMENT_MAX, NFT_NAME_MAX } from '../../src/limits.js';
import { parsePrefix, type Prefix } from '../../src/net/ip.js';
import type { Match } from '../../src/plan/ir.js';
import { checkName, comment, ifname, ruleExprs } from '../../src/backends/nft/syntax.js';
import { portIndices } from '../../src/backends/nft/layout.js';

const pfx = (t: string): Prefix => {
  const p = parsePrefix(t);
  if (typeof p === 'string') throw new Error(p);
  return p.prefix;
};
const noSets = (): never => {
  throw new Error('no set expected');
};

describe('checkName', () => {
  test('accepts the safe grammar only', () => {
    expect(checkName('sgnf_sg')).toBe('sgnf_sg');
    for (const bad of ['fwd', 'ip', 'mark', 'sgnf', '1a_b', 'A_b', 'a-b_c', 'a b_c', '_ab', 'a_"b', '']) {
      expect(() => checkName(bad), bad).toThrow(/safe grammar/);
    }
    expect(() => checkName(`a_${'x'.repeat(NFT_NAME_MAX)}`)).toThrow(/exceeds/);
  });
});

describe('strings', () => {
  test('interface names are quoted; nothing that could end or widen the string passes', () => {
    expect(ifname('tapaaaaaaaa-11')).toBe('"tapaaaaaaaa-11"');
    for (const bad of ['tap"x', 'tap*', 'tap x', 'tap\nx', '', 'a'.repeat(16), 'tap;x', 'tap}']) {
      expect(() => ifname(bad), JSON.stringify(bad)).toThrow(/cannot be printed safely/);
    }
  });

  test('comments lose quotes, backslashes and control characters; a text over the limit is refused, never cut', () => {
    expect(comment('sg web rule 1')).toBe('comment "sg web rule 1"');
    expect(comment('a"b\\c\nd\te')).toBe('comment "a_b_c_d_e"');
    expect(comment('caf\u00e9 \u2028x')).toBe('comment "caf_ _x"');
    fc.assert(
      fc.property(fc.string({ maxLength: 200, unit: 'binary-ascii' }), (s) => {
        if (s.length > NFT_COMMENT_MAX) {
          expect(() => comment(s)).toThrow(/over 128 characters/);
          return;
        }
        const c = comment(s);
        const inner = c.slice('comment "'.length, -1);
        expect(c.startsWith('comment "') && c.endsWith('"')).toBe(true);
        expect(inner).toMatch(/^[\x20-\x7e]*$/);
        expect(inner).not.toMatch(/["\\]/);
        expect(inner.length).toBe(s.length);
      }),
    );
  });
});

describe('ruleExprs', () => {
  const one = (m: Match[], family: 4 | 6 = 4): string => {
    const alts = ruleExprs(m, family, noSets);
    expect(alts).toHaveLength(1);
    return alts[0]!.join(' ');
  };

  test('ports imply their protocol; other protocols are numbers', () => {
    expect(one([{ kind: 'protocol', protocol: 6 }, { kind: 'dstPort', range: { min: 22, max: 22 } }])).toBe('tcp dport 22');
    expect(one([{ kind: 'protocol', protocol: 17 }, { kind: 'srcPort', range: { min: 68, max: 68 } }, { kind: 'dstPort', range: { min: 67, max: 67 } }])).toBe(
      'udp sport 68 udp dport 67',
    );
    expect(one([{ kind: 'protocol', protocol: 136 }, { kind: 'dstPort', range: { min: 1000, max: 2000 } }])).toBe('udplite dport 1000-2000');
    expect(one([{ kind: 'protocol', protocol: 47 }])).toBe('meta l4proto 47');
    expect(one([{ kind: 'protocol', protocol: 6 }])).toBe('meta l4proto 6');
  });

  test('ICMP types and codes per family', () => {
    expect(one([{ kind: 'protocol', protocol: 1 }, { kind: 'icmp', type: 8, code: 0 }])).toBe('icmp type 8 icmp code 0');
    expect(one([{ kind: 'protocol', protocol: 58 }, { kind: 'icmp', type: 135, code: undefined }], 6)).toBe('icmpv6 type 135');
    expect(() => ruleExprs([{ kind: 'protocol', protocol: 1 }, { kind: 'icmp', type: 8, code: undefined }], 6, noSets)).toThrow(/ICMP match/);
  });

  test('IPv6 extension headers match the header, not the upper-layer protocol', () => {
    expect(one([{ kind: 'protocol', protocol: 43 }], 6)).toBe('exthdr rt exists');
    expect(one([{ kind: 'protocol', protocol: 44 }], 6)).toBe('exthdr frag exists');
    expect(one([{ kind: 'protocol', protocol: 60 }], 6)).toBe('exthdr dst exists');
    expect(one([{ kind: 'protocol', protocol: 51 }], 4)).toBe('meta l4proto 51');
  });

  test('addresses: hosts without length, any-address omitted, wrong family refused', () => {
    expect(one([{ kind: 'src', prefix: pfx('10.0.0.5') }, { kind: 'dst', prefix: pfx('10.1.0.0/16') }])).toBe('ip saddr 10.0.0.5 ip daddr 10.1.0.0/16');
    expect(one([{ kind: 'src', prefix: pfx('::/0') }], 6)).toBe('');
    expect(one([{ kind: 'src', prefix: pfx('::') }, { kind: 'srcMac', mac: 'fa:16:3e:00:00:01' }], 6)).toBe('ip6 saddr :: ether saddr fa:16:3e:00:00:01');
    expect(() => ruleExprs([{ kind: 'src', prefix: pfx('10.0.0.1') }], 6, noSets)).toThrow(/IPv4 prefix/);
    expect(() => ruleExprs([{ kind: 'srcMac', mac: 'FA:16:3E:00:00:01' }], 4, noSets)).toThrow(/canonical/);
  });

  test('conntrack state comes first; a set match becomes one rule per set of its pair', () => {
    const alts = ruleExprs(
      [{ kind: 'protocol', protocol: 6 }, { kind: 'dstPort', range: { min: 22, max: 22 } }, { kind: 'set', set: { kind: 'group', id: 'g', family: 6 }, dir: 'src' }],
      6,
      () => ({ hosts: 'g6_g_h', nets: 'g6_g_n' }),
    );
    expect(alts.map((a) => a.join(' '))).toEqual(['tcp dport 22 ip6 saddr @g6_g_h', 'tcp dport 22 ip6 saddr @g6_g_n']);
    expect(one([{ kind: 'ctState', states: ['RELATED', 'ESTABLISHED'] }])).toBe('ct state related,established');
  });
});

describe('port indices', () => {
  test('unique, within 1..65535, and stable when other ports come and go', () => {
    const ids = Array.from({ length: 600 }, (_, i) => `port-${i}`);
    const all = portIndices(ids);
    expect(new Set(all.values()).size).toBe(600);
    for (const v of all.values()) expect(v >= 1 && v <= 0xffff).toBe(true);
    const fewer = portIndices(ids.slice(0, 300));
    const moved = ids.slice(0, 300).filter((id) => fewer.get(id) !== all.get(id));
    // Only a port that had been probed past a collision with a removed one can move.
    expect(moved.length).toBeLessThan(5);
  });
});
