import { describe, expect, it } from 'vitest';
import { AutoClock, VirtualClock } from '../../src/clock.js';
import { MockBackend } from '../../src/mock/backend.js';

describe('VirtualClock', () => {
  it('fires timers in due order, same-instant timers in the order they were set', async () => {
    const clock = new VirtualClock();
    const fired: string[] = [];
    clock.setTimer(20, () => fired.push('b'));
    clock.setTimer(10, () => fired.push('a'));
    clock.setTimer(20, () => fired.push('c'));
    await clock.advance(15);
    expect(fired).toEqual(['a']);
    expect(clock.now()).toBe(15);
    await clock.advance(5);
    expect(fired).toEqual(['a', 'b', 'c']);
  });

  it('cancelled timers never fire', async () => {
    const clock = new VirtualClock();
    let fired = false;
    clock.setTimer(5, () => (fired = true)).cancel();
    await clock.advance(10);
    expect(fired).toBe(false);
    expect(clock.pendingTimers).toBe(0);
  });

  it('run() jumps virtual time: an hour of sleeping costs nothing', async () => {
    const clock = new VirtualClock();
    const work = (async () => {
      for (let i = 0; i < 3600; i++) await clock.sleep(1000);
      return clock.now();
    })();
    expect(await clock.run(work)).toBe(3_600_000);
  });

  it('run() reports a deadlock instead of hanging', async () => {
    const clock = new VirtualClock();
    await expect(clock.run(new Promise(() => undefined))).rejects.toThrow(/deadlock/);
  });

  it('run() stops at its virtual-time limit', async () => {
    const clock = new VirtualClock();
    const forever = (async () => {
      for (;;) await clock.sleep(100);
    })();
    await expect(clock.run(forever, 1000)).rejects.toThrow(/still pending after 1000 ms/);
  });

  it('sleep rejects when aborted and its timer is dropped', async () => {
    const clock = new VirtualClock();
    const controller = new AbortController();
    const sleeping = clock.sleep(1000, controller.signal);
    controller.abort(new Error('stop'));
    await expect(sleeping).rejects.toThrow('stop');
    expect(clock.pendingTimers).toBe(0);
  });

  it('rejects negative and non-finite delays', () => {
    const clock = new VirtualClock();
    expect(() => clock.setTimer(-1, () => undefined)).toThrow(RangeError);
    expect(() => clock.setTimer(Number.NaN, () => undefined)).toThrow(RangeError);
  });
});

describe('AutoClock', () => {
  it('passes by itself: sleeps resolve in due order with nobody driving, and time jumps', async () => {
    const clock = new AutoClock();
    const fired: string[] = [];
    const a = clock.sleep(3_600_000).then(() => fired.push(`a@${clock.now()}`));
    const b = clock.sleep(10).then(() => fired.push(`b@${clock.now()}`));
    clock.setTimer(10, () => fired.push(`c@${clock.now()}`));
    await Promise.all([a, b]);
    expect(fired).toEqual(['b@10', 'c@10', 'a@3600000']);
    expect(clock.pendingTimers).toBe(0);
    expect(await clock.run(Promise.resolve(7))).toBe(7);
  });

  it('whenIdle resolves once no timer is pending; a later timer starts it again', async () => {
    const clock = new AutoClock();
    await clock.whenIdle();
    let n = 0;
    const tick = (): void => {
      if (++n < 100) clock.setTimer(1000, tick);
    };
    clock.setTimer(1000, tick);
    await clock.whenIdle();
    expect(n).toBe(100);
    expect(clock.now()).toBe(100_000);
    await clock.sleep(5);
    expect(clock.now()).toBe(100_005);
  });

  it("is the mock host's default: createGuest resolves and control.settle() waits for the host to go quiet", async () => {
    const backend = new MockBackend({ host: { memoryMiB: 4096 } });
    expect(backend.clock).toBeInstanceOf(AutoClock);
    const domid = await backend.createGuest({ c_info: { type: 'pv', name: 'auto1' }, b_info: { max_memkb: 262144, target_memkb: 262144 } });
    expect((await backend.getDomain(domid)).totPages).toBe(65536);
    await backend.control.settle();
    expect(backend.control.quiescent).toBe(true);
    expect(backend.control.guestState(domid)?.booted).toBe(true);
    await backend.close();
  });
});
