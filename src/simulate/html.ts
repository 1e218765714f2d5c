/**
 * `xenclaim simulate --html FILE`: one self-contained page (no script, nothing to load) comparing every strategy and
 * peer model played, side by side on one time axis. Per admitter: its timeline — a row per request (waiting from its
 * arrival until admitted, building until running, or failed) and per demand, with both bounds marked — and the
 * host's memory over time: free, claimed, and every donor's size, so that why a request waited can be seen. Why each
 * request waited and why any failed are written out in the page's text, not only in tooltips.
 */
import { admitterLabel } from '../toolstack/strategy-name.js';
import type { MemoryTimeline, Point } from './recorder.js';
import type { StrategyReport } from './run.js';

const ROW_PX = 20;
const LABEL_PX = 120;
const PLOT_PX = 480;
const AXIS_PX = 26;
const MEMORY_PX = 180;
/** Beyond this many requests, the timeline draws one row per request but no labels. */
const LABELLED_ROWS = 40;
const COLORS = {
  waiting: '#f2c14e', building: '#4e9af2', running: '#3cb371', failed: '#d9534f', demand: '#b088f9',
  tight: '#222', rate: '#999', free: '#2e8b57', claimed: '#e07b00',
};
const DONOR_COLORS = ['#6a5acd', '#c71585', '#20b2aa', '#8b4513', '#4682b4', '#9acd32', '#ff6347', '#708090'];

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function niceStep(span: number): number {
  const raw = span / 6;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
}

function fmt(n: number): string {
  return String(Number(n.toFixed(3)));
}

/** The time axis shared by both charts of an admitter: vertical grid lines and labels under `height`. */
function timeAxis(x: (s: number) => number, spanS: number, height: number): string {
  const step = niceStep(spanS);
  const ticks: string[] = [];
  for (let t = 0; t <= spanS + 1e-9; t += step) {
    ticks.push(`<line x1="${x(t).toFixed(1)}" y1="0" x2="${x(t).toFixed(1)}" y2="${height}" stroke="#e4e4e4"/>` +
      `<text x="${x(t).toFixed(1)}" y="${height + 16}" text-anchor="middle">${fmt(t)} s</text>`);
  }
  return ticks.join('');
}

function boundLines(report: StrategyReport, x: (s: number) => number, height: number): string {
  const line = (s: number | null, color: string, what: string): string =>
    s === null ? '' : `<line class="bound" x1="${x(s).toFixed(1)}" y1="0" x2="${x(s).toFixed(1)}" y2="${height}" stroke="${color}" stroke-dasharray="4 3"><title>${what} ${s} s</title></line>`;
  return line(report.tightBoundS, COLORS.tight, 'tight bound') + line(report.lowerBoundS, COLORS.rate, 'rate-only bound');
}

function timeline(report: StrategyReport, spanS: number): string {
  const x = (s: number): number => LABEL_PX + (Math.min(s, spanS) / spanS) * PLOT_PX;
  const labelled = report.requests.length + report.demands.length <= LABELLED_ROWS;
  const rowPx = labelled ? ROW_PX : Math.max(2, Math.min(ROW_PX, Math.floor(600 / (report.requests.length + report.demands.length))));
  const bar = (row: number, from: number, to: number, color: string, title: string): string =>
    `<rect x="${x(from).toFixed(1)}" y="${row * rowPx + (labelled ? 3 : 0)}" width="${Math.max(1, x(to) - x(from)).toFixed(1)}" height="${labelled ? rowPx - 6 : Math.max(1, rowPx - 1)}" fill="${color}"><title>${escapeHtml(title)}</title></rect>`;
  const label = (row: number, text: string): string => (labelled ? `<text x="4" y="${row * rowPx + 14}">${escapeHtml(text)}</text>` : '');
  const rows: string[] = [];
  let row = 0;
  for (const q of report.requests) {
    const end = q.runningAtS ?? q.failedAtS ?? spanS;
    const admitted = q.admittedAtS ?? end;
    const parts = [label(row, q.name), bar(row, q.requestedAtS, admitted, COLORS.waiting, `${q.name}: waiting ${q.requestedAtS}–${admitted} s`)];
    if (q.runningAtS !== null) {
      parts.push(bar(row, admitted, q.runningAtS, COLORS.building, `${q.name}: building ${admitted}–${q.runningAtS} s`));
      parts.push(bar(row, q.runningAtS, spanS, COLORS.running, `${q.name}: running from ${q.runningAtS} s`));
    } else {
      parts.push(`<circle cx="${x(end).toFixed(1)}" cy="${row * rowPx + rowPx / 2}" r="${labelled ? 5 : 2}" fill="${COLORS.failed}"><title>${escapeHtml(`${q.name}: failed at ${end} s: ${q.error ?? ''}`)}</title></circle>`);
    }
    rows.push(parts.join(''));
    row++;
  }
  for (const d of report.demands) {
    const end = d.satisfiedAtS ?? spanS;
    rows.push(label(row, `${d.guest} → ${d.targetMiB} MiB`) +
      bar(row, d.requestedAtS, end, COLORS.demand, `${d.guest}: asked ${d.requestedAtS} s, ${d.satisfiedAtS === null ? 'never met' : `met at ${d.satisfiedAtS} s`}`));
    row++;
  }
  const height = row * rowPx;
  const width = LABEL_PX + PLOT_PX + 20;
  return `<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height + AXIS_PX}" width="100%" font-family="sans-serif" font-size="11">` +
    `${timeAxis(x, spanS, height)}${rows.join('')}${boundLines(report, x, height)}</svg>`;
}

