/**
 * The generators themselves: every generated model is valid in every mode, and the packets reach
 * the decisions the properties are meant to exercise (so a weakened generator fails here, not
 * silently in the properties).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile.js';
import { parseModel } from '../../src/model/parse.js';
import { evaluate } from '../../src/semantics/evaluate.js';
import { modelArb, packetSpecArb, resolvePacket } from '../support/arbitraries.js';

const MODES = [{}, { remoteGroups: 'expanded' }, { driver: 'linuxbridge' }, { driver: 'linuxbridge', remoteGroups: 'expanded' }] as const;

describe('generators', () => {
  it('every generated model compiles with both drivers and both remote-group modes', () => {
    fc.assert(
      fc.property(modelArb, (json) => {
        for (const mode of MODES) compile(json, mode);
      }),
      { numRuns: 300 },
    );
  });

  it('generated models use every feature of the input format', () => {
    const seen = new Set<string>();
    for (const json of fc.sample(modelArb, { numRuns: 300, seed: 1 })) {
      const m = parseModel(json);
      for (const g of m.groups.values()) {
        if (!g.stateful) seen.add('stateless group');
        for (const r of g.rules) {
          seen.add(`remote ${r.remote.kind}`);
          if (r.remote.kind === 'group' && r.remote.id === g.id) seen.add('self reference');
          if (r.ports) seen.add(r.ports.min === r.ports.max ? 'single port' : 'port range');
          if (r.icmp) seen.add(r.icmp.code === undefined ? 'icmp type' : 'icmp type/code');
          if (r.family === 6 && r.protocol === 58) seen.add('icmp on IPv6');
          if (r.protocol === undefined) seen.add('any protocol');
        }
      }
      for (const p of m.ports) {
        seen.add(`port ${p.kind}`);
        if (p.addressPairs.length > 0) seen.add('address pairs');
        if (p.groups.length > 1) seen.add('several groups');
        const fams = new Set(p.fixedIps.map((ip) => ip.family));
        seen.add(fams.size === 2 ? 'dual stack' : fams.has(6) ? 'IPv6 only' : fams.has(4) ? 'IPv4 only' : 'no fixed IP');
      }
      if ([...m.members.values()].some((l) => l.hasZeroLength())) seen.add('/0 member');
      if (m.addressGroups.size > 0) seen.add('address groups');
      if (m.diagnostics.length > 0) seen.add('warnings');
    }
    const want = [
      'stateless group', 'remote any', 'remote prefix', 'remote group', 'remote addressGroup', 'self reference',
      'single port', 'port range', 'icmp type', 'icmp type/code', 'icmp on IPv6', 'any protocol',
      'port filtered', 'port trusted', 'port portSecurityDisabled', 'address pairs', 'several groups',
      'dual stack', 'IPv6 only', 'IPv4 only', 'no fixed IP', '/0 member', 'address groups', 'warnings',
    ];
    expect(want.filter((w) => !seen.has(w))).toEqual([]);
  });

  it('packets reach every kind of decision', () => {
    const counts = new Map<string, number>();
    const samples = fc.sample(fc.tuple(modelArb, fc.array(packetSpecArb, { minLength: 20, maxLength: 20 })), { numRuns: 300, seed: 2 });
    for (const [json, specs] of samples) {
      const model = parseModel(json);
      for (const s of specs) {
        const { path, packet } = resolvePacket(model, s);
        for (const c of evaluate(model, path, packet).checks) {
          const cause = c.cause.kind === 'rule' ? `rule from ${c.cause.rule.remote.kind}` : c.cause.kind === 'builtin' ? c.cause.rule : 'unfiltered';
          counts.set(`${c.direction} ${cause}`, (counts.get(`${c.direction} ${cause}`) ?? 0) + 1);
        }
      }
    }
    const want = [
      'egress spoofed', 'egress dhcpClient', 'egress dhcpServerSpoof', 'egress raDrop', 'egress icmpv6Accept', 'egress mldDad',
      'egress established', 'egress invalid', 'egress fallback', 'ingress ndAccept', 'ingress established', 'ingress raAccept',
      'ingress dhcpReply', 'ingress invalid', 'ingress fallback', 'egress unfiltered', 'ingress unfiltered',
      ...['any', 'prefix', 'group', 'addressGroup'].flatMap((k) => [`ingress rule from ${k}`, `egress rule from ${k}`]),
    ];
    const missing = want.filter((w) => (counts.get(w) ?? 0) < 3);
    expect(missing, JSON.stringify(Object.fromEntries(counts))).toEqual([]);
  });
});
