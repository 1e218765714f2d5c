/** The simulator: scenarios in, one report per strategy out. */
export * from './scenario.js';
export { runScenario, runStrategy, requestConfig, type RunScenarioOptions, type StrategyReport, type RequestReport, type DemandReport } from './run.js';
export { formatReportTable, formatComparison } from './report.js';
export { checkHostInvariants, snapshotMaxPages } from './invariants.js';
export { lowerBoundS, type BoundInput, type BoundDonor, type BoundRequest } from './lower-bound.js';
export { tightBound, EXACT_MAX_REQUESTS, type TightBound, type TightBoundInput, type TightBoundRequest } from './tight-bound.js';
export { MemorySupply, type SupplyDonor } from './supply.js';
export type { DonorReport, DonorAsk, MemoryTimeline, MemorySeries, RunStep } from './recorder.js';
export { renderReportHtml } from './html.js';
