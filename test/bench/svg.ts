/**
 * A hand-written SVG line chart (no dependency): two log-log panels side by side, iptables
 * rules and compile time against members.
 */

export interface Series {
  readonly name: string;
  readonly color: string;
  readonly dashed?: boolean;
  readonly points: readonly { readonly x: number; readonly y: number }[];
}

const W = 460;
const H = 340;
const M = { left: 64, right: 16, top: 40, bottom: 52 };

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number): string => (v >= 1e6 ? `${v / 1e6}M` : v >= 1e3 ? `${v / 1e3}k` : `${v}`);

/** Decades covering [min, max]. */
function decades(min: number, max: number): number[] {
  const lo = Math.floor(Math.log10(min));
  const hi = Math.ceil(Math.log10(max));
  return Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i));
}

function panel(title: string, yLabel: string, xLabel: string, series: readonly Series[], dx: number): string {
  const pts = series.flatMap((s) => s.points).filter((p) => p.x > 0 && p.y > 0);
  if (pts.length === 0) return '';
  const xs = decades(Math.min(...pts.map((p) => p.x)), Math.max(...pts.map((p) => p.x)));
  const ys = decades(Math.min(...pts.map((p) => p.y)), Math.max(...pts.map((p) => p.y)));
  const [x0, x1] = [Math.log10(xs[0]!), Math.log10(xs[xs.length - 1]!)];
  const [y0, y1] = [Math.log10(ys[0]!), Math.log10(ys[ys.length - 1]!)];
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const px = (x: number): number => dx + M.left + ((Math.log10(x) - x0) / (x1 - x0 || 1)) * pw;
  const py = (y: number): number => M.top + ph - ((Math.log10(y) - y0) / (y1 - y0 || 1)) * ph;
  const out: string[] = [];
  out.push(`<text x="${dx + W / 2}" y="22" text-anchor="middle" font-weight="bold">${esc(title)}</text>`);
  for (const x of xs) {
    out.push(`<line x1="${px(x).toFixed(1)}" y1="${M.top}" x2="${px(x).toFixed(1)}" y2="${M.top + ph}" stroke="#ddd"/>`);
    out.push(`<text x="${px(x).toFixed(1)}" y="${M.top + ph + 16}" text-anchor="middle">${fmt(x)}</text>`);
  }
  for (const y of ys) {
    out.push(`<line x1="${dx + M.left}" y1="${py(y).toFixed(1)}" x2="${dx + M.left + pw}" y2="${py(y).toFixed(1)}" stroke="#ddd"/>`);
    out.push(`<text x="${dx + M.left - 6}" y="${(py(y) + 4).toFixed(1)}" text-anchor="end">${fmt(y)}</text>`);
  }
  out.push(`<rect x="${dx + M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${dx + M.left + pw / 2}" y="${H - 12}" text-anchor="middle">${esc(xLabel)}</text>`);
  out.push(`<text transform="translate(${dx + 16},${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  series.forEach((s, i) => {
    const p = s.points.filter((q) => q.x > 0 && q.y > 0).sort((a, b) => a.x - b.x);
    if (p.length === 0) return;
    const d = p.map((q, k) => `${k === 0 ? 'M' : 'L'}${px(q.x).toFixed(1)},${py(q.y).toFixed(1)}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5,4"' : ''}/>`);
    for (const q of p) out.push(`<circle cx="${px(q.x).toFixed(1)}" cy="${py(q.y).toFixed(1)}" r="3" fill="${s.color}"/>`);
    const ly = M.top + 14 + i * 16;
    out.push(`<line x1="${dx + M.left + 10}" y1="${ly - 4}" x2="${dx + M.left + 30}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5,4"' : ''}/>`);
    out.push(`<text x="${dx + M.left + 36}" y="${ly}">${esc(s.name)}</text>`);
  });
  return out.join('\n');
}

export function scalingSvg(caption: string, rules: readonly Series[], times: readonly Series[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${H + 20}" viewBox="0 0 ${2 * W} ${H + 20}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    panel('iptables rules', 'rules (-A lines, v4 + v6)', 'members M (log)', rules, 0),
    panel('compile time', 'ms (warm median, log)', 'members M (log)', times, W),
    `<text x="${W}" y="${H + 14}" text-anchor="middle" fill="#555">${esc(caption)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
