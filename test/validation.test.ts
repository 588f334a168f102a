/**
 * Bad input: every problem is reported with the JSON path of the offending field and the exact
 * reason, all at once, and nothing is compiled (the CLI prints nothing on stdout, exits 2).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelError, compile, prepare } from '../src/index.js';

const port = (extra: Record<string, unknown> = {}) => ({
  mac_address: 'fa:16:3e:00:00:01',
  fixed_ips: ['192.0.2.11'],
  security_groups: ['sg'],
  ...extra,
});
const withRule = (rule: Record<string, unknown>) => ({
  security_groups: { sg: { rules: [rule] } },
  devices: { 'p-1': port() },
});

function issues(model: unknown, options = {}): string[] {
  try {
    compile(model, options);
  } catch (e) {
    if (e instanceof ModelError) return e.issues.map((i) => `${i.path}: ${i.message}`);
    throw e;
  }
  throw new Error('the model was accepted');
}

describe('validation messages', () => {
  const cases: [string, unknown, string[]][] = [
    [
      'unknown remote group',
      withRule({ direction: 'ingress', remote_group_id: 'nope' }),
      ['$.security_groups.sg.rules[0].remote_group_id: unknown remote group "nope" (not in security_groups or sg_member_ips)'],
    ],
    [
      'unknown address group',
      withRule({ direction: 'ingress', remote_address_group_id: 'ag' }),
      ['$.security_groups.sg.rules[0].remote_address_group_id: unknown address group "ag" (not in address_groups)'],
    ],
    [
      'bad IP prefix',
      withRule({ direction: 'ingress', remote_ip_prefix: '10.0.0.300/24' }),
      ['$.security_groups.sg.rules[0].remote_ip_prefix: "10.0.0.300/24" is not an IPv4 or IPv6 address or prefix'],
    ],
    [
      'bad prefix length',
      withRule({ direction: 'ingress', remote_ip_prefix: '10.0.0.0/33' }),
      ['$.security_groups.sg.rules[0].remote_ip_prefix: "10.0.0.0/33" has an invalid prefix length (0 to 32 for IPv4)'],
    ],
    [
      'port range on a protocol without ports',
      withRule({ direction: 'ingress', protocol: 'gre', port_range_min: 1, port_range_max: 2 }),
      ['$.security_groups.sg.rules[0].port_range_min: a port range is not allowed with protocol gre, which has no ports'],
    ],
    [
      'port range without a protocol',
      withRule({ direction: 'ingress', port_range_min: 22, port_range_max: 22 }),
      ['$.security_groups.sg.rules[0].port_range_min: a port range needs a protocol with ports (tcp, udp, sctp, dccp, udplite) or icmp'],
    ],
    [
      'port above 65535',
      withRule({ direction: 'ingress', protocol: 'tcp', port_range_min: 1000, port_range_max: 70000 }),
      ['$.security_groups.sg.rules[0].port_range_max: port 70000 is outside 1 to 65535'],
    ],
    [
      'min greater than max',
      withRule({ direction: 'ingress', protocol: 'udp', port_range_min: 90, port_range_max: 80 }),
      ['$.security_groups.sg.rules[0].port_range_min: port_range_min 90 is greater than port_range_max 80'],
    ],
    [
      'ICMP code without type',
      withRule({ direction: 'ingress', protocol: 'icmp', port_range_max: 0 }),
      ['$.security_groups.sg.rules[0].port_range_max: an ICMP code (port_range_max) needs an ICMP type (port_range_min)'],
    ],
    [
      'ethertype and prefix family mismatch',
      withRule({ direction: 'ingress', ethertype: 'IPv4', remote_ip_prefix: '2001:db8::/64' }),
      ["$.security_groups.sg.rules[0].remote_ip_prefix: 2001:db8::/64 is an IPv6 prefix but the rule's ethertype is IPv4"],
    ],
    [
      'IPv6-only protocol in an IPv4 rule',
      withRule({ direction: 'ingress', ethertype: 'IPv4', protocol: 'ipv6-icmp' }),
      ["$.security_groups.sg.rules[0].protocol: protocol ipv6-icmp exists only in IPv6 but the rule's ethertype is IPv4"],
    ],
    [
      'unknown protocol',
      withRule({ direction: 'ingress', protocol: 'tcpp' }),
      ['$.security_groups.sg.rules[0].protocol: "tcpp" is not a known protocol (a name such as tcp, udp, icmp, ipv6-icmp, or a number 0 to 255)'],
    ],
    [
      'two remotes',
      withRule({ direction: 'ingress', remote_ip_prefix: '10.0.0.0/8', remote_group_id: 'sg' }),
      ['$.security_groups.sg.rules[0].remote_group_id: only one of remote_ip_prefix, remote_group_id may be set'],
    ],
    [
      'misspelled field',
      withRule({ direction: 'ingress', protocol: 'tcp', port_range_mn: 22 }),
      ['$.security_groups.sg.rules[0].port_range_mn: unknown field "port_range_mn" (did you mean "port_range_min"?)'],
    ],
    [
      'duplicate device names',
      {
        security_groups: { sg: { rules: [] } },
        devices: { 'p-1': port({ device: 'tap1' }), 'p-2': port({ device: 'tap1', fixed_ips: ['192.0.2.12'] }) },
      },
      ['$.devices["p-2"].device: device name "tap1" is already used by port "p-1"'],
    ],
    [
      'unknown security group on a device',
      { security_groups: {}, devices: { 'p-1': port() } },
      ['$.devices["p-1"].security_groups[0]: unknown security group "sg" (not in security_groups)'],
    ],
    [
      'bad fixed IP and MAC',
      { security_groups: { sg: { rules: [] } }, devices: { 'p-1': port({ mac_address: 'fa:16:3e:00:00', fixed_ips: ['192.0.2.0/24'] }) } },
      ['$.devices["p-1"].mac_address: "fa:16:3e:00:00" is not a MAC address', '$.devices["p-1"].fixed_ips[0]: "192.0.2.0/24" is not an IP address'],
    ],
    [
      'member of the wrong family',
      { security_groups: { sg: { rules: [] } }, sg_member_ips: { sg: { IPv4: ['2001:db8::1'] } }, devices: {} },
      ['$.sg_member_ips.sg.IPv4[0]: 2001:db8::1 is not an IPv4 address'],
    ],
    [
      'stateful and stateless groups on one port',
      {
        security_groups: { a: { stateful: true, rules: [] }, b: { stateful: false, rules: [] } },
        devices: { 'p-1': port({ security_groups: ['a', 'b'] }) },
      },
      ['$.devices["p-1"].security_groups: a port cannot mix stateful and stateless security groups'],
    ],
    [
      'hybrid bridge devices that two port ids would share',
      {
        security_groups: { sg: { rules: [] } },
        devices: {
          'bbbbbbbb-2222-4222-8222-000000000001': port({ device: 'tap1' }),
          'bbbbbbbb-2222-4222-8222-000000000002': port({ device: 'tap2', fixed_ips: ['192.0.2.12'] }),
        },
      },
      [
        '$.devices["bbbbbbbb-2222-4222-8222-000000000002"]: the hybrid driver names this port\'s bridge devices (qvbbbbbbbbb-22, qbr…) from the first 11 characters of its id, like port "bbbbbbbb-2222-4222-8222-000000000001"\'s: ids must differ there',
      ],
    ],
    [
      'groups on a port without port security',
      { security_groups: { sg: { rules: [] } }, devices: { 'p-1': port({ port_security_enabled: false }) } },
      ['$.devices["p-1"].security_groups: a port with port_security_enabled false cannot have security groups'],
    ],
  ];
  for (const [name, model, expected] of cases) {
    it(name, () => expect(issues(model)).toEqual(expected));
  }

  it('reports every problem at once', () => {
    const model = {
      security_groups: { sg: { rules: [{ direction: 'up' }, { direction: 'egress', protocol: 'tcp', port_range_min: 0 }] } },
      devices: { 'p-1': port({ mac_address: 'x' }) },
    };
    expect(issues(model)).toEqual([
      '$.security_groups.sg.rules[0].direction: must be "ingress" or "egress"',
      '$.security_groups.sg.rules[1].port_range_min: port 0 is outside 1 to 65535',
      '$.devices["p-1"].mac_address: "x" is not a MAC address',
    ]);
  });
});

describe('compiling one host of a cloud', () => {
  const cloud = {
    security_groups: { sg: { rules: [{ direction: 'ingress', ethertype: 'IPv4', remote_group_id: 'sg' }] } },
    devices: {
      'p-1': port({ 'binding:host_id': 'h1', fixed_ips: ['192.0.2.11'] }),
      'p-2': port({ 'binding:host_id': 'h2', fixed_ips: ['192.0.2.12'], mac_address: 'fa:16:3e:00:00:02' }),
      'p-3': port({ 'binding:host_id': 'h1', fixed_ips: ['192.0.2.13'], mac_address: 'fa:16:3e:00:00:03' }),
    },
  };
  it("filters the host's ports, and every device of the cloud stays a member", () => {
    const r = compile(cloud, { host: 'h1' });
    expect(prepare(cloud).plan({ host: 'h1' }).ports.map((p) => p.port.id)).toEqual(['p-1', 'p-3']);
    expect(r.files['ipset.restore']).toContain(' 192.0.2.12\n'); // p-2 lives on h2
    expect(prepare(cloud).plan({ host: 'h2' }).ports.map((p) => p.port.id)).toEqual(['p-2']);
    expect(prepare(cloud).plan({ host: 'h9' }).ports).toEqual([]);
  });
  it('needs binding:host_id on every device, and device names unique per host only', () => {
    const unbound = { ...cloud, devices: { ...cloud.devices, 'p-4': port({ mac_address: 'fa:16:3e:00:00:04' }) } };
    expect(issues(unbound, { host: 'h1' })).toEqual(['$.devices["p-4"]["binding:host_id"]: is required when compiling for a host (--host h1)']);
    const sameName = (host: string) => ({
      ...cloud,
      devices: { ...cloud.devices, 'p-4': port({ 'binding:host_id': host, device: 'tapp-1', mac_address: 'fa:16:3e:00:00:04' }) },
    });
    expect(prepare(sameName('h2')).plan({ host: 'h2' }).ports.map((p) => p.port.device)).toEqual(['tapp-2', 'tapp-1']);
    expect(issues(sameName('h1'), { host: 'h1' })).toEqual(['$.devices["p-4"].device: device name "tapp-1" is already used by port "p-1"']);
  });
});

describe('strings that could break or inject into the ruleset text', () => {
  const hostile = ['a\n-A INPUT -j ACCEPT', 'a b', 'a"b', "a'b", 'a;b', 'a\\b', '-x', 'tap+', 'é', 'a\u0000b', ''];
  it.each(hostile)('a security group id %j is refused', (id) => {
    const model = { security_groups: { [id]: { rules: [] } }, devices: {} };
    expect(issues(model)[0]).toMatch(/^\$(\.security_groups)?.*: security group id ".*" is not a valid id/);
  });
  it.each(hostile)('a port id %j is refused', (id) => {
    const model = { security_groups: {}, devices: { [id]: { mac_address: 'fa:16:3e:00:00:01', fixed_ips: [] } } };
    expect(issues(model)[0]).toMatch(/: port id ".*" is not a valid id/);
  });
  it.each(hostile)('a device name %j is refused', (device) => {
    const model = { security_groups: {}, devices: { p: { device, mac_address: 'fa:16:3e:00:00:01' } } };
    expect(issues(model)).toEqual([expect.stringMatching(/^\$\.devices\.p\.device: interface name ".*" is not valid/)]);
  });
  it('error messages escape what they quote', () => {
    const [msg] = issues(withRule({ direction: 'ingress', remote_ip_prefix: 'x\ny"z' }));
    expect(msg).not.toMatch(/\n/);
    expect(msg).toContain('x\\u000ay\\u0022z');
  });
  it('a chain prefix that could break the text is refused', () => {
    expect(issues({ devices: {} }, { prefix: 'a b' })).toEqual([
      'options.prefix: "a b" must be 1 to 16 letters, digits or "-", starting with a letter',
    ]);
  });
});

describe('unknown fields from real Neutron payloads', () => {
  it('are accepted, and others are warned about', () => {
    const model = {
      security_groups: {
        sg: { name: 'default', tenant_id: 't', rules: [{ direction: 'egress', id: 'r1', created_at: 'x', colour: 'red' }] },
      },
      devices: { 'p-1': port({ status: 'ACTIVE', binding: 'x' }) },
    };
    const r = compile(model);
    expect(r.diagnostics).toEqual([
      { code: 'unknown-field', level: 'warning', path: '$.security_groups.sg.rules[0].colour', message: 'unknown field "colour" ignored' },
      { code: 'unknown-field', level: 'warning', path: '$.devices["p-1"].binding', message: 'unknown field "binding" ignored' },
    ]);
  });
});

describe('CLI on bad input', () => {
  const bin = join(import.meta.dirname, '..', 'bin', 'sgnf');
  it('exits 2, names the path on stderr and prints nothing on stdout', () => {
    const r = spawnSync(bin, ['compile', '-'], { input: JSON.stringify(withRule({ direction: 'ingress', remote_group_id: 'x' })), encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'sgnf: invalid model (1 problem):\n  $.security_groups.sg.rules[0].remote_group_id: unknown remote group "x" (not in security_groups or sg_member_ips)\n',
    );
  });
  it('exits 2 on text that is not JSON', () => {
    const r = spawnSync(bin, ['compile', '-'], { input: '{"devices": ', encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^sgnf: standard input is not valid JSON/);
  });
  it('warns about unknown fields on stderr and still compiles', () => {
    const model = { security_groups: {}, devices: {}, colour: 1 };
    const r = spawnSync(bin, ['compile', '-'], { input: JSON.stringify(model), encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('sgnf: warning: $.colour: unknown field "colour" ignored\n');
    expect(r.stdout).toContain('# ==== iptables.v4 ====');
  });
});
