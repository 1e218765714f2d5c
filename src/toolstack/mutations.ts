/**
 * The mutation port: every change the toolstack makes to Xen passes here, as an intent (what is about to change and
 * why), so that one recorder can see each intent before it acts and its outcome after. That is where a journal plugs
 * in: it writes the intent down first, so that after a crash the journal says what may have been left half-done (a
 * claim, a lowered target, a max_pages limit, a half-built guest, frozen tmem) and a recovery can undo it through
 * this same port. Queries (physinfo, listDomains, …) do not pass here: they change nothing.
 *
 * Everything in src/toolstack and src/host calls these methods, never a XenBackend mutator (test/structure checks
 * the sources). See docs/architecture.md#the-mutation-port.
 */
import type { LibxlDomainConfig, XenBackend } from '../backend.js';

/** Build a guest with libxl (createGuest); `claim` makes the domain builder claim its whole allocation first. */
export interface BuildGuestIntent {
  kind: 'build-guest';
  /** The guest's name (c_info.name): how a half-built domain is found again. */
  name: string;
  claim: boolean;
  paused: boolean;
}

/** Destroy a guest: one left half-built (recovery), or at an operator's request. */
export interface DestroyGuestIntent {
  kind: 'destroy-guest';
  domid: number;
  name: string | null;
  reason: 'half-built' | 'operator';
}

/** Lower a donor's balloon target for a request (max_pages left alone: enforce false). */
export interface LowerTargetIntent {
  kind: 'lower-target';
  domid: number;
  name: string;
  /** The request it is lowered for (null: a batch of queued requests). */
  request: string | null;
  fromKiB: number;
  toKiB: number;
}

/**
 * Raise a donor's target by `byKiB`, relative to where it is now (so another request's own lowering is kept):
 * 'restore' gives back what a failed request asked; 'stuck' sets an uncooperative donor's target where it stopped;
 * 'replan' gives back the part of an earlier ask a replan no longer needs from it.
 */
export interface RaiseTargetIntent {
  kind: 'raise-target';
  domid: number;
  name: string;
  request: string | null;
  byKiB: number;
  reason: 'restore' | 'stuck' | 'replan';
}

/** An operator sets a guest's balloon target (xl mem-set); libxl also sets max_pages to it (enforce). */
export interface SetTargetIntent {
  kind: 'set-target';
  domid: number;
  targetKiB: number;
}

/** Cancel a domain's outstanding claim (claim 0): one that no build in flight needs any more (recovery). */
export interface CancelClaimIntent {
  kind: 'cancel-claim';
  domid: number;
  name: string | null;
}

/**
 * Why a guest's max_pages is limited (max-pages-limits.ts):
 * - 'batch': limit-and-check freezes every running guest at its size while its batch runs;
 * - 'donor': a donor's max_pages follows its lowered target while a pending request depends on the memory it gave
 *   (squeezed sets max_pages to the target each time it moves a target), or where it stopped once found stuck;
 * - 'model': the model strategy holds every running guest to its target while it admits (what its model assumes).
 */
export type LimitReason = 'batch' | 'donor' | 'model';

/**
 * Limit a guest's max_pages so that it cannot grow into memory promised elsewhere; restore-max-pages lifts it. Both
 * carry the guest's max_pages before any limit (`originalKiB`), so a recovery can restore it from either.
 */
export interface LimitMaxPagesIntent {
  kind: 'limit-max-pages';
  domid: number;
  name: string;
  /** max_pages now, and the limit set, in KiB. */
  fromKiB: number;
  toKiB: number;
  /** max_pages before any limit of this host (what a recovery restores). */
  originalKiB: number;
  reason: LimitReason;
  /** Who holds the limit: a request's name, or a strategy's ('batch', 'model', 'queue'). */
  holder: string;
}

/** Raise a limited guest's max_pages: back to its original, or to the lowest limit another holder still has. */
export interface RestoreMaxPagesIntent {
  kind: 'restore-max-pages';
  domid: number;
  name: string;
  /** The limit being lifted, and the max_pages set, in KiB. */
  fromKiB: number;
  toKiB: number;
  originalKiB: number;
  reason: LimitReason;
  holder: string;
}

/** An operator sets a guest's maximum (xl mem-max: libxl_domain_setmaxmem, max_pages = max + 1 MiB). */
export interface SetMaxMemIntent {
  kind: 'set-max-mem';
  domid: number;
  maxKiB: number;
}

