/**
 * Crash recovery, decided: a pure function of what the journal says was in flight when the daemon died and what Xen
 * shows now, returning the repairs that leave nothing behind — destroy half-built guests, cancel claims no live
 * build needs, give donors back what a request that never started asked of them, lift max_pages limits, thaw tmem.
 * The daemon carries the repairs out through the mutation port, each journaled and logged
 * (docs/daemon.md#crash-recovery). Nothing here does I/O.
 *
 * A mutation whose outcome the journal never saw (the daemon died during the call) may or may not have happened;
 * it is judged from Xen's state: a target change happened iff the donor's target is the value it would have set; a
 * build finished iff its guest is running (unpaused) — a build leaves the domain paused until its last step.
 */
import type { DomainInfo } from '../backend.js';
import { pagesToKiB } from '../units.js';

/** Why a max_pages limit was set (src/toolstack/mutations.ts's LimitReason, repeated here: recovery is below it). */
export type LimitReason = 'batch' | 'donor' | 'model';

/** A mutation intent as the journal keeps it (the mutation port's intents: src/toolstack/mutations.ts). */
export interface RecordedIntent {
  kind: string;
  domid?: number;
  name?: string | null;
  request?: string | null;
  fromKiB?: number;
  toKiB?: number;
  byKiB?: number;
  pages?: number;
  paused?: boolean;
  /** limit-max-pages, restore-max-pages: the guest's max_pages before any limit (KiB), why, and who held it. */
  originalKiB?: number;
  reason?: string;
  holder?: string;
  /** keep-for-line: what the request keeps of its line's donor changes if its guest runs (KiB), and its name. */
  keepKiB?: number;
  keeper?: string;
  /** A donor change pooled for claim-first's line (a keep-for-line moved it there), or a keep-for-line itself. */
  line?: boolean;
  /** keep-for-line: the line is over, its pool closed (the journal keeps no such entry open). */
  lineEnds?: boolean;
}

/** One journaled mutation still open (its request had not settled when the daemon stopped). */
export interface JournalEntry {
  /** Order in the journal, from 1. */
  seq: number;
  intent: RecordedIntent;
  /** raise-target: the donor's target before and after, in KiB, as the journal knew it when the intent was written. */
  expectTargetKiB?: { from: number; to: number };
  outcome: 'pending' | 'ok' | 'failed';
}

/** A repair, in the mutation port's terms; `why` says what in the journal and in Xen called for it. */
export type Repair =
  | { kind: 'destroy-guest'; domid: number; name: string | null; why: string }
  | { kind: 'cancel-claim'; domid: number; name: string | null; why: string }
  | { kind: 'restore-max-pages'; domid: number; name: string; fromKiB: number; toKiB: number; reason: LimitReason; why: string }
  | { kind: 'raise-target'; domid: number; name: string; request: string | null; byKiB: number; why: string }
  | { kind: 'thaw-tmem'; why: string }
  | { kind: 'cap-tmem'; pages: number; why: string };

/** tmem's "no cap" (what limit-and-check restores). */
export const TMEM_NO_CAP = Number.MAX_SAFE_INTEGER;

/** Everything the repairs are decided from. */
export interface RecoveryInput {
  /** The journal's open entries, in seq order. */
  entries: readonly JournalEntry[];
  /** Xen's domain list now (dying domains included). */
  domains: readonly DomainInfo[];
}

/** A change of a donor's balloon target the toolstack made for a request (or the host): lower-target, raise-target. */
export function isDonorChange(intent: RecordedIntent): boolean {
  return intent.kind === 'lower-target' || intent.kind === 'raise-target';
}

/** The request an entry belongs to: a build's guest name, a donor change's request; null for host-wide changes. */
export function requestOf(intent: RecordedIntent): string | null {
  if (intent.kind === 'build-guest') return intent.name ?? null;
  if (isDonorChange(intent)) return intent.request ?? null;
  return null;
}

/**
 * The repairs, in the order they are to be made: half-built guests destroyed first (that drops their claims and
 * frees their memory), then claims, limits, donors' targets, tmem. Empty when nothing was left behind.
 */
