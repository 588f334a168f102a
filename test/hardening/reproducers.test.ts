/**
 * The reproducers of the hardening campaign (issue 14), one or more per class, run through the
 * CLI as a user would: each ends in exit 0 with output that loads (see kernel.test.ts here), or
 * in exit 2 naming the offending field — never exit 3, never a hang, never a partial directory.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectRefused, sgnf } from '../support/cli.js';

const hex = (n: number, w: number): string => n.toString(16).padStart(w, '0');
const mac = (n: number): string => `fa:16:3e:${hex((n >>> 16) & 255, 2)}:${hex((n >>> 8) & 255, 2)}:${hex(n & 255, 2)}`;

const PORT = { mac_address: 'fa:16:3e:00:00:01', fixed_ips: ['192.0.2.11', '2001:db8::11'], security_groups: ['sg'] };
const withRule = (rule: object) => ({ security_groups: { sg: { rules: [rule] } }, devices: { p1: PORT } });
const RULE = '$.security_groups.sg.rules[0]';

describe('numbers the kernel refuses', () => {
  const cases: [string, object, string][] = [
    ['a negative protocol', { direction: 'ingress', protocol: -1 }, `${RULE}.protocol: IP protocol number -1 is outside 0 to 255`],
    ['a protocol over 255, as a string', { direction: 'ingress', protocol: '256' }, `${RULE}.protocol: IP protocol number 256 is outside 0 to 255`],
    ['a negative ICMP type', { direction: 'ingress', protocol: 'icmp', port_range_min: -1 }, `${RULE}.port_range_min: ICMP type -1 is outside 0 to 255`],
    ['a negative ICMP code', { direction: 'ingress', protocol: 'icmp', port_range_min: 8, port_range_max: -5 }, `${RULE}.port_range_max: ICMP code -5 is outside 0 to 255`],
    ['a negative ICMPv6 code as a string', { direction: 'ingress', ethertype: 'IPv6', protocol: 'ipv6-icmp', port_range_min: 128, port_range_max: '-1' }, `${RULE}.port_range_max: ICMP code -1 is outside 0 to 255`],
    ['a negative port', { direction: 'ingress', protocol: 'tcp', port_range_min: -80, port_range_max: 80 }, `${RULE}.port_range_min: port -80 is outside 1 to 65535`],
    ['a huge port', { direction: 'ingress', protocol: 'udp', port_range_min: 1e21 }, `${RULE}.port_range_min: port 1e+21 is outside 1 to 65535`],
    ['a fractional port', { direction: 'ingress', protocol: 'tcp', port_range_min: 22.5 }, `${RULE}.port_range_min: must be an integer`],
    ['a fractional protocol', { direction: 'ingress', protocol: 6.5 }, `${RULE}.protocol: 6.5 is not a known protocol`],
  ];
  for (const backend of ['iptables', 'nft']) {
    for (const [name, rule, message] of cases) {
      it(`${name} is refused with the path (${backend})`, async () => {
        expectRefused(await sgnf(['compile', '-', '--backend', backend], { input: withRule(rule) }), message);
      });
    }
  }
});

describe('inputs that blow the stack', () => {
  /** JSON text of `leaf` inside `depth` lists (built as text: serialising it would recurse). */
  const nested = (depth: number, leaf: string): string => `${'['.repeat(depth)}${leaf}${']'.repeat(depth)}`;
  const deepMac = nested(5_000, '"x"');
  it('a MAC address nested 5,000 lists deep (10 KB) is described in a few words', async () => {
    const r = await sgnf(['compile', '-'], { input: `{"devices": {"p1": {"mac_address": ${deepMac}}}}` });
    expectRefused(r, '$.devices.p1.mac_address: a list (1 item) is not a MAC address');
    expect(r.stderr.length).toBeLessThan(300);
  });
  it('so is a protocol, a port and a fixed IP', async () => {
    const deep = nested(5_000, '1');
    const input =
      `{"security_groups": {"sg": {"rules": [{"direction": "ingress", "protocol": ${deep}}, {"direction": "ingress", "protocol": "tcp", "port_range_min": ${deep}}]}},` +
      ` "devices": {"p1": {"mac_address": "fa:16:3e:00:00:01", "security_groups": ["sg"], "fixed_ips": [${deep}]}}}`;
    const r = await sgnf(['compile', '-', '--backend', 'nft'], { input });
    expectRefused(r, `${RULE}.protocol: a list (1 item) is not a known protocol`);
    expect(r.stderr).toContain('$.security_groups.sg.rules[1].port_range_min: must be an integer');
    expect(r.stderr).toContain('$.devices.p1.fixed_ips[0]: a list (1 item) is not an IP address');
    expect(r.stderr.length).toBeLessThan(1_000);
  });
  it('a key of a megabyte is shortened in the path, and its control characters escaped', async () => {
    const key = `\\n\\u2028${'k'.repeat(1 << 20)}`;
    const r = await sgnf(['compile', '-'], { input: `{"devices": {"p1": {"mac_address": "fa:16:3e:00:00:01", "${key}": 1}}}` });
    expect(r.status, r.stderr.slice(0, 500)).toBe(0);
    expect(r.stderr).toMatch(/^sgnf: warning: \$\.devices\.p1\["\\n\\u2028k+\.\.\."\]: unknown field "\\u000a\\u2028k+\.\.\." ignored\n$/);
    expect(r.stderr.length).toBeLessThan(400);
  });
});

