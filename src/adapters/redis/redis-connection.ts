// Opening Redis connections for the Redis adapters. Two behaviours matter and differ on purpose:
//
// - At start, an unreachable Redis is a configuration error: `connectRedis` makes ONE attempt and
//   rejects with a message that names the (password-redacted) URL and the setting to fix, instead
//   of ioredis's default of retrying silently forever while the bot looks healthy.
// - Once connected, Redis going away is an outage to ride out: the client reconnects forever with a
//   capped exponential backoff, and commands issued meanwhile wait in ioredis's offline queue.
//
// How long a queued command waits is bounded by `maxRetriesPerRequest` (default 10). With the
// backoff below that is ~13 s of reconnect attempts: long enough to ride out a Redis restart or a
// failover, short enough that a person's click gets an error instead of a spinner that never ends.
// We do NOT use ioredis's `commandTimeout` for this: it rejects the caller's promise but leaves the
// command queued, so a compare-and-set the caller believes failed could still be applied later;
// `maxRetriesPerRequest` removes the commands from the queue when it rejects them. Note ioredis
// counts reconnect attempts per connection, not per command (the whole queue is flushed every
// `maxRetriesPerRequest + 1` attempts), so a command queued late in a cycle may fail sooner.
// Blocking consumers (BullMQ workers) must pass `maxRetriesPerRequest: null`: wait forever.
//
// Commands in flight when a connection drops are re-sent after reconnecting (ioredis's
// `autoResendUnfulfilledCommands`): Redis may then run one twice. The adapters' scripts are written
// so that a re-sent write recognises itself (a per-call nonce) instead of reporting a conflict.
//
// Keys: the connection itself has no ioredis `keyPrefix` (BullMQ refuses clients that have one and
// SCAN patterns would not get it); every adapter takes a `prefix` option instead, default
// `scalebot:`, so tests and several bots can share one Redis.
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';

export const DEFAULT_KEY_PREFIX = 'scalebot:';

export interface ConnectRedisOptions {
  /** What this connection is for ("app", "scheduler-worker"): its CLIENT name and log field. */
  role?: string;
  /**
   * How many reconnect attempts a queued command survives before it is rejected (see above).
   * Default 10 (~13 s); `null` waits forever, which BullMQ requires for worker connections.
   */
  maxRetriesPerRequest?: number | null;
  /** How long one connection attempt may take, in ms (default 5000): an unanswering host fails in that time. */
  connectTimeoutMs?: number;
  /** Where connection loss and recovery are reported once connected. */
  log?: Pick<Logger, 'warn' | 'info'>;
}

/** ioredis's reconnect delay: 100 ms doubling to a 2 s cap, with jitter so replicas do not stampede. */
export function reconnectDelay(attempt: number): number {
  const base = Math.min(100 * 2 ** Math.max(0, attempt - 1), 2_000);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/** The URL with its password replaced, for messages and logs. Never echoes an unparseable value. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/** "connect ECONNREFUSED" from a socket error; the message (without addresses) otherwise. */
function describeConnectError(error: unknown): string {
  if (error instanceof Error) {
    const { code, syscall } = error as NodeJS.ErrnoException;
    if (code && syscall) return `${syscall} ${code}`;
    if (code) return code;
    return error.message;
  }
  return String(error);
}

/**
 * Connects to Redis or fails with an actionable message (see the top of this file). The returned
 * client reconnects forever on its own; close it with `quit()`.
 */
export async function connectRedis(url: string, opts: ConnectRedisOptions = {}): Promise<Redis> {
  const where = redactRedisUrl(url);
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new Error('not redis');
  } catch {
    throw new Error(`REDIS_URL is not a redis:// or rediss:// URL (got ${where}): check REDIS_URL`);
  }
  const role = opts.role ?? 'app';
  const redis = new Redis(url, {
    lazyConnect: true,
    connectionName: `scalebot:${role}`,
    connectTimeout: opts.connectTimeoutMs ?? 5_000,
    maxRetriesPerRequest: opts.maxRetriesPerRequest === undefined ? 10 : opts.maxRetriesPerRequest,
    retryStrategy: reconnectDelay,
    // After a failover the old primary answers writes with READONLY: reconnect (and re-send).
    reconnectOnError: (error) => error.message.startsWith('READONLY'),
  });

  let lastError: unknown;
  const onStartError = (error: unknown) => {
    lastError = error;
  };
  redis.on('error', onStartError);
  // `connectTimeout` covers the TCP connect only: something that accepts connections but never
  // answers (a wrong port, a proxy) would otherwise hang the start-up in the ready check.
  const answerWithinMs = 2 * (opts.connectTimeoutMs ?? 5_000);
  let timer: NodeJS.Timeout | undefined;
  const silent = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${answerWithinMs} ms`)), answerWithinMs);
  });
  try {
    // The PING surfaces AUTH/SELECT problems here rather than at the first real command.
    await Promise.race([redis.connect().then(() => redis.ping()), silent]);
  } catch (error) {
    redis.disconnect(); // also stops the reconnect loop ioredis has already armed
    const cause = lastError ?? error;
    const why = describeConnectError(cause);
    const message = /NOAUTH|WRONGPASS|NOPERM/.test(why)
      ? `Redis at ${where} refused the credentials (${why.split(' ')[0]}): check the user and password in REDIS_URL`
      : `Redis at ${where} is not reachable (${why}): check REDIS_URL`;
    throw new Error(message, { cause });
  } finally {
    clearTimeout(timer);
    redis.off('error', onStartError);
  }

  // Connected: from now on errors are an outage that ioredis rides out by reconnecting. An 'error'
  // listener must exist (ioredis prints "Unhandled error event" otherwise); log transitions only.
  let down = false;
  redis.on('error', (error: unknown) => {
    if (down) return;
    down = true;
    opts.log?.warn({ role, redis: where, err: describeConnectError(error) }, 'Redis connection lost; reconnecting');
  });
  redis.on('ready', () => {
    if (!down) return;
    down = false;
    opts.log?.info({ role, redis: where }, 'Redis connection restored');
  });
  return redis;
}

/**
 * A Lua script run by EVALSHA, falling back to EVAL when Redis does not know it (NOSCRIPT: after a
 * restart or SCRIPT FLUSH). NOSCRIPT means nothing ran, so the fallback is always safe.
 */
export class LuaScript {
  readonly sha: string;

  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, keys: string[], args: (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('NOSCRIPT')) {
        return redis.eval(this.source, keys.length, ...keys, ...args);
      }
      throw error;
    }
  }
}

/**
 * Closes a client without hanging: QUIT when connected (lets replies in flight arrive), otherwise,
 * or when QUIT takes longer than `timeoutMs`, drops the socket. A QUIT sent while Redis is down
 * would wait in the offline queue, forever on a `maxRetriesPerRequest: null` connection.
 */
export async function closeRedis(redis: Redis, timeoutMs = 2_000): Promise<void> {
  if (redis.status === 'end') return;
  if (redis.status !== 'ready') {
    redis.disconnect();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), timeoutMs);
  });
  try {
    const outcome = await Promise.race([redis.quit().catch(() => 'failed' as const), late]);
    if (outcome !== 'OK') redis.disconnect();
  } finally {
    clearTimeout(timer);
  }
}
