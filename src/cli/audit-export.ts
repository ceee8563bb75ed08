// `scalebot audit`: the audit record as JSON lines (one entry per line, oldest first), read from
// the Redis Stream the bots append to (REDIS_URL). Filters: --run, --service, --since, --limit.
import type { Output } from './validate.ts';

const FLAGS = ['--run', '--service', '--since', '--limit'] as const;

export async function auditCommand(args: string[], io: Output, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const filter: { runId?: string; service?: string; since?: number; limit?: number } = {};
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!;
    const value = args[i + 1];
    if (!(FLAGS as readonly string[]).includes(flag) || value === undefined) {
      io.err(`scalebot audit: unexpected "${flag}"; accepted: --run <run-id>, --service <name>, --since <ISO time>, --limit <n>`);
      return 2;
    }
    i++;
    if (flag === '--run') filter.runId = value;
    if (flag === '--service') filter.service = value;
    if (flag === '--since') {
      const at = Date.parse(value);
      if (Number.isNaN(at)) {
        io.err(`scalebot audit: --since "${value}" is not a time; use ISO 8601, e.g. 2026-11-23T09:00:00Z`);
        return 2;
      }
      filter.since = at;
    }
    if (flag === '--limit') {
      if (!/^\d{1,7}$/.test(value)) {
        io.err(`scalebot audit: --limit "${value}" is not a whole number`);
        return 2;
      }
      filter.limit = Number(value);
    }
  }
  const url = env.REDIS_URL;
  if (!url) {
    io.err('scalebot audit: REDIS_URL is not set. The audit record is kept in Redis; without it, it lives only in the bot process.');
    return 2;
  }
  const { connectRedis, closeRedis } = await import('../adapters/redis/redis-connection.ts');
  const { RedisAuditLog } = await import('../adapters/redis/redis-audit-log.ts');
  let redis;
  try {
    redis = await connectRedis(url, { role: 'audit-export' });
  } catch (error) {
    io.err(`scalebot audit: ${(error as Error).message}`);
    return 1;
  }
  try {
    const entries = await new RedisAuditLog(redis, { prefix: env.SCALEBOT_REDIS_PREFIX || undefined }).read(filter);
    for (const entry of entries) io.out(JSON.stringify({ ...entry, time: new Date(entry.at).toISOString() }));
    return 0;
  } finally {
    await closeRedis(redis);
  }
}
