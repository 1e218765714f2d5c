/** The toolstack: the admission strategies (claim-first, limit-and-check, model), their wait loop and mutation port. */
export * from './strategy-name.js';
export * from './types.js';
export * from './events.js';
export * from './mutations.js';
export type { StrategyContext } from './context.js';
export { createStrategy } from './create.js';
export { ClaimFirstStrategy } from './claim-first.js';
export { LimitAndCheckStrategy } from './limit-and-check.js';
export { ModelStrategy } from './model.js';
export { HostLock } from './host-lock.js';
export { waitForMemory, lookAtDonors, LEAVE, type WaitForMemoryIo, type WaitOutcome, type RetryResult, type Leave } from './wait-for-memory.js';
