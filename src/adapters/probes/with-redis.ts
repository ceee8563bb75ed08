// A short-lived Redis connection for one measurement: one connection attempt, no reconnecting, no
// offline queue (a command to a Redis that is down fails at once instead of waiting), dropped on
// abort. Not the app's long-lived connection (src/adapters/redis/redis-connection.ts), which rides
// out outages on purpose.
import { Redis } from 'ioredis';
import { Unmeasurable } from '../../ports/probe.port.ts';
import { describeError } from './describe-error.ts';
import { DRIVER_TIMEOUT_SLACK_MS, settleWithin } from './with-deadline.ts';

const QUIT_WAIT_MS = 500;

export async function withRedis<T>(url: string, signal: AbortSignal, timeoutMs: number, use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectionName: 'scalebot:probe',
    connectTimeout: timeoutMs + DRIVER_TIMEOUT_SLACK_MS, // a backstop: the deadline fires first
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  let lastError: unknown;
  redis.on('error', (error: unknown) => {
    lastError = error;
  });
  const onAbort = () => redis.disconnect();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    try {
      await redis.connect();
    } catch (error) {
      const why = describeError(lastError ?? error);
      throw new Unmeasurable(/NOAUTH|WRONGPASS|NOPERM/.test(why) ? `refused the credentials (${why.split(' ')[0]}): check the user and password in the source's url` : `could not connect (${why})`);
    }
    return await use(redis);
  } finally {
    signal.removeEventListener('abort', onAbort);
    await quitSoon(redis);
  }
}

/** QUIT (a polite goodbye) when connected, but a Redis that stopped answering gets the socket dropped. */
async function quitSoon(redis: Redis): Promise<void> {
  if (redis.status === 'ready') await settleWithin(redis.quit(), QUIT_WAIT_MS);
  if (redis.status !== 'end') redis.disconnect();
}
