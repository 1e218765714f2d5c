/**
 * What `xenclaim create` shows while it works: one line per step (claimed, building, ballooning, running, failed),
 * donors with a progress bar. In --json mode each event is one JSON object per line instead.
 */
import type { AdmissionEvent } from '../toolstack/events.js';

const BAR_WIDTH = 20;
/** A donor's bar is redrawn only when it moved by at least this fraction, so logs stay short. */
const BAR_STEP = 0.1;

function mib(kib: number): string {
  return `${Math.round(kib / 1024)} MiB`;
}

export function progressBar(fraction: number): string {
  const clamped = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const filled = Math.round(clamped * BAR_WIDTH);
  return `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${String(Math.round(clamped * 100)).padStart(3)}%`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1).padStart(6)}s`;
}

export class ProgressPrinter {
  private readonly shownFraction = new Map<number, number>();

  constructor(private readonly write: (line: string) => void) {}

  /** Prints the event's line, or nothing for events too fine-grained to show. */
  onEvent(event: AdmissionEvent): void {
    const line = this.describe(event);
    if (line !== null) this.write(`${seconds(event.atMs)}  ${line}\n`);
  }

  private describe(event: AdmissionEvent): string | null {
    switch (event.type) {
      case 'requested':
        return `${event.request}: requested, needs ${mib(event.needKiB)}`;
      case 'building':
        return `${event.request}: building${event.claim ? ' (claims first)' : ''}${event.attempt > 1 ? `, attempt ${event.attempt}` : ''}`;
      case 'admitted':
        return `${event.request}: ${event.via === 'claim' ? 'claimed' : `admitted by the ${event.via}`}`;
      case 'claim-refused':
        return `${event.request}: claim refused (${event.error.code ?? 'error'}): ballooning fallback`;
      case 'build-refused':
        return `${event.request}: build refused memory (${event.error.code ?? 'error'}): back to the queue`;
      case 'ballooning':
        return (
          `ballooning round ${event.round} (${event.method}) for ${event.request ?? 'the batch'}: short ${mib(event.shortfallKiB)}; ` +
          event.donors.map((d) => `${d.name} ${mib(d.fromKiB)} → ${mib(d.toKiB)}`).join(', ')
        );
      case 'donor-progress': {
        const last = this.shownFraction.get(event.domid);
        if (last !== undefined && Math.abs(event.fraction - last) < BAR_STEP && event.fraction < 1) return null;
        this.shownFraction.set(event.domid, event.fraction);
        return `  ${event.name.padEnd(16)} ${progressBar(event.fraction)} ${mib(event.totKiB)} → ${mib(event.targetKiB)}`;
      }
      case 'donor-uncooperative':
        return `  ${event.name}: no progress, marked uncooperative; replanning without it`;
      case 'donors-restored':
        return `donors restored: ${event.donors.map((d) => `${d.name} → ${mib(d.toKiB)}`).join(', ')}`;
      case 'limits-set':
        return `max_pages limited on ${event.limits.length} guest(s) (${event.reason})`;
      case 'limits-removed':
        return `max_pages limits removed from ${event.limits.length} guest(s)`;
      case 'running':
        return `${event.request}: running as domain ${event.domid}`;
      case 'gave-up':
        return `${event.request}: gave up: ${event.message}`;
      case 'failed':
        return `${event.request}: failed: ${event.error.message}`;
      case 'cleanup-failed':
        return `CLEANUP FAILED (${event.step}): ${event.error.message} — check the host`;
    }
  }
}
