/**
 * Incremental updates in a real kernel (issue 10), on both iptables backends and nft, with the
 * model compiled for each driver:
 *
 *  - state: for each edit kind, a namespace loaded with full(old) and then the delta files
 *    (applied in DELTA_FILES order with the README's commands) holds exactly what a fresh
 *    namespace loaded with full(new) holds (iptables-save / ip6tables-save, ipset save, nft
 *    list ruleset, normalised in test/support/lab.ts);
 *  - flows, in a lab of each topology: an established TCP flow between ports the change leaves
 *    alone loses nothing (every line echoed, no TCP retransmission on either side) while a delta
 *    that adds and removes ports and rewrites the dispatch chains is applied; an established TCP
 *    flow is still up after the table deltas and cut once conntrack.delta is applied when its
 *    rule was removed, and when its peer left the remote group; a new connection is then dropped.
 */
import { expect, test } from 'vitest';
import type { FirewallDriver } from '../../src/model/types.js';
import { diff } from '../../src/delta/diff.js';
import {
  type Endpoint,
  LOADERS,
  Lab,
  type RulesetLoader,
  applyDeltaFiles,
  describeMismatch,
  loadFiles,
  tcpProbe,
  tcpRetransmits,
  waitTcpIdle,
} from '../support/lab.js';
import { NetnsSession, describeKernel, kernelAvailable } from '../support/netns.js';

const TOOLS = [
  'ipset', 'nft', 'conntrack', 'xargs', 'ss', 'ping', process.execPath,
  'iptables-nft-restore', 'ip6tables-nft-restore', 'iptables-nft-save', 'ip6tables-nft-save',
  'iptables-legacy-restore', 'ip6tables-legacy-restore', 'iptables-legacy-save', 'ip6tables-legacy-save',
];
const DRIVERS: readonly FirewallDriver[] = ['linuxbridge', 'hybrid'];

// ---------------------------------------------------------------------------------------------
// The model and its edits

interface RuleJson {
  readonly direction: 'ingress' | 'egress';
  readonly ethertype?: 'IPv4' | 'IPv6';
  readonly protocol?: string;
  readonly port_range_min?: number;
  port_range_max?: number;
  readonly remote_group_id?: string;
}
interface PortJson {
  readonly device: string;
  readonly mac_address: string;
  readonly fixed_ips: readonly string[];
  readonly security_groups: string[];
  readonly network_id: string;
  allowed_address_pairs?: { readonly ip_address: string }[];
}
interface ModelJson {
  readonly security_groups: Record<string, { stateful?: boolean; rules: RuleJson[] }>;
  readonly sg_member_ips: Record<string, { IPv4?: string[]; IPv6?: string[] }>;
  readonly devices: Record<string, PortJson>;
}

const v4v6 = (rule: RuleJson): RuleJson[] => [
  { ...rule, ethertype: 'IPv4' },
  { ...rule, ethertype: 'IPv6' },
];

/**
 * Web and app tiers on net-a (app1 takes tcp/8000 from the web group and tcp/5000 from its own
 * group, whose members include 198.51.100.7 on another host), a port alone on net-c (so it can
 * turn stateless under linuxbridge), a group on no port yet, and a remote group with no member.
 */
