// `queue.depth`: how many jobs wait, run, failed or are delayed. BullMQ through its own
// Queue#getJobCounts (its key layout changes between majors); Bull 3 by its documented layout
// (`<prefix>:<name>:wait|paused|active` lists, `:failed|delayed` sorted sets); a plain list by LLEN.
// Waiting counts every job a worker could take next: Bull's wait + paused, BullMQ's wait + prioritized.
//
// A queue with no keys at all is refused rather than read as empty: a misspelt name or prefix must
// not let "queue < 20" pass. (An empty plain list has no key either, so for `list` it reads as 0.)
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { SourceConfig } from '../../config/catalog.ts';
import { Unmeasurable } from '../../ports/probe.port.ts';
import type { ProbeContext, Reading } from './probe-context.ts';
import { withRedis } from './with-redis.ts';

type QueueSource = Extract<SourceConfig, { kind: 'queue' }>;
type Counts = { waiting: number; active: number; failed: number; delayed: number };

/** Keys one of which any Bull/BullMQ queue that ever held a job has. */
const QUEUE_KEYS = ['id', 'meta', 'wait', 'paused', 'active', 'prioritized', 'delayed', 'failed', 'completed', 'events'];

async function assertQueueExists(redis: Redis, source: QueueSource): Promise<void> {
  const base = `${source.prefix}:${source.name}`;
  const found = await redis.exists(...QUEUE_KEYS.map((key) => `${base}:${key}`));
  if (found === 0) {
    throw new Unmeasurable(`no ${source.type === 'bullmq' ? 'BullMQ' : 'Bull'} queue "${source.name}" (no ${base}:* keys): check the source's name and prefix (default "bull")`);
  }
}

async function bullmqCounts(redis: Redis, source: QueueSource): Promise<Counts & { detail: string }> {
  const queue = new Queue(source.name, { connection: redis, prefix: source.prefix, skipVersionCheck: true });
  queue.on('error', () => undefined);
  try {
    // BullMQ 6 keeps a paused queue's jobs in `wait` (the pause is a flag in `meta`).
    const c = await queue.getJobCounts('waiting', 'prioritized', 'active', 'failed', 'delayed');
    const [wait = 0, prioritized = 0] = [c.waiting, c.prioritized];
    return {
      waiting: wait + prioritized,
      active: c.active ?? 0,
      failed: c.failed ?? 0,
      delayed: c.delayed ?? 0,
      detail: `waiting = wait ${wait} + prioritized ${prioritized}`,
    };
  } finally {
    await queue.close().catch(() => undefined); // the connection is ours: BullMQ leaves a shared one open
  }
}

async function bullCounts(redis: Redis, source: QueueSource): Promise<Counts & { detail: string }> {
  const key = (name: string) => `${source.prefix}:${source.name}:${name}`;
  const replies = await redis.multi().llen(key('wait')).llen(key('paused')).llen(key('active')).zcard(key('failed')).zcard(key('delayed')).exec();
  const numbers = (replies ?? []).map(([error, value]) => {
    if (error) throw new Unmeasurable(`reading ${key('*')} failed (${error.message}): is this a Bull queue?`);
    return Number(value);
  });
  const [wait = 0, paused = 0, active = 0, failed = 0, delayed = 0] = numbers;
  return { waiting: wait + paused, active, failed, delayed, detail: `waiting = wait ${wait} + paused ${paused}` };
}

async function listLength(redis: Redis, source: QueueSource): Promise<{ waiting: number; detail: string }> {
  const type = await redis.type(source.name);
  if (type === 'none') return { waiting: 0, detail: `key ${source.name} does not exist: an empty list` };
  if (type !== 'list') throw new Unmeasurable(`key ${source.name} holds a ${type}, not a list: check the source's name and type`);
  return { waiting: await redis.llen(source.name), detail: `LLEN ${source.name}` };
}

export async function queueDepthProbe(ctx: ProbeContext<QueueSource>): Promise<Reading> {
  const { source } = ctx;
  return withRedis(source.url, ctx.signal, ctx.timeoutMs, async (redis) => {
    if (source.type === 'list') {
      const { waiting, detail } = await listLength(redis, source);
      return { values: { waiting }, summary: `${waiting} waiting in list ${source.name}`, details: [detail] };
    }
    await assertQueueExists(redis, source);
    const { detail, ...values } = source.type === 'bullmq' ? await bullmqCounts(redis, source) : await bullCounts(redis, source);
    const summary = `${values.waiting} waiting, ${values.active} active, ${values.failed} failed, ${values.delayed} delayed in queue ${source.name}`;
    return { values, summary, details: [detail, `${source.type === 'bullmq' ? 'BullMQ' : 'Bull'} keys ${source.prefix}:${source.name}:*`] };
  });
}
