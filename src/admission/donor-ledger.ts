/**
 * What a request has really asked of its donors (targets set), so that a failure gives back exactly that and no
 * more, and what a donor that stopped keeps. Pure bookkeeping in KiB: no backend, no clock.
 * See docs/architecture.md#donors.
 */
import { pagesToKiB } from '../units.js';

/** One donor in the ledger (KiB). */
export interface LedgerEntry {
  domid: number;
  name: string;
  /** Total KiB its target was lowered by (and not yet given back). */
  askedKiB: number;
  /** Its latest target. */
  toKiB: number;
}

/**
 * Filled as targets are set, one donor at a time: a failure half-way leaves the ledger exact, so a restore gives
 * back only what was really asked.
 */
export class DonorLedger {
  private readonly entries = new Map<number, LedgerEntry>();

  /** The donor's target was lowered from `fromKiB` to `toKiB`. */
  lowered(domid: number, name: string, fromKiB: number, toKiB: number): void {
    const known = this.entries.get(domid);
    this.entries.set(domid, { domid, name, askedKiB: (known?.askedKiB ?? 0) + (fromKiB - toKiB), toKiB });
  }

  get size(): number {
    return this.entries.size;
  }

  /** A copy of the donor's entry. */
  get(domid: number): LedgerEntry | undefined {
    const entry = this.entries.get(domid);
    return entry && { ...entry };
  }

  /** The donor's target was raised by `kib` (it keeps what it gave): less to give back later. */
  raised(domid: number, kib: number): void {
    const entry = this.entries.get(domid);
    if (!entry) return;
    const askedKiB = entry.askedKiB - kib;
    if (askedKiB <= 0) this.entries.delete(domid);
    else this.entries.set(domid, { ...entry, askedKiB, toKiB: entry.toKiB + kib });
  }

  /** Takes over entries another ledger gave up (the asks of a request that failed, for one still waiting). */
  absorb(entries: readonly LedgerEntry[]): void {
    for (const entry of entries) {
      const known = this.entries.get(entry.domid);
      this.entries.set(entry.domid, known ? { ...entry, askedKiB: known.askedKiB + entry.askedKiB } : { ...entry });
    }
  }

  /** Forgets what was asked: the admission it was for succeeded, the donors keep their targets. */
  commit(): void {
    this.entries.clear();
  }

  /** Removes and returns the entries (all, or those of `domids`). */
  take(domids?: readonly number[]): LedgerEntry[] {
    const out: LedgerEntry[] = [];
    for (const [domid, entry] of this.entries) {
      if (domids !== undefined && !domids.includes(domid)) continue;
      out.push(entry);
      this.entries.delete(domid);
    }
    return out;
  }
}

/**
 * A donor found uncooperative keeps what it gave and is asked for nothing more: its target goes back up to where it
 * stopped (`totPages`), never above its target before it was asked, so a stalled driver is not mistaken for a guest
 * about to grow. Returns how many KiB to raise the target by (0: nothing to do).
 */
export function stuckDonorRaiseKiB(entry: LedgerEntry, totPages: number): number {
  const stoppedKiB = Math.min(entry.toKiB + entry.askedKiB, pagesToKiB(totPages));
  return Math.max(0, stoppedKiB - entry.toKiB);
}
