/**
 * npm run bench: the mock host's hot paths (bench/mock-host.ts), the simulator at scale (bench/simulate.ts), then the
 * daemon's API throughput, a create storm through it and `xenclaim list` latency (bench/daemon.ts).
 * Not a test: nothing here asserts a timing; the goals are printed as met or missed.
 * BENCH_ONLY=mock|simulate|daemon runs one part.
 */
import { runDaemonBench } from './daemon.js';
import { benchMockHost } from './mock-host.js';
import { benchSimulate } from './simulate.js';

async function main(): Promise<void> {
  const only = process.env.BENCH_ONLY;
  if (only === undefined || only === 'mock') await benchMockHost();
  if (only === undefined || only === 'simulate') benchSimulate();
  if (only === undefined || only === 'daemon') await runDaemonBench();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
