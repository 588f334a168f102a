/**
 * The drift audit against real kernels (issue 12), in network namespaces of its own, on
 * iptables-nft, iptables-legacy and nft:
 *
 * - no false positives: every golden case, loaded as a user loads it and dumped with the real
 *   commands (`iptables-save`, `ip6tables-save`, `ipset save`; `nft list ruleset`), audits in
 *   sync with an empty repair. The iptables-legacy dumps are taken with `-c` after some traffic,
 *   so the counters are real numbers, not `[0:0]`.
 * - each kind of tampering, done with the real tools, one at a time: the audit reports exactly
 *   the tampered objects, and applying its repair (in the order of an update) makes the next
 *   audit of the host clean.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type CompileOptions, compile, prepare } from '../../src/compile.js';
import { type AuditResult, auditPrepared } from '../../src/audit/audit.js';
import type { LiveDumps } from '../../src/audit/dumps.js';
import type { IptablesHostState, NftHostState } from '../../src/delta/state.js';
import { ipsetTempName } from '../../src/backends/ipset/render.js';
import { goldenCases } from '../support/golden.js';
import { type Netns, NetnsSession, describeKernel, kernelAvailable, mapLimit } from '../support/netns.js';

type Variant = 'nft' | 'legacy';
const VARIANTS: readonly Variant[] = ['nft', 'legacy'];
const TOOLS = ['ipset', 'nft', 'ping', ...VARIANTS.flatMap((v) => [`iptables-${v}`, `ip6tables-${v}`, `iptables-${v}-restore`, `ip6tables-${v}-restore`, `iptables-${v}-save`, `ip6tables-${v}-save`])];

const kernel = await kernelAvailable(TOOLS);
const cases = goldenCases();

async function loadIptables(ns: Netns, v: Variant, files: Readonly<Record<string, string>>): Promise<void> {
  await ns.must(['ipset', 'restore'], { input: files['ipset.restore']! });
  await ns.must([`iptables-${v}-restore`], { input: files['iptables.v4']! });
  await ns.must([`ip6tables-${v}-restore`], { input: files['iptables.v6']! });
}

async function dumpIptables(ns: Netns, v: Variant, counters = false): Promise<LiveDumps> {
  const c = counters ? ['-c'] : [];
  return {
    'iptables-save.v4': await ns.must([`iptables-${v}-save`, ...c]),
    'iptables-save.v6': await ns.must([`ip6tables-${v}-save`, ...c]),
    'ipset.save': await ns.must(['ipset', 'save']),
  };
}

const dumpNft = async (ns: Netns): Promise<LiveDumps> => ({ 'nft.ruleset': await ns.must(['nft', 'list', 'ruleset']) });

/** Apply a repair as an update is applied: ipset.delta, the two tables, ipset.cleanup (or delta.nft). */
async function applyRepair(ns: Netns, v: Variant | 'nftables', files: Readonly<Record<string, string>>): Promise<void> {
  if (v === 'nftables') {
    if (files['delta.nft'] !== '') await ns.must(['nft', '-f', '-'], { input: files['delta.nft']! });
    return;
  }
  if (files['ipset.delta'] !== '') await ns.must(['ipset', 'restore'], { input: files['ipset.delta']! });
  if (files['iptables.v4.delta'] !== '') await ns.must([`iptables-${v}-restore`, '--noflush'], { input: files['iptables.v4.delta']! });
  if (files['iptables.v6.delta'] !== '') await ns.must([`ip6tables-${v}-restore`, '--noflush'], { input: files['iptables.v6.delta']! });
  if (files['ipset.cleanup'] !== '') await ns.must(['ipset', 'restore'], { input: files['ipset.cleanup']! });
}

const objects = (r: AuditResult): string[] => r.drifts.map((d) => `${d.kind}: ${d.object}`).sort();

