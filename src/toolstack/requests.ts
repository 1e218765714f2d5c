/**
 * A request entering a strategy: checked, its name taken (one request per name until it settles), its need read
 * from libxl; and the error for a request that can never fit.
 */
import { planBalloon } from '../admission/balloon-plan.js';
import { AdmissionError, buildGiveUpReport } from '../admission/give-up.js';
import { startWaiting, type WaitState } from '../admission/progress.js';
import { headroomPages, type ObservedState } from '../admission/state.js';
import { XenError } from '../errors.js';
import { checkBoolean, checkDomainName, checkObject, invalidArgument, quote } from '../validate.js';
import { kibToPagesCeil } from '../units.js';
import { planPolicy, type StrategyContext } from './context.js';
import type { GuestRequest } from './types.js';

const REQUEST_FIELDS = ['name', 'config', 'paused'];

/**
 * A GuestRequest as the host takes it: an object with only `name` (the domain-name rule), `config` (libxl JSON: an
 * object with c_info and b_info objects, c_info.name equal to `name`) and `paused` (a boolean, optional). EINVAL
 * naming the field under `path` (e.g. `requests[2].config.c_info.name`) otherwise.
 */
export function checkGuestRequest(op: string, path: string, value: unknown): GuestRequest {
  const request = checkObject(op, path, value);
  for (const key of Object.keys(request)) {
    if (!REQUEST_FIELDS.includes(key)) throw invalidArgument(op, `${path}.${key}`, `not set (a request has ${REQUEST_FIELDS.join(', ')})`, request[key]);
  }
  const name = checkDomainName(op, `${path}.name`, request.name);
  const config = checkObject(op, `${path}.config`, request.config);
  const cInfo = checkObject(op, `${path}.config.c_info`, config.c_info);
  checkObject(op, `${path}.config.b_info`, config.b_info);
  if (cInfo.name !== name) throw invalidArgument(op, `${path}.config.c_info.name`, `${quote(name)} (the request's name)`, cInfo.name);
  checkBoolean(op, `${path}.paused`, request.paused, false);
  return value as GuestRequest;
}

/**
 * A request arriving at a strategy: checked, and its name taken in `names` (the strategy's requests until they
 * settle), so a second request for the same name fails at once. The strategy gives the name back when it settles.
 */
export function takeRequestName(names: Set<string>, request: GuestRequest): void {
  checkGuestRequest('createGuests', 'request', request);
  if (names.has(request.name)) {
    throw new XenError(`createGuests: request "${request.name}" is already in this batch`, { code: 'EEXIST', op: 'createGuests' });
  }
  names.add(request.name);
}

/** What building the request takes (libxl_domain_need_memory), in pages; publishes 'requested'. */
export async function needPages(ctx: StrategyContext, request: GuestRequest): Promise<number> {
  const needKiB = await ctx.backend.needMemoryKiB(request.config);
  ctx.emit({ type: 'requested', request: request.name, needKiB });
  return kibToPagesCeil(needKiB);
}

/**
 * A request joining a queueing strategy (limit-and-check, model): its name taken, then the pages it needs read.
 * If reading them fails, the name is given back and the error thrown.
 */
export async function takeQueuedRequest(ctx: StrategyContext, names: Set<string>, request: GuestRequest): Promise<number> {
  takeRequestName(names, request);
  try {
    return await needPages(ctx, request);
  } catch (error) {
    names.delete(request.name);
    throw error;
  }
}

/**
 * The error for a request no ballooning can make fit: an AdmissionError built from an infeasible plan, so it names
 * the need, the headroom and what could at most be freed. With the wait that led here (donors asked, some found
 * uncooperative), the report says who was asked and who did not cooperate; without one, that nobody was asked.
 */
export function impossibleRequestError(
  ctx: StrategyContext,
  request: string,
  needPagesOf: number,
  state: ObservedState,
  wait?: WaitState,
): AdmissionError {
  const plan = planBalloon(state, { needPages: needPagesOf, policy: planPolicy(ctx) });
  const nowMs = ctx.clock.now();
  const waited = wait
    ? { ...wait, needPages: needPagesOf, lastHeadroomPages: headroomPages(state.host) }
    : startWaiting({
        needPages: needPagesOf,
        plan: { ...plan, feasible: false, donors: [] },
        nowMs,
        headroomPages: headroomPages(state.host),
        config: ctx.wait,
      }).state;
  return new AdmissionError(buildGiveUpReport({ request, cause: 'cannot-free-enough', wait: waited, nowMs, lastPlan: plan }));
}
