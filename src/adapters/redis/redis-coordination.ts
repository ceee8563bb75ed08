// Coordination between replicas in Redis:
//   lease:<runId>        "<token>:<owner>" with a TTL (PX); the driver of a run heartbeats it
//   lease-token:<runId>  INCR counter: the fencing token, strictly increasing per run
//   effect:<key>         the effect journal (SET NX: exactly one caller begins an effect), kept 30 days
//   seen:<key>           first-seen markers (SET NX PX)
// Lease changes that depend on the current holder are Lua scripts, so "check owner and token, then
// extend or delete" cannot interleave with another replica's takeover. Writes whose answer matters
// (beginEffect, firstSeen) carry a per-call nonce, so a command that ioredis re-sends after a
// dropped connection recognises its own earlier success instead of reporting "someone else".
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Coordination, EffectRecord, Lease } from '../../ports/coordination.port.ts';
import { DEFAULT_KEY_PREFIX, LuaScript } from './redis-connection.ts';

export interface RedisCoordinationOptions {
  /** Prepended to every key (default `scalebot:`). */
  prefix?: string;
  /** How long effect records are kept (default 30 days). */
  effectTtlMs?: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/**
 * How long a run's token counter outlives its last acquisition. Tokens only need to increase among
 * holders that may still be alive; a holder silent for 30 days is long gone.
 */
const TOKEN_TTL_MS = 30 * DAY_MS;

// KEYS: lease, token counter. ARGV: owner, ttlMs, tokenTtlMs. Returns the token, or nil when held by another.
const ACQUIRE = new LuaScript(`
local current = redis.call('GET', KEYS[1])
if current then
  local sep = string.find(current, ':', 1, true)
  if string.sub(current, sep + 1) ~= ARGV[1] then return false end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(string.sub(current, 1, sep - 1))
end
local token = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('SET', KEYS[1], token .. ':' .. ARGV[1], 'PX', ARGV[2])
return token
`);

// KEYS: lease, token counter. ARGV: owner, ttlMs, tokenTtlMs.
const TAKE = new LuaScript(`
local token = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('SET', KEYS[1], token .. ':' .. ARGV[1], 'PX', ARGV[2])
return token
`);

// KEYS: lease. ARGV: "<token>:<owner>", ttlMs.
const RENEW = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`);

// KEYS: lease. ARGV: "<token>:<owner>".
const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

// KEYS: key. ARGV: value (unique per call), 'PX' ttl. 1 when this call set it (or set it before
// the connection dropped and ioredis re-sent it).
const SET_ONCE = new LuaScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
return 0
`);

// KEYS: effect. ARGV: record json, ttl ms. Writes unless a 'done' record is already there.
const COMPLETE_ONCE = new LuaScript(`
local current = redis.call('GET', KEYS[1])
if current and string.find(current, '"state":"done"', 1, true) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`);

export class RedisCoordination implements Coordination {
  private readonly prefix: string;
  private readonly effectTtlMs: number;

  constructor(
    private readonly redis: Redis,
    opts: RedisCoordinationOptions = {},
  ) {
    this.prefix = opts.prefix ?? DEFAULT_KEY_PREFIX;
    this.effectTtlMs = opts.effectTtlMs ?? 30 * DAY_MS;
  }

  private leaseKeys(runId: string): [string, string] {
    return [`${this.prefix}lease:${runId}`, `${this.prefix}lease-token:${runId}`];
  }

  async acquireLease(runId: string, owner: string, ttlMs: number): Promise<Lease | undefined> {
    const token = await ACQUIRE.run(this.redis, this.leaseKeys(runId), [owner, ttlMs, TOKEN_TTL_MS]);
    return token === null ? undefined : { owner, token: asToken(token) };
  }

  async takeLease(runId: string, owner: string, ttlMs: number): Promise<Lease> {
    const token = await TAKE.run(this.redis, this.leaseKeys(runId), [owner, ttlMs, TOKEN_TTL_MS]);
    return { owner, token: asToken(token) };
  }

  async renewLease(runId: string, lease: Lease, ttlMs: number): Promise<boolean> {
    const [key] = this.leaseKeys(runId);
    return (await RENEW.run(this.redis, [key], [`${lease.token}:${lease.owner}`, ttlMs])) === 1;
  }

  async releaseLease(runId: string, lease: Lease): Promise<void> {
    const [key] = this.leaseKeys(runId);
    await RELEASE.run(this.redis, [key], [`${lease.token}:${lease.owner}`]);
  }

  async leaseOf(runId: string): Promise<Lease | undefined> {
    const [key] = this.leaseKeys(runId);
    const value = await this.redis.get(key);
    if (value === null) return undefined;
    const sep = value.indexOf(':');
    return { owner: value.slice(sep + 1), token: asToken(Number(value.slice(0, sep))) };
  }

  private effectKey(key: string): string {
    return `${this.prefix}effect:${key}`;
  }

  async beginEffect(key: string, owner: string, at: number): Promise<boolean> {
    const record = JSON.stringify({ state: 'started', owner, at, nonce: randomUUID() });
    return (await SET_ONCE.run(this.redis, [this.effectKey(key)], [record, this.effectTtlMs])) === 1;
  }

  async completeEffect(key: string, owner: string, at: number, result: string): Promise<void> {
    const record: EffectRecord = { state: 'done', owner, at, result };
    // The first outcome recorded stands: a slow executor cannot overwrite a reconciled result.
    await COMPLETE_ONCE.run(this.redis, [this.effectKey(key)], [JSON.stringify(record), this.effectTtlMs]);
  }

  async effectRecord(key: string): Promise<EffectRecord | undefined> {
    const json = await this.redis.get(this.effectKey(key));
    return json === null ? undefined : parseEffectRecord(json, this.effectKey(key));
  }

  async firstSeen(key: string, ttlMs: number): Promise<boolean> {
    return (await SET_ONCE.run(this.redis, [`${this.prefix}seen:${key}`], [randomUUID(), ttlMs])) === 1;
  }
}

function asToken(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new Error(`lease token is not an integer: ${String(value)}`);
  return value;
}

function parseEffectRecord(json: string, key: string): EffectRecord {
  const value: unknown = JSON.parse(json);
  if (typeof value === 'object' && value !== null) {
    const { state, owner, at, result } = value as Record<string, unknown>;
    if (typeof owner === 'string' && typeof at === 'number') {
      if (state === 'started') return { state, owner, at };
      if (state === 'done' && typeof result === 'string') return { state, owner, at, result };
    }
  }
  throw new Error(`${key} does not hold an effect record`);
}
