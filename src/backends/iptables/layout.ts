/**
 * Wire a HostPlan into iptables tables (one family at a time).
 *
 * Decisions are written in continuation-passing style so that a group's rules can be shared
 * by all its ports without marks: every chain reachable from a port chain ends in a verdict.
 *
 *   FORWARD -> P-FORWARD: --physdev-in  tap (bridged) -g P-o<port>   egress of the sender
 *                         --physdev-is-bridged        -g P-ingress   traffic from elsewhere
 *   INPUT   -> P-INPUT:   --physdev-in  tap           -g P-o<port>   VM to this host
 *   P-o<port>: state, DHCP, anti-spoofing (-j P-s<port>), -j P-<group egress chain>..., drop
 *              "allowed" = -g P-ingress (go on to the receiver's check)
 *   P-ingress: --physdev-out tap (bridged) -g P-i<port>; otherwise ACCEPT
 *   P-i<port>: state, DHCP, ICMPv6, -j P-<group ingress chain>..., drop; "allowed" = ACCEPT
 *
 * A group chain's rule jumps on to the next stage (`-g P-ingress` or `-j ACCEPT`) itself, so
 * when no rule of one group matches, the port chain simply goes on to its next group.
 */
import { compareStrings } from '../../compare.js';
import type { Family } from '../../net/ip.js';
import type { GroupChainPlan, HostPlan, PortPlan, Rule, SetRef, Step } from '../../plan/ir.js';
import { IPTABLES_CHAIN_NAME_MAX } from '../../limits.js';
import { hybridVeth } from '../../model/devices.js';
import { NameRegistry, objectKey } from '../shared/names.js';
import { type IptChain, type IptTable, addressMatch, checkChainName, comment, renderMatches } from './syntax.js';

/**
 * Rendered group chain rules, by the plan's rule list (which the hosts of a prepared cloud model
 * share, in ipset mode) and what else their text depends on: every host using a group prints it
 * once.
 */
export type GroupChainTextCache = Map<readonly Rule[], Map<string, readonly string[]>>;

export interface IptablesLayoutOptions {
  readonly prefix: string;
  readonly comments: boolean;
  readonly setName: (ref: SetRef) => string;
  readonly groupChainTexts?: GroupChainTextCache;
}

/** Fixed comment texts (only printed with --comments). */
const COMMENTS = {
  dhcpClient: 'Allow DHCP client traffic.',
  dhcpSpoof: 'Prevent DHCP Spoofing by VM.',
  raDrop: 'Drop IPv6 Router Advts from VM Instance.',
  icmpv6Allow: 'Allow IPv6 ICMP traffic.',
  ndAllow: 'Allow neighbour discovery and MLD (untracked by conntrack).',
  established: 'Direct packets associated with a known session to the next check.',
  invalidDrop: 'Drop packets that appear related to an existing connection (e.g. TCP ACK/FIN) but do not have an entry in conntrack.',
  dhcpServer: 'Allow DHCP replies to the VM.',
  raAllow: 'Allow IPv6 Router Advts to the VM.',
  pairAllow: 'Allow traffic from defined IP/MAC pairs.',
  pairDrop: 'Drop traffic without an IP/MAC allow rule.',
  unmatched: 'Send unmatched traffic to the fallback chain.',
  fallback: 'Default drop rule for unmatched traffic.',
  egressDispatch: 'Direct traffic from the VM interface to its egress chain.',
  otherDispatch: 'Bridged traffic not sent by a filtered VM: check the receiver.',
  ingressDispatch: 'Direct traffic to the VM interface to its ingress chain.',
  ingressDefault: 'Traffic to no filtered VM is accepted.',
  inputDispatch: 'Direct traffic from the VM to this host to its egress chain.',
} as const;

export interface PortChainNames {
  readonly ingress: string;
  readonly egress: string;
  readonly spoof: string;
}

export interface IptablesNames {
  readonly forward: string;
  readonly input: string;
  readonly ingress: string;
  readonly fallback: string;
  readonly prerouting: string;
  readonly port: (portId: string) => PortChainNames;
  readonly group: (key: string) => string;
}

