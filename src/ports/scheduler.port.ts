// Durable delayed work (approval expiry, verification deadlines, scale-down waits, follow-ups):
// survives restarts and fires once across replicas (at-least-once delivery: handlers are idempotent;
// the engine ignores a timer that no longer applies). Memory (one process) and BullMQ implementations.

export interface TimerJob {
  runId: string;
  name: string;
  /** Epoch ms when it is due. */
  at: number;
}

export interface Scheduler {
  /** Schedules a job; scheduling the same (runId, name, at) twice schedules it once. */
  schedule(job: TimerJob): Promise<void>;
  /** Starts delivering due jobs to `handler`. A job whose handler throws is retried. */
  start(handler: (job: TimerJob) => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}
