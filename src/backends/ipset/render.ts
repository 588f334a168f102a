/**
 * The `ipset restore` script: one hash:net set per (remote group, family) and per
 * (address group, family). Each set is filled under a temporary name and swapped in, so a
 * rule referencing it never sees a half-filled set, and the script can be re-run at any time
 * (membership updates need no iptables reload).
 */
import { JOIN_BLOCK_FROM, endLines, joinPrefixed, pushPrefixed } from '../shared/text.js';
import { IPSET_HASHSIZE_MAX, IPSET_HASHSIZE_MIN, IPSET_LIVE_NAME_MAX, IPSET_MAXELEM, IPSET_NAME_MAX, IPSET_TEMP_SUFFIX } from '../../limits.js';
import type { SetPlan, SetRef } from '../../plan/ir.js';
import type { AddressList } from '../../net/list.js';
import { fitNames } from '../shared/names.js';

const KIND_TAG = { group: 'g', addressGroup: 'a' } as const;

/** `<prefix>-g4-<group>`: kind and family tags keep the four kinds of set apart. */
export function ipsetNames(sets: readonly SetRef[], prefix: string): (ref: SetRef) => string {
  const names = new Map<string, string>();
  for (const kind of ['group', 'addressGroup'] as const) {
    for (const family of [4, 6] as const) {
      const head = `${prefix}-${KIND_TAG[kind]}${family}-`;
      const ids = sets.filter((s) => s.kind === kind && s.family === family).map((s) => s.id);
      const fitted = fitNames(ids, IPSET_LIVE_NAME_MAX - head.length, (id) => id.replace(/[^A-Za-z0-9_.-]/g, '_'));
      for (const [id, key] of fitted) names.set(`${kind}\u0000${family}\u0000${id}`, head + key);
    }
  }
  return (ref) => {
    const n = names.get(`${ref.kind}\u0000${ref.family}\u0000${ref.id}`);
    if (n === undefined) throw new Error(`no set planned for ${ref.kind} ${ref.id} IPv${ref.family}`);
    return n;
  };
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

function hashsize(count: number): number {
  let h = IPSET_HASHSIZE_MIN;
  while (h < count && h < IPSET_HASHSIZE_MAX) h *= 2;
  return h;
}

export function renderIpset(sets: readonly SetPlan[], name: (ref: SetRef) => string, cache: IpsetCache = new Map()): string {
  const lines: string[] = [
    '# sgnf ipset script: apply with `ipset restore -f FILE` before iptables-restore and ip6tables-restore.',
  ];
  for (const s of sets) {
    const live = name(s);
    const temp = live + IPSET_TEMP_SUFFIX;
    if (temp.length > IPSET_NAME_MAX) throw new Error(`set name ${temp} exceeds ${IPSET_NAME_MAX} characters`);
    const header = `hash:net family ${s.family === 4 ? 'inet' : 'inet6'} hashsize ${hashsize(s.members.length)} maxelem ${IPSET_MAXELEM}`;
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