export function iptablesNames(plan: HostPlan, prefix: string): IptablesNames {
  // Fixed chains are upper case after the prefix; object chains start with a lower-case tag
  // (i, o, s: a port's; gi4, go6...: a group's) and a key without upper case (shared/names.ts).
  const fixed = (name: string): string => checkChainName(`${prefix}-${name}`);
  const chains = new NameRegistry('chain');
  const portBudget = IPTABLES_CHAIN_NAME_MAX - prefix.length - 2;
  const groupBudget = IPTABLES_CHAIN_NAME_MAX - prefix.length - 5;
  const tag = (g: GroupChainPlan): string => `${g.direction === 'ingress' ? 'i' : 'o'}${g.family}`;
  return {
    forward: fixed('FORWARD'),
    input: fixed('INPUT'),
    ingress: fixed('INGRESS'),
    fallback: fixed('FALLBACK'),
    prerouting: fixed('PREROUTING'),
    // Memoised: every port asks for its names and its groups' chain names several times.
    port: memo((id) => {
      const k = chains.claim(`${prefix}-i${objectKey(id, portBudget)}`, '$.devices', id).slice(prefix.length + 2);
      return { ingress: `${prefix}-i${k}`, egress: `${prefix}-o${k}`, spoof: `${prefix}-s${k}` };
    }),
    group: memo((key) => {
      const g = plan.groupChains.get(key)!;
      return chains.claim(`${prefix}-g${tag(g)}-${objectKey(g.group, groupBudget)}`, '$.security_groups', g.group);
    }),
  };
}

function memo<K, V>(f: (k: K) => V): (k: K) => V {
  const cache = new Map<K, V>();
  return (k) => {
    let v = cache.get(k);
    if (v === undefined) cache.set(k, (v = f(k)));
    return v;
  };
}

/**
 * Non-empty words (and lists of words) joined by spaces. Joined rather than concatenated: the
 * result is one flat string, which the printer copies quickly however often a shared rule
 * text appears (a `+=` chain leaves a tree that is walked again at every copy). Text made once
 * per port is concatenated instead: a join costs more than that walk.
 */
function joinWords(...parts: (string | readonly string[])[]): string {
  const words: string[] = [];
  for (const p of parts) {
    if (typeof p === 'string') {
      if (p !== '') words.push(p);
    } else for (const w of p) if (w !== '') words.push(w);
  }
  return words.join(' ');
}

const NO_COMMENT: readonly string[] = [];

