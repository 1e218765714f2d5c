/**
 * One simulator measurement, in a process of its own so that its peak memory is its own: plays a scenario under the
 * given strategies and peer models and prints one JSON line — wall and CPU time (ms), peak resident memory (MB),
 * and each one's makespan and starts. Used by npm run bench (bench/simulate.ts); not a test.
 *   node dist/bench/simulate-one.js <example FILE | storm GUESTS | many COUNT> <name,name,…>
 */
import { readFileSync } from 'node:fs';
import { runScenario } from '../src/simulate/run.js';
import { parseScenario, validateScenario } from '../src/simulate/scenario.js';
import type { AdmitterName } from '../src/toolstack/strategy-name.js';
import { bootStorm, manyRequests } from './scenarios.js';

async function main(): Promise<void> {
  const [kind, what, names] = process.argv.slice(2);
  const scenario =
    kind === 'example' ? parseScenario(readFileSync(what!, 'utf8'))
    : kind === 'storm' ? validateScenario(bootStorm(Number(what)))
    : validateScenario(manyRequests(Number(what)));
  const strategies = names!.split(',') as AdmitterName[];
  const started = performance.now();
  const cpu = process.cpuUsage();
  const reports = await runScenario(scenario, { strategies });
  const used = process.cpuUsage(cpu);
  console.log(JSON.stringify({
    wallMs: Math.round(performance.now() - started),
    cpuMs: Math.round((used.user + used.system) / 1000),
    maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    runs: reports.map((r) => ({ strategy: r.strategy, makespanS: r.makespanS, started: r.started, requests: r.requests.length })),
  }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
