/**
 * `xenclaim simulate --html FILE`: one self-contained page with each strategy's timeline drawn — a row per request
 * (waiting from its arrival until admitted, building until running, or failed) and per demand (waiting until met),
 * on one time axis for every strategy, with the lower bound marked. No script, no external resource.
 */
import type { StrategyReport } from './run.js';

const ROW_PX = 22;
const LABEL_PX = 140;
const PLOT_PX = 760;
const AXIS_PX = 28;
const COLORS = { waiting: '#f2c14e', building: '#4e9af2', running: '#3cb371', failed: '#d9534f', demand: '#b088f9', bound: '#555' };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function niceStep(spanS: number): number {
  const raw = spanS / 8;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
}

function timeline(report: StrategyReport, spanS: number): string {
  const x = (s: number): number => LABEL_PX + (Math.min(s, spanS) / spanS) * PLOT_PX;
  const rows: string[] = [];
  const bar = (row: number, from: number, to: number, color: string, title: string): string =>
    `<rect x="${x(from).toFixed(1)}" y="${row * ROW_PX + 4}" width="${Math.max(1, x(to) - x(from)).toFixed(1)}" height="${ROW_PX - 8}" fill="${color}"><title>${escapeHtml(title)}</title></rect>`;
  let row = 0;
  for (const q of report.requests) {
    const label = `<text x="4" y="${row * ROW_PX + 15}">${escapeHtml(q.name)}</text>`;
    const end = q.runningAtS ?? q.failedAtS ?? spanS;
    const admitted = q.admittedAtS ?? end;
    const parts = [label, bar(row, q.requestedAtS, admitted, COLORS.waiting, `${q.name}: waiting ${q.requestedAtS}–${admitted} s`)];
    if (q.runningAtS !== null) {
      parts.push(bar(row, admitted, q.runningAtS, COLORS.building, `${q.name}: building ${admitted}–${q.runningAtS} s`));
      parts.push(bar(row, q.runningAtS, spanS, COLORS.running, `${q.name}: running from ${q.runningAtS} s`));
    } else {
      parts.push(
        `<circle cx="${x(end).toFixed(1)}" cy="${row * ROW_PX + ROW_PX / 2}" r="5" fill="${COLORS.failed}"><title>${escapeHtml(`${q.name}: failed at ${end} s: ${q.error ?? ''}`)}</title></circle>`,
      );
    }
    rows.push(parts.join(''));
    row++;
  }
  for (const d of report.demands) {
    const end = d.satisfiedAtS ?? spanS;
    rows.push(
      `<text x="4" y="${row * ROW_PX + 15}">${escapeHtml(`${d.guest} → ${d.targetMiB} MiB`)}</text>` +
        bar(row, d.requestedAtS, end, COLORS.demand, `${d.guest}: asked ${d.requestedAtS} s, ${d.satisfiedAtS === null ? 'never met' : `met at ${d.satisfiedAtS} s`}`),
    );
    row++;
  }
  const height = row * ROW_PX + AXIS_PX;
  const step = niceStep(spanS);
  const ticks: string[] = [];
  for (let t = 0; t <= spanS + 1e-9; t += step) {
    ticks.push(`<line x1="${x(t)}" y1="0" x2="${x(t)}" y2="${row * ROW_PX}" stroke="#ddd"/><text x="${x(t)}" y="${row * ROW_PX + 18}" text-anchor="middle">${Number(t.toFixed(3))} s</text>`);
  }
  const bound =
    report.lowerBoundS === null
      ? ''
      : `<line x1="${x(report.lowerBoundS)}" y1="0" x2="${x(report.lowerBoundS)}" y2="${row * ROW_PX}" stroke="${COLORS.bound}" stroke-dasharray="4 3"><title>lower bound ${report.lowerBoundS} s</title></line>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${LABEL_PX + PLOT_PX + 20}" height="${height}" font-family="sans-serif" font-size="12">${ticks.join('')}${rows.join('')}${bound}</svg>`;
}

/** The reports as one self-contained HTML page with every strategy's timeline drawn (`xenclaim simulate --html`). */
export function renderReportHtml(reports: readonly StrategyReport[]): string {
  const title = reports[0]?.scenario ?? 'no strategy was played';
  const ends = reports.flatMap((r) => [r.makespanS, r.lowerBoundS ?? 0, ...r.demands.map((d) => d.satisfiedAtS ?? d.requestedAtS)]);
  const spanS = Math.max(1, ...ends) * 1.05;
  const sections = reports.map(
    (r) => `<section><h2>${escapeHtml(r.strategy)}</h2>
<p>makespan ${r.makespanS} s · lower bound ${r.lowerBoundS ?? '–'} s · mean start ${r.meanStartLatencyS ?? '–'} s · started ${r.started} · failed ${r.failed} · balloon rounds ${r.balloonRounds} · leaked claim pages ${r.leakedClaimPages}</p>
${timeline(r, spanS)}</section>`,
  );
  const legend = Object.entries(COLORS)
    .map(([name, color]) => `<span><i style="background:${color}"></i>${name === 'bound' ? 'lower bound (dashed)' : name}</span>`)
    .join(' ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>xenclaim simulate: ${escapeHtml(title)}</title>
<style>body{font-family:sans-serif;margin:1.5em;color:#222}h1{font-size:1.3em}h2{font-size:1.1em;margin-bottom:.2em}p{margin:.2em 0 .6em}
.legend span{margin-right:1em}.legend i{display:inline-block;width:1em;height:.8em;margin-right:.3em;vertical-align:middle}</style></head>
<body><h1>${escapeHtml(title)}</h1><p class="legend">${legend}</p>
${sections.join('\n')}
</body></html>
`;
}
