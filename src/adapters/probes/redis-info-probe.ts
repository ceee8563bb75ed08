// `redis.info`: memory against maxmemory, evictions, clients against maxclients, hit rate, from INFO
// (and CONFIG GET maxclients, which managed Redis services often disable: INFO's own maxclients
// field, Redis 7+, stands in).
import type { Redis } from 'ioredis';
import type { SourceConfig } from '../../config/catalog.ts';
import { Unmeasurable } from '../../ports/probe.port.ts';
import { formatBytes, formatNumber, percent } from './format-number.ts';
import type { ProbeContext, Reading } from './probe-context.ts';
import { withRedis } from './with-redis.ts';

type RedisSource = Extract<SourceConfig, { kind: 'redis' }>;

/** "# Memory\r\nused_memory:988800\r\n…" -> { used_memory: "988800", … }. */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

async function configMaxclients(redis: Redis): Promise<number | undefined> {
  try {
    const reply = (await redis.call('CONFIG', 'GET', 'maxclients')) as unknown;
    const value = Array.isArray(reply) ? Number(reply[1]) : Number.NaN;
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined; // CONFIG disabled or renamed: fall back to INFO
  }
}

export async function redisInfoProbe(ctx: ProbeContext<RedisSource>): Promise<Reading> {
  const { info, configured } = await withRedis(ctx.source.url, ctx.signal, ctx.timeoutMs, async (redis) => ({
    info: parseInfo(await redis.info()),
    configured: await configMaxclients(redis),
  }));
  const field = (name: string): number | undefined => {
    const raw = info.get(name);
    const value = raw === undefined ? Number.NaN : Number(raw);
    return Number.isFinite(value) ? value : undefined;
  };
  const used = field('used_memory');
  const clients = field('connected_clients');
  if (used === undefined || clients === undefined) throw new Unmeasurable('INFO did not report used_memory and connected_clients: is this a Redis server?');
  const maxmemory = field('maxmemory') ?? 0;
  const evicted = field('evicted_keys') ?? 0;
  const hits = field('keyspace_hits') ?? 0;
  const misses = field('keyspace_misses') ?? 0;
  const maxclients = configured ?? field('maxclients');

  const values: Record<string, number> = {
    used_memory: used,
    maxmemory,
    used_pct: percent(used, maxmemory),
    evicted_keys: evicted,
    connected_clients: clients,
  };
  const parts = [maxmemory > 0 ? `memory ${formatBytes(used)} of ${formatBytes(maxmemory)} (${formatNumber(values.used_pct ?? 0)}%)` : `memory ${formatBytes(used)} (no maxmemory set)`];
  if (maxclients !== undefined) {
    values.maxclients = maxclients;
    values.clients_pct = percent(clients, maxclients);
    parts.push(`clients ${clients}/${maxclients}`);
  } else {
    parts.push(`${clients} clients (maxclients unknown)`);
  }
  parts.push(`${evicted} evicted keys`);
  if (hits + misses > 0) {
    values.hit_rate = percent(hits, hits + misses);
    parts.push(`hit rate ${formatNumber(values.hit_rate)}%`);
  } else {
    parts.push('no reads yet (hit rate unknown)');
  }
  const details = [
    `used_memory ${used}, maxmemory ${maxmemory}${maxmemory ? '' : ' (no limit: Redis grows until the host runs out)'}`,
    `connected_clients ${clients}, maxclients ${maxclients ?? `unknown (CONFIG GET refused and INFO has no maxclients)`}`,
    `keyspace_hits ${hits}, keyspace_misses ${misses}, evicted_keys ${evicted}`,
  ];
  const version = info.get('redis_version');
  if (version) details.push(`Redis ${version}`);
  return { values, summary: parts.join(', '), details };
}
