/**
 * Well-formed output: every line of every output parses with the strict interpreter, and no
 * input string can add a line, a word or a quote to the output. Ids, device names, network ids,
 * rule ids (which reach comments) and the name prefix are fuzzed with hostile strings: compile()
 * either refuses the model (ModelError) or prints output whose line/word/quote shape is exactly
 * that of the same model with a harmless string in the same place.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile, type CompileOptions } from '../../src/compile.js';
import { ModelError } from '../../src/model/errors.js';
import { RulesetError } from '../support/verify/ipset.js';
import { tokenize } from '../support/verify/iptables.js';
import { loadRuleset } from '../support/verify/interpret.js';
import { modelArb } from '../support/arbitraries.js';
import { RUNS } from '../support/property-runs.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

/** Hostile characters: separators, quotes, escapes, comment and option starters, non-ASCII. */
const HOSTILE = [' ', '"', "'", '\\', '\n', '\r', '\t', '-', '--', '#', '*', ':', '!', '[', ']', ',', '/', '+', '.', '_', '\u0000', 'é', '\u2028', '$', '`', '%', '=', '{'];
const fuzzArb = fc.oneof(
  fc.string({ unit: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...'abcz019'.split('')) }, { weight: 2, arbitrary: fc.constantFrom(...HOSTILE) }), maxLength: 24 }),
  fc.constantFrom('a -j ACCEPT', 'x" -j ACCEPT -m comment --comment "y', 'a\n-A INPUT -j ACCEPT', 'COMMIT', '*filter', 'sg-a', 'p1', '', ' ', 'a'.repeat(101), 'z'.repeat(100)),
);

type Target = 'group' | 'port' | 'addressGroup' | 'ruleId' | 'device' | 'network';
const targetArb = fc.record({ kind: fc.constantFrom<Target>('group', 'port', 'addressGroup', 'ruleId', 'device', 'network'), pick: fc.nat(20) });

/** Every string in keys or values equal to `from` becomes `to` (ids are distinctive in generated models). */
function rename(v: Json, from: string, to: string): Json {
  if (typeof v === 'string') return v === from ? to : v;
  if (Array.isArray(v)) return v.map((x) => rename(x, from, to));
  if (v !== null && typeof v === 'object') {
    const out: Obj = {};
    for (const [k, x] of Object.entries(v)) out[k === from ? to : k] = rename(x, from, to);
    return out;
  }
  return v;
}

const pick = <T>(list: readonly T[], n: number): T | undefined => (list.length === 0 ? undefined : list[n % list.length]);

/** Put `text` at the target place of the model; undefined when the model has no such place. */
function inject(json: Obj, target: { kind: Target; pick: number }, text: string): Obj | undefined {
  const m = structuredClone(json) as Obj & { security_groups: Obj; devices: Obj; address_groups: Obj };
  switch (target.kind) {
    case 'group': {
      const id = pick(Object.keys(m.security_groups), target.pick);
      return id === undefined ? undefined : (rename(m, id, text) as Obj);
    }
    case 'port': {
      const id = pick(Object.keys(m.devices), target.pick);
      return id === undefined ? undefined : (rename(m, id, text) as Obj);
    }
    case 'addressGroup': {
      const id = pick(Object.keys(m.address_groups), target.pick);
      return id === undefined ? undefined : (rename(m, id, text) as Obj);
    }
    case 'ruleId': {
      const rules = Object.values(m.security_groups).flatMap((g) => (Array.isArray(g) ? g : ((g as Obj)['rules'] as Json[])));
      const rule = pick(rules, target.pick) as Obj | undefined;
      if (!rule) return undefined;
      rule['id'] = text;
      return m;
    }
    case 'device':
    case 'network': {
      const d = pick(Object.values(m.devices), target.pick) as Obj | undefined;
      if (!d) return undefined;
      d[target.kind === 'device' ? 'device' : 'network_id'] = text;
      return m;
    }
  }
}

/** The shape of the output: per file, the sorted list of (words, quotes) of its lines. */
function shape(files: Readonly<Record<string, string>>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, text] of Object.entries(files)) {
    out[name] = text
      .split('\n')
      .map((line) => {
        const words = tokenize(line, (m) => {
          throw new Error(`${name}: ${m}: ${JSON.stringify(line)}`);
        });
        return `${words.length}:${line.split('"').length - 1}`;
      })
      .sort();
  }
  return out;
}

/** compile(), or undefined if the model is refused; anything but a ModelError is a failure. */
function compileOrRefuse(json: unknown, options: CompileOptions): ReturnType<typeof compile> | undefined {
  try {
    return compile(json, options);
  } catch (e) {
    if (e instanceof ModelError) return undefined;
    throw e;
  }
}

const OPTIONS: readonly CompileOptions[] = [{ comments: true }, { comments: true, driver: 'linuxbridge', remoteGroups: 'expanded' }];

describe('well-formed output', () => {
  it('every line of every output parses (all modes, with comments)', () => {
    fc.assert(
      fc.property(modelArb, fc.constantFrom<CompileOptions>(...OPTIONS, {}, { driver: 'linuxbridge' }), (json, options) => {
        loadRuleset(compile(json, options).files);
      }),
      { numRuns: RUNS },
    );
  });

  for (const options of OPTIONS) {
    it(`no input string changes the shape of the output (${JSON.stringify(options)})`, () => {
      let refused = 0;
      let accepted = 0;
      fc.assert(
        fc.property(modelArb, targetArb, fuzzArb, (json, target, text) => {
          const fuzzed = inject(json, target, text);
          const harmless = inject(json, target, 'zsafe0');
          if (!fuzzed || !harmless || JSON.stringify(json).includes(JSON.stringify(text))) return; // no such place, or an id already used
          const got = compileOrRefuse(fuzzed, options);
          if (!got) {
            refused++;
            return;
          }
          accepted++;
          const want = compileOrRefuse(harmless, options);
          expect(want, 'the harmless variant compiles').toBeDefined();
          try {
            loadRuleset(got.files);
          } catch (e) {
            if (e instanceof RulesetError) throw new Error(`${JSON.stringify(text)} at ${target.kind}: ${e.message}`);
            throw e;
          }
          expect(shape(got.files), `${JSON.stringify(text)} at ${target.kind}`).toEqual(shape(want!.files));
        }),
        { numRuns: RUNS * 2 },
      );
      // Both outcomes must occur, or the fuzzing is not reaching the printer.
      expect(refused).toBeGreaterThan(0);
      expect(accepted).toBeGreaterThan(0);
    });
  }

  it('the name prefix cannot change the shape either', () => {
    fc.assert(
      fc.property(modelArb, fuzzArb, (json, prefix) => {
        const got = compileOrRefuse(json, { prefix, comments: true });
        if (!got) return;
        loadRuleset(got.files);
        expect(shape(got.files)).toEqual(shape(compile(json, { prefix: 'zsafe', comments: true }).files));
      }),
      { numRuns: RUNS },
    );
  });
});
