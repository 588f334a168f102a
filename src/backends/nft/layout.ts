/**
 * Wire a HostPlan into two nft tables. Same packet semantics as the iptables layout (continuation
 * passing, so group chains are shared by all their ports), but dispatch to a port's chains is one
 * verdict-map lookup however many ports the host has.
 *
 * Why two families: on bridged hosts the packet's ports are only visible to the bridge family,
 * and conntrack (ct state, ct zone) only to the inet family (this kernel has no nf_conntrack_bridge
 * and no NFT_BRIDGE_META; inet chains see bridged traffic through br_netfilter with iifname and
 * oifname = the bridge). So the bridge table writes the ports into the packet mark and the inet
 * table decides (docs/netfilter.md §6.4):
 *
 *   mark bits 16-31: index of the filtered port the packet entered by (0: none)
 *   mark bits  0-15: index of the filtered port it leaves by (0: none, or not bridged)
 *   Indices are stable hashes of the port ids. sgnf owns the mark of bridged packets: it is
 *   reset when a packet enters a bridge and again when it leaves one (so no index leaks into
 *   OVS, tunnels or routing); a packet a bridge delivers to this host keeps its in-port index.
 *
 *   table bridge <p>_ports
 *     hook_prerouting  (prerouting, -300): mark = in_ports[iifname] << 16, else 0
 *     hook_forward     (forward, -200):    oifname vmap @out_ports -> out_<port>: mark |= index
 *     hook_postrouting (postrouting, 300): mark = 0
 *   table inet <p>_sg (br_netfilter calls it after the bridge chains; bridge-nf-call-ip(6)tables=1)
 *     hook_raw     (prerouting, raw):  non-bridge input interface: accept (not ours);
 *                                      notrack if iifname is in @notrack_bridges or the in-port
 *                                      is in @notrack_ports (stateless ports);
 *                                      ct zone set iifname map @zone_bridges
 *                                      (hybrid: the port's own qbr bridge, which both directions
 *                                      of its flows cross; linuxbridge: brq<network>)
 *     hook_forward (forward, filter):  bridged (iifkind "bridge"): nfproto vmap -> forward_v4 / _v6;
 *                                      anything else is not ours and passes
 *     forward_vN:  mark & 0xffff0000 vmap @egress_ports_vN  (egress of the sending port)
 *                  goto ingress_vN                          (not sent by a filtered port)
 *     hook_input   (input, filter):    VM to this host: input_vN = the same egress dispatch only
 *     ingress_vN:  mark & 0x0000ffff vmap @ingress_ports_vN (ingress of the receiving port)
 *                  accept                                   (to no filtered port)
 *     oN_<port>:   state, DHCP, jump sN_<port> (anti-spoofing), jump go<N>_<group>..., drop
 *                  "allowed" = goto ingress_vN (go on to the receiver's check)
 *     iN_<port>:   ND, state, DHCP, jump gi<N>_<group>..., drop;  "allowed" = accept
 *     g{i,o}N_<group>: the group's rules, shared by its ports; each ends in the stage's
 *                  "allowed" verdict, so a group that allows nothing returns to the next group.
 *
 * A remote (address) group is two named sets per family: `_h` (plain hash set of host addresses,
 * cheap to update one by one) and `_n` (interval set of the prefixes, exactly merged up front),
 * and each rule that references it is two rules, one per set. Both sets always exist, so any
 * membership change is a set update (sets.nft), never a table reload.
 *
 * Per packet: two ifname lookups in the bridge table, an nfproto and two mark lookups in the
 * inet table, then the rules of two port chains and their groups, whatever the number of ports
 * (iptables walks a physdev list per port in FORWARD and in its ingress dispatch, and three raw
 * rules per port on every packet, as CT does not end the chain).
 *
 * Differences from the iptables layout, none of them on bridged VM-to-VM verdicts: a VM's packet
 * that this host routes (a bridge with an address) is checked by the VM's egress chain (iptables
 * only checks bridged packets); and hybrid zones key on the qbr bridge, so ports sharing one
 * bridge without their own qbr are tracked in zone 0 (iptables picks the sender's zone there,
 * which loses the replies). Like the iptables layout, it filters only what br_netfilter passes
 * to the inet hooks (IPv4 and IPv6; not VLAN-tagged frames unless bridge-nf-filter-vlan-tagged).
 */
