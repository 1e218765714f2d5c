/**
 * Scenarios the benchmarks play, generated: the boot storm of examples/scenarios/e-boot-storm.json at any number of
 * running guests (the example is bootStorm(500), which test/simulate/boot-storm.test.ts checks), and a stream of
 * many requests for the scaling in requests.
 */
const GUEST_SIZES_MIB = [1024, 1536, 1792, 2048, 2560];
const REQUEST_SIZES_MIB = [1024, 2048, 4096, 3072];

/**
 * A 1 TiB host (more, past 500 guests: 2 GiB per guest) running `guests` guests of 1–2.5 GiB with a floor at half
 * their size (every hundredth from the 8th uncooperative, from the 43rd paused), asked for 100 guests of 1–4 GiB,
 * one every 50 ms, built at 1 GiB/s.
 */
export function bootStorm(guests = 500, requests = 100): Record<string, unknown> {
  return {
    name: guests === 500 && requests === 100
      ? 'case E: a boot storm — 100 guests asked for within 5 s on a 1 TiB host running 500'
      : `a boot storm — ${requests} guests asked for on a host running ${guests}`,
    host: { memoryMiB: Math.max(1024 * 1024, guests * 2048), dom0MiB: 8192, xenVersion: '4.17' },
    guests: Array.from({ length: guests }, (_, i) => {
      const memoryMiB = GUEST_SIZES_MIB[i % GUEST_SIZES_MIB.length]!;
      const guest: Record<string, unknown> = { name: `vm${String(i + 1).padStart(3, '0')}`, memoryMiB, minMiB: memoryMiB / 2, balloonMiBps: 256 };
      if (i % 100 === 7) guest.cooperative = false;
      if (i % 100 === 42) guest.state = 'paused';
      return guest;
    }),
    requests: Array.from({ length: requests }, (_, i) => ({
      at: Math.round(i * 50) / 1000,
      name: `new${String(i + 1).padStart(3, '0')}`,
      memoryMiB: REQUEST_SIZES_MIB[i % REQUEST_SIZES_MIB.length]!,
      buildMiBps: 1024,
    })),
  };
}

/**
 * `count` requests, 1000 a second, on a 1 TiB host running 8 guests: 3 in 10 are 32 MiB guests (the host fits
 * 30,000 of them, well within Xen's domids), 7 in 10 are larger than the host and can never run.
 */
export function manyRequests(count: number): Record<string, unknown> {
  return {
    name: `${count} requests`,
    host: { memoryMiB: 1024 * 1024, dom0MiB: 1024 },
    guests: Array.from({ length: 8 }, (_, i) => ({ name: `g${i}`, memoryMiB: 4096, minMiB: 2048, balloonMiBps: 1024 })),
    requests: Array.from({ length: count }, (_, i) => ({
      at: Math.floor(i / 1000),
      name: `r${i}`,
      memoryMiB: i % 10 < 3 ? 32 : 2 * 1024 * 1024,
      buildMiBps: 1024,
    })),
  };
}