export function planRecovery(input: RecoveryInput): Repair[] {
  const live = input.domains.filter((d) => !d.dying);
  const byDomid = new Map(live.map((d) => [d.domid, d]));
  const byName = new Map(live.filter((d) => d.name !== undefined).map((d) => [d.name!, d]));
  const destroyed = new Set<number>();
  const repairs: Repair[] = [];

  // Requests that never started: their half-built guests go, and their donors get back what was asked of them.
  const requests = new Map<string | null, JournalEntry[]>();
  const linePool: JournalEntry[] = [];
  for (const entry of input.entries) {
    const kind = entry.intent.kind;
    if (entry.intent.line === true) {
      linePool.push(entry);
      continue;
    }
    if (kind !== 'build-guest' && !isDonorChange(entry.intent)) continue;
    const request = requestOf(entry.intent);
    requests.set(request, [...(requests.get(request) ?? []), entry]);
  }
  const started = new Set<string>();
  for (const [request, entries] of requests) {
    if (request === null) continue;
    const builds = entries.filter((e) => e.intent.kind === 'build-guest');
    const guest = byName.get(request);
    const finished = builds.some((b) => b.outcome === 'ok')
      || builds.some((b) => b.outcome === 'pending' && guest !== undefined && !guest.paused && b.intent.paused !== true);
    if (finished) {
      started.add(request);
      continue;
    }
    if (guest !== undefined && builds.some((b) => b.outcome === 'pending')) {
      destroyed.add(guest.domid);
      repairs.push({ kind: 'destroy-guest', domid: guest.domid, name: request, why: `${request} was being built when the daemon stopped: half-built` });
    }
  }

  // Operators' destroys the daemon died in the middle of: finish them.
  for (const entry of input.entries) {
    if (entry.intent.kind !== 'destroy-guest' || entry.outcome !== 'pending') continue;
    const domain = byDomid.get(entry.intent.domid!);
    if (domain === undefined || destroyed.has(domain.domid)) continue;
    destroyed.add(domain.domid);
    repairs.push({ kind: 'destroy-guest', domid: domain.domid, name: domain.name ?? null, why: 'a destroy was in progress when the daemon stopped' });
  }

  // Claims: nothing is being built after a restart, so a claim on a guest this daemon was building (or cancelling)
  // is one no live build needs. Claims on domains the journal does not know are another toolstack's.
  const ours = new Set<number>();
  for (const entry of input.entries) {
    if (entry.intent.kind === 'build-guest' && entry.intent.name) {
      const d = byName.get(entry.intent.name);
      if (d) ours.add(d.domid);
    }
    if (entry.intent.kind === 'cancel-claim' && entry.intent.domid !== undefined) ours.add(entry.intent.domid);
  }
  for (const domid of ours) {
    const d = byDomid.get(domid)!;
    if (d.outstandingPages > 0 && !destroyed.has(domid)) {
      repairs.push({ kind: 'cancel-claim', domid, name: d.name ?? null, why: `an outstanding claim of ${d.outstandingPages} pages that no build needs any more` });
    }
  }

  repairs.push(...limitRepairs(input.entries, byDomid, destroyed));
  repairs.push(...targetRepairs(requests, started, byDomid, destroyed));
  repairs.push(...lineRepairs(linePool, byDomid, byName, destroyed));
  repairs.push(...tmemRepairs(input.entries));
  return repairs;
}

/**
 * max_pages limits set and not lifted for good — limit-and-check's batch limits, the model's, and the clamps that
 * hold donors to their lowered targets while a request depends on what they gave — are lifted back to the guest's
 * original max_pages: nothing is pending after a restart, so no holder is left. The original is the last one the
 * journal recorded for the guest (an operator's mem-max in between moved it); entries written before originals were
 * recorded fall back to the first limit's starting value. Whether a call whose outcome was never seen happened
 * does not matter: Xen's max_pages now is compared with the original.
 */
function limitRepairs(entries: readonly JournalEntry[], byDomid: ReadonlyMap<number, DomainInfo>, destroyed: ReadonlySet<number>): Repair[] {
  const limited = new Map<number, { name: string | null; originalKiB: number; reason: LimitReason; limitKiB: number }>();
  for (const entry of entries) {
    const { kind, domid } = entry.intent;
    if ((kind !== 'limit-max-pages' && kind !== 'restore-max-pages') || domid === undefined) continue;
    if (kind === 'limit-max-pages' && entry.outcome === 'failed' && !limited.has(domid)) continue;
    const known = limited.get(domid);
    const originalKiB = entry.intent.originalKiB ?? known?.originalKiB ?? entry.intent.fromKiB!;
    const reason = (entry.intent.reason as LimitReason | undefined) ?? known?.reason ?? 'batch';
    limited.set(domid, { name: entry.intent.name ?? known?.name ?? null, originalKiB, reason, limitKiB: entry.intent.toKiB! });
  }
  const repairs: Repair[] = [];
  for (const [domid, limit] of limited) {
    const domain = byDomid.get(domid);
    if (!domain || destroyed.has(domid)) continue;
    const nowKiB = pagesToKiB(domain.maxPages);
    if (nowKiB >= limit.originalKiB) continue;
    repairs.push({
      kind: 'restore-max-pages', domid, name: limit.name ?? domain.name ?? `domain-${domid}`, fromKiB: nowKiB, toKiB: limit.originalKiB,
      reason: limit.reason,
      why: `max_pages was limited (${limit.reason}, last to ${limit.limitKiB} KiB) for work that never finished; ${limit.originalKiB} KiB before`,
    });
  }
  return repairs;
}

/** Whether an entry's change of a donor's target happened, judged from the journal or, if unseen, from Xen. */
function targetChangeHappened(entry: JournalEntry, domain: DomainInfo): boolean {
  if (entry.outcome !== 'pending') return entry.outcome === 'ok';
  if (entry.intent.kind === 'lower-target') return domain.targetKiB === entry.intent.toKiB;
  return entry.expectTargetKiB !== undefined && domain.targetKiB === entry.expectTargetKiB.to;
}

