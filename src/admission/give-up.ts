/**
 * What an operator is told when the ballooning fallback gives up: how much was needed (and kept free for Xen), how
 * much was found, which donors were asked, what they gave, which did not cooperate and what is really left — as a
 * structured report (for --json and logs) and one paragraph. Every sentence is a fact of the report: "no eligible
 * donor has anything left" only when nothing is left. Pure: built from the wait's state and the last plan.
 */
import { XenError } from '../errors.js';
import type { BalloonPlan } from './balloon-plan.js';
import { donorRates, freedPages, type GiveUpCause, type WaitState } from './progress.js';
import { kibToPagesCeil, pagesToMiB } from '../units.js';

/** A donor the wait asked for memory, and what it gave (pages). */
export interface AskedDonorReport {
  domid: number;
  name: string;
  /** Its target before it was asked (what a failed creation restores). */
  originalKiB: number;
  /** The last target it was asked to reach. */
  askedKiB: number;
  /** What it actually gave while we waited. */
  gavePages: number;
}

/** A donor that made no progress for the stall timeout, and where it stopped. */
export interface UncooperativeDonorReport {
  domid: number;
  name: string;
  /** Where it stopped, and where it had been asked to go. */
  totPages: number;
  targetPages: number;
  /** How long after the wait began it was declared uncooperative. */
  markedAfterMs: number;
}

/** Why a guest could not be admitted, in pages and ms: what it needed, what was found and freed, who was asked. */
export interface GiveUpReport {
  /** The guest that could not be admitted. */
  request: string;
  cause: GiveUpCause;
  neededPages: number;
  /** Kept free for Xen itself on top of the need (the policy's reserve). */
  reservePages: number;
  /** The headroom (free − outstanding claims, less what was already promised) at the last observation. */
  foundPages: number;
  /** What the asked donors gave in total. */
  freedPages: number;
  /** What the eligible donors could still have given (tot − floor) at the last plan, where known. */
  reclaimablePages: number | null;
  elapsedMs: number;
  stallTimeoutMs: number;
  /** The operator's wall-time limit of the wait (null: none). */
  maxWaitMs: number | null;
  /** The donors' observed rates together, pages per second, where known ('too-slow' says how slow). */
  ratePagesPerS: number | null;
  donorsAsked: AskedDonorReport[];
  uncooperative: UncooperativeDonorReport[];
}

export interface GiveUpInput {
  request: string;
  cause: GiveUpCause;
  wait: WaitState;
  nowMs: number;
  /** The last plan made, for how much could still have been freed. */
  lastPlan?: BalloonPlan;
}

export function buildGiveUpReport(input: GiveUpInput): GiveUpReport {
  const { wait } = input;
  return {
    request: input.request,
    cause: input.cause,
    neededPages: wait.needPages,
    reservePages: input.lastPlan ? input.lastPlan.reservePages : wait.reservePages,
    foundPages: Math.max(0, wait.lastHeadroomPages),
    freedPages: freedPages(wait),
    reclaimablePages: input.lastPlan ? input.lastPlan.reclaimablePages : null,
    elapsedMs: input.nowMs - wait.startedMs,
    stallTimeoutMs: wait.config.stallTimeoutMs,
    maxWaitMs: wait.config.maxWaitMs,
    ratePagesPerS: totalRate(wait),
    donorsAsked: wait.asked.map((a) => ({
      domid: a.domid,
      name: a.name,
      originalKiB: a.originalKiB,
      askedKiB: a.lastTargetKiB,
      gavePages: Math.max(0, a.firstTotPages - a.lowestTotPages),
    })),
    uncooperative: wait.uncooperative.map((u) => ({
      domid: u.domid,
      name: u.name,
      totPages: u.totPages,
      targetPages: u.targetPages,
      markedAfterMs: u.markedAtMs - wait.startedMs,
    })),
  };
}

