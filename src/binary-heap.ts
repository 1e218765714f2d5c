/**
 * A binary heap: `peek` is the item no other comes `before` (items that tie leave in no guaranteed order, so give
 * `before` a tie-breaker where order matters). O(log n) push and pop. Used for the virtual clock's timers and the
 * tight bound's start slots.
 */
export class BinaryHeap<T> {
  private readonly items: T[] = [];

  /** `before(a, b)`: a leaves the heap before b (a strict order). */
  constructor(private readonly before: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  /** The next item to leave, or undefined when empty. */
  peek(): T | undefined {
    return this.items[0];
  }

  /** Every item, in heap order (not sorted). */
  values(): readonly T[] {
    return this.items;
  }

  push(item: T): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(a[i]!, a[parent]!)) break;
      [a[i], a[parent]] = [a[parent]!, a[i]!];
      i = parent;
    }
  }

  /** Removes and returns the next item, or undefined when empty. */
  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    a[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && this.before(a[l]!, a[m]!)) m = l;
      if (r < a.length && this.before(a[r]!, a[m]!)) m = r;
      if (m === i) return top;
      [a[i], a[m]] = [a[m]!, a[i]!];
      i = m;
    }
  }
}
