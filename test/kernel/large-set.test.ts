/**
 * Sets beyond ipset's default maxelem (65,536) load, and the ipset script of a grown or shrunk
 * model re-applies on top of the loaded one without touching iptables (the set header sgnf emits
 * is the same whatever the member count, so `create -exist` never refuses it).
 */
import { expect, test } from 'vitest';
import { compile } from '../../src/index.js';
import { NetnsSession, describeKernel, kernelAvailable } from '../support/netns.js';

const status = await kernelAvailable(['ipset', 'iptables-nft-restore', 'ip6tables-nft-restore']);

function model(members: number) {
  const ips: string[] = [];
  for (let i = 0; i < members; i++) ips.push(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  return {
    security_groups: { big: { rules: [{ direction: 'ingress', ethertype: 'IPv4', remote_group_id: 'big' }] } },
    sg_member_ips: { big: { IPv4: ips } },
    devices: { 'p-1': { device: 'tapbig', mac_address: 'fa:16:3e:00:00:01', fixed_ips: ['192.0.2.1'], security_groups: ['big'] } },
  };
}

describeKernel('large sets', status, () => {
  test('70,000 members load, then 100,000 and 1,000 re-apply over them', async () => {
    const session = new NetnsSession('bigset');
    try {
      const ns = await session.create('host');
      const first = compile(model(70_000)).files;
      await ns.must(['ipset', 'restore'], { input: first['ipset.restore']!, timeoutMs: 60_000 });
      await ns.must(['iptables-nft-restore'], { input: first['iptables.v4']!, timeoutMs: 30_000 });
      await ns.must(['ip6tables-nft-restore'], { input: first['iptables.v6']!, timeoutMs: 30_000 });
      const count = async () => Number(/Number of entries: (\d+)/.exec(await ns.must(['ipset', 'list', '-t', 'sgnf-g4-big']))?.[1]);
      expect(await count()).toBe(70_001);
      for (const n of [100_000, 1_000]) {
        const next = compile(model(n)).files;
        expect(next['iptables.v4']).toBe(first['iptables.v4']);
        await ns.must(['ipset', 'restore'], { input: next['ipset.restore']!, timeoutMs: 60_000 });
        expect(await count()).toBe(n + 1);
      }
      expect(await ns.must(['ipset', 'list', '-n'])).toBe('sgnf-g4-big\n');
    } finally {
      await session.destroy();
    }
  }, 120_000);
});