describeKernel('audit: a loaded golden case is in sync (no false positives)', kernel, () => {
  test('golden cases exist', () => expect(cases.length).toBeGreaterThan(0));
  for (const c of cases) {
    for (const v of VARIANTS) {
      test.concurrent(`${c.name}: iptables-${v}`, async () => {
        const options: CompileOptions = { ...c.options, backend: 'iptables' };
        const session = new NetnsSession('audit');
        try {
          const ns = await session.create('host');
          await loadIptables(ns, v, compile(c.model, options).files);
          // Real counters on the legacy dumps: traffic through INPUT and OUTPUT first.
          if (v === 'legacy') await ns.run(['ping', '-c', '2', '-i', '0.2', '-W', '1', '127.0.0.1'], { timeoutMs: 5_000 });
          const dumps = await dumpIptables(ns, v, v === 'legacy');
          if (v === 'legacy') expect(dumps['iptables-save.v4']).toMatch(/^\[[1-9]\d*:\d+\] -A INPUT /m);
          const r = auditPrepared(prepare(c.model), dumps, options);
          expect(r.drifts, r.summary).toEqual([]);
          expect(r.repair().empty).toBe(true);
        } finally {
          await session.destroy();
        }
      });
    }
    test.concurrent(`${c.name}: nft`, async () => {
      const options = { ...c.options, backend: 'nft' } as const satisfies CompileOptions;
      const session = new NetnsSession('audit');
      try {
        const ns = await session.create('host');
        const files = compile(c.model, options).files;
        await ns.must(['nft', '-f', '-'], { input: files['ruleset.nft']! });
        const r = auditPrepared(prepare(c.model), await dumpNft(ns), options);
        expect(r.drifts, r.summary).toEqual([]);
        expect(r.repair().empty).toBe(true);
      } finally {
        await session.destroy();
      }
    });
  }
});

/** One kind of tampering: the commands (run in the namespace) and the drifts they must cause. */
interface Tamper {
  readonly name: string;
  readonly commands: readonly (readonly string[])[];
  readonly expect: readonly string[];
  /** What the audit after the first repair reports (a set of the wrong type takes two). */
  readonly between?: readonly string[];
}

/** The objects of the default-group case the tampering touches, found in its compiled state. */
function iptablesTampers(want: IptablesHostState, v: Variant): Tamper[] {
  const filter = want.tables[4].get('filter')!;
  const chainNames = [...filter.keys()];
  const groupChain = chainNames.find((n) => n.startsWith('sgnf-gi4-') && filter.get(n)!.rules.some((r) => r.includes('--match-set')))!;
  const set = /--match-set (\S+)/.exec(filter.get(groupChain)!.rules.find((r) => r.includes('--match-set'))!)![1]!;
  const portIn = chainNames.find((n) => /^sgnf-i[a-z0-9]/.test(n))!;
  const portOut = chainNames.find((n) => /^sgnf-o[a-z0-9]/.test(n))!;
  const members = want.sets.get(set)!.members;
  const ipt = `iptables-${v}`;
  const ip6t = `ip6tables-${v}`;
  const f4 = (chain: string): string => `ipv4 filter chain ${chain}`;
  return [
    { name: 'a rule deleted from a group chain', commands: [[ipt, '-D', groupChain, '1']], expect: [`chain-changed: ${f4(groupChain)}`] },
    { name: 'a foreign ACCEPT inserted into a port chain', commands: [[ipt, '-I', portIn, '1', '-j', 'ACCEPT']], expect: [`chain-changed: ${f4(portIn)}`] },
    { name: 'a port chain flushed', commands: [[ipt, '-F', portOut]], expect: [`chain-changed: ${f4(portOut)}`] },
    { name: 'the jump from FORWARD deleted', commands: [[ipt, '-D', 'FORWARD', '-j', 'sgnf-FORWARD']], expect: ['hook-missing: ipv4 filter chain FORWARD'] },
    {
      name: "the raw table's zone rules deleted (both families)",
      commands: [
        [ipt, '-t', 'raw', '-F', 'sgnf-PREROUTING'],
        [ip6t, '-t', 'raw', '-F', 'sgnf-PREROUTING'],
      ],
      expect: ['chain-changed: ipv4 raw chain sgnf-PREROUTING', 'chain-changed: ipv6 raw chain sgnf-PREROUTING'],
    },
    {
      name: 'set members added and removed',
      commands: [
        ['ipset', 'add', set, '198.51.100.99'],
        ['ipset', 'del', set, members[0]!],
      ],
      expect: [`members: ipset ${set}`],
    },
    {
      name: 'a set destroyed after its references were removed',
      commands: [
        [ipt, '-F', groupChain],
        ['ipset', 'destroy', set],
      ],
      expect: [`chain-changed: ${f4(groupChain)}`, `set-missing: ipset ${set}`],
    },
    {
      name: 'an extra chain and an extra set of ours, a foreign chain and set ignored',
      commands: [
        [ipt, '-N', 'sgnf-stale'],
        ['ipset', 'create', 'sgnf-stale', 'hash:net'],
        [ipt, '-N', 'other-tool'],
        [ipt, '-A', 'FORWARD', '-j', 'other-tool'],
        ['ipset', 'create', 'other-tool', 'hash:ip'],
      ],
      expect: ['chain-extra: ipv4 filter chain sgnf-stale', 'set-extra: ipset sgnf-stale'],
    },
    { name: "a built-in chain's policy changed", commands: [[ip6t, '-P', 'FORWARD', 'DROP']], expect: ['policy-changed: ipv6 filter chain FORWARD'] },
    { name: 'an extra jump to one of our chains in a built-in chain', commands: [[ipt, '-I', 'INPUT', '1', '-j', 'sgnf-INGRESS']], expect: ['hook-extra: ipv4 filter chain INPUT'] },
    {
      name: 'a set created again with another type, its rules put back',
      commands: [
        [ipt, '-F', groupChain],
        ['ipset', 'destroy', set],
        ['ipset', 'create', set, 'hash:ip', 'family', 'inet'],
        ['ipset', 'add', set, members[0]!],
        ...filter.get(groupChain)!.rules.map((r) => [ipt, '-A', groupChain, ...r.split(' ')]),
      ],
      expect: [`set-type: ipset ${set}`],
      between: [`chain-changed: ${f4(groupChain)}`, `set-extra: ipset ${ipsetTempName(set, 'sgnf')}`, `set-missing: ipset ${set}`],
    },
  ];
}

