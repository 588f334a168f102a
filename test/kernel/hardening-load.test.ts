/**
 * The reproducers of issue 14 that end in exit 0 (test/hardening/reproducers.test.ts has those
 * that end in exit 2): compiled by the CLI as a user would, and loaded into a real kernel in a
 * namespace of their own, on iptables (nf_tables and legacy) and nft: numbers at the ends of
 * their ranges, one port with thousands of address pairs and fixed IPs (the quadratic corner),
 * and the campaign's crafted ids.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { sgnf } from '../support/cli.js';
import { type Netns, NetnsSession, describeKernel, kernelAvailable } from '../support/netns.js';

const TOOLS = ['ipset', 'nft', 'iptables-nft-restore', 'ip6tables-nft-restore', 'iptables-legacy-restore', 'ip6tables-legacy-restore'];
const WORK = mkdtempSync(join(tmpdir(), 'sgnf-hardening-load-'));
afterAll(() => rmSync(WORK, { recursive: true, force: true }));

const hex = (n: number, w: number): string => n.toString(16).padStart(w, '0');
const mac = (n: number): string => `fa:16:3e:${hex((n >>> 16) & 255, 2)}:${hex((n >>> 8) & 255, 2)}:${hex(n & 255, 2)}`;
const port = (n: number, extra: object = {}) => ({ mac_address: mac(n), fixed_ips: [`192.0.2.${n}`, `2001:db8::${hex(n, 1)}`], security_groups: ['sg'], network_id: 'net', ...extra });
const self = [{ direction: 'ingress', remote_group_id: 'sg' }, { direction: 'egress' }, { direction: 'egress', ethertype: 'IPv6' }];

const MODELS: Record<string, object> = {
  'numbers at the ends of their ranges': {
    security_groups: {
      sg: {
        rules: [
          ...self,
          { direction: 'ingress', protocol: 255 },
          { direction: 'ingress', protocol: '200' },
          { direction: 'ingress', protocol: 0 },
          { direction: 'ingress', protocol: 'tcp', port_range_min: 1 },
          { direction: 'ingress', protocol: 'udp', port_range_min: 65535, port_range_max: '65535' },
          { direction: 'ingress', protocol: 'udplite', port_range_min: 5, port_range_max: 65535 },
          { direction: 'ingress', protocol: 'icmp', port_range_min: 0, port_range_max: 0 },
          { direction: 'ingress', protocol: 'icmp', port_range_min: 3, port_range_max: 255 },
          { direction: 'ingress', protocol: 'icmp', port_range_min: 254, port_range_max: 0 },
          { direction: 'ingress', protocol: 'icmp', port_range_min: 255 },
          { direction: 'ingress', ethertype: 'IPv6', protocol: 'ipv6-icmp', port_range_min: 128, port_range_max: 255 },
          { direction: 'ingress', ethertype: 'IPv6', protocol: 255 },
        ],
      },
    },
    devices: { p1: port(1, { conntrack_zone: 65535 }), p2: port(2, { conntrack_zone: 1 }), p3: port(3) },
  },
  'a port with thousands of address pairs and fixed IPs': {
    security_groups: { sg: { rules: self } },
    devices: {
      p1: port(1, {
        fixed_ips: Array.from({ length: 500 }, (_, i) => `10.1.${i >> 8}.${i & 255}`),
        allowed_address_pairs: [
          ...Array.from({ length: 2_000 }, (_, i) => ({ ip_address: `10.2.${i >> 8}.${i & 255}` })),
          ...Array.from({ length: 500 }, (_, i) => ({ ip_address: `2001:db8:5::${hex(i, 1)}`, mac_address: mac(0x10000 + i) })),
        ],
      }),
      p2: port(2),
    },
  },
  'ids crafted to look like other names': {
    security_groups: {
      sg: { rules: self },
      ggggggggggggggggggg1: { rules: self },
      ggggggggggggggggggg2: { rules: self },
      ggggggggggg_hwpbiy7: { rules: self },
      's:': { rules: self },
      s__axml2si: { rules: self },
      x: { rules: self },
      'x-t': { rules: self },
    },
    devices: {
      ngress: port(1, { security_groups: ['ggggggggggggggggggg1', 'ggggggggggggggggggg2', 'ggggggggggg_hwpbiy7'] }),
      X: port(2, { security_groups: ['s:', 's__axml2si'] }),
      'x-0kx8kl4': port(3, { security_groups: ['x', 'x-t'] }),
    },
  },
};

async function loadIptables(ns: Netns, dir: string, variant: 'nft' | 'legacy'): Promise<void> {
  await ns.must(['ipset', 'restore', '-f', join(dir, 'ipset.restore')]);
  await ns.must([`iptables-${variant}-restore`], { inputFile: join(dir, 'iptables.v4') });
  await ns.must([`ip6tables-${variant}-restore`], { inputFile: join(dir, 'iptables.v6') });
  await ns.must(['ipset', 'restore', '-f', join(dir, 'ipset.restore')]);
}

async function loadNft(ns: Netns, dir: string): Promise<void> {
  for (const args of [['-c', '-f', 'ruleset.nft'], ['-f', 'ruleset.nft'], ['-f', 'ruleset.nft'], ['-f', 'sets.nft']]) {
    await ns.must(['nft', ...args.map((a) => (a.endsWith('.nft') ? join(dir, a) : a))]);
  }
}

const kernel = await kernelAvailable(TOOLS);

describeKernel('reproducers that compile load into a real kernel', kernel, () => {
  let n = 0;
  for (const [name, model] of Object.entries(MODELS)) {
    for (const target of ['iptables-nft', 'iptables-legacy', 'nft'] as const) {
      test.concurrent(`${name} (${target})`, async () => {
        const dir = join(WORK, `case-${n++}`);
        const r = await sgnf(['compile', '-', '-o', dir, '--backend', target === 'nft' ? 'nft' : 'iptables'], { input: model });
        expect(r.status, r.stderr).toBe(0);
        const session = new NetnsSession('hard');
        try {
          const ns = await session.create('host');
          if (target === 'nft') await loadNft(ns, dir);
          else await loadIptables(ns, dir, target === 'iptables-nft' ? 'nft' : 'legacy');
          if (target !== 'nft') {
            const v4 = readFileSync(join(dir, 'iptables.v4'), 'utf8');
            const saved = await ns.must([`iptables-${target === 'iptables-nft' ? 'nft' : 'legacy'}-save`]);
            const appends = (t: string): number => t.split('\n').filter((l) => l.startsWith('-A ')).length;
            expect(appends(saved)).toBe(appends(v4));
          }
        } finally {
          await session.destroy();
        }
      });
    }
  }
});
