/**
 * The iptables-restore simulator: per-table commit, what a ":chain" line does with and without
 * --noflush, -X checked in order, references to chains and sets, and the refused -D/-I/-R.
 * Each behaviour was observed with iptables 1.8.9 (legacy and nf_tables) on Linux 6.18
 * (see the comment of test/support/apply/iptables.ts).
 */
import { describe, expect, it } from 'vitest';
import { type IptablesHost, applyIpset, applyIptables, dumpIptablesHost, emptyIptablesHost } from '../support/apply/host.js';
import { type IptablesState, emptyIptables, iptablesRestore, iptablesSave } from '../support/apply/iptables.js';
import { unwrap } from '../support/apply/result.js';

const script = (...lines: string[]): string => lines.map((l) => `${l}\n`).join('');
const FILTER = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]'];

/** INPUT -> A -> B, B accepts. */
const BASE = script(...FILTER, ':A - [0:0]', ':B - [0:0]', '-A INPUT -j A', '-A A -j B', '-A B -j ACCEPT', 'COMMIT', '*raw', ':PREROUTING ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':R - [0:0]', '-A PREROUTING -j R', 'COMMIT');
const base = (): IptablesState => unwrap(iptablesRestore(emptyIptables(4), BASE));

function fails(state: IptablesState, text: string, line: number, message: RegExp, noflush = true): IptablesState {
  const r = iptablesRestore(state, text, { noflush });
  expect(r.ok, `expected a failure of:\n${text}`).toBe(false);
  if (r.ok) throw new Error('unreachable');
  expect(r.line).toBe(line);
  expect(r.error).toMatch(message);
  return r.state;
}

const ok = (state: IptablesState, text: string, noflush = true): IptablesState => unwrap(iptablesRestore(state, text, { noflush }));

describe('iptables-restore simulator', () => {
  it('prints iptables-save form: built-ins in hook order, user chains sorted, filter before raw', () => {
    expect(iptablesSave(base())).toBe(
      script(...FILTER, ':A - [0:0]', ':B - [0:0]', '-A INPUT -j A', '-A A -j B', '-A B -j ACCEPT', 'COMMIT', '*raw', ':PREROUTING ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':R - [0:0]', '-A PREROUTING -j R', 'COMMIT'),
    );
  });

  it('without --noflush a block replaces its table (and only its table)', () => {
    const s = ok(base(), script(...FILTER, ':C - [0:0]', '-A C -j DROP', 'COMMIT'), false);
    expect(iptablesSave(s)).toBe(script(...FILTER, ':C - [0:0]', '-A C -j DROP', 'COMMIT', '*raw', ':PREROUTING ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':R - [0:0]', '-A PREROUTING -j R', 'COMMIT'));
  });

  it('applying a full table twice gives the same state', () => {
    expect(iptablesSave(ok(base(), BASE, false))).toBe(iptablesSave(base()));
  });

  it('with --noflush ":chain" flushes a user chain, creates a new one, and leaves other chains alone', () => {
    const s = ok(base(), script('*filter', ':B - [0:0]', '-A B -j DROP', ':C - [0:0]', 'COMMIT'));
    expect(iptablesSave(s)).toContain(':C - [0:0]\n-A INPUT -j A\n-A A -j B\n-A B -j DROP\n');
  });

  it('a ":chain" line of a built-in chain sets its policy but never flushes it', () => {
    const s = ok(base(), script('*filter', ':INPUT DROP [0:0]', '-A INPUT -j B', ':OUTPUT - [0:0]', 'COMMIT'));
    expect(iptablesSave(s)).toContain(':INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n');
    expect(iptablesSave(s)).toContain('-A INPUT -j A\n-A INPUT -j B\n');
  });

  it('commits per table: a failing block leaves its table unchanged, earlier tables stay committed', () => {
    const left = fails(base(), script('*raw', ':R2 - [0:0]', 'COMMIT', '*filter', ':B - [0:0]', '-A B -j NOPE', 'COMMIT'), 6, /NOPE.*not declared/);
    expect(iptablesSave(left)).toContain(':R2 - [0:0]');
    expect(iptablesSave(left)).toContain('-A B -j ACCEPT');
  });

  it('a block without COMMIT is not committed', () => {
    const left = fails(base(), script('*filter', ':H - [0:0]'), 3, /COMMIT expected/);
    expect(iptablesSave(left)).toBe(iptablesSave(base()));
  });

  it('-X: missing, built-in, non-empty, or referenced at its line fails', () => {
    fails(base(), script('*filter', '-X ZZ', 'COMMIT'), 2, /no chain by that name/);
    fails(base(), script('*filter', '-X INPUT', 'COMMIT'), 2, /built-in/);
    fails(base(), script('*filter', '-X B', 'COMMIT'), 2, /not empty/);
    // Checked in order: the referrer A is rewritten only after the -X.
    fails(base(), script('*filter', ':B - [0:0]', '-X B', ':A - [0:0]', 'COMMIT'), 3, /still referenced.*chain A/);
    const s = ok(base(), script('*filter', ':A - [0:0]', ':B - [0:0]', '-X B', 'COMMIT'));
    expect(iptablesSave(s)).not.toContain(':B ');
  });

  it('-N of an existing chain fails; -F of a missing one fails', () => {
    fails(base(), script('*filter', '-N A', 'COMMIT'), 2, /already exists/);
    fails(base(), script('*filter', '-F ZZ', 'COMMIT'), 2, /no chain/);
    expect(iptablesSave(ok(base(), script('*filter', '-N C', '-F A', 'COMMIT')))).toContain(':C - [0:0]\n-A INPUT -j A\n-A B -j ACCEPT\n');
  });

  it('a rule needs its chain and its target chain to exist at that line', () => {
    fails(base(), script('*filter', '-A NOCHAIN -j ACCEPT', 'COMMIT'), 2, /NOCHAIN is not declared/);
    fails(base(), script('*filter', '-A A -j E', ':E - [0:0]', 'COMMIT'), 2, /E: chain not declared/);
    fails(base(), script('*filter', '-A A -j INPUT', 'COMMIT'), 2, /built-in/);
  });

  it('a rule needs its ipset, of the file family', () => {
    let host: IptablesHost = emptyIptablesHost();
    host = unwrap(applyIpset(host, script('create s4 hash:net family inet', 'create s6 hash:net family inet6')));
    const rule = (set: string): string => script(...FILTER, `-A INPUT -m set --match-set ${set} src -j ACCEPT`, 'COMMIT');
    expect(applyIptables(host, 4, rule('s4')).ok).toBe(true);
    const missing = applyIptables(host, 4, rule('nosuch'));
    expect(!missing.ok && missing.error).toMatch(/set nosuch does not exist/);
    const family = applyIptables(host, 4, rule('s6'));
    expect(!family.ok && family.error).toMatch(/IPv6, not applicable in IPv4/);
  });

  it('a line accepted once is checked again against the state it meets (parsed rules are cached)', () => {
    const line = '-A INPUT -m set --match-set s4 src -j A';
    const withSet = unwrap(applyIpset(emptyIptablesHost(), script('create s4 hash:net family inet')));
    expect(applyIptables(withSet, 4, script(...FILTER, ':A - [0:0]', line, 'COMMIT')).ok).toBe(true);
    const noSet = applyIptables(emptyIptablesHost(), 4, script(...FILTER, ':A - [0:0]', line, 'COMMIT'));
    expect(!noSet.ok && [noSet.line, noSet.error]).toEqual([6, expect.stringMatching(/set s4 does not exist/)]);
    const noChain = applyIptables(withSet, 4, script(...FILTER, line, 'COMMIT'));
    expect(!noChain.ok && [noChain.line, noChain.error]).toEqual([5, expect.stringMatching(/A: chain not declared/)]);
    const v6 = unwrap(applyIpset(emptyIptablesHost(), script('create s4 hash:net family inet6')));
    expect(applyIptables(v6, 4, script(...FILTER, ':A - [0:0]', line, 'COMMIT')).ok).toBe(false);
  });

  it('a set an iptables rule of either family matches cannot be destroyed; once the rule is gone it can', () => {
    let host = unwrap(applyIpset(emptyIptablesHost(), script('create s6 hash:net family inet6', 'create t6 hash:net family inet6')));
    host = unwrap(applyIptables(host, 6, script(...FILTER, '-A INPUT -m set --match-set s6 src -j ACCEPT', 'COMMIT')));
    const busy = applyIpset(host, script('destroy t6', 'destroy s6'));
    expect(busy.ok).toBe(false);
    if (busy.ok) return;
    expect([busy.line, busy.error]).toEqual([2, expect.stringMatching(/in use/)]);
    expect(dumpIptablesHost(busy.state)).not.toContain('create t6 ');
    host = unwrap(applyIptables(host, 6, script('*filter', ':INPUT ACCEPT [0:0]', '-F INPUT', 'COMMIT'), { noflush: true }));
    expect(applyIpset(host, script('destroy s6')).ok).toBe(true);
  });

  it('refuses -D, -I and -R outright', () => {
    fails(base(), script('*filter', '-D A 1', 'COMMIT'), 2, /never emit -D\/-I\/-R/);
    fails(base(), script('*filter', '-D A -j B', 'COMMIT'), 2, /never emit/);
    fails(base(), script('*filter', '-I A 1 -j ACCEPT', 'COMMIT'), 2, /never emit/);
    fails(base(), script('*filter', '-R A 1 -j ACCEPT', 'COMMIT'), 2, /never emit/);
  });

  it('refuses what either backend refuses: a user chain policy, a chain declared twice without --noflush', () => {
    fails(base(), script('*filter', ':C DROP [0:0]', 'COMMIT'), 2, /policy/);
    fails(base(), script(...FILTER, ':C - [0:0]', ':C - [0:0]', 'COMMIT'), 6, /File exists/, false);
    expect(iptablesSave(ok(base(), script('*filter', ':C - [0:0]', '-A C -j DROP', ':C - [0:0]', 'COMMIT')))).toContain(':C - [0:0]\n-A INPUT');
  });

  it('refuses a full block that leaves a DROP policy undeclared (legacy keeps it, nf_tables resets it)', () => {
    const drop = ok(base(), script('*filter', ':FORWARD DROP [0:0]', 'COMMIT'));
    fails(drop, script('*filter', ':INPUT ACCEPT [0:0]', 'COMMIT'), 3, /FORWARD \(policy DROP\) is not declared/, false);
    expect(ok(base(), script('*filter', 'COMMIT'), false).tables.get('filter')!.chains.size).toBe(3);
  });

  it('refuses a jump loop at COMMIT and chain names over 28 characters', () => {
    fails(base(), script('*filter', '-A B -j A', 'COMMIT'), 2, /loop/);
    fails(base(), script('*filter', `:${'C'.repeat(29)} - [0:0]`, 'COMMIT'), 2, /28 chars max/);
  });

  it('never changes the state it is given', () => {
    const s = base();
    const before = iptablesSave(s);
    ok(s, script('*filter', ':A - [0:0]', ':B - [0:0]', '-X B', '-A INPUT -j A', '-F INPUT', ':INPUT DROP [0:0]', 'COMMIT'));
    ok(s, script(...FILTER, 'COMMIT'), false);
    fails(s, script('*raw', '-A R -j DROP', 'COMMIT', '*filter', '-A A -j DROP', '-X ZZ', 'COMMIT'), 6, /ZZ/);
    expect(iptablesSave(s)).toBe(before);
  });
});