function polyline(points: readonly Point[], x: (s: number) => number, y: (mib: number) => number, spanS: number): string {
  const drawn = points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`);
  const last = points[points.length - 1];
  if (last !== undefined && last[0] < spanS) drawn.push(`${x(spanS).toFixed(1)},${y(last[1]).toFixed(1)}`);
  return drawn.join(' ');
}

/** Free and claimed memory and every donor's size over time. */
function memoryChart(memory: MemoryTimeline, spanS: number): string {
  const x = (s: number): number => LABEL_PX + (Math.min(s, spanS) / spanS) * PLOT_PX;
  const all = [memory.freeMiB, memory.claimedMiB, ...memory.donors.map((d) => d.points)];
  const top = Math.max(1, ...all.map((points) => points.reduce((m, p) => Math.max(m, p[1]), 0))) * 1.05;
  const y = (mib: number): number => MEMORY_PX - (mib / top) * MEMORY_PX;
  const lines: string[] = [];
  memory.donors.forEach((d, i) => {
    lines.push(`<polyline class="donor" points="${polyline(d.points, x, y, spanS)}" fill="none" stroke="${DONOR_COLORS[i % DONOR_COLORS.length]}" stroke-width="1"><title>${escapeHtml(`${d.name} (domid ${d.domid})`)}</title></polyline>`);
  });
  lines.push(`<polyline class="free" points="${polyline(memory.freeMiB, x, y, spanS)}" fill="none" stroke="${COLORS.free}" stroke-width="2"><title>host free memory</title></polyline>`);
  lines.push(`<polyline class="claimed" points="${polyline(memory.claimedMiB, x, y, spanS)}" fill="none" stroke="${COLORS.claimed}" stroke-width="2"><title>outstanding claims</title></polyline>`);
  const yTicks: string[] = [];
  const step = niceStep(top);
  for (let v = 0; v <= top; v += step) {
    yTicks.push(`<text x="${LABEL_PX - 4}" y="${y(v).toFixed(1)}" text-anchor="end" dominant-baseline="middle">${fmt(v)} MiB</text>`);
  }
  const width = LABEL_PX + PLOT_PX + 20;
  return `<svg class="memory" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${MEMORY_PX + AXIS_PX}" width="100%" font-family="sans-serif" font-size="11">` +
    `${timeAxis(x, spanS, MEMORY_PX)}${yTicks.join('')}${lines.join('')}</svg>`;
}

function donorLegend(memory: MemoryTimeline): string {
  const shown = memory.donors.slice(0, 12).map((d, i) =>
    `<span><i style="background:${DONOR_COLORS[i % DONOR_COLORS.length]}"></i>${escapeHtml(d.name)}</span>`);
  const more = memory.donors.length > 12 ? ` and ${memory.donors.length - 12} more donors` : '';
  const still = memory.unchangedDonors > 0 ? `; ${memory.unchangedDonors} guest(s) never changed size (not drawn)` : '';
  return `<p class="legend"><span><i style="background:${COLORS.free}"></i>free</span><span><i style="background:${COLORS.claimed}"></i>claimed</span>${shown.join('')}${more}${still}</p>`;
}

