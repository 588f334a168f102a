/**
 * The audit as a library and as `sgnf audit`: the report of each kind of drift, the repair, the
 * foreign objects, bad dumps, exit codes. Hosts are built by the strict simulators
 * (test/support/apply) and dumped in the tools' formats (test/support/audit-dumps.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { type CompileOptions, prepare } from '../../src/compile.js';
import { type AuditResult, auditPrepared } from '../../src/audit/audit.js';
import { DumpError, type LiveDumps } from '../../src/audit/dumps.js';
import { auditJson, formatAudit } from '../../src/audit/report.js';
import { DELTA_FILES } from '../../src/delta/diff.js';
import type { NftHostState } from '../../src/delta/state.js';
import { ipsetTempName } from '../../src/backends/ipset/render.js';
import { type IptablesHost, applyIpset, applyIptables, applyIptablesBackend, applyNftBackend, dumpIptablesHost, emptyIptablesHost } from '../support/apply/host.js';
import { emptyNft, nftList } from '../support/apply/nft.js';
import { unwrap } from '../support/apply/result.js';
import { iptablesDumps, nftDumps } from '../support/audit-dumps.js';

const root = join(import.meta.dirname, '..', '..');
const modelFile = join(root, 'golden', 'default-group-3-ports', 'model.json');
const model = prepare(JSON.parse(readFileSync(modelFile, 'utf8')));
const IPT = { backend: 'iptables' } as const satisfies CompileOptions;
const NFT = { backend: 'nft' } as const satisfies CompileOptions;

const full = unwrap(
  (() => {
    const f = model.compile(IPT).files;
    return applyIptablesBackend(emptyIptablesHost(), { ipset: f['ipset.restore'], v4: f['iptables.v4'], v6: f['iptables.v6'] });
  })(),
);
const fullNft = unwrap(applyNftBackend(emptyNft(), [{ name: 'ruleset.nft', text: model.compile(NFT).files['ruleset.nft']! }]));
const SET = 'sgnf-g4-11111111-aaaa-_oqz7tddn';
const GROUP_CHAIN = 'sgnf-gi4-11111111-a_oqz7tddn';

const objects = (r: AuditResult): string[] => r.drifts.map((d) => `${d.kind}: ${d.object}`).sort();
const edit = (dumps: LiveDumps, file: keyof LiveDumps, f: (text: string) => string): LiveDumps => ({ ...dumps, [file]: f(dumps[file]!) });

function repair(host: IptablesHost, r: AuditResult): IptablesHost {
  const f = r.repair().files;
  return unwrap(applyIptablesBackend(host, { ipset: f['ipset.delta'], v4: f['iptables.v4.delta'], v6: f['iptables.v6.delta'], ipsetCleanup: f['ipset.cleanup'] }, { noflush: true }));
}

describe('the report', () => {
  test('in sync: one summary line, exit-worthy result, an empty repair in every delta file', () => {
    const r = auditPrepared(model, iptablesDumps(full), IPT);
    expect(r.inSync).toBe(true);
    expect(formatAudit(r)).toBe(`${r.summary}\n`);
    expect(r.summary).toMatch(/^in sync: \d+ chains and 2 sets checked$/);
    expect(Object.keys(r.repair().files)).toEqual(DELTA_FILES.iptables);
    expect(r.repair().empty).toBe(true);
  });

  test('members, a changed chain with its diff, a missing hook; the summary counts them', () => {
    let dumps = iptablesDumps(full);
    dumps = edit(dumps, 'ipset.save', (t) => t.replace(`add ${SET} 10.0.0.12\n`, `add ${SET} 10.9.9.9\n`));
    dumps = edit(dumps, 'iptables-save.v4', (t) => t.replace('-A FORWARD -j sgnf-FORWARD\n', '').replace(`-A ${GROUP_CHAIN} `, `-A ${GROUP_CHAIN} -j ACCEPT\n-A ${GROUP_CHAIN} `));
    const r = auditPrepared(model, dumps, IPT);
    expect(objects(r)).toEqual([`chain-changed: ipv4 filter chain ${GROUP_CHAIN}`, 'hook-missing: ipv4 filter chain FORWARD', `members: ipset ${SET}`]);
    const text = formatAudit(r);
    expect(text).toContain(`ipset ${SET}: members differ: 1 member missing (10.0.0.12), 1 member extra (10.9.9.9)\n`);
    expect(text).toContain('ipv4 filter chain FORWARD: hook missing: -A FORWARD -j sgnf-FORWARD\n');
    expect(text).toContain(
      [
        `ipv4 filter chain ${GROUP_CHAIN}: chain changed: 0 rules missing, 1 extra`,
        `    --- host: ipv4 filter chain ${GROUP_CHAIN}`,
        `    +++ model: ipv4 filter chain ${GROUP_CHAIN}`,
        '    @@ -1,2 +1,1 @@',
        `    --A ${GROUP_CHAIN} -j ACCEPT`,
        `     -A ${GROUP_CHAIN} -m set --match-set ${SET} src -j ACCEPT`,
      ].join('\n'),
    );
    expect(text.endsWith(`drift: 3 differences (1 chain changed, 1 hook missing, 1 set with other members); ${r.summary.split('; ')[1]}\n`)).toBe(true);
    // Only what drifted is touched.
    const f = r.repair().files;
    expect(f['ipset.delta']).toContain(`del ${SET} 10.9.9.9 -exist\nadd ${SET} 10.0.0.12 -exist\n`);
    expect(f['iptables.v4.delta']!.split('\n').filter((l) => l.startsWith(':'))).toEqual([`:${GROUP_CHAIN} - [0:0]`]);
    expect(f['iptables.v4.delta']).toContain('-A FORWARD -j sgnf-FORWARD\n');
    expect(f['iptables.v6.delta']).toBe('');
  });

  test('the JSON report: every drift with its object, foreign objects with all, the repair files when asked', () => {
    const dumps = edit(iptablesDumps(full), 'ipset.save', (t) => `${t}create other-tool hash:ip family inet hashsize 1024 maxelem 65536\nadd other-tool 10.0.0.1\n`);
    const r = auditPrepared(model, edit(dumps, 'ipset.save', (t) => t.replace(`add ${SET} 10.0.0.12\n`, '')), IPT);
    const json = JSON.parse(JSON.stringify(auditJson(r, { all: true, repair: true }))) as Record<string, unknown>;
    expect(json).toMatchObject({
      backend: 'iptables',
      inSync: false,
      summary: r.summary,
      drifts: [{ kind: 'members', object: `ipset ${SET}`, set: SET, missing: { count: 1, first: ['10.0.0.12'] }, extra: { count: 0, first: [] } }],
      foreign: [{ kind: 'set', object: 'ipset other-tool', detail: 'hash:ip family inet, 1 member' }],
      repair: r.repair().files,
    });
    expect(Object.keys(auditJson(r))).toEqual(['backend', 'inSync', 'summary', 'checked', 'drifts']);
    expect(formatAudit(r, { all: true })).toContain('foreign objects (not compared):\n  ipset other-tool: hash:ip family inet, 1 member\n');
  });

  test('a missing table, an extra hook and a chain too different to diff', () => {
    let dumps = iptablesDumps(full);
    dumps = edit(dumps, 'iptables-save.v6', (t) => t.slice(0, t.indexOf('*raw')));
    dumps = edit(dumps, 'iptables-save.v4', (t) => t.replace('-A INPUT -j sgnf-INPUT\n', '-A INPUT -j sgnf-INPUT\n-A INPUT -j sgnf-INPUT\n'));
    const many = Array.from({ length: 2100 }, (_, i) => `-A sgnf-FALLBACK -s 10.${i >> 8}.${i & 255}.0/24 -j DROP`).join('\n');
    dumps = edit(dumps, 'iptables-save.v4', (t) => t.replace('-A sgnf-FALLBACK -j DROP\n', `${many}\n`));
    const r = auditPrepared(model, dumps, IPT);
    expect(objects(r)).toEqual(['chain-changed: ipv4 filter chain sgnf-FALLBACK', 'hook-extra: ipv4 filter chain INPUT', 'table-missing: ipv6 raw']);
    expect(r.drifts.find((d) => d.kind === 'chain-changed')).toMatchObject({ missing: { count: 1 }, extra: { count: 2100 }, diff: '(diff omitted: more than 2000 lines differ)\n' });
    const f = r.repair().files;
    expect(f['iptables.v4.delta']).toContain('\n-D INPUT -j sgnf-INPUT\n');
    expect(f['iptables.v6.delta']).toContain('*raw\n:OUTPUT ACCEPT [0:0]\n:PREROUTING ACCEPT [0:0]\n:sgnf-PREROUTING - [0:0]\n-A PREROUTING -j sgnf-PREROUTING\n');
  });

  test('nft: a base chain hook, a map element, a table of ours in another family', () => {
    const listing = nftDumps(fullNft)['nft.ruleset']!;
    const tampered = listing
      .replace('type filter hook forward priority -200; policy accept;', 'type filter hook forward priority -199; policy accept;')
      .replace(/0x0000dc94 : goto i4_aaaaaaaa_1111_4111_8111_000000000001/, '0x0000dc94 : goto i4_bbbbbbbb_2222_4222_8222_000000000002')
      .concat('table ip sgnf_sg {\n}\n');
    const r = auditPrepared(model, { 'nft.ruleset': tampered }, NFT);
    expect(objects(r)).toEqual(['elements: inet sgnf_sg map ingress_ports_v4', 'hook-changed: bridge sgnf_ports chain hook_forward', 'table-extra: table ip sgnf_sg']);
    expect(formatAudit(r)).toContain(
      'bridge sgnf_ports chain hook_forward: hook changed: the model wants `type filter hook forward priority -200; policy accept;`, the host has `type filter hook forward priority -199; policy accept;`\n',
    );
    expect(r.repair().files['delta.nft']).toContain('delete table ip sgnf_sg\n');
  });
});

describe('a set of the wrong type', () => {
  test('ipset: the repair moves its rules to a set of the right type, a second repair back to its name', () => {
    // The set re-created as hash:ip, its rule put back (what a careless operator could do).
    const rule = `-A ${GROUP_CHAIN} -m set --match-set ${SET} src -j ACCEPT`;
    let host = unwrap(applyIptables(full, 4, `*filter\n:${GROUP_CHAIN} - [0:0]\nCOMMIT\n`, { noflush: true }));
    host = unwrap(applyIpset(host, `destroy ${SET}\ncreate ${SET} hash:ip family inet\nadd ${SET} 10.0.0.11\n`));
    host = unwrap(applyIptables(host, 4, `*filter\n${rule}\nCOMMIT\n`, { noflush: true }));
    const r = auditPrepared(model, iptablesDumps(host), IPT);
    expect(objects(r)).toEqual([`set-type: ipset ${SET}`]);
    expect(formatAudit(r)).toContain(`ipset ${SET}: set of the wrong type: \`hash:ip family inet maxelem 65536\`, the model wants \`hash:net family inet maxelem 16777216\``);
    const once = repair(host, r);
    const temp = ipsetTempName(SET, 'sgnf');
    const between = auditPrepared(model, iptablesDumps(once), IPT);
    expect(objects(between)).toEqual([`chain-changed: ipv4 filter chain ${GROUP_CHAIN}`, `set-extra: ipset ${temp}`, `set-missing: ipset ${SET}`]);
    expect(dumpIptablesHost(once)).toContain(`-A ${GROUP_CHAIN} -m set --match-set ${temp} src -j ACCEPT`);
    const twice = repair(once, between);
    expect(dumpIptablesHost(twice, { hashsize: false })).toBe(dumpIptablesHost(full, { hashsize: false }));
  });

  test('nft: deleted and declared again in the one transaction', () => {
    const set = 'g4_11111111_aaaa_4aaa_8aaa_000000000001_n';
    const chain = 'gi4_11111111_aaaa_4aaa_8aaa_000000000001';
    const rules = (model.state(NFT) as NftHostState).tables.get('inet sgnf_sg')!.chains.get(chain)!.rules;
    // Declared again without `flags interval`, its rules put back.
    const script = [`flush chain inet sgnf_sg ${chain}`, `delete set inet sgnf_sg ${set}`, `add set inet sgnf_sg ${set} { type ipv4_addr; }`, ...rules.map((x) => `add rule inet sgnf_sg ${chain} ${x}`), ''].join('\n');
    const host = unwrap(applyNftBackend(fullNft, [{ name: 'tamper', text: script }]));
    const r = auditPrepared(model, nftDumps(host), NFT);
    expect(objects(r)).toEqual([`set-type: inet sgnf_sg set ${set}`]);
    expect(formatAudit(r)).toContain('set of the wrong type: `set { type ipv4_addr }`, the model wants `set { type ipv4_addr; flags interval }`');
    const repaired = unwrap(applyNftBackend(host, [{ name: 'delta.nft', text: r.repair().files['delta.nft']! }]));
    expect(nftList(repaired)).toBe(nftList(fullNft));
  });
});

describe('bad dumps', () => {
  test('a missing file, a line no tool prints: DumpError naming the file and line', () => {
    const err = (dumps: LiveDumps, o: CompileOptions): DumpError => {
      try {
        auditPrepared(model, dumps, o);
      } catch (e) {
        if (e instanceof DumpError) return e;
        throw e;
      }
      throw new Error('accepted');
    };
    const { 'ipset.save': _, ...noIpset } = iptablesDumps(full);
    expect(err(noIpset, IPT).issues).toEqual([{ code: 'missing-dump', path: 'ipset.save', message: expect.stringContaining('missing') }]);
    expect(err({ 'nft.ruleset': 'table inet x {\n\tchain c {\n\t\taccept\n\t}\n\tthing\n}\n' }, NFT).issues).toEqual([
      { code: 'bad-dump', path: 'nft.ruleset:5', message: 'not a line of an nft table listing: "thing"' },
    ]);
  });
});

describe('sgnf audit', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sgnf-audit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(root, 'bin', 'sgnf');
  const run = (args: string[]) => spawnSync(bin, args, { encoding: 'utf8' });
  const live = (name: string, dumps: LiveDumps): string => {
    const d = join(dir, name);
    rmSync(d, { recursive: true, force: true });
    spawnSync('mkdir', ['-p', d]);
    for (const [f, text] of Object.entries(dumps)) writeFileSync(join(d, f), text!);
    return d;
  };

  test('exit 0 in sync, 1 on drift with the report on stdout, --repair -o DIR writes every delta file', () => {
    const ok = run(['audit', modelFile, '--live', live('ok', iptablesDumps(full))]);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/^in sync: /);
    const drifted = live('drift', edit(iptablesDumps(full), 'ipset.save', (t) => t.replace(`add ${SET} 10.0.0.12\n`, '')));
    const out = join(dir, 'repair');
    const r = run(['audit', modelFile, '--live', drifted, '--repair', '-o', out]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe(`ipset ${SET}: members differ: 1 member missing (10.0.0.12), 0 members extra\n${r.stdout.split('\n')[1]}\n`);
    expect(readdirSync(out).sort()).toEqual([...DELTA_FILES.iptables].sort());
    expect(readFileSync(join(out, 'ipset.delta'), 'utf8')).toContain(`add ${SET} 10.0.0.12 -exist\n`);
    const json = run(['audit', modelFile, '--live', drifted, '--json', '--all']);
    expect(json.status).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ inSync: false, drifts: [{ kind: 'members' }], foreign: [] });
  });

  test('nft backend', () => {
    const r = run(['audit', modelFile, '--backend', 'nft', '--live', live('nft', nftDumps(fullNft))]);
    expect(r.status).toBe(0);
  });

  test('exit 2 and nothing on stdout: bad dumps (file and line), missing files, usage', () => {
    const bad = live('bad', edit(iptablesDumps(full), 'iptables-save.v6', (t) => `${t}garbage\n`));
    const r = run(['audit', modelFile, '--live', bad]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    const lines = iptablesDumps(full)['iptables-save.v6']!.split('\n').length;
    expect(r.stderr).toContain(`${join(bad, 'iptables-save.v6')}:${lines}: not a line iptables-save prints: "garbage"`);
    const j = run(['audit', modelFile, '--live', bad, '--json']);
    expect(j.status).toBe(2);
    expect(JSON.parse(j.stderr)).toMatchObject({ error: 'invalid live state', issues: [{ code: 'bad-dump', path: `${join(bad, 'iptables-save.v6')}:${lines}` }] });
    for (const args of [
      ['audit', modelFile],
      ['audit', modelFile, '--live', join(dir, 'nowhere')],
      ['audit', modelFile, '--live', bad, '--repair'],
      ['audit', modelFile, '--live', bad, '-o', join(dir, 'x')],
    ]) {
      const u = run(args);
      expect(u.status, args.join(' ')).toBe(2);
      expect(u.stdout).toBe('');
    }
    expect(run(['audit', modelFile, '--live', join(dir, 'nowhere')]).stderr).toContain('no such file (the iptables backend reads iptables-save.v4, iptables-save.v6, ipset.save)');
  });
});
