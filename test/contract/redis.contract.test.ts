// The Redis adapters against the port contracts, on the real Redis at REDIS_URL (default
// redis://127.0.0.1:6379). Every instance gets its own key prefix under one random prefix for this
// file, and the file deletes those keys when it ends. Plus what only Redis has: its indexes and keys,
// and BullMQ's rules that the scheduler works around.
import { randomUUID } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BullmqScheduler, bullmqJobId } from '../../src/adapters/redis/bullmq-scheduler.ts';
import { RedisAuditLog } from '../../src/adapters/redis/redis-audit-log.ts';
import { closeRedis, connectRedis } from '../../src/adapters/redis/redis-connection.ts';
import { RedisCoordination } from '../../src/adapters/redis/redis-coordination.ts';
import { RedisRunStore } from '../../src/adapters/redis/redis-run-store.ts';
import { auditLogContract } from './audit-log.contract.ts';
import { coordinationContract } from './coordination.contract.ts';
import { makeRun, runStoreContract } from './run-store.contract.ts';
import { schedulerContract, sleep } from './scheduler.contract.ts';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const filePrefix = `scalebot-test:${randomUUID()}:`;
let instances = 0;
const freshPrefix = () => `${filePrefix}${++instances}:`;

let connection: Redis | undefined;
function redis(): Redis {
  if (!connection) throw new Error(`no Redis connection: see the beforeAll failure above (REDIS_URL=${url})`);
  return connection;
}

beforeAll(async () => {
  // Fails the file with "Redis at … is not reachable (…): check REDIS_URL" when Redis is down.
  connection = await connectRedis(url, { role: 'contract-test' });
});

