import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const bin = join(import.meta.dirname, '..', 'bin', 'sgnf');
const model = join(import.meta.dirname, '..', 'golden', 'default-group-3-ports', 'model.json');
const run = (...args: string[]) => spawnSync(bin, ['explain', model, ...args], { encoding: 'utf8' });

describe('sgnf explain', () => {
  it('names the group rule that allows a packet between two ports', () => {
    const r = run('--from', 'tapaaaaaaaa-11', '--to', 'bbbbbbbb-2222-4222-8222-000000000002', '--dport', '80');
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('tcp 10.0.0.11 -> 10.0.0.12:80 (fa:16:3e:00:00:01, NEW) on tapaaaaaaaa-11 -> tapbbbbbbbb-22: ACCEPT');
    expect(r.stdout).toContain('ingress of port bbbbbbbb-2222-4222-8222-000000000002: allowed by group 11111111-aaaa-4aaa-8aaa-000000000001 rule #2');
  });
  it('names anti-spoofing when the source address is not the port’s', () => {
    const r = run('--from', 'tapaaaaaaaa-11', '--to', 'host', '--src', '10.0.0.99', '--dst', '10.0.0.1');
    expect(r.stdout).toMatch(/: DROP\n.*anti-spoofing/);
  });
  it('refuses an unknown port with exit 2', () => {
    const r = run('--from', 'tapnope');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--from tapnope: no port on this host has that id or device name');
  });
});