function totalRate(wait: WaitState): number | null {
  const watched = new Set(wait.donors.map((d) => d.domid));
  const rates = [...donorRates(wait)].filter(([domid]) => watched.has(domid)).map(([, rate]) => rate);
  return rates.length === 0 ? null : rates.reduce((a, b) => a + b, 0);
}

function mib(pages: number): string {
  const value = pagesToMiB(pages);
  return `${Number.isInteger(value) ? value : value.toFixed(1)} MiB`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** One paragraph for the operator: only what the report says. */
export function giveUpMessage(report: GiveUpReport): string {
  const parts: string[] = [];
  const reserve = report.reservePages > 0 ? ` plus the ${mib(report.reservePages)} kept free for Xen` : '';
  const missing = Math.max(0, report.neededPages + report.reservePages - report.foundPages);
  parts.push(
    `Cannot admit guest "${report.request}": it needs ${mib(report.neededPages)} (${report.neededPages} pages)${reserve} ` +
      `but only ${mib(report.foundPages)} of free memory (free minus outstanding claims) could be found`,
  );
  if (report.donorsAsked.length === 0) {
    parts[0] +=
      report.reclaimablePages === null
        ? '; no guest was asked to balloon.'
        : report.reclaimablePages === 0
          ? '; no eligible guest has anything above its floor, so no guest was asked to balloon.'
          : `; ballooning every eligible guest down to its floor would free at most ${mib(report.reclaimablePages)}, ` +
            `less than the ${mib(missing)} missing, so no guest was asked to balloon.`;
  } else {
    parts[0] += ` after ${seconds(report.elapsedMs)} of ballooning (${mib(report.freedPages)} freed).`;
    const asked = report.donorsAsked.map(
      (d) =>
        `${d.name} (domid ${d.domid}: target ${mib(kibToPagesCeil(d.originalKiB))} → ${mib(kibToPagesCeil(d.askedKiB))}, ` +
        `gave ${mib(d.gavePages)})`,
    );
    parts.push(`Asked ${report.donorsAsked.length} donor(s): ${asked.join(', ')}.`);
  }
  if (report.uncooperative.length > 0) {
    const stuck = report.uncooperative.map(
      (u) =>
        `${u.name} (domid ${u.domid}: stopped at ${mib(u.totPages)}, asked for ${mib(u.targetPages)}, ` +
        `marked after ${seconds(u.markedAfterMs)})`,
    );
    parts.push(`Did not cooperate (no progress for ${seconds(report.stallTimeoutMs)}): ${stuck.join(', ')}.`);
  }
  if (report.cause === 'max-wait') {
    parts.push(`The wait limit of ${seconds(report.maxWaitMs ?? 0)} ran out.`);
  } else if (report.cause === 'too-slow') {
    const rate = report.ratePagesPerS === null ? 'the observed rates' : `the observed ${mib(report.ratePagesPerS)}/s`;
    parts.push(`At ${rate} the ${mib(missing)} still missing cannot be freed within the wait limit of ${seconds(report.maxWaitMs ?? 0)}.`);
  } else if (report.donorsAsked.length > 0 && report.reclaimablePages !== null) {
    parts.push(
      report.reclaimablePages === 0
        ? 'No eligible donor has anything left above its floor.'
        : `The eligible donors have only ${mib(report.reclaimablePages)} left above their floors, less than the ${mib(missing)} still missing.`,
    );
  }
  parts.push(
    'Free memory by stopping a guest, lower some guests\' floors (minMiB), or retry when other builds have finished.',
  );
  return parts.join(' ');
}

/** The error a failed admission throws: ENOMEM, with the report for programs and the paragraph for people. */
export class AdmissionError extends XenError {
  readonly report: GiveUpReport;

  constructor(report: GiveUpReport) {
    super(giveUpMessage(report), { code: 'ENOMEM', op: 'admit' });
    this.name = 'AdmissionError';
    this.report = report;
  }
}
