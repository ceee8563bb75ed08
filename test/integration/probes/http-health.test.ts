// The http.health probe against one listener playing three instances behind a round-robin balancer.
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Probes } from '../../../src/ports/probe.port.ts';
import { startHttpInstancesServer, type HttpInstancesServer } from '../../servers/http-instances-server.ts';
import { closedPort, failure, probesFor, SERVICE } from './probe-fixtures.ts';

let lb: HttpInstancesServer;
let probes: Probes | undefined;

beforeEach(async () => {
  lb = await startHttpInstancesServer({ instances: ['api-1', 'api-2', 'api-3'] });
});
afterEach(async () => {
  await probes?.close();
  await lb.close();
});
afterAll(async () => {
  await probes?.close();
});

function measure(params: Record<string, unknown>, source: Record<string, unknown> = {}, opts: { env?: Record<string, string>; timeoutMs?: number } = {}) {
  probes = probesFor({ web: { kind: 'http', url: lb.url, ...source } }, {}, { timeoutMs: 2_000, ...opts });
  return probes.measure({ probe: 'http.health', params, service: SERVICE, replicas: 3 });
}

describe('http.health probe', () => {
  it('seed 004: every answer 2xx and spread across the instances (by header)', async () => {
    const m = await measure({ path: '/healthz', requests: 12, spread_by: 'x-instance' });
    expect(m.ok).toBe(true);
    expect(m.values).toMatchObject({ requests: 12, ok: 12, failed: 0, instances: 3, top_share_pct: 33.33 });
    expect(m.values.p50_ms).toBeGreaterThanOrEqual(0);
    expect(m.values.p95_ms).toBeGreaterThanOrEqual(m.values.p50_ms ?? 0);
    expect(m.values.max_ms).toBeGreaterThanOrEqual(m.values.p95_ms ?? 0);
    expect(m.summary).toMatch(/^12\/12 answered 2xx from 3 instances \(top 33\.33%\), p50 \d+ ms, p95 \d+ ms$/);
    expect(m.details).toEqual(expect.arrayContaining(['GET /healthz × 12', expect.stringMatching(/^api-1: 4 answers, p50 \d+ ms$/)]));
    expect(m.source).toBe(`HTTP ${lb.url}/healthz`);
    expect(lb.requests.every((r) => r.path === '/healthz')).toBe(true);
  });

  it('reads the instance from a JSON field; ten requests by default', async () => {
    const m = await measure({ spread_by: 'json:hostname' });
    expect(m.values).toMatchObject({ requests: 10, ok: 10, instances: 3, top_share_pct: 40 });
  });

  it('a failing instance fails the verdict and is named', async () => {
    lb.set('api-2', { status: 503 });
    const m = await measure({ requests: 9, spread_by: 'x-instance' });
    expect(m.ok).toBe(false);
    expect(m.values).toMatchObject({ requests: 9, ok: 6, failed: 3, instances: 3 });
    expect(m.details).toContain('failed: HTTP 503 ×3');
    expect(m.summary).toContain('; 3 failed');
  });

  it('all answers from one instance: top share 100%', async () => {
    await lb.close();
    lb = await startHttpInstancesServer({ instances: 1 });
    const m = await measure({ requests: 5, spread_by: 'x-instance' });
    expect(m.values).toMatchObject({ instances: 1, top_share_pct: 100 });
  });

  it('latency percentiles reflect a slow instance', async () => {
    lb.set('api-3', { latencyMs: 150 });
    const m = await measure({ requests: 6, spread_by: 'x-instance' });
    expect(m.values.max_ms).toBeGreaterThanOrEqual(140);
    expect(m.values.p50_ms).toBeLessThan(140);
  });

  it('an instance that never answers counts as failed, within the budget', async () => {
    lb.set('api-1', { hang: true });
    const started = Date.now();
    const m = await measure({ requests: 6, spread_by: 'x-instance' }, {}, { timeoutMs: 500 });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(m.ok).toBe(false);
    expect(m.values.failed).toBeGreaterThanOrEqual(2);
    expect(m.details?.join('\n')).toContain('no answer within 500ms');
  });

  it('sends the source\'s headers with ${VAR} expanded, and never shows them', async () => {
    const m = await measure({ requests: 2 }, { headers: { authorization: 'Bearer ${HEALTH_TOKEN}' } }, { env: { HEALTH_TOKEN: 'tok-123456' } });
    expect(lb.requests[0]?.headers.authorization).toBe('Bearer tok-123456');
    expect(JSON.stringify(m)).not.toContain('tok-123456');
  });

  it('a missing variable is unmeasurable, naming it', async () => {
    const error = await failure(measure({}, { headers: { authorization: 'Bearer ${HEALTH_TOKEN}' } }));
    expect(error.message).toBe(`http source "web" of service "${SERVICE}": its header authorization needs the environment variable HEALTH_TOKEN, which is not set; set it where the bot runs`);
  });

  it('an endpoint that is down is unmeasurable at once', async () => {
    const port = await closedPort();
    const started = Date.now();
    const error = await failure(measure({}, { url: `http://127.0.0.1:${port}/health?token=abc123` }));
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(error.message).toBe(`HTTP http://127.0.0.1:${port}/health?… (source "web"): no request got an answer (connect ECONNREFUSED)`);
  });
});
