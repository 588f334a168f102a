/**
 * JSON Patch on a prepared model: `prepared.patch(ops)` is `prepare` of the patched input (the
 * input itself, every host's files, the warnings, the affected hosts), the old prepared model is
 * left as it was, and a patch that does not apply is refused with the operation's index.
 * The reference is a plain RFC 6902 implementation on deep copies (test/support/cloud.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type PreparedModel, cloudStateOf, compile, prepare } from '../../src/compile.js';
import { affected } from '../../src/cloud/affected.js';
import { materialize, rawOf } from '../../src/cloud/state.js';
import { ModelError } from '../../src/model/errors.js';
import { type Json, type Op, OPTION_SETS, applyReference, cloudArb, editsArb, hostsOf, patchOf } from '../support/cloud.js';
import { RUNS } from '../support/property-runs.js';

type Obj = { [k: string]: Json };

const issues = (f: () => unknown): string[] | undefined => {
  try {
    f();
    return undefined;
  } catch (e) {
    if (!(e instanceof ModelError)) throw e;
    return e.issues.map((i) => `${i.code} ${i.path}: ${i.message}`).sort();
  }
};
const warnings = (p: PreparedModel): string[] => p.cloud.diagnostics.map((d) => `${d.code} ${d.path}: ${d.message}`).sort();
const SOME_OPTIONS = [OPTION_SETS[0]!, OPTION_SETS[2]!, OPTION_SETS[6]!];

/** Operations that may not apply: a bad index, a missing member, a failing test, a bad pointer. */
const badOpArb: fc.Arbitrary<Op> = fc.oneof(
  fc.constant<Op>({ op: 'remove', path: '/devices/nope' }),
  fc.constant<Op>({ op: 'test', path: '/options', value: { enable_ipset: 'maybe' } }),
  fc.constant<Op>({ op: 'add', path: '/sg_member_ips/sg-a/IPv4/99', value: '198.51.100.9' }),
  fc.constant<Op>({ op: 'replace', path: 'devices', value: {} }),
  fc.constant<Op>({ op: 'move', from: '/security_groups', path: '/security_groups/x' }),
  fc.constant<Op>({ op: 'copy', from: '/address_groups/ag-9', path: '/address_groups/ag-1' }),
);

function check(seed: number | undefined, runs: number): { applied: number; refused: number; invalid: number } {
  const seen = { applied: 0, refused: 0, invalid: 0 };
  fc.assert(
    fc.property(cloudArb, editsArb, fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.tuple(badOpArb, fc.nat(3)) }), fc.nat(3), (cloud, edits, bad, split) => {
      const change = patchOf(cloud, edits);
      if (!change) return;
      const ops: Op[] = [...change.ops];
      if (bad) ops.splice(Math.min(bad[1], ops.length), 0, bad[0]);
      let before: PreparedModel;
      try {
        before = prepare(cloud);
      } catch {
        return;
      }
      const result = applyReference(cloud, ops);
      if (result === undefined) {
        // The first operation the reference refuses is the one named.
        let i = 0;
        while (applyReference(cloud, ops.slice(0, i + 1)) !== undefined) i++;
        const got = issues(() => before.patch(ops));
        expect(got).toHaveLength(1);
        expect(got![0]).toMatch(new RegExp(`^bad-patch \\$\\[${i}\\]`));
        seen.refused++;
        return;
      }
      const wanted = issues(() => prepare(result));
      if (wanted) {
        expect(issues(() => before.patch(ops))).toEqual(wanted);
        seen.invalid++;
        return;
      }
      // Applied in one patch, or in two (the second on the patched model).
      const k = Math.min(split, ops.length);
      let next = before.patch(ops);
      if (split % 2 === 1) {
        // In two patches, when the model between them is valid too.
        try {
          next = before.patch(ops.slice(0, k)).patch(ops.slice(k));
        } catch (e) {
          if (!(e instanceof ModelError)) throw e;
        }
      }
      const fresh = prepare(result);
      expect(materialize(rawOf(cloudStateOf(next)))).toEqual(result);
      expect(warnings(next)).toEqual(warnings(fresh));
      const hosts = [...new Set([...hostsOf(cloud), ...hostsOf(result)])];
      for (const options of SOME_OPTIONS) {
        for (const host of hosts) {
          let want;
          try {
            want = compile(result, { ...options, host }).files;
          } catch {
            expect(() => next.compile({ ...options, host })).toThrow(ModelError);
            continue;
          }
          expect(next.compile({ ...options, host }).files).toEqual(want);
          // The old model is untouched.
          expect(before.compile({ ...options, host }).files).toEqual(compile(cloud, { ...options, host }).files);
        }
        try {
          expect(affected(before, next, options)).toEqual(affected(before, fresh, options));
        } catch (e) {
          if (!(e instanceof ModelError)) throw e;
        }
      }
      seen.applied++;
    }),
    { numRuns: runs, ...(seed !== undefined && { seed }) },
  );
  return seen;
}

describe('prepared.patch(ops) = prepare(patched input)', () => {
  it('fixed seed', () => {
    const seen = check(5, RUNS);
    expect(seen.applied).toBeGreaterThan(RUNS / 2);
    expect(seen.refused).toBeGreaterThan(RUNS / 20);
    expect(seen.invalid).toBeGreaterThan(0);
  });
  it('random seed', () => {
    check(undefined, Math.ceil(RUNS / 2));
  });
});

const model: Obj = {
  security_groups: { web: { rules: [{ direction: 'ingress', remote_group_id: 'web' }] } },
  devices: { p1: { mac_address: 'fa:16:3e:00:00:01', fixed_ips: ['10.0.0.1'], security_groups: ['web'], 'binding:host_id': 'h1' } },
};

