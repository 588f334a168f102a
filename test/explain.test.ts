import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { QueryError, explain, prepare } from '../src/index.js';

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

describe('explain (the library function behind sgnf explain)', () => {
  const json: unknown = JSON.parse(readFileSync(model, 'utf8'));
  const query = { from: 'tapaaaaaaaa-11', to: 'bbbbbbbb-2222-4222-8222-000000000002', dstPort: 80 } as const;

  it('gives the verdict and the deciding check of each port on the path', () => {
    const r = explain(json, query);
    expect(r.verdict).toBe('ACCEPT');
    expect(r.path).toBe('tapaaaaaaaa-11 -> tapbbbbbbbb-22');
    expect(r.checks.map((c) => [c.direction, c.allowed, c.decidedBy.kind])).toEqual([
      ['egress', true, 'rule'],
      ['ingress', true, 'rule'],
    ]);
    expect(r.checks[1]!.decidedBy).toEqual({ kind: 'rule', group: '11111111-aaaa-4aaa-8aaa-000000000001', index: 2 });
    expect(r.text).toBe(run('--from', query.from, '--to', query.to, '--dport', '80').stdout);
  });

  it('answers the same for a prepared model, and names anti-spoofing as a built-in rule', () => {
    const spoofed = { from: 'tapaaaaaaaa-11', to: 'host', src: '10.0.0.99', dst: '10.0.0.1' } as const;
    expect(explain(prepare(json), query)).toEqual(explain(json, query));
    expect(explain(json, spoofed).checks).toMatchObject([{ direction: 'egress', allowed: false, decidedBy: { kind: 'builtin', rule: 'spoofed' } }]);
  });

  it('refuses a port that is not there with a QueryError naming the field', () => {
    expect(() => explain(json, { from: 'tapnope' })).toThrow(QueryError);
    try {
      explain(json, { to: 'nope' });
    } catch (e) {
      expect((e as QueryError).field).toBe('to');
    }
  });

  it('sgnf explain --format json prints the same result without the text', () => {
    const r = run('--from', query.from, '--to', query.to, '--dport', '80', '--format', 'json');
    const { text: _, ...rest } = explain(json, query);
    expect(JSON.parse(r.stdout)).toEqual(rest);
  });
});
