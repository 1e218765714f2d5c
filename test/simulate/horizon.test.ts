/**
 * A scenario the validator accepts but that cannot be played to its end within the simulator's horizon (one day of
 * virtual time) — the validator bounds arrivals, builds and start turns, not the time lost to slow donors — is
 * refused while it plays: a ScenarioError naming the request still waiting and the strategy, not an internal error.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../src/simulate/run.js';
import { ScenarioError, SIMULATION_HORIZON_S, type ScenarioDocument } from '../../src/simulate/scenario.js';

const caseB = JSON.parse(readFileSync('examples/scenarios/b-ballooning-needed.json', 'utf8')) as ScenarioDocument & { requests: { at: number }[] };

describe("the simulator's horizon", () => {
  it('requests that arrive 10 s before it and need ballooning: refused, naming the request still waiting', async () => {
    const late = { ...caseB, requests: caseB.requests.map((r) => ({ ...r, at: SIMULATION_HORIZON_S - 10 })) };
    const error = await runScenario(late, { strategies: ['claim-first'] }).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(ScenarioError);
    expect((error as ScenarioError).path).toMatch(/^requests\[\d\]$/);
    expect((error as ScenarioError).problem).toMatch(/still waiting under claim-first at 86400 s of virtual time, the simulator's horizon/);
  });

  it('the same requests a minute earlier play to their end', async () => {
    const early = { ...caseB, requests: caseB.requests.map((r) => ({ ...r, at: SIMULATION_HORIZON_S - 60 })) };
    const [report] = await runScenario(early, { strategies: ['claim-first'] });
    expect(report!.started).toBe(3);
  });
});
