/**
 * The `nft -f` simulator: one transaction per script, the deletions nft refuses (absent objects,
 * chains and sets still in use at that point), element rules, and what a table block may
 * reference. Each behaviour was observed with nft 1.0.6 on Linux 6.18 (see the comment of
 * test/support/apply/nft.ts).
 */
import { describe, expect, it } from 'vitest';
import { type NftState, emptyNft, nftApply, nftList } from '../support/apply/nft.js';
import { unwrap } from '../support/apply/result.js';

const script = (...lines: string[]): string => lines.map((l) => `${l}\n`).join('');

/** A table t: interval set s, host set hs, verdict map vm (1 -> goto c), a -> @s, b -> a, base h -> @vm. */
const BASE = script(
  'table inet t',
  'delete table inet t',
  'table inet t {',
  '\tset s {',
  '\t\ttype ipv4_addr',
  '\t\tflags interval',
  '\t}',
  '\tset hs {',
  '\t\ttype ipv4_addr',
  '\t}',
  '\tmap vm {',
  '\t\ttype mark : verdict',
  '\t}',
  '\tchain a {',
  '\t\tip saddr @s accept',
  '\t}',
  '\tchain b {',
  '\t\tjump a',
  '\t}',
  '\tchain c {',
  '\t}',
  '\tchain h {',
  '\t\ttype filter hook input priority 0; policy accept;',
  '\t\tjump b',
  '\t\tmeta mark vmap @vm',
  '\t}',
  '}',
  'add element inet t vm { 1 : goto c }',
  'add element inet t s { 10.0.0.0/24 }',
  'add element inet t hs { 1.1.1.1 }',
);
const base = (): NftState => unwrap(nftApply(emptyNft(), BASE));
const ok = (state: NftState, ...lines: string[]): NftState => unwrap(nftApply(state, script(...lines)));

function fails(state: NftState, text: string, line: number, message: RegExp): void {
  const r = nftApply(state, text);
  expect(r.ok, `expected a failure of:\n${text}`).toBe(false);
  if (r.ok) return;
  expect(r.line).toBe(line);
  expect(r.error).toMatch(message);
  // All or nothing.
  expect(nftList(r.state)).toBe(nftList(state));
}

