import { describe, expect, it } from 'vitest';
import { lowerBoundS, type BoundInput } from '../../src/simulate/lower-bound.js';

const request = (at: number, memoryMiB: number, buildMiBps = 1024) => ({ at, memoryMiB, buildMiBps });

describe('lowerBoundS (rate-only)', () => {
  it('with room for everything, the slowest build from its arrival decides', () => {
    const input: BoundInput = { headroomMiB: 10_000, donors: [], requests: [request(0, 2048), request(3, 1024, 512)] };
    expect(lowerBoundS(input)).toBe(5); // 3 + 1024/512
  });

  it('when memory must be ballooned, the donors\' rates decide, from the first arrival', () => {
    // 1024 MiB free, 3072 needed: 2048 MiB from one donor at 512 MiB/s = 4 s after t=1.
    const input: BoundInput = {
      headroomMiB: 1024,
      donors: [{ reclaimableMiB: 4096, balloonMiBps: 512 }],
      requests: [request(1, 3072, 8192)],
    };
    expect(lowerBoundS(input)).toBe(5);
  });

  it('follows the supply past a donor that runs out (piecewise linear)', () => {
    // Two donors at 100 MiB/s each; one has only 100 MiB. Need 500: 200 by t=1, then 100 MiB/s → t = 4.
    const input: BoundInput = {
      headroomMiB: 0,
      donors: [{ reclaimableMiB: 100, balloonMiBps: 100 }, { reclaimableMiB: 1000, balloonMiBps: 100 }],
      requests: [request(0, 500, 1e6)],
    };
    expect(lowerBoundS(input)).toBe(4);
  });

  it('an uncooperative donor gives nothing', () => {
    const input: BoundInput = {
      headroomMiB: 0,
      donors: [{ reclaimableMiB: 4096, balloonMiBps: 0 }, { reclaimableMiB: 1024, balloonMiBps: 256 }],
      requests: [request(0, 1024, 1e6)],
    };
    expect(lowerBoundS(input)).toBe(4);
  });

  it('leaves out requests that could never fit alone, and is null when none can run or the rest cannot all fit', () => {
    const donors = [{ reclaimableMiB: 1000, balloonMiBps: 100 }];
    // 1000/1024 s, rounded down to the ms: a bound stays a bound.
    expect(lowerBoundS({ headroomMiB: 1000, donors, requests: [request(0, 1000), request(0, 99_999)] })).toBe(0.976);
    // A request that can never run has no bound: null, not 0.
    expect(lowerBoundS({ headroomMiB: 1000, donors, requests: [request(0, 99_999)] })).toBeNull();
    expect(lowerBoundS({ headroomMiB: 1000, donors, requests: [] })).toBeNull();
    expect(lowerBoundS({ headroomMiB: 1000, donors, requests: [request(0, 1500), request(0, 1500)] })).toBeNull();
  });
});
