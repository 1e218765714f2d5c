/**
 * Who admits guests on a host: xenclaim's strategies (docs/architecture.md#strategies) — claim-first (the default),
 * limit-and-check and model, the three positions of the 2013 XENMEM_claim_pages debate — and the models of the peer
 * toolstacks the simulator plays beside them (src/peers, docs/peers.md): xl, xapi and qmemman.
 */
export type StrategyName = 'claim-first' | 'limit-and-check' | 'model';

/** Every strategy, in the order the simulator plays and reports them. */
export const STRATEGIES: readonly StrategyName[] = Object.freeze(['claim-first', 'limit-and-check', 'model']);

/** A model of another toolstack's admission (src/peers): for comparison in the simulator, never offered by `create`. */
export type PeerModelName = 'xl' | 'xapi' | 'qmemman';

/** Every peer model, in the order the simulator plays and reports them (after the strategies). */
export const PEER_MODELS: readonly PeerModelName[] = Object.freeze(['xl', 'xapi', 'qmemman']);

/** A strategy of xenclaim's or a peer model: whatever admits guests on a XenHost. */
export type AdmitterName = StrategyName | PeerModelName;

/** The strategies, then the peer models: what `simulate --strategy all` plays. */
export const ADMITTERS: readonly AdmitterName[] = Object.freeze([...STRATEGIES, ...PEER_MODELS]);

/** True for a peer model's name (xl, xapi, qmemman). */
export function isPeerModel(name: string): name is PeerModelName {
  return (PEER_MODELS as readonly string[]).includes(name);
}

/** What a report labels a name with: a strategy's own name, or "xl (model)" for a peer model. */
export function admitterLabel(name: AdmitterName): string {
  return isPeerModel(name) ? `${name} (model)` : name;
}
