// A Clock for tests that moves only when told to: runbooks wait 10 minutes, settle for 5 and expire
// approvals after 30, and a test must never sleep through that. Starts at the real now (Slack
// signatures and Kubernetes timestamps are dated by real time), then `advance(ms)` or
// `advanceTo(t)` fires every callback that falls due, in time order (ties in the order they were
// scheduled), each seeing `now()` at its own due time. A callback may schedule more: those that
// fall due within the same advance fire in it too.
//
// A callback scheduled at or before now() fires soon after, on its own (a real macrotask), as
// systemClock's setTimeout(…, 0) would: nobody needs to advance for "now".
import type { Clock } from '../../src/ports/clock.port.ts';

/** One advance fires at most this many callbacks (a callback re-arming itself at "now" forever). */
const MAX_FIRINGS = 100_000;

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
}

export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private readonly timers = new Map<number, Timer>();
  private flushQueued = false;
  private firing = false;

  constructor(start: number = Date.now()) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  at(at: number, fn: () => void): () => void {
    const id = ++this.seq;
    this.timers.set(id, { at, seq: id, fn });
    if (at <= this.current) this.queueFlush();
    return () => void this.timers.delete(id);
  }

  /** Due times of the callbacks not yet fired, earliest first. */
  pending(): number[] {
    return [...this.timers.values()].map((t) => t.at).sort((a, b) => a - b);
  }

  /** The earliest due time, if any callback is waiting. */
  next(): number | undefined {
    return this.pending()[0];
  }

  /** Moves time forward by `ms` (≥ 0), firing what falls due on the way; returns how many fired. */
  advance(ms: number): number {
    if (!(ms >= 0)) throw new RangeError(`advance(${ms}): time only moves forward`);
    return this.advanceTo(this.current + ms);
  }

  /** Moves time forward to `t` (never back), firing what falls due on the way; returns how many fired. */
  advanceTo(t: number): number {
    if (Number.isNaN(t)) throw new RangeError('advanceTo(NaN)');
    if (this.firing) throw new Error('advanceTo called from inside a timer callback');
    this.firing = true;
    let fired = 0;
    const errors: unknown[] = [];
    try {
      for (let due = this.earliest(t); due; due = this.earliest(t)) {
        if (fired >= MAX_FIRINGS) throw new Error(`advanceTo: ${MAX_FIRINGS} callbacks fired without time reaching ${t}; one re-arms itself at the same time forever?`);
        this.timers.delete(due.seq);
        this.current = Math.max(this.current, due.at);
        fired++;
        try {
          due.fn();
        } catch (error) {
          errors.push(error);
        }
      }
      this.current = Math.max(this.current, t);
    } finally {
      this.firing = false;
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `${errors.length} timer callbacks threw`);
    return fired;
  }

  /**
   * Fires every callback, moving time to each one's due time, including those the callbacks
   * schedule, until none is left. Throws after `limit` firings (a timer that re-arms forever).
   */
  runUntilIdle(limit = 1_000): number {
    let fired = 0;
    for (let next = this.next(); next !== undefined; next = this.next()) {
      if (fired >= limit) throw new Error(`runUntilIdle: still ${this.timers.size} timer(s) after ${limit} firings; one re-arms itself forever?`);
      fired += this.advanceTo(Math.max(next, this.current));
    }
    return fired;
  }

  /** The earliest callback due at or before `t` (ties: the first scheduled). */
  private earliest(t: number): Timer | undefined {
    let best: Timer | undefined;
    for (const timer of this.timers.values()) {
      if (timer.at > t) continue;
      if (!best || timer.at < best.at || (timer.at === best.at && timer.seq < best.seq)) best = timer;
    }
    return best;
  }

  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    setImmediate(() => {
      this.flushQueued = false;
      // Inside an advance the loop will reach them itself.
      if (this.firing) return;
      this.advance(0);
    });
  }
}