/**
 * No change to Xen, but to who depends on earlier ones (claim-first), so that a crash restores exactly what no
 * started guest was given: a failed request hands its donors' gains to the next request waiting for memory
 * ('hand-over'), which takes them on ('adopt-handover'); a request that claimed on memory asked for its whole line
 * pools its donor changes as the line's and keeps `keepKiB` (its need) of them if its guest runs ('keep-for-line';
 * with `lineEnds` the line is over and its pool closed; docs/daemon.md). A journal moves the lowered targets so.
 */
export type HandOverIntent = { kind: 'hand-over'; request: string };
export type AdoptHandoverIntent = { kind: 'adopt-handover'; request: string };
export type KeepForLineIntent = { kind: 'keep-for-line'; request: string; keepKiB: number; lineEnds?: boolean };

/** tmem (hosts before Xen 4.13 only): freeze it, cap it at `pages` (MAX_SAFE_INTEGER lifts the cap), thaw it. */
export interface FreezeTmemIntent {
  kind: 'freeze-tmem';
}
export interface CapTmemIntent {
  kind: 'cap-tmem';
  pages: number;
}
export interface ThawTmemIntent {
  kind: 'thaw-tmem';
}

/** Every change the toolstack makes to Xen, as data a recorder can keep. */
export type MutationIntent =
  | BuildGuestIntent
  | DestroyGuestIntent
  | LowerTargetIntent
  | RaiseTargetIntent
  | SetTargetIntent
  | CancelClaimIntent
  | LimitMaxPagesIntent
  | RestoreMaxPagesIntent
  | SetMaxMemIntent
  | HandOverIntent
  | AdoptHandoverIntent
  | KeepForLineIntent
  | FreezeTmemIntent
  | CapTmemIntent
  | ThawTmemIntent;

/** What a mutation did: done (with the new domid for a build), or the error the backend threw. */
export type MutationOutcome = { ok: true; domid?: number } | { ok: false; error: unknown };

/**
 * Sees every mutation: `before` runs first (a journal records the intent; if it throws or rejects, the mutation is
 * not made and the caller gets that error), `after` runs once the backend has answered (its errors are the
 * recorder's own problem: they are swallowed, the mutation's own outcome stands). Both may return a promise.
 */
export interface MutationRecorder {
  before(intent: MutationIntent): void | Promise<void>;
  after(intent: MutationIntent, outcome: MutationOutcome): void | Promise<void>;
  /**
   * The host's admission of `request` (a guest name) settled — started or failed, its own cleanup done — so what was
   * changed for it is no longer in flight. Optional; errors are swallowed like after()'s.
   */
  settled?(request: string): void | Promise<void>;
  /** Nothing is in flight on the host any more (every admission and batch cleanup done). Optional. */
  idle?(): void | Promise<void>;
}

/** Intent-typed: one method per kind of change. Every method resolves or rejects exactly as the backend call does. */
export interface MutationPort {
  /** createGuest(config, { claim, paused }) → the new domid. */
  buildGuest(intent: Omit<BuildGuestIntent, 'kind'>, config: LibxlDomainConfig): Promise<number>;
  destroyGuest(intent: Omit<DestroyGuestIntent, 'kind'>): Promise<void>;
  lowerTarget(intent: Omit<LowerTargetIntent, 'kind'>): Promise<void>;
  raiseTarget(intent: Omit<RaiseTargetIntent, 'kind'>): Promise<void>;
  setTarget(intent: Omit<SetTargetIntent, 'kind'>): Promise<void>;
  /** claimPages(domid, 0). */
  cancelClaim(intent: Omit<CancelClaimIntent, 'kind'>): Promise<void>;
  limitMaxPages(intent: Omit<LimitMaxPagesIntent, 'kind'>): Promise<void>;
  restoreMaxPages(intent: Omit<RestoreMaxPagesIntent, 'kind'>): Promise<void>;
  setMaxMem(intent: Omit<SetMaxMemIntent, 'kind'>): Promise<void>;
  /** These three are recorded only: nothing is called in Xen. */
  handOver(intent: Omit<HandOverIntent, 'kind'>): Promise<void>;
  adoptHandover(intent: Omit<AdoptHandoverIntent, 'kind'>): Promise<void>;
  keepForLine(intent: Omit<KeepForLineIntent, 'kind'>): Promise<void>;
  freezeTmem(): Promise<void>;
  capTmem(intent: Omit<CapTmemIntent, 'kind'>): Promise<void>;
  thawTmem(): Promise<void>;
}

/** The port over a XenBackend, with an optional recorder. */
export class BackendMutations implements MutationPort {
  constructor(
    private readonly backend: XenBackend,
    private readonly recorder?: MutationRecorder,
  ) {}

