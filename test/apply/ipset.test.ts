/**
 * The `ipset restore` simulator: each error ipset raises, each case it tolerates, and the
 * line-by-line stop. Every behaviour here was observed with ipset 7.17 on Linux 6.18
 * (see the comment of test/support/apply/ipset.ts).
 */
import { describe, expect, it } from 'vitest';
import { type IpsetState, emptyIpset, ipsetRestore, ipsetSave } from '../support/apply/ipset.js';
import { unwrap } from '../support/apply/result.js';

const script = (...lines: string[]): string => lines.map((l) => `${l}\n`).join('');
const NET4 = 'hash:net family inet hashsize 64 maxelem 100';
const NET6 = 'hash:net family inet6 hashsize 64 maxelem 100';

function load(...lines: string[]): IpsetState {
  return unwrap(ipsetRestore(emptyIpset(), script(...lines)));
}

/** The script fails at `line` with a message matching `message`. */
function fails(state: IpsetState, text: string, line: number, message: RegExp, referenced: string[] = []): IpsetState {
  const r = ipsetRestore(state, text, { referenced: new Set(referenced) });
  expect(r.ok, `expected a failure of:\n${text}`).toBe(false);
  if (r.ok) throw new Error('unreachable');
  expect(r.line).toBe(line);
  expect(r.error).toMatch(message);
  return r.state;
}

