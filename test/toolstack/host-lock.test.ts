import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock.js';
import { HostLock } from '../../src/toolstack/host-lock.js';

describe('HostLock', () => {
  it('runs critical sections one at a time, in arrival order', async () => {
    const clock = new VirtualClock();
    const lock = new HostLock();
    const log: string[] = [];
    const section = (name: string, ms: number) =>
      lock.withLock(async () => {
        log.push(`${name}+`);
        await clock.sleep(ms);
        log.push(`${name}-`);
      });
    await clock.run(Promise.all([section('a', 30), section('b', 10), section('c', 20)]));
    expect(log).toEqual(['a+', 'a-', 'b+', 'b-', 'c+', 'c-']);
    expect(clock.now()).toBe(60);
    expect(lock.locked).toBe(false);
  });

  it('is released when the critical section throws', async () => {
    const lock = new HostLock();
    await expect(lock.withLock(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(lock.locked).toBe(false);
    await expect(lock.withLock(async () => 7)).resolves.toBe(7);
  });
});