import { compareStrings } from '../../compare.js';
import type { Family } from '../../net/ip.js';
import { isHost } from '../../net/ip.js';
import { dropCovered } from '../../net/cidr.js';
import { hybridBridge } from '../../model/devices.js';
import { checkPrefix, nftObjectKey } from '../shared/names.js';
import type { Direction } from '../../model/types.js';
import type { CommentKey, HostPlan, Match, PortPlan, Rule, SetPlan, SetRef, Step, ZonePlan } from '../../plan/ir.js';
import type { AddressList } from '../../net/list.js';
import { type SetNames, checkName, comment, element, fittingComment, hash32, hex32, ifname, ruleTexts } from './syntax.js';

export interface NftOptions {
  /** Name prefix (the compile option, e.g. `sgnf`): tables are `<prefix>_ports`, `<prefix>_sg`. */
  readonly prefix: string;
  readonly comments: boolean;
}

export interface NftSet {
  readonly kind: 'set' | 'map';
  readonly name: string;
  /** Declaration lines (`type ...`, `flags ...`). */
  readonly spec: readonly string[];
  readonly comment?: string;
  readonly elements: readonly string[];
  /** A security-group membership set: refreshed by sets.nft. */
  readonly membership: boolean;
}

export interface NftChain {
  readonly name: string;
  /** Base chains: `type filter hook ... priority ...; policy accept;`. */
  readonly hook?: string;
  readonly rules: readonly string[];
}

export interface NftTable {
  readonly family: 'bridge' | 'inet';
  readonly name: string;
  readonly comment?: string;
  readonly sets: readonly NftSet[];
  readonly chains: readonly NftChain[];
}

export interface NftLayout {
  readonly tables: readonly NftTable[];
  /** Mark index (1..65535) of each filtered port, by port id. */
  readonly portIndex: ReadonlyMap<string, number>;
}

const FAMILIES: readonly Family[] = [4, 6];
const IN_MASK = 0xffff0000;
const OUT_MASK = 0x0000ffff;
const MAX_PORTS = 0xffff;

/** Fixed comment texts (only printed with comments on), each within NFT_COMMENT_MAX. */
const COMMENTS: Readonly<Record<CommentKey | 'unmatchedDrop' | 'bridged', string>> = {
  dhcpClient: 'Allow DHCP client traffic.',
  dhcpSpoof: 'Prevent DHCP spoofing by the VM.',
  raDrop: 'Drop IPv6 router advertisements from the VM.',
  icmpv6Allow: 'Allow IPv6 ICMP traffic.',
  ndAllow: 'Allow neighbour discovery and MLD (untracked by conntrack).',
  established: 'Packets of a known connection pass this check.',
  invalidDrop: 'Drop packets that conntrack considers invalid.',
  dhcpServer: 'Allow DHCP replies to the VM.',
  raAllow: 'Allow IPv6 router advertisements to the VM.',
  pairAllow: 'Allow traffic from defined IP/MAC pairs.',
  pairDrop: 'Drop traffic without an IP/MAC allow rule.',
  unmatched: 'Default drop rule for unmatched traffic.',
  unmatchedDrop: 'Default drop rule for unmatched traffic.',
  bridged: 'Only bridged traffic can involve a VM port.',
};

