/**
 * `ipset save` output, parsed into sets as delta/state.ts holds them:
 *
 *   create NAME TYPE [family inet] [hashsize N] [maxelem N] [bucketsize N] [initval 0x...] [...]
 *   add NAME ENTRY [extension values]
 *
 * `type` is the set type with every option that makes another kind of set (family, timeout,
 * counters, comment, netmask, ...), without the sizing hints ipset adjusts by itself or picks at
 * random (hashsize grows with the set, bucketsize and initval are the kernel's choice). An
 * entry is its text as printed, plus `nomatch` where it has that flag (an exception, not a
 * member); per-entry extension values (timeouts, counters, comments) are not part of it.
 */
import type { IpsetSetState } from '../delta/state.js';
import { badLine, shown } from './dumps.js';

/** A saved set; `line` is its create line. Members in the order printed. */
export interface SavedSet extends IpsetSetState {
  readonly line: number;
}

const SET_NAME = /^[^\s"']{1,31}$/;
/** Options of `create` that size the set or seed its hash: never a difference of kind. */
const SIZING = new Set(['hashsize', 'maxelem', 'bucketsize', 'initval']);
const IPSET_DEFAULT_HASHSIZE = 1024;
const IPSET_DEFAULT_MAXELEM = 65536;

export function parseIpsetSave(text: string, file: string): ReadonlyMap<string, SavedSet> {
  const sets = new Map<string, { type: string; hashsize: number; maxelem: number; members: string[]; line: number }>();
  let lineNo = 0;
  let start = 0;
  // The set of the last add line: its entries come one after the other (one test of the line's
  // start and one cut per entry).
  let lastPrefix = '';
  let lastMembers: string[] | undefined;
  const n = text.length;
  while (start < n) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = n;
    lineNo++;
    if (lastMembers !== undefined && text.startsWith(lastPrefix, start)) {
      const from = start + lastPrefix.length;
      const sp = text.indexOf(' ', from);
      if ((sp < 0 || sp > end) && end > from && text.charCodeAt(end - 1) !== 13 /* \r */) {
        lastMembers.push(text.slice(from, end));
        start = end + 1;
        continue;
      }
    }
    let line = text.slice(start, end);
    start = end + 1;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('add ')) {
      // add NAME ENTRY [...]: the common case is exactly three words.
      const a = line.indexOf(' ', 4);
      if (a < 0) badLine(file, lineNo, `an add line without an entry: ${shown(line)}`);
      const name = line.slice(4, a);
      const set = sets.get(name);
      if (set === undefined) badLine(file, lineNo, `entry of set ${shown(name)}, which no create line before it declares`);
      lastPrefix = `add ${name} `;
      lastMembers = set.members;
      const b = line.indexOf(' ', a + 1);
      if (b < 0) {
        set.members.push(line.slice(a + 1));
        continue;
      }
      const entry = line.slice(a + 1, b);
      if (entry === '') badLine(file, lineNo, `not an add line: ${shown(line)}`);
      set.members.push(/ nomatch(?: |$)/.test(line.slice(b)) ? `${entry} nomatch` : entry);
      continue;
    }
    if (line.startsWith('create ')) {
      const words = line.split(' ');
      const name = words[1] ?? '';
      const type = words[2];
      if (!SET_NAME.test(name) || type === undefined || !/^[a-z]+:[a-z,]+$/.test(type)) badLine(file, lineNo, `not a create line: ${shown(line)}`);
      if (sets.has(name)) badLine(file, lineNo, `set ${name} is created twice`);
      const kind = [type];
      let hashsize = IPSET_DEFAULT_HASHSIZE;
      let maxelem = IPSET_DEFAULT_MAXELEM;
      for (let i = 3; i < words.length; i++) {
        const w = words[i]!;
        if (w === '') badLine(file, lineNo, `not a create line: ${shown(line)}`);
        if (!SIZING.has(w)) {
          kind.push(w);
          continue;
        }
        const v = words[++i];
        if (v === undefined) badLine(file, lineNo, `${w} without a value`);
        if (w === 'hashsize' || w === 'maxelem') {
          if (!/^[0-9]{1,10}$/.test(v)) badLine(file, lineNo, `${w} is not a number: ${shown(v)}`);
          if (w === 'hashsize') hashsize = Number(v);
          else maxelem = Number(v);
        }
      }
      sets.set(name, { type: kind.join(' '), hashsize, maxelem, members: [], line: lineNo });
      continue;
    }
    badLine(file, lineNo, `not a line ipset save prints: ${shown(line)}`);
  }
  return sets;
}
