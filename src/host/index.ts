/** The long-lived host: one XenHost per Xen host, and createGuests for a one-off batch. */
export { XenHost, type FloorsKiB, type HostOptions } from './xen-host.js';
export { EventStream, type AdmissionEventListener } from './event-stream.js';
export { createGuests, type CreateGuestsOptions } from './create-guests.js';
export { findDomain } from './find-domain.js';
