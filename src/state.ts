// Where the bot keeps its state: in process (default; one replica only) or on Redis (REDIS_URL;
// several replicas, survives restarts). Both provide the same ports.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import { MemoryAuditLog } from './adapters/memory/memory-audit-log.ts';
import { MemoryCoordination } from './adapters/memory/memory-coordination.ts';
import { MemoryRunStore } from './adapters/memory/memory-run-store.ts';
import { MemoryScheduler } from './adapters/memory/memory-scheduler.ts';
import { BullmqScheduler } from './adapters/redis/bullmq-scheduler.ts';
import { closeRedis, connectRedis, DEFAULT_KEY_PREFIX } from './adapters/redis/redis-connection.ts';
import { RedisAuditLog } from './adapters/redis/redis-audit-log.ts';
import { RedisCoordination } from './adapters/redis/redis-coordination.ts';
import { RedisRunStore } from './adapters/redis/redis-run-store.ts';
import type { AuditLog } from './ports/audit-log.port.ts';
import type { Clock } from './ports/clock.port.ts';
import type { Coordination } from './ports/coordination.port.ts';
import type { RunStore } from './ports/run-store.port.ts';
import type { Scheduler } from './ports/scheduler.port.ts';

export interface State {
  kind: 'memory' | 'redis';
  store: RunStore;
  coordination: Coordination;
  scheduler: Scheduler;
  audit: AuditLog;
  /** Whether the backing store answers (for /readyz). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** Names this process in leases and the effect journal. */
export function newReplicaId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`;
}

export function memoryState(clock: Clock, log: Logger): State {
  return {
    kind: 'memory',
    store: new MemoryRunStore(),
    coordination: new MemoryCoordination({ now: () => clock.now() }),
    scheduler: new MemoryScheduler(clock, { log }),
    audit: new MemoryAuditLog(),
    ping: async () => true,
    close: async () => undefined,
  };
}

/** Connects to Redis; fails at once with a clear message when it is not reachable. */
export async function redisState(url: string, log: Logger, prefix = DEFAULT_KEY_PREFIX): Promise<State> {
  const redis: Redis = await connectRedis(url, { role: 'app', log });
  return {
    kind: 'redis',
    store: new RedisRunStore(redis, { prefix }),
    coordination: new RedisCoordination(redis, { prefix }),
    scheduler: new BullmqScheduler({ url, prefix, log }),
    audit: new RedisAuditLog(redis, { prefix }),
    // Answer at once: a PING while disconnected would wait in ioredis's offline queue.
    ping: async () => redis.status === 'ready',
    close: () => closeRedis(redis),
  };
}
