/**
 * The nft interpreter on its own: every golden ruleset loads (with its sets.nft) and decides as
 * the evaluator does; malformed scripts are refused with their line; and the kernel behaviours
 * it models (hook order, jump/goto, map misses, conntrack, marks across passes) are each pinned
 * by one small hand-written ruleset.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile.js';
import { parseModel } from '../../src/model/parse.js';
import { evaluate } from '../../src/semantics/evaluate.js';
import { packet } from '../../src/semantics/scenario.js';
import { RulesetError } from '../support/verify/ipset.js';
import { hostTopology } from '../support/verify/interpret.js';
import { applyScript, interpretNft, loadNftRuleset, nftStructure } from '../support/verify/nft.js';
import { goldenCases } from '../support/golden.js';
import { packetSpecArb, resolvePacket, showPathPacket } from '../support/arbitraries.js';

const tcp = packet({ src: '10.0.0.5', dst: '192.0.2.1', protocol: 'tcp', srcPort: 1000, dstPort: 22 });
const udp = packet({ src: '10.0.0.5', dst: '192.0.2.1', protocol: 'udp', srcPort: 1000, dstPort: 53 });
const fwd = { fromDevice: 'tap1', to: 'tap2' } as const;
const oneBridge = { bridgeOf: new Map([['tap1', 'br0'], ['tap2', 'br0']]) };

/** An inet table `t_sg` with the given sets and chains (each chain: [name, lines]). */
function inet(chains: [string, string[]][], sets: string[] = []): string {
  return table('inet', 't_sg', chains, sets);
}

function table(family: string, name: string, chains: [string, string[]][], sets: string[] = []): string {
  return [
    `table ${family} ${name} {`,
    ...sets.map((s) => `\t${s}`),
    ...chains.flatMap(([n, lines]) => [`\tchain ${n} {`, ...lines.map((l) => `\t\t${l}`), '\t}']),
    '}',
    '',
  ].join('\n');
}

const FORWARD = 'type filter hook forward priority filter; policy accept;';

/** A forward hook jumping through chains c_0 .. c_{depth-1} (c_k at level k + 1). */
const nested = (depth: number): string =>
  inet([['hook_forward', [FORWARD, 'jump c_0']], ...Array.from({ length: depth }, (_, k): [string, string[]] => [`c_${k}`, k === depth - 1 ? ['accept'] : [`jump c_${k + 1}`]])]);

function rejects(text: string, line: number, message: RegExp, file = 'ruleset.nft', before?: string): void {
  let err: unknown;
  try {
    const state = before === undefined ? undefined : applyScript(undefined, before, 'ruleset.nft');
    applyScript(state, text, file);
  } catch (e) {
    err = e;
  }
  expect(err, `expected a RulesetError for:\n${text}`).toBeInstanceOf(RulesetError);
  expect((err as RulesetError).file).toBe(file);
  expect((err as RulesetError).message).toMatch(message);
  expect((err as RulesetError).line, (err as Error).message).toBe(line);
}

describe('golden nft rulesets', () => {
  for (const c of goldenCases()) {
    it(`${c.name}: loads with sets.nft and decides as the evaluator`, () => {
      const files = Object.fromEntries(['ruleset.nft', 'sets.nft'].map((f) => [f, readFileSync(join(c.dir, f), 'utf8')]));
      const rs = loadNftRuleset(files);
      const s = nftStructure(rs);
      expect(Object.keys(s.chains).sort()).toEqual([expect.stringMatching(/^bridge .*_ports$/), expect.stringMatching(/^inet .*_sg$/)]);
      // Chains and rules as printed: one `chain` block each, every other indented line a rule.
      const text = files['ruleset.nft']!;
      expect(Object.values(s.chains).reduce((n, t) => n + Object.keys(t).length, 0)).toBe((text.match(/^\tchain /gm) ?? []).length);
      // sets.nft refills every membership set with what ruleset.nft put there.
      expect(s.sets).toEqual(nftStructure(loadNftRuleset({ 'ruleset.nft': text })).sets);

      const host = c.options.host;
      const model = parseModel(c.model, host === undefined ? {} : { host });
      const driver = c.options.driver ?? model.options.driver ?? 'hybrid';
      const topology = hostTopology(model, driver);
      for (const spec of fc.sample(packetSpecArb, { numRuns: 150, seed: 7 })) {
        const pp = resolvePacket(model, spec, { sameNetwork: driver === 'linuxbridge' });
        const got = interpretNft(rs, pp.path, pp.packet, topology);
        const want = evaluate(model, pp.path, pp.packet);
        expect(got.verdict, `${showPathPacket(pp)}\n${want.reasons.join('\n')}\n${got.reasons.join('\n')}`).toBe(want.verdict);
      }
    });
  }

  it('the compiled output of a golden model loads the same as the golden files', () => {
    const c = goldenCases().find((x) => x.name === 'remote-groups-members')!;
    const files = compile(c.model, { ...c.options, backend: 'nft' }).files;
    expect(nftStructure(loadNftRuleset(files)).rules).toBeGreaterThan(100);
  });
});

