/** Picks a strategy by name, for the host that runs it (src/host). */
import { XenError } from '../errors.js';
import { ClaimFirstStrategy } from './claim-first.js';
import type { StrategyContext } from './context.js';
import { LimitAndCheckStrategy } from './limit-and-check.js';
import { ModelStrategy } from './model.js';
import { STRATEGIES, type StrategyName } from './strategy-name.js';
import type { AdmissionStrategy } from './types.js';

/** The strategy `name`, working on the host state `ctx`. EINVAL for an unknown name. */
export function createStrategy(name: StrategyName, ctx: StrategyContext): AdmissionStrategy {
  switch (name) {
    case 'claim-first':
      return new ClaimFirstStrategy(ctx);
    case 'limit-and-check':
      return new LimitAndCheckStrategy(ctx);
    case 'model':
      return new ModelStrategy(ctx);
    default:
      throw new XenError(`createStrategy: strategy must be one of ${STRATEGIES.join(', ')}, got ${JSON.stringify(name)}`, {
        code: 'EINVAL',
        op: 'createStrategy',
      });
  }
}
