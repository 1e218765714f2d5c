/**
 * A host's progress events, for any number of listeners (a terminal display, --json, a daemon's event endpoint,
 * the simulator's counters). A listener that throws is cut off from that one event, never from the admission.
 */
import type { AdmissionEvent, AdmissionEventType } from '../toolstack/events.js';

/** Hears every progress event of a host; must not throw (a throw is swallowed). */
export type AdmissionEventListener = (event: AdmissionEvent) => void;

/** Subscriptions and publishing, in subscription order. */
export class EventStream {
  /** One entry per subscription, so the same function subscribed twice hears each event twice. */
  private readonly subscriptions = new Set<{ listener: AdmissionEventListener; types: ReadonlySet<AdmissionEventType> | undefined }>();

  /**
   * Adds a listener — for every event, or only those of `types` — and returns the function that removes it (calling
   * it again does nothing).
   */
  subscribe(listener: AdmissionEventListener, types?: readonly AdmissionEventType[]): () => void {
    const subscription = { listener, types: types === undefined ? undefined : new Set(types) };
    this.subscriptions.add(subscription);
    return () => {
      this.subscriptions.delete(subscription);
    };
  }

  get listeners(): number {
    return this.subscriptions.size;
  }

  /** Does any listener hear events of this type? (Nobody listening: the event need not even be made.) */
  wants(type: AdmissionEventType): boolean {
    for (const { types } of this.subscriptions) if (types === undefined || types.has(type)) return true;
    return false;
  }

  publish(event: AdmissionEvent): void {
    for (const { listener, types } of [...this.subscriptions]) {
      if (types !== undefined && !types.has(event.type)) continue;
      try {
        listener(event);
      } catch {
        // A display that throws must not break an admission.
      }
    }
  }
}
