/**
 * npm run bench: the mock host's hot paths at 1, 100 and 10,000 domains, as ops per second of wall time; then the
 * daemon's API throughput, a create storm through it and `xenclaim list` latency (bench/daemon.ts).
 * Every call is awaited one after the other, as a toolstack would make them. Goal: at least 1,000,000
 * claim+cancel pairs per second at any domain count. Not a test: nothing here asserts a timing.
 */
import { MockBackend } from '../src/mock/backend.js';
import { runDaemonBench } from './daemon.js';

const SIZES = [1, 100, 10_000];
const PAIRS_GOAL = 1_000_000;
const RUN_MS = Number(process.env.BENCH_MS ?? 500);
/** Rounds per measurement: the median is reported (the machine is shared; single runs are noisy). */
const ROUNDS = 3;

async function makeHost(domains: number): Promise<{ backend: MockBackend; domids: number[] }> {
  // 1 TiB: as cheap as 1 GiB, since the heap keeps counters.
  const backend = new MockBackend({ host: { memoryMiB: 1024 * 1024, dom0MiB: 4096 } });
  const domids: number[] = [];
  for (let i = 0; i < domains; i++) {
    const domid = await backend.createEmptyDomain({ type: 'pv' });
    await backend.setMaxMem(domid, 64 * 1024);
    await backend.populatePhysmap(domid, 1024);
    domids.push(domid);
  }
  return { backend, domids };
}

/** Runs `batch` for RUN_MS, ROUNDS times; returns the median operations per second. */
async function measure(batch: () => Promise<number>): Promise<number> {
  // Warm-up so the JIT has compiled the path before timing.
  const warmEnd = performance.now() + RUN_MS / 2;
  while (performance.now() < warmEnd) await batch();
  const rates: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let ops = 0;
    const start = performance.now();
    let now = start;
    while (now - start < RUN_MS) {
      ops += await batch();
      now = performance.now();
    }
    rates.push((ops * 1000) / (now - start));
  }
  return rates.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)]!;
}

const BATCH = 1000;

async function benchSize(size: number) {
  const { backend, domids } = await makeHost(size);
  let next = 0;
  const claimPairs = await measure(async () => {
    for (let i = 0; i < BATCH; i++) {
      const domid = domids[next]!;
      next = next + 1 === domids.length ? 0 : next + 1;
      await backend.claimPages(domid, 2048); // absolute: 1024 more than its 1024 pages
      await backend.claimPages(domid, 0);
    }
    return BATCH;
  });
  const physinfo = await measure(async () => {
    for (let i = 0; i < BATCH; i++) await backend.physinfo();
    return BATCH;
  });
  const getDomain = await measure(async () => {
    for (let i = 0; i < BATCH; i++) {
      await backend.getDomain(domids[next]!);
      next = next + 1 === domids.length ? 0 : next + 1;
    }
    return BATCH;
  });
  const listDomains = await measure(async () => {
    await backend.listDomains();
    return 1;
  });
  const books = backend.control.accounting();
  if (books.outstandingPages !== 0 || books.imbalancePages !== 0) throw new Error('bench left the books unbalanced');
  await backend.close();
  return { size, claimPairs, physinfo, getDomain, listDomains };
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US').padStart(13);
}

async function main(): Promise<void> {
  console.log(`xenclaim mock host benchmark (Node ${process.version}; median of ${ROUNDS} × ${RUN_MS} ms per figure; every call awaited)`);
  console.log('');
  console.log(`${'domains'.padStart(8)} | ${'claim+cancel/s'.padStart(14)} | ${'physinfo/s'.padStart(13)} | ${'getDomain/s'.padStart(13)} | ${'listDomains/s'.padStart(13)}`);
  console.log(`${'-'.repeat(8)}-+-${'-'.repeat(14)}-+-${'-'.repeat(13)}-+-${'-'.repeat(13)}-+-${'-'.repeat(13)}`);
  const rows = [];
  for (const size of SIZES) {
    const row = await benchSize(size);
    rows.push(row);
    console.log(`${String(row.size).padStart(8)} | ${fmt(row.claimPairs).padStart(14)} | ${fmt(row.physinfo)} | ${fmt(row.getDomain)} | ${fmt(row.listDomains)}`);
  }
  const worst = Math.min(...rows.map((r) => r.claimPairs));
  console.log('');
  console.log(worst >= PAIRS_GOAL
    ? `goal met: ≥ ${PAIRS_GOAL.toLocaleString('en-US')} claim+cancel pairs/s at every size (worst ${Math.round(worst).toLocaleString('en-US')})`
    : `goal MISSED: worst ${Math.round(worst).toLocaleString('en-US')} claim+cancel pairs/s, ${(PAIRS_GOAL / worst).toFixed(2)}× short of ${PAIRS_GOAL.toLocaleString('en-US')}`);
  await runDaemonBench();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
