/**
 * `sgnf diff`: sections on stdout or every delta file written, --exit-code, and bad input in
 * either model named by file and JSON path with nothing printed or written.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { DELTA_FILES } from '../../src/delta/diff.js';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'sgnf');
const golden = join(import.meta.dirname, '..', '..', 'golden', 'default-group-3-ports', 'model.json');
const GROUP = '11111111-aaaa-4aaa-8aaa-000000000001';

function models(): { dir: string; a: string; b: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sgnf-diff-'));
  const m = JSON.parse(readFileSync(golden, 'utf8'));
  const a = join(dir, 'a.json');
  const b = join(dir, 'b.json');
  writeFileSync(a, JSON.stringify(m));
  writeFileSync(b, JSON.stringify({ ...m, sg_member_ips: { [GROUP]: { IPv4: ['10.9.9.9'] } } }));
  return { dir, a, b };
}
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

describe('sgnf diff', () => {
  test('prints every delta file as a section; a member change is one add line', () => {
    const { a, b } = models();
    const r = run('diff', a, b);
    expect(r.status).toBe(0);
    for (const name of DELTA_FILES.iptables) expect(r.stdout).toContain(`# ==== ${name} ====\n`);
    expect(r.stdout).toMatch(/^add sgnf-g4-\S+ 10\.9\.9\.9 -exist$/m);
    expect(r.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('#'))).toHaveLength(1);
  });

  test('--exit-code: 1 when there is a change, 0 when there is none; -o writes every file', () => {
    const { dir, a, b } = models();
    const out = join(dir, 'out');
    expect(run('diff', a, b, '--exit-code', '-o', out).status).toBe(1);
    expect(readdirSync(out).sort()).toEqual([...DELTA_FILES.iptables].sort());
    expect(readFileSync(join(out, 'iptables.v4.delta'), 'utf8')).toBe('');
    const same = run('diff', a, a, '--exit-code', '--backend', 'nft', '-o', join(dir, 'nft'));
    expect(same.status).toBe(0);
    expect(readdirSync(join(dir, 'nft')).sort()).toEqual([...DELTA_FILES.nft].sort());
  });

  test('bad input in either model: exit 2 naming the model, its file and the JSON path; nothing written', () => {
    const { dir, a } = models();
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ devices: { p1: { mac_address: 'nope', security_groups: [] } } }));
    for (const [args, which] of [
      [[a, bad], 'new'],
      [[bad, a], 'old'],
    ] as const) {
      const out = join(dir, `out-${which}`);
      const r = run('diff', ...args, '-o', out);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`${which} model (${bad})`);
      expect(r.stderr).toContain('$.devices.p1.mac_address');
      expect(existsSync(out)).toBe(false);
    }
  });
});

describe('sgnf diff --each-host', () => {
  test('every host gets every file; hosts the change does not reach get empty ones, the others their own delta', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sgnf-diff-hosts-'));
    const cloud = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'golden', 'cloud-host-select', 'model.json'), 'utf8'));
    // "db" only on compute-2; then its rules change.
    cloud.devices['b0000004-0000-4000-8000-000000000004'].security_groups = ['default'];
    const next = structuredClone(cloud);
    const a = join(dir, 'a.json');
    const b = join(dir, 'b.json');
    writeFileSync(a, JSON.stringify(cloud));
    const onlyDb = Object.entries(cloud.devices as Record<string, { security_groups: string[]; 'binding:host_id': string }>).filter(([, d]) => d.security_groups.includes('db'));
    const dbHosts = new Set(onlyDb.map(([, d]) => d['binding:host_id']));
    next.security_groups.db = { rules: [{ direction: 'ingress', protocol: 'tcp', port_range_min: 5432, port_range_max: 5432 }] };
    writeFileSync(b, JSON.stringify(next));
    const out = join(dir, 'out');
    expect(run('diff', a, b, '--each-host', '-o', out, '--exit-code').status).toBe(1);
    for (const host of ['compute-1', 'compute-2']) {
      expect(readdirSync(join(out, host)).sort()).toEqual([...DELTA_FILES.iptables].sort());
      const v4 = readFileSync(join(out, host, 'iptables.v4.delta'), 'utf8');
      const alone = run('diff', a, b, '--host', host);
      expect(alone.stdout).toContain(`# ==== iptables.v4.delta ====\n${v4}`);
      expect(v4 === '').toBe(!dbHosts.has(host));
    }
    expect([...dbHosts]).toEqual(['compute-2']);
  });
});
