/**
 * Every golden full output applies cleanly to an empty host in the strict simulators, and again
 * on top of itself (sgnf promises that a full output can be reloaded at any time) with the same
 * resulting state.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyIptablesBackend, applyNftBackend, dumpIptablesHost, emptyIptablesHost } from '../support/apply/host.js';
import { emptyNft, nftList } from '../support/apply/nft.js';
import { unwrap } from '../support/apply/result.js';
import { goldenCases } from '../support/golden.js';

const read = (dir: string, file: string): string | undefined => (existsSync(join(dir, file)) ? readFileSync(join(dir, file), 'utf8') : undefined);

describe.each(goldenCases())('golden $name applies in the simulators', ({ dir }) => {
  it('iptables backend: ipset.restore, iptables.v4, iptables.v6 load on an empty host, and reload', () => {
    const files = { ipset: read(dir, 'ipset.restore'), v4: read(dir, 'iptables.v4'), v6: read(dir, 'iptables.v6') };
    expect(files.v4, 'iptables.v4').toBeDefined();
    const once = unwrap(applyIptablesBackend(emptyIptablesHost(), files));
    const twice = unwrap(applyIptablesBackend(once, files));
    expect(dumpIptablesHost(twice, { hashsize: true })).toBe(dumpIptablesHost(once, { hashsize: true }));
    expect(once.v4.tables.size + once.v6.tables.size).toBe(4);
  });

  it('nft backend: ruleset.nft then sets.nft load on an empty ruleset, and reload', () => {
    const files = ['ruleset.nft', 'sets.nft'].map((name) => ({ name, text: read(dir, name) ?? '' }));
    expect(files[0]!.text).not.toBe('');
    const once = unwrap(applyNftBackend(emptyNft(), files));
    const twice = unwrap(applyNftBackend(once, files));
    expect(nftList(twice)).toBe(nftList(once));
    expect(once.tables.size).toBe(2);
  });
});
