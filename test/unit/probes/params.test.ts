// What a runbook may write under `with:` for each probe, and which value names `pass:` may use.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PROBE_NAMES, PROBE_PARAMS, PROBE_VALUES } from '../../../src/adapters/probes/params.ts';

const valid = (probe: keyof typeof PROBE_PARAMS, params: unknown) => PROBE_PARAMS[probe].safeParse(params).success;

describe('probe parameters', () => {
  it('names the five probes, each with its value names in snake_case', () => {
    expect(PROBE_NAMES).toEqual(['prometheus', 'postgres.connections', 'redis.info', 'queue.depth', 'http.health']);
    for (const probe of PROBE_NAMES) {
      expect(PROBE_VALUES[probe].length).toBeGreaterThan(0);
      for (const name of PROBE_VALUES[probe]) expect(name).toMatch(/^[a-z][a-z0-9_]*$/);
    }
    expect(PROBE_VALUES['queue.depth']).toEqual(['waiting', 'active', 'failed', 'delayed']);
  });

  it('prometheus: a query, optionally over a window of 30s..7d', () => {
    expect(valid('prometheus', { query: 'cpu' })).toBe(true);
    expect(valid('prometheus', { query: 'cpu', over: '5m', source: 'prom' })).toBe(true);
    expect(valid('prometheus', {})).toBe(false);
    expect(valid('prometheus', { query: 'cpu', over: '5 minutes' })).toBe(false);
    expect(valid('prometheus', { query: 'cpu', over: '10s' })).toBe(false);
    expect(valid('prometheus', { query: 'cpu', over: '8d' })).toBe(false);
    expect(valid('prometheus', { query: 'cpu', window: '5m' })).toBe(false); // strict: typos are errors
  });

  it('source-only probes take nothing else', () => {
    for (const probe of ['postgres.connections', 'redis.info', 'queue.depth'] as const) {
      expect(valid(probe, {})).toBe(true);
      expect(valid(probe, { source: 'db' })).toBe(true);
      expect(valid(probe, { source: 'Not A Name' })).toBe(false);
      expect(valid(probe, { pool: 20 })).toBe(false);
    }
  });

  it('http.health: 1..100 requests (10 by default), a path, and a header or json: field to spread by', () => {
    expect(PROBE_PARAMS['http.health'].parse({})).toEqual({ requests: 10 });
    expect(valid('http.health', { path: '/healthz', requests: 100, spread_by: 'x-instance' })).toBe(true);
    expect(valid('http.health', { spread_by: 'json:hostname' })).toBe(true);
    expect(valid('http.health', { spread_by: 'json:meta.host' })).toBe(true);
    expect(valid('http.health', { requests: 0 })).toBe(false);
    expect(valid('http.health', { requests: 101 })).toBe(false);
    expect(valid('http.health', { requests: 2.5 })).toBe(false);
    expect(valid('http.health', { path: 'healthz' })).toBe(false);
    expect(valid('http.health', { path: '//evil.example/x' })).toBe(false);
    expect(valid('http.health', { spread_by: 'x instance' })).toBe(false);
  });

  it('the parameter file imports no I/O, so the pure runbook schema can use it', () => {
    const imports = (file: string) => [...readFileSync(new URL(file, import.meta.url), 'utf8').matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);
    expect(imports('../../../src/adapters/probes/params.ts')).toEqual(['zod', '../../workflows/duration.ts']);
    expect(imports('../../../src/workflows/duration.ts')).toEqual([]);
  });
});
