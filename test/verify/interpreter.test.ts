/**
 * The ruleset interpreter on its own: what it refuses (with the line), and how it walks chains.
 * Small hand-written rulesets, so each behaviour is pinned by one readable case.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile.js';
import { goldenCases } from '../support/golden.js';
import { parseModel } from '../../src/model/parse.js';
import { packet } from '../../src/semantics/scenario.js';
import { RulesetError, parseIpset } from '../support/verify/ipset.js';
import { parseIptables } from '../support/verify/iptables.js';
import { bridgeDevices, interpret, loadRuleset, rulesetStructure, type RulesetFiles } from '../support/verify/interpret.js';

const GOLDEN = JSON.parse(readFileSync(new URL('../../golden/default-group-3-ports/model.json', import.meta.url), 'utf8')) as Record<string, unknown>;

const SETS = `create s4 hash:net family inet hashsize 64 maxelem 100
add s4 10.0.0.0/24
add s4 192.0.2.7
create s6 hash:net family inet6 hashsize 64 maxelem 100
add s6 2001:db8::/64
`;

const RAW = ['*raw', ':PREROUTING ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', 'COMMIT'];

/** A filter table with the given extra chains and rules, plus an empty raw table. */
function filter(chains: string[], rules: string[], policy = 'ACCEPT'): string {
  return [
    '*filter',
    ':INPUT ACCEPT [0:0]',
    `:FORWARD ${policy} [0:0]`,
    ':OUTPUT ACCEPT [0:0]',
    ...chains.map((c) => `:${c} - [0:0]`),
    ...rules,
    'COMMIT',
    ...RAW,
    '',
  ].join('\n');
}

function files(v4: string, v6 = filter([], []), ipset = SETS): RulesetFiles {
  return { 'ipset.restore': ipset, 'iptables.v4': v4, 'iptables.v6': v6 };
}

const fwd = { fromDevice: 'tap1', to: 'tap2' } as const;
const tcp = packet({ src: '10.0.0.5', dst: '192.0.2.1', protocol: 'tcp', srcPort: 1000, dstPort: 22 });
const udp = packet({ src: '10.0.0.5', dst: '192.0.2.1', protocol: 'udp', srcPort: 1000, dstPort: 53 });

function rejects(text: string, line: number, message: RegExp, family: 4 | 6 = 4): void {
  let err: unknown;
  try {
    parseIptables(text, family, parseIpset(SETS));
  } catch (e) {
    err = e;
  }
  expect(err, `expected a RulesetError for:\n${text}`).toBeInstanceOf(RulesetError);
  expect((err as RulesetError).line).toBe(line);
  expect((err as RulesetError).message).toMatch(message);
}

