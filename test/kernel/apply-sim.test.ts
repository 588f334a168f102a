/**
 * The apply simulators (test/support/apply/) against the real tools: each scenario runs its
 * setup and then one step both in a fresh network namespace (ipset, iptables-restore on the
 * legacy and the nf_tables backend, nft -f) and in the simulator. They must agree on whether the
 * step fails, on the line ipset and nft report, and on the state afterwards (ipset save,
 * iptables-save, the shape of nft list ruleset). Where the simulator is deliberately stricter
 * than a tool, the scenario says so and which backend accepts.
 */
import { expect, test } from 'vitest';
import { type IptablesHost, applyIpset, applyIptables, emptyIptablesHost } from '../support/apply/host.js';
import { ipsetSave } from '../support/apply/ipset.js';
import { iptablesSave } from '../support/apply/iptables.js';
import { canonicalIpsetSave, canonicalIptablesSave, nftJsonShape, nftShape } from '../support/apply/live.js';
import { type NftState, emptyNft, nftApply } from '../support/apply/nft.js';
import type { ApplyResult } from '../support/apply/result.js';
import { type Netns, NetnsSession, describeKernel, kernelAvailable } from '../support/netns.js';

type Step = { readonly ipset: string } | { readonly v4: string; readonly noflush?: boolean } | { readonly v6: string; readonly noflush?: boolean } | { readonly nft: string };
type Backend = 'legacy' | 'nft';

interface Scenario {
  readonly name: string;
  readonly setup: readonly Step[];
  readonly step: Step;
  /** The simulator refuses the step although this backend's tool accepts it (both: either). */
  readonly stricterThan?: readonly Backend[];
}

