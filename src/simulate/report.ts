/**
 * The simulator's text output: one summary row per strategy, then each strategy's timeline of requests and demands.
 * (`--json` prints the reports themselves: JSON.stringify(reports).)
 */
import { pagesToMiB } from '../units.js';
import type { StrategyReport } from './run.js';

function cell(value: number | string | null): string {
  if (value === null) return '-';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toFixed(3);
  return value;
}

function table(header: string[], rows: (number | string | null)[][]): string {
  const text = rows.map((row) => row.map(cell));
  const widths = header.map((h, i) => Math.max(h.length, ...text.map((row) => row[i]!.length)));
  const line = (row: string[]): string =>
    row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...text.map(line)].join('\n');
}

/** The reports as the table `xenclaim simulate` prints: one row per strategy. */
export function formatReportTable(reports: readonly StrategyReport[]): string {
  if (reports.length === 0) return 'no strategy was played';
  const out: string[] = [`scenario: ${reports[0]!.scenario}`, ''];
  out.push(
    table(
      ['strategy', 'makespan s', 'lower bound s', 'mean start s', 'started', 'failed', 'balloon rounds', 'claims', 'setMaxMem', 'peak claimed MiB', 'leaked claim pages'],
      reports.map((r) => [
        r.strategy,
        r.makespanS,
        r.lowerBoundS,
        r.meanStartLatencyS,
        r.started,
        r.failed,
        r.balloonRounds,
        r.hypercalls.claim ?? 0,
        r.hypercalls.setMaxMem ?? 0,
        Math.round(pagesToMiB(r.peakOutstandingPages) * 10) / 10,
        r.leakedClaimPages,
      ]),
    ),
  );
  for (const r of reports) {
    out.push('', `${r.strategy}:`);
    out.push(
      table(
        ['request', 'asked s', 'admitted s', 'running s', 'failed s', 'error'],
        r.requests.map((q) => [q.name, q.requestedAtS, q.admittedAtS, q.runningAtS, q.failedAtS, q.error === null ? null : truncate(q.error, 60)]),
      ),
    );
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
  out.push('', 'lower bound: no strategy could have every request running sooner, given only build and balloon rates.');
  return out.join('\n');
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
