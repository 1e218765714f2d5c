/** The toolstack: the admission executors (claim-first, limit-and-check, model) behind one interface. */
export * from './types.js';
export * from './events.js';
export { createStrategy, createGuests, type CreateGuestsOptions } from './create.js';
export { ClaimFirstStrategy, type ClaimFirstOptions } from './claim-first.js';
export { LimitAndCheckStrategy } from './limit-and-check.js';
export { ModelStrategy } from './model.js';
export { HostLock } from './host-lock.js';
export { isOutOfMemory } from './shell.js';
