/**
 * The `ipset restore` script: one hash:net set per (remote group, family) and per
 * (address group, family). Each set is filled under a temporary name and swapped in, so a
 * rule referencing it never sees a half-filled set, and the script can be re-run at any time
 * (membership updates need no iptables reload).
 */
import { JOIN_BLOCK_FROM, endLines, joinPrefixed, pushPrefixed } from '../shared/text.js';
import { IPSET_HASHSIZE_MAX, IPSET_HASHSIZE_MIN, IPSET_MAXELEM, IPSET_NAME_MAX } from '../../limits.js';
import type { SetPlan, SetRef } from '../../plan/ir.js';
import type { AddressList } from '../../net/list.js';
import { NameRegistry, objectKey } from '../shared/names.js';

const KIND_TAG = { group: 'g', addressGroup: 'a' } as const;
const KIND_PATH = { group: '$.security_groups', addressGroup: '$.address_groups' } as const;

/**
 * `<prefix>-g4-<key>` (remote group), `<prefix>-a6-<key>` (address group): kind and family tags
 * keep the four kinds of set apart, the key is the id's own (shared/names.ts).
 */
export function ipsetNames(sets: readonly SetRef[], prefix: string): (ref: SetRef) => string {
  const names = new Map<string, string>();
  const registry = new NameRegistry('set');
  for (const s of sets) {
    const head = `${prefix}-${KIND_TAG[s.kind]}${s.family}-`;
    const name = registry.claim(head + objectKey(s.id, IPSET_NAME_MAX - head.length), KIND_PATH[s.kind], s.id);
    names.set(`${s.kind}\u0000${s.family}\u0000${s.id}`, name);
  }
  return (ref) => {
    const n = names.get(`${ref.kind}\u0000${ref.family}\u0000${ref.id}`);
    if (n === undefined) throw new Error(`no set planned for ${ref.kind} ${ref.id} IPv${ref.family}`);
    return n;
  };
}

/**
 * The temporary set a live set is filled under before the swap: the live name with its kind tag
 * in upper case (`sgnf-G4-…`), a name no live set can have.
 */
export function ipsetTempName(live: string, prefix: string): string {
  const at = prefix.length + 1;
  return live.slice(0, at) + live.charAt(at).toUpperCase() + live.slice(at + 1);
}

/**
 * The `add` lines of sets, by member list and set name. A set printed once is pushed as
 * shared/text.ts says (a small one line by line); a set printed again (the hosts of a prepared
 * cloud model share member lists) is joined once and that text reused by every later host.
 */
export type IpsetCache = Map<AddressList, Map<string, string | null>>;

function pushAddLines(lines: string[], cache: IpsetCache, temp: string, members: AddressList): void {
  let byName = cache.get(members);
  if (!byName) cache.set(members, (byName = new Map()));
  const seen = byName.get(temp);
  // ipset save prints host entries without their length, as entries() does.
  const add = `add ${temp} `;
  if (typeof seen === 'string') lines.push(seen);
  else if (seen === undefined && members.length < JOIN_BLOCK_FROM) {
    byName.set(temp, null);
    pushPrefixed(lines, add, members.entries());
  } else {
    const text = joinPrefixed(add, members.entries());
    byName.set(temp, text);
    lines.push(text);
  }
}

/** The type and family of every set sgnf creates. */
export const ipsetType = (family: 4 | 6): string => `hash:net family ${family === 4 ? 'inet' : 'inet6'}`;

/** The `hashsize` the script asks for: from the member count, within the limits. */
export function hashsize(count: number): number {
  let h = IPSET_HASHSIZE_MIN;
  while (h < count && h < IPSET_HASHSIZE_MAX) h *= 2;
  return h;
}

export function renderIpset(sets: readonly SetPlan[], name: (ref: SetRef) => string, prefix: string, cache: IpsetCache = new Map()): string {
  const lines: string[] = [
    '# sgnf ipset script: apply with `ipset restore -f FILE` before iptables-restore and ip6tables-restore.',
  ];
  for (const s of sets) {
    const live = name(s);
    const temp = ipsetTempName(live, prefix);
    const header = `${ipsetType(s.family)} hashsize ${hashsize(s.members.length)} maxelem ${IPSET_MAXELEM}`;
    // A temporary set left over by an interrupted run may have another header: remove it first.
    lines.push(`destroy ${temp} -exist`);
    lines.push(`create ${temp} ${header}`);
    if (s.members.length > 0) pushAddLines(lines, cache, temp, s.members);
    lines.push(`create ${live} ${header} -exist`);
    lines.push(`swap ${temp} ${live}`);
    lines.push(`destroy ${temp}`);
  }
  return endLines(lines);
}
