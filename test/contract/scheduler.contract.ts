// The Scheduler contract, run against every implementation with real time (BullMQ's delays are
// real), so jobs are due within a few hundred ms. A "world" is one backing store: `open` returns a
// new Scheduler instance on it. `durable` implementations keep jobs across instances (a process
// restart); for them a job scheduled by one instance is fired by another started later.
import { afterEach, describe, expect, it } from 'vitest';
import type { Scheduler, TimerJob } from '../../src/ports/scheduler.port.ts';

export interface SchedulerWorld {
  open(): Promise<Scheduler>;
}

export interface SchedulerUnderTest {
  /** A fresh, empty backing store. */
  world(): SchedulerWorld;
  durable: boolean;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function waitFor(what: string, check: () => boolean, timeoutMs = 3_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** A handler that records deliveries (with when they happened), optionally failing some. */
function recorder(fail: (job: TimerJob, attempt: number) => boolean = () => false) {
  const calls: { job: TimerJob; at: number }[] = [];
  const handler = async (job: TimerJob) => {
    calls.push({ job, at: Date.now() });
    const attempt = calls.filter((c) => c.job.name === job.name && c.job.runId === job.runId && c.job.at === job.at).length;
    if (fail(job, attempt)) throw new Error(`handler fails on attempt ${attempt}`);
  };
  return { calls, handler };
}

export function schedulerContract(implementation: string, underTest: SchedulerUnderTest): void {
  describe(`Scheduler contract: ${implementation}`, () => {
    const opened: Scheduler[] = [];
    const world = (): SchedulerWorld => {
      const inner = underTest.world();
      return {
        async open() {
          const scheduler = await inner.open();
          opened.push(scheduler);
          return scheduler;
        },
      };
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.stop()));
    });

    it('fires a due job once, not before it is due, with its data', async () => {
      const scheduler = await world().open();
      const { calls, handler } = recorder();
      await scheduler.start(handler);
      const job = { runId: 'run-a', name: 'approval-expiry', at: Date.now() + 300 };
      await scheduler.schedule(job);
      await sleep(150);
      expect(calls).toHaveLength(0);
      await waitFor('the job', () => calls.length > 0);
      expect(calls[0]!.job).toEqual(job);
      expect(calls[0]!.at).toBeGreaterThanOrEqual(job.at - 15);
      await sleep(300);
      expect(calls).toHaveLength(1);
    });

    it('names with colons and pipes (step wake-ups: wake:<step>:<attempt>) arrive as they were given', async () => {
      const scheduler = await world().open();
      const { calls, handler } = recorder();
      await scheduler.start(handler);
      const jobs = [
        { runId: 'run-a', name: 'wake:settle:2', at: Date.now() + 50 },
        { runId: 'run-a', name: 'wake:settle:3', at: Date.now() + 50 },
        { runId: 'run-a', name: 'scale-down', at: Date.now() + 60 },
      ];
      for (const job of jobs) await scheduler.schedule(job);
      await waitFor('three jobs', () => calls.length >= 3);
      expect(calls.map((c) => c.job).sort((a, b) => a.name.localeCompare(b.name))).toEqual([...jobs].sort((a, b) => a.name.localeCompare(b.name)));
    });

    it('the same (runId, name, at) scheduled twice fires once; other jobs each fire', async () => {
      const scheduler = await world().open();
      const { calls, handler } = recorder();
      await scheduler.start(handler);
      const at = Date.now() + 200;
      await scheduler.schedule({ runId: 'run-a', name: 'approval-expiry', at });
      await scheduler.schedule({ runId: 'run-a', name: 'approval-expiry', at });
      await scheduler.schedule({ runId: 'run-a', name: 'verify-deadline', at });
      await scheduler.schedule({ runId: 'run-b', name: 'approval-expiry', at });
      await scheduler.schedule({ runId: 'run-a', name: 'approval-expiry', at: at + 50 });
      await waitFor('four jobs', () => calls.length >= 4);
      await sleep(400);
      expect(calls.map((c) => `${c.job.runId} ${c.job.name} ${c.job.at - at}`).sort()).toEqual([
        'run-a approval-expiry 0',
        'run-a approval-expiry 50',
        'run-a verify-deadline 0',
        'run-b approval-expiry 0',
      ]);
    });

    it('scheduling a job again after it fired does not fire it again', async () => {
      const scheduler = await world().open();
      const { calls, handler } = recorder();
      await scheduler.start(handler);
      const job = { runId: 'run-a', name: 'approval-expiry', at: Date.now() + 100 };
      await scheduler.schedule(job);
      await waitFor('the job', () => calls.length > 0);
      await sleep(100); // let the delivery be recorded as complete
      await scheduler.schedule(job);
      await sleep(400);
      expect(calls).toHaveLength(1);
    });

    it('a job scheduled for the past fires promptly', async () => {
      const scheduler = await world().open();
      const { calls, handler } = recorder();
      await scheduler.start(handler);
      const scheduledAt = Date.now();
      await scheduler.schedule({ runId: 'run-a', name: 'approval-expiry', at: scheduledAt - 60_000 });
      await waitFor('the overdue job', () => calls.length > 0, 1_000);
      expect(calls[0]!.at - scheduledAt).toBeLessThan(1_000);
    });

    it('a job whose handler throws is retried until it succeeds, then not again', async () => {
      const scheduler = await world().open();
      const { calls, handler } = recorder((_, attempt) => attempt <= 2);
      await scheduler.start(handler);
      await scheduler.schedule({ runId: 'run-a', name: 'approval-expiry', at: Date.now() + 100 });
      await waitFor('three deliveries', () => calls.length >= 3, 5_000);
      await sleep(600);
      expect(calls).toHaveLength(3);
      expect(calls[1]!.at).toBeGreaterThan(calls[0]!.at);
    });

    it('jobs scheduled before start are delivered once started', async () => {
      const scheduler = await world().open();
      const { calls, handler } = recorder();
      await scheduler.schedule({ runId: 'run-a', name: 'approval-expiry', at: Date.now() + 100 });
      await sleep(250);
      expect(calls).toHaveLength(0);
      await scheduler.start(handler);
      await waitFor('the job', () => calls.length > 0, 1_500);
      await sleep(200);
      expect(calls).toHaveLength(1);
    });

    it('jobs survive stop and start: nothing fires while stopped, a job due meanwhile fires after', async () => {
      const scheduler = await world().open();
      const { calls, handler } = recorder();
      await scheduler.start(handler);
      await scheduler.schedule({ runId: 'run-a', name: 'approval-expiry', at: Date.now() + 200 });
      await scheduler.schedule({ runId: 'run-a', name: 'later', at: Date.now() + 700 });
      await scheduler.stop();
      await sleep(400);
      expect(calls).toHaveLength(0);
      await scheduler.start(handler);
      await waitFor('the overdue job', () => calls.length >= 1, 1_500);
      await waitFor('the later job', () => calls.length >= 2, 1_500);
      await sleep(200);
      expect(calls.map((c) => c.job.name)).toEqual(['approval-expiry', 'later']);
    });

    if (underTest.durable) {
      it('a job scheduled by one instance is fired by another started later (a restart)', async () => {
        const shared = world();
        const before = await shared.open();
        await before.schedule({ runId: 'run-a', name: 'approval-expiry', at: Date.now() + 200 });
        await before.stop();
        await sleep(300);
        const after = await shared.open();
        const { calls, handler } = recorder();
        await after.start(handler);
        await waitFor('the job on the new instance', () => calls.length > 0, 1_500);
        await sleep(200);
        expect(calls).toHaveLength(1);
      });

      it('two started instances on one store deliver each job once between them', async () => {
        const shared = world();
        const [one, two] = [await shared.open(), await shared.open()];
        const first = recorder();
        const second = recorder();
        await one.start(first.handler);
        await two.start(second.handler);
        const at = Date.now() + 200;
        for (let i = 0; i < 10; i++) await (i % 2 ? one : two).schedule({ runId: `run-${i}`, name: 'approval-expiry', at });
        await waitFor('ten jobs', () => first.calls.length + second.calls.length >= 10);
        await sleep(300);
        const all = [...first.calls, ...second.calls].map((c) => c.job.runId).sort();
        expect(all).toEqual(Array.from({ length: 10 }, (_, i) => `run-${i}`).sort());
      });
    }
  });
}