describe('ipset restore simulator', () => {
  it('keeps entries as ipset save prints them: hosts without length, networks masked', () => {
    const s = load(`create a ${NET4}`, 'add a 10.0.0.1/32', 'add a 10.0.1.5/24', `create b ${NET6}`, 'add b 2001:DB8:0::1/128', 'add b 2001:db8::/32');
    expect(ipsetSave(s)).toBe(
      script('create a hash:net family inet maxelem 100', 'add a 10.0.0.1', 'add a 10.0.1.0/24', 'create b hash:net family inet6 maxelem 100', 'add b 2001:db8::/32', 'add b 2001:db8::1'),
    );
    expect(ipsetSave(s, { hashsize: true })).toContain('create a hash:net family inet hashsize 64 maxelem 100\n');
  });

  it('defaults and rounds the header as the kernel does', () => {
    const s = load('create a hash:net', 'create b hash:net family inet6 hashsize 100', 'create c hash:net hashsize 1');
    expect(ipsetSave(s, { hashsize: true })).toBe(
      script('create a hash:net family inet hashsize 1024 maxelem 65536', 'create b hash:net family inet6 hashsize 128 maxelem 65536', 'create c hash:net family inet hashsize 64 maxelem 65536'),
    );
  });

  it('add: a present entry fails without -exist (also written another way), passes with it', () => {
    const s = load(`create a ${NET4}`, 'add a 10.0.0.1');
    fails(s, script('add a 10.0.0.1'), 1, /already added/);
    fails(s, script('add a 10.0.0.1/32'), 1, /already added/);
    expect(ipsetRestore(s, script('add a 10.0.0.1 -exist')).ok).toBe(true);
    expect(ipsetRestore(s, script('add -exist a 10.0.0.1')).ok).toBe(true);
    expect(ipsetRestore(s, script('add a 10.0.0.1'), { exist: true }).ok).toBe(true);
  });

  it('add: hash:net refuses /0 and the other family; a full set refuses even with -exist', () => {
    const s = load(`create a ${NET4}`, 'create f hash:net maxelem 2', 'add f 1.1.1.1', 'add f 1.1.1.2');
    fails(s, script('add a 0.0.0.0/0'), 1, /CIDR.*invalid/);
    fails(s, script('add a 2001:db8::1'), 1, /resolving to IPv4/);
    fails(s, script('add f 1.1.1.3 -exist'), 1, /Hash is full/);
    expect(ipsetRestore(s, script('add f 1.1.1.2 -exist')).ok).toBe(true);
  });

  it('del: an absent entry fails without -exist', () => {
    const s = load(`create a ${NET4}`, 'add a 10.0.0.0/24');
    fails(s, script('del a 10.0.0.1'), 1, /not added/);
    expect(ipsetSave(unwrap(ipsetRestore(s, script('del a 10.0.0.1 -exist'))))).toContain('add a 10.0.0.0/24');
    expect(ipsetSave(unwrap(ipsetRestore(s, script('del a 10.0.0.7/24'))))).not.toContain('add a');
  });

  it('create: an existing set fails without -exist; with it, the kernel compares type and maxelem only', () => {
    const s = load(`create a ${NET4}`);
    fails(s, script(`create a ${NET4}`), 1, /already exists/);
    expect(ipsetRestore(s, script(`create a ${NET4} -exist`)).ok).toBe(true);
    // hashsize changes as a set grows: not compared.
    expect(ipsetRestore(s, script('create a hash:net family inet hashsize 4096 maxelem 100 -exist')).ok).toBe(true);
    fails(s, script('create a hash:net family inet hashsize 64 maxelem 200 -exist'), 1, /already exists.*maxelem/);
    fails(s, script('create a hash:ip family inet hashsize 64 maxelem 100 -exist'), 1, /already exists/);
    // The family is not compared (ip_set_create compares the type's family): the set stays inet.
    const after = unwrap(ipsetRestore(s, script(`create a ${NET6} -exist`)));
    expect(after.get('a')!.family).toBe(4);
  });

  it('destroy: a missing set fails without -exist; a referenced one fails even with it', () => {
    const s = load(`create a ${NET4}`, `create b ${NET4}`);
    fails(s, script('destroy nosuch'), 1, /does not exist/);
    expect(ipsetRestore(s, script('destroy nosuch -exist')).ok).toBe(true);
    fails(s, script('destroy a'), 1, /in use by a kernel component/, ['a']);
    fails(s, script('destroy a -exist'), 1, /in use/, ['a']);
    expect(unwrap(ipsetRestore(s, script('destroy a'), { referenced: new Set(['b']) })).has('a')).toBe(false);
  });

  it('destroy without a name destroys every set, or none when one is referenced', () => {
    const s = load(`create a ${NET4}`, `create b ${NET4}`);
    expect(unwrap(ipsetRestore(s, script('destroy'))).size).toBe(0);
    expect(fails(s, script('destroy'), 1, /in use/, ['b']).size).toBe(2);
  });

  it('swap: the contents and headers trade places; another type or family fails', () => {
    const s = load(`create a ${NET4}`, 'add a 10.0.0.1', 'create b hash:net family inet hashsize 64 maxelem 5', 'add b 10.0.0.2', `create c ${NET6}`, 'create d hash:ip family inet');
    const swapped = unwrap(ipsetRestore(s, script('swap a b'), { referenced: new Set(['a', 'b']) }));
    expect(ipsetSave(swapped)).toBe(script('create a hash:net family inet maxelem 5', 'add a 10.0.0.2', 'create b hash:net family inet maxelem 100', 'add b 10.0.0.1', 'create c hash:net family inet6 maxelem 100', 'create d hash:ip family inet maxelem 65536'));
    fails(s, script('swap a c'), 1, /type does not match/);
    fails(s, script('swap a d'), 1, /type does not match/);
    fails(s, script('swap a nosuch'), 1, /second set does not exist/);
    fails(s, script('swap nosuch a'), 1, /does not exist/);
  });

  it('flush: empties a set; a missing one fails even with -exist', () => {
    const s = load(`create a ${NET4}`, 'add a 10.0.0.1');
    expect(unwrap(ipsetRestore(s, script('flush a'))).get('a')!.entries.size).toBe(0);
    fails(s, script('flush nosuch -exist'), 1, /does not exist/);
  });

  it('rename: refuses an existing target and a referenced source', () => {
    const s = load(`create a ${NET4}`, 'add a 10.0.0.1', `create b ${NET4}`);
    expect(ipsetSave(unwrap(ipsetRestore(s, script('rename a c'))))).toContain('add c 10.0.0.1');
    fails(s, script('rename a b'), 1, /new name already exists/);
    fails(s, script('rename a c'), 1, /in use/, ['a']);
    fails(s, script('rename nosuch c'), 1, /does not exist/);
  });

  it('refuses set names over 31 characters', () => {
    const n31 = 'a'.repeat(31);
    expect(ipsetRestore(emptyIpset(), script(`create ${n31} ${NET4}`)).ok).toBe(true);
    fails(emptyIpset(), script(`create ${n31}b ${NET4}`), 1, /longer than 31/);
  });

  it('stops at the first error; the lines before it stay applied; blank and comment lines count', () => {
    const text = script(`create a ${NET4}`, 'add a 10.0.0.1', '', '# a comment', 'add a 10.0.0.1', 'add a 10.0.0.2');
    const left = fails(emptyIpset(), text, 5, /already added/);
    expect(ipsetSave(left)).toBe(script('create a hash:net family inet maxelem 100', 'add a 10.0.0.1'));
  });

  it('never changes the state it is given', () => {
    const s = load(`create a ${NET4}`, 'add a 10.0.0.1', `create b ${NET4}`);
    const before = ipsetSave(s, { hashsize: true });
    ipsetRestore(s, script('add a 10.0.0.2', 'del a 10.0.0.1', 'swap a b', 'flush b', 'rename a z', 'destroy z', 'create a hash:net -exist'));
    ipsetRestore(s, script('add a 10.0.0.3', 'add a 10.0.0.3'));
    expect(ipsetSave(s, { hashsize: true })).toBe(before);
  });

  it('refuses what it does not model instead of guessing', () => {
    fails(emptyIpset(), script('create a hash:net timeout 10'), 1, /not modelled/);
    fails(emptyIpset(), script('create a bitmap:ip range 10.0.0.0/24'), 1, /not modelled/);
    const s = load(`create a ${NET4}`);
    fails(s, script('add a 10.0.0.1-10.0.0.5'), 1, /ranges/);
    fails(s, script('test a 10.0.0.1'), 1, /not modelled/);
  });
});
