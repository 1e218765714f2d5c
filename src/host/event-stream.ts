/**
 * A host's progress events, for any number of listeners (a terminal display, --json, a daemon's event endpoint,
 * the simulator's counters). A listener that throws is cut off from that one event, never from the admission.
 */
import type { AdmissionEvent } from '../toolstack/events.js';

/** Hears every progress event of a host; must not throw (a throw is swallowed). */
export type AdmissionEventListener = (event: AdmissionEvent) => void;

/** Subscriptions and publishing, in subscription order. */
export class EventStream {
  /** One entry per subscription, so the same function subscribed twice hears each event twice. */
  private readonly subscriptions = new Set<{ listener: AdmissionEventListener }>();

  /** Adds a listener; returns the function that removes it (calling it again does nothing). */
  subscribe(listener: AdmissionEventListener): () => void {
    const subscription = { listener };
    this.subscriptions.add(subscription);
    return () => {
      this.subscriptions.delete(subscription);
    };
  }

  get listeners(): number {
    return this.subscriptions.size;
  }

  publish(event: AdmissionEvent): void {
    for (const { listener } of [...this.subscriptions]) {
      try {
        listener(event);
      } catch {
        // A display that throws must not break an admission.
      }
    }
  }
}
