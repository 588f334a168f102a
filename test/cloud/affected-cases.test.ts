/**
 * `affected` on hand-written changes, with the reasons it gives: what the properties find at
 * random, pinned here where the answer is easy to see.
 */
import { describe, expect, it } from 'vitest';
import { prepare } from '../../src/compile.js';
import { affected } from '../../src/cloud/affected.js';
import { ModelError } from '../../src/model/errors.js';

type Obj = { [k: string]: unknown };
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** web (on h1, h2) accepts ssh from members of admin (on h3); db (h2, both networks) only from a prefix. */
const cloud = {
  security_groups: {
    web: { rules: [{ direction: 'ingress', protocol: 'tcp', port_range_min: 22, remote_group_id: 'admin' }] },
    admin: { rules: [{ direction: 'egress' }] },
    db: { rules: [{ direction: 'ingress', protocol: 'tcp', port_range_min: 5432, remote_ip_prefix: '10.0.0.0/8' }] },
  },
  sg_member_ips: { admin: { IPv4: ['198.51.100.1'], IPv6: [] } },
  devices: {
    w1: { mac_address: 'fa:16:3e:00:00:01', fixed_ips: ['10.0.0.1'], security_groups: ['web'], network_id: 'net-a', 'binding:host_id': 'h1' },
    w2: { mac_address: 'fa:16:3e:00:00:02', fixed_ips: ['10.0.0.2'], security_groups: ['web'], network_id: 'net-a', 'binding:host_id': 'h2' },
    d1: { mac_address: 'fa:16:3e:00:00:03', fixed_ips: ['10.0.0.3'], security_groups: ['db'], network_id: 'net-b', 'binding:host_id': 'h2' },
    d2: { mac_address: 'fa:16:3e:00:00:05', fixed_ips: ['10.0.0.5'], security_groups: ['db'], network_id: 'net-a', 'binding:host_id': 'h2' },
    a1: { mac_address: 'fa:16:3e:00:00:04', fixed_ips: ['10.0.0.4'], security_groups: ['admin'], network_id: 'net-b', 'binding:host_id': 'h3' },
  },
};

function change(edit: (m: Obj) => void, options = {}) {
  const next = clone(cloud) as Obj;
  edit(next);
  return affected(prepare(cloud), prepare(next), options);
}
const devices = (m: Obj): Obj => m['devices'] as Obj;
const device = (m: Obj, id: string): Obj => devices(m)[id] as Obj;

describe('affected: hand-written changes', () => {
  it('a member of a remote group reaches the hosts whose rules reference it, not the member host', () => {
    const a = change((m) => ((m['sg_member_ips'] as Obj)['admin'] as Obj)['IPv4'] = ['198.51.100.1', '198.51.100.2']);
    expect(a.hosts).toEqual(['h1', 'h2']);
    expect(a.changes[0]).toMatchObject({ host: 'h1', sets: ['group:admin:IPv4'], groups: [], ports: { added: [], removed: [], changed: [] } });
  });

  it('a member of a family no rule references reaches nobody', () => {
    expect(change((m) => ((m['sg_member_ips'] as Obj)['admin'] as Obj)['IPv6'] = ['2001:db8::9']).hosts).toEqual([]);
  });

  it("a port's own address is a member: re-addressing it reaches its host and the referencing hosts", () => {
    const a = change((m) => (device(m, 'a1')['fixed_ips'] = ['10.0.0.40']));
    expect(a.hosts).toEqual(['h1', 'h2', 'h3']);
    expect(a.changes.find((c) => c.host === 'h3')!.ports.changed).toEqual(['a1']);
  });

  it('a rule change reaches the hosts with ports in the group only', () => {
    const a = change((m) => (((m['security_groups'] as Obj)['db'] as Obj)['rules'] = [{ direction: 'ingress', protocol: 'tcp', port_range_min: 5433 }]));
    expect(a.hosts).toEqual(['h2']);
    expect(a.changes[0]!.groups).toEqual(['db']);
  });

  it('a port moving between hosts reaches both hosts', () => {
    const a = change((m) => (device(m, 'w1')['binding:host_id'] = 'h3'));
    expect(a.hosts).toEqual(['h1', 'h3']);
    expect(a.changes.map((c) => c.ports)).toEqual([
      { added: [], removed: ['w1'], changed: [] },
      { added: ['w1'], removed: [], changed: [] },
    ]);
  });

  it('linuxbridge: a port moving to another network of its host prints nothing new (zones are per network)', () => {
    // w2 joins d1's network on h2: both networks keep their bridge and zone.
    expect(change((m) => (device(m, 'w2')['network_id'] = 'net-b'), { driver: 'linuxbridge' }).hosts).toEqual([]);
    // The hybrid driver ignores networks altogether.
    expect(change((m) => (device(m, 'w2')['network_id'] = 'net-c')).hosts).toEqual([]);
    // A network new to the host is a new zone.
    const a = change((m) => (device(m, 'w2')['network_id'] = 'net-c'), { driver: 'linuxbridge' });
    expect(a.hosts).toEqual(['h2']);
    expect(a.changes[0]!.zones).toBe(true);
  });

  it('a model option that the compile options override changes nothing', () => {
    expect(change((m) => (m['options'] = { firewall_driver: 'linuxbridge' }), { driver: 'hybrid' }).hosts).toEqual([]);
    expect(change((m) => (m['options'] = { firewall_driver: 'linuxbridge' })).hosts).toEqual(['h1', 'h2', 'h3']);
  });

  it('a change that leaves a host uncompilable is refused, even by a port that prints nothing', () => {
    const dup = (m: Obj): void => {
      devices(m)['dhcp'] = { device_owner: 'network:dhcp', device: 'tapw2', mac_address: 'fa:16:3e:00:00:09', 'binding:host_id': 'h2' };
      device(m, 'w2')['device'] = 'tapw2';
    };
    expect(() => change(dup)).toThrow(/already used by port/);
  });

  it('an unbound port is refused: no host could compile it', () => {
    expect(() => change((m) => delete device(m, 'd1')['binding:host_id'])).toThrow(ModelError);
  });
});
