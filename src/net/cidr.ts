/**
 * Exact address-set algebra on prefixes: sort, de-duplicate, drop covered prefixes, and
 * aggregate into the fewest covering prefixes. "Exact" means the set of addresses is never
 * widened: aggregation only merges two sibling halves into their parent.
 */
import { type Prefix, comparePrefix, familyBits, hostMask } from './ip.js';

/** Sorted and de-duplicated; prefixes covered by another one are kept (ipset keeps both). */
export function sortUnique(prefixes: readonly Prefix[]): Prefix[] {
  // Lists are often sorted already (members come sorted from the model): check in O(n) first.
  const sorted = isSorted(prefixes) ? prefixes : [...prefixes].sort(comparePrefix);
  const out: Prefix[] = [];
  for (const p of sorted) {
    const last = out[out.length - 1];
    if (last && last.family === p.family && last.addr === p.addr && last.len === p.len) continue;
    out.push(p);
  }
  return out;
}

function isSorted(prefixes: readonly Prefix[]): boolean {
  for (let i = 1; i < prefixes.length; i++) if (comparePrefix(prefixes[i - 1]!, prefixes[i]!) > 0) return false;
  return true;
}

/** Remove every prefix covered by another one in the list (needed by nft interval sets). */
export function dropCovered(prefixes: readonly Prefix[]): Prefix[] {
  const out: Prefix[] = [];
  // In (family, addr, len) order a covering prefix precedes everything it covers, and the
  // covered ones follow it contiguously; so a prefix is covered exactly when it starts at or
  // before the last address of the last prefix kept (one bigint comparison, no masks).
  let family = 0;
  let end = -1n;
  for (const p of sortUnique(prefixes)) {
    if (p.family === family && p.addr <= end) continue;
    out.push(p);
    family = p.family;
    end = p.addr | hostMask(p.family, p.len);
  }
  return out;
}

/**
 * Fewest prefixes covering exactly the same addresses: covered prefixes are dropped, then
 * sibling pairs (x/n, x+2^(w-n)/n with x aligned to n-1) are merged into their parent,
 * repeatedly, with a stack so the whole pass is O(n log n) for the sort plus O(n).
 */
export function aggregate(prefixes: readonly Prefix[]): Prefix[] {
  const stack: Prefix[] = [];
  for (const p of dropCovered(prefixes)) {
    let cur = p;
    for (;;) {
      const top = stack[stack.length - 1];
      if (!top || top.family !== cur.family || top.len !== cur.len || cur.len === 0) break;
      const bits = BigInt(familyBits(cur.family) - cur.len);
      const parentLen = cur.len - 1;
      const parentMask = ~((1n << (bits + 1n)) - 1n);
      if ((top.addr & parentMask) !== top.addr || top.addr + (1n << bits) !== cur.addr) break;
      stack.pop();
      cur = { family: cur.family, addr: top.addr, len: parentLen };
    }
    stack.push(cur);
  }
  return stack;
}

/** hash:net cannot hold /0: split it into its two /1 halves (what Neutron does too). */
export function splitZeroLength(p: Prefix): Prefix[] {
  if (p.len !== 0) return [p];
  const half = 1n << BigInt(familyBits(p.family) - 1);
  return [
    { family: p.family, addr: 0n, len: 1 },
    { family: p.family, addr: half, len: 1 },
  ];
}
