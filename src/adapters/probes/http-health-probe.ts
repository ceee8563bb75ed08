// `http.health`: N GET requests to a health endpoint, a few at a time: how many answered 2xx, how
// fast, and (with `spread_by`) which instance answered each, so "answers spread across instances"
// (seed 004: "Should see different hostnames (load balanced)") is a number a runbook can check.
//
// The whole measurement has one budget (ctx.timeoutMs): requests still open when it runs out count
// as failed, and the measurement is returned as it stands. It is "unmeasurable" only when no request
// got an HTTP answer at all (the endpoint is down or unreachable).
import { performance } from 'node:perf_hooks';
import type { SourceConfig } from '../../config/catalog.ts';
import { Unmeasurable } from '../../ports/probe.port.ts';
import { formatDuration } from '../../workflows/duration.ts';
import { basicAuth } from './basic-auth.ts';
import { describeError } from './describe-error.ts';
import { formatNumber, percent } from './format-number.ts';
import type { ProbeParams } from './params.ts';
import type { ProbeContext, Reading } from './probe-context.ts';
import { parseSourceUrl } from './redact.ts';

type HttpSource = Extract<SourceConfig, { kind: 'http' }>;

const CONCURRENCY = 4;
/** Bodies are read for `json:` fields only; a health answer is small. */
const MAX_BODY = 64 * 1024;

interface Answer {
  status?: number;
  ms?: number;
  instance?: string;
  error?: string;
}

function instanceOf(response: Response, body: string, spreadBy: string): string | undefined {
  if (!spreadBy.startsWith('json:')) return response.headers.get(spreadBy) ?? undefined;
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  for (const key of spreadBy.slice('json:'.length).split('.')) {
    value = value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  }
  return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
}

async function readBody(response: Response): Promise<string> {
  const text = await response.text();
  return text.length > MAX_BODY ? text.slice(0, MAX_BODY) : text;
}

/** Nearest-rank percentile of sorted numbers. */
function percentile(sorted: number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

function tally(items: Iterable<string>): [string, number][] {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

export async function httpHealthProbe(ctx: ProbeContext<HttpSource>, params: ProbeParams<'http.health'>): Promise<Reading> {
  const { url: base, headers: auth } = basicAuth(parseSourceUrl(ctx.source.url));
  const url = params.path ? new URL(params.path, base) : base;
  const headers = { ...auth, ...ctx.source.headers };
  const budget = AbortSignal.any([ctx.signal, AbortSignal.timeout(ctx.timeoutMs)]);
  const spreadBy = params.spread_by;

  const answers: Answer[] = [];
  const ask = async (): Promise<Answer> => {
    if (budget.aborted) return { error: 'not sent: out of time' };
    const started = performance.now();
    try {
      const response = await fetch(url, { headers, signal: budget, redirect: 'manual' });
      const body = await readBody(response);
      const ms = performance.now() - started;
      return { status: response.status, ms, instance: spreadBy ? instanceOf(response, body, spreadBy) : undefined };
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      return { error: budget.aborted ? `no answer within ${formatDuration(ctx.timeoutMs)}` : describeError(error) };
    }
  };
  let next = 0;
  const worker = async () => {
    while (next < params.requests) {
      next++;
      answers.push(await ask());
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, params.requests) }, worker));

  const answered = answers.filter((a): a is Answer & { status: number; ms: number } => a.status !== undefined && a.ms !== undefined);
  if (!answered.length) {
    const [why = 'no answer'] = tally(answers.map((a) => a.error ?? 'no answer'))[0] ?? [];
    throw new Unmeasurable(`no request got an answer (${why})`);
  }
  const ok = answered.filter((a) => a.status >= 200 && a.status < 300).length;
  const failed = params.requests - ok;
  const latencies = answered.map((a) => a.ms).sort((a, b) => a - b);
  const values: Record<string, number> = {
    requests: params.requests,
    ok,
    failed,
    p50_ms: Math.round(percentile(latencies, 50)),
    p95_ms: Math.round(percentile(latencies, 95)),
    max_ms: Math.round(latencies.at(-1) ?? 0),
  };
  const failures = tally(answers.filter((a) => a.status === undefined || a.status < 200 || a.status >= 300).map((a) => a.error ?? `HTTP ${a.status}`));
  const details = [`GET ${url.pathname}${url.search ? '?…' : ''} × ${params.requests}`];
  if (failures.length) details.push(`failed: ${failures.map(([why, n]) => `${why} ×${n}`).join(', ')}`);

  let spread = '';
  if (spreadBy) {
    const instances = tally(answered.flatMap((a) => (a.instance === undefined ? [] : [a.instance])));
    const identified = instances.reduce((sum, [, n]) => sum + n, 0);
    values.instances = instances.length;
    const top = instances[0];
    if (top) {
      values.top_share_pct = percent(top[1], identified);
      spread = ` from ${instances.length} instance${instances.length === 1 ? '' : 's'} (top ${formatNumber(values.top_share_pct)}%)`;
    } else {
      spread = ` (no answer said which instance it came from by ${spreadBy})`;
    }
    for (const [instance, n] of instances) {
      const ms = answered.filter((a) => a.instance === instance).map((a) => a.ms).sort((a, b) => a - b);
      details.push(`${instance}: ${n} answer${n === 1 ? '' : 's'}, p50 ${Math.round(percentile(ms, 50))} ms`);
    }
    if (identified < answered.length) details.push(`${answered.length - identified} answers without ${spreadBy}`);
  }
  const summary = `${ok}/${params.requests} answered 2xx${spread}, p50 ${values.p50_ms} ms, p95 ${values.p95_ms} ms${failed ? `; ${failed} failed` : ''}`;
  return { values, summary, details, ok: failed === 0, threshold: `all ${params.requests} requests answer 2xx` };
}
