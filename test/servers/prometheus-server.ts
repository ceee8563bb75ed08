/**
 * A local server speaking the subset of the Prometheus HTTP API the `prometheus` probe uses:
 * `/api/v1/query` and `/api/v1/query_range`, by GET (query string) or POST (form body), answering
 * with Prometheus's own JSON envelopes (`{status:"success",data:{resultType,result}}` and
 * `{status:"error",errorType,error}`).
 *
 * Tests set what each PromQL string returns:
 *   const prom = await startPrometheusServer();
 *   prom.setSeries('avg(cpu)', [{ metric: { pod: 'a' }, value: 82 }]);            // instant value
 *   prom.setSeries('cpu', [{ metric: { pod: 'a' }, value: (t) => 60 + (t % 60) }]); // function of time (s)
 *   prom.setError('bad(', { errorType: 'bad_data', error: 'parse error' });
 *   prom.hang('slow');                                                           // never answers
 * An unknown query answers an empty result, as Prometheus does for a series that does not exist.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type SeriesValue = number | ((timeSeconds: number) => number);

export interface SeriesSpec {
  metric: Record<string, string>;
  value: SeriesValue;
}

export interface PrometheusError {
  /** HTTP status; 400 by default (Prometheus uses 400 bad_data, 422 execution, 503 timeout). */
  status?: number;
  errorType: string;
  error: string;
}

export interface RecordedQuery {
  method: string;
  path: string;
  params: Record<string, string>;
  authorization?: string;
}

export interface PrometheusServer {
  url: string;
  /** Every API request, in arrival order. */
  requests: RecordedQuery[];
  setSeries(query: string, series: SeriesSpec[]): void;
  setError(query: string, error: PrometheusError): void;
  /** Requests for this query get no answer until the server closes. */
  hang(query: string): void;
  close(): Promise<void>;
}

type Behaviour = { series: SeriesSpec[] } | { error: PrometheusError } | { hang: true };

/** Prometheus writes sample values as strings: "82", "NaN", "+Inf". */
function sampleText(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function valueAt(value: SeriesValue, t: number): number {
  return typeof value === 'function' ? value(t) : value;
}

async function readParams(req: IncomingMessage, url: URL): Promise<Record<string, string>> {
  const params = new URLSearchParams(url.search);
  if (req.method === 'POST') {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    for (const [k, v] of new URLSearchParams(Buffer.concat(chunks).toString('utf8'))) params.set(k, v);
  }
  return Object.fromEntries(params);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function badData(res: ServerResponse, error: string): void {
  send(res, 400, { status: 'error', errorType: 'bad_data', error });
}

function rangeResult(series: SeriesSpec[], params: Record<string, string>, res: ServerResponse): void {
  const start = Number(params.start);
  const end = Number(params.end);
  const step = Number(params.step);
  if (![start, end, step].every(Number.isFinite) || step <= 0 || end < start) return badData(res, 'invalid parameter "start", "end" or "step"');
  if ((end - start) / step > 11_000) return badData(res, 'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)');
  const result = series.map((s) => {
    const values: [number, string][] = [];
    for (let t = start; t <= end; t += step) values.push([t, sampleText(valueAt(s.value, t))]);
    return { metric: s.metric, values };
  });
  send(res, 200, { status: 'success', data: { resultType: 'matrix', result } });
}

export async function startPrometheusServer(): Promise<PrometheusServer> {
  const behaviours = new Map<string, Behaviour>();
  const requests: RecordedQuery[] = [];

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const params = await readParams(req, url);
      requests.push({ method: req.method ?? 'GET', path: url.pathname, params, authorization: req.headers.authorization });
      const isRange = url.pathname === '/api/v1/query_range';
      if (url.pathname !== '/api/v1/query' && !isRange) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
        return void res.end('404 page not found\n'); // as Prometheus's router answers
      }
      if (req.method !== 'GET' && req.method !== 'POST') return send(res, 405, { status: 'error', errorType: 'bad_data', error: 'method not allowed' });
      const query = params.query;
      if (!query) return badData(res, 'invalid parameter "query": empty query');
      const behaviour = behaviours.get(query) ?? { series: [] };
      if ('hang' in behaviour) return; // the socket stays open until close()
      if ('error' in behaviour) return send(res, behaviour.error.status ?? 400, { status: 'error', errorType: behaviour.error.errorType, error: behaviour.error.error });
      if (isRange) return rangeResult(behaviour.series, params, res);
      const time = params.time ? Number(params.time) : Date.now() / 1000;
      const result = behaviour.series.map((s) => ({ metric: s.metric, value: [time, sampleText(valueAt(s.value, time))] }));
      send(res, 200, { status: 'success', data: { resultType: 'vector', result } });
    })().catch((error: unknown) => send(res, 500, { status: 'error', errorType: 'internal', error: String(error) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setSeries: (query, series) => void behaviours.set(query, { series }),
    setError: (query, error) => void behaviours.set(query, { error }),
    hang: (query) => void behaviours.set(query, { hang: true }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