describe('nft parsing is strict (refusals carry their line)', () => {
  const ok = inet([['hook_forward', [FORWARD, 'tcp dport 22 accept']]]);

  it('accepts a small valid script', () => {
    const rs = applyScript(undefined, ok, 'ruleset.nft');
    expect(nftStructure(rs).chains['inet t_sg']).toEqual({ hook_forward: 1 });
  });

  const v4set = 'set s4_h {\n\t\ttype ipv4_addr\n\t}';
  const v4net = 'set s4_n {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t}';
  const cases: [string, string, number, RegExp][] = [
    ['unknown command', 'list ruleset\n', 1, /command "list" is not understood/],
    ['missing newline at the end', 'table inet t_sg', 1, /no newline/],
    ['unclosed table', 'table inet t_sg {\n\tchain c_x {\n\t}\n', 1, /not closed/],
    ['bad indentation', 'table inet t_sg {\n  chain c_x {\n\t}\n}\n', 2, /leading or trailing spaces/],
    ['unknown family', 'table ip t_sg\n', 1, /family "ip" is not understood/],
    ['keyword as a chain name', inet([['fwd', []]]), 2, /keyword/],
    ['name over NFT_NAME_MAX', inet([['c_' + 'x'.repeat(254), []]]), 2, /exceeds 255/],
    ['unknown expression', inet([['hook_forward', [FORWARD, 'tcp flags syn accept']]]), 4, /port field "flags" is not understood/],
    ['unknown meta key', inet([['hook_forward', [FORWARD, 'meta skuid 0 accept']]]), 4, /meta skuid is not understood/],
    ['statement after the verdict', inet([['hook_forward', [FORWARD, 'accept counter']]]), 4, /after the verdict/],
    ['conflicting protocols', inet([['hook_forward', [FORWARD, 'tcp dport 22 udp sport 53 accept']]]), 4, /conflicting protocols specified: tcp vs. udp/],
    ['conflicting address families', inet([['hook_forward', [FORWARD, 'ip saddr 10.0.0.1 ip6 daddr ::1 accept']]]), 4, /conflicting protocols specified: ip vs. ip6/],
    ['host bits in a prefix', inet([['hook_forward', [FORWARD, 'ip saddr 10.0.0.1/24 accept']]]), 4, /host bits/],
    ['host written as /32', inet([['hook_forward', [FORWARD, 'ip saddr 10.0.0.1/32 accept']]]), 4, /canonical form/],
    ['IPv6 address in an ip match', inet([['hook_forward', [FORWARD, 'ip saddr 2001:db8::1 accept']]]), 4, /datatype mismatch/],
    ['reversed port range', inet([['hook_forward', [FORWARD, 'tcp dport 90-80 accept']]]), 4, /empty or reversed/],
    ['th without a protocol', inet([['hook_forward', [FORWARD, 'th dport 22 accept']]]), 4, /th without a transport protocol/],
    ['interface name over 15 bytes', inet([['hook_forward', [FORWARD, 'iifname "abcdefghijklmnop" accept']]]), 4, /longer than 15/],
    ['interface wildcard', inet([['hook_forward', [FORWARD, 'iifname "tap*" accept']]]), 4, /wildcard/],
    ['comment over 128 characters', inet([['hook_forward', [FORWARD, `accept comment "${'x'.repeat(129)}"`]]]), 4, /exceeds 128/],
    ['jump to an undefined chain', inet([['hook_forward', [FORWARD, 'jump c_none']]]), 4, /chain c_none does not exist/],
    ['jump to a base chain', inet([['hook_forward', [FORWARD, 'jump hook_input']], ['hook_input', ['type filter hook input priority filter; policy accept;']]]), 4, /base chain/],
    ['jump loop', inet([['hook_forward', [FORWARD, 'jump c_a']], ['c_a', ['jump c_b']], ['c_b', ['tcp dport 1 goto c_a']]]), 10, /jump loop hook_forward -> c_a -> c_b -> c_a/],
    // c_k sits at level k + 1 and its jump on line 7 + 3k: the jump into level 16 is refused.
    ['chains nested deeper than the jump stack', nested(16), 49, /nested 16 deep .* jump stack of 16/],
    ['undefined set', inet([['hook_forward', [FORWARD, 'ip saddr @s4_none accept']]]), 4, /set s4_none does not exist/],
    ['set of the other family', inet([['hook_forward', [FORWARD, 'ip6 saddr @s4_h accept']]], [v4set]), 7, /datatype mismatch: @s4_h holds ipv4_addr, the expression is ipv6_addr/],
    ['a set used as a verdict map', inet([['hook_forward', [FORWARD, 'ip saddr vmap @s4_h']]], [v4set]), 7, /is a set, a map is needed/],
    ['ct state in a bridge table', table('bridge', 't_ports', [['hook_forward', ['type filter hook forward priority -200; policy accept;', 'ct state established accept']]]), 4, /no nf_conntrack_bridge/],
    ['notrack reachable from forward', inet([['hook_forward', [FORWARD, 'jump c_raw']], ['c_raw', ['notrack']]]), 7, /notrack reached from the forward hook/],
    ['bridge chain tied with br_netfilter', table('bridge', 't_ports', [['hook_pre', ['type filter hook prerouting priority 0; policy accept;']]]), 3, /ties with br_netfilter/],
    ['inet prerouting tied with conntrack', inet([['hook_raw', ['type filter hook prerouting priority -200; policy accept;']]]), 3, /ties with conntrack/],
    ['unknown chain type', inet([['hook_nat', ['type nat hook prerouting priority dstnat; policy accept;']]]), 3, /chain type "nat"/],
    ['ct_zone datatype', 'table inet t_sg {\n\tmap zone_x {\n\t\ttype ifname : ct_zone\n\t}\n}\n', 3, /unknown datatype ct_zone/],
    ['delete of a missing table', 'delete table inet t_sg\n', 1, /does not exist/],
    ['prefix in a set without flags interval', `table inet t_sg {\n\t${v4set}\n}\nadd element inet t_sg s4_h { 10.0.0.0/8 }\n`, 6, /flags interval/],
    ['IPv6 element in an IPv4 set', `table inet t_sg {\n\t${v4set}\n}\nadd element inet t_sg s4_h { 2001:db8::1 }\n`, 6, /datatype mismatch/],
    ['overlapping intervals in one statement', `table inet t_sg {\n\t${v4net}\n}\nadd element inet t_sg s4_n { 10.0.0.0/8, 10.1.0.0/16 }\n`, 7, /conflicting intervals specified: 10.0.0.0\/8 and 10.1.0.0\/16/],
    ['a host inside an interval', `table inet t_sg {\n\t${v4net}\n}\nadd element inet t_sg s4_n { 10.0.0.0/8 }\nadd element inet t_sg s4_n { 10.2.3.4 }\n`, 8, /conflicting intervals/],
    ['a map key with two values', 'table inet t_sg {\n\tmap m_x {\n\t\ttype ifname : mark\n\t}\n}\nadd element inet t_sg m_x { "a" : 1, "a" : 2 }\n', 6, /already exists with another value/],
    ['a verdict map element to a missing chain', 'table inet t_sg {\n\tmap m_x {\n\t\ttype mark : verdict\n\t}\n}\nadd element inet t_sg m_x { 0x1 : goto c_none }\n', 6, /chain c_none does not exist/],
    ['add element to a missing set', 'table inet t_sg\nadd element inet t_sg s_none { 10.0.0.1 }\n', 2, /set s_none does not exist/],
    ['quoted string inside a comment', inet([['hook_forward', [FORWARD, 'accept comment "a "b""']]]), 4, /not understood/],
  ];
  for (const [what, text, line, message] of cases) {
    it(`refuses ${what}`, () => rejects(text, line, message));
  }

  it('accepts chains nested as deep as the jump stack allows', () => {
    expect(() => applyScript(undefined, nested(15), 'ruleset.nft')).not.toThrow();
  });

  it('reports errors of sets.nft in sets.nft, and applies nothing of a failing script', () => {
    const base = `table inet t_sg {\n\t${v4net}\n}\n`;
    rejects('flush set inet t_sg s4_n\nadd element inet t_sg s4_n { 10.0.0.0/8 }\nadd element inet t_sg s4_x { 10.0.0.1 }\n', 3, /s4_x does not exist/, 'sets.nft', base);
    const before = applyScript(undefined, `${base}add element inet t_sg s4_n { 192.0.2.0/24 }\n`, 'ruleset.nft');
    expect(() => applyScript(before, 'flush set inet t_sg s4_n\nadd element inet t_sg s4_z { 10.0.0.1 }\n', 'sets.nft')).toThrow(RulesetError);
    expect(nftStructure(before).sets['inet t_sg']).toEqual({ s4_n: 1 });
  });
});

