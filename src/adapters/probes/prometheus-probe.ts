// `prometheus`: one PromQL query through the Prometheus HTTP API. At an instant (`/api/v1/query`) or
// over a window (`/api/v1/query_range`, `with: { over: 5m }`), so "CPU > 70% for 5 minutes" is
// `pass: "min > 70"` over 5m. With several series, `value` is the highest (latest) one and
// min/max/avg cover every sample of every series.
import { z } from 'zod';
import type { SourceConfig } from '../../config/catalog.ts';
import { Unmeasurable } from '../../ports/probe.port.ts';
import { formatDuration, parseDuration } from '../../workflows/duration.ts';
import { basicAuth } from './basic-auth.ts';
import { formatNumber } from './format-number.ts';
import type { ProbeParams } from './params.ts';
import type { ProbeContext, Reading } from './probe-context.ts';
import { parseSourceUrl } from './redact.ts';

type PrometheusSource = Extract<SourceConfig, { kind: 'prometheus' }>;

/** Longer requests go as a POST form (the API accepts both; proxies cap URL lengths). */
const MAX_GET_URL = 2_000;
const MIN_STEP_S = 15;
const STEPS_PER_WINDOW = 20;
const SERIES_IN_DETAILS = 10;

const sample = z.tuple([z.number(), z.string()]);
const metric = z.record(z.string(), z.string());
const answerSchema = z.discriminatedUnion('status', [
  z.object({
    status: z.literal('success'),
    data: z.discriminatedUnion('resultType', [
      z.object({ resultType: z.literal('vector'), result: z.array(z.object({ metric, value: sample })) }),
      z.object({ resultType: z.literal('matrix'), result: z.array(z.object({ metric, values: z.array(sample) })) }),
      z.object({ resultType: z.literal('scalar'), result: sample }),
      z.object({ resultType: z.literal('string'), result: sample }),
    ]),
    warnings: z.array(z.string()).optional(),
  }),
  z.object({ status: z.literal('error'), errorType: z.string().optional(), error: z.string().optional() }),
]);

type Success = Extract<z.output<typeof answerSchema>, { status: 'success' }>;

interface Series {
  labels: string;
  values: number[];
}

function seriesLabel(labels: Record<string, string>): string {
  const { __name__: name = '', ...rest } = labels;
  const inner = Object.entries(rest).map(([k, v]) => `${k}="${v}"`).join(', ');
  return inner ? `${name}{${inner}}` : name || '{}';
}

/** One pass (a range over many series can hold more samples than a spread call takes). */
function stats(values: number[]): { min: number; max: number; sum: number } {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  return { min, max, sum };
}

/** Finite samples only: Prometheus answers "NaN" and "+Inf" as values, which no threshold can use. */
function finite(samples: [number, string][]): number[] {
  return samples.map(([, v]) => Number(v)).filter(Number.isFinite);
}

