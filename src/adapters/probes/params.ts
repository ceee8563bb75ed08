// What each read-only probe accepts under a step's `with:` and which numbers it returns. Pure data
// (zod only, no I/O): the runbook schema imports it to reject a bad `with:` or a misspelt value name
// in `pass:` when the runbook is loaded, not when a run reaches the step.
import { z } from 'zod';
import { parseDuration } from '../../workflows/duration.ts';

/** The catalog's source-name rule (src/config/catalog.ts), repeated here to keep this file free of I/O imports. */
const source = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,31}$/, 'a source name from the service\'s `sources` in the catalog')
  .optional();

const MIN_WINDOW_MS = 30_000;
const MAX_WINDOW_MS = 7 * 86_400_000;

const window = z.string().refine(
  (text) => {
    const ms = parseDuration(text);
    return ms !== undefined && ms >= MIN_WINDOW_MS && ms <= MAX_WINDOW_MS;
  },
  { message: 'a window from 30s to 7d, e.g. "5m" or "30m"' },
);

/** A response header ("x-instance") or a top-level field of a JSON body ("json:hostname"). */
const spreadBy = z
  .string()
  .regex(/^([A-Za-z0-9-]{1,64}|json:[A-Za-z_][A-Za-z0-9_.-]{0,63})$/, 'a response header name (e.g. "x-instance") or "json:<field>" (e.g. "json:hostname")');

/** A path on the source's URL ("/healthz"), never another host. */
const path = z
  .string()
  .max(500)
  .regex(/^\/(?!\/)[^\s]*$/, 'a path starting with "/", e.g. "/healthz"');

export const PROBE_PARAMS = {
  prometheus: z.strictObject({
    source,
    /** A name from the source's `queries`, or PromQL itself. */
    query: z.string().min(1).max(4000),
    /** Measure over this window (a range query) instead of at one instant. */
    over: window.optional(),
  }),
  'postgres.connections': z.strictObject({ source }),
  'redis.info': z.strictObject({ source }),
  'queue.depth': z.strictObject({ source }),
  'http.health': z.strictObject({
    source,
    path: path.optional(),
    requests: z.number().int().min(1).max(100).default(10),
    spread_by: spreadBy.optional(),
  }),
} as const;

export type ProbeName = keyof typeof PROBE_PARAMS;
export type ProbeParams<P extends ProbeName> = z.output<(typeof PROBE_PARAMS)[P]>;

export const PROBE_NAMES = Object.keys(PROBE_PARAMS) as ProbeName[];

export function isProbeName(name: string): name is ProbeName {
  return Object.hasOwn(PROBE_PARAMS, name);
}

/**
 * The value names each probe can return (a measurement may leave some out, e.g. `hit_rate` before
 * Redis has served a read). A `pass:` expression may use only these.
 */
export const PROBE_VALUES: Record<ProbeName, readonly string[]> = {
  prometheus: ['value', 'min', 'max', 'avg', 'samples', 'series'],
  'postgres.connections': ['max_connections', 'reserved', 'current', 'total', 'pool', 'reserve', 'needed', 'available'],
  'redis.info': ['used_memory', 'maxmemory', 'used_pct', 'evicted_keys', 'connected_clients', 'maxclients', 'clients_pct', 'hit_rate'],
  'queue.depth': ['waiting', 'active', 'failed', 'delayed'],
  'http.health': ['requests', 'ok', 'failed', 'p50_ms', 'p95_ms', 'max_ms', 'instances', 'top_share_pct'],
};

/** The source kind (catalog `sources.<name>.kind`) each probe measures. */
export const PROBE_SOURCE_KIND = {
  prometheus: 'prometheus',
  'postgres.connections': 'postgres',
  'redis.info': 'redis',
  'queue.depth': 'queue',
  'http.health': 'http',
} as const satisfies Record<ProbeName, string>;