/** Each donor's target lowered by `entries` (net of what they gave back), KiB, for the changes that happened. */
function netLowered(entries: readonly JournalEntry[], byDomid: ReadonlyMap<number, DomainInfo>, destroyed: ReadonlySet<number>): Map<number, { name: string; kib: number }> {
  const net = new Map<number, { name: string; kib: number }>();
  for (const entry of entries) {
    const { kind, domid } = entry.intent;
    if (!isDonorChange(entry.intent) || domid === undefined) continue;
    const domain = byDomid.get(domid);
    if (!domain || destroyed.has(domid) || !targetChangeHappened(entry, domain)) continue;
    const delta = kind === 'lower-target' ? entry.intent.fromKiB! - entry.intent.toKiB! : -entry.intent.byKiB!;
    const current = net.get(domid) ?? { name: entry.intent.name ?? domain.name ?? `domain-${domid}`, kib: 0 };
    net.set(domid, { name: current.name, kib: current.kib + delta });
  }
  return net;
}

/**
 * claim-first's line (src/toolstack/fallback-line.ts) asked donors for the needs of every request in it; each request
 * that claimed on it keeps its need (keep-for-line) if its guest runs now (unpaused, not destroyed by this recovery).
 * The rest was asked for requests that never started: it goes back, shared among the donors in proportion to what
 * each was lowered by (rounded up to whole pages, never more than a donor gave), so that the started guests keep
 * what they run on and no target stays lowered for a guest that does not exist.
 */
function lineRepairs(
  pool: readonly JournalEntry[],
  byDomid: ReadonlyMap<number, DomainInfo>,
  byName: ReadonlyMap<string, DomainInfo>,
  destroyed: ReadonlySet<number>,
): Repair[] {
  if (pool.length === 0) return [];
  const net = [...netLowered(pool, byDomid, destroyed)].filter(([, d]) => d.kib > 0);
  const loweredKiB = net.reduce((sum, [, d]) => sum + d.kib, 0);
  const runs = (name: string | undefined): boolean => {
    const guest = name === undefined ? undefined : byName.get(name);
    return guest !== undefined && !guest.paused && !destroyed.has(guest.domid);
  };
  const keptKiB = pool.reduce((sum, e) => sum + (e.intent.kind === 'keep-for-line' && runs(e.intent.keeper) ? e.intent.keepKiB ?? 0 : 0), 0);
  const backKiB = loweredKiB - keptKiB;
  if (backKiB <= 0) return [];
  const repairs: Repair[] = [];
  for (const [domid, { name, kib }] of net) {
    const share = Math.min(kib, Math.ceil((kib * backKiB) / loweredKiB / 4) * 4);
    if (share <= 0) continue;
    repairs.push({
      kind: 'raise-target', domid, name, request: null, byKiB: share,
      why: `lowered by ${kib} KiB for claim-first's line; the guests that started keep ${keptKiB} KiB of the ${loweredKiB} KiB asked`,
    });
  }
  return repairs;
}

/** Donors lowered for requests that never started get back what was asked of them, net of what was given back. */
function targetRepairs(
  requests: ReadonlyMap<string | null, JournalEntry[]>,
  started: ReadonlySet<string>,
  byDomid: ReadonlyMap<number, DomainInfo>,
  destroyed: ReadonlySet<number>,
): Repair[] {
  const repairs: Repair[] = [];
  for (const [request, entries] of requests) {
    if (request !== null && started.has(request)) continue;
    for (const [domid, { name, kib }] of netLowered(entries, byDomid, destroyed)) {
      if (kib <= 0) continue;
      repairs.push({
        kind: 'raise-target', domid, name, request, byKiB: kib,
        why: request === null ? `lowered by ${kib} KiB for a batch that never finished` : `lowered by ${kib} KiB for ${request}, which never started`,
      });
    }
  }
  return repairs;
}

/** tmem frozen or capped by a batch that never finished: thawed and uncapped. */
function tmemRepairs(entries: readonly JournalEntry[]): Repair[] {
  let frozen = false;
  let capped = false;
  for (const entry of entries) {
    const happened = entry.outcome !== 'failed';
    if (entry.intent.kind === 'freeze-tmem' && happened) frozen = true;
    if (entry.intent.kind === 'thaw-tmem' && entry.outcome === 'ok') frozen = false;
    if (entry.intent.kind === 'cap-tmem' && happened) capped = entry.intent.pages !== TMEM_NO_CAP || entry.outcome !== 'ok';
  }
  const repairs: Repair[] = [];
  if (capped) repairs.push({ kind: 'cap-tmem', pages: TMEM_NO_CAP, why: 'tmem was capped by a batch that never finished' });
  if (frozen) repairs.push({ kind: 'thaw-tmem', why: 'tmem was frozen by a batch that never finished' });
  return repairs;
}