async function ask(ctx: ProbeContext<PrometheusSource>, api: string, form: URLSearchParams): Promise<Success> {
  const { url: base, headers } = basicAuth(parseSourceUrl(ctx.source.url));
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  const url = new URL(api, base);
  const body = form.toString();
  const asGet = url.toString().length + body.length + 1 <= MAX_GET_URL;
  if (asGet) url.search = body;
  const response = await fetch(url, {
    method: asGet ? 'GET' : 'POST',
    headers: asGet ? headers : { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
    body: asGet ? undefined : body,
    signal: ctx.signal,
    redirect: 'error',
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Unmeasurable(`HTTP ${response.status} that is not a Prometheus API answer (is the url the Prometheus server, e.g. http://prometheus:9090?)`);
  }
  const parsed = answerSchema.safeParse(json);
  if (!parsed.success) throw new Unmeasurable(`HTTP ${response.status} that is not a Prometheus API answer`);
  if (parsed.data.status === 'error') {
    const { errorType, error } = parsed.data;
    throw new Unmeasurable(`the query failed: ${[errorType, error].filter(Boolean).join(': ') || `HTTP ${response.status}`}`);
  }
  return parsed.data;
}

export async function prometheusProbe(ctx: ProbeContext<PrometheusSource>, params: ProbeParams<'prometheus'>): Promise<Reading> {
  const named = Object.hasOwn(ctx.source.queries, params.query) ? ctx.source.queries[params.query] : undefined;
  const promql = named ?? params.query;
  const title = named ? params.query : promql.length > 60 ? `${promql.slice(0, 57)}…` : promql;
  const timeout = `${Math.max(1, Math.floor(ctx.timeoutMs / 1000))}s`;
  const windowMs = params.over ? parseDuration(params.over) : undefined;

  let answer: Success;
  let stepS = 0;
  if (windowMs) {
    const end = ctx.now() / 1000;
    stepS = Math.max(MIN_STEP_S, Math.round(windowMs / 1000 / STEPS_PER_WINDOW));
    const form = new URLSearchParams({ query: promql, start: String(end - windowMs / 1000), end: String(end), step: String(stepS), timeout });
    answer = await ask(ctx, 'api/v1/query_range', form);
  } else {
    answer = await ask(ctx, 'api/v1/query', new URLSearchParams({ query: promql, timeout }));
  }

  const { data } = answer;
  let series: Series[];
  switch (data.resultType) {
    case 'vector':
      series = data.result.map((s) => ({ labels: seriesLabel(s.metric), values: finite([s.value]) }));
      break;
    case 'matrix':
      series = data.result.map((s) => ({ labels: seriesLabel(s.metric), values: finite(s.values) }));
      break;
    case 'scalar':
      series = [{ labels: 'scalar', values: finite([data.result]) }];
      break;
    case 'string':
      throw new Unmeasurable(`the query returned a string, not a number: ${promql}`);
  }
  if (!series.length) {
    const hint = !named && /^[a-z][a-z0-9_-]*$/.test(params.query) && Object.keys(ctx.source.queries).length
      ? ` (no query named "${params.query}" in source ${ctx.sourceName}; its queries: ${Object.keys(ctx.source.queries).join(', ')})`
      : '';
    throw new Unmeasurable(`query returned no series: ${promql}${hint}`);
  }
  const measured = series.filter((s) => s.values.length);
  const all = measured.flatMap((s) => s.values);
  if (!all.length) throw new Unmeasurable(`query returned only NaN or infinite values: ${promql}`);

  const value = stats(measured.map((s) => s.values.at(-1) ?? Number.NaN)).max;
  const { min, max, sum } = stats(all);
  const avg = sum / all.length;
  const values = { value, min, max, avg, samples: all.length, series: measured.length };

  const several = measured.length > 1 ? ` across ${measured.length} series` : '';
  const summary = windowMs
    ? `${title} over ${formatDuration(windowMs)}: last ${formatNumber(value)}${several ? ' (highest series)' : ''}, min ${formatNumber(min)}, avg ${formatNumber(avg)}, max ${formatNumber(max)}${several} (${all.length} samples)`
    : measured.length > 1
      ? `${title}: max ${formatNumber(max)}${several} (min ${formatNumber(min)}, avg ${formatNumber(avg)})`
      : `${title} = ${formatNumber(value)}`;

  const details = [`query: ${promql}`];
  if (windowMs) details.push(`range: last ${formatDuration(windowMs)}, step ${stepS}s`);
  for (const s of measured.slice(0, SERIES_IN_DETAILS)) {
    const last = s.values.at(-1) ?? Number.NaN;
    const own = stats(s.values);
    details.push(windowMs ? `${s.labels}: last ${formatNumber(last)}, min ${formatNumber(own.min)}, max ${formatNumber(own.max)}` : `${s.labels}: ${formatNumber(last)}`);
  }
  if (measured.length > SERIES_IN_DETAILS) details.push(`… and ${measured.length - SERIES_IN_DETAILS} more series`);
  if (series.length > measured.length) details.push(`${series.length - measured.length} series had only NaN or infinite values`);
  for (const warning of answer.warnings ?? []) details.push(`Prometheus warning: ${warning}`);
  return { values, summary, details };
}