  buildGuest(intent: Omit<BuildGuestIntent, 'kind'>, config: LibxlDomainConfig): Promise<number> {
    return this.run({ kind: 'build-guest', ...intent }, () =>
      this.backend.createGuest(config, { claim: intent.claim, paused: intent.paused }),
    );
  }

  destroyGuest(intent: Omit<DestroyGuestIntent, 'kind'>): Promise<void> {
    return this.run({ kind: 'destroy-guest', ...intent }, () => this.backend.destroyGuest(intent.domid));
  }

  lowerTarget(intent: Omit<LowerTargetIntent, 'kind'>): Promise<void> {
    return this.run({ kind: 'lower-target', ...intent }, () =>
      this.backend.setMemoryTarget(intent.domid, intent.toKiB, { enforce: false }),
    );
  }

  raiseTarget(intent: Omit<RaiseTargetIntent, 'kind'>): Promise<void> {
    return this.run({ kind: 'raise-target', ...intent }, () =>
      this.backend.setMemoryTarget(intent.domid, intent.byKiB, { relative: true, enforce: false }),
    );
  }

  setTarget(intent: Omit<SetTargetIntent, 'kind'>): Promise<void> {
    return this.run({ kind: 'set-target', ...intent }, () => this.backend.setMemoryTarget(intent.domid, intent.targetKiB));
  }

  cancelClaim(intent: Omit<CancelClaimIntent, 'kind'>): Promise<void> {
    return this.run({ kind: 'cancel-claim', ...intent }, () => this.backend.claimPages(intent.domid, 0));
  }

  limitMaxPages(intent: Omit<LimitMaxPagesIntent, 'kind'>): Promise<void> {
    return this.run({ kind: 'limit-max-pages', ...intent }, () => this.backend.setMaxMem(intent.domid, intent.toKiB));
  }

  restoreMaxPages(intent: Omit<RestoreMaxPagesIntent, 'kind'>): Promise<void> {
    return this.run({ kind: 'restore-max-pages', ...intent }, () => this.backend.setMaxMem(intent.domid, intent.toKiB));
  }

  setMaxMem(intent: Omit<SetMaxMemIntent, 'kind'>): Promise<void> {
    return this.run({ kind: 'set-max-mem', ...intent }, () => this.backend.setGuestMaxMem(intent.domid, intent.maxKiB));
  }

  handOver = (intent: Omit<HandOverIntent, 'kind'>): Promise<void> => this.recordOnly({ kind: 'hand-over', ...intent });
  adoptHandover = (intent: Omit<AdoptHandoverIntent, 'kind'>): Promise<void> => this.recordOnly({ kind: 'adopt-handover', ...intent });
  keepForLine = (intent: Omit<KeepForLineIntent, 'kind'>): Promise<void> => this.recordOnly({ kind: 'keep-for-line', ...intent });

  freezeTmem(): Promise<void> {
    return this.run({ kind: 'freeze-tmem' }, () => this.backend.tmemFreeze());
  }

  capTmem(intent: Omit<CapTmemIntent, 'kind'>): Promise<void> {
    return this.run({ kind: 'cap-tmem', ...intent }, () => this.backend.tmemSetCap(intent.pages));
  }

  thawTmem(): Promise<void> {
    return this.run({ kind: 'thaw-tmem' }, () => this.backend.tmemThaw());
  }

  private recordOnly(intent: MutationIntent): Promise<void> {
    return this.run(intent, () => Promise.resolve());
  }

  /**
   * Without a recorder the backend's own promise is returned as is: no asynchronous step is added, so concurrent
   * admissions interleave exactly as they would calling the backend themselves.
   */
  private run<T>(intent: MutationIntent, act: () => Promise<T>): Promise<T> {
    const recorder = this.recorder;
    if (recorder === undefined) return act();
    return recorded(recorder, intent, act);
  }
}

async function recorded<T>(recorder: MutationRecorder, intent: MutationIntent, act: () => Promise<T>): Promise<T> {
  await recorder.before(intent);
  let outcome: MutationOutcome;
  let value: T;
  try {
    value = await act();
    outcome = intent.kind === 'build-guest' ? { ok: true, domid: value as number } : { ok: true };
  } catch (error) {
    await tell(recorder, intent, { ok: false, error });
    throw error;
  }
  await tell(recorder, intent, outcome);
  return value;
}

async function tell(recorder: MutationRecorder, intent: MutationIntent, outcome: MutationOutcome): Promise<void> {
  try {
    await recorder.after(intent, outcome);
  } catch {
    // The mutation's own outcome stands; a recorder that cannot note it must report that itself.
  }
}
