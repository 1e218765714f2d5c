/**
 * npm run bench: the mock host's hot paths (bench/mock-host.ts), then the simulator at scale (bench/simulate.ts).
 * Not a test: nothing here asserts a timing; the goals are printed as met or missed.
 */
import { benchMockHost } from './mock-host.js';
import { benchSimulate } from './simulate.js';

async function main(): Promise<void> {
  if (process.env.BENCH_ONLY !== 'simulate') await benchMockHost();
  if (process.env.BENCH_ONLY !== 'mock') benchSimulate();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
