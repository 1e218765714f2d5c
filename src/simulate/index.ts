/** The simulator: scenarios in, one report per strategy out. */
export * from './scenario.js';
export { runScenario, runStrategy, requestConfig, type RunScenarioOptions, type StrategyReport, type RequestReport, type DemandReport } from './run.js';
export { formatReportTable } from './report.js';
export { checkHostInvariants, snapshotMaxPages } from './invariants.js';
export { lowerBoundS, type BoundInput, type BoundDonor, type BoundRequest } from './lower-bound.js';
export { renderReportHtml } from './html.js';
