/**
 * The toolstack's entry points for the CLI and the daemon: pick a strategy by name, and create several guests
 * concurrently with it.
 */
import type { XenBackend } from '../backend.js';
import { SystemClock, type Clock } from '../clock.js';
import { XenError } from '../errors.js';
import { ClaimFirstStrategy } from './claim-first.js';
import { LimitAndCheckStrategy } from './limit-and-check.js';
import { ModelStrategy } from './model.js';
import { STRATEGIES, type AdmissionResult, type AdmissionStrategy, type GuestRequest, type StrategyName, type StrategyOptions } from './types.js';

export function createStrategy(name: StrategyName, options: StrategyOptions): AdmissionStrategy {
  switch (name) {
    case 'claim-first':
      return new ClaimFirstStrategy(options);
    case 'limit-and-check':
      return new LimitAndCheckStrategy(options);
    case 'model':
      return new ModelStrategy(options);
    default:
      throw new XenError(`createStrategy: strategy must be one of ${STRATEGIES.join(', ')}, got ${JSON.stringify(name)}`, {
        code: 'EINVAL',
        op: 'createStrategy',
      });
  }
}

export interface CreateGuestsOptions extends Omit<StrategyOptions, 'backend' | 'clock'> {
  /** Default 'claim-first'. */
  strategy?: StrategyName;
  /** Default: the system clock. */
  clock?: Clock;
}

/**
 * Creates every requested guest concurrently under one strategy; resolves, in request order, with each outcome
 * once every build and every cleanup (limits removed, donors restored) is done. Never rejects for a guest that
 * could not be created: look at `ok` and `error` (an AdmissionError carries `.report`).
 */
export async function createGuests(
  backend: XenBackend,
  requests: readonly GuestRequest[],
  options: CreateGuestsOptions = {},
): Promise<AdmissionResult[]> {
  const { strategy: name = 'claim-first', clock = new SystemClock(), ...rest } = options;
  const strategy = createStrategy(name, { ...rest, backend, clock });
  const results = await Promise.all(requests.map((request) => strategy.admit(request)));
  await strategy.idle();
  return results;
}