/** Why requests waited and why any failed, as text. */
function story(report: StrategyReport): string {
  const failed = report.requests.filter((q) => q.error !== null);
  const failures = failed.length === 0
    ? '<p>No request failed.</p>'
    : `<ul class="failures">${failed.slice(0, 20).map((q) => `<li><b>${escapeHtml(q.name)}</b> failed at ${q.failedAtS} s: ${escapeHtml(q.error!)}</li>`).join('')}${failed.length > 20 ? `<li>… and ${failed.length - 20} more</li>` : ''}</ul>`;
  const waited = report.requests
    .filter((q) => q.steps.length > 0)
    .map((q) => ({ q, waitS: (q.admittedAtS ?? q.failedAtS ?? q.requestedAtS) - q.requestedAtS }))
    .sort((a, b) => b.waitS - a.waitS)
    .slice(0, 10)
    .map(({ q, waitS }) => `<li><b>${escapeHtml(q.name)}</b> waited ${fmt(waitS)} s:<ol>${q.steps.map((s) => `<li>${s.atS} s: ${escapeHtml(s.what)}</li>`).join('')}</ol></li>`);
  const host = report.hostSteps.length === 0 ? '' : `<p>Host-wide: ${report.hostSteps.slice(0, 10).map((s) => `${s.atS} s: ${escapeHtml(s.what)}`).join('; ')}${report.hostSteps.length > 10 ? '; …' : ''}</p>`;
  return `${failures}<details><summary>Why requests waited (the ${waited.length} that waited longest)</summary><ul class="steps">${waited.join('')}</ul>${host}</details>`;
}

function summary(r: StrategyReport): string {
  return `<p>makespan ${r.makespanS} s · tight bound ${r.tightBoundS ?? '–'} s · ratio ${r.ratio ?? '–'} · rate-only bound ${r.lowerBoundS ?? '–'} s · ` +
    `mean start ${r.meanStartLatencyS ?? '–'} s · started ${r.started} · failed ${r.failed} · balloon rounds ${r.balloonRounds} · leaked claim pages ${r.leakedClaimPages}</p>`;
}

/** The reports as one self-contained HTML page with every strategy's timeline drawn (`xenclaim simulate --html`). */
export function renderReportHtml(reports: readonly StrategyReport[]): string {
  const title = reports[0]?.scenario ?? 'no strategy was played';
  const ends = reports.flatMap((r) => [r.makespanS, r.tightBoundS ?? 0, r.lowerBoundS ?? 0, ...r.demands.map((d) => d.satisfiedAtS ?? d.requestedAtS)]);
  const spanS = Math.max(1, ...ends) * 1.05;
  const sections = reports.map((r) => `<section class="admitter" data-strategy="${escapeHtml(r.strategy)}">
<h2>${escapeHtml(admitterLabel(r.strategy))}</h2>
${summary(r)}
${timeline(r, spanS)}
<h3>Host memory</h3>
${memoryChart(r.memory, spanS)}
${donorLegend(r.memory)}
${story(r)}
${r.invariantViolations.length > 0 ? `<p class="violations">Left behind: ${escapeHtml(r.invariantViolations.join('; '))}</p>` : ''}
</section>`);
  const legend = [['waiting', COLORS.waiting], ['building', COLORS.building], ['running', COLORS.running], ['failed', COLORS.failed],
    ['demand', COLORS.demand], ['tight bound (dashed)', COLORS.tight], ['rate-only bound (dashed)', COLORS.rate]]
    .map(([name, color]) => `<span><i style="background:${color}"></i>${name}</span>`).join(' ');
  const peers = reports.some((r) => r.kind === 'peer-model')
    ? '<p>“(model)”: a model of that toolstack, following its source (docs/peers.md), not the toolstack itself.</p>'
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>xenclaim simulate: ${escapeHtml(title)}</title>
<style>body{font-family:sans-serif;margin:1.5em;color:#222}h1{font-size:1.3em}h2{font-size:1.1em;margin:.2em 0}h3{font-size:.95em;margin:.6em 0 .2em}
p{margin:.2em 0 .6em}.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:1.5em}
section{border:1px solid #ddd;border-radius:4px;padding:.8em}.legend span{margin-right:1em;white-space:nowrap}
.legend i{display:inline-block;width:1em;height:.8em;margin-right:.3em;vertical-align:middle}.failures{color:#a33}
.violations{color:#a33}ol{margin:.2em 0}</style></head>
<body><h1>${escapeHtml(title)}</h1>
<p>The tight bound is the earliest every request could be running if each guest starts building only once its whole allocation is free, given the build and balloon rates and which donors are stuck (docs/bounds.md); ratio = makespan / tight bound.</p>
${peers}<p class="legend">${legend}</p>
<div class="grid">
${sections.join('\n')}
</div>
</body></html>
`;
}
