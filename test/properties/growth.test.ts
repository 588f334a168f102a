/**
 * Growth: members never grow rules (ipset mode), the rule count equals the README formula
 * exactly (recomputed here from the normalised model, not from the plan), and it is bounded by
 * a linear function of ports, group rules and per-port input size.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile.js';
import { parseModel } from '../../src/model/parse.js';
import type { Model, Port, RemoteGroupMode, FirewallDriver, GroupRule } from '../../src/model/types.js';
import { type Family, eui64LinkLocal, hostPrefix, prefixKey } from '../../src/net/ip.js';
import { loadRuleset, rulesetStructure } from '../support/verify/interpret.js';
import { GROUP_IDS, REMOTE_ONLY_GROUP, modelArb } from '../support/arbitraries.js';
import { RUNS } from '../support/property-runs.js';

const FAMILIES: readonly Family[] = [4, 6];
const DIRECTIONS = ['ingress', 'egress'] as const;
type Json = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// The formula

/** Distinct rendered rules of one group for one direction and family (de-duplicated on matches). */
function groupRuleCount(model: Model, group: string, direction: 'ingress' | 'egress', family: Family, mode: RemoteGroupMode): number {
  const keys = new Set<string>();
  for (const r of model.groups.get(group)?.rules ?? []) {
    if (r.direction !== direction || r.family !== family) continue;
    const service = [r.protocol ?? '', r.ports?.min ?? '', r.ports?.max ?? '', r.icmp?.type ?? '', r.icmp?.code ?? ''].join(',');
    for (const address of addressKeys(model, r, mode)) keys.add(`${address}|${service}`);
  }
  return keys.size;
}

/** What a rule's remote becomes: no address, one prefix, one set, or (expanded) one per member. */
function addressKeys(model: Model, r: GroupRule, mode: RemoteGroupMode): string[] {
  const remote = r.remote;
  if (remote.kind === 'any') return ['*'];
  if (remote.kind === 'prefix') return [prefixKey(remote.prefix)];
  if (mode === 'ipset') return [`set:${remote.kind}:${remote.id}`];
  const members = remote.kind === 'group' ? model.members.get(remote.id) : model.addressGroups.get(remote.id);
  // A /0 member means any address: the rule has no address match, like a remote of "any".
  return (members?.prefixes() ?? []).filter((m) => m.family === r.family).map((m) => (m.len === 0 ? '*' : prefixKey(m)));
}

/**
 * k: the anti-spoofing pairs of a port in one family: address pairs and fixed IPs of the family,
 * for IPv6 the link-local of each distinct MAC (the port's and its IPv6 pairs'), and a MAC-only
 * pair without fixed IPs; counted as distinct (prefix, MAC) pairs, since an identical pair
 * would only add a dead rule (the literal count is wrong for a model with a repeated pair).
 */
function spoofPairs(p: Port, f: Family): number {
  const pairs = new Set<string>();
  for (const ap of p.addressPairs) if (ap.prefix.family === f) pairs.add(`${prefixKey(ap.prefix)}|${ap.mac}`);
  for (const ip of p.fixedIps) if (ip.family === f) pairs.add(`${prefixKey(ip)}|${p.mac}`);
  if (f === 6) {
    for (const mac of [p.mac, ...p.addressPairs.filter((ap) => ap.prefix.family === 6).map((ap) => ap.mac)]) {
      pairs.add(`${prefixKey(hostPrefix(6, eui64LinkLocal(mac)))}|${mac}`);
    }
  }
  return pairs.size + (p.fixedIps.length === 0 ? 1 : 0);
}

