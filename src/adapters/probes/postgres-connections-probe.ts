// `postgres.connections`: the live connection count against max_connections, and the budget the
// seeds state (001: pods × connections per pod ≤ max_connections; 004: backends × 50 against 100):
// replicas × pool ≤ max_connections − reserve, with `pool` and `reserve` from the service's catalog
// `params`. One short-lived client per measurement, closed on the way out or on abort.
import pg from 'pg';
import type { SourceConfig } from '../../config/catalog.ts';
import { Unmeasurable } from '../../ports/probe.port.ts';
import { describeError } from './describe-error.ts';
import { DRIVER_TIMEOUT_SLACK_MS, settleWithin } from './with-deadline.ts';
import type { ProbeContext, Reading } from './probe-context.ts';
import { parseSourceUrl } from './redact.ts';
import { postgresDatabase } from './source-label.ts';

type PostgresSource = Extract<SourceConfig, { kind: 'postgres' }>;

/**
 * Client backends only (background workers have slots of their own, outside max_connections), and
 * not this probe's own connection, which is gone a moment later.
 */
const COUNT_SQL = `
  SELECT current_setting('max_connections')::int AS max_connections,
         current_setting('superuser_reserved_connections')::int AS reserved,
         count(*) FILTER (WHERE datname = $1)::int AS current,
         count(*)::int AS total
    FROM pg_stat_activity
   WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`;

interface CountRow {
  max_connections: number;
  reserved: number;
  current: number;
  total: number;
}

/** end() waits for the server's goodbye; a server that stopped answering gets no more than this. */
const END_WAIT_MS = 500;

const endClient = (client: pg.Client) => settleWithin(client.end(), END_WAIT_MS);

export async function postgresConnectionsProbe(ctx: ProbeContext<PostgresSource>): Promise<Reading> {
  const database = postgresDatabase(ctx.source, parseSourceUrl(ctx.source.url));
  // The driver's own timeouts are a backstop: the deadline (index.ts) fires first and says so.
  const backstop = ctx.timeoutMs + DRIVER_TIMEOUT_SLACK_MS;
  const client = new pg.Client({
    connectionString: ctx.source.url,
    connectionTimeoutMillis: backstop,
    query_timeout: backstop,
    statement_timeout: backstop,
    application_name: 'scalebot-probe',
  });
  // A socket error after connecting would otherwise be an unhandled 'error' event.
  client.on('error', () => undefined);
  const onAbort = () => void endClient(client);
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  let row: CountRow | undefined;
  try {
    try {
      await client.connect();
    } catch (error) {
      throw new Unmeasurable(`could not connect (${describeError(error)})`);
    }
    const result = await client.query<CountRow>(COUNT_SQL, [database]);
    row = result.rows[0];
  } catch (error) {
    if (error instanceof Unmeasurable) throw error;
    throw new Unmeasurable(`the connection count query failed (${describeError(error)})`);
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    await endClient(client);
  }
  if (!row) throw new Unmeasurable('the connection count query returned no row');
  return connectionBudget(ctx, database, row);
}

function connectionBudget(ctx: ProbeContext<PostgresSource>, database: string, row: CountRow): Reading {
  const params = ctx.service.params;
  const reserve = params.reserve ?? 0;
  const available = row.max_connections - reserve;
  const live = `${row.current} connections to ${database} (${row.total} in all) of max_connections ${row.max_connections}`;
  const values: Record<string, number> = { ...row, reserve, available };
  const details = [
    `max_connections ${row.max_connections}, superuser_reserved_connections ${row.reserved}`,
    `connections now: ${row.current} to ${database}, ${row.total} in all (client backends)`,
  ];
  const pool = params.pool;
  if (pool === undefined) {
    details.push(`no pool size in the catalog (services.${ctx.serviceName}.params.pool): the budget replicas × pool ≤ max_connections − reserve is not computed`);
    return { values, summary: `${live}; no connection budget (pool size not in the catalog)`, details };
  }
  const needed = ctx.replicas * pool;
  const ok = needed <= available;
  values.pool = pool;
  values.needed = needed;
  const threshold = `${ctx.replicas} pods × ${pool} = ${needed} ≤ ${row.max_connections} − ${reserve} = ${available}`;
  const verdict = ok ? `${available - needed} to spare` : `over by ${needed - available}`;
  details.push(`budget: ${threshold} (pool = connections per pod, reserve from the catalog's params)`);
  return { values, summary: `${live}; budget ${ctx.replicas} × ${pool} = ${needed} ${ok ? '≤' : '>'} ${available} (${verdict})`, details, ok, threshold };
}
