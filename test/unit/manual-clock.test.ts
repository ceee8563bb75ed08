// The test clock the e2e suites inject: it must fire what falls due in time order, let callbacks
// schedule more, never move back, and fire "now" on its own as the system clock would.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../support/manual-clock.ts';

const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);

describe('ManualClock', () => {
  it('starts at the real now unless told otherwise', () => {
    const before = Date.now();
    const clock = new ManualClock();
    expect(clock.now()).toBeGreaterThanOrEqual(before);
    expect(clock.now()).toBeLessThanOrEqual(Date.now());
    expect(new ManualClock(T0).now()).toBe(T0);
  });

  it('fires nothing until advanced, then what fell due, in time order, each at its own now', () => {
    const clock = new ManualClock(T0);
    const seen: [string, number][] = [];
    clock.at(T0 + 300, () => seen.push(['c', clock.now()]));
    clock.at(T0 + 100, () => seen.push(['a', clock.now()]));
    clock.at(T0 + 200, () => seen.push(['b', clock.now()]));
    expect(seen).toEqual([]);
    expect(clock.advance(250)).toBe(2);
    expect(seen).toEqual([['a', T0 + 100], ['b', T0 + 200]]);
    expect(clock.now()).toBe(T0 + 250);
    expect(clock.pending()).toEqual([T0 + 300]);
    clock.advance(50);
    expect(seen.at(-1)).toEqual(['c', T0 + 300]);
    expect(clock.pending()).toEqual([]);
  });

  it('fires timers due at the same time in the order they were scheduled', () => {
    const clock = new ManualClock(T0);
    const seen: number[] = [];
    for (const n of [1, 2, 3]) clock.at(T0 + 10, () => seen.push(n));
    clock.advance(10);
    expect(seen).toEqual([1, 2, 3]);
  });

  it('callbacks may schedule more: those due within the same advance fire in it, the rest wait', () => {
    const clock = new ManualClock(T0);
    const seen: number[] = [];
    const tick = () => {
      seen.push(clock.now() - T0);
      clock.at(clock.now() + 60_000, tick);
    };
    clock.at(T0 + 60_000, tick);
    clock.advance(10 * 60_000);
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((m) => m * 60_000));
    expect(clock.next()).toBe(T0 + 11 * 60_000);
  });

  it('a callback scheduled earlier than one already due still fires first', () => {
    const clock = new ManualClock(T0);
    const seen: string[] = [];
    clock.at(T0 + 100, () => {
      seen.push('first');
      clock.at(T0 + 150, () => seen.push('inserted'));
    });
    clock.at(T0 + 200, () => seen.push('later'));
    clock.advance(1_000);
    expect(seen).toEqual(['first', 'inserted', 'later']);
  });

  it('cancel stops a callback, even one a callback earlier in the same advance cancels', () => {
    const clock = new ManualClock(T0);
    const seen: string[] = [];
    const cancelB = clock.at(T0 + 200, () => seen.push('b'));
    clock.at(T0 + 100, () => {
      seen.push('a');
      cancelB();
    });
    const cancelC = clock.at(T0 + 300, () => seen.push('c'));
    cancelC();
    clock.advance(1_000);
    expect(seen).toEqual(['a']);
  });

  it('advanceTo never moves time back; advance refuses negative time', () => {
    const clock = new ManualClock(T0);
    clock.advanceTo(T0 + 500);
    clock.advanceTo(T0 + 100);
    expect(clock.now()).toBe(T0 + 500);
    expect(() => clock.advance(-1)).toThrow(RangeError);
  });

  it('a callback due now (or in the past) fires on its own, soon after, like setTimeout(fn, 0)', async () => {
    const clock = new ManualClock(T0);
    let fired = 0;
    clock.at(T0 - 5_000, () => fired++);
    clock.at(T0, () => fired++);
    expect(fired).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(fired).toBe(2);
    expect(clock.now()).toBe(T0);
  });

  it('runUntilIdle fires everything, moving time to each, including what the callbacks schedule', () => {
    const clock = new ManualClock(T0);
    const seen: number[] = [];
    clock.at(T0 + 30 * 60_000, () => seen.push(clock.now()));
    clock.at(T0 + 10 * 60_000, () => {
      seen.push(clock.now());
      clock.at(clock.now() + 10 * 60_000, () => seen.push(clock.now()));
    });
    expect(clock.runUntilIdle()).toBe(3);
    expect(seen).toEqual([T0 + 10 * 60_000, T0 + 20 * 60_000, T0 + 30 * 60_000]);
    expect(clock.now()).toBe(T0 + 30 * 60_000);
  });

  it('runUntilIdle gives up on a timer that re-arms itself forever', () => {
    const clock = new ManualClock(T0);
    const again = () => void clock.at(clock.now() + 1_000, again);
    clock.at(T0 + 1_000, again);
    expect(() => clock.runUntilIdle(50)).toThrow(/after 50 firings/);
  });

  it('a callback that throws does not stop the others; the error surfaces after the advance', () => {
    const clock = new ManualClock(T0);
    const seen: string[] = [];
    clock.at(T0 + 1, () => {
      throw new Error('boom');
    });
    clock.at(T0 + 2, () => seen.push('after'));
    expect(() => clock.advance(10)).toThrow('boom');
    expect(seen).toEqual(['after']);
    expect(clock.now()).toBe(T0 + 10);
  });
});
