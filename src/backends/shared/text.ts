/**
 * Building script text. Each output file is one join of its lines. A block of many lines that
 * share a prefix (a set's `add` lines, a long chain) is joined on its own instead: that text goes
 * straight to V8's large-object space, which the young-generation collector never copies, while
 * thousands of one-line strings would be copied at every young collection until the final join.
 * A few lines are cheaper pushed one by one (joining them first would copy them twice).
 */

/** Lines from which a block is joined on its own (its text is then far above V8's 128 KB limit for ordinary objects). */
export const JOIN_BLOCK_FROM = 4096;

/** `prefix + item` for every item, one line each, as one string. */
export function joinPrefixed(prefix: string, items: readonly string[]): string {
  return prefix + items.join(`\n${prefix}`);
}

/** Appends `prefix + item` for every item: as lines when few, as one joined block when many. */
export function pushPrefixed(out: string[], prefix: string, items: readonly string[]): void {
  if (items.length === 0) return;
  if (items.length >= JOIN_BLOCK_FROM) out.push(joinPrefixed(prefix, items));
  else for (const x of items) out.push(prefix + x);
}

/**
 * A script from its lines, each ending in a newline. One join, with the final newline as an
 * empty last line: `join(...) + '\n'` would return a two-part string that V8 copies once more
 * (flattens) when the caller first reads or writes it.
 */
export function endLines(lines: string[]): string {
  lines.push('');
  return lines.join('\n');
}