describe('JSON Patch operations', () => {
  const p = prepare(model);
  const refused = (ops: unknown): string | undefined => issues(() => p.patch(ops))?.join('\n');

  it('refuses what does not apply, naming the operation and its field', () => {
    expect(refused({ op: 'add' })).toBe('bad-patch $: a JSON Patch is a list of operations');
    expect(refused([{ op: 'test', path: '/devices/p1/mac_address', value: 'fa:16:3e:00:00:01' }, { op: 'remove', path: '/devices/p2' }])).toBe(
      'bad-patch $[1].path: remove "/devices/p2": no member "p2"',
    );
    expect(refused([{ op: 'test', path: '/devices/p1/fixed_ips/0', value: '10.0.0.2' }])).toBe(
      'bad-patch $[0].value: test "/devices/p1/fixed_ips/0": the value at the path differs',
    );
    expect(refused([{ op: 'add', path: '/devices/p1/fixed_ips/2', value: '10.0.0.2' }])).toMatch(/^bad-patch \$\[0\]\.path: .*index 2 is out of range/);
    expect(refused([{ op: 'add', path: '/devices/p1/fixed_ips/01', value: '10.0.0.2' }])).toMatch(/is not an array index/);
    expect(refused([{ op: 'move', from: '/devices/p1', path: '/devices/p1/x' }])).toMatch(/^bad-patch \$\[0\]\.path: .*own children/);
    expect(refused([{ op: 'copy', from: '/devices/p9', path: '/devices/p2' }])).toMatch(/^bad-patch \$\[0\]\.from: /);
    expect(refused([{ op: 'replace', path: '/devices/p1/device' , value: 'x' }])).toMatch(/no member "device"/);
    expect(refused([{ op: 'add', path: '/devices' }])).toMatch(/^bad-patch \$\[0\]\.value: add "\/devices": is required by "add"$/);
    expect(refused([{ op: 'add', path: 'devices', value: 1 }])).toMatch(/^bad-patch \$\[0\]\.path: .*not a JSON pointer/);
    expect(refused([{ op: 'frobnicate', path: '' }])).toMatch(/^bad-patch \$\[0\]\.op: frobnicate "": must be one of/);
    expect(refused([{ op: 'remove', path: '' }])).toMatch(/whole document/);
  });

  it('refuses a patched model that is not valid, with the model path', () => {
    expect(refused([{ op: 'replace', path: '/devices/p1/mac_address', value: 'nope' }])).toMatch(/^bad-mac \$\.devices\.p1\.mac_address: /);
    expect(refused([{ op: 'remove', path: '/security_groups/web' }])).toMatch(/unknown-group/);
    // A group only rules name: they are parsed again, and refuse the name that went.
    const q = p.patch([{ op: 'add', path: '/security_groups/admin', value: [] }, { op: 'add', path: '/security_groups/web/rules/-', value: { direction: 'egress', remote_group_id: 'admin' } }]);
    expect(issues(() => q.patch([{ op: 'remove', path: '/security_groups/admin' }]))).toEqual([
      'unknown-group $.security_groups.web.rules[1].remote_group_id: unknown remote group "admin" (not in security_groups or sg_member_ips)',
    ]);
    // ... unless it still has members elsewhere.
    expect(q.patch([{ op: 'add', path: '/sg_member_ips', value: { admin: {} } }, { op: 'remove', path: '/security_groups/admin' }]).cloud.groups.has('admin')).toBe(false);
    // New keys must be ids.
    expect(refused([{ op: 'add', path: '/devices/bad id', value: { mac_address: 'fa:16:3e:00:00:02' } }])).toMatch(/^bad-id \$\.devices\["bad id"\]: /);
  });

  it('applies in order, with "-" for the end of an array and ~1 for "/" in a key', () => {
    const next = p.patch([
      { op: 'add', path: '/devices/p1/fixed_ips/-', value: '10.0.0.9' },
      { op: 'add', path: '/sg_member_ips', value: {} },
      { op: 'add', path: '/sg_member_ips/web', value: { IPv4: ['10.9.0.0/16'] } },
      { op: 'add', path: '/devices/p1/x~1y', value: 1 },
    ]);
    expect(materialize(rawOf(cloudStateOf(next)))).toEqual(
      applyReference(model, [
        { op: 'add', path: '/devices/p1/fixed_ips/-', value: '10.0.0.9' },
        { op: 'add', path: '/sg_member_ips', value: { web: { IPv4: ['10.9.0.0/16'] } } },
        { op: 'add', path: '/devices/p1/x~1y', value: 1 },
      ]),
    );
    expect(next.compile({ host: 'h1' }).files['ipset.restore']).toContain('10.9.0.0/16');
    expect(next.cloud.diagnostics.map((d) => d.path)).toEqual(['$.devices.p1["x/y"]']);
    // The old model is as it was.
    expect(p.compile({ host: 'h1' }).files).toEqual(compile(model, { host: 'h1' }).files);
  });

  it('replaces the whole document or a collection (parsed again from scratch)', () => {
    const other = { devices: { q: { mac_address: 'fa:16:3e:00:00:09', 'binding:host_id': 'h2' } } };
    expect(p.patch([{ op: 'replace', path: '', value: other }]).compile({ host: 'h2' }).files).toEqual(compile(other, { host: 'h2' }).files);
    expect(p.patch([{ op: 'replace', path: '/devices', value: other.devices }]).cloud.ports.some((q) => q.host === 'h2')).toBe(true);
  });

  it('keeps a "__proto__" key an ordinary key', () => {
    const next = p.patch([{ op: 'add', path: '/devices/p1/__proto__', value: { polluted: true } }]);
    expect(({} as Obj)['polluted']).toBeUndefined();
    expect(next.cloud.diagnostics.map((d) => d.code)).toEqual(['unknown-field']);
  });
});