const s = (...lines: string[]): string => lines.map((l) => `${l}\n`).join('');
const NET4 = 'create a hash:net family inet hashsize 64 maxelem 100';
const FILTER = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]'];
const IPT_BASE: Step = {
  v4: s(...FILTER, ':A - [0:0]', ':B - [0:0]', '-A INPUT -j A', '-A A -j B', '-A B -j ACCEPT', 'COMMIT', '*raw', ':PREROUTING ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':R - [0:0]', '-A PREROUTING -j R', 'COMMIT'),
};
const n4 = (...lines: string[]): Step => ({ v4: s(...lines), noflush: true });
const SETS: Step = { ipset: s(NET4, 'add a 10.0.0.1', 'create b hash:net family inet hashsize 64 maxelem 5', 'add b 10.0.0.2', 'create c hash:net family inet6', 'create d hash:ip family inet') };
const REF_A: Step = { v4: s(...FILTER, '-A INPUT -m set --match-set a src -j ACCEPT', 'COMMIT') };
const NFT_BASE: Step = {
  nft: s(
    'table inet t',
    'delete table inet t',
    'table inet t {',
    '\tset s {',
    '\t\ttype ipv4_addr',
    '\t\tflags interval',
    '\t}',
    '\tset hs {',
    '\t\ttype ipv4_addr',
    '\t}',
    '\tmap vm {',
    '\t\ttype mark : verdict',
    '\t}',
    '\tchain a {',
    '\t\tip saddr @s accept',
    '\t}',
    '\tchain b {',
    '\t\tjump a',
    '\t}',
    '\tchain c {',
    '\t}',
    '\tchain h {',
    '\t\ttype filter hook input priority 0; policy accept;',
    '\t\tjump b',
    '\t\tmeta mark vmap @vm',
    '\t}',
    '}',
    'add element inet t vm { 1 : goto c }',
    'add element inet t s { 10.0.0.0/24 }',
    'add element inet t hs { 1.1.1.1 }',
  ),
};
const nft = (...lines: string[]): Step => ({ nft: s(...lines) });

const SCENARIOS: readonly Scenario[] = [
  // ipset restore
  { name: 'ipset: canonical entries', setup: [], step: { ipset: s(NET4, 'add a 10.0.0.1/32', 'add a 10.0.1.5/24', 'create v6 hash:net family inet6', 'add v6 2001:DB8::1/128', 'add v6 2001:db8::/32') } },
  { name: 'ipset: add present', setup: [SETS], step: { ipset: s('add a 10.0.0.1') } },
  { name: 'ipset: add present -exist', setup: [SETS], step: { ipset: s('add a 10.0.0.1 -exist', 'add -exist a 10.0.0.9') } },
  { name: 'ipset: add /0', setup: [SETS], step: { ipset: s('add a 0.0.0.0/0') } },
  { name: 'ipset: add other family', setup: [SETS], step: { ipset: s('add a 2001:db8::1') } },
  { name: 'ipset: add to a full set', setup: [SETS], step: { ipset: s('add b 10.0.0.3', 'add b 10.0.0.4', 'add b 10.0.0.5', 'add b 10.0.0.6', 'add b 10.0.0.7 -exist') } },
  { name: 'ipset: del absent', setup: [SETS], step: { ipset: s('del a 10.0.0.7') } },
  { name: 'ipset: del absent -exist, del masked', setup: [SETS], step: { ipset: s('add a 10.0.3.0/24', 'del a 10.0.0.7 -exist', 'del a 10.0.3.9/24') } },
  { name: 'ipset: create existing', setup: [SETS], step: { ipset: s(NET4) } },
  { name: 'ipset: create -exist, other hashsize', setup: [SETS], step: { ipset: s(`${NET4} -exist`, 'create a hash:net family inet hashsize 4096 maxelem 100 -exist') } },
  { name: 'ipset: create -exist, other maxelem', setup: [SETS], step: { ipset: s('create a hash:net family inet hashsize 64 maxelem 200 -exist') } },
  { name: 'ipset: create -exist, other type', setup: [SETS], step: { ipset: s('create a hash:ip family inet hashsize 64 maxelem 100 -exist') } },
  { name: 'ipset: create -exist, other family', setup: [SETS], step: { ipset: s('create a hash:net family inet6 hashsize 64 maxelem 100 -exist') } },
  { name: 'ipset: destroy missing', setup: [SETS], step: { ipset: s('destroy nosuch') } },
  { name: 'ipset: destroy missing -exist', setup: [SETS], step: { ipset: s('destroy nosuch -exist', 'destroy b') } },
  { name: 'ipset: destroy referenced', setup: [SETS, REF_A], step: { ipset: s('destroy b', 'destroy a') } },
  { name: 'ipset: destroy referenced -exist', setup: [SETS, REF_A], step: { ipset: s('destroy a -exist') } },
  { name: 'ipset: destroy all, one referenced', setup: [SETS, REF_A], step: { ipset: s('destroy') } },
  { name: 'ipset: swap compatible (headers travel), referenced', setup: [SETS, REF_A], step: { ipset: s('swap a b') } },
  { name: 'ipset: swap other family', setup: [SETS], step: { ipset: s('swap a c') } },
  { name: 'ipset: swap other type', setup: [SETS], step: { ipset: s('swap a d') } },
  { name: 'ipset: swap missing', setup: [SETS], step: { ipset: s('swap a nosuch') } },
  { name: 'ipset: flush missing -exist', setup: [SETS], step: { ipset: s('flush a', 'flush nosuch -exist') } },
  { name: 'ipset: rename', setup: [SETS], step: { ipset: s('rename a z') } },
  { name: 'ipset: rename onto existing', setup: [SETS], step: { ipset: s('rename a b') } },
  { name: 'ipset: rename referenced', setup: [SETS, REF_A], step: { ipset: s('rename a z') } },
  { name: 'ipset: 31 and 32 character names', setup: [], step: { ipset: s(`create ${'a'.repeat(31)} hash:net`, `create ${'b'.repeat(32)} hash:net`) } },
  { name: 'ipset: stops at the first error', setup: [], step: { ipset: s(NET4, 'add a 10.0.0.1', '', '# comment', 'add a 10.0.0.1', 'add a 10.0.0.2') } },

  // iptables-restore
  { name: 'iptables: full block replaces its table only', setup: [IPT_BASE], step: { v4: s(...FILTER, ':C - [0:0]', '-A C -j DROP', 'COMMIT') } },
  { name: 'iptables: full reload', setup: [IPT_BASE], step: IPT_BASE },
  { name: 'iptables: -n flushes and creates user chains', setup: [IPT_BASE], step: n4('*filter', ':B - [0:0]', '-A B -j DROP', ':C - [0:0]', 'COMMIT') },
  { name: 'iptables: built-in chain line sets policy, never flushes', setup: [IPT_BASE], step: n4('*filter', ':INPUT DROP [0:0]', '-A INPUT -j B', ':OUTPUT - [0:0]', 'COMMIT') },
  { name: 'iptables: per-table commit', setup: [IPT_BASE], step: n4('*raw', ':R2 - [0:0]', 'COMMIT', '*filter', ':B - [0:0]', '-A B -j NOPE', 'COMMIT') },
  { name: 'iptables: no COMMIT', setup: [IPT_BASE], step: n4('*filter', ':H - [0:0]') },
  { name: 'iptables: -X missing', setup: [IPT_BASE], step: n4('*filter', '-X ZZ', 'COMMIT') },
  { name: 'iptables: -X built-in', setup: [IPT_BASE], step: n4('*filter', '-X FORWARD', 'COMMIT'), stricterThan: ['nft'] },
  { name: 'iptables: -X non-empty', setup: [IPT_BASE], step: n4('*filter', '-X B', 'COMMIT') },
  { name: 'iptables: -X referenced at its line', setup: [IPT_BASE], step: n4('*filter', ':B - [0:0]', '-X B', ':A - [0:0]', 'COMMIT') },
  { name: 'iptables: -X after flushing chain and referrer', setup: [IPT_BASE], step: n4('*filter', ':A - [0:0]', ':B - [0:0]', '-X B', 'COMMIT') },
  { name: 'iptables: -N existing', setup: [IPT_BASE], step: n4('*filter', '-N A', 'COMMIT') },
  { name: 'iptables: -F missing', setup: [IPT_BASE], step: n4('*filter', '-F ZZ', 'COMMIT') },
  { name: 'iptables: -N, -F', setup: [IPT_BASE], step: n4('*filter', '-N C', '-F A', 'COMMIT') },
  { name: 'iptables: -A to a missing chain', setup: [IPT_BASE], step: n4('*filter', '-A NOCHAIN -j ACCEPT', 'COMMIT') },
  { name: 'iptables: jump to a chain declared later', setup: [IPT_BASE], step: n4('*filter', '-A A -j E', ':E - [0:0]', 'COMMIT') },
  { name: 'iptables: jump to a built-in chain', setup: [IPT_BASE], step: n4('*filter', '-A A -j INPUT', 'COMMIT') },
  { name: 'iptables: missing ipset', setup: [SETS], step: { v4: s(...FILTER, '-A INPUT -m set --match-set nosuch src -j ACCEPT', 'COMMIT') } },
  { name: 'iptables: ipset of the other family', setup: [SETS], step: { v4: s(...FILTER, '-A INPUT -m set --match-set c src -j ACCEPT', 'COMMIT') } },
  { name: 'iptables: user chain policy', setup: [IPT_BASE], step: n4('*filter', ':C DROP [0:0]', 'COMMIT'), stricterThan: ['nft'] },
  { name: 'iptables: chain declared twice without -n', setup: [IPT_BASE], step: { v4: s(...FILTER, ':C - [0:0]', '-A C -j DROP', ':C - [0:0]', 'COMMIT') }, stricterThan: ['nft'] },
  { name: 'iptables: chain declared twice with -n', setup: [IPT_BASE], step: n4('*filter', ':C - [0:0]', '-A C -j DROP', ':C - [0:0]', 'COMMIT') },
  {
    name: 'iptables: full block leaving a DROP policy undeclared',
    setup: [IPT_BASE, n4('*filter', ':FORWARD DROP [0:0]', 'COMMIT')],
    step: { v4: s('*filter', ':INPUT ACCEPT [0:0]', 'COMMIT') },
    stricterThan: ['legacy', 'nft'],
  },
  { name: 'iptables: loop', setup: [IPT_BASE], step: n4('*filter', ':B - [0:0]', '-A B -j A', 'COMMIT') },
  // Legacy's loop check stops at an unconditional verdict (B -j ACCEPT): the loop behind it passes.
  { name: 'iptables: loop behind an unconditional ACCEPT', setup: [IPT_BASE], step: n4('*filter', '-A B -j A', 'COMMIT'), stricterThan: ['legacy'] },
  { name: 'iptables: 29-character chain', setup: [IPT_BASE], step: n4('*filter', `:${'C'.repeat(29)} - [0:0]`, 'COMMIT') },
  { name: 'ip6tables: full and -n', setup: [{ v6: s(...FILTER, ':A - [0:0]', '-A INPUT -j A', 'COMMIT') }], step: { v6: s('*filter', ':A - [0:0]', '-A A -j DROP', 'COMMIT'), noflush: true } },

  // nft -f
  { name: 'nft: reload idiom', setup: [NFT_BASE], step: NFT_BASE },
  { name: 'nft: all or nothing', setup: [NFT_BASE], step: nft('add chain inet t newc', 'add element inet t hs { 2.2.2.2 }', 'delete chain inet t nosuch') },
  { name: 'nft: add duplicate elements', setup: [NFT_BASE], step: nft('add element inet t hs { 1.1.1.1, 1.1.1.1 }', 'add element inet t s { 10.0.0.0/24 }', 'add element inet t vm { 1 : goto c }') },
  { name: 'nft: create duplicate element', setup: [NFT_BASE], step: nft('create element inet t hs { 1.1.1.1 }') },
  { name: 'nft: create element twice in one statement', setup: [NFT_BASE], step: nft('create element inet t hs { 2.2.2.2, 2.2.2.2 }') },
  { name: 'nft: map key with another value', setup: [NFT_BASE], step: nft('add element inet t vm { 1 : goto a }') },
  { name: 'nft: delete absent element', setup: [NFT_BASE], step: nft('delete element inet t s { 10.1.0.0/24 }') },
  { name: 'nft: delete an element twice in one statement', setup: [NFT_BASE], step: nft('add element inet t hs { 2.2.2.2 }', 'delete element inet t hs { 2.2.2.2, 2.2.2.2 }') },
  { name: 'nft: delete map elements by key and by key and value', setup: [NFT_BASE], step: nft('add element inet t vm { 2 : goto a }', 'delete element inet t vm { 1 }', 'delete element inet t vm { 2 : goto a }') },
  { name: 'nft: interval overlap', setup: [NFT_BASE], step: nft('add element inet t s { 10.0.0.0/16 }') },
  { name: 'nft: interval overlap with a host', setup: [NFT_BASE], step: nft('add element inet t s { 10.0.0.5 }') },
  { name: 'nft: delete then add overlapping, adjacent', setup: [NFT_BASE], step: nft('delete element inet t s { 10.0.0.0/24 }', 'add element inet t s { 10.0.0.0/16 }', 'add element inet t s { 10.1.0.0/24 }') },
  { name: 'nft: delete chain referenced by a rule', setup: [NFT_BASE], step: nft('delete chain inet t a') },
  { name: 'nft: delete chain referenced by a map element', setup: [NFT_BASE], step: nft('delete chain inet t c') },
  { name: 'nft: delete chain before its map element', setup: [NFT_BASE], step: nft('delete chain inet t c', 'delete element inet t vm { 1 }') },
  { name: 'nft: delete map element then chain', setup: [NFT_BASE], step: nft('delete element inet t vm { 1 }', 'delete chain inet t c') },
  { name: 'nft: delete chain before flushing its referrer', setup: [NFT_BASE], step: nft('delete chain inet t a', 'flush chain inet t b') },
  { name: 'nft: flush referrer then delete chain', setup: [NFT_BASE], step: nft('flush chain inet t b', 'delete chain inet t a') },
  { name: 'nft: delete chains with rules', setup: [NFT_BASE], step: nft('flush chain inet t h', 'delete chain inet t b', 'delete chain inet t a') },
  { name: 'nft: delete chain used by an anonymous vmap', setup: [NFT_BASE], step: nft('add chain inet t d', 'add rule inet t c meta nfproto vmap { ipv4 : jump d }', 'delete chain inet t d') },
  { name: 'nft: delete missing chain', setup: [NFT_BASE], step: nft('delete chain inet t zz') },
  { name: 'nft: delete set used by a rule', setup: [NFT_BASE], step: nft('delete set inet t s') },
  { name: 'nft: delete map used by a rule', setup: [NFT_BASE], step: nft('delete map inet t vm') },
  { name: 'nft: delete missing set', setup: [NFT_BASE], step: nft('delete set inet t zz') },
  { name: 'nft: flush rule then delete set', setup: [NFT_BASE], step: nft('flush chain inet t a', 'delete set inet t s') },
  { name: 'nft: rule with a missing set', setup: [NFT_BASE], step: nft('add rule inet t a ip saddr @zz accept') },
  { name: 'nft: rule with a missing chain', setup: [NFT_BASE], step: nft('add rule inet t a jump zz') },
  { name: 'nft: jump to a chain added later', setup: [NFT_BASE], step: nft('add chain inet t x', 'add rule inet t x jump y', 'add chain inet t y') },
  { name: 'nft: block names what it declares later', setup: [NFT_BASE], step: nft('table inet u {', '\tchain x {', '\t\tjump y', '\t\tip saddr @z accept', '\t}', '\tchain y {', '\t}', '\tset z {', '\t\ttype ipv4_addr', '\t}', '}') },
  { name: 'nft: a later block does not count', setup: [NFT_BASE], step: nft('table inet u {', '\tchain x {', '\t\tjump y', '\t}', '}', 'table inet u {', '\tchain y {', '\t}', '}') },
  { name: 'nft: flush set of a map', setup: [NFT_BASE], step: nft('flush set inet t vm') },
  { name: 'nft: flush map, flush table', setup: [NFT_BASE], step: nft('flush map inet t vm', 'flush table inet t') },
  { name: 'nft: add existing objects', setup: [NFT_BASE], step: nft('add table inet t', 'add chain inet t a', 'add set inet t s { type ipv4_addr; flags interval; }', 'add map inet t vm { type mark : verdict; }') },
  { name: 'nft: add set with another type', setup: [NFT_BASE], step: nft('add set inet t s { type ipv4_addr; }') },
  { name: 'nft: create existing chain', setup: [NFT_BASE], step: nft('create chain inet t a') },
  { name: 'nft: change a base chain hook', setup: [NFT_BASE], step: nft('add chain inet t h { type filter hook output priority 0; policy drop; }') },
  { name: 'nft: change a base chain policy', setup: [NFT_BASE], step: nft('add chain inet t h { type filter hook input priority 0; policy drop; }') },
  { name: 'nft: delete missing table', setup: [NFT_BASE], step: nft('delete table inet zz') },
  { name: 'nft: loop from a base chain', setup: [NFT_BASE], step: nft('add rule inet t a jump b') },
];

const TOOLS = ['ipset', 'nft', 'iptables-legacy-restore', 'ip6tables-legacy-restore', 'iptables-legacy-save', 'ip6tables-legacy-save', 'iptables-nft-restore', 'ip6tables-nft-restore', 'iptables-nft-save', 'ip6tables-nft-save'];

interface Sim {
  host: IptablesHost;
  nft: NftState;
}

function simulate(sim: Sim, step: Step): ApplyResult<Sim> {
  const wrap = <S>(r: ApplyResult<S>, put: (s: S) => Sim): ApplyResult<Sim> => (r.ok ? { ok: true, state: put(r.state) } : { ...r, state: put(r.state) });
  if ('ipset' in step) return wrap(applyIpset(sim.host, step.ipset), (host) => ({ ...sim, host }));
  if ('v4' in step) return wrap(applyIptables(sim.host, 4, step.v4, { noflush: step.noflush }), (host) => ({ ...sim, host }));
  if ('v6' in step) return wrap(applyIptables(sim.host, 6, step.v6, { noflush: step.noflush }), (host) => ({ ...sim, host }));
  return wrap(nftApply(sim.nft, step.nft), (n) => ({ ...sim, nft: n }));
}

async function runReal(ns: Netns, backend: Backend, step: Step): Promise<{ ok: boolean; stderr: string }> {
  let r;
  if ('ipset' in step) r = await ns.run(['ipset', 'restore'], { input: step.ipset });
  else if ('nft' in step) r = await ns.run(['nft', '-f', '-'], { input: step.nft });
  else {
    const v4 = 'v4' in step;
    const argv = [`${v4 ? 'iptables' : 'ip6tables'}-${backend}-restore`, ...(step.noflush ? ['--noflush'] : [])];
    r = await ns.run(argv, { input: v4 ? step.v4 : step.v6 });
  }
  return { ok: r.rc === 0 && !r.timedOut, stderr: r.stderr };
}

/** The line a tool reports, where its message says it (ipset: "Error in line N"; nft: "-:N:"). */
function reportedLine(step: Step, stderr: string): number | undefined {
  const m = 'ipset' in step ? /Error in line (\d+)/.exec(stderr) : 'nft' in step ? /^[^:\n]*:(\d+):\d+-\d+: Error/m.exec(stderr) : null;
  return m ? Number(m[1]) : undefined;
}

const usesIptables = (sc: Scenario): boolean => [...sc.setup, sc.step].some((st) => 'v4' in st || 'v6' in st);

const kernel = await kernelAvailable(TOOLS);

describeKernel('the apply simulators agree with the real tools', kernel, () => {
  for (const sc of SCENARIOS) {
    const backends: readonly Backend[] = usesIptables(sc) ? ['legacy', 'nft'] : ['legacy'];
    for (const backend of backends) {
      test.concurrent(`${sc.name}${usesIptables(sc) ? ` (iptables-${backend})` : ''}`, async () => {
        let sim: Sim = { host: emptyIptablesHost(), nft: emptyNft() };
        for (const st of sc.setup) {
          const r = simulate(sim, st);
          expect(r.ok, `simulated setup: ${r.ok ? '' : `${r.line}: ${r.error}`}`).toBe(true);
          sim = r.state;
        }
        const simulated = simulate(sim, sc.step);
        const session = new NetnsSession('asim');
        try {
          const ns = await session.create('host');
          for (const st of sc.setup) {
            const r = await runReal(ns, backend, st);
            expect(r.ok, `real setup: ${r.stderr}`).toBe(true);
          }
          const real = await runReal(ns, backend, sc.step);
          const where = `simulator: ${simulated.ok ? 'ok' : `line ${simulated.line}: ${simulated.error}`}\ntool: ${real.ok ? 'ok' : real.stderr}`;
          if (sc.stricterThan?.includes(backend)) {
            expect([simulated.ok, real.ok], where).toEqual([false, true]);
            return;
          }
          expect(simulated.ok, where).toBe(real.ok);
          if (!simulated.ok) {
            const line = reportedLine(sc.step, real.stderr);
            if (line !== undefined) expect(simulated.line, where).toBe(line);
          }
          const state = simulated.state;
          expect(canonicalIpsetSave(await ns.must(['ipset', 'save'])), 'ipset save').toBe(ipsetSave(state.host.ipset));
          if (usesIptables(sc)) {
            expect(canonicalIptablesSave(await ns.must([`iptables-${backend}-save`])), 'iptables-save').toBe(canonicalIptablesSave(iptablesSave(state.host.v4)));
            expect(canonicalIptablesSave(await ns.must([`ip6tables-${backend}-save`])), 'ip6tables-save').toBe(canonicalIptablesSave(iptablesSave(state.host.v6)));
          } else {
            expect(nftJsonShape(await ns.must(['nft', '-j', 'list', 'ruleset'])), 'nft list ruleset').toBe(nftShape(state.nft));
          }
        } finally {
          await session.destroy();
        }
      });
    }
  }
});