export function formulaRules(model: Model, mode: RemoteGroupMode, driver: FirewallDriver): number {
  const filtered = model.ports.filter((p) => p.kind === 'filtered');
  const used = [...new Set(filtered.flatMap((p) => p.groups))];
  const networks = new Set(filtered.map((p) => p.networkId));
  let total = 0;
  for (const f of FAMILIES) {
    total += 5 + (driver === 'hybrid' ? 1 + 3 * filtered.length : 1 + networks.size);
    for (const p of filtered) {
      const s = p.stateful ? 1 : 0;
      const n = p.fixedIps.filter((ip) => ip.family === f).length;
      const withRules = (d: 'ingress' | 'egress'): number => p.groups.filter((g) => groupRuleCount(model, g, d, f, mode) > 0).length;
      const gi = withRules('ingress');
      const go = withRules('egress');
      total += f === 4 ? 11 + 4 * s + n + spoofPairs(p, 4) + gi + go : 18 + 4 * s + (n > 0 ? 1 : 0) + n + spoofPairs(p, 6) + gi + go;
    }
    for (const g of used) for (const d of DIRECTIONS) total += groupRuleCount(model, g, d, f, mode);
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// Members

/** Extra members for a group: fresh addresses (198.51.100.x / 2001:db8:7::x), never in the pools. */
const extraMembersArb = fc.array(
  fc.record({ group: fc.constantFrom(...GROUP_IDS, REMOTE_ONLY_GROUP), v4: fc.nat(200), v6: fc.nat(200), withMac: fc.boolean() }),
  { minLength: 1, maxLength: 30 },
);

function withMembers(json: Json, extra: { group: string; v4: number; v6: number; withMac: boolean }[]): Json {
  const out = structuredClone(json) as { sg_member_ips: Record<string, { IPv4?: unknown[]; IPv6?: unknown[] }> };
  for (const e of extra) {
    const lists = (out.sg_member_ips[e.group] ??= {});
    const v4 = `198.51.100.${e.v4 + 10}`;
    const v6 = `2001:db8:7::${(e.v6 + 1).toString(16)}`;
    (lists.IPv4 ??= []).push(e.withMac ? [v4, 'fa:16:3e:cc:00:01'] : v4);
    (lists.IPv6 ??= []).push(v6);
  }
  return out as Json;
}

/** The ipset script without its entries and with hashsize (which follows the entry count) blanked. */
const setHeaders = (script: string): string =>
  script
    .split('\n')
    .filter((l) => !l.startsWith('add '))
    .map((l) => l.replace(/ hashsize [0-9]+/, ' hashsize N'))
    .join('\n');

describe('members never grow rules', () => {
  it('ipset mode: adding members changes no iptables line, only set entries', () => {
    fc.assert(
      fc.property(modelArb, extraMembersArb, fc.constantFrom('hybrid' as const, 'linuxbridge' as const), (json, extra, driver) => {
        const before = compile(json, { driver });
        const after = compile(withMembers(json, extra), { driver });
        expect(after.files['iptables.v4']).toBe(before.files['iptables.v4']);
        expect(after.files['iptables.v6']).toBe(before.files['iptables.v6']);
        expect(setHeaders(after.files['ipset.restore']!)).toBe(setHeaders(before.files['ipset.restore']!));
        const entries = (r: typeof before) => rulesetStructure(loadRuleset(r.files)).setEntries;
        expect(entries(after)).toBe(after.stats.setEntries);
        expect(entries(after)).toBeGreaterThanOrEqual(entries(before));
      }),
      { numRuns: RUNS },
    );
  });

  it('expanded mode: members add rules exactly as the formula says (once per host, not per port)', () => {
    fc.assert(
      fc.property(modelArb, extraMembersArb, (json, extra) => {
        const grown = withMembers(json, extra);
        const after = compile(grown, { remoteGroups: 'expanded' });
        expect(after.stats.rules.total).toBe(formulaRules(parseModel(grown), 'expanded', 'hybrid'));
      }),
      { numRuns: RUNS },
    );
  });

  it('shows both (table in the log)', () => {
    const rows: string[] = ['ports  members  | ipset: rules  set entries | expanded: rules'];
    for (const ports of [1, 10, 50]) {
      for (const members of [0, 10, 100, 1000]) {
        const json = defaultGroupModel(ports, members);
        const ipset = compile(json);
        const expanded = compile(json, { remoteGroups: 'expanded' });
        rows.push(`${String(ports).padStart(5)}  ${String(members).padStart(7)}  | ${String(ipset.stats.rules.total).padStart(12)}  ${String(ipset.stats.setEntries).padStart(11)} | ${String(expanded.stats.rules.total).padStart(15)}`);
        expect(ipset.stats.rules.total).toBe(16 + 50 * ports);
        // Expanded: the two set rules become one rule per IPv4 member (the ports themselves and
        // the others); the IPv6 chain has no member, so it and each port's jump to it go.
        expect(expanded.stats.rules.total).toBe(16 + 50 * ports - 2 + (ports + members) - ports);
      }
    }
    console.log(`default group, IPv4-only ports, members on other hosts:\n${rows.join('\n')}`);
  });
});

/** The README's reference model: the default group on P IPv4 ports, M members elsewhere. */
function defaultGroupModel(ports: number, members: number): Json {
  const g = 'default';
  const devices: Record<string, unknown> = {};
  for (let i = 0; i < ports; i++) {
    devices[`port-${i}`] = { mac_address: `fa:16:3e:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, fixed_ips: [`10.0.${i >> 8}.${i & 255}`], security_groups: [g] };
  }
  const ips = Array.from({ length: members }, (_, i) => `10.1.${i >> 8}.${i & 255}`);
  return {
    security_groups: {
      [g]: {
        rules: [
          { direction: 'egress', ethertype: 'IPv4' },
          { direction: 'egress', ethertype: 'IPv6' },
          { direction: 'ingress', ethertype: 'IPv4', remote_group_id: g },
          { direction: 'ingress', ethertype: 'IPv6', remote_group_id: g },
        ],
      },
    },
    sg_member_ips: { [g]: { IPv4: ips, IPv6: [] } },
    devices,
  };
}

// ---------------------------------------------------------------------------------------------
// The formula, and the linear bound

describe('the rule count is the README formula, and linear', () => {
  for (const mode of ['ipset', 'expanded'] as const) {
    for (const driver of ['hybrid', 'linuxbridge'] as const) {
      it(`stats.rules.total == formula (${mode}, ${driver})`, () => {
        fc.assert(
          fc.property(modelArb, (json) => {
            const r = compile(json, { remoteGroups: mode, driver });
            const model = parseModel(json);
            expect(r.stats.rules.total).toBe(formulaRules(model, mode, driver));
            // The count the interpreter sees is the count the compiler reports.
            expect(rulesetStructure(loadRuleset(r.files)).rules).toEqual(r.stats.rules);
          }),
          { numRuns: RUNS },
        );
      });
    }
  }

  it('ipset mode: N <= 47·P + R + 4·S + 12 (S = fixed IPs, address pairs and groups of the filtered ports)', () => {
    fc.assert(
      fc.property(modelArb, fc.constantFrom('hybrid' as const, 'linuxbridge' as const), (json, driver) => {
        const model = parseModel(json);
        const filtered = model.ports.filter((p) => p.kind === 'filtered');
        const P = filtered.length;
        const R = [...model.groups.values()].reduce((n, g) => n + g.rules.length, 0);
        const S = filtered.reduce((n, p) => n + p.fixedIps.length + p.addressPairs.length + p.groups.length, 0);
        expect(compile(json, { driver }).stats.rules.total).toBeLessThanOrEqual(47 * P + R + 4 * S + 12);
      }),
      { numRuns: RUNS },
    );
  });
});
