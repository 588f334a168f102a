/**
 * Name fitting for kernel objects with length limits: readable where possible, never colliding.
 * An id is used as is (truncated to the budget) when no other id of the same kind shares the
 * truncated form; ids that would collide get a hash suffix of their full id instead. A hash
 * collision between two suffixed names is detected and reported, never emitted.
 */
import { createHash } from 'node:crypto';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** The first `n` base32 characters of sha256(text). */
export function shortHash(text: string, n: number): string {
  const digest = createHash('sha256').update(text).digest();
  let out = '';
  let bits = 0;
  let acc = 0;
  for (const byte of digest) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < n) {
      out += BASE32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length >= n) break;
  }
  return out;
}

const HASH_LEN = 7;
/** Below this many characters a hash alone is too short to keep names apart. */
const MIN_BUDGET = 6;

/**
 * Fit each id into `budget` characters. `sanitize` maps an id to the alphabet of the target
 * (characters it cannot hold become `_`); a sanitised form that differs from the id counts as
 * a potential collision and so is hashed too.
 */
export function fitNames(ids: Iterable<string>, budget: number, sanitize: (id: string) => string): Map<string, string> {
  if (budget < MIN_BUDGET) throw new Error(`name budget ${budget} is too small for unique names`);
  const unique = [...new Set(ids)];
  const truncated = new Map<string, string[]>();
  for (const id of unique) {
    const t = sanitize(id).slice(0, budget);
    const l = truncated.get(t);
    if (l) l.push(id);
    else truncated.set(t, [id]);
  }
  const out = new Map<string, string>();
  const taken = new Map<string, string>();
  for (const id of unique) {
    const clean = sanitize(id);
    const t = clean.slice(0, budget);
    // The hashed form only when needed: sha256 per port and group was a visible part of a compile.
    const hashed = (): string =>
      budget >= HASH_LEN + 2 ? `${clean.slice(0, budget - HASH_LEN - 1)}_${shortHash(id, HASH_LEN)}` : shortHash(id, budget);
    const name = truncated.get(t)!.length === 1 && clean === id ? t : hashed();
    const other = taken.get(name);
    if (other !== undefined) throw new Error(`names of "${id}" and "${other}" collide as "${name}"`);
    taken.set(name, id);
    out.set(id, name);
  }
  return out;
}