describe('iptables-restore parsing is strict', () => {
  it('accepts a small valid file', () => {
    const rs = parseIptables(filter(['a'], ['-A FORWARD -j a', '-A a -s 10.0.0.0/24 -p tcp -m tcp --dport 22 -j ACCEPT']), 4, parseIpset(SETS));
    expect(rs.tables.get('filter')!.chains.get('a')!.rules).toHaveLength(1);
  });

  const cases: [string, string, number, RegExp][] = [
    ['missing COMMIT', '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n', 1, /COMMIT expected/],
    ['whitespace-only line', filter([], ['  ']), 5, /only whitespace/],
    ['rule in an undeclared chain', filter([], ['-A nochain -j ACCEPT']), 5, /not declared/],
    ['jump to an undeclared chain', filter([], ['-A FORWARD -j nochain']), 5, /not declared/],
    ['jump loop', filter(['a', 'b'], ['-A a -j b', '-A b -p tcp -g a']), 8, /loop/],
    ['self loop', filter(['a'], ['-A a -j a']), 6, /loop/],
    ['chain name over 28', filter(['c'.repeat(29)], []), 5, /longer than 28/],
    ['unknown module', filter([], ['-A FORWARD -m state --state NEW -j ACCEPT']), 5, /not understood/],
    ['unknown option', filter([], ['-A FORWARD -p tcp -m tcp --syn -j ACCEPT']), 5, /not understood/],
    ['port without -m', filter([], ['-A FORWARD -p tcp --dport 22 -j ACCEPT']), 5, /not understood/],
    ['-m tcp without -p tcp', filter([], ['-A FORWARD -p udp -m tcp --dport 22 -j ACCEPT']), 5, /needs "-p tcp"/],
    ['undefined set', filter([], ['-A FORWARD -m set --match-set nosuch src -j ACCEPT']), 5, /does not exist/],
    ['set of the other family', filter([], ['-A FORWARD -m set --match-set s6 src -j ACCEPT']), 5, /IPv6, not applicable/],
    ['-m icmp6 in IPv4', filter([], ['-A FORWARD -p ipv6-icmp -m icmp6 --icmpv6-type 135 -j ACCEPT']), 5, /not available in IPv4/],
    ['address without length', filter([], ['-A FORWARD -s 10.0.0.1 -j ACCEPT']), 5, /no prefix length/],
    ['address with host bits', filter([], ['-A FORWARD -s 10.0.0.1/24 -j ACCEPT']), 5, /canonical/],
    ['IPv6 address in IPv4', filter([], ['-A FORWARD -d 2001:db8::/64 -j ACCEPT']), 5, /IPv6 address in an IPv4 file/],
    ['options out of order', filter([], ['-A FORWARD -p tcp -s 10.0.0.0/8 -j ACCEPT']), 5, /out of order/],
    ['double space', filter([], ['-A FORWARD  -j ACCEPT']), 5, /extra space/],
    ['trailing space', filter([], ['-A FORWARD -j ACCEPT ']), 5, /trailing space/],
    ['rule without target', filter([], ['-A FORWARD -p tcp']), 5, /without -j/],
    ['words after the target', filter([], ['-A FORWARD -j ACCEPT -p tcp']), 5, /after the target/],
    ['upper-case MAC', filter([], ['-A FORWARD -m mac --mac-source FA:16:3E:00:00:01 -j ACCEPT']), 5, /lower case/],
    ['interface name over 15', filter([], ['-A FORWARD -m physdev --physdev-in tap0123456789abc -j ACCEPT']), 5, /longer than 15/],
    ['interface wildcard', filter([], ['-A FORWARD -i tap+ -j ACCEPT']), 5, /no wildcards/],
    ['comment over 255', filter([], [`-A FORWARD -m comment --comment "${'x'.repeat(256)}" -j ACCEPT`]), 5, /longer than 255/],
    ['unterminated quote', filter([], ['-A FORWARD -m comment --comment "abc -j ACCEPT']), 5, /unterminated/],
    ['single quotes', filter([], ["-A FORWARD -m comment --comment 'a' -j ACCEPT"]), 5, /quote/],
    ['CT in filter', filter([], ['-A FORWARD -j CT --notrack']), 5, /only valid in the raw table/],
    ['negation', filter([], ['-A FORWARD ! -s 10.0.0.0/8 -j ACCEPT']), 5, /negation/],
    ['policy on a user chain', filter([], [':x ACCEPT [0:0]']), 5, /must have "-"/],
    ['chain declared twice', filter(['a', 'a'], []), 6, /twice/],
    ['jump to a built-in chain', filter([], ['-A FORWARD -j INPUT']), 5, /built-in chain/],
    ['mac reachable from OUTPUT', filter(['a'], ['-A OUTPUT -j a', '-A a -m mac --mac-source 02:00:00:00:00:01 -j ACCEPT']), 7, /-m mac/],
    ['ctstate not in save order', filter([], ['-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT']), 5, /iptables-save form/],
    ['unknown ctstate', filter([], ['-A FORWARD -m conntrack --ctstate SNAT -j ACCEPT']), 5, /not understood/],
    ['port range N:N', filter([], ['-A FORWARD -p tcp -m tcp --dport 22:22 -j ACCEPT']), 5, /iptables-save form/],
    ['multiport over 15 ports', filter([], [`-A FORWARD -p tcp -m multiport --dports ${Array.from({ length: 8 }, (_, i) => `${i * 10 + 1}:${i * 10 + 2}`).join(',')} -j ACCEPT`]), 5, /at most 15/],
    ['other table', '*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n', 1, /only filter and raw/],
    ['line outside a table', '-A FORWARD -j ACCEPT\n', 1, /outside a table/],
    ['no final newline', '*filter\nCOMMIT', 2, /no newline/],
    ['built-in not declared', '*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n', 1, /FORWARD .* not declared/],
  ];
  for (const [name, text, line, message] of cases) {
    it(`rejects ${name} (line ${line})`, () => rejects(text, line, message));
  }

  it('rejects -m icmp in IPv6', () => rejects(filter([], ['-A FORWARD -p icmp -m icmp --icmp-type 8 -j ACCEPT']), 5, /not available in IPv6/, 6));
});

