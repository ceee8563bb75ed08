// Which source a probe measures, `${VAR}` expansion, and secrets kept out of everything shown.
// No network: these fail before any connection is made (or use a port nothing listens on).
import { describe, expect, it } from 'vitest';
import { expandSource } from '../../../src/adapters/probes/expand-source.ts';
import { scrub, secretsOf } from '../../../src/adapters/probes/redact.ts';
import { sourceLabel } from '../../../src/adapters/probes/source-label.ts';
import { Unmeasurable } from '../../../src/ports/probe.port.ts';
import { closedPort, failure, probesFor, SERVICE, silentServer } from './probe-fixtures.ts';

const sources = {
  main: { kind: 'postgres', url: 'postgres://app@db-main:5432/app' },
  replica: { kind: 'postgres', url: 'postgres://app@db-replica:5432/app' },
  cache: { kind: 'redis', url: 'redis://cache:6379' },
};
const request = (probe: string, params: Record<string, unknown> = {}, service = SERVICE) => ({ probe, params, service, replicas: 3 });

describe('source resolution', () => {
  it('several sources of the kind: says which exist and what to write', async () => {
    const error = await failure(probesFor(sources).measure(request('postgres.connections')));
    expect(error).toBeInstanceOf(Unmeasurable);
    expect(error.message).toBe(`service "${SERVICE}" has 2 postgres sources (main, replica); say which one the step measures, e.g. with: { source: main }`);
  });

  it('none of the kind: names the sources there are and where to add one', async () => {
    const error = await failure(probesFor(sources).measure(request('queue.depth')));
    expect(error.message).toBe(`service "${SERVICE}" has no queue source for queue.depth (its sources: main (postgres), replica (postgres), cache (redis)); add one under services.${SERVICE}.sources in the catalog, e.g. { kind: queue, url: … }`);
  });

  it('a named source that does not exist, or is of another kind', async () => {
    const probes = probesFor(sources);
    expect((await failure(probes.measure(request('redis.info', { source: 'sessions' })))).message).toContain('has no source named "sessions" (its sources: main (postgres), replica (postgres), cache (redis))');
    expect((await failure(probes.measure(request('redis.info', { source: 'main' })))).message).toBe(`source "main" of service "${SERVICE}" is a postgres source, but redis.info needs a redis source`);
  });

  it('the only source of the kind is used without naming it', async () => {
    const port = await closedPort();
    const error = await failure(probesFor({ cache: { kind: 'redis', url: `redis://127.0.0.1:${port}` } }).measure(request('redis.info')));
    expect(error.message).toContain('(source "cache")');
  });

  it('unknown probe, unknown service, invalid with:', async () => {
    const probes = probesFor(sources);
    expect((await failure(probes.measure(request('kafka.lag')))).message).toBe('no probe "kafka.lag"; known: prometheus, postgres.connections, redis.info, queue.depth, http.health');
    expect((await failure(probes.measure(request('redis.info', {}, 'billing')))).message).toBe('no service "billing" in the catalog');
    expect((await failure(probes.measure(request('http.health', { requests: 1000 })))).message).toMatch(/^the step's with: for http.health is not valid \(requests: /);
  });

  it('closed probes refuse to measure', async () => {
    const probes = probesFor(sources);
    await probes.close();
    expect((await failure(probes.measure(request('redis.info', { source: 'cache' })))).message).toContain('closed');
  });
});

describe('${VAR} expansion', () => {
  it('fills URL and headers from the environment, percent-encoding userinfo only', () => {
    const env = { DB_USER: 'app', DB_PASSWORD: 'p@ss/word', DB_HOST: 'db.internal:5432', TOKEN: 'abc' };
    const pg = expandSource({ kind: 'postgres', url: 'postgres://${DB_USER}:${DB_PASSWORD}@${DB_HOST}/app' }, env);
    expect(pg.url).toBe('postgres://app:p%40ss%2Fword@db.internal:5432/app');
    expect(new URL(pg.url).hostname).toBe('db.internal');
    const http = expandSource({ kind: 'http', url: 'http://${DB_HOST}/health', headers: { authorization: 'Bearer ${TOKEN}' } }, env);
    expect(http).toEqual({ kind: 'http', url: 'http://db.internal:5432/health', headers: { authorization: 'Bearer abc' } });
  });

  it('a whole URL can come from one variable', () => {
    expect(expandSource({ kind: 'redis', url: '${REDIS_URL}' }, { REDIS_URL: 'redis://:pw@cache:6379/1' }).url).toBe('redis://:pw@cache:6379/1');
  });

  it('a missing variable is named', async () => {
    expect(() => expandSource({ kind: 'redis', url: 'redis://:${REDIS_PASSWORD}@cache' }, {})).toThrow('its url needs the environment variable REDIS_PASSWORD, which is not set');
    const error = await failure(probesFor({ cache: { kind: 'redis', url: 'redis://:${REDIS_PASSWORD}@cache' } }).measure(request('redis.info')));
    expect(error.message).toBe(`redis source "cache" of service "${SERVICE}": its url needs the environment variable REDIS_PASSWORD, which is not set; set it where the bot runs`);
  });

  it('reads process.env when no env is given', async () => {
    const name = `SCALEBOT_PROBE_TEST_${process.pid}`;
    const port = await closedPort();
    process.env[name] = String(port);
    try {
      const error = await failure(probesFor({ cache: { kind: 'redis', url: `redis://127.0.0.1:\${${name}}` } }, {}, { env: undefined }).measure(request('redis.info')));
      expect(error.message).toContain(`Redis 127.0.0.1:${port}`);
    } finally {
      delete process.env[name];
    }
  });
});

describe('secrets', () => {
  it('labels carry host, port and database, never userinfo or a query string', () => {
    expect(sourceLabel({ kind: 'postgres', url: 'postgres://app:hunter2@db:6432/app?sslmode=require&password=x' })).toBe('PostgreSQL db:6432/app');
    expect(sourceLabel({ kind: 'postgres', url: 'postgres://app:hunter2@db/app', database: 'orders' })).toBe('PostgreSQL db:5432/orders');
    expect(sourceLabel({ kind: 'redis', url: 'rediss://default:hunter2@cache:6380/2' })).toBe('Redis cache:6380/2');
    expect(sourceLabel({ kind: 'queue', url: 'redis://:hunter2@cache', name: 'pdf', type: 'bull', prefix: 'bull' })).toBe('Bull queue pdf on Redis cache:6379');
    expect(sourceLabel({ kind: 'prometheus', url: 'https://u:hunter2@prom.example/prometheus?token=t0k', queries: {} })).toBe('Prometheus https://prom.example/prometheus?…');
    expect(sourceLabel({ kind: 'http', url: 'http://u:hunter2@api:8080' }, '/healthz?key=k3y')).toBe('HTTP http://api:8080/healthz?…');
    expect(() => sourceLabel({ kind: 'redis', url: 'not a url hunter2' })).toThrow(/^its url is not a valid URL/);
    expect(() => sourceLabel({ kind: 'redis', url: 'not a url hunter2' })).not.toThrow(/hunter2/);
  });

  it('passwords, query values and header values are scrubbed, encoded or not', () => {
    const secrets = secretsOf({ kind: 'http', url: 'http://u:p%40ss@api/health?token=t0ken', headers: { 'x-api-key': 'k3y-value' } });
    expect(scrub('failed with p@ss, p%40ss, t0ken and k3y-value', secrets)).toBe('failed with ***, ***, *** and ***');
  });

  it('an unreachable source with secrets everywhere: the error holds none', async () => {
    const port = await closedPort();
    const probes = probesFor(
      { api: { kind: 'http', url: `http://user:\${PW}@127.0.0.1:${port}/health?token=\${TOKEN}`, headers: { 'x-api-key': '${KEY}' } } },
      {},
      { env: { PW: 'pa55word', TOKEN: 'query-t0ken', KEY: 'header-k3y' } },
    );
    const error = await failure(probes.measure(request('http.health', { requests: 2 })));
    expect(error.message).toMatch(/no request got an answer/);
    expect(error.message).not.toMatch(/pa55word|query-t0ken|header-k3y|user/);
  });
});

describe('bounds', () => {
  it('the caller\'s abort signal stops a measurement', async () => {
    const silent = await silentServer();
    try {
      const probes = probesFor({ cache: { kind: 'redis', url: `redis://127.0.0.1:${silent.port}` } }, {}, { timeoutMs: 10_000 });
      const controller = new AbortController();
      const started = Date.now();
      const pending = failure(probes.measure(request('redis.info'), controller.signal));
      setTimeout(() => controller.abort(), 100);
      const error = await pending;
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(error.message).toBe(`Redis 127.0.0.1:${silent.port} (source "cache"): the measurement was cancelled`);
    } finally {
      await silent.close();
    }
  });

  it('close() ends measurements in flight', async () => {
    const silent = await silentServer();
    try {
      const probes = probesFor({ db: { kind: 'postgres', url: `postgres://app@127.0.0.1:${silent.port}/app` } }, { pool: 20 }, { timeoutMs: 10_000 });
      const started = Date.now();
      const pending = failure(probes.measure(request('postgres.connections')));
      await new Promise((resolve) => setTimeout(resolve, 100));
      await probes.close();
      expect((await pending).message).toContain('the probes are closing');
      expect(Date.now() - started).toBeLessThan(1_500);
    } finally {
      await silent.close();
    }
  });

  it('onError hears the kind of each source that failed', async () => {
    const port = await closedPort();
    const heard: string[] = [];
    const probes = probesFor({ cache: { kind: 'redis', url: `redis://127.0.0.1:${port}` } }, {}, { onError: (kind) => heard.push(kind) });
    await failure(probes.measure(request('redis.info')));
    expect(heard).toEqual(['redis']);
  });
});
