// The queue.depth probe against the real Redis at REDIS_URL (default redis://127.0.0.1:6379): a real
// BullMQ queue, Bull 3's key layout written by hand, and a plain list. Every key lives under a
// prefix made for this file, deleted when it ends.
import { randomUUID } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Unmeasurable, type Probes } from '../../../src/ports/probe.port.ts';
import { closedPort, failure, probesFor, SERVICE } from './probe-fixtures.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `scalebot-probe-test-${randomUUID().slice(0, 8)}`;

let redis: Redis;
let probes: Probes | undefined;

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  await redis.ping();
});
afterEach(async () => {
  await probes?.close();
});
afterAll(async () => {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  await redis.quit();
});

function measure(source: Record<string, unknown>) {
  probes = probesFor({ jobs: { kind: 'queue', url: REDIS_URL, ...source } }, {}, { timeoutMs: 2_000 });
  return probes.measure({ probe: 'queue.depth', params: {}, service: SERVICE, replicas: 3 });
}

describe('queue.depth probe', () => {
  it('BullMQ: waiting (incl. prioritized), active, failed and delayed jobs of a real queue', async () => {
    const name = 'pdf-generation';
    const queue = new Queue(name, { connection: { url: REDIS_URL }, prefix: PREFIX });
    const worker = new Worker(name, null, { connection: { url: REDIS_URL, maxRetriesPerRequest: null }, prefix: PREFIX, autorun: false });
    try {
      await queue.addBulk(Array.from({ length: 118 }, (_, i) => ({ name: 'render', data: { i } })));
      await queue.add('urgent', {}, { priority: 1 });
      await queue.add('later', {}, { delay: 60_000 });
      // One job taken by a worker (active), then one taken and failed.
      const token = randomUUID();
      const taken = await worker.getNextJob(token, { block: false });
      const failing = await worker.getNextJob(token, { block: false });
      await failing?.moveToFailed(new Error('render crashed'), token, false);
      expect(taken).toBeDefined();

      const m = await measure({ name, type: 'bullmq', prefix: PREFIX });
      expect(m.values).toEqual({ waiting: 117, active: 1, failed: 1, delayed: 1 });
      expect(m.summary).toBe(`117 waiting, 1 active, 1 failed, 1 delayed in queue ${name}`);
      expect(m.source).toBe(`BullMQ queue ${name} on Redis 127.0.0.1:6379`);
      // Seed 004: one PDF worker per 50 waiting jobs.
      expect(Math.ceil((m.values.waiting ?? 0) / 50)).toBe(3);
    } finally {
      await worker.close();
      await queue.close();
    }
  });

  it('Bull 3: counts its wait and paused lists, active list, failed and delayed sets', async () => {
    const key = (k: string) => `${PREFIX}:email:${k}`;
    await redis.rpush(key('wait'), '1', '2', '3');
    await redis.rpush(key('paused'), '4');
    await redis.rpush(key('active'), '5');
    await redis.zadd(key('failed'), 1, '6', 2, '7');
    await redis.zadd(key('delayed'), 1, '8');
    await redis.set(key('id'), '8');
    const m = await measure({ name: 'email', type: 'bull', prefix: PREFIX });
    expect(m.values).toEqual({ waiting: 4, active: 1, failed: 2, delayed: 1 });
    expect(m.details).toContain('waiting = wait 3 + paused 1');
  });

  it('a plain list: its length, and 0 when the key is gone (Redis deletes empty lists)', async () => {
    await redis.rpush(`${PREFIX}:notification-queue`, 'a', 'b', 'c');
    const m = await measure({ name: `${PREFIX}:notification-queue`, type: 'list' });
    expect(m.values).toEqual({ waiting: 3 });
    const empty = await measure({ name: `${PREFIX}:drained`, type: 'list' });
    expect(empty.values).toEqual({ waiting: 0 });
  });

  it('a misspelt queue name is refused, not read as an empty queue', async () => {
    const error = await failure(measure({ name: 'pdf-generaton', type: 'bullmq', prefix: PREFIX }));
    expect(error).toBeInstanceOf(Unmeasurable);
    expect(error.message).toContain(`no BullMQ queue "pdf-generaton" (no ${PREFIX}:pdf-generaton:* keys): check the source's name and prefix`);
  });

  it('a key that is not a list is refused', async () => {
    await redis.set(`${PREFIX}:a-string`, 'x');
    const error = await failure(measure({ name: `${PREFIX}:a-string`, type: 'list' }));
    expect(error.message).toContain(`key ${PREFIX}:a-string holds a string, not a list`);
  });

  it('Redis down: unmeasurable at once, without the password', async () => {
    const port = await closedPort();
    const started = Date.now();
    const error = await failure(measure({ url: `redis://:t0ps3cret@127.0.0.1:${port}/2`, name: 'jobs' }));
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(error.message).toBe(`BullMQ queue jobs on Redis 127.0.0.1:${port}/2 (source "jobs"): could not connect (connect ECONNREFUSED)`);
  });
});