describe('ipset scripts are replayed strictly', () => {
  const bad: [string, string, number, RegExp][] = [
    ['a duplicate entry', 'create a hash:net family inet\nadd a 192.0.2.1\nadd a 192.0.2.1\n', 3, /already in set/],
    ['a /0 entry', 'create a hash:net family inet\nadd a 0.0.0.0/0\n', 2, /\/0/],
    ['an entry of the other family', 'create a hash:net family inet\nadd a 2001:db8::1\n', 2, /IPv6 but the set is IPv4/],
    ['a non-canonical entry', 'create a hash:net family inet\nadd a 192.0.2.1/32\n', 2, /canonical/],
    ['an entry with host bits', 'create a hash:net family inet\nadd a 192.0.2.1/24\n', 2, /canonical/],
    ['create of an existing set', 'create a hash:net family inet\ncreate a hash:net family inet\n', 2, /already exists/],
    ['create -exist with another maxelem', 'create a hash:net family inet maxelem 10\ncreate a hash:net family inet maxelem 20 -exist\n', 2, /another header/],
    ['add to a missing set', 'add a 192.0.2.1\n', 1, /does not exist/],
    ['swap of different families', 'create a hash:net family inet\ncreate b hash:net family inet6\nswap a b\n', 3, /different types/],
    ['destroy of a missing set', 'destroy a\n', 1, /does not exist/],
    ['a name over 31', `create ${'a'.repeat(32)} hash:net family inet\n`, 1, /longer than 31/],
    ['another set type', 'create a hash:ip family inet\n', 1, /only hash:net/],
    ['an unknown command', 'flush a\n', 1, /unknown/],
    ['a full set', 'create a hash:net family inet maxelem 1\nadd a 192.0.2.1\nadd a 192.0.2.2\n', 3, /full/],
    ['a whitespace-only line', 'create a hash:net family inet\n \n', 2, /whitespace/],
  ];
  for (const [name, text, line, message] of bad) {
    it(`rejects ${name}`, () => {
      expect(() => parseIpset(text)).toThrow(RulesetError);
      try {
        parseIpset(text);
      } catch (e) {
        expect((e as RulesetError).line).toBe(line);
        expect((e as RulesetError).message).toMatch(message);
      }
    });
  }

  it('swap trades contents and destroy -exist tolerates a missing set', () => {
    const s = parseIpset('destroy t -exist\ncreate t hash:net family inet\nadd t 192.0.2.0/25\ncreate a hash:net family inet -exist\nswap t a\ndestroy t\n');
    expect([...s.keys()]).toEqual(['a']);
    expect(s.get('a')!.contains(4, 0xc0000205n)).toBe(true); // 192.0.2.5
    expect(s.get('a')!.contains(4, 0xc0000285n)).toBe(false); // 192.0.2.133
  });
});

