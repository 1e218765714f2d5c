/**
 * createGuests: the one-call way to create several guests at once — a XenHost opened on the backend for this batch.
 */
import type { XenBackend } from '../backend.js';
import type { AdmissionResult, GuestRequest } from '../toolstack/types.js';
import { checkObject, invalidArgument } from '../validate.js';
import type { AdmissionEventListener } from './event-stream.js';
import { checkHostOptions, type HostOptions } from './host-options.js';
import { XenHost } from './xen-host.js';

/** The host's options without the backend, and one listener for the batch's events. */
export interface CreateGuestsOptions extends Omit<HostOptions, 'backend'> {
  /** Progress events, for a terminal display or --json. Must not throw (errors are swallowed). */
  onEvent?: AdmissionEventListener;
}

/**
 * Creates every requested guest concurrently on a host opened for the batch (strategy 'claim-first' unless
 * given; the backend's clock, or the system clock); resolves in request order once every build and cleanup is done.
 * The backend stays open. Rejects with EINVAL, naming the option or `requests[i].field`, before anything starts: for
 * options the host refuses (XenHost), an onEvent that is not a function, or requests that are not an array of
 * well-formed requests. A guest that could not be created is a result with `ok: false`, never a rejection.
 */
export async function createGuests(
  backend: XenBackend,
  requests: readonly GuestRequest[],
  options: CreateGuestsOptions = {},
): Promise<AdmissionResult[]> {
  const { onEvent, ...hostOptions } = checkObject('createGuests', 'options', options) as CreateGuestsOptions;
  if (onEvent !== undefined && typeof onEvent !== 'function') throw invalidArgument('createGuests', 'onEvent', 'a function', onEvent);
  checkHostOptions('createGuests', { ...hostOptions, backend }); // so errors name createGuests, not the host inside it
  const host = new XenHost({ ...hostOptions, backend });
  if (onEvent) host.subscribe(onEvent);
  return host.createGuests(requests);
}