const BASE: ModelJson = {
  security_groups: {
    'sg-web': {
      rules: [
        ...v4v6({ direction: 'ingress', protocol: 'tcp', port_range_min: 80, port_range_max: 80, remote_group_id: 'sg-app' }),
        { direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp' },
        { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_group_id: 'sg-empty' },
        ...v4v6({ direction: 'egress' }),
      ],
    },
    'sg-app': {
      rules: [
        { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 5000, port_range_max: 5000, remote_group_id: 'sg-app' },
        { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 8000, port_range_max: 8000, remote_group_id: 'sg-web' },
        ...v4v6({ direction: 'ingress', protocol: 'udp', remote_group_id: 'sg-web' }),
        ...v4v6({ direction: 'egress' }),
      ],
    },
    'sg-solo': { rules: [{ direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 22, port_range_max: 22 }, { direction: 'egress', ethertype: 'IPv4' }] },
    'sg-extra': { rules: [{ direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 443, port_range_max: 443 }] },
    'sg-empty': { rules: [] },
  },
  sg_member_ips: { 'sg-app': { IPv4: ['198.51.100.7', '198.51.100.8'], IPv6: ['2001:db8:2::7'] } },
  devices: {
    'port-web1': { device: 'tapweb1', mac_address: 'fa:16:3e:00:05:01', fixed_ips: ['192.0.2.11', '2001:db8:1::11'], security_groups: ['sg-web'], network_id: 'net-a' },
    'port-web2': { device: 'tapweb2', mac_address: 'fa:16:3e:00:05:02', fixed_ips: ['192.0.2.12'], security_groups: ['sg-web'], network_id: 'net-a' },
    'port-app1': { device: 'tapapp1', mac_address: 'fa:16:3e:00:05:03', fixed_ips: ['192.0.2.13', '2001:db8:1::13'], security_groups: ['sg-app'], network_id: 'net-a' },
    'port-solo': { device: 'tapsolo', mac_address: 'fa:16:3e:00:05:04', fixed_ips: ['198.51.100.31'], security_groups: ['sg-solo'], network_id: 'net-c' },
  },
};

type Edit = (m: ModelJson) => void;
const edited = (model: ModelJson, ...edits: Edit[]): ModelJson => {
  const m = structuredClone(model);
  for (const e of edits) e(m);
  return m;
};
const the = <T>(x: T | undefined, what: string): T => {
  if (x === undefined) throw new Error(`the model has no ${what}`);
  return x;
};
const group = (m: ModelJson, id: string) => the(m.security_groups[id], `group ${id}`);
const port = (m: ModelJson, id: string) => the(m.devices[id], `port ${id}`);
const appV4Members = (m: ModelJson): string[] => the(m.sg_member_ips['sg-app']?.IPv4, 'sg-app IPv4 members');

const memberAdd: Edit = (m) => void appV4Members(m).push('198.51.100.9');
const memberRemove =
  (address: string): Edit =>
  (m) => {
    const list = appV4Members(m);
    const at = list.indexOf(address);
    if (at < 0) throw new Error(`${address} is not a member of sg-app`);
    list.splice(at, 1);
  };
const ruleAdd: Edit = (m) => void group(m, 'sg-web').rules.push({ direction: 'ingress', ethertype: 'IPv4', protocol: 'udp', port_range_min: 53, port_range_max: 53 });
const ruleRemove8000: Edit = (m) => {
  const g = group(m, 'sg-app');
  g.rules = g.rules.filter((r) => r.port_range_min !== 8000);
};
const ruleChange: Edit = (m) => void (the(group(m, 'sg-app').rules.find((r) => r.port_range_min === 5000), 'tcp/5000 rule').port_range_max = 5010);
const groupToPort: Edit = (m) => void port(m, 'port-web2').security_groups.push('sg-extra');
const portAdd: Edit = (m) => {
  m.devices['port-web3'] = { device: 'tapweb3', mac_address: 'fa:16:3e:00:05:05', fixed_ips: ['192.0.2.14', '2001:db8:1::14'], security_groups: ['sg-web'], network_id: 'net-a' };
};
const portRemove: Edit = (m) => void delete m.devices['port-web2'];
const pairAdd =
  (id: string): Edit =>
  (m) =>
    void (port(m, id).allowed_address_pairs = [{ ip_address: '203.0.113.16/28' }]);
const stateless: Edit = (m) => void (group(m, 'sg-solo').stateful = false);
const emptyToMembers: Edit = (m) => void (m.sg_member_ips['sg-empty'] = { IPv4: ['198.51.100.77'] });

const EDITS: readonly { readonly kind: string; readonly next: ModelJson }[] = [
  { kind: 'member add', next: edited(BASE, memberAdd) },
  { kind: 'member remove', next: edited(BASE, memberRemove('198.51.100.8')) },
  { kind: 'rule add', next: edited(BASE, ruleAdd) },
  { kind: 'rule remove', next: edited(BASE, ruleRemove8000) },
  { kind: 'rule change', next: edited(BASE, ruleChange) },
  { kind: 'group added to a port', next: edited(BASE, groupToPort) },
  { kind: 'port add', next: edited(BASE, portAdd) },
  { kind: 'port remove', next: edited(BASE, portRemove) },
  { kind: 'address pair add', next: edited(BASE, pairAdd('port-web1')) },
  { kind: 'stateful -> stateless', next: edited(BASE, stateless) },
  { kind: "remote group's set empty -> non-empty", next: edited(BASE, emptyToMembers) },
];

/**
 * A change that leaves web1, app1 and their groups' chains alone but rewrites what their
 * packets cross: a port added and one removed (iptables: the shared dispatch chains and the raw
 * zones; nft: the verdict maps), members added to the sets app1's and web1's rules match,
 * another port's statefulness and address pairs.
 */
const UNTOUCHING = edited(BASE, portAdd, portRemove, memberAdd, emptyToMembers, stateless, pairAdd('port-solo'));
/** Then app1's tcp/8000 rule goes (web1 -> app1:8000 must stop)... */
const RULE_GONE = edited(UNTOUCHING, ruleRemove8000);
/** ...and 198.51.100.7 leaves sg-app (its flow to app1:5000 must stop). */
const MEMBER_GONE = edited(RULE_GONE, memberRemove('198.51.100.7'));

// ---------------------------------------------------------------------------------------------

const compiled = (loader: RulesetLoader, model: unknown, driver: FirewallDriver): Readonly<Record<string, string>> => {
  const c = loader.compile(model, driver);
  if ('skip' in c) throw new Error(c.skip);
  return c.files;
};

const kernel = await kernelAvailable(TOOLS);

describeKernel('incremental updates in a real kernel', kernel, () => {
  const cases = DRIVERS.flatMap((driver) => LOADERS.map((loader) => ({ driver, loader })));

  // One test per edit: at most a few namespaces at once (vitest's maxConcurrency), each test short.
  test.concurrent.each(cases.flatMap((c) => EDITS.map((e, i) => ({ ...c, ...e, i }))))(
    '$driver, $loader.name, $kind: full(old) + delta = full(new)',
    async ({ driver, loader, kind, next, i }) => {
      const d = diff(BASE, next, { driver, backend: loader.backend });
      expect(d.empty, 'the delta does something').toBe(false);
      const session = new NetnsSession('delta');
      try {
        const [updated, fresh] = [await session.create(`upd${i}`), await session.create(`new${i}`)];
        await Promise.all([loadFiles(loader, updated, compiled(loader, BASE, driver)), loadFiles(loader, fresh, compiled(loader, next, driver))]);
        const before = await loader.liveState(updated);
        await applyDeltaFiles(loader, updated, d.files);
        const want = await loader.liveState(fresh);
        expect(want, 'full(old) and full(new) load different states').not.toBe(before);
        expect(await loader.liveState(updated), `${kind}: live state after the delta vs after full(new)`).toBe(want);
      } finally {
        await session.destroy();
      }
    },
  );

  test.concurrent.each(cases)('$driver, $loader.name: established flows live on or are cut as the change says', async ({ driver, loader }) => {
    const lab = await Lab.build({ label: `delta flows (${driver})`, model: BASE, loader, driver, macSpoofers: false });
    if (!(lab instanceof Lab)) throw new Error(lab.skip);
    try {
      await flowScenario(lab);
    } finally {
      await lab.teardown();
    }
  });
});

const byPort = (lab: Lab, id: string): Endpoint => {
  const e = lab.endpoints.find((x) => x.port?.id === id);
  if (!e) throw new Error(`no endpoint for ${id}`);
  return e;
};

/** A new TCP connection: observed and expected (evaluator) verdicts must agree; returns them. */
async function newConnection(lab: Lab, spec: { from: Endpoint; to: Endpoint; src?: string; port: number }): Promise<boolean> {
  const [r] = await lab.run([tcpProbe(lab, { family: 4, ...spec })]);
  if (r!.observed !== r!.expected) throw new Error(describeMismatch(r!));
  return r!.expected;
}

async function flowScenario(lab: Lab): Promise<void> {
  const web1 = byPort(lab, 'port-web1');
  const app1 = byPort(lab, 'port-app1');
  const ext = lab.endpoints.find((e) => e.port === undefined && e.network === 'net-a')!;
  const member = '198.51.100.7';
  expect(ext.addrs[4], 'the other-host namespace holds the sg-app member').toContain(member);
  const w = web1.addrs[4][0]!;
  const a = app1.addrs[4][0]!;
  // app1 serves both ports of the scenario (the lab's agent listens on one allowed port only).
  const serving = new Set(([4, 6] as const).flatMap((f) => [app1.services[f].tcpAllowed, app1.services[f].tcpDenied]));
  await app1.agent.call('listen', { tcp: [5000, 8000].filter((p) => !serving.has(p)), udp: [], addrs: [] });

  // 1. A flow between ports the change leaves alone, while the delta is applied.
  expect(await newConnection(lab, { from: web1, to: app1, port: 8000 }), 'web1 -> app1:8000 is allowed').toBe(true);
  const untouching = lab.delta(UNTOUCHING);
  expect(untouching.empty).toBe(false);
  const retrans0 = [await tcpRetransmits(web1.ns), await tcpRetransmits(app1.ns)];
  const count = 300;
  const stream = web1.agent.call('tcpStream', { src: w, sport: lab.nextSport(), dst: a, port: 8000, count, every: 10, grace: 500, ms: 20_000, token: 'flow' }, 30_000);
  let streaming = true;
  stream.then(
    () => (streaming = false),
    () => (streaming = false),
  );
  await new Promise((r) => setTimeout(r, 800));
  await lab.applyDelta(untouching.files);
  expect(streaming, 'the flow was still running when the delta had been applied').toBe(true);
  lab.setModel(UNTOUCHING);
  const flow = await stream;
  const retrans1 = [await tcpRetransmits(web1.ns), await tcpRetransmits(app1.ns)];
  expect({ sent: flow.sent, received: flow.received, error: flow.how, retransmitted: [retrans1[0]! - retrans0[0]!, retrans1[1]! - retrans0[1]!] }, 'web1 -> app1 flow across the delta').toEqual({
    sent: count,
    received: count,
    error: undefined,
    retransmitted: [0, 0],
  });

  // 2. Its rule removed; 3. its peer removed from the remote group.
  const cuts = [
    { what: 'rule removed', next: RULE_GONE, from: web1, src: w, port: 8000 },
    { what: 'peer removed from the remote group', next: MEMBER_GONE, from: ext, src: member, port: 5000 },
  ];
  for (const c of cuts) {
    const spec = { from: c.from, to: app1, src: c.src, port: c.port };
    expect(await newConnection(lab, spec), `${c.what}: allowed before`).toBe(true);
    const sport = lab.nextSport();
    const opened = await c.from.agent.call('connOpen', { src: c.src, sport, dst: a, port: c.port, ms: 3_000 });
    expect(opened.passed, `${c.what}: connection opened`).toBe(true);
    const echo = async (ms: number): Promise<boolean> => (await c.from.agent.call('connEcho', { conn: opened.conn, token: lab.nextToken(), ms })).passed === true;
    expect(await echo(3_000), `${c.what}: the connection carries data`).toBe(true);
    const d = lab.delta(c.next);
    expect(d.files['conntrack.delta'], `${c.what}: conntrack.delta deletes something`).not.toBe('');
    // The tables alone leave an established connection up (its replies are RELATED,ESTABLISHED)...
    await lab.applyDelta(d.files, d.files['delta.nft'] !== undefined ? ['delta.nft'] : ['ipset.delta', 'iptables.v4.delta', 'iptables.v6.delta', 'ipset.cleanup']);
    expect(await echo(3_000), `${c.what}: still up before conntrack.delta`).toBe(true);
    // ...conntrack.delta cuts it, and a new connection is dropped. First nothing may be in
    // flight: a segment that app1 (re)sends after the deletion is egress, which its rules allow,
    // and would open the connection again as a new entry whose replies are ESTABLISHED.
    await Promise.all([waitTcpIdle(c.from.ns, sport, 3_000), waitTcpIdle(app1.ns, sport, 3_000)]);
    await lab.applyDelta(d.files, ['conntrack.delta']);
    expect(await echo(1_500), `${c.what}: cut after conntrack.delta`).toBe(false);
    await c.from.agent.call('connClose', { conn: opened.conn });
    lab.setModel(c.next);
    expect(await newConnection(lab, spec), `${c.what}: a new connection`).toBe(false);
  }
}
