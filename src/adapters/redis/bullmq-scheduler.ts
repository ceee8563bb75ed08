// Durable timers on BullMQ: a job is a delayed BullMQ job in Redis, so it survives restarts and is
// delivered to one worker across all replicas (at-least-once: a worker that dies mid-job has it
// redelivered after its lock expires; the engine ignores timers that no longer apply).
//
// - The job id is derived from (runId, name, at), so scheduling the same timer twice — or again
//   after it fired, while its completed job is kept (`keepCompletedMs`) — adds it once. BullMQ
//   rejects custom ids that contain ':' (unless they happen to have exactly three ':'-separated
//   parts!) or that look like integers, so the parts are URI-encoded and joined with '|'.
// - The scheduler opens its own two connections and closes them in stop(): BullMQ needs
//   `maxRetriesPerRequest: null` on a worker's connection (it duplicates it for its blocking
//   BZPOPMIN and refuses one with a limit), and refuses clients with an ioredis `keyPrefix`; its
//   keys live under `<prefix>bull:<queueName>:`.
import type { Job } from 'bullmq';
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Scheduler, TimerJob } from '../../ports/scheduler.port.ts';
import { closeRedis, connectRedis, DEFAULT_KEY_PREFIX } from './redis-connection.ts';

export interface BullmqSchedulerOptions {
  /** Redis URL (REDIS_URL). */
  url: string;
  /** Key prefix shared with the other Redis adapters (default `scalebot:`). */
  prefix?: string;
  /** BullMQ queue name, no ':' (default `timers`). */
  queueName?: string;
  /** Deliveries of a job whose handler keeps throwing, including the first (default 5). */
  attempts?: number;
  /** Delay before the first retry, doubled for each further one (default 1000 ms). */
  backoffMs?: number;
  /** Jobs delivered at once by this replica (default 4). */
  concurrency?: number;
  /** How long a delivered job is kept, so scheduling it again does nothing (default 24 h). */
  keepCompletedMs?: number;
  /** How long a job that kept failing is kept for inspection (default 7 days). */
  keepFailedMs?: number;
  log?: Pick<Logger, 'warn' | 'info' | 'error'>;
}

/** BullMQ's custom job id for a timer: deterministic, never an integer, never a ':'. */
export function bullmqJobId(job: TimerJob): string {
  return ['timer', encodeURIComponent(job.runId), encodeURIComponent(job.name), String(job.at)].join('|');
}

export class BullmqScheduler implements Scheduler {
  private readonly prefix: string;
  private readonly queueName: string;
  private queue: Promise<{ queue: Queue<TimerJob>; redis: Redis }> | undefined;
  private worker: { worker: Worker<TimerJob>; redis: Redis } | undefined;

  constructor(private readonly opts: BullmqSchedulerOptions) {
    this.prefix = `${opts.prefix ?? DEFAULT_KEY_PREFIX}bull`;
    this.queueName = opts.queueName ?? 'timers';
    if (this.queueName.includes(':')) throw new Error(`BullMQ queue names cannot contain ':' (got ${this.queueName})`);
  }

  /** Opened on first use (and again after stop()), so constructing the scheduler needs no I/O. */
  private openQueue(): Promise<{ queue: Queue<TimerJob>; redis: Redis }> {
    if (this.queue) return this.queue;
    const opening = (async () => {
      const redis = await connectRedis(this.opts.url, { role: 'scheduler', log: this.opts.log });
      const queue = new Queue<TimerJob>(this.queueName, { connection: redis, prefix: this.prefix });
      queue.on('error', (error) => this.opts.log?.warn({ err: String(error) }, 'timer queue error'));
      return { queue, redis };
    })();
    this.queue = opening;
    opening.catch(() => {
      if (this.queue === opening) this.queue = undefined; // let the next call try again
    });
    return opening;
  }

  async schedule(job: TimerJob): Promise<void> {
    const { queue } = await this.openQueue();
    const data: TimerJob = { runId: job.runId, name: job.name, at: job.at };
    await queue.add(job.name, data, {
      jobId: bullmqJobId(job),
      delay: Math.max(0, job.at - Date.now()),
      attempts: Math.max(1, this.opts.attempts ?? 5),
      backoff: { type: 'exponential', delay: this.opts.backoffMs ?? 1_000 },
      removeOnComplete: { age: Math.ceil((this.opts.keepCompletedMs ?? 24 * 60 * 60 * 1000) / 1000) },
      removeOnFail: { age: Math.ceil((this.opts.keepFailedMs ?? 7 * 24 * 60 * 60 * 1000) / 1000) },
    });
  }

  async start(handler: (job: TimerJob) => Promise<void>): Promise<void> {
    if (this.worker) throw new Error('the scheduler is already started');
    const redis = await connectRedis(this.opts.url, { role: 'scheduler-worker', maxRetriesPerRequest: null, log: this.opts.log });
    const worker = new Worker<TimerJob>(
      this.queueName,
      async (job: Job<TimerJob>) => {
        await handler({ runId: job.data.runId, name: job.data.name, at: job.data.at });
      },
      { connection: redis, prefix: this.prefix, concurrency: this.opts.concurrency ?? 4 },
    );
    worker.on('error', (error) => this.opts.log?.warn({ err: String(error) }, 'timer worker error'));
    worker.on('failed', (job, error) => {
      const final = job !== undefined && job.attemptsMade >= (job.opts.attempts ?? 1);
      this.opts.log?.[final ? 'error' : 'warn'](
        { job: job?.data, attempt: job?.attemptsMade, err: String(error) },
        final ? 'timer handler kept failing; giving up on the job' : 'timer handler failed; retrying',
      );
    });
    this.worker = { worker, redis };
    try {
      await worker.waitUntilReady();
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /** Stops delivery (waiting for running handlers) and closes the worker, the queue and their connections. */
  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) {
      await worker.worker.close().catch((error: unknown) => this.opts.log?.warn({ err: String(error) }, 'closing the timer worker failed'));
      await closeRedis(worker.redis);
    }
    const opened = this.queue;
    this.queue = undefined;
    const queue = await opened?.catch(() => undefined);
    if (queue) {
      await queue.queue.close().catch((error: unknown) => this.opts.log?.warn({ err: String(error) }, 'closing the timer queue failed'));
      await closeRedis(queue.redis);
    }
  }
}
