/**
 * The server-side commands through the CLI: affected (NEW or --patch), slice (--host,
 * --each-host), diff --patch, and --jobs N for every --each-host, whose output must equal
 * --jobs 1 byte for byte, all or nothing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/compile.js';
import { cloudWide } from '../bench/generators.js';
import { type Op, cloudArb, editsArb, patchOf } from '../support/cloud.js';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'sgnf');
const run = (args: string[], input?: string) => spawnSync(bin, args, { encoding: 'utf8', ...(input !== undefined && { input }) });
const dir = mkdtempSync(join(tmpdir(), 'sgnf-cloud-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (v: unknown): string => {
  const f = join(dir, `in-${n++}.json`);
  writeFileSync(f, JSON.stringify(v));
  return f;
};

/** Every file below a directory, by relative path. */
function tree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(root, p)] = readFileSync(p, 'utf8');
    }
  };
  walk(root);
  return out;
}

/** A cloud of 400 ports on 12 hosts (the benchmark's generator), and a change: a member and a moved port. */
const cloud = cloudWide({ ports: 400, hosts: 12, seed: 3 }) as { [k: string]: any };
const groups = Object.keys(cloud['security_groups']).sort();
const ports = Object.keys(cloud['devices']).sort();
const change: Op[] = [
  { op: 'add', path: `/sg_member_ips/${groups[0]}`, value: { IPv4: ['198.51.100.77'] } },
  { op: 'replace', path: `/devices/${ports[0]}/binding:host_id`, value: 'host-011' },
];
const cloudFile = file(cloud);
const patchFile = file(change);

describe('sgnf affected', () => {
  it('lists the same hosts for NEW and for --patch, one per line; --format json gives the reasons', () => {
    const next = structuredClone(cloud);
    next['sg_member_ips'] = { [groups[0]!]: { IPv4: ['198.51.100.77'] } };
    next['devices'][ports[0]!]['binding:host_id'] = 'host-011';
    const a = run(['affected', cloudFile, file(next)]);
    const b = run(['affected', cloudFile, '--patch', patchFile]);
    expect([a.status, b.status]).toEqual([0, 0]);
    expect(a.stdout).toBe(b.stdout);
    const hosts = a.stdout.split('\n').filter((h) => h !== '');
    expect(hosts.length).toBeGreaterThan(1);
    expect(hosts).toEqual([...hosts].sort());
    // Exactly the hosts whose files change.
    const changed = [...new Set(Object.values(cloud['devices']).map((d: any) => d['binding:host_id'] as string))]
      .sort()
      .filter((h) => JSON.stringify(compile(cloud, { host: h }).files) !== JSON.stringify(compile(next, { host: h }).files));
    expect(hosts).toEqual(changed);
    const json = JSON.parse(run(['affected', cloudFile, '--patch', patchFile, '--json']).stdout) as { hosts: string[]; changes: { host: string; sets: string[] }[] };
    expect(json.hosts).toEqual(hosts);
    expect(json.changes.some((c) => c.sets.includes(`group:${groups[0]}:IPv4`))).toBe(true);
  });

  it('refuses a patch that does not apply: exit 2, the operation named, nothing on standard output', () => {
    const r = run(['affected', cloudFile, '--patch', file([change[0], { op: 'remove', path: '/devices/nope' }])]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('$[1].path: remove "/devices/nope": no member "nope"');
    expect(run(['affected', cloudFile]).status).toBe(2);
  });
});

describe('sgnf slice', () => {
  it('prints a model that compiles as the host does in the cloud', () => {
    const r = run(['slice', cloudFile, '--host', 'host-003']);
    expect(r.status).toBe(0);
    const s: unknown = JSON.parse(r.stdout);
    expect(compile(s, { backend: 'nft' }).files).toEqual(compile(cloud, { host: 'host-003', backend: 'nft' }).files);
    expect(r.stdout.length).toBeLessThan(JSON.stringify(cloud).length / 2);
  });
});

describe('--each-host --jobs N: the same files as --jobs 1', () => {
  const each = (args: string[], jobs: number): Record<string, string> => {
    const out = join(dir, `out-${n++}`);
    const r = run([...args, '--each-host', '-o', out, '--jobs', String(jobs)]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return tree(out);
  };

  it('compile, slice, diff --patch', () => {
    for (const args of [['compile', cloudFile], ['compile', cloudFile, '--backend', 'nft', '--comments'], ['slice', cloudFile], ['diff', cloudFile, '--patch', patchFile]]) {
      const one = each(args, 1);
      expect(Object.keys(one).length).toBeGreaterThanOrEqual(12);
      expect(each(args, args[0] === 'compile' ? 3 : 2)).toEqual(one);
    }
  });

  it('over generated clouds and changes', () => {
    for (const [c, edits] of fc.sample(fc.tuple(cloudArb, editsArb), { seed: 17, numRuns: 4 })) {
      const p = patchOf(c, edits);
      const f = file(c);
      for (const args of [['compile', f], ['diff', f, '--patch', file(p?.ops ?? [])]]) {
        const r1 = spawnSync(bin, [...args, '--each-host', '-o', join(dir, `g-${n}`), '--jobs', '1'], { encoding: 'utf8' });
        const r3 = spawnSync(bin, [...args, '--each-host', '-o', join(dir, `g-${n}-3`), '--jobs', '3'], { encoding: 'utf8' });
        expect([r3.status, r3.stdout, r3.stderr]).toEqual([r1.status, r1.stdout, r1.stderr]);
        if (r1.status === 0) expect(tree(join(dir, `g-${n}-3`))).toEqual(tree(join(dir, `g-${n}`)));
        n++;
      }
    }
  });

  it('diff --patch equals diff OLD NEW', () => {
    const next = structuredClone(cloud);
    next['sg_member_ips'] = { [groups[0]!]: { IPv4: ['198.51.100.77'] } };
    next['devices'][ports[0]!]['binding:host_id'] = 'host-011';
    expect(each(['diff', cloudFile, '--patch', patchFile], 2)).toEqual(each(['diff', cloudFile, file(next)], 1));
    const one = run(['diff', cloudFile, '--patch', patchFile, '--host', 'host-011']);
    expect(one.status).toBe(0);
    expect(one.stdout).toBe(run(['diff', cloudFile, file(next), '--host', 'host-011']).stdout);
  });

  it('writes nothing when one host fails, whatever the thread that compiles it', () => {
    // Two devices with one name on one host: that host cannot compile.
    const bad = structuredClone(cloud);
    const onHost = ports.filter((p) => bad['devices'][p]['binding:host_id'] === 'host-007');
    bad['devices'][onHost[1]!]['device'] = bad['devices'][onHost[0]!]['device'];
    for (const jobs of [1, 2, 3]) {
      const out = join(dir, `fail-${jobs}`);
      const r = run(['compile', file(bad), '--each-host', '-o', out, '--jobs', String(jobs)]);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('is already used by port');
      expect(existsSync(out)).toBe(false);
    }
    // An existing output directory keeps its files as they were.
    const kept = join(dir, `kept-${n++}`);
    expect(run(['compile', cloudFile, '--each-host', '-o', kept, '--jobs', '1']).status).toBe(0);
    const was = tree(kept);
    expect(run(['compile', file(bad), '--each-host', '-o', kept, '--jobs', '2']).status).toBe(2);
    expect(tree(kept)).toEqual(was);
  });
});
