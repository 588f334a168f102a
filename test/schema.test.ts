/**
 * The JSON Schema shipped with the package (src/model/schema.json) agrees with the parser: every
 * golden model validates, and inputs the parser rejects for their shape are rejected by it too.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { goldenCases } from './support/golden.js';

const schema = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'src', 'model', 'schema.json'), 'utf8')) as object;
const validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema);

describe('model JSON Schema', () => {
  it.each(goldenCases().map((c) => [c.name, c.model] as const))('accepts golden/%s', (_name, model) => {
    expect(validate(model), JSON.stringify(validate.errors)).toBe(true);
  });
  it.each([
    ['a rule without direction', { security_groups: { sg: { rules: [{ ethertype: 'IPv4' }] } } }],
    ['a bad id', { security_groups: { 'a b': { rules: [] } } }],
    ['a bad MAC', { devices: { p: { mac_address: 'nope' } } }],
    ['a device name with a space', { devices: { p: { device: 'tap 1' } } }],
    ['an unknown option', { options: { enable_ipsets: true } }],
  ])('rejects %s', (_name, model) => {
    expect(validate(model)).toBe(false);
  });
});
