/**
 * A small bridged lab for the nft layout (the full probe matrix is the lab's job): a host
 * namespace with real packets between two VM namespaces, for both bridge topologies the plan
 * knows.
 *
 *   hybrid:      vmN:eth0 == tapX in qbrX (the port's own bridge) == qvbX/qvoX == brint
 *                (brint stands in for OVS br-int: a packet crosses qbr1, brint and qbr2)
 *   linuxbridge: vmN:eth0 == tapX in brq<network> (one bridge, one conntrack zone per network)
 *
 * vm1 is a "client" (egress anything, no ingress rule); vm2 a "server" (ICMP from anywhere,
 * TCP 22 from the client group, TCP 5000 from an address group). The probes show allow and
 * deny, replies of established flows (vm1 has no ingress rule, so its replies pass on conntrack
 * state alone), untracked neighbour discovery (IPv6 works at all), anti-spoofing, conntrack
 * zones, and a membership change through sets.nft alone. A negative control removes the
 * anti-spoofing jumps and sees the spoofed packet pass, so the probes can tell.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { prepare } from '../../src/compile.js';
import type { FirewallDriver } from '../../src/model/types.js';
import { renderNft } from '../../src/backends/nft/render.js';
import { type Netns, NetnsSession, describeKernel, kernelAvailable, mapLimit } from '../support/netns.js';

const kernel = await kernelAvailable(['nft', 'ping', 'nc', 'ss', 'conntrack']);
const work = mkdtempSync(join(tmpdir(), 'sgnf-nftlab-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const NETWORK = '5ec00000-0000-4000-8000-000000000001';
const VMS = [
  { id: 'aaaaaaaa-1111-4111-8111-000000000001', mac: '02:00:00:00:00:01', v4: '192.0.2.11', v6: '2001:db8:5ec::11', groups: ['client'] },
  { id: 'bbbbbbbb-2222-4222-8222-000000000002', mac: '02:00:00:00:00:02', v4: '192.0.2.12', v6: '2001:db8:5ec::12', groups: ['server'] },
] as const;
const SPOOFED = '192.0.2.99';

const model = (office: string[]) => ({
  address_groups: { office },
  security_groups: {
    client: { rules: [{ direction: 'egress', ethertype: 'IPv4' }, { direction: 'egress', ethertype: 'IPv6' }] },
    server: {
      rules: [
        { direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp' },
        { direction: 'ingress', ethertype: 'IPv6', protocol: 'ipv6-icmp' },
        { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_group_id: 'client' },
        { direction: 'ingress', ethertype: 'IPv6', protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_group_id: 'client' },
        { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 5000, port_range_max: 5000, remote_address_group_id: 'office' },
        { direction: 'egress', ethertype: 'IPv4' },
        { direction: 'egress', ethertype: 'IPv6' },
      ],
    },
  },
  devices: Object.fromEntries(
    VMS.map((v) => [v.id, { mac_address: v.mac, fixed_ips: [v.v4, v.v6], security_groups: [...v.groups], network_id: NETWORK }]),
  ),
});

let fileNo = 0;
function file(text: string): string {
  const path = join(work, `f${++fileNo}.nft`);
  writeFileSync(path, text);
  return path;
}

interface Lab {
  readonly host: Netns;
  readonly vms: readonly Netns[];
}

const bridgeLines = (name: string): string[] => [
  `link add ${name} type bridge stp_state 0 forward_delay 0`,
  `link set ${name} addrgenmode none`,
  `link set ${name} up`,
];

async function buildLab(session: NetnsSession, driver: FirewallDriver, bridgeOf: (id: string) => string): Promise<Lab> {
  const host = await session.create('host');
  await host.sysctl({ 'net.bridge.bridge-nf-call-iptables': 1, 'net.bridge.bridge-nf-call-ip6tables': 1 });
  const vms = await Promise.all(VMS.map((_, i) => session.create(`vm${i + 1}`)));
  const lines: string[] = [];
  const ports: string[] = [];
  if (driver === 'hybrid') lines.push(...bridgeLines('brint'));
  else lines.push(...bridgeLines(bridgeOf(VMS[0].id)));
  VMS.forEach((v, i) => {
    const tail = v.id.slice(0, 11);
    const br = bridgeOf(v.id);
    if (driver === 'hybrid') {
      lines.push(...bridgeLines(br), `link add qvb${tail} type veth peer name qvo${tail}`);
      for (const [dev, master] of [[`qvb${tail}`, br], [`qvo${tail}`, 'brint']] as const) {
        lines.push(`link set ${dev} addrgenmode none`, `link set ${dev} master ${master}`, `link set ${dev} up`);
        ports.push(dev);
      }
    }
    lines.push(`link add tap${tail} type veth peer name eth0 netns ${vms[i]!.name}`, `link set tap${tail} addrgenmode none`, `link set tap${tail} master ${br}`, `link set tap${tail} up`);
    ports.push(`tap${tail}`);
  });
  await host.ipBatch(lines);
  await Promise.all(
    VMS.map((v, i) =>
      vms[i]!.ipBatch([`link set eth0 address ${v.mac}`, `addr add ${v.v4}/24 dev eth0`, `addr add ${v.v6}/64 dev eth0 nodad`, 'link set eth0 up']),
    ),
  );
  // Bounded wait (5 s) until every bridge port forwards and every VM link is up.
  for (let i = 0; ; i++) {
    const states = await host.ip(['-d', 'link', 'show']);
    const forwarding = ports.every((p) => new RegExp(`: ${p}@[^\\n]*\\n(?:[^\\n]*\\n)*?[^\\n]*state forwarding`).test(states));
    const up = (await Promise.all(vms.map((vm) => vm.ip(['link', 'show', 'eth0'])))).every((s) => s.includes('LOWER_UP'));
    if (forwarding && up) break;
    if (i >= 50) throw new Error('lab links did not come up within 5 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return { host, vms };
}

type Expect = 'ok' | 'blocked';
interface Probe {
  readonly name: string;
  readonly expect: Expect;
  run(lab: Lab): Promise<Expect>;
}

const ping = (from: number, to: string, family: 4 | 6, src?: string): Probe['run'] => async (lab) => {
  const argv = ['ping', `-${family}`, '-n', '-q', '-c', '1', '-W', '1', ...(src ? ['-I', src] : []), to];
  return (await lab.vms[from]!.run(argv, { timeoutMs: 3_000 })).rc === 0 ? 'ok' : 'blocked';
};

const tcp = (from: number, toVm: number, to: string, port: number, family: 4 | 6): Probe['run'] => async (lab) => {
  const server = lab.vms[toVm]!;
  const listener = server.spawn(['nc', `-${family}`, '-l', to, String(port)], 6_000);
  try {
    for (let i = 0; ; i++) {
      if ((await server.run(['ss', '-Hltn', `sport = :${port}`])).stdout.trim() !== '') break;
      if (i >= 20) throw new Error(`listener on ${to}:${port} did not start within 2 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const r = await lab.vms[from]!.run(['nc', `-${family}`, '-z', '-w', '1', to, String(port)], { timeoutMs: 3_000 });
    return r.rc === 0 ? 'ok' : 'blocked';
  } finally {
    await listener.stop();
  }
};

const [vm1, vm2] = VMS;
const PROBES: readonly Probe[] = [
  { name: 'v4 ping vm1->vm2 (echo reply by state)', expect: 'ok', run: ping(0, vm2.v4, 4) },
  { name: 'v6 ping vm1->vm2 (ND untracked, accepted)', expect: 'ok', run: ping(0, vm2.v6, 6) },
  { name: 'v4 ping vm2->vm1 (client has no ingress rule)', expect: 'blocked', run: ping(1, vm1.v4, 4) },
  { name: 'v4 tcp/22 vm1->vm2 (SYN-ACK by state)', expect: 'ok', run: tcp(0, 1, vm2.v4, 22, 4) },
  { name: 'v6 tcp/22 vm1->vm2', expect: 'ok', run: tcp(0, 1, vm2.v6, 22, 6) },
  { name: 'v4 tcp/80 vm1->vm2 (no rule)', expect: 'blocked', run: tcp(0, 1, vm2.v4, 80, 4) },
  { name: 'v4 tcp/5000 vm1->vm2 (vm1 not in the address group)', expect: 'blocked', run: tcp(0, 1, vm2.v4, 5000, 4) },
  { name: `v4 ping vm1->vm2 from spoofed ${SPOOFED}`, expect: 'blocked', run: ping(0, vm2.v4, 4, SPOOFED) },
];

async function runProbes(lab: Lab, probes: readonly Probe[]): Promise<string[]> {
  const results = await mapLimit(probes, 8, async (p) => ({ p, got: await p.run(lab) }));
  return results.filter((r) => r.got !== r.p.expect).map((r) => `${r.p.name}: expected ${r.p.expect}, got ${r.got}`);
}

async function scenario(driver: FirewallDriver): Promise<void> {
  const before = { plan: prepare(model(['198.51.100.0/24'])).plan({ driver }) };
  const after = { plan: prepare(model(['198.51.100.0/24', '192.0.2.8/29'])).plan({ driver }) };
  const a = renderNft(before.plan, { prefix: 'sgnf', comments: true });
  const b = renderNft(after.plan, { prefix: 'sgnf', comments: true });
  const zones = before.plan.zones.map((z) => z.zone);
  const bridgeOf = (id: string): string => before.plan.zones.find((z) => z.ports.some((p) => p.id === id))!.bridge ?? `qbr${id}`.slice(0, 14);

  const session = new NetnsSession('nftlab');
  try {
    const lab = await buildLab(session, driver, bridgeOf);
    await lab.host.must(['nft', '-c', '-f', file(a.ruleset)]);
    await lab.host.must(['nft', '-f', file(a.ruleset)]);
    await lab.vms[0]!.ip(['addr', 'add', `${SPOOFED}/24`, 'dev', 'eth0']);
    expect(await runProbes(lab, PROBES), 'probe mismatches').toEqual([]);

    // Conntrack: the flows were tracked in the plan's zones (hybrid: per port; linuxbridge: per network).
    const ct = await lab.host.must(['conntrack', '-L'], { timeoutMs: 5_000 });
    for (const z of zones) expect(ct, `conntrack entries in zone ${z}`).toContain(`zone=${z} `);

    // Membership change: vm1 joins the address group through sets.nft alone.
    const open = PROBES.find((p) => p.name.startsWith('v4 tcp/5000'))!;
    await lab.host.must(['nft', '-f', file(b.sets)]);
    expect(await runProbes(lab, [{ ...open, expect: 'ok' }]), 'after sets.nft').toEqual([]);

    // Negative control: without the anti-spoofing jumps the spoofed packet passes.
    const noSpoofCheck = a.ruleset.replace(/^\t\tjump s4_\w+\n/gm, '');
    expect(noSpoofCheck).not.toBe(a.ruleset);
    await lab.host.must(['nft', '-f', file(noSpoofCheck)]);
    const spoof = PROBES.find((p) => p.name.includes('spoofed'))!;
    expect(await runProbes(lab, [{ ...spoof, expect: 'ok' }]), 'negative control').toEqual([]);
  } finally {
    await session.destroy();
  }
}

describeKernel('nft layout in a bridged lab', kernel, () => {
  test.concurrent('hybrid: a bridge per port, zones per port', () => scenario('hybrid'));
  test.concurrent('linuxbridge: one bridge per network, zone per network', () => scenario('linuxbridge'));
});