afterAll(async () => {
  if (!connection) return;
  let cursor = '0';
  do {
    const [next, keys] = await connection.scan(cursor, 'MATCH', `${filePrefix}*`, 'COUNT', 1000);
    if (keys.length) await connection.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  await closeRedis(connection);
});

runStoreContract('redis', async () => new RedisRunStore(redis(), { prefix: freshPrefix() }));

coordinationContract('redis', async () => ({
  coordination: new RedisCoordination(redis(), { prefix: freshPrefix() }),
  elapse: sleep, // Redis's TTLs: time really has to pass
}));

auditLogContract('redis', async () => new RedisAuditLog(redis(), { prefix: freshPrefix() }));

schedulerContract('bullmq', {
  world: () => {
    const prefix = freshPrefix();
    return { open: async () => new BullmqScheduler({ url, prefix, backoffMs: 100 }) };
  },
  durable: true,
});

describe('Redis layout', () => {
  it('keeps every key under the prefix', async () => {
    const prefix = freshPrefix();
    const store = new RedisRunStore(redis(), { prefix });
    const coordination = new RedisCoordination(redis(), { prefix });
    await store.create(makeRun('run-a'));
    await store.claimTarget('k8s/prod/api', 'run-a');
    await coordination.acquireLease('run-a', 'replica-1', 10_000);
    await coordination.beginEffect('run-a/execute/1', 'replica-1', 1);
    await coordination.firstSeen('envelope', 10_000);
    await new RedisAuditLog(redis(), { prefix }).append({ at: Date.now(), type: 'request', runId: 'run-a', service: 'api' });
    const scheduler = new BullmqScheduler({ url, prefix });
    await scheduler.schedule({ runId: 'run-a', name: 'approval-expiry', at: Date.now() + 60_000 });
    await scheduler.stop();
    const [, keys] = await redis().scan('0', 'MATCH', `${prefix}*`, 'COUNT', 10_000);
    expect(keys.map((k) => k.slice(prefix.length)).filter((k) => !k.startsWith('bull:timers:')).sort()).toEqual([
      'audit', 'effect:run-a/execute/1', 'lease-token:run-a', 'lease:run-a', 'run:run-a', 'runs', 'runs:active',
      'runs:service:api-gateway', 'seen:envelope', 'target:k8s/prod/api',
    ]);
    expect(keys.some((k) => k.startsWith(`${prefix}bull:timers:`))).toBe(true);
  });

  it('the active index (a sorted set) follows the status written by compareAndSet', async () => {
    const prefix = freshPrefix();
    const store = new RedisRunStore(redis(), { prefix });
    const run = makeRun('run-a', { status: 'awaiting' });
    await store.create(run);
    expect(await redis().zscore(`${prefix}runs:active`, 'run-a')).toBe(String(run.createdAt));
    await store.compareAndSet({ ...run, status: 'rejected' }, 1);
    expect(await redis().zscore(`${prefix}runs:active`, 'run-a')).toBeNull();
    expect(await redis().zscore(`${prefix}runs`, 'run-a')).toBe(String(run.createdAt));
    expect(await redis().zscore(`${prefix}runs:service:api-gateway`, 'run-a')).toBe(String(run.createdAt));
  });

  it('lease records and effect records expire; the token counter outlives leases', async () => {
    const prefix = freshPrefix();
    const coordination = new RedisCoordination(redis(), { prefix, effectTtlMs: 60_000 });
    await coordination.acquireLease('run-a', 'replica-1', 5_000);
    await coordination.beginEffect('k', 'replica-1', 1);
    const ttl = (key: string) => redis().pttl(`${prefix}${key}`);
    expect(await ttl('lease:run-a')).toBeGreaterThan(4_000);
    expect(await ttl('lease:run-a')).toBeLessThanOrEqual(5_000);
    expect(await ttl('effect:k')).toBeGreaterThan(50_000);
    expect(await ttl('lease-token:run-a')).toBeGreaterThan(29 * 24 * 3600 * 1000);
  });
});

describe('BullMQ rules the scheduler works around (pinned so an upgrade that changes them is noticed)', () => {
  it("refuses custom job ids with ':' — except, oddly, ids with exactly three ':'-separated parts — and integer ids", async () => {
    const queue = new Queue('rules', { connection: redis(), prefix: `${freshPrefix()}bull` });
    try {
      await expect(queue.add('x', {}, { jobId: 'run-a:approval-expiry' })).rejects.toThrow('Custom Id cannot contain :');
      await expect(queue.add('x', {}, { jobId: 'run-a:approval-expiry:1700000000000:x' })).rejects.toThrow('Custom Id cannot contain :');
      await expect(queue.add('x', {}, { jobId: 'run-a:approval-expiry:1700000000000' })).resolves.toBeDefined();
      await expect(queue.add('x', {}, { jobId: '1700000000000' })).rejects.toThrow('Custom Id cannot be integers');
      // Ours: no ':' whatever the run id or name holds, and never an integer.
      const id = bullmqJobId({ runId: 'a:b|c', name: 'x:y', at: 1_700_000_000_000 });
      expect(id).not.toContain(':');
      expect(id).toBe('timer|a%3Ab%7Cc|x%3Ay|1700000000000');
      await expect(queue.add('x', {}, { jobId: id })).resolves.toBeDefined();
      // Adding an id that exists (here: waiting) adds nothing.
      await queue.add('x', { again: true }, { jobId: id });
      expect(await queue.count()).toBe(2);
    } finally {
      await queue.close();
    }
  });

  it('refuses a worker connection that has maxRetriesPerRequest set (so the scheduler opens its own)', async () => {
    // `connection` is this file's ordinary client: maxRetriesPerRequest 10.
    expect(() => new Worker('rules', null, { connection: redis(), prefix: `${freshPrefix()}bull`, autorun: false })).toThrow(
      /maxRetriesPerRequest must be null/,
    );
  });

  it('refuses a client with an ioredis keyPrefix (so the adapters prefix keys themselves)', async () => {
    const prefixed = redis().duplicate({ keyPrefix: 'nope:' });
    try {
      expect(() => new Queue('rules', { connection: prefixed })).toThrow(/does not support ioredis prefixes/);
    } finally {
      prefixed.disconnect();
    }
  });

  it('stop() closes every connection the scheduler opened', async () => {
    const prefix = freshPrefix();
    // Ours are named scalebot:scheduler*, BullMQ's blocking duplicate <prefix>bull:<queue>.
    const clients = async () => String(await redis().client('LIST')).split('\n')
      .filter((line) => line.includes('name=scalebot:scheduler') || line.includes(`name=${prefix}bull`)).length;
    const before = await clients();
    const scheduler = new BullmqScheduler({ url, prefix });
    await scheduler.start(async () => undefined);
    await scheduler.schedule({ runId: 'run-a', name: 'approval-expiry', at: Date.now() + 60_000 });
    expect(await clients()).toBe(before + 3); // queue, worker, worker's blocking duplicate
    await scheduler.stop();
    await sleep(100);
    expect(await clients()).toBe(before);
  });
});
