/**
 * The machine-readable kind of every problem in the input (`Issue.code`). Stable: a code is never
 * renamed or reused for another kind of problem; new ones may be added. The README lists them.
 */
export const ISSUE_CODES = [
  'not-an-object',
  'not-a-list',
  'not-a-string',
  'not-a-boolean',
  'not-an-integer',
  'required',
  'misspelled-field',
  'bad-value',
  'out-of-range',
  'bad-id',
  'bad-address',
  'bad-mac',
  'bad-member',
  'bad-interface-name',
  'family-mismatch',
  'unknown-protocol',
  'bad-port-range',
  'conflicting-remotes',
  'wrong-direction',
  'unknown-group',
  'unknown-address-group',
  'mixed-stateful',
  'port-security-conflict',
  'duplicate-device',
  'zone-conflict',
  'zones-exhausted',
  'set-too-large',
  'name-collision',
  'bad-option',
  'bad-host-name',
  'bad-patch',
  'bad-dump',
  'missing-dump',
] as const;

export type IssueCode = (typeof ISSUE_CODES)[number];

/** The machine-readable kind of every warning (`Diagnostic.code`), stable like ISSUE_CODES. */
export const WARNING_CODES = ['unknown-field', 'any-address-member'] as const;

export type WarningCode = (typeof WARNING_CODES)[number];

/** Every problem in the input, each with the JSON path of the offending field. */
export interface Issue {
  /** What kind of problem (see ISSUE_CODES). */
  readonly code: IssueCode;
  /** JSON path, e.g. `$.security_groups["web"].rules[2].port_range_max`. */
  readonly path: string;
  readonly message: string;
}

/** Thrown by `compile` for bad input; carries every issue found, not just the first. */
export class ModelError extends Error {
  readonly issues: readonly Issue[];
  constructor(issues: readonly Issue[]) {
    super(
      `invalid model (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n` +
        issues.map((i) => `  ${i.path}: ${i.message}`).join('\n'),
    );
    this.name = 'ModelError';
    this.issues = issues;
  }
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Keys longer than this are shortened in paths: any valid id is shorter (MODEL_ID_MAX). */
const KEY_SHOWN_MAX = 120;

/**
 * Append an object key or array index to a JSON path. Keys are untrusted: quoted as JSON
 * strings with everything outside printable ASCII escaped (no line or paragraph separator
 * reaches a message) and shortened when very long.
 */
export function child(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  if (IDENT.test(key) && key.length <= KEY_SHOWN_MAX) return `${path}.${key}`;
  const shown = key.length > KEY_SHOWN_MAX ? `${key.slice(0, KEY_SHOWN_MAX - 3)}...` : key;
  const quoted = JSON.stringify(shown).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `${path}[${quoted}]`;
}
