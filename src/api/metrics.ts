/**
 * The daemon's Prometheus metrics (prom-client, one registry per daemon): admissions and their latency, ballooning,
 * uncooperative donors and failed cleanups from the host's events; the host's memory, read from Xen at each scrape;
 * the gate's load, the journal's open entries; HTTP requests; and Node's process metrics.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { XenHost } from '../host/xen-host.js';
import type { AdmissionEvent } from '../toolstack/events.js';

export interface MetricsSources {
  host: XenHost;
  gateLoad(): { running: number; waiting: number };
  journalOpenEntries(): number;
}

export class DaemonMetrics {
  readonly registry = new Registry();
  private readonly requested = new Map<string, number>();
  private readonly admissions: Counter<'outcome'>;
  private readonly latency: Histogram;
  private readonly balloonRounds: Counter;
  private readonly uncooperative: Counter;
  private readonly cleanupFailures: Counter;
  readonly http: Counter<'route' | 'status'>;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'xenclaim_process_' });
    this.admissions = new Counter({ name: 'xenclaim_admissions_total', help: 'Guest creations settled, by outcome (started, failed)', labelNames: ['outcome'], registers });
    this.latency = new Histogram({
      name: 'xenclaim_admission_seconds', help: 'From request to running, in seconds of the host\'s clock', registers,
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
    });
    this.balloonRounds = new Counter({ name: 'xenclaim_balloon_rounds_total', help: 'Ballooning rounds (new donor targets set)', registers });
    this.uncooperative = new Counter({ name: 'xenclaim_donors_uncooperative_total', help: 'Donors found making no progress', registers });
    this.cleanupFailures = new Counter({ name: 'xenclaim_cleanup_failures_total', help: 'Cleanup steps that failed twice (an operator may be needed)', registers });
    this.http = new Counter({ name: 'xenclaim_http_requests_total', help: 'API requests answered', labelNames: ['route', 'status'], registers });
    const host = sources.host;
    const memory = (name: string, help: string, read: (p: Awaited<ReturnType<XenHost['backend']['physinfo']>>) => number): void => {
      new Gauge({
        name, help, registers,
        async collect() {
          this.set(read(await host.backend.physinfo()));
        },
      });
    };
    memory('xenclaim_host_total_pages', 'Host memory, in 4 KiB pages', (p) => p.totalPages);
    memory('xenclaim_host_free_pages', 'Free pages, claimed or not (Xen\'s free_pages)', (p) => p.freePages);
    memory('xenclaim_host_outstanding_pages', 'Pages claimed and not yet allocated, host-wide', (p) => p.outstandingPages);
    new Gauge({ name: 'xenclaim_creations_running', help: 'Creations admitted by the gate and in flight', registers, collect() { this.set(sources.gateLoad().running); } });
    new Gauge({ name: 'xenclaim_creations_waiting', help: 'Creations waiting at the gate', registers, collect() { this.set(sources.gateLoad().waiting); } });
    new Gauge({ name: 'xenclaim_journal_open_entries', help: 'Journal entries of mutations still in flight', registers, collect() { this.set(sources.journalOpenEntries()); } });
    host.subscribe((event) => this.observe(event));
  }

  private observe(event: AdmissionEvent): void {
    switch (event.type) {
      case 'requested':
        this.requested.set(event.request, event.atMs);
        return;
      case 'running': {
        this.admissions.inc({ outcome: 'started' });
        const since = this.requested.get(event.request);
        if (since !== undefined) this.latency.observe((event.atMs - since) / 1000);
        this.requested.delete(event.request);
        return;
      }
      case 'failed':
      case 'gave-up':
        this.admissions.inc({ outcome: 'failed' });
        this.requested.delete(event.request);
        return;
      case 'ballooning':
        this.balloonRounds.inc();
        return;
      case 'donor-uncooperative':
        this.uncooperative.inc();
        return;
      case 'cleanup-failed':
        this.cleanupFailures.inc();
        return;
      default:
    }
  }
}
