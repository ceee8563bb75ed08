// Timers for one process, on the injected Clock: the default when REDIS_URL is not set. Jobs are
// lost when the process exits; across stop()/start() of the same instance they are kept and a job
// that fell due meanwhile fires as soon as delivery starts again.
import type { Logger } from 'pino';
import type { Clock } from '../../ports/clock.port.ts';
import type { Scheduler, TimerJob } from '../../ports/scheduler.port.ts';

export interface MemorySchedulerOptions {
  /** Deliveries of a job whose handler keeps throwing, including the first (default 5). */
  attempts?: number;
  /** Delay before the first retry, doubled for each further one (default 1000 ms). */
  backoffMs?: number;
  /** How long a delivered job's id is remembered, so scheduling it again does nothing (default 24 h). */
  rememberMs?: number;
  log?: Pick<Logger, 'warn' | 'error'>;
}

interface Pending {
  job: TimerJob;
  due: number;
  /** Deliveries that threw so far. */
  failures: number;
  cancel?: () => void;
}

/** The identity of a job: the same (runId, name, at) is one job. */
export function timerJobKey(job: TimerJob): string {
  return JSON.stringify([job.runId, job.name, job.at]);
}

export class MemoryScheduler implements Scheduler {
  private readonly pending = new Map<string, Pending>();
  /** Delivered (or given up) jobs by key, with when: scheduling them again is a no-op. */
  private readonly finished = new Map<string, number>();
  private readonly inFlight = new Set<Promise<void>>();
  private handler: ((job: TimerJob) => Promise<void>) | undefined;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly rememberMs: number;

  constructor(
    private readonly clock: Clock,
    private readonly opts: MemorySchedulerOptions = {},
  ) {
    this.attempts = Math.max(1, opts.attempts ?? 5);
    this.backoffMs = opts.backoffMs ?? 1_000;
    this.rememberMs = opts.rememberMs ?? 24 * 60 * 60 * 1000;
  }

  async schedule(job: TimerJob): Promise<void> {
    const key = timerJobKey(job);
    if (this.pending.has(key) || this.finished.has(key)) return;
    const entry: Pending = { job: { runId: job.runId, name: job.name, at: job.at }, due: job.at, failures: 0 };
    this.pending.set(key, entry);
    if (this.handler) this.arm(key, entry);
  }

  async start(handler: (job: TimerJob) => Promise<void>): Promise<void> {
    this.handler = handler;
    for (const [key, entry] of this.pending) if (!entry.cancel) this.arm(key, entry);
  }

  /** Stops delivering (pending jobs are kept for the next start) and waits for running handlers. */
  async stop(): Promise<void> {
    this.handler = undefined;
    for (const entry of this.pending.values()) {
      entry.cancel?.();
      entry.cancel = undefined;
    }
    await Promise.allSettled([...this.inFlight]);
  }

  private arm(key: string, entry: Pending): void {
    entry.cancel = this.clock.at(entry.due, () => {
      entry.cancel = undefined;
      const delivery = this.deliver(key, entry);
      this.inFlight.add(delivery);
      void delivery.finally(() => this.inFlight.delete(delivery));
    });
  }

  private async deliver(key: string, entry: Pending): Promise<void> {
    const handler = this.handler;
    if (!handler || this.pending.get(key) !== entry) return;
    try {
      await handler({ ...entry.job });
      this.finish(key);
    } catch (error) {
      entry.failures++;
      if (entry.failures >= this.attempts) {
        this.opts.log?.error({ job: entry.job, err: String(error), attempts: entry.failures }, 'timer handler kept failing; giving up on the job');
        this.finish(key);
        return;
      }
      this.opts.log?.warn({ job: entry.job, err: String(error), attempt: entry.failures }, 'timer handler failed; retrying');
      entry.due = this.clock.now() + this.backoffMs * 2 ** (entry.failures - 1);
      if (this.handler) this.arm(key, entry);
    }
  }

  private finish(key: string): void {
    this.pending.delete(key);
    const now = this.clock.now();
    this.finished.set(key, now);
    for (const [k, at] of this.finished) {
      if (at > now - this.rememberMs) break; // insertion order is time order
      this.finished.delete(k);
    }
  }
}
