/**
 * The public surface (src/index.ts) is deliberate: what an agent needs, typed per backend, and
 * nothing internal. A new export is added here on purpose.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as sgnf from '../src/index.js';
import { AddressList, compile, prepare } from '../src/index.js';

const model: unknown = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'golden', 'default-group-3-ports', 'model.json'), 'utf8'));

describe('the public API', () => {
  it('exports these values and no others', () => {
    expect(Object.keys(sgnf).sort()).toEqual(
      [
        'AddressList',
        'DELTA_FILES',
        'DiffModelError',
        'DumpError',
        'LIVE_FILES',
        'ISSUE_CODES',
        'ModelError',
        'OUTPUT_FILES',
        'QueryError',
        'WARNING_CODES',
        'affected',
        'audit',
        'auditJson',
        'auditPrepared',
        'compile',
        'deltaBetween',
        'diff',
        'diffPrepared',
        'explain',
        'formatAudit',
        'hosts',
        'parseModel',
        'prepare',
        'slice',
      ].sort(),
    );
  });

  it('types the files of each backend, and tells the backend of a result', () => {
    const ipt = compile(model);
    const nft = compile(model, { backend: 'nft' });
    expect(ipt.backend).toBe('iptables');
    expect(Object.keys(ipt.files)).toEqual([...sgnf.OUTPUT_FILES.iptables]);
    expect(Object.keys(nft.files)).toEqual([...sgnf.OUTPUT_FILES.nft]);
    expect(ipt.stats.rules.v4 + ipt.stats.rules.v6).toBe(ipt.stats.rules.total);
    // @ts-expect-error an nft result has no iptables files
    expect(nft.files['iptables.v4']).toBeUndefined();
    // @ts-expect-error nor per-family rule counts
    expect(nft.stats.rules.v4).toBeUndefined();
    const either = compile(model, { backend: Math.random() < 2 ? 'nft' : 'iptables' } as sgnf.CompileOptions);
    if (either.backend === 'nft') expect(either.files['sets.nft']).toContain('flush set');
    else throw new Error('asked for nft');
  });

  it('gives the plan only on request, and no internals of the parsed model', () => {
    expect('plan' in compile(model)).toBe(false);
    expect(prepare(model).plan().ports).toHaveLength(3);
    expect('fromColumns' in AddressList).toBe(false);
  });
});
