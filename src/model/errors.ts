/** Every problem in the input, each with the JSON path of the offending field. */
export interface Issue {
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

/** Append an object key or array index to a JSON path. */
export function child(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return IDENT.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}
