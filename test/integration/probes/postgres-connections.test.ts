// The postgres.connections probe against the real PostgreSQL at PG_URL (default
// postgres://postgres@127.0.0.1:5432/test). Connections are counted in a database made for this
// file, so the counts are exact whatever else uses the server; the file drops it when it ends.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Probes } from '../../../src/ports/probe.port.ts';
import { closedPort, failure, probesFor, SERVICE, silentServer } from './probe-fixtures.ts';

const PG_URL = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const DB = `scalebot_probe_${randomUUID().slice(0, 8)}`;

let admin: pg.Client;
let maxConnections = 0;
const extra: pg.Client[] = [];
let probes: Probes | undefined;

/** Opens `n` more connections to the file's database, as pods of the service would. */
async function openConnections(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const url = new URL(PG_URL);
    url.pathname = `/${DB}`; // the connection string wins over a separate `database` option
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    extra.push(client);
  }
}

beforeAll(async () => {
  admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${DB}`);
  maxConnections = Number((await admin.query<{ max_connections: string }>('SHOW max_connections')).rows[0]?.max_connections);
});
afterEach(async () => {
  await probes?.close();
  await Promise.all(extra.splice(0).map((client) => client.end()));
});
afterAll(async () => {
  await admin.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  await admin.end();
});

function measure(params: Record<string, number>, replicas: number, source: Record<string, unknown> = {}, env: Record<string, string> = {}) {
  probes = probesFor({ db: { kind: 'postgres', url: PG_URL, database: DB, ...source } }, params, { env, timeoutMs: 2_000 });
  return probes.measure({ probe: 'postgres.connections', params: {}, service: SERVICE, replicas });
}

describe('postgres.connections probe', () => {
  it('counts the live connections to the database, and moves when they do', async () => {
    const before = await measure({}, 3);
    expect(before.values.current).toBe(0);
    await openConnections(3);
    const after = await measure({}, 3);
    expect(after.values.current).toBe(3);
    expect(after.values.total).toBeGreaterThanOrEqual(4); // ours + the admin connection
    expect(after.values.max_connections).toBe(maxConnections);
    expect(after.values.reserved).toBe(3);
    expect(after.source).toBe(`PostgreSQL 127.0.0.1:5432/${DB}`);
    expect(after.summary).toContain(`3 connections to ${DB}`);
  });

  it('seed 001: 13 pods × 20 connections = 260, against the real max_connections', async () => {
    const m = await measure({ pool: 20 }, 13);
    expect(m.values).toMatchObject({ pool: 20, reserve: 0, needed: 260, available: maxConnections });
    expect(m.ok).toBe(260 <= maxConnections);
    expect(m.threshold).toBe(`13 pods × 20 = 260 ≤ ${maxConnections} − 0 = ${maxConnections}`);
  });

  it('the budget holds up to the last pod that fits, and breaks at the next one', async () => {
    const reserve = 10;
    const available = maxConnections - reserve;
    const fits = Math.floor(available / 20);
    const holds = await measure({ pool: 20, reserve }, fits);
    expect(holds.ok).toBe(true);
    expect(holds.values).toMatchObject({ needed: fits * 20, available });
    expect(holds.summary).toContain(`budget ${fits} × 20 = ${fits * 20} ≤ ${available} (${available - fits * 20} to spare)`);
    const breaks = await measure({ pool: 20, reserve }, fits + 1);
    expect(breaks.ok).toBe(false);
    expect(breaks.summary).toContain(`budget ${fits + 1} × 20 = ${(fits + 1) * 20} > ${available} (over by ${(fits + 1) * 20 - available})`);
    expect(breaks.threshold).toBe(`${fits + 1} pods × 20 = ${(fits + 1) * 20} ≤ ${maxConnections} − ${reserve} = ${available}`);
  });

  it('seed 004: backends × 50 connections each against max_connections', async () => {
    const backends = Math.floor(maxConnections / 50);
    expect((await measure({ pool: 50 }, backends)).ok).toBe(true);
    expect((await measure({ pool: 50 }, backends + 1)).ok).toBe(false);
  });

  it('without a pool size there is no budget and no verdict, and it says where to set one', async () => {
    const m = await measure({ reserve: 5 }, 4);
    expect(m.ok).toBeUndefined();
    expect(m.values.pool).toBeUndefined();
    expect(m.values.needed).toBeUndefined();
    expect(m.values.available).toBe(maxConnections - 5);
    expect(m.details?.join('\n')).toContain(`services.${SERVICE}.params.pool`);
  });

  it('expands ${VAR} in the URL, percent-encoding a password, and never shows it', async () => {
    const url = PG_URL.replace('postgres@', 'postgres:${PG_PROBE_PASSWORD}@');
    const m = await measure({ pool: 20 }, 2, { url }, { PG_PROBE_PASSWORD: 'p@ss/w:rd#1' });
    expect(m.values.current).toBe(0);
    expect(JSON.stringify(m)).not.toContain('p@ss');
  });

  it('a database that does not exist is unmeasurable, with PostgreSQL\'s reason', async () => {
    const error = await failure(measure({}, 1, { url: PG_URL.replace(/\/test$/, '/no_such_db'), database: undefined }));
    expect(error.message).toBe('PostgreSQL 127.0.0.1:5432/no_such_db (source "db"): could not connect (database "no_such_db" does not exist)');
  });

  it('a server that is down is unmeasurable at once, one that never answers within the timeout', async () => {
    const port = await closedPort();
    const started = Date.now();
    const refused = await failure(measure({}, 1, { url: `postgres://postgres:hunter22@127.0.0.1:${port}/test` }));
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(refused.message).toBe(`PostgreSQL 127.0.0.1:${port}/${DB} (source "db"): could not connect (connect ECONNREFUSED)`);
    expect(refused.message).not.toContain('hunter22');

    const silent = await silentServer();
    try {
      const hung = await failure(measure({}, 1, { url: `postgres://postgres@127.0.0.1:${silent.port}/test` }));
      expect(Date.now() - started).toBeLessThan(4_000);
      expect(hung.message).toBe(`PostgreSQL 127.0.0.1:${silent.port}/${DB} (source "db"): no answer within 2s`);
    } finally {
      await silent.close();
    }
  });
});
