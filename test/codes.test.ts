/**
 * Every ModelError issue and every warning carries a stable code: each code of the lists is
 * produced by some bad input, and the README lists exactly these codes.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type CompileOptions, ISSUE_CODES, type IssueCode, ModelError, WARNING_CODES, type WarningCode, compile } from '../src/index.js';

const port = (extra: Record<string, unknown> = {}) => ({
  mac_address: 'fa:16:3e:00:00:01',
  fixed_ips: ['192.0.2.11'],
  security_groups: ['sg'],
  ...extra,
});
const withRule = (rule: Record<string, unknown>) => ({ security_groups: { sg: { rules: [rule] } }, devices: { 'p-1': port() } });
const withPort = (extra: Record<string, unknown>) => ({ security_groups: { sg: { rules: [] } }, devices: { 'p-1': port(extra) } });

/** A model (and options) whose first issue has the code. */
const ISSUES: Record<Exclude<IssueCode, 'set-too-large' | 'zones-exhausted' | 'name-collision' | 'bad-host-name' | 'bad-patch' | 'bad-dump' | 'missing-dump'>, [unknown, CompileOptions?]> = {
  'not-an-object': [5],
  'not-a-list': [{ security_groups: { sg: { rules: 5 } } }],
  'not-a-string': [withPort({ device_owner: 5 })],
  'not-a-boolean': [withPort({ port_security_enabled: 'yes' })],
  'not-an-integer': [withRule({ direction: 'ingress', protocol: 'tcp', port_range_min: 'x' })],
  required: [withRule({ protocol: 'tcp' })],
  'misspelled-field': [withRule({ direction: 'ingress', port_range_mn: 1 })],
  'bad-value': [withRule({ direction: 'sideways' })],
  'out-of-range': [withRule({ direction: 'ingress', protocol: 'tcp', port_range_min: 70000 })],
  'bad-id': [{ security_groups: { 'a b': { rules: [] } } }],
  'bad-address': [withRule({ direction: 'ingress', remote_ip_prefix: '10.0.0.300' })],
  'bad-mac': [withPort({ mac_address: 'nope' })],
  'bad-member': [{ sg_member_ips: { sg: { IPv4: [['10.0.0.1', 'fa:16:3e:00:00:01', 'x']] } } }],
  'bad-interface-name': [withPort({ device: 'a b' })],
  'family-mismatch': [withRule({ direction: 'ingress', remote_ip_prefix: '2001:db8::/64' })],
  'unknown-protocol': [withRule({ direction: 'ingress', protocol: 'bogus' })],
  'bad-port-range': [withRule({ direction: 'ingress', protocol: 'udp', port_range_min: 90, port_range_max: 80 })],
  'conflicting-remotes': [withRule({ direction: 'ingress', remote_ip_prefix: '10.0.0.0/8', remote_group_id: 'sg' })],
  'wrong-direction': [withRule({ direction: 'egress', source_ip_prefix: '10.0.0.0/8' })],
  'unknown-group': [withRule({ direction: 'ingress', remote_group_id: 'nope' })],
  'unknown-address-group': [withRule({ direction: 'ingress', remote_address_group_id: 'nope' })],
  'mixed-stateful': [{ security_groups: { sg: { rules: [] }, s2: { stateful: false, rules: [] } }, devices: { 'p-1': port({ security_groups: ['sg', 's2'] }) } }],
  'port-security-conflict': [withPort({ port_security_enabled: false })],
  'duplicate-device': [{ security_groups: { sg: { rules: [] } }, devices: { 'p-1': port({ device: 'tap1' }), 'p-2': port({ device: 'tap1' }) } }],
  'zone-conflict': [{ security_groups: { sg: { rules: [] } }, devices: { 'p-1': port({ conntrack_zone: 9 }), 'p-2': port({ conntrack_zone: 9 }) } }],
  'bad-option': [{}, { prefix: '1x' }],
};

/** What the cases above leave out, and where each is shown instead. */
const ELSEWHERE: Record<Exclude<IssueCode, keyof typeof ISSUES>, string> = {
  'set-too-large': 'needs more than 16,777,216 members of one family',
  'zones-exhausted': 'needs 61,440 ports; test/hardening/reproducers.test.ts refuses them',
  'name-collision': 'needs a collision of truncated sha256 hashes of two ids',
  'bad-host-name': 'sgnf compile --each-host: the CLI test below',
  'bad-patch': 'a JSON Patch that does not apply: test/cloud/patch.test.ts',
  'bad-dump': 'a line of a host dump no tool prints (sgnf audit): test/audit/parse.test.ts, test/audit/audit.test.ts',
  'missing-dump': 'a host dump the backend reads is absent (sgnf audit): test/audit/audit.test.ts',
};

const WARNINGS: Record<WarningCode, unknown> = {
  'unknown-field': { colour: 1 },
  'any-address-member': { sg_member_ips: { sg: { IPv4: ['0.0.0.0/0'] } } },
};

function firstIssue(model: unknown, options: CompileOptions = {}): { code: string; path: string } {
  try {
    compile(model, options);
  } catch (e) {
    if (e instanceof ModelError) return e.issues[0]!;
    throw e;
  }
  throw new Error('the model was accepted');
}

describe('issue and warning codes', () => {
  it('cover every code of ISSUE_CODES', () => {
    expect(new Set([...Object.keys(ISSUES), ...Object.keys(ELSEWHERE)])).toEqual(new Set(ISSUE_CODES));
  });

  for (const [code, [model, options]] of Object.entries(ISSUES)) {
    it(`${code}: its input is refused with it`, () => {
      expect(firstIssue(model, options).code).toBe(code);
    });
  }

  for (const [code, model] of Object.entries(WARNINGS)) {
    it(`${code}: its input compiles with this warning`, () => {
      expect(compile(model).diagnostics.map((d) => d.code)).toEqual([code]);
    });
  }

  it('bad-host-name: a host that cannot name a directory (sgnf compile --each-host)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sgnf-codes-'));
    try {
      const file = join(dir, 'model.json');
      writeFileSync(file, JSON.stringify(withPort({ 'binding:host_id': 'a/b' })));
      const r = spawnSync(join(import.meta.dirname, '..', 'bin', 'sgnf'), ['compile', file, '--each-host', '-o', join(dir, 'out'), '--format', 'json'], {
        encoding: 'utf8',
      });
      expect(r.status).toBe(2);
      expect((JSON.parse(r.stderr) as { issues: { code: string }[] }).issues.map((i) => i.code)).toEqual(['bad-host-name']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('are listed in the README, all of them and no other', () => {
    const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Error and warning codes'));
    const table = section.slice(0, section.indexOf('\n\n', section.indexOf('| code |')));
    const listed = [...table.matchAll(/^\| `([a-z-]+)` \|/gm)].map((m) => m[1]);
    expect(listed.sort()).toEqual([...ISSUE_CODES, ...WARNING_CODES].sort());
  });
});