describe('traversal follows the kernel', () => {
  const run = (text: string, p = tcp, path: { fromDevice: string | undefined; to: string | 'host' | undefined } = fwd) =>
    interpret(loadRuleset(files(text)), path, p);

  it('RETURN from a chain entered by -g returns to the caller of the chain that did the goto', () => {
    const text = filter(['a', 'b'], ['-A FORWARD -j a', '-A FORWARD -p tcp -j ACCEPT', '-A a -g b', '-A a -j DROP', '-A b -j RETURN'], 'DROP');
    expect(run(text).verdict).toBe('ACCEPT');
    expect(run(text, udp).verdict).toBe('DROP'); // back in FORWARD, nothing matches: policy
    expect(run(text, udp).reasons.at(-1)).toMatch(/policy DROP/);
  });

  it('falling off a chain entered by -j continues after the jump', () => {
    const text = filter(['a'], ['-A FORWARD -j a', '-A FORWARD -j DROP', '-A a -p udp -j ACCEPT']);
    expect(run(text, udp).verdict).toBe('ACCEPT');
    expect(run(text, tcp).verdict).toBe('DROP');
  });

  it('falling off a chain entered by -g from a built-in chain ends in the policy', () => {
    const text = filter(['a'], ['-A FORWARD -g a', '-A FORWARD -j ACCEPT'], 'DROP');
    expect(run(text).verdict).toBe('DROP');
  });

  it('matches sets, port ranges, multiport, MACs and conntrack states', () => {
    const text = filter(
      [],
      [
        '-A FORWARD -m set --match-set s4 dst -j DROP',
        '-A FORWARD -p udp -m multiport --dports 50:52,53 -m mac --mac-source 02:00:00:00:00:01 -j ACCEPT',
        '-A FORWARD -p tcp -m tcp --sport 999:1000 --dport 22 -m conntrack --ctstate NEW -j ACCEPT',
      ],
      'DROP',
    );
    expect(run(text).verdict).toBe('ACCEPT');
    expect(run(text, { ...tcp, ct: 'ESTABLISHED' }).verdict).toBe('DROP');
    expect(run(text, { ...tcp, srcPort: 1001 }).verdict).toBe('DROP');
    expect(run(text, udp).verdict).toBe('ACCEPT');
    expect(run(text, { ...udp, srcMac: '02:00:00:00:00:02' }).verdict).toBe('DROP');
    expect(run(text, { ...udp, dst: 0xc0000207n }).verdict).toBe('DROP'); // 192.0.2.7 is in s4
  });

  it('IPv4 ICMP type 255 means any type; a code pins the code', () => {
    const text = filter([], ['-A FORWARD -p icmp -m icmp --icmp-type 255 -j ACCEPT'], 'DROP');
    const echo = packet({ src: '10.0.0.5', dst: '192.0.2.1', protocol: 'icmp', icmpType: 8, icmpCode: 0 });
    expect(run(text, echo).verdict).toBe('ACCEPT');
    const coded = filter([], ['-A FORWARD -p icmp -m icmp --icmp-type 3/4 -j ACCEPT'], 'DROP');
    expect(run(coded, { ...echo, icmpType: 3, icmpCode: 4 }).verdict).toBe('ACCEPT');
    expect(run(coded, { ...echo, icmpType: 3, icmpCode: 3 }).verdict).toBe('DROP');
  });

  it('physdev: is-bridged holds only in FORWARD; INPUT sees physdev-in', () => {
    const text = [
      '*filter',
      ':INPUT DROP [0:0]',
      ':FORWARD DROP [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      '-A INPUT -m physdev --physdev-in tap1 --physdev-is-bridged -j ACCEPT',
      '-A FORWARD -m physdev --physdev-in tap1 --physdev-out tap2 --physdev-is-bridged -j ACCEPT',
      'COMMIT',
      ...RAW,
      '',
    ].join('\n');
    expect(run(text).verdict).toBe('ACCEPT');
    expect(run(text, tcp, { fromDevice: 'tap1', to: 'host' }).verdict).toBe('DROP');
    expect(run(text, tcp, { fromDevice: 'tap1', to: undefined }).verdict).toBe('DROP'); // physdev-out is the uplink
  });

  it('raw: the first CT target wins, notrack makes the packet UNTRACKED', () => {
    const raw = (first: string, second: string) =>
      [
        '*filter',
        ':INPUT ACCEPT [0:0]',
        ':FORWARD DROP [0:0]',
        ':OUTPUT ACCEPT [0:0]',
        '-A FORWARD -m conntrack --ctstate UNTRACKED -j ACCEPT',
        'COMMIT',
        '*raw',
        ':PREROUTING ACCEPT [0:0]',
        ':OUTPUT ACCEPT [0:0]',
        `-A PREROUTING -m physdev --physdev-in tap1 -j CT ${first}`,
        `-A PREROUTING -i br0 -j CT ${second}`,
        'COMMIT',
        '',
      ].join('\n');
    const bridges = { bridgeOf: new Map([['tap1', 'br0']]) };
    const a = interpret(loadRuleset(files(raw('--notrack', '--zone 5'))), fwd, tcp, bridges);
    expect([a.verdict, a.ct, a.zone]).toEqual(['ACCEPT', 'UNTRACKED', 'notrack']);
    const b = interpret(loadRuleset(files(raw('--zone 5', '--notrack'))), fwd, tcp, bridges);
    expect([b.verdict, b.ct, b.zone]).toEqual(['DROP', 'NEW', 5]);
    // -i is the bridge: without the mapping, only the physdev rule can match.
    const c = interpret(loadRuleset(files(raw('--zone 5', '--notrack'))), { fromDevice: 'tap9', to: 'tap2' }, tcp, bridges);
    expect(c.zone).toBeUndefined();
  });

  it('IPv6 extension headers: -p never sees them, -m ipv6header --soft does', () => {
    const v6 = (rule: string) => loadRuleset(files(filter([], []), filter([], [rule], 'DROP')));
    const routed = packet({ src: '2001:db8::1', dst: '2001:db8::2', protocol: 43 });
    expect(interpret(v6('-A FORWARD -p 43 -j ACCEPT'), fwd, routed).verdict).toBe('DROP');
    expect(interpret(v6('-A FORWARD -m ipv6header --header ipv6-route --soft -j ACCEPT'), fwd, routed).verdict).toBe('ACCEPT');
    expect(interpret(v6('-A FORWARD -m ipv6header --header ah --soft -j ACCEPT'), fwd, routed).verdict).toBe('DROP');
  });

  it('ICMPv6 MLD, RS/RA and neighbour discovery are UNTRACKED whatever state was asked', () => {
    const v6 = filter([], ['-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT'], 'DROP');
    const rs = loadRuleset(files(filter([], []), v6));
    const icmp6 = (icmpType: number) => packet({ src: '2001:db8::1', dst: '2001:db8::2', protocol: 'ipv6-icmp', icmpType, icmpCode: 0, ct: 'ESTABLISHED' });
    for (const t of [130, 131, 132, 133, 134, 135, 136, 143]) expect(interpret(rs, fwd, icmp6(t)).ct).toBe('UNTRACKED');
    expect(interpret(rs, fwd, icmp6(128)).verdict).toBe('ACCEPT');
  });
});

