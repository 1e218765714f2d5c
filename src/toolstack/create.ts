/** Picks what admits on a host by name — a strategy, or a peer model (src/peers) — for the host that runs it (src/host). */
import { XenError } from '../errors.js';
import { QmemmanModel } from '../peers/qmemman.js';
import { XapiModel } from '../peers/xapi.js';
import { XlModel } from '../peers/xl.js';
import { ClaimFirstStrategy } from './claim-first.js';
import type { StrategyContext } from './context.js';
import { LimitAndCheckStrategy } from './limit-and-check.js';
import { ModelStrategy } from './model.js';
import { ADMITTERS, type AdmitterName } from './strategy-name.js';
import type { AdmissionStrategy } from './types.js';

/** The strategy or peer model `name`, working on the host state `ctx`. EINVAL for an unknown name. */
export function createStrategy(name: AdmitterName, ctx: StrategyContext): AdmissionStrategy {
  switch (name) {
    case 'claim-first':
      return new ClaimFirstStrategy(ctx);
    case 'limit-and-check':
      return new LimitAndCheckStrategy(ctx);
    case 'model':
      return new ModelStrategy(ctx);
    case 'xl':
      return new XlModel(ctx);
    case 'xapi':
      return new XapiModel(ctx);
    case 'qmemman':
      return new QmemmanModel(ctx);
    default:
      throw new XenError(`createStrategy: strategy must be one of ${ADMITTERS.join(', ')}, got ${JSON.stringify(name)}`, {
        code: 'EINVAL',
        op: 'createStrategy',
      });
  }
}