export function layoutFilter(plan: HostPlan, family: Family, names: IptablesNames, o: IptablesLayoutOptions): IptTable {
  // A comment and its separating space, or nothing: lines made per port are templates.
  const c = (key: keyof typeof COMMENTS): string => (o.comments ? `${comment(COMMENTS[key])} ` : '');
  const chains: IptChain[] = [];

  // Renders a plan rule; `allow` becomes the continuation of the stage it belongs to. The plan
  // shares one object for each port-independent step, so those render once per table.
  const rendered = new Map<string, Map<Rule, string>>();
  const ruleText = (r: Rule, allow: string): string => {
    let byRule = rendered.get(allow);
    if (!byRule) rendered.set(allow, (byRule = new Map()));
    let text = byRule.get(r);
    if (text === undefined) byRule.set(r, (text = renderRule(r, allow)));
    return text;
  };
  const renderRule = (r: Rule, allow: string): string => {
    let note: readonly string[] = NO_COMMENT;
    if (o.comments && r.comment !== undefined) {
      note =
        typeof r.comment === 'string'
          ? [comment(COMMENTS[r.comment])]
          : [comment(`sg ${r.comment.group} rule ${r.comment.id ?? `#${r.comment.rule}`}`)];
    }
    return joinWords(renderMatches(r.matches, family, (m) => o.setName(m.set)), note, r.verdict === 'allow' ? allow : '-j DROP');
  };
  const groupChainTexts = (rules: readonly Rule[], allow: string): readonly string[] => {
    const cache = o.groupChainTexts;
    if (cache === undefined) return rules.map((r) => renderRule(r, allow));
    // The text also depends on the names this host gives the sets the rules match.
    let key = `${family} ${allow} ${o.comments}`;
    for (const r of rules) for (const m of r.matches) if (m.kind === 'set') key += ` ${o.setName(m.set)}`;
    let byKey = cache.get(rules);
    if (!byKey) cache.set(rules, (byKey = new Map()));
    let texts = byKey.get(key);
    if (texts === undefined) byKey.set(key, (texts = rules.map((r) => renderRule(r, allow))));
    return texts;
  };
  const EGRESS_ALLOW = `-g ${names.ingress}`;
  const INGRESS_ALLOW = '-j ACCEPT';

  chains.push({ name: 'INPUT', policy: 'ACCEPT', rules: [`-j ${names.input}`] });
  chains.push({ name: 'FORWARD', policy: 'ACCEPT', rules: [`-j ${names.forward}`] });
  chains.push({ name: 'OUTPUT', policy: 'ACCEPT', rules: [] });

  const byDevice = [...plan.ports].sort((a, b) => compareStrings(a.port.device, b.port.device));
  chains.push({
    name: names.forward,
    rules: [
      ...byDevice.map((p) => `-m physdev --physdev-in ${p.port.device} --physdev-is-bridged ${c('egressDispatch')}-g ${names.port(p.port.id).egress}`),
      `-m physdev --physdev-is-bridged ${c('otherDispatch')}-g ${names.ingress}`,
    ],
  });
  chains.push({
    name: names.input,
    rules: byDevice.map((p) => `-m physdev --physdev-in ${p.port.device} ${c('inputDispatch')}-g ${names.port(p.port.id).egress}`),
  });
  chains.push({
    name: names.ingress,
    rules: [
      ...byDevice.map((p) => `-m physdev --physdev-out ${p.port.device} --physdev-is-bridged ${c('ingressDispatch')}-g ${names.port(p.port.id).ingress}`),
      `${c('ingressDefault')}-j ACCEPT`,
    ],
  });
  chains.push({ name: names.fallback, rules: [`${c('fallback')}-j DROP`] });

  const texts: PortTexts = {
    ruleText,
    egressAllow: EGRESS_ALLOW,
    ingressAllow: INGRESS_ALLOW,
    groupJump: memo((key: string) => `-j ${names.group(key)}`),
    fallback: `${c('unmatched')}-j ${names.fallback}`,
    pairAllow: `${c('pairAllow')}-j RETURN`,
    pairDrop: `${c('pairDrop')}-j DROP`,
  };
  for (const p of plan.ports) chains.push(...portChains(p, family, names, texts));

  for (const [key, g] of plan.groupChains) {
    if (g.family !== family) continue;
    const allow = g.direction === 'ingress' ? INGRESS_ALLOW : EGRESS_ALLOW;
    // Group chain rules are rendered once each: no per-rule memo (in expanded mode there are millions).
    chains.push({ name: names.group(key), rules: groupChainTexts(g.rules, allow) });
  }
  return { name: 'filter', chains };
}

/** What the port chains of one table share: rendered rules and the fixed lines. */
interface PortTexts {
  readonly ruleText: (r: Rule, allow: string) => string;
  readonly egressAllow: string;
  readonly ingressAllow: string;
  readonly groupJump: (key: string) => string;
  readonly fallback: string;
  readonly pairAllow: string;
  readonly pairDrop: string;
}

function portChains(p: PortPlan, family: Family, names: IptablesNames, t: PortTexts): IptChain[] {
  const fp = p.families[family];
  const n = names.port(p.port.id);
  // A loop rather than flatMap: this runs for every rule of every port.
  const steps = (list: readonly Step[], direction: 'ingress' | 'egress'): string[] => {
    const out: string[] = [];
    for (const s of list) {
      switch (s.kind) {
        case 'rule':
          out.push(t.ruleText(s.rule, direction === 'ingress' ? t.ingressAllow : t.egressAllow));
          break;
        case 'antiSpoof':
          out.push(`-j ${n.spoof}`);
          break;
        case 'groups':
          for (const k of fp.groupChains[direction]) out.push(t.groupJump(k));
          break;
        case 'fallback':
          out.push(t.fallback);
          break;
      }
    }
    return out;
  };
  const spoof: string[] = [];
  for (const sp of fp.spoofPairs) {
    const src = sp.prefix && sp.prefix.len > 0 ? `${addressMatch('-s', sp.prefix)} ` : '';
    spoof.push(`${src}-m mac --mac-source ${sp.mac} ${t.pairAllow}`);
  }
  spoof.push(t.pairDrop);
  return [
    { name: n.ingress, rules: steps(fp.ingress, 'ingress') },
    { name: n.egress, rules: steps(fp.egress, 'egress') },
    { name: n.spoof, rules: spoof },
  ];
}

/** raw table: conntrack zones (or notrack for stateless ports) chosen by the ingress device. */
export function layoutRaw(plan: HostPlan, names: IptablesNames, o: IptablesLayoutOptions): IptTable {
  const rules: string[] = [];
  for (const z of plan.zones) {
    const target = z.zone === 'notrack' ? '-j CT --notrack' : `-j CT --zone ${z.zone}`;
    // A comment and its separating space, or nothing.
    const note = o.comments ? `${comment(z.zone === 'notrack' ? `Make ${z.key} stateless` : `Set zone for ${z.key}`)} ` : '';
    if (z.bridge !== undefined) {
      // linuxbridge: br_netfilter hands bridged packets to PREROUTING with the bridge as the
      // in-interface, so one rule covers every port of the network, the uplink included.
      rules.push(`-i ${z.bridge} ${note}${target}`);
    } else {
      for (const port of z.ports) {
        // hybrid: each port has its own bridge, joined to the integration bridge by a qvb veth.
        const qvb = hybridVeth(port.id);
        rules.push(`-m physdev --physdev-in ${qvb} ${note}${target}`);
        rules.push(`-i ${qvb} ${note}${target}`);
        rules.push(`-m physdev --physdev-in ${port.device} ${note}${target}`);
      }
    }
  }
  return {
    name: 'raw',
    chains: [
      { name: 'PREROUTING', policy: 'ACCEPT', rules: [`-j ${names.prerouting}`] },
      { name: 'OUTPUT', policy: 'ACCEPT', rules: [] },
      { name: names.prerouting, rules },
    ],
  };
}

