/**
 * The naming scheme (src/backends/shared/names.ts, docs/naming.md): a name is a function of its
 * own id, and no two objects can share one. Expectations are written from the rule, not from
 * the implementation: a plain id (lower-case letters and digits joined by single dashes) that
 * fits is used as is; anything else is `<readable>_<8 base32 characters>`.
 */
import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { compile } from '../src/compile.js';
import { ModelError } from '../src/model/errors.js';
import { nftObjectKey, objectKey } from '../src/backends/shared/names.js';
import { RUNS } from './support/property-runs.js';

const SG = (rules: unknown[] = [{ direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 22 }]) => ({ stateful: true, rules });
let mac = 0;
const port = (groups: string[], extra: Record<string, unknown> = {}) => {
  mac++;
  const m = `fa:16:3e:00:${(mac >> 8).toString(16).padStart(2, '0')}:${(mac & 255).toString(16).padStart(2, '0')}`;
  return { mac_address: m, fixed_ips: [`10.0.${mac >> 8}.${mac & 255}`], security_groups: groups, ...extra };
};

/** Every chain declared in both iptables files and every set the ipset script creates. */
function iptablesNames(files: Readonly<Record<string, string>>): string[] {
  const chains = ['iptables.v4', 'iptables.v6'].flatMap((f) =>
    files[f]!.split(/^\*/m).flatMap((table) => [...table.matchAll(/^:(\S+)/gm)].map((m) => `${f}:${table.slice(0, table.indexOf('\n'))}:${m[1]}`)),
  );
  const sets = [...files['ipset.restore']!.matchAll(/^create (\S+)/gm)].map((m) => m[1]!);
  return [...chains, ...sets];
}
function nftNames(files: Readonly<Record<string, string>>): string[] {
  return files['ruleset.nft']!
    .split(/^table /m)
    .flatMap((t) => [...t.matchAll(/^\t(chain|set|map) (\S+)/gm)].map((m) => `${t.slice(0, t.indexOf(' {'))} ${m[1]} ${m[2]}`));
}
const unique = (names: string[]): void => expect(new Set(names).size).toBe(names.length);

