/**
 * xenclaim's public API, the package entry point (`import { … } from 'xenclaim'`). docs/api.md describes every
 * export: shapes, units, errors and where each rule comes from. In four steps:
 *   open a host      — openBackend (real Xen in a dom0, the simulated host elsewhere), then one XenHost on it;
 *   create guests    — host.createGuests(requests) with the host's strategy (or createGuests for a one-off batch);
 *   read a config    — loadGuestConfig / parseGuestConfig / parseGuestConfigFor (xl.cfg or libxl JSON);
 *   play a scenario  — loadScenario / parseScenario, then runScenario (every strategy on a simulated host).
 * Every option is checked up front: bad input is an EINVAL XenError naming it, as a rejected promise from async
 * functions (a thrown error from constructors and other synchronous calls).
 */

// Open a host: the backend contract, its two implementations, and the long-lived host that admits guests on it.
export type {
  BackendFeatures, CreateEmptyDomainOptions, CreateGuestOptions, DomainInfo, EmptyDomainType, LibxlDomainConfig, Physinfo,
  SetMemoryTargetOptions, XenBackend, XenVersionInfo,
} from './backend.js';
export { openBackend, PRIVCMD_PATH, type BackendKind, type OpenBackendOptions } from './open-backend.js';
export { MockBackend, MockControl, type MockBackendOptions, type MockHostSpec, type GuestProfile, type MockXenVersion, type RunningGuestSpec } from './mock/backend.js';
export { XenHost, type FloorsKiB, type HostOptions } from './host/xen-host.js';

// Create guests with a strategy.
export { createGuests, type CreateGuestsOptions } from './host/create-guests.js';
export type { AdmissionEventListener } from './host/event-stream.js';
export { STRATEGIES, type StrategyName } from './toolstack/strategy-name.js';
export { resultJson, type AdmissionResult, type AdmissionTuning, type GuestRequest } from './toolstack/types.js';
export type { BalloonPolicy } from './admission/balloon-plan.js';
export type { WaitConfig } from './admission/progress.js';
export type { AdmissionEvent, AdmissionEventType, DonorTarget, EventError, LimitChange } from './toolstack/events.js';
export type { MutationIntent, MutationOutcome, MutationPort, MutationRecorder } from './toolstack/mutations.js';
export { AdmissionError, type AskedDonorReport, type GiveUpReport, type UncooperativeDonorReport } from './admission/give-up.js';

// Read a guest config.
export {
  ConfigError, formatLibxlJson, isConfigError, isLibxlJson, loadGuestConfig, parseGuestConfig, parseGuestConfigFor, xlHostFromPhysinfo,
  type CheckedGuestConfig, type ConfigErrorPlace, type FieldLocator, type GuestConfigOptions, type GuestConfigResult, type XlHost,
} from './config/index.js';

// Play a scenario.
export {
  loadScenario, parseScenario, ScenarioError, validateScenario,
  type Scenario, type ScenarioDemand, type ScenarioDocument, type ScenarioPolicy, type ScenarioGuest, type ScenarioHost, type ScenarioRequest,
} from './simulate/scenario.js';
export { runScenario, type DemandReport, type RequestReport, type RunScenarioOptions, type StrategyReport } from './simulate/run.js';
export { formatReportTable } from './simulate/report.js';
export { renderReportHtml } from './simulate/html.js';

// Errors, time and units, shared by all of the above.
export { ERRNO, XenError, isOutOfMemory, isXenError, type ErrnoName, type XenErrorFields } from './errors.js';
export { AutoClock, SystemClock, VirtualClock, type Clock, type Timer } from './clock.js';
export { DOMAIN_NAME_RULE, isDomainName } from './validate.js';
export * from './units.js';