describe('nft evaluation follows the kernel', () => {
  const run = (text: string, p = tcp, path: { fromDevice: string | undefined; to: string | 'host' | undefined } = fwd, options = {}) =>
    interpretNft(applyScript(undefined, text, 'ruleset.nft'), path, p, { ...oneBridge, ...options });

  it('jump returns to the caller, goto does not, the base chain ends in its policy', () => {
    const chains = (verb: string): [string, string[]][] => [
      ['hook_forward', ['type filter hook forward priority filter; policy drop;', `${verb} c_a`, 'accept']],
      ['c_a', ['udp dport 53 drop']],
    ];
    expect(run(inet(chains('jump'))).verdict).toBe('ACCEPT');
    expect(run(inet(chains('goto'))).verdict).toBe('DROP');
    expect(run(inet(chains('goto'))).reasons.at(-1)).toMatch(/policy drop/);
    expect(run(inet(chains('jump')), udp).verdict).toBe('DROP');
  });

  it('accept ends one base chain only; drop ends the packet', () => {
    const t = inet([
      ['hook_a', ['type filter hook forward priority -10; policy accept;', 'accept']],
      ['hook_b', [FORWARD, 'tcp dport 22 drop']],
    ]);
    expect(run(t).verdict).toBe('DROP');
    expect(run(t, udp).verdict).toBe('ACCEPT');
  });

  it('a map miss ends the rule before its statement; a hit sets the mark', () => {
    const t = table('bridge', 't_ports', [['hook_pre', ['type filter hook prerouting priority -300; policy accept;', 'meta mark set iifname map @m_in']]], ['map m_in {\n\t\ttype ifname : mark\n\t}']) +
      'add element bridge t_ports m_in { "tap1" : 0x00010000 }\n';
    expect(run(t, tcp, fwd, { initialMark: 7 }).mark).toBe(0x10000);
    expect(run(t, tcp, { fromDevice: 'tap2', to: 'tap1' }, { initialMark: 7 }).mark).toBe(7);
  });

  it('the inet hooks see the bridge device; the bridge hooks see the ports', () => {
    const t =
      table('bridge', 't_ports', [['hook_fwd', ['type filter hook forward priority -200; policy accept;', 'iifname "tap1" oifname "tap2" meta mark set 0x00000005']]]) +
      inet([['hook_forward', [FORWARD, 'meta iifkind "bridge" iifname "br0" oifname "br0" meta mark 0x00000005 drop']]]);
    expect(run(t).verdict).toBe('DROP');
    expect(run(t, tcp, { fromDevice: 'tap2', to: 'tap1' }).verdict).toBe('ACCEPT');
  });

  it('meta iifkind ends the rule for a device without a kind, even with !=', () => {
    const t = table('bridge', 't_ports', [['hook_pre', ['type filter hook prerouting priority -300; policy accept;', 'meta iifkind != "tun" drop']]]);
    expect(run(t, tcp, { fromDevice: 'tap1', to: 'tap2' }, { deviceKind: () => 'veth' }).verdict).toBe('DROP');
    expect(run(t, tcp, { fromDevice: 'tap1', to: 'tap2' }, { deviceKind: () => undefined }).verdict).toBe('ACCEPT');
  });

  const raw = (rules: string[]): string =>
    inet(
      [
        ['hook_raw', ['type filter hook prerouting priority raw; policy accept;', ...rules]],
        ['hook_forward', [FORWARD, 'ct state untracked drop']],
      ],
      ['map zone_x {\n\t\ttypeof iifname : ct zone\n\t}'],
    ) + 'add element inet t_sg zone_x { "br0" : 4097 }\n';

  it('notrack makes the packet UNTRACKED; a later ct zone set tracks it again (nft_ct_set_zone_eval)', () => {
    const untracked = run(raw(['notrack']));
    expect([untracked.verdict, untracked.ct, untracked.zone]).toEqual(['DROP', 'UNTRACKED', 'notrack']);
    const retracked = run(raw(['notrack', 'ct zone set iifname map @zone_x']));
    expect([retracked.verdict, retracked.ct, retracked.zone]).toEqual(['ACCEPT', 'NEW', 4097]);
    const zoned = run(raw(['ct zone set iifname map @zone_x', 'notrack']));
    expect([zoned.verdict, zoned.ct, zoned.zone]).toEqual(['ACCEPT', 'NEW', 4097]);
  });

  it('ICMPv6 neighbour discovery is UNTRACKED whatever the flow state', () => {
    const ns = packet({ src: '2001:db8::1', dst: '2001:db8::2', protocol: 'ipv6-icmp', icmpType: 135, icmpCode: 0, ct: 'ESTABLISHED' });
    expect(run(raw([]), ns).ct).toBe('UNTRACKED');
    expect(run(raw([]), { ...ns, icmpType: 128 }).ct).toBe('ESTABLISHED');
  });

  it('hybrid: two passes, the mark carried between them, conntrack afresh in each', () => {
    const hybrid = { bridgeOf: new Map([['tap1', 'qbr1'], ['tap2', 'qbr2']]), bridgeSideOf: new Map([['tap1', 'qvb1'], ['tap2', 'qvb2']]) };
    const t = (reset: boolean): string =>
      table('bridge', 't_ports', [
        ['hook_pre', ['type filter hook prerouting priority -300; policy accept;', ...(reset ? ['meta mark set 0x00000000'] : []), 'iifname "tap1" meta mark set 0x00010000']],
      ]) +
      inet([
        ['hook_raw', ['type filter hook prerouting priority raw; policy accept;', 'iifname "qbr1" notrack']],
        ['hook_forward', [FORWARD, 'iifname "qbr2" meta mark 0x00010000 drop', 'iifname "qbr2" ct state untracked drop']],
      ]);
    const kept = interpretNft(applyScript(undefined, t(false), 'ruleset.nft'), fwd, tcp, hybrid);
    expect(kept.verdict).toBe('DROP');
    expect(kept.reasons.filter((r) => r.startsWith('pass '))).toEqual(['pass 1: tap1 -> qvb1 on bridge qbr1', 'pass 2: qvb2 -> tap2 on bridge qbr2']);
    const reset = interpretNft(applyScript(undefined, t(true), 'ruleset.nft'), fwd, tcp, hybrid);
    expect([reset.verdict, reset.ct]).toEqual(['ACCEPT', 'NEW']);
  });

  it('a packet to the host crosses bridge input and inet input, not forward', () => {
    const t = inet([
      ['hook_forward', [FORWARD, 'drop']],
      ['hook_input', ['type filter hook input priority filter; policy accept;', 'iifname "br0" tcp dport 22 drop']],
    ]);
    expect(run(t, tcp, { fromDevice: 'tap1', to: 'host' }).verdict).toBe('DROP');
    expect(run(t, udp, { fromDevice: 'tap1', to: 'host' }).verdict).toBe('ACCEPT');
  });
});
