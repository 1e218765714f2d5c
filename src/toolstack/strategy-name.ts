/**
 * The admission strategies xenclaim implements (docs/architecture.md#strategies): claim-first (the default),
 * limit-and-check and model, the three positions of the 2013 XENMEM_claim_pages debate.
 */
export type StrategyName = 'claim-first' | 'limit-and-check' | 'model';

/** Every strategy, in the order the simulator plays and reports them. */
export const STRATEGIES: readonly StrategyName[] = Object.freeze(['claim-first', 'limit-and-check', 'model']);