function nftTampers(want: NftHostState): (Omit<Tamper, 'commands'> & { commands: (ns: Netns) => Promise<void> })[] {
  const sg = want.tables.get('inet sgnf_sg')!;
  const chainNames = [...sg.chains.keys()];
  const groupChain = chainNames.find((n) => n.startsWith('gi4_') && sg.chains.get(n)!.rules.some((r) => /@\S+_h\b/.test(r)))!;
  const set = /@(\S+_h)\b/.exec(sg.chains.get(groupChain)!.rules.find((r) => /@\S+_h\b/.test(r))!)![1]!;
  const portIn = chainNames.find((n) => n.startsWith('i4_'))!;
  const portOut = chainNames.find((n) => n.startsWith('o4_'))!;
  const element = sg.sets.get('ingress_ports_v4')!.elements[0]!;
  const key = element.slice(0, element.indexOf(' : '));
  const otherChain = chainNames.find((n) => n.startsWith('i4_') && !element.endsWith(` ${n}`))!;
  const T = ['inet', 'sgnf_sg'];
  const nft = (ns: Netns, ...args: string[]): Promise<string> => ns.must(['nft', ...args]);
  const c = (chain: string): string => `inet sgnf_sg chain ${chain}`;
  return [
    {
      name: 'a rule deleted from a group chain',
      commands: async (ns) => {
        const listing = await nft(ns, '-a', 'list', 'chain', ...T, groupChain);
        const handle = /# handle (\d+)/.exec(listing.split('\n').find((l) => l.includes('@') && l.includes('# handle'))!)![1]!;
        await nft(ns, 'delete', 'rule', ...T, groupChain, 'handle', handle);
      },
      expect: [`chain-changed: ${c(groupChain)}`],
    },
    { name: 'a foreign accept inserted into a port chain', commands: async (ns) => void (await nft(ns, 'insert', 'rule', ...T, portIn, 'accept')), expect: [`chain-changed: ${c(portIn)}`] },
    { name: 'a port chain flushed', commands: async (ns) => void (await nft(ns, 'flush', 'chain', ...T, portOut)), expect: [`chain-changed: ${c(portOut)}`] },
    { name: 'the forward hook emptied', commands: async (ns) => void (await nft(ns, 'flush', 'chain', ...T, 'hook_forward')), expect: [`chain-changed: ${c('hook_forward')}`] },
    { name: 'the zone rules deleted', commands: async (ns) => void (await nft(ns, 'flush', 'chain', ...T, 'hook_raw')), expect: [`chain-changed: ${c('hook_raw')}`] },
    {
      name: 'set elements added and removed',
      commands: async (ns) => {
        await nft(ns, 'add', 'element', ...T, set, '{ 198.51.100.99 }');
        await nft(ns, 'delete', 'element', ...T, set, `{ ${sg.sets.get(set)!.elements[0]} }`);
      },
      expect: [`members: inet sgnf_sg set ${set}`],
    },
    {
      name: 'a set deleted after its references were removed',
      commands: async (ns) => {
        await nft(ns, 'flush', 'chain', ...T, groupChain);
        await nft(ns, 'delete', 'set', ...T, set);
      },
      expect: [`chain-changed: ${c(groupChain)}`, `set-missing: inet sgnf_sg set ${set}`],
    },
    {
      name: 'a verdict-map element replaced',
      commands: async (ns) => {
        await nft(ns, 'delete', 'element', ...T, 'ingress_ports_v4', `{ ${key} }`);
        await nft(ns, 'add', 'element', ...T, 'ingress_ports_v4', `{ ${key} : goto ${otherChain} }`);
      },
      expect: ['elements: inet sgnf_sg map ingress_ports_v4'],
    },
    {
      name: 'an extra chain of ours, a foreign table ignored',
      commands: async (ns) => {
        await nft(ns, 'add', 'chain', ...T, 'stale_chain');
        await nft(ns, 'add', 'table', 'ip', 'other_tool');
      },
      expect: [`chain-extra: ${c('stale_chain')}`],
    },
  ];
}

