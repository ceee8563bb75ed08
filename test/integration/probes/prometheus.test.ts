// The prometheus probe against a local server speaking the Prometheus HTTP API.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Unmeasurable, type Probes } from '../../../src/ports/probe.port.ts';
import { startPrometheusServer, type PrometheusServer } from '../../servers/prometheus-server.ts';
import { failure, fixedClock, probesFor, SERVICE } from './probe-fixtures.ts';

const NOW = Date.parse('2026-11-23T14:00:00Z');
const CPU = 'avg(rate(container_cpu_usage_seconds_total{container="api"}[5m])) * 100';

let prom: PrometheusServer;
let probes: Probes;

beforeAll(async () => {
  prom = await startPrometheusServer();
});
afterAll(async () => {
  await probes?.close();
  await prom.close();
});
beforeEach(async () => {
  await probes?.close();
  prom.requests.length = 0;
  probes = probesFor({ prom: { kind: 'prometheus', url: prom.url, queries: { cpu: CPU } } }, {}, { clock: fixedClock(NOW), timeoutMs: 1_000 });
});

const measure = (params: Record<string, unknown>) => probes.measure({ probe: 'prometheus', params, service: SERVICE, replicas: 5 });

describe('prometheus probe', () => {
  it('runs a named query at an instant', async () => {
    prom.setSeries(CPU, [{ metric: {}, value: 82.345 }]);
    const m = await measure({ query: 'cpu' });
    expect(m.values).toMatchObject({ value: 82.345, series: 1 });
    expect(m.summary).toBe('cpu = 82.35');
    expect(m.source).toBe(`Prometheus ${prom.url}`);
    expect(m.at).toBe(NOW);
    expect(m.details).toContain(`query: ${CPU}`);
    expect(prom.requests[0]).toMatchObject({ method: 'GET', path: '/api/v1/query', params: { query: CPU, timeout: '1s' } });
  });

  it('sends literal PromQL as is', async () => {
    prom.setSeries('up{job="api"}', [{ metric: { __name__: 'up', job: 'api', instance: 'a' }, value: 1 }, { metric: { __name__: 'up', job: 'api', instance: 'b' }, value: 0 }]);
    const m = await measure({ query: 'up{job="api"}' });
    expect(m.values).toMatchObject({ value: 1, min: 0, max: 1, avg: 0.5, series: 2 });
    expect(m.details).toContain('up{job="api", instance="b"}: 0');
  });

  it('"CPU > 70% for 5 minutes": a range over the window, whose min is what a runbook compares', async () => {
    // 60 s steps of a sawtooth from 72 to 90 % over the last 5 minutes.
    prom.setSeries(CPU, [{ metric: { pod: 'api-1' }, value: (t) => 72 + ((t / 15) % 10) * 2 }, { metric: { pod: 'api-2' }, value: 75 }]);
    const m = await measure({ query: 'cpu', over: '5m' });
    const request = prom.requests[0];
    expect(request?.path).toBe('/api/v1/query_range');
    expect(Number(request?.params.end)).toBe(NOW / 1000);
    expect(Number(request?.params.start)).toBe(NOW / 1000 - 300);
    expect(request?.params.step).toBe('15'); // 300 s / 20 = 15 s
    expect(m.values.samples).toBe(2 * 21);
    expect(m.values.series).toBe(2);
    expect(m.values.min).toBe(72);
    expect(m.values.max).toBe(90);
    expect(m.values.min).toBeGreaterThan(70);
    expect(m.summary).toMatch(/^cpu over 5m: last \d+(\.\d+)? \(highest series\), min 72, avg [\d.]+, max 90 across 2 series \(42 samples\)$/);
    expect(m.details).toContain('range: last 5m, step 15s');
  });

  it('steps a long window at a twentieth of it', async () => {
    prom.setSeries(CPU, [{ metric: {}, value: 30 }]);
    await measure({ query: 'cpu', over: '30m' });
    expect(prom.requests[0]?.params.step).toBe('90');
  });

  it('skips NaN samples, and refuses a result with nothing else', async () => {
    prom.setSeries('ratio', [{ metric: { pod: 'a' }, value: (t) => (t % 30 === 0 ? Number.NaN : 5) }]);
    const m = await measure({ query: 'ratio', over: '5m' });
    expect(m.values.min).toBe(5);
    prom.setSeries('nan', [{ metric: {}, value: Number.NaN }]);
    const error = await failure(measure({ query: 'nan' }));
    expect(error).toBeInstanceOf(Unmeasurable);
    expect(error.message).toContain('only NaN or infinite values');
  });

  it('an empty result is unmeasurable, with a hint when the query looks like a misspelt name', async () => {
    const empty = await failure(measure({ query: 'sum(nothing)' }));
    expect(empty).toBeInstanceOf(Unmeasurable);
    expect(empty.message).toBe(`Prometheus ${prom.url} (source "prom"): query returned no series: sum(nothing)`);
    const typo = await failure(measure({ query: 'cpu_usgae' }));
    expect(typo.message).toContain('no query named "cpu_usgae" in source prom; its queries: cpu');
  });

  it('passes the error Prometheus answers', async () => {
    prom.setError('rate(x[5m]', { errorType: 'bad_data', error: '1:11: parse error: unclosed left bracket' });
    const error = await failure(measure({ query: 'rate(x[5m]' }));
    expect(error).toBeInstanceOf(Unmeasurable);
    expect(error.message).toContain('the query failed: bad_data: 1:11: parse error: unclosed left bracket');
  });

  it('a long query goes as a POST form', async () => {
    const long = `sum(rate(http_requests_total{path=~"${'a|'.repeat(1200)}b"}[5m]))`;
    prom.setSeries(long, [{ metric: {}, value: 4200 }]);
    const m = await measure({ query: long });
    expect(m.values.value).toBe(4200);
    expect(prom.requests[0]?.method).toBe('POST');
    expect(m.summary.length).toBeLessThan(100);
  });

  it('a server that never answers is unmeasurable within the timeout', async () => {
    prom.hang('slow');
    const started = Date.now();
    const error = await failure(measure({ query: 'slow' }));
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(error.message).toBe(`Prometheus ${prom.url} (source "prom"): no answer within 1s`);
  });

  it('something that is not Prometheus is told apart', async () => {
    await probes.close();
    probes = probesFor({ prom: { kind: 'prometheus', url: `${prom.url}/not-prometheus` } }, {}, { timeoutMs: 1_000 });
    const error = await failure(measure({ query: 'up' }));
    expect(error.message).toContain('not a Prometheus API answer');
  });

  it('basic auth in the URL goes as a header and never into the result', async () => {
    await probes.close();
    const url = prom.url.replace('http://', 'http://reader:${PROM_PASSWORD}@');
    probes = probesFor({ prom: { kind: 'prometheus', url } }, {}, { env: { PROM_PASSWORD: 's3cr3t/pw' }, timeoutMs: 1_000 });
    prom.setSeries('up', [{ metric: {}, value: 1 }]);
    const m = await measure({ query: 'up' });
    expect(prom.requests[0]?.authorization).toBe(`Basic ${Buffer.from('reader:s3cr3t/pw').toString('base64')}`);
    expect(JSON.stringify(m)).not.toMatch(/s3cr3t|reader/);
  });
});