describe('nft -f simulator', () => {
  it('lists the ruleset canonically; the reload idiom gives the same state again', () => {
    const s = base();
    expect(nftList(s)).toBe(
      script(
        'table inet t',
        '\tset hs { type ipv4_addr; }',
        '\t\t1.1.1.1',
        '\tset s { type ipv4_addr; flags interval; }',
        '\t\t10.0.0.0/24',
        '\tmap vm { type mark : verdict; }',
        '\t\t1 : goto c',
        '\tchain a',
        '\t\tip saddr @s accept',
        '\tchain b',
        '\t\tjump a',
        '\tchain c',
        '\tchain h { type filter hook input priority 0; policy accept; }',
        '\t\tjump b',
        '\t\tmeta mark vmap @vm',
      ),
    );
    expect(nftList(unwrap(nftApply(s, BASE)))).toBe(nftList(s));
  });

  it('is all or nothing: an error anywhere leaves the ruleset as it was', () => {
    fails(base(), script('add chain inet t newc', 'add element inet t hs { 2.2.2.2 }', 'delete chain inet t nosuch'), 3, /nosuch does not exist/);
  });

  it('elements: add tolerates a duplicate, create does not; another map value fails', () => {
    const s = base();
    expect(nftList(ok(s, 'add element inet t hs { 1.1.1.1, 1.1.1.1 }', 'add element inet t s { 10.0.0.0/24 }'))).toBe(nftList(s));
    fails(s, script('create element inet t hs { 1.1.1.1 }'), 1, /already exists/);
    fails(s, script('create element inet t hs { 2.2.2.2, 2.2.2.2 }'), 1, /already exists/);
    fails(s, script('add element inet t vm { 1 : goto a }'), 1, /another value/);
    expect(nftList(ok(s, 'add element inet t vm { 1 : goto c }'))).toBe(nftList(s));
  });

  it('elements: deleting an absent one fails (also the same one twice); a map element by key or by key and value', () => {
    const s = base();
    fails(s, script('delete element inet t s { 10.1.0.0/24 }'), 1, /does not exist/);
    fails(ok(s, 'add element inet t hs { 2.2.2.2 }'), script('delete element inet t hs { 2.2.2.2, 2.2.2.2 }'), 1, /does not exist/);
    expect(nftList(ok(s, 'add element inet t hs { 3.3.3.3 }', 'delete element inet t hs { 3.3.3.3 }'))).toBe(nftList(s));
    expect(nftList(ok(s, 'delete element inet t vm { 1 }'))).not.toContain('goto c');
    expect(nftList(ok(s, 'delete element inet t vm { 1 : goto c }'))).not.toContain('goto c');
    expect(nftList(ok(s, 'destroy element inet t hs { 9.9.9.9, 1.1.1.1 }'))).not.toContain('1.1.1.1');
  });

  it('interval sets refuse overlaps, at the point of the transaction', () => {
    const s = base();
    fails(s, script('add element inet t s { 10.0.0.0/16 }'), 1, /conflicting intervals/);
    fails(s, script('add element inet t s { 10.0.0.5 }'), 1, /conflicting intervals/);
    expect(nftList(ok(s, 'delete element inet t s { 10.0.0.0/24 }', 'add element inet t s { 10.0.0.0/16 }'))).toContain('\t\t10.0.0.0/16\n');
    expect(nftList(ok(s, 'add element inet t s { 10.0.1.0/24 }'))).toContain('\t\t10.0.0.0/24\n\t\t10.0.1.0/24\n');
  });

  it('delete chain: refused while a rule or a verdict-map element uses it at that point', () => {
    const s = base();
    fails(s, script('delete chain inet t a'), 1, /a is in use.*rule "jump a" of chain b/);
    fails(s, script('delete chain inet t c'), 1, /c is in use.*element 1 : goto c of map vm/);
    fails(s, script('delete chain inet t c', 'delete element inet t vm { 1 }'), 1, /in use/);
    fails(s, script('delete chain inet t a', 'flush chain inet t b'), 1, /in use/);
    expect(nftList(ok(s, 'delete element inet t vm { 1 }', 'delete chain inet t c'))).not.toContain('chain c');
    expect(nftList(ok(s, 'flush chain inet t b', 'delete chain inet t a'))).not.toContain('chain a');
    // A chain with rules goes with its rules (and their references).
    expect(nftList(ok(s, 'flush chain inet t h', 'delete chain inet t b', 'delete chain inet t a'))).not.toMatch(/chain [ab]\n/);
    fails(s, script('add chain inet t d', 'add rule inet t c meta nfproto vmap { ipv4 : jump d }', 'delete chain inet t d'), 3, /d is in use/);
    fails(s, script('delete chain inet t zz'), 1, /zz does not exist/);
  });

  it('delete set or map: refused when absent or used by a rule at that point', () => {
    const s = base();
    fails(s, script('delete set inet t s'), 1, /s is in use.*chain a/);
    fails(s, script('delete map inet t vm'), 1, /vm is in use/);
    fails(s, script('delete set inet t zz'), 1, /zz does not exist/);
    fails(s, script('delete map inet t s'), 1, /map s does not exist/);
    expect(nftList(ok(s, 'flush chain inet t a', 'delete set inet t s'))).not.toContain('set s ');
    expect(nftList(ok(s, 'destroy set inet t zz'))).toBe(nftList(s));
  });

  it('a rule needs its sets and chains when it is added; a table block may name what it declares later', () => {
    const s = base();
    fails(s, script('add rule inet t a ip saddr @zz accept'), 1, /set zz does not exist/);
    fails(s, script('add rule inet t a jump zz'), 1, /chain zz does not exist/);
    fails(s, script('add rule inet t a jump h'), 1, /base chain/);
    fails(s, script('add rule inet t a ip6 saddr @s accept'), 1, /datatype mismatch/);
    fails(s, script('add rule inet t zz accept'), 1, /chain zz does not exist/);
    fails(s, script('add chain inet t x', 'add rule inet t x jump y', 'add chain inet t y'), 2, /chain y does not exist/);
    const block = script('table inet u {', '\tchain x {', '\t\tjump y', '\t\tip saddr @z accept', '\t}', '\tchain y {', '\t}', '\tset z {', '\t\ttype ipv4_addr', '\t}', '}');
    expect(nftList(unwrap(nftApply(s, block)))).toContain('table inet u\n');
    fails(s, script('table inet u {', '\tchain x {', '\t\tjump y', '\t}', '}', 'table inet u {', '\tchain y {', '\t}', '}'), 3, /chain y does not exist/);
  });

  it('flush: set and map by their kind; a table flush empties chains, not sets', () => {
    const s = base();
    fails(s, script('flush set inet t vm'), 1, /set vm does not exist/);
    expect(nftList(ok(s, 'flush map inet t vm'))).not.toContain('goto c');
    const flushed = nftList(ok(s, 'flush table inet t'));
    expect(flushed).toContain('\t\t10.0.0.0/24\n');
    expect(flushed).not.toContain('jump a');
    fails(s, script('flush chain inet t zz'), 1, /zz does not exist/);
  });

  it('add of an existing object keeps it when the declaration agrees; create refuses it', () => {
    const s = base();
    expect(nftList(ok(s, 'add table inet t', 'add chain inet t a', 'add set inet t s { type ipv4_addr; flags interval; }', 'add map inet t vm { type mark : verdict; }'))).toBe(nftList(s));
    fails(s, script('add set inet t s { type ipv6_addr; flags interval; }'), 1, /another declaration/);
    fails(s, script('add set inet t s { type ipv4_addr; }'), 1, /another declaration/);
    fails(s, script('create chain inet t a'), 1, /exists/);
    fails(s, script('create table inet t'), 1, /exists/);
    fails(s, script('add chain inet t h { type filter hook output priority 0; policy drop; }'), 1, /cannot change/);
    expect(nftList(ok(s, 'add chain inet t h { type filter hook input priority 0; policy drop; }'))).toContain('policy drop;');
    expect(nftList(ok(s, 'add set inet t n { type ipv4_addr; flags interval; elements = { 10.0.0.0/8 }; }'))).toContain('\tset n { type ipv4_addr; flags interval; }\n\t\t10.0.0.0/8\n');
  });

  it('tables: delete needs the table, destroy does not', () => {
    fails(base(), script('delete table inet zz'), 1, /does not exist/);
    expect(nftList(ok(base(), 'destroy table inet zz', 'destroy table inet t'))).toBe('');
  });

  it('refuses insert, replace and delete rule (handles and positions)', () => {
    fails(base(), script('insert rule inet t a accept'), 1, /never emit/);
    fails(base(), script('replace rule inet t a handle 2 accept'), 1, /never emit/);
    fails(base(), script('delete rule inet t a handle 2'), 1, /never emit/);
  });

  it('validates the commit: a loop reachable from a base chain fails', () => {
    fails(base(), script('add rule inet t a jump b'), 1, /loop/);
  });

  it('never changes the state it is given', () => {
    const s = base();
    const before = nftList(s);
    ok(s, 'flush chain inet t b', 'delete chain inet t a', 'delete element inet t s { 10.0.0.0/24 }', 'add element inet t hs { 7.7.7.7 }', 'flush table inet t', 'add chain inet t h { type filter hook input priority 0; policy drop; }');
    ok(s, 'delete table inet t');
    ok(s, BASE.slice(0, -1));
    expect(nftList(s)).toBe(before);
  });
});