export function layoutNft(plan: HostPlan, o: NftOptions): NftLayout {
  const base = nftTablePrefix(o.prefix);
  // Comment clauses with their leading space ('' with comments off), so a rule is one template.
  const note = (text: string): string => (o.comments ? ` ${comment(text)}` : '');
  const fixedNotes = new Map<keyof typeof COMMENTS, string>();
  const fixedNote = (key: keyof typeof COMMENTS): string => {
    let n = fixedNotes.get(key);
    if (n === undefined) fixedNotes.set(key, (n = note(COMMENTS[key])));
    return n;
  };
  const ruleNote = (r: Rule): string => {
    if (r.comment === undefined || !o.comments) return '';
    if (typeof r.comment === 'string') return fixedNote(r.comment);
    const { group, rule, id } = r.comment;
    return note(fittingComment(`sg ${group} rule ${id ?? `#${rule}`}`, `sg ${group} rule #${rule}`));
  };

  // nftObjectKey runs a regex (and hashes ids outside the plain alphabet): once per id.
  const keys = new Map<string, string>();
  const keyOf = (id: string): string => {
    let k = keys.get(id);
    if (k === undefined) keys.set(id, (k = nftObjectKey(id)));
    return k;
  };
  const portIndex = portIndices(plan.ports.map((p) => p.port.id));
  // Every name of a port's objects, formatted once per port.
  const ports = plan.ports.map((p) => portNames(p, keyOf(p.port.id), portIndex.get(p.port.id)!));
  const groupChain = new Map<string, string>();
  const groupJump = new Map<string, string>();
  for (const [key, g] of plan.groupChains) {
    const name = `g${g.direction === 'ingress' ? 'i' : 'o'}${g.family}_${keyOf(g.group)}`;
    groupChain.set(key, name);
    groupJump.set(key, `jump ${name}`);
  }
  const setBase = (ref: SetRef): string => `${ref.kind === 'group' ? 'g' : 'a'}${ref.family}_${keyOf(ref.id)}`;
  const setNames: SetNames = (m) => {
    const b = setBase(m.set);
    return { hosts: `${b}_h`, nets: `${b}_n` };
  };

  const ruleLines = (r: Rule, f: Family, allow: string): string[] => {
    const tail = `${r.verdict === 'allow' ? allow : 'drop'}${ruleNote(r)}`;
    return ruleTexts(r.matches, f, setNames).map((exprs) => (exprs === '' ? tail : `${exprs} ${tail}`));
  };
  const allowOf = (direction: Direction, f: Family): string => (direction === 'ingress' ? 'accept' : `goto ingress_v${f}`);
  // Most port steps are rule objects shared by all ports (plan/host.ts): print each once per
  // family and direction. Group chain rules are printed once anyway and are not memoised.
  const printed: Record<Family, Record<Direction, Map<Rule, string[]>>> = {
    4: { ingress: new Map(), egress: new Map() },
    6: { ingress: new Map(), egress: new Map() },
  };
  const stepLines = (r: Rule, f: Family, direction: Direction): string[] => {
    const byRule = printed[f][direction];
    let lines = byRule.get(r);
    if (lines === undefined) byRule.set(r, (lines = ruleLines(r, f, allowOf(direction, f))));
    return lines;
  };

  // Port chain lines that are the same for every port.
  const fallback = 'drop' + fixedNote('unmatchedDrop');
  const allowPair = 'return' + fixedNote('pairAllow');
  const dropPair = 'drop' + fixedNote('pairDrop');

  // ---- inet table: sets, dispatch maps, zones, chains
  const sets: NftSet[] = [];
  for (const s of plan.sets) sets.push(...membershipSets(s, setBase(s), o.comments));
  for (const f of FAMILIES) {
    sets.push({
      kind: 'map',
      name: `egress_ports_v${f}`,
      spec: ['type mark : verdict'],
      elements: ports.map((p) => `${p.inMark} : goto ${p.chains[f].egress}`),
      membership: false,
    });
    sets.push({
      kind: 'map',
      name: `ingress_ports_v${f}`,
      spec: ['type mark : verdict'],
      elements: ports.map((p) => `${p.outMark} : goto ${p.chains[f].ingress}`),
      membership: false,
    });
  }
  const zones = zoneBridges(plan.zones);
  sets.push({ kind: 'map', name: 'zone_bridges', spec: ['typeof iifname : ct zone'], elements: zones.zoned, membership: false });
  sets.push({ kind: 'set', name: 'notrack_bridges', spec: ['type ifname'], elements: zones.notrack, membership: false });
  sets.push({
    kind: 'set',
    name: 'notrack_ports',
    spec: ['type mark'],
    elements: zones.notrackPorts.map((id) => hex32(portIndex.get(id)! << 16)),
    membership: false,
  });

  const chains: NftChain[] = [
    {
      name: 'hook_raw',
      hook: 'type filter hook prerouting priority raw; policy accept;',
      rules: [
        // notrack and a zone template exclude each other (a later `ct zone set` would attach a
        // template to an untracked packet, and `notrack` ignores a packet that has one): accept
        // ends this hook for notracked packets.
        'iifname @notrack_bridges notrack accept' + note('Bridges of stateless ports: no conntrack.'),
        // By in-port too: what a stateless port sends is untracked even on a bridge it shares.
        // The mark means a port index only on packets that entered through a bridge; a negated
        // `iifkind != "bridge"` would not exempt the others (devices without a kind never match).
        `meta iifkind "bridge" meta mark & ${hex32(IN_MASK)} @notrack_ports notrack accept` + note('Sent by a stateless port: no conntrack.'),
        'ct zone set iifname map @zone_bridges' + note('Conntrack zone of the bridge.'),
      ],
    },
    {
      name: 'hook_forward',
      hook: 'type filter hook forward priority filter; policy accept;',
      rules: ['meta iifkind "bridge" meta nfproto vmap { ipv4 : goto forward_v4, ipv6 : goto forward_v6 }' + fixedNote('bridged')],
    },
    {
      name: 'hook_input',
      hook: 'type filter hook input priority filter; policy accept;',
      rules: ['meta iifkind "bridge" meta nfproto vmap { ipv4 : goto input_v4, ipv6 : goto input_v6 }' + fixedNote('bridged')],
    },
  ];
  for (const f of FAMILIES) {
    const egressDispatch = `meta mark & ${hex32(IN_MASK)} vmap @egress_ports_v${f}` + note('Traffic from a VM port: its egress chain.');
    chains.push({ name: `forward_v${f}`, rules: [egressDispatch, `goto ingress_v${f}` + note('Not sent by a filtered port: check the receiver.')] });
    chains.push({ name: `input_v${f}`, rules: [egressDispatch] });
    chains.push({
      name: `ingress_v${f}`,
      rules: [`meta mark & ${hex32(OUT_MASK)} vmap @ingress_ports_v${f}` + note('Traffic to a VM port: its ingress chain.'), 'accept' + note('To no filtered port.')],
    });
  }
  for (let i = 0; i < plan.ports.length; i++) {
    for (const f of FAMILIES) portChains(plan.ports[i]!, f, ports[i]!.chains[f]);
  }
  for (const [key, g] of plan.groupChains) {
    const allow = allowOf(g.direction, g.family);
    const rules: string[] = [];
    for (const r of g.rules) for (const l of ruleLines(r, g.family, allow)) rules.push(l);
    chains.push({ name: groupChain.get(key)!, rules });
  }

  /** The ingress, egress and anti-spoofing chains of one port and family, appended to `chains`. */
  function portChains(p: PortPlan, f: Family, names: PortChainNames): void {
    const fp = p.families[f];
    // A loop rather than flatMap: this runs for every step of every port.
    const steps = (list: readonly Step[], direction: Direction): string[] => {
      const out: string[] = [];
      for (const s of list) {
        switch (s.kind) {
          case 'rule':
            for (const l of stepLines(s.rule, f, direction)) out.push(l);
            break;
          case 'antiSpoof':
            out.push(`jump ${names.spoof}`);
            break;
          case 'groups':
            for (const k of fp.groupChains[direction]) out.push(groupJump.get(k)!);
            break;
          case 'fallback':
            out.push(fallback);
            break;
        }
      }
      return out;
    };
    const spoof: string[] = [];
    for (const sp of fp.spoofPairs) {
      const matches: Match[] = sp.prefix ? [{ kind: 'src', prefix: sp.prefix }, { kind: 'srcMac', mac: sp.mac }] : [{ kind: 'srcMac', mac: sp.mac }];
      for (const exprs of ruleTexts(matches, f, setNames)) spoof.push(exprs === '' ? allowPair : `${exprs} ${allowPair}`);
    }
    spoof.push(dropPair);
    chains.push({ name: names.ingress, rules: steps(fp.ingress, 'ingress') }, { name: names.egress, rules: steps(fp.egress, 'egress') }, { name: names.spoof, rules: spoof });
  }

  // ---- bridge table: port marks
  const bridge: NftTable = {
    family: 'bridge',
    name: `${base}_ports`,
    ...(o.comments && { comment: 'sgnf: marks the filtered VM ports a bridged packet enters and leaves by' }),
    sets: [
      { kind: 'map', name: 'in_ports', spec: ['type ifname : mark'], elements: ports.map((p) => `${p.device} : ${p.inMark}`), membership: false },
      { kind: 'map', name: 'out_ports', spec: ['type ifname : verdict'], elements: ports.map((p) => `${p.device} : goto ${p.out}`), membership: false },
    ],
    chains: [
      {
        name: 'hook_prerouting',
        hook: 'type filter hook prerouting priority -300; policy accept;',
        rules: ['meta mark set 0x00000000' + note('Forget marks of earlier bridges.'), 'meta mark set iifname map @in_ports' + note('Entered by a filtered VM port.')],
      },
      { name: 'hook_forward', hook: 'type filter hook forward priority -200; policy accept;', rules: ['oifname vmap @out_ports' + note('Leaves by a filtered VM port.')] },
      {
        name: 'hook_postrouting',
        hook: 'type filter hook postrouting priority 300; policy accept;',
        rules: ['meta mark set 0x00000000' + note('The port marks do not leave the bridge.')],
      },
      ...ports.map((p) => ({ name: p.out, rules: [`meta mark set meta mark & ${hex32(IN_MASK)} | ${p.outMark}`] })),
    ],
  };
  const inet: NftTable = {
    family: 'inet',
    name: `${base}_sg`,
    ...(o.comments && { comment: 'sgnf: security groups, anti-spoofing and conntrack zones of the VM ports' }),
    sets,
    chains,
  };
  const tables = [bridge, inet];
  checkNames(tables);
  return { tables, portIndex };
}

interface PortChainNames {
  readonly ingress: string;
  readonly egress: string;
  readonly spoof: string;
}

/** A port's printed names and marks (see the header comment for the mark layout). */
interface PortNames {
  /** The device as an nft string. */
  readonly device: string;
  /** Its bridge chain, which sets the out-port bits of the mark. */
  readonly out: string;
  /** Its index in the in-port bits (mark & IN_MASK) and in the out-port bits, as hex32. */
  readonly inMark: string;
  readonly outMark: string;
  readonly chains: Readonly<Record<Family, PortChainNames>>;
}

function portNames(p: PortPlan, key: string, index: number): PortNames {
  const chainsOf = (f: Family): PortChainNames => ({ ingress: `i${f}_${key}`, egress: `o${f}_${key}`, spoof: `s${f}_${key}` });
  return { device: ifname(p.port.device), out: `out_${key}`, inMark: hex32(index << 16), outMark: hex32(index), chains: { 4: chainsOf(4), 6: chainsOf(6) } };
}

/** `sgnf` -> `sgnf`; `My-Cloud` -> `my_cloud` (a prefix checked by checkPrefix). The table names then carry the required `_`. */
export function nftTablePrefix(prefix: string): string {
  return checkPrefix(prefix).toLowerCase().replace(/-/g, '_');
}

/**
 * Mark index of each port: a stable hash of its id (1..65535), probed upwards on collision in
 * sorted-id order, so adding or removing a port rarely renumbers the others (a packet marked just
 * before a reload is still dispatched to its own port's chain after it).
 */
export function portIndices(ids: readonly string[]): Map<string, number> {
  const sorted = [...new Set(ids)].sort();
  if (sorted.length > MAX_PORTS) throw new Error(`${sorted.length} filtered ports exceed the ${MAX_PORTS} that fit into the packet mark`);
  const used = new Set<number>();
  const out = new Map<string, number>();
  for (const id of sorted) {
    let i = 1 + (hash32(id) % MAX_PORTS);
    while (used.has(i)) i = i === MAX_PORTS ? 1 : i + 1;
    used.add(i);
    out.set(id, i);
  }
  return out;
}

/**
 * The two sets of one plan set: covered prefixes are dropped first (an interval set refuses
 * overlaps, and a host inside a member prefix is redundant), then hosts and prefixes part ways.
 */
function membershipSets(s: SetPlan, base: string, comments: boolean): NftSet[] {
  const { hosts, nets } = membershipElements(s.members);
  const type = `type ipv${s.family}_addr`;
  const what = `${s.kind === 'group' ? 'remote group' : 'address group'} ${s.id}`;
  return [
    { kind: 'set', name: `${base}_h`, spec: [type], ...(comments && { comment: fittingComment(`host members of ${what}`, `hosts of ${what}`) }), elements: hosts, membership: true },
    { kind: 'set', name: `${base}_n`, spec: [type, 'flags interval'], ...(comments && { comment: fittingComment(`prefix members of ${what}`, `prefixes of ${what}`) }), elements: nets, membership: true },
  ];
}

/** The elements of a plan set's two nft sets: its host addresses and its prefixes, none covered by another. */
export function membershipElements(members: AddressList): { hosts: readonly string[]; nets: readonly string[] } {
  // Distinct hosts never cover each other: only a set with prefixes needs the covering pass.
  if (members.hostsOnly()) return { hosts: members.entries(), nets: [] };
  const hosts: string[] = [];
  const nets: string[] = [];
  for (const p of dropCovered(members.prefixes())) (isHost(p) ? hosts : nets).push(element(p));
  return { hosts, nets };
}

/** Bridges whose traffic gets a conntrack zone or no tracking, each bridge once; stateless ports. */
export function zoneBridges(zones: readonly ZonePlan[]): { zoned: string[]; notrack: string[]; notrackPorts: string[] } {
  const seen = new Map<string, number | 'notrack'>();
  for (const z of zones) {
    // hybrid: each port has its own bridge.
    const bridges = z.bridge !== undefined ? [z.bridge] : z.ports.map((p) => hybridBridge(p.id));
    for (const b of bridges) {
      const other = seen.get(b);
      if (other !== undefined && other !== z.zone) throw new Error(`bridge ${b} would need two conntrack treatments (${other} and ${z.zone})`);
      seen.set(b, z.zone);
    }
  }
  const sorted = [...seen].sort((a, b) => compareStrings(a[0], b[0]));
  return {
    zoned: sorted.flatMap(([b, z]) => (z === 'notrack' ? [] : [`${ifname(b)} : ${z}`])),
    notrack: sorted.flatMap(([b, z]) => (z === 'notrack' ? [ifname(b)] : [])),
    notrackPorts: zones.flatMap((z) => (z.zone === 'notrack' ? z.ports.map((p) => p.id) : [])).sort(),
  };
}

/** Every name must fit the safe grammar and be unique in its table (chains; sets and maps). */
function checkNames(tables: readonly NftTable[]): void {
  for (const t of tables) {
    checkName(t.name);
    for (const group of [t.chains.map((c) => c.name), t.sets.map((s) => s.name)]) {
      const seen = new Set<string>();
      for (const n of group) {
        checkName(n);
        if (seen.has(n)) throw new Error(`two objects of table ${t.name} would both be named ${n}`);
        seen.add(n);
      }
    }
  }
}
