/**
 * Dumps of a simulated host (test/support/apply) in the formats the audit reads, so properties
 * can audit the hosts the strict simulators build: `iptables-save` and `ipset save` come from the
 * simulators themselves; `nft list ruleset` is rendered here from the nft simulator's state, in
 * nft 1.0.6's layout (tab-indented blocks, `elements = { ... }`, one rule per line) with the
 * texts as they were applied (sgnf's notation; the kernel's own notation is the kernel test's
 * business).
 */
import type { LiveDumps } from '../../src/audit/dumps.js';
import type { IptablesHost } from './apply/host.js';
import { ipsetSave } from './apply/ipset.js';
import { iptablesSave } from './apply/iptables.js';
import type { NftState } from './apply/nft.js';
import { showVerdict } from './verify/nft-sets.js';

export function iptablesDumps(host: IptablesHost): LiveDumps {
  return {
    'iptables-save.v4': iptablesSave(host.v4),
    'iptables-save.v6': iptablesSave(host.v6),
    'ipset.save': ipsetSave(host.ipset, { hashsize: true }),
  };
}

const hex32 = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

export function nftDumps(state: NftState): LiveDumps {
  return { 'nft.ruleset': nftListRuleset(state) };
}

/** The simulated ruleset as `nft list ruleset` lays it out. */
export function nftListRuleset(state: NftState): string {
  const out: string[] = [];
  for (const t of state.tables.values()) {
    out.push(`table ${t.family} ${t.name} {`);
    if (t.comment !== undefined) out.push(`\tcomment "${t.comment}"`);
    const blocks: string[][] = [];
    for (const [name, s] of t.sets) {
      const b = [`\t${s.spec.kind} ${name} {`];
      const spec = s.spec;
      if (spec.value === 'ct_zone') b.push(`\t\ttypeof iifname : ct zone`);
      else b.push(`\t\ttype ${spec.key}${spec.value === undefined ? '' : ` : ${spec.value}`}`);
      if (spec.interval) b.push('\t\tflags interval');
      if (s.comment !== undefined) b.push(`\t\tcomment "${s.comment}"`);
      const elements = [...s.elements()].map((e) => {
        const key = spec.key === 'mark' ? hex32(Number(e.key)) : spec.key === 'ifname' ? `"${e.key}"` : e.key;
        if (e.value === undefined) return key;
        const value = typeof e.value === 'number' ? (spec.value === 'mark' ? hex32(e.value) : String(e.value)) : showVerdict(e.value);
        return `${key} : ${value}`;
      });
      // nft wraps long element lists: a few per line, continued under the first.
      for (let i = 0; i < elements.length; i += 3) {
        const chunk = elements.slice(i, i + 3).join(', ');
        const last = i + 3 >= elements.length;
        b.push(`${i === 0 ? '\t\telements = { ' : '\t\t\t     '}${chunk}${last ? ' }' : ','}`);
      }
      b.push('\t}');
      blocks.push(b);
    }
    for (const [name, c] of t.chains) {
      const b = [`\tchain ${name} {`];
      if (c.base) b.push(`\t\ttype filter hook ${c.base.hook} priority ${c.base.priority}; policy ${c.base.policy};`);
      for (const r of c.rules) b.push(`\t\t${r.text}`);
      b.push('\t}');
      blocks.push(b);
    }
    blocks.forEach((b, i) => {
      if (i > 0) out.push('');
      out.push(...b);
    });
    out.push('}');
  }
  return out.map((l) => `${l}\n`).join('');
}
