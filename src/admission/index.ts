/**
 * The pure admission core: decisions as functions of an observed state. No I/O, no clock, no backend — the
 * executors (claim-first, limit-and-check, model) perform the calls and feed observations back in.
 */
export * from './state.js';
export * from './balloon-plan.js';
export * from './progress.js';
export * from './give-up.js';
export * from './limit-and-check.js';
export * from './model.js';
