/**
 * xenclaim's package entry point: openBackend and the XenBackend contract, the long-lived host (XenHost) that
 * admits guests on it, createGuests for a one-off batch, and the types they speak.
 */
export * from './backend.js';
export * from './units.js';
export { XenError, isXenError, isOutOfMemory } from './errors.js';
export { SystemClock, VirtualClock, type Clock, type Timer } from './clock.js';
export { MockBackend, type MockHostSpec } from './mock/backend.js';
export { openBackend, PRIVCMD_PATH, type BackendKind, type OpenBackendOptions } from './open-backend.js';
export { XenHost, createGuests, type HostOptions, type CreateGuestsOptions, type AdmissionEventListener } from './host/index.js';
export { STRATEGIES, type StrategyName } from './toolstack/strategy-name.js';
export { resultJson, type GuestRequest, type AdmissionResult, type AdmissionTuning } from './toolstack/types.js';
export type { AdmissionEvent, AdmissionEventType } from './toolstack/events.js';
export type { MutationIntent, MutationOutcome, MutationPort, MutationRecorder } from './toolstack/mutations.js';
export { AdmissionError, type GiveUpReport } from './admission/give-up.js';