const TAMPER_CASE = 'default-group-3-ports';

describeKernel('audit: tampering with the real tools is reported as exactly that object, and repaired', kernel, () => {
  const c = cases.find((x) => x.name === TAMPER_CASE)!;
  const prepared = prepare(c.model);
  const session = new NetnsSession('audit');
  const hosts = new Map<string, Netns>();
  beforeAll(async () => {
    await mapLimit(['nft', 'legacy', 'nftables'], 3, async (v) => hosts.set(v, await session.create(v)));
    for (const v of VARIANTS) await loadIptables(hosts.get(v)!, v, prepared.compile({ ...c.options, backend: 'iptables' }).files);
    await hosts.get('nftables')!.must(['nft', '-f', '-'], { input: prepared.compile({ ...c.options, backend: 'nft' }).files['ruleset.nft']! });
  });
  afterAll(() => session.destroy());

  for (const v of VARIANTS) {
    describe(`iptables-${v}`, () => {
      const options: CompileOptions = { ...c.options, backend: 'iptables' };
      for (const t of iptablesTampers(prepared.state(options) as IptablesHostState, v)) {
        test(t.name, async () => {
          const ns = hosts.get(v)!;
          for (const cmd of t.commands) await ns.must(cmd);
          const r = auditPrepared(prepared, await dumpIptables(ns, v), options);
          expect(objects(r)).toEqual([...t.expect].sort());
          await applyRepair(ns, v, r.repair().files);
          if (t.between !== undefined) {
            const between = auditPrepared(prepared, await dumpIptables(ns, v), options);
            expect(objects(between)).toEqual([...t.between].sort());
            await applyRepair(ns, v, between.repair().files);
          }
          const after = auditPrepared(prepared, await dumpIptables(ns, v), options);
          expect(after.drifts, after.summary).toEqual([]);
        });
      }
    });
  }

  describe('nft', () => {
    const options: CompileOptions = { ...c.options, backend: 'nft' };
    for (const t of nftTampers(prepared.state(options) as NftHostState)) {
      test(t.name, async () => {
        const ns = hosts.get('nftables')!;
        await t.commands(ns);
        const r = auditPrepared(prepared, await dumpNft(ns), options);
        expect(objects(r)).toEqual([...t.expect].sort());
        await applyRepair(ns, 'nftables', r.repair().files);
        const after = auditPrepared(prepared, await dumpNft(ns), options);
        expect(after.drifts, after.summary).toEqual([]);
      });
    }
  });
});
