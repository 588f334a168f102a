/**
 * Kernel object names from model ids, one scheme for iptables chains, ipset sets and nft
 * objects (docs/naming.md). Two promises:
 *
 * - A name is a function of its object's own id (and the prefix) alone: adding, removing or
 *   renaming another object never renames this one, so a delta touches only what changed.
 * - Two objects never share a name, by construction:
 *     key(id)   literal: the id itself when it is a "plain id" (runs of lower-case letters and
 *               digits joined by single `-`, as every UUID is) and fits the budget;
 *               hashed: otherwise `<readable>_<hash>`: the id's start in the plain alphabet, `_`,
 *               and base32 of sha256(id). A literal key never holds `_`, a hashed one always
 *               does, so no id can be chosen to equal another id's hashed form. Two hashed keys
 *               are equal only on a hash collision, which `NameRegistry` refuses as bad input.
 *     fixed names (dispatch chains, maps) are spelled where no object name can be: upper case
 *               after the prefix in iptables, names without a family tag in nft (see the layouts).
 *     temporary ipset names carry the upper-case form of the live tag, which no live name has.
 */
import { createHash } from 'node:crypto';
import { CHAIN_PREFIX_MAX, MODEL_ID_MAX } from '../../limits.js';
import { ModelError, child } from '../../model/errors.js';
import { printable } from '../../net/ip.js';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** The first `n` base32 characters of sha256(text). */
export function shortHash(text: string, n: number): string {
  const digest = createHash('sha256').update(text).digest();
  let out = '';
  let bits = 0;
  let acc = 0;
  for (const byte of digest) {
    acc = ((acc << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5 && out.length < n) {
      out += BASE32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length >= n) break;
  }
  return out;
}

/** Runs of lower-case letters and digits joined by single dashes: every UUID. */
const PLAIN_ID = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** Below this a key cannot hold a separator and a hash long enough to keep ids apart. */
export const KEY_BUDGET_MIN = 7;

/**
 * The key of an id within `budget` characters, over the alphabet [a-z0-9-_]: the id as is, or a
 * readable start, `_` and a hash (8 base32 characters, 40 bits, where the budget allows; 6 at
 * the least). Pure: the same id always gets the same key.
 */
export function objectKey(id: string, budget: number): string {
  if (budget < KEY_BUDGET_MIN) throw new Error(`name budget ${budget} is below ${KEY_BUDGET_MIN}`);
  if (id.length <= budget && PLAIN_ID.test(id)) return id;
  let known = hashedKeys.get(budget);
  if (known === undefined) hashedKeys.set(budget, (known = new Map()));
  let key = known.get(id);
  if (key === undefined) {
    // Bounded: a long-lived process (an agent, a server) sees ids come and go.
    if (known.size >= HASHED_KEYS_KEPT) known.clear();
    known.set(id, (key = hashedKey(id, budget)));
  }
  return key;
}

/**
 * Hashed keys already made, by budget: a UUID is longer than an iptables chain's budget, so every
 * port and group of a cloud is hashed, and a cloud compiled host by host asks for the same ids'
 * keys on every host (a SHA-256 each time was a tenth of compiling 1,000 hosts).
 */
const hashedKeys = new Map<number, Map<string, string>>();
const HASHED_KEYS_KEPT = 1 << 18;

function hashedKey(id: string, budget: number): string {
  const hashLen = Math.min(8, Math.max(6, budget - 4));
  const readable = id
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, budget - hashLen - 1);
  return `${readable}_${shortHash(id, hashLen)}`;
}

/**
 * The nft form of a key: nft names cannot hold `-`, so dashes become `_` and the hash separator
 * becomes `__` (a plain id has no `--`, so a literal nft key never holds `__`). nft names are long
 * enough for every model id: only ids outside the plain alphabet are hashed.
 */
export function nftObjectKey(id: string): string {
  const key = objectKey(id, MODEL_ID_MAX + 9);
  const sep = key.lastIndexOf('_');
  return sep < 0 ? key.replace(/-/g, '_') : `${key.slice(0, sep).replace(/-/g, '_')}__${key.slice(sep + 1)}`;
}

/** The name prefix of every chain and set: a letter, then letters, digits or `-`. */
const PREFIX = /^[A-Za-z][A-Za-z0-9-]*$/;

/** Refuses a prefix outside the rule (bad input: `options.prefix`). */
export function checkPrefix(prefix: string): string {
  if (!PREFIX.test(prefix) || prefix.length > CHAIN_PREFIX_MAX) {
    throw new ModelError([
      { code: 'bad-option', path: 'options.prefix', message: `"${printable(prefix)}" must be 1 to ${CHAIN_PREFIX_MAX} letters, digits or "-", starting with a letter` },
    ]);
  }
  return prefix;
}

/**
 * The names of one namespace (a table's chains, a host's sets). By the construction above two
 * objects can only meet on a hash collision: reported as bad input naming both objects.
 */
export class NameRegistry {
  /** name → its owner: the collection's JSON path and the id (the path is only built to report). */
  private readonly owners = new Map<string, { readonly collection: string; readonly id: string }>();
  constructor(private readonly what: string) {}

  /** Registers `name` for the object `id` of `collection` (`$.devices`…); the same owner may ask again. */
  claim(name: string, collection: string, id: string): string {
    const other = this.owners.get(name);
    if (other === undefined) this.owners.set(name, { collection, id });
    else if (other.collection !== collection || other.id !== id) {
      throw new ModelError([
        {
          code: 'name-collision',
          path: child(collection, id),
          message: `its ${this.what} name ${name} equals that of ${child(other.collection, other.id)} (a hash collision of the two ids): change one id`,
        },
      ]);
    }
    return name;
  }
}