describe('resources that run out', () => {
  /** `n` stateful filtered ports, each needing a conntrack zone of its own (hybrid) or of its network. */
  const manyPorts = (n: number, network: (i: number) => string | undefined) => {
    const devices: Record<string, object> = {};
    for (let i = 0; i < n; i++) {
      const net = network(i);
      devices[`p${hex(i, 5)}`] = { mac_address: mac(i), ...(net !== undefined && { network_id: net }) };
    }
    return { devices };
  };

  it('61,440 stateful ports (every zone 4097-65535 taken) are refused, not looped on', async () => {
    // 61,439 zones exist: the port after the last one that gets a zone is named.
    const r = await sgnf(['compile', '-'], { input: manyPorts(61_440, () => undefined), timeoutMs: 90_000 });
    expectRefused(r, '$.devices.p0efff: no conntrack zone left: 61440 stateful filtered ports');
  });

  it('as many networks under the linuxbridge driver are refused too', async () => {
    const r = await sgnf(['compile', '-', '--driver', 'linuxbridge'], { input: manyPorts(61_440, (i) => `n${hex(i, 5)}`), timeoutMs: 90_000 });
    expectRefused(r, '$.devices.p0efff.network_id: no conntrack zone left: 61440 networks');
  });
});

describe('explain input', () => {
  const model = join(import.meta.dirname, '..', '..', 'golden', 'default-group-3-ports', 'model.json');
  const explain = (...args: string[]) => sgnf(['explain', model, '--from', 'tapaaaaaaaa-11', '--to', 'host', '--dst', '10.0.0.1', ...args]);
  const cases: [string[], string][] = [
    [['--protocol', 'constructor'], '--protocol constructor: is not a protocol of a packet'],
    [['--protocol', '__proto__'], '--protocol __proto__: is not a protocol of a packet'],
    [['--protocol', 'any'], '--protocol any: is not a protocol of a packet'],
    [['--protocol', '999'], '--protocol 999: a protocol number is 0 to 255'],
    [['--dport=-5'], '--dport -5: a port is an integer from 0 to 65535'],
    [['--dport', '65536'], '--dport 65536: a port is an integer from 0 to 65535'],
    [['--dport', 'abc'], '--dport must be an integer, not "abc"'],
    [['--sport', '1.5'], '--sport must be an integer, not "1.5"'],
    [['--protocol', 'icmp', '--dport', '80'], '--dport 80: a port needs a protocol with ports'],
    [['--icmp-type', '8'], '--icmp-type 8: an ICMP type needs protocol icmp or ipv6-icmp, not protocol 6'],
    [['--protocol', 'icmp', '--icmp-type', '256'], '--icmp-type 256: an ICMP type is an integer from 0 to 255'],
    [['--protocol', 'icmp', '--icmp-type=-1'], '--icmp-type -1: an ICMP type is an integer from 0 to 255'],
    [['--protocol', 'icmp', '--icmp-code', '0'], '--icmp-code 0: an ICMP code needs an ICMP type'],
    [['--src', '10.0.0.300'], '--src 10.0.0.300: is not an IPv4 or IPv6 address'],
    [['--src', '2001:db8::1'], '--src 2001:db8::1: is not of the family of dst 10.0.0.1'],
    [['--src-mac', 'fa:16:3e'], '--src-mac fa:16:3e: is not a MAC address'],
  ];
  for (const [args, message] of cases) {
    it(`${args.join(' ')} is refused naming the option`, async () => expectRefused(await explain(...args), `sgnf: ${message}`));
  }
  it('the library refuses the same queries with a QueryError naming the field', async () => {
    const { QueryError, explain: explainQuery } = await import('../../src/index.js');
    const { readFileSync } = await import('node:fs');
    const json: unknown = JSON.parse(readFileSync(model, 'utf8'));
    const bad = [{ protocol: 'constructor' }, { protocol: 256 }, { dstPort: -5 }, { dstPort: 1.5 }, { protocol: 'udp', icmpType: 3 }, { srcMac: 'x' }] as const;
    for (const q of bad) {
      let error: unknown;
      try {
        explainQuery(json, { from: 'tapaaaaaaaa-11', to: 'host', dst: '10.0.0.1', ...q });
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(q)).toBeInstanceOf(QueryError);
      expect((error as InstanceType<typeof QueryError>).field, JSON.stringify(q)).toBe(Object.keys(q).at(-1));
    }
  });
  it('still answers a valid question', async () => {
    const r = await explain('--protocol', 'icmp', '--icmp-type', '8', '--icmp-code', '0');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^icmp type 8 code 0 10\.0\.0\.11 -> 10\.0\.0\.1 .*: ACCEPT\n/);
  });
});

