/**
 * The simulator's text output: one comparison row per strategy and peer model (peer models labelled as models), both
 * bounds and each one's ratio to the tight bound, then each one's requests — as a timeline when there are few, as the
 * failures and the slowest starts when there are many. (`--json` prints the reports themselves.)
 */
import { admitterLabel } from '../toolstack/strategy-name.js';
import { pagesToMiB } from '../units.js';
import type { StrategyReport } from './run.js';

/** Up to this many requests, each admitter's requests are listed one by one. */
const LISTED_REQUESTS = 12;

function cell(value: number | string | null): string {
  if (value === null) return '-';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toFixed(3).replace(/\.?0+$/, '');
  return value;
}

/** Numbers right-aligned; the first column and any column of text (an error) left-aligned. */
function table(header: string[], rows: (number | string | null)[][]): string {
  const text = rows.map((row) => row.map(cell));
  const widths = header.map((h, i) => Math.max(h.length, ...text.map((row) => row[i]!.length)));
  const left = header.map((_, i) => i === 0 || rows.some((row) => typeof row[i] === 'string'));
  const line = (row: string[]): string =>
    row.map((c, i) => (left[i] ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...text.map(line)].join('\n');
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The comparison: one row per admitter. */
export function formatComparison(reports: readonly StrategyReport[]): string {
  const first = reports[0]!;
  return table(
    ['strategy', 'makespan s', 'tight bound s', 'ratio', 'rate-only bound s', 'mean start s', 'started', 'failed', 'balloon rounds', 'claims', 'peak claimed MiB', 'leaked claim pages'],
    reports.map((r) => [
      admitterLabel(r.strategy),
      r.makespanS,
      r.tightBoundS,
      r.ratio,
      r.lowerBoundS,
      r.meanStartLatencyS,
      r.started,
      r.failed,
      r.balloonRounds,
      r.hypercalls.claim ?? 0,
      Math.round(pagesToMiB(r.peakOutstandingPages) * 10) / 10,
      r.leakedClaimPages,
    ]),
  ) + (first.tightBoundS !== null && !first.tightBoundExact ? '\n(the tight bound is a proven relaxation here: a start rate and many requests)' : '');
}

function requestsOf(r: StrategyReport): string[] {
  if (r.requests.length <= LISTED_REQUESTS) {
    const out = [
      table(
        ['request', 'asked s', 'admitted s', 'running s', 'alone s', 'failed s', 'error'],
        r.requests.map((q) => [q.name, q.requestedAtS, q.admittedAtS, q.runningAtS, q.aloneS, q.failedAtS, q.error === null ? null : truncate(q.error, 70)]),
      ),
    ];
    return out;
  }
  const failed = r.requests.filter((q) => q.error !== null);
  const slowest = r.requests.filter((q) => q.runningAtS !== null).sort((a, b) => b.runningAtS! - b.requestedAtS - (a.runningAtS! - a.requestedAtS)).slice(0, 3);
  const out = [`${r.requests.length} requests: ${r.started} started, ${failed.length} failed`];
  for (const q of slowest) out.push(`  slowest: ${q.name} asked at ${q.requestedAtS} s, running at ${q.runningAtS} s (alone: ${cell(q.aloneS)} s)`);
  for (const q of failed.slice(0, 5)) out.push(`  failed: ${q.name} at ${q.failedAtS} s: ${truncate(q.error!, 100)}`);
  if (failed.length > 5) out.push(`  … and ${failed.length - 5} more failed`);
  return out;
}

/** The reports as the table `xenclaim simulate` prints: the comparison, then each admitter's requests. */
export function formatReportTable(reports: readonly StrategyReport[]): string {
  if (reports.length === 0) return 'no strategy was played';
  const out: string[] = [`scenario: ${reports[0]!.scenario}`, '', formatComparison(reports)];
  for (const r of reports) {
    out.push('', `${admitterLabel(r.strategy)}:`, ...requestsOf(r));
    if (r.demands.length > 0) {
      out.push(
        table(
          ['demand', 'target MiB', 'asked s', 'satisfied s'],
          r.demands.map((d) => [d.guest, d.targetMiB, d.requestedAtS, d.satisfiedAtS]),
        ),
      );
    }
    if (r.invariantViolations.length > 0) out.push(`INVARIANTS VIOLATED: ${r.invariantViolations.join('; ')}`);
  }
  out.push(
    '',
    'tight bound: the earliest every request could be running if each guest starts building only once its whole',
    'allocation is free, given the build and balloon rates and which donors are stuck (docs/bounds.md); ratio:',
    'makespan / tight bound, for those that started every request that can run. rate-only bound: the same without',
    'all-or-nothing admission. alone: the earliest a request could run were it alone on the host.',
  );
  if (reports.some((r) => r.kind === 'peer-model')) {
    out.push('(model): a model of that toolstack, following its source (docs/peers.md), not the toolstack itself.');
  }
  return out.join('\n');
}
