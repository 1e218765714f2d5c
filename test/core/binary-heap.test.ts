/** BinaryHeap: items leave in `before` order, whatever order they came in. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BinaryHeap } from '../../src/binary-heap.js';

describe('BinaryHeap', () => {
  it('pops in order of `before`, ties broken by the comparator; empty gives undefined', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 200 }), (keys) => {
        const heap = new BinaryHeap<{ key: number; seq: number }>((a, b) => a.key < b.key || (a.key === b.key && a.seq < b.seq));
        keys.forEach((key, seq) => heap.push({ key, seq }));
        expect(heap.size).toBe(keys.length);
        const out: { key: number; seq: number }[] = [];
        while (heap.peek() !== undefined) out.push(heap.pop()!);
        const expected = keys.map((key, seq) => ({ key, seq })).sort((a, b) => a.key - b.key || a.seq - b.seq);
        expect(out).toEqual(expected);
        expect(heap.pop()).toBeUndefined();
      }),
      { numRuns: 200, seed: 11 },
    );
  });
});
