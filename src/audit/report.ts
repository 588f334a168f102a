/**
 * The audit report as text (for people) and as one JSON object (for agents).
 */
import type { AuditResult } from './audit.js';
import type { Drift, Sample } from './compare.js';

const list = (s: Sample): string => `${s.first.join(', ')}${s.count > s.first.length ? ', …' : ''}`;

function counted(s: Sample, what: string, how: string): string {
  return `${s.count} ${what}${s.count === 1 ? '' : 's'} ${how}${s.count === 0 ? '' : ` (${list(s)})`}`;
}

/** One drift as lines of text (a changed chain with its diff, indented). */
function formatDrift(d: Drift): string[] {
  const head = `${d.object}: `;
  switch (d.kind) {
    case 'table-missing':
      return [`${head}table missing`];
    case 'table-extra':
      return [`${head}extra table (not in the model)`];
    case 'chain-missing':
      return [`${head}chain missing (${d.size} rule${d.size === 1 ? '' : 's'} wanted)`];
    case 'chain-extra':
      return [`${head}extra chain (not in the model; ${d.size} rule${d.size === 1 ? '' : 's'})`];
    case 'chain-changed':
      return [
        `${head}chain changed: ${d.missing!.count} rule${d.missing!.count === 1 ? '' : 's'} missing, ${d.extra!.count} extra`,
        ...d.diff!.replace(/\n$/, '').split('\n').map((l) => `    ${l}`),
      ];
    case 'hook-missing':
      return [`${head}hook missing: -A ${d.chain} ${d.rule}`];
    case 'hook-extra':
      return [`${head}extra hook: -A ${d.chain} ${d.rule}`];
    case 'hook-changed':
      return [`${head}hook changed: the model wants \`${d.want}\`, the host has \`${d.have}\``];
    case 'policy-changed':
      return [`${head}policy ${d.have}, the model wants ${d.want}`];
    case 'set-missing':
      return [`${head}set missing (${d.size} member${d.size === 1 ? '' : 's'} wanted)`];
    case 'set-extra':
      return [`${head}extra set (not in the model; ${d.size} member${d.size === 1 ? '' : 's'})`];
    case 'set-type':
      return [
        `${head}set of the wrong type: \`${d.have}\`, the model wants \`${d.want}\`` +
          // ipset swaps only sets of one type, and destroys or renames only unreferenced ones.
          (d.table === undefined ? ' (the repair moves its rules to a new set of the right type; audit again: the next repair moves them back to this name)' : ''),
      ];
    case 'members':
      return [`${head}members differ: ${counted(d.missing!, 'member', 'missing')}, ${counted(d.extra!, 'member', 'extra')}`];
    case 'elements':
      return [`${head}elements differ: ${counted(d.missing!, 'element', 'missing')}, ${counted(d.extra!, 'element', 'extra')}`];
  }
}

/** The text report: one entry per drift, the foreign objects with `all`, and the summary last. */
export function formatAudit(r: AuditResult, options: { all?: boolean } = {}): string {
  const lines: string[] = [];
  for (const d of r.drifts) lines.push(...formatDrift(d));
  if (options.all) {
    if (r.foreign.length === 0) lines.push('foreign objects (not compared): none');
    else lines.push('foreign objects (not compared):', ...r.foreign.map((f) => `  ${f.object}: ${f.detail}`));
  }
  lines.push(r.summary, '');
  return lines.join('\n');
}

/** The JSON report: `foreign` only with `all`, `repair` (file texts) only when asked for. */
export function auditJson(r: AuditResult, options: { all?: boolean; repair?: boolean } = {}): object {
  return {
    backend: r.backend,
    inSync: r.inSync,
    summary: r.summary,
    checked: r.checked,
    drifts: r.drifts,
    ...(options.all && { foreign: r.foreign }),
    ...(options.repair && { repair: r.repair().files }),
  };
}
