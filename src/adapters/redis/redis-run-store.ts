// Runs in Redis, shared by every replica. Each run is a hash `run:<id>` { json, version, w } and
// every write goes through a Lua script, so the version check, the write and the indexes change
// together or not at all:
//   runs                  sorted set of all run ids by createdAt
//   runs:service:<name>   the same, per service
//   runs:active           the runs that still hold their target (`isActive`, computed here in
//                         TypeScript and passed to the script, so the engine's definition stays
//                         the only one)
//   target:<key>          the run holding a target (SET NX; released only by its holder)
// `w` is a per-call nonce: ioredis re-sends commands that were in flight when a connection dropped,
// and a re-sent write must recognise itself instead of reporting that "someone else" wrote first.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Run } from '../../engine/run.ts';
import { isActive } from '../../engine/run.ts';
import type { ClaimResult, RunStore } from '../../ports/run-store.port.ts';
import { DEFAULT_KEY_PREFIX, LuaScript } from './redis-connection.ts';

export interface RedisRunStoreOptions {
  /** Prepended to every key (default `scalebot:`). */
  prefix?: string;
}

// KEYS: run, all, service, active. ARGV: json, nonce, createdAt, id, active (1/0).
const CREATE = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('HGET', KEYS[1], 'w') == ARGV[2] then return 1 end
  return 0
end
redis.call('HSET', KEYS[1], 'json', ARGV[1], 'version', 1, 'w', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
if ARGV[5] == '1' then redis.call('ZADD', KEYS[4], ARGV[3], ARGV[4]) else redis.call('ZREM', KEYS[4], ARGV[4]) end
return 1
`);

// KEYS: run, all, service, active. ARGV: expectedVersion, json, nonce, createdAt, id, active (1/0).
const COMPARE_AND_SET = new LuaScript(`
local stored = redis.call('HGET', KEYS[1], 'version')
if not stored then return 0 end
local expected = tonumber(ARGV[1])
if tonumber(stored) ~= expected then
  if tonumber(stored) == expected + 1 and redis.call('HGET', KEYS[1], 'w') == ARGV[3] then return 1 end
  return 0
end
redis.call('HSET', KEYS[1], 'json', ARGV[2], 'version', expected + 1, 'w', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
if ARGV[6] == '1' then redis.call('ZADD', KEYS[4], ARGV[4], ARGV[5]) else redis.call('ZREM', KEYS[4], ARGV[5]) end
return 1
`);

// KEYS: target. ARGV: runId. Returns the holder after the call (ARGV[1] when claimed).
// KEYS: target, active index. ARGV: runId, run key prefix.
// A holder whose run exists but is no longer active (its release was lost to a crash) is replaced.
const CLAIM = new LuaScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then return ARGV[1] end
local holder = redis.call('GET', KEYS[1])
if holder ~= ARGV[1] and redis.call('EXISTS', ARGV[2] .. holder) == 1 and not redis.call('ZSCORE', KEYS[2], holder) then
  redis.call('SET', KEYS[1], ARGV[1])
  return ARGV[1]
end
return holder
`);

// KEYS: target. ARGV: runId.
const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/** How many ids one `list` round trip reads from an index. */
const PAGE = 100;

export class RedisRunStore implements RunStore {
  private readonly prefix: string;

  constructor(
    private readonly redis: Redis,
    opts: RedisRunStoreOptions = {},
  ) {
    this.prefix = opts.prefix ?? DEFAULT_KEY_PREFIX;
  }

  private runKey(id: string): string {
    return `${this.prefix}run:${id}`;
  }

  private indexKeys(run: Run): string[] {
    return [`${this.prefix}runs`, this.serviceKey(run.service.name), `${this.prefix}runs:active`];
  }

  private serviceKey(service: string): string {
    return `${this.prefix}runs:service:${service}`;
  }

  async create(run: Run): Promise<void> {
    const stored: Run = { ...run, version: 1 };
    const created = await CREATE.run(this.redis, [this.runKey(run.id), ...this.indexKeys(run)], [
      JSON.stringify(stored), randomUUID(), run.createdAt, run.id, isActive(run) ? 1 : 0,
    ]);
    if (created !== 1) throw new Error(`run ${run.id} already exists`);
  }

  async get(id: string): Promise<Run | undefined> {
    const json = await this.redis.hget(this.runKey(id), 'json');
    return json === null ? undefined : parseRun(json, this.runKey(id));
  }

  async compareAndSet(run: Run, expectedVersion: number): Promise<boolean> {
    const next: Run = { ...run, version: expectedVersion + 1 };
    const written = await COMPARE_AND_SET.run(this.redis, [this.runKey(run.id), ...this.indexKeys(run)], [
      expectedVersion, JSON.stringify(next), randomUUID(), run.createdAt, run.id, isActive(run) ? 1 : 0,
    ]);
    return written === 1;
  }

  async list(filter: { active?: boolean; service?: string; limit?: number } = {}): Promise<Run[]> {
    const limit = filter.limit ?? Number.POSITIVE_INFINITY;
    if (limit <= 0) return [];
    // Read from the narrowest index; the remaining filter is applied to the runs themselves.
    const index = filter.service !== undefined
      ? this.serviceKey(filter.service)
      : filter.active === true ? `${this.prefix}runs:active` : `${this.prefix}runs`;
    const runs: Run[] = [];
    for (let start = 0; runs.length < limit; start += PAGE) {
      const ids = await this.redis.zrevrange(index, start, start + PAGE - 1);
      if (!ids.length) break;
      const pipeline = this.redis.pipeline();
      for (const id of ids) pipeline.hget(this.runKey(id), 'json');
      const replies = (await pipeline.exec()) ?? [];
      for (const [index_, [error, json]] of replies.entries()) {
        if (error) throw error;
        if (typeof json !== 'string') continue; // indexed but gone: nothing to list
        const run = parseRun(json, this.runKey(ids[index_] ?? '?'));
        if (filter.active !== undefined && isActive(run) !== filter.active) continue;
        if (filter.service !== undefined && run.service.name !== filter.service) continue;
        runs.push(run);
        if (runs.length >= limit) break;
      }
      if (ids.length < PAGE) break;
    }
    return runs;
  }

  async claimTarget(targetKey: string, runId: string): Promise<ClaimResult> {
    const holder = await CLAIM.run(this.redis, [this.targetKey(targetKey), `${this.prefix}runs:active`], [runId, `${this.prefix}run:`]);
    if (holder === runId) return { claimed: true };
    if (typeof holder !== 'string') throw new Error(`claiming ${targetKey}: unexpected reply ${String(holder)}`);
    return { claimed: false, holder };
  }

  async releaseTarget(targetKey: string, runId: string): Promise<void> {
    await RELEASE.run(this.redis, [this.targetKey(targetKey)], [runId]);
  }

  private targetKey(targetKey: string): string {
    return `${this.prefix}target:${targetKey}`;
  }
}

function parseRun(json: string, key: string): Run {
  const run: unknown = JSON.parse(json);
  if (typeof run !== 'object' || run === null || typeof (run as Run).id !== 'string' || typeof (run as Run).version !== 'number') {
    throw new Error(`${key} does not hold a run (corrupted or written by something else)`);
  }
  return run as Run;
}