describe('object keys', () => {
  test('plain ids that fit are used as they are', () => {
    expect(objectKey('web', 22)).toBe('web');
    expect(objectKey('11111111-aaaa-4aaa-8aaa-000000000001', 36)).toBe('11111111-aaaa-4aaa-8aaa-000000000001');
    expect(nftObjectKey('11111111-aaaa-4aaa-8aaa-000000000001')).toBe('11111111_aaaa_4aaa_8aaa_000000000001');
  });

  test('anything else gets a readable start, an underscore and a hash', () => {
    expect(objectKey('11111111-aaaa-4aaa-8aaa-000000000001', 22)).toMatch(/^11111111-aaaa_[a-z2-7]{8}$/);
    for (const id of ['Web', 'a_b', 'a--b', '-a', 'a-', 'a.b', 'über', '']) expect(objectKey(id, 22)).toMatch(/^[a-z0-9-]*_[a-z2-7]{8}$/);
    expect(objectKey('a_b', 22)).not.toBe(objectKey('a-b', 22));
    expect(nftObjectKey('A-B')).toMatch(/^a_b__[a-z2-7]{8}$/);
    // Small budgets keep a 6-character hash and drop the readable part first.
    expect(objectKey('11111111-aaaa-4aaa-8aaa-000000000001', 7)).toMatch(/^_[a-z2-7]{6}$/);
  });

  test('a key never depends on other ids, and distinct ids get distinct keys', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ maxLength: 40 }), { minLength: 2, maxLength: 30 }), fc.integer({ min: 7, max: 40 }), (ids, budget) => {
        const keys = ids.map((id) => objectKey(id, budget));
        unique(keys);
        unique(ids.map(nftObjectKey));
        for (const [i, k] of keys.entries()) {
          expect(k.length).toBeLessThanOrEqual(budget);
          expect(k).toMatch(/^[a-z0-9_-]+$/);
          expect(k).toBe(objectKey(ids[i]!, budget));
          expect(nftObjectKey(ids[i]!)).toMatch(/^[a-z0-9_]+$/);
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe('ids crafted to meet another object’s name compile to distinct names', () => {
  const both = (model: unknown, options: Record<string, unknown> = {}) => {
    unique(iptablesNames(compile(model, options).files));
    unique(nftNames(compile(model, { ...options, backend: 'nft' }).files));
  };

  test('a port id equal to a dispatch chain after its tag', () => {
    both({ security_groups: { web: SG() }, devices: { ngress: port(['web']), allback: port(['web']), ORWARD: port(['web']) } });
  });

  test('group ids sharing a truncated form, and an id shaped like a hashed key', () => {
    const g = ['ggggggggggggggggggg1', 'ggggggggggggggggggg2', 'ggggggggggg_hwpbiy7', objectKey('ggggggggggggggggggg1', 19)];
    both({ security_groups: Object.fromEntries(g.map((id) => [id, SG()])), devices: { p1: port(g) } });
  });

  test('remote groups whose set names would meet, and a group named like another’s temporary set', () => {
    const rules = (ids: string[]) => ids.map((id) => ({ direction: 'ingress', ethertype: 'IPv4', remote_group_id: id }));
    const ids = ['s:', 's__axml2si', 'x', 'x-t', 'X'];
    const model = { security_groups: Object.fromEntries(ids.map((id) => [id, SG(rules(ids))])), devices: { p1: port(ids) } };
    both(model);
    // No live set name is the temporary name of another set.
    const script = compile(model).files['ipset.restore']!;
    const live = new Set([...script.matchAll(/^create (\S+) .* -exist$/gm)].map((m) => m[1]));
    for (const [, temp] of script.matchAll(/^create (\S+) [^-]*$/gm)) expect(live.has(temp)).toBe(false);
  });

  test('nft ports whose sanitised ids would meet', () => {
    both({ security_groups: { web: SG() }, devices: { X: port(['web']), [nftObjectKey('X').replace(/_/g, '-')]: port(['web']), 'x-0kx8kl4': port(['web']) } });
  });
});

describe('what the kernel cannot tell apart is refused, naming both', () => {
  test('two networks whose linuxbridge bridges share a device name', () => {
    const model = {
      security_groups: { web: SG() },
      devices: { p1: port(['web'], { network_id: 'netaaaaaaaa-1' }), p2: port(['web'], { network_id: 'netaaaaaaaa-2' }) },
    };
    for (const backend of ['iptables', 'nft'] as const) {
      let err: unknown;
      try {
        compile(model, { driver: 'linuxbridge', backend });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ModelError);
      const issue = (err as ModelError).issues[0]!;
      expect(issue.path).toMatch(/network_id/);
      expect(issue.message).toContain('"netaaaaaaaa-1" and "netaaaaaaaa-2"');
      expect(issue.message).toContain('brqnetaaaaaaaa ');
    }
  });
});

describe('names never change because another object appeared', () => {
  const base = {
    security_groups: { 'aaaaaaaa-0000-4000-8000-000000000001': SG([{ direction: 'ingress', remote_group_id: 'aaaaaaaa-0000-4000-8000-000000000001' }]) },
    devices: { 'bbbbbbbb-0000-4000-8000-000000000001': port(['aaaaaaaa-0000-4000-8000-000000000001'], { network_id: 'n1' }) },
  };
  // Port ids sharing their first 11 characters need the linuxbridge driver (hybrid bridge names).
  test('adding objects whose ids share every truncated form keeps every existing name', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9a-f]{12}$/), (tail) => {
        const g = `aaaaaaaa-0000-4000-8000-${tail}`;
        const p = `bbbbbbbb-0000-4000-8000-${tail}`;
        fc.pre(g !== 'aaaaaaaa-0000-4000-8000-000000000001');
        const grown = {
          security_groups: { ...base.security_groups, [g]: SG([{ direction: 'ingress', remote_group_id: g }]) },
          devices: { ...base.devices, [p]: port([g], { device: `tap${tail.slice(0, 11)}`, network_id: 'n1' }) },
        };
        for (const [names, opts] of [
          [iptablesNames, { driver: 'linuxbridge' }],
          [nftNames, { driver: 'linuxbridge', backend: 'nft' }],
        ] as const) {
          const before = names(compile(base, opts).files);
          const after = new Set(names(compile(grown, opts).files));
          for (const n of before) expect(after.has(n)).toBe(true);
        }
      }),
      { numRuns: Math.min(RUNS, 50) },
    );
  });
});
