/**
 * A script from its lines, each ending in a newline. One join, with the final newline as an
 * empty last line: `join(...) + '\n'` would return a two-part string that V8 copies once more
 * (flattens) when the caller first reads or writes it.
 */
export function endLines(lines: string[]): string {
  lines.push('');
  return lines.join('\n');
}
