/**
 * Reading the JSON input: its value types, the collector of issues and warnings that every
 * parsing step reports to, and the small value readers the steps share.
 */
import { MODEL_ID_MAX } from '../limits.js';
import { type Family, printable } from '../net/ip.js';
import { type Issue, type IssueCode, type WarningCode, child } from './errors.js';
import { type FieldTable, nearestField } from './fields.js';
import type { Diagnostic } from './types.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Obj = { [k: string]: Json };

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const has = (o: Obj, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k) && o[k] !== undefined;

/** Ids reach chain names, set names and comments: only this alphabet is accepted. */
export const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

export class Collector {
  readonly issues: Issue[] = [];
  readonly diagnostics: Diagnostic[] = [];
  error(code: IssueCode, path: string, message: string): void {
    this.issues.push({ code, path, message });
  }
  warn(code: WarningCode, path: string, message: string): void {
    this.diagnostics.push({ code, level: 'warning', path, message });
  }
  /**
   * Check an object's keys against the fields it understands. The path may be given as a
   * function, for objects that come by the thousand: it is then built only for a message.
   */
  keys(o: Obj, path: string | (() => string), table: FieldTable): void {
    for (const k of Object.keys(o)) {
      if (table.fields.includes(k) || table.extra.includes(k)) continue;
      const at = child(typeof path === 'string' ? path : path(), k);
      const near = nearestField(k, table);
      if (near !== undefined) {
        this.error('misspelled-field', at, `unknown field "${printable(k)}" (did you mean "${near}"?)`);
      } else {
        this.warn('unknown-field', at, `unknown field "${printable(k)}" ignored`);
      }
    }
  }
}

export function checkId(c: Collector, path: string, id: string, what: string): boolean {
  if (id.length === 0 || id.length > MODEL_ID_MAX || !SAFE_ID.test(id)) {
    c.error(
      'bad-id',
      path,
      `${what} "${printable(id)}" is not a valid id (1 to ${MODEL_ID_MAX} characters: letters, digits, ".", "_", ":", "-", starting with a letter or digit)`,
    );
    return false;
  }
  return true;
}

export function ethertypeFamily(v: Json | undefined): Family | undefined {
  if (typeof v !== 'string') return undefined;
  const l = v.toLowerCase();
  return l === 'ipv4' ? 4 : l === 'ipv6' ? 6 : undefined;
}

/**
 * Integers, or strings of an integer (Neutron's API converts them), whatever their size: the
 * caller checks the range, so that -1 or 70000 is reported as out of range, not as "not an integer".
 */
export function intValue(v: Json | undefined): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^-?[0-9]{1,400}$/.test(v)) return Number(v);
  return undefined;
}

/** Checks `min <= n <= max`; reports `what n is outside min to max` at `path` otherwise. */
export function inRange(c: Collector, path: string, n: number, min: number, max: number, what: string): boolean {
  if (n >= min && n <= max) return true;
  c.error('out-of-range', path, `${what} ${n} is outside ${min} to ${max}`);
  return false;
}

/**
 * A bad value for a message: strings quoted and escaped (printable), numbers and literals as
 * JSON spells them, lists and objects by kind and size. Bounded whatever the value: a value may
 * be megabytes long or nested thousands of levels deep, and is never walked.
 */
export function describe(v: Json | undefined): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return `"${printable(v)}"`;
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (Array.isArray(v)) return `a list (${v.length} item${v.length === 1 ? '' : 's'})`;
  const n = Object.keys(v).length;
  return `an object (${n} key${n === 1 ? '' : 's'})`;
}
