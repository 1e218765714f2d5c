/**
 * A request's AdmissionResult from arrival to outcome, and the events that go with each step (running, gave-up,
 * failed). Every time is the context's clock.
 */
import type { StrategyContext } from './context.js';
import { eventError } from './events.js';
import type { AdmissionResult, GuestRequest } from './types.js';

/** A request's result at arrival: not ok yet, requested now. */
export function newResult(ctx: StrategyContext, request: GuestRequest): AdmissionResult {
  return {
    name: request.name,
    ok: false,
    domid: null,
    error: null,
    report: null,
    requestedAtMs: ctx.clock.now(),
    admittedAtMs: null,
    runningAtMs: null,
    failedAtMs: null,
  };
}

/** The guest runs as `domid`: the result says so, a 'running' event is published and the host is told. */
export function succeed(ctx: StrategyContext, result: AdmissionResult, domid: number): AdmissionResult {
  result.ok = true;
  result.domid = domid;
  result.runningAtMs = ctx.clock.now();
  ctx.emit({ type: 'running', request: result.name, domid });
  ctx.started(result.name);
  return result;
}

/** The request failed: 'gave-up' (with the report) when the wait for memory gave up, 'failed' otherwise. */
export function fail(ctx: StrategyContext, result: AdmissionResult, error: unknown): AdmissionResult {
  const err = error instanceof Error ? error : new Error(String(error));
  result.ok = false;
  result.error = err;
  result.failedAtMs = ctx.clock.now();
  const report = (err as Error & { report?: AdmissionResult['report'] }).report;
  if (report) {
    result.report = report;
    ctx.emit({ type: 'gave-up', request: result.name, report, message: err.message });
  } else {
    ctx.emit({ type: 'failed', request: result.name, error: eventError(err) });
  }
  return result;
}
