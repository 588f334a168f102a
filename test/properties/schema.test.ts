/**
 * The JSON Schema shipped with the package (src/model/schema.json) against the parser, over
 * generated models: every model the arbitraries generate validates, and a model the parser
 * refuses for a value of the wrong JSON type (issue codes not-an-object, not-a-list, not-a-string,
 * not-a-boolean, not-an-integer) is refused by the schema too. The schema says less than the
 * parser (references between ids, families, ranges per protocol): those refusals are the
 * parser's alone, as the README says.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type IssueCode, ModelError, parseModel } from '../../src/index.js';
import { modelArb } from '../support/arbitraries.js';
import { type Json, cloudArb } from '../support/cloud.js';
import { RUNS, SEEDS, seeded } from '../support/property-runs.js';

const schema = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'src', 'model', 'schema.json'), 'utf8')) as object;
const validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema);

const TYPE_CODES: ReadonlySet<IssueCode> = new Set(['not-an-object', 'not-a-list', 'not-a-string', 'not-a-boolean', 'not-an-integer']);

/** Every value of a JSON document with its path (as keys), the document itself first. */
function locations(doc: Json, at: (string | number)[] = []): (string | number)[][] {
  const out = [at];
  if (Array.isArray(doc)) doc.forEach((v, i) => out.push(...locations(v, [...at, i])));
  else if (doc !== null && typeof doc === 'object') for (const [k, v] of Object.entries(doc)) out.push(...locations(v, [...at, k]));
  return out;
}

/** A copy of `doc` with the value at `path` replaced. */
function replaced(doc: Json, path: readonly (string | number)[], value: Json): Json {
  if (path.length === 0) return value;
  const [head, ...rest] = path;
  if (Array.isArray(doc)) return doc.map((v, i) => (i === head ? replaced(v, rest, value) : v));
  const o = doc as { [k: string]: Json };
  return { ...o, [head!]: replaced(o[head!]!, rest, value) };
}

/** Values of every JSON type: one of them is the wrong type wherever it is put. */
const WRONG_TYPES: readonly Json[] = [true, 7, 2.5, -1, 'x', [], ['x'], {}, { k: 1 }];

/** A generated model with one value replaced by a value of (likely) another type. */
const mutatedArb = fc
  .tuple(fc.oneof(modelArb, cloudArb as fc.Arbitrary<{ [k: string]: Json }>), fc.nat(), fc.constantFrom(...WRONG_TYPES))
  .map(([model, n, value]) => {
    const places = locations(model).slice(1);
    const path = places[n % places.length]!;
    return { model: replaced(model, path, value), path: path.join('/'), value };
  });

const typeIssues = (model: unknown): string[] => {
  try {
    parseModel(model);
    return [];
  } catch (e) {
    if (!(e instanceof ModelError)) throw e;
    return e.issues.filter((i) => TYPE_CODES.has(i.code)).map((i) => `${i.code} ${i.path}`);
  }
};

describe('model JSON Schema against the parser', () => {
  for (const seed of SEEDS) {
    it(`every generated model validates (seed ${seed ?? 'random'})`, () => {
      fc.assert(
        fc.property(fc.oneof(modelArb, cloudArb as fc.Arbitrary<{ [k: string]: Json }>), (model) => {
          expect(validate(model), JSON.stringify(validate.errors)).toBe(true);
        }),
        seeded(seed, RUNS),
      );
    });

    it(`a model the parser refuses for a wrong type, the schema refuses too (seed ${seed ?? 'random'})`, () => {
      let refused = 0;
      fc.assert(
        fc.property(mutatedArb, ({ model, path, value }) => {
          const issues = typeIssues(model);
          if (issues.length === 0) return;
          refused++;
          expect(validate(model), `${path} = ${JSON.stringify(value)}: ${issues.join('; ')}`).toBe(false);
        }),
        seeded(seed, RUNS * 2),
      );
      // The mutations must reach the parser's type checks, or this proves nothing.
      expect(refused).toBeGreaterThan(RUNS / 4);
    });
  }
});