describe('messages quote untrusted text safely', () => {
  const model = join(import.meta.dirname, '..', '..', 'golden', 'default-group-3-ports', 'model.json');
  /** Exit 2 and a message that is `lines` lines of printable ASCII (plus the pointer to --help). */
  const expectOneLine = async (args: string[], shown: string): Promise<void> => {
    const r = await sgnf(args);
    expectRefused(r, shown);
    for (const line of r.stderr.split('\n')) expect(line, JSON.stringify(r.stderr)).toMatch(/^[\x20-\x7e]*$/);
  };
  it('--prefix with a newline or a line separator', async () => {
    await expectOneLine(['compile', model, '--prefix', 'a\nb'], 'options.prefix: "a\\u000ab" must be');
    await expectOneLine(['compile', model, '--prefix', 'a\u2028-j ACCEPT'], 'options.prefix: "a\\u2028-j ACCEPT" must be');
  });
  it('a port name, a command, an argument, a file name', async () => {
    await expectOneLine(['explain', model, '--from', 'tap\nx'], '--from "tap\\u000ax": no port');
    await expectOneLine(['compile\n-x'], 'unknown command "compile\\u000a-x"');
    await expectOneLine(['compile', model, 'extra\rarg'], 'unexpected argument "extra\\u000darg"');
    await expectOneLine(['compile', '/nonexistent/a\nb.json'], 'cannot read /nonexistent/a\\u000ab.json');
    await expectOneLine(['compile', model, '--backend', 'nft\n'], '--backend must be one of iptables, nft, not "nft\\u000a"');
  });
});