describe('sgnf output parses in every mode', () => {
  const variants = [{}, { comments: true }, { remoteGroups: 'expanded' as const }, { driver: 'linuxbridge' as const }, { driver: 'linuxbridge' as const, comments: true }];
  for (const opts of variants) {
    it(`golden default-group-3-ports with ${JSON.stringify(opts)}`, () => {
      const model = structuredClone(GOLDEN) as { devices: Record<string, Record<string, unknown>> };
      for (const d of Object.values(model.devices)) d['network_id'] = 'net-1';
      const r = compile(model, opts);
      const rs = loadRuleset(r.files);
      const s = rulesetStructure(rs);
      expect(s.rules).toEqual(r.stats.rules);
      expect(s.setEntries).toBe(r.stats.setEntries);
      // The same packet is decided the same way in every mode: a member of the default group to port b.
      const parsed = parseModel(model);
      const a = parsed.ports[0]!;
      const b = parsed.ports[1]!;
      const p = packet({ src: '10.0.0.11', dst: '10.0.0.12', protocol: 'tcp', srcPort: 40000, dstPort: 80, srcMac: a.mac });
      const bridgeOf = bridgeDevices(parsed, opts.driver ?? 'hybrid');
      expect(interpret(rs, { fromDevice: a.device, to: b.device }, p, { bridgeOf }).verdict).toBe('ACCEPT');
      expect(interpret(rs, { fromDevice: a.device, to: b.device }, { ...p, srcMac: '02:00:00:00:00:99' }, { bridgeOf }).verdict).toBe('DROP');
      expect(interpret(rs, { fromDevice: undefined, to: b.device }, { ...p, src: 0xc6336401n }, { bridgeOf }).verdict).toBe('DROP'); // 198.51.100.1, port 80
      expect(interpret(rs, { fromDevice: undefined, to: b.device }, { ...p, src: 0xc6336401n, dstPort: 22 }, { bridgeOf }).verdict).toBe('ACCEPT');
    });
  }
});

describe('every golden case parses', () => {
  for (const c of goldenCases()) {
    if (c.options.backend === 'nft') continue;
    it(c.name, () => {
      const r = compile(c.model, c.options);
      const s = rulesetStructure(loadRuleset(r.files));
      expect(s.rules).toEqual(r.stats.rules);
      expect(s.setEntries).toBe(r.stats.setEntries);
    });
  }
});
