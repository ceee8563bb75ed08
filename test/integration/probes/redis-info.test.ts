// The redis.info probe against the real Redis at REDIS_URL (default redis://127.0.0.1:6379), and
// against a stand-in that refuses CONFIG the way managed Redis services do.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Probes } from '../../../src/ports/probe.port.ts';
import { startFakeRedis } from './fake-redis-server.ts';
import { closedPort, failure, probesFor, SERVICE, silentServer } from './probe-fixtures.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const KEY = `scalebot-probe-test-${randomUUID().slice(0, 8)}:hit`;

let redis: Redis;
let probes: Probes | undefined;

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  await redis.set(KEY, 'x');
});
afterEach(async () => {
  await probes?.close();
});
afterAll(async () => {
  await redis.del(KEY);
  await redis.quit();
});

function measure(url: string, env: Record<string, string> = {}, timeoutMs = 2_000) {
  probes = probesFor({ cache: { kind: 'redis', url } }, {}, { env, timeoutMs });
  return probes.measure({ probe: 'redis.info', params: {}, service: SERVICE, replicas: 3 });
}

describe('redis.info probe', () => {
  it('reads memory, clients against maxclients, evictions and hit rate from a real Redis', async () => {
    await redis.get(KEY); // at least one hit, so the hit rate exists
    const [, maxclients] = (await redis.config('GET', 'maxclients')) as [string, string];
    const m = await measure(REDIS_URL);
    expect(m.values.used_memory).toBeGreaterThan(0);
    expect(m.values.maxclients).toBe(Number(maxclients));
    expect(m.values.connected_clients).toBeGreaterThanOrEqual(2); // this file's client and the probe's
    expect(m.values.clients_pct).toBeCloseTo(((m.values.connected_clients ?? 0) / Number(maxclients)) * 100, 1);
    expect(m.values.hit_rate).toBeGreaterThan(0);
    expect(m.values.hit_rate).toBeLessThanOrEqual(100);
    expect(m.values.evicted_keys).toBeGreaterThanOrEqual(0);
    expect(m.source).toBe('Redis 127.0.0.1:6379');
    expect(m.summary).toMatch(new RegExp(`clients \\d+/${maxclients}`));
  });

  it('the client count moves when clients connect', async () => {
    const before = (await measure(REDIS_URL)).values.connected_clients ?? 0;
    const more = Array.from({ length: 5 }, () => new Redis(REDIS_URL, { lazyConnect: true }));
    try {
      await Promise.all(more.map((c) => c.connect()));
      const after = (await measure(REDIS_URL)).values.connected_clients ?? 0;
      // Other test files share this Redis; five more of ours is the floor.
      expect(after).toBeGreaterThanOrEqual(before + 5 - 2);
    } finally {
      await Promise.all(more.map((c) => c.quit()));
    }
  });

  it('with CONFIG disabled, maxclients comes from INFO; percentages and hit rate computed', async () => {
    const fake = await startFakeRedis({
      used_memory: 805_306_368, maxmemory: 1_073_741_824, evicted_keys: 42, connected_clients: 812, maxclients: 10_000, keyspace_hits: 985, keyspace_misses: 15,
    });
    try {
      const m = await measure(fake.url);
      expect(m.values).toEqual({
        used_memory: 805_306_368, maxmemory: 1_073_741_824, used_pct: 75, evicted_keys: 42, connected_clients: 812, maxclients: 10_000, clients_pct: 8.12, hit_rate: 98.5,
      });
      expect(m.summary).toBe('memory 768.0 MiB of 1.0 GiB (75%), clients 812/10000, 42 evicted keys, hit rate 98.5%');
      expect(fake.commands.some((c) => c[0]?.toUpperCase() === 'CONFIG')).toBe(true);
    } finally {
      await fake.close();
    }
  });

  it('no maxmemory, no maxclients anywhere, no reads yet: says so and leaves those values out', async () => {
    const fake = await startFakeRedis({ used_memory: 1024, maxmemory: 0, evicted_keys: 0, connected_clients: 3, keyspace_hits: 0, keyspace_misses: 0 });
    try {
      const m = await measure(fake.url);
      expect(m.values).toEqual({ used_memory: 1024, maxmemory: 0, used_pct: 0, evicted_keys: 0, connected_clients: 3 });
      expect(m.summary).toBe('memory 1.0 KiB (no maxmemory set), 3 clients (maxclients unknown), 0 evicted keys, no reads yet (hit rate unknown)');
    } finally {
      await fake.close();
    }
  });

  it('Redis down: unmeasurable at once; Redis silent: within the timeout; never the password', async () => {
    const port = await closedPort();
    let started = Date.now();
    const refused = await failure(measure(`redis://:\${REDIS_PASSWORD}@127.0.0.1:${port}/3`, { REDIS_PASSWORD: 'sw0rdfish' }));
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(refused.message).toBe(`Redis 127.0.0.1:${port}/3 (source "cache"): could not connect (connect ECONNREFUSED)`);

    const silent = await silentServer();
    try {
      started = Date.now();
      const hung = await failure(measure(`redis://:sw0rdfish@127.0.0.1:${silent.port}`, {}, 500));
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(hung.message).toBe(`Redis 127.0.0.1:${silent.port} (source "cache"): no answer within 500ms`);
      expect(hung.message).not.toContain('sw0rdfish');
    } finally {
      await silent.close();
    }
  });
});
