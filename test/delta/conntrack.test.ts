/**
 * conntrack.delta: a removed permission must stop established traffic too (Neutron LP #1335375,
 * #1580377). Expectations are written from the permission that went away: its port's zone (read
 * from the compiled raw table, `CT --zone N` of the port's device), its direction, protocol, port
 * and remote; the lines are `conntrack -D` arguments (conntrack-tools 1.4: -f, -w, -s/-d with
 * --mask-src/--mask-dst, -p with --dport).
 */
import { describe, expect, test } from 'vitest';
import { compile } from '../../src/compile.js';
import { diff } from '../../src/delta/diff.js';

const WEB = 'web';
const base = () => ({
  security_groups: {
    [WEB]: {
      rules: [
        { direction: 'ingress', protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_ip_prefix: '198.51.100.0/24' },
        { direction: 'ingress', ethertype: 'IPv4', remote_group_id: 'peers' },
        { direction: 'egress', ethertype: 'IPv4' },
      ],
    },
    peers: { rules: [] },
  },
  sg_member_ips: { peers: { IPv4: ['203.0.113.7', '203.0.113.8'] } },
  devices: {
    p1: { device: 'tapp1', mac_address: 'fa:16:3e:00:00:01', fixed_ips: ['192.0.2.11'], security_groups: [WEB], network_id: 'n1',
      allowed_address_pairs: [{ ip_address: '192.0.2.128/25' }] },
    p2: { device: 'tapp2', mac_address: 'fa:16:3e:00:00:02', fixed_ips: ['192.0.2.12', '2001:db8::12'], security_groups: [WEB], network_id: 'n1' },
  },
});
type M = ReturnType<typeof base>;

/** The zone the compiled raw table gives a device (hybrid: `-m physdev --physdev-in tapX -j CT --zone N`). */
function zoneOf(model: unknown, device: string, driver: 'hybrid' | 'linuxbridge' = 'hybrid'): number {
  const raw = compile(model, { driver }).files['iptables.v4']!;
  const needle = driver === 'hybrid' ? `--physdev-in ${device} ` : `-i ${device} `;
  const line = raw.split('\n').find((l) => l.includes(needle) && l.includes('CT --zone'));
  return Number(/--zone (\d+)/.exec(line!)![1]);
}
const lines = (old: unknown, next: unknown, driver: 'hybrid' | 'linuxbridge' = 'hybrid'): string[] =>
  diff(old, next, { driver }).files['conntrack.delta']!.split('\n').filter((l) => l !== '');
const edit = (f: (m: M) => void): M => {
  const m = base();
  f(m);
  return m;
};

describe('conntrack.delta', () => {
  const z1 = zoneOf(base(), 'tapp1');
  const z2 = zoneOf(base(), 'tapp2');

  test('nothing removed, nothing deleted', () => {
    expect(lines(base(), base())).toEqual([]);
    expect(lines(base(), edit((m) => m.sg_member_ips.peers.IPv4.push('203.0.113.9')))).toEqual([]);
  });

  test('a removed rule: connections to each port it allowed, narrowed by protocol, port and remote prefix', () => {
    const next = edit((m) => m.security_groups[WEB].rules.splice(0, 1));
    expect(lines(base(), next).sort()).toEqual(
      [
        `-f ipv4 -w ${z1} -s 198.51.100.0 --mask-src 255.255.255.0 -d 192.0.2.11 -p 6 --dport 22`,
        `-f ipv4 -w ${z1} -s 198.51.100.0 --mask-src 255.255.255.0 -d 192.0.2.128 --mask-dst 255.255.255.128 -p 6 --dport 22`,
        `-f ipv4 -w ${z2} -s 198.51.100.0 --mask-src 255.255.255.0 -d 192.0.2.12 -p 6 --dport 22`,
      ].sort(),
    );
  });

  test('a member leaving a remote group: its connections of the rules naming the group, one line per rule', () => {
    const next = edit((m) => (m.sg_member_ips.peers.IPv4 = ['203.0.113.8']));
    // The ingress rule of "web" names "peers": connections the member opened, in any zone.
    expect(lines(base(), next)).toEqual(['-f ipv4 -s 203.0.113.7']);
    expect(lines(base(), next, 'linuxbridge')).toEqual(['-f ipv4 -s 203.0.113.7']);
  });

  test('a port that leaves the host: its whole zone (hybrid), both families', () => {
    const next = edit((m) => delete (m.devices as Record<string, unknown>)['p2']);
    expect(lines(base(), next).filter((l) => l.includes(`-w ${z2}`))).toEqual([`-f ipv4 -w ${z2}`, `-f ipv6 -w ${z2}`]);
  });

  test('linuxbridge: a port that leaves shares its network zone, so only its own addresses go', () => {
    const zn = zoneOf(base(), 'brqn1', 'linuxbridge');
    const next = edit((m) => delete (m.devices as Record<string, unknown>)['p2']);
    expect(lines(base(), next, 'linuxbridge').filter((l) => l.includes('192.0.2.12') || l.includes('2001:db8::12')).sort()).toEqual(
      [`-f ipv4 -w ${zn} -s 192.0.2.12`, `-f ipv4 -w ${zn} -d 192.0.2.12`, `-f ipv6 -w ${zn} -s 2001:db8::12`, `-f ipv6 -w ${zn} -d 2001:db8::12`].sort(),
    );
  });

  test('an address pair removed: connections from and to it', () => {
    const next = edit((m) => (m.devices.p1.allowed_address_pairs = []));
    expect(lines(base(), next).sort()).toEqual(
      [`-f ipv4 -w ${z1} -s 192.0.2.128 --mask-src 255.255.255.128`, `-f ipv4 -w ${z1} -d 192.0.2.128 --mask-dst 255.255.255.128`].sort(),
    );
  });

  test('a port turned stateless: its zone goes', () => {
    const next = edit((m) => ((m.security_groups[WEB] as { stateful?: boolean }).stateful = false));
    const l = lines(base(), next);
    expect(l).toContain(`-f ipv4 -w ${z1}`);
    expect(l).toContain(`-f ipv6 -w ${z2}`);
  });
});
