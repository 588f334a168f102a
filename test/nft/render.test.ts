/**
 * nft output shape, without a kernel: for every golden model the scripts are deterministic, one
 * statement per line, every name is safe and declared before use, and the counts add up; set
 * members are split and merged exactly; a membership change touches only sets.nft.
 */
import { describe, expect, test } from 'vitest';
import { compile, prepare } from '../../src/compile.js';
import type { HostPlan } from '../../src/plan/ir.js';
import { MODEL_ID_MAX, NFT_COMMENT_MAX } from '../../src/limits.js';
import { renderNft } from '../../src/backends/nft/render.js';
import { NFT_SAFE_NAME } from '../../src/backends/nft/syntax.js';
import { goldenCases } from '../support/golden.js';

interface Parsed {
  /** Declared objects per table: `inet sgnf_sg` -> chains / sets (sets and maps). */
  readonly tables: Map<string, { chains: Set<string>; sets: Set<string> }>;
  /** Rule lines per `table chain`. */
  readonly rules: Map<string, string[]>;
  /** `add element` lines: table -> set -> element count. */
  readonly elements: Map<string, Map<string, number>>;
}

/** A small reader for exactly the shape renderNft prints (it fails on anything else). */
function parseRuleset(text: string): Parsed {
  const tables = new Map<string, { chains: Set<string>; sets: Set<string> }>();
  const rules = new Map<string, string[]>();
  const elements = new Map<string, Map<string, number>>();
  let table: string | undefined;
  let block: { kind: string; name: string } | undefined;
  for (const line of text.split('\n')) {
    let m: RegExpExecArray | null;
    if (line === '' || line.startsWith('#')) continue;
    if ((m = /^table (bridge|inet) (\S+)$/.exec(line)) || (m = /^delete table (bridge|inet) (\S+)$/.exec(line))) continue;
    if ((m = /^table (bridge|inet) (\S+) \{$/.exec(line))) {
      table = `${m[1]} ${m[2]}`;
      tables.set(table, { chains: new Set(), sets: new Set() });
    } else if ((m = /^\t(chain|set|map) (\S+) \{$/.exec(line)) && table) {
      block = { kind: m[1]!, name: m[2]! };
      const t = tables.get(table)!;
      (m[1] === 'chain' ? t.chains : t.sets).add(m[2]!);
      if (m[1] === 'chain') rules.set(`${table} ${m[2]}`, []);
    } else if (line === '\t}') block = undefined;
    else if (line === '}') table = undefined;
    else if ((m = /^\t\t(.+)$/.exec(line)) && block) {
      const body = m[1]!;
      if (block.kind === 'chain' && !body.startsWith('type filter hook ')) rules.get(`${table} ${block.name}`)!.push(body);
    } else if ((m = /^\tcomment "[^"]*"$/.exec(line)) && table && !block) continue;
    else if ((m = /^add element (bridge|inet) (\S+) (\S+) \{ (.+) \}$/.exec(line))) {
      const t = `${m[1]} ${m[2]}`;
      const per = elements.get(t) ?? new Map<string, number>();
      elements.set(t, per);
      per.set(m[3]!, (per.get(m[3]!) ?? 0) + m[4]!.split(', ').length);
    } else throw new Error(`unexpected line: ${JSON.stringify(line)}`);
  }
  return { tables, rules, elements };
}

const render = (plan: HostPlan, comments = false) => renderNft(plan, { prefix: 'sgnf', comments });

describe('golden models', () => {
  for (const g of goldenCases()) {
    test(g.name, () => {
      const plan = prepare(g.model).plan(g.options);
      const options = { prefix: g.options.prefix ?? 'sgnf', comments: g.options.comments ?? false };
      const out = renderNft(plan, options);
      expect(renderNft(plan, options)).toEqual(out); // deterministic

      const p = parseRuleset(out.ruleset);
      expect([...p.tables.keys()].map((t) => t.split(' ')[0])).toEqual(['bridge', 'inet']);
      let rules = 0;
      for (const [t, decl] of p.tables) {
        for (const n of [t.split(' ')[1]!, ...decl.chains, ...decl.sets]) expect(n).toMatch(NFT_SAFE_NAME);
        for (const c of decl.chains) {
          for (const r of p.rules.get(`${t} ${c}`)!) {
            rules++;
            expect(r).not.toMatch(/;|\{ *\}/); // one statement per line, no empty lists
            for (const [, target] of r.matchAll(/\b(?:jump|goto) (\w+)/g)) expect(decl.chains, `${c}: ${r}`).toContain(target);
            for (const [, set] of r.matchAll(/@(\w+)/g)) expect(decl.sets, `${c}: ${r}`).toContain(set);
            for (const [, text] of r.matchAll(/comment "([^"]*)"/g)) expect(text!.length).toBeLessThanOrEqual(NFT_COMMENT_MAX);
          }
        }
      }
      expect(out.stats.rules).toBe(rules);

      // Each plan set is a host set and a prefix set; sets.nft refills exactly those.
      const inet = [...p.tables.keys()][1]!;
      const setsScript = out.sets.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
      const flushed = setsScript.filter((l) => l.startsWith('flush set ')).map((l) => l.split(' ')[4]);
      expect(flushed).toHaveLength(plan.sets.length * 2);
      for (const l of setsScript) expect(l).toMatch(/^(flush set|add element) inet \S+ [ag][46]_\w+_[hn]( \{ .+ \})?$/);
      const members = [...(p.elements.get(inet) ?? new Map<string, number>())].filter(([s]) => flushed.includes(s));
      expect(members.reduce((n, [, k]) => n + k, 0)).toBe(out.stats.setElements);
    });
  }
});

const MODEL = (agMembers: string[], extraMembers: string[]) => ({
  address_groups: { office: agMembers },
  sg_member_ips: { web: { IPv4: extraMembers } },
  security_groups: {
    web: {
      rules: [
        { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_group_id: 'web' },
        { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 443, port_range_max: 443, remote_address_group_id: 'office' },
        { direction: 'egress', ethertype: 'IPv4' },
      ],
    },
  },
  devices: {
    'aaaaaaaa-1111-4111-8111-000000000001': { mac_address: 'fa:16:3e:00:00:01', fixed_ips: ['192.0.2.11'], security_groups: ['web'] },
  },
});

describe('sets', () => {
  test('hosts in a plain set, prefixes in an interval set, covered members dropped', () => {
    const out = render(prepare(MODEL(['10.0.0.0/8', '10.1.0.0/16', '10.2.3.4', '192.0.2.7', '198.51.100.0/25', '198.51.100.128/25'], [])).plan());
    expect(out.sets).toContain('add element inet sgnf_sg a4_office_n { 10.0.0.0/8, 198.51.100.0/25, 198.51.100.128/25 }');
    expect(out.sets).toContain('add element inet sgnf_sg a4_office_h { 192.0.2.7 }');
    expect(out.ruleset).toMatch(/set a4_office_n \{\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\}/);
    expect(out.ruleset).toMatch(/set a4_office_h \{\n\t\ttype ipv4_addr\n\t\}/);
    expect(out.ruleset).toContain('tcp dport 443 ip saddr @a4_office_h accept');
    expect(out.ruleset).toContain('tcp dport 443 ip saddr @a4_office_n accept');
    // An empty set is declared but never given an empty element list.
    expect(out.sets).toContain('flush set inet sgnf_sg g4_web_n\n');
    expect(out.ruleset).not.toContain('g4_web_n {  }');
  });

  test('a membership change, even the first prefix of a group, changes sets only', () => {
    const before = render(prepare(MODEL(['198.51.100.0/24'], [])).plan());
    const after = render(prepare(MODEL(['203.0.113.5', '198.51.100.0/25'], ['192.0.2.40', '198.51.100.64/26'])).plan());
    const chainsOnly = (s: string): string => s.replace(/^add element inet sgnf_sg [ag]4_\w+ \{.*\}\n/gm, '');
    expect(chainsOnly(after.ruleset)).toBe(chainsOnly(before.ruleset));
    expect(after.sets).not.toBe(before.sets);
    expect(after.sets).toContain('add element inet sgnf_sg g4_web_n { 198.51.100.64/26 }');
    expect(after.sets).toContain('add element inet sgnf_sg g4_web_h { 192.0.2.11, 192.0.2.40 }');
  });

  test('long member lists are split over several statements', () => {
    const many = Array.from({ length: 2500 }, (_, i) => `10.${i >> 8}.${i & 255}.1`);
    const out = render(prepare(MODEL(many, [])).plan());
    const lines = out.sets.split('\n').filter((l) => l.startsWith('add element inet sgnf_sg a4_office_h '));
    expect(lines.map((l) => l.split(', ').length)).toEqual([1000, 1000, 500]);
    expect(out.stats.setElements).toBe(2500 + 1);
  });
});

describe('untrusted strings', () => {
  const plan = prepare(MODEL(['198.51.100.0/24'], [])).plan();

  test('an id that is not a safe name is sanitised and hashed, and its comment defused', () => {
    const evil = '"; flush ruleset; #\n';
    const hostile: HostPlan = {
      ...plan,
      sets: plan.sets.map((s) => (s.kind === 'group' ? { ...s, id: evil } : s)),
      groupChains: new Map(
        [...plan.groupChains].map(([k, g]) => [
          k,
          {
            ...g,
            group: evil,
            rules: g.rules.map((r) => ({
              ...r,
              matches: r.matches.map((m) => (m.kind === 'set' && m.set.kind === 'group' ? { ...m, set: { ...m.set, id: evil } } : m)),
              comment: { group: evil, rule: 0, id: evil },
            })),
          },
        ]),
      ),
    };
    const out = render(hostile, true);
    expect(() => parseRuleset(out.ruleset)).not.toThrow();
    // The quote and the newline are gone, so `;` and `#` stay inside the comment string.
    expect(out.ruleset).toContain('accept comment "sg _; flush ruleset; #_ rule _; flush ruleset; #_"\n');
    expect(out.ruleset).not.toMatch(/^[^\t#].*flush ruleset/m);
    expect(out.ruleset).toMatch(/\tset g4_flush_ruleset___[a-z2-7]{8}_h \{\n/);
  });

  test('a device name that could break its string is refused', () => {
    const port = plan.ports[0]!;
    const hostile: HostPlan = { ...plan, ports: [{ ...port, port: { ...port.port, device: 'tap"x' } }] };
    expect(() => render(hostile)).toThrow(/cannot be printed safely/);
  });

  test('a prefix that is not a name prefix is refused', () => {
    expect(() => renderNft(plan, { prefix: 'x y', comments: false })).toThrow(/prefix/);
    expect(renderNft(plan, { prefix: 'Neutron-OVS', comments: false }).ruleset).toContain('table inet neutron_ovs_sg {');
  });
});

describe('comments of the longest ids', () => {
  test('fit the nft limit by a shorter form (the rule index, "hosts of"), never by a cut', () => {
    const group = `g${'x'.repeat(MODEL_ID_MAX - 1)}`;
    const ag = `a${'y'.repeat(MODEL_ID_MAX - 1)}`;
    const model = {
      security_groups: { [group]: { rules: [{ direction: 'ingress', remote_address_group_id: ag, id: `r${'z'.repeat(MODEL_ID_MAX - 1)}` }] } },
      address_groups: { [ag]: ['10.0.0.0/8', '192.0.2.1'] },
      devices: { p1: { mac_address: 'fa:16:3e:00:00:01', fixed_ips: ['10.1.0.1'], security_groups: [group] } },
    };
    const ruleset = compile(model, { backend: 'nft', comments: true }).files['ruleset.nft'];
    const comments = [...ruleset.matchAll(/comment "([^"]*)"/g)].map((m) => m[1]!);
    for (const c of comments) expect(c.length).toBeLessThanOrEqual(NFT_COMMENT_MAX);
    expect(comments).toContain(`sg ${group} rule #0`);
    expect(comments).toContain(`hosts of address group ${ag}`);
    expect(comments).toContain(`prefixes of address group ${ag}`);
    // Short ids keep the full texts.
    const short = compile(goldenCases().find((g) => g.name === 'address-groups')!.model, { backend: 'nft', comments: true }).files['ruleset.nft'];
    expect(short).toMatch(/comment "host members of address group /);
  });
});
