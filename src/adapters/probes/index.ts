// The read-only probes behind the Probes port: Prometheus, PostgreSQL connections, Redis INFO, queue
// depth, HTTP health. This file resolves which catalog source a step measures, fills its `${VAR}`
// placeholders from the environment, bounds the call in time, and makes sure nothing it returns or
// throws carries a secret. The probes themselves are one file each.
import type { Catalog } from '../../config/catalog.ts';
import type { Clock } from '../../ports/clock.port.ts';
import { Unmeasurable, type Measurement, type ProbeRequest, type Probes } from '../../ports/probe.port.ts';
import { describeError } from './describe-error.ts';
import { expandSource } from './expand-source.ts';
import { httpHealthProbe } from './http-health-probe.ts';
import { isProbeName, PROBE_NAMES, PROBE_PARAMS, PROBE_SOURCE_KIND, type ProbeName, type ProbeParams } from './params.ts';
import { postgresConnectionsProbe } from './postgres-connections-probe.ts';
import type { ProbeContext, Reading } from './probe-context.ts';
import { prometheusProbe } from './prometheus-probe.ts';
import { queueDepthProbe } from './queue-depth-probe.ts';
import { scrub, secretsOf } from './redact.ts';
import { redisInfoProbe } from './redis-info-probe.ts';
import { resolveSource, type SourceOfKind } from './resolve-source.ts';
import { sourceLabel } from './source-label.ts';
import { withDeadline } from './with-deadline.ts';

export { PROBE_NAMES, PROBE_PARAMS, PROBE_VALUES, type ProbeName, type ProbeParams } from './params.ts';

export const DEFAULT_PROBE_TIMEOUT_MS = 5_000;
/** http.health returns what it has when its own budget runs out; this is how long it may take to. */
const HTTP_GRACE_MS = 1_000;

export interface ProbeOptions {
  clock: Clock;
  /** Where `${VAR}` placeholders in source URLs and headers come from; process.env by default. */
  env?: Record<string, string | undefined>;
  /** Told the source kind ("postgres", "redis"…) each time a source could not be measured, e.g. for a metric. */
  onError?: (source: string) => void;
  /** Budget for one measurement, in ms (default 5000). */
  timeoutMs?: number;
}

type Runner<P extends ProbeName> = (ctx: ProbeContext<SourceOfKind<(typeof PROBE_SOURCE_KIND)[P]>>, params: ProbeParams<P>) => Promise<Reading>;

const RUNNERS: { [P in ProbeName]: Runner<P> } = {
  prometheus: prometheusProbe,
  'postgres.connections': postgresConnectionsProbe,
  'redis.info': redisInfoProbe,
  'queue.depth': queueDepthProbe,
  'http.health': httpHealthProbe,
};

function paramsOf<P extends ProbeName>(probe: P, raw: Record<string, unknown>): ProbeParams<P> {
  const parsed = PROBE_PARAMS[probe].safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'with'}: ${issue.message}`).join('; ');
    throw new Unmeasurable(`the step's with: for ${probe} is not valid (${problems})`);
  }
  return parsed.data as ProbeParams<P>;
}

export function createProbes(catalog: Catalog, opts: ProbeOptions): Probes {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  const running = new Set<Promise<unknown>>();
  const stopAll = new AbortController();
  let closed = false;

  async function measure<P extends ProbeName>(probe: P, request: ProbeRequest, signal: AbortSignal | undefined): Promise<Measurement> {
    const params = paramsOf(probe, request.params);
    const service = Object.hasOwn(catalog.services, request.service) ? catalog.services[request.service] : undefined;
    if (!service) throw new Unmeasurable(`no service "${request.service}" in the catalog`);
    const kind = PROBE_SOURCE_KIND[probe];
    const { name, source: configured } = resolveSource(request.service, service, probe, kind, params.source);

    let label = `${kind} source "${name}" of service "${request.service}"`;
    let secrets: string[] = [];
    try {
      const source = expandSource(configured, opts.env ?? process.env);
      secrets = secretsOf(source);
      label = sourceLabel(source, 'path' in params ? params.path : undefined);
      const budget = probe === 'http.health' ? timeoutMs + HTTP_GRACE_MS : timeoutMs;
      const reading = await withDeadline(budget, AbortSignal.any([stopAll.signal, ...(signal ? [signal] : [])]), (aborted) =>
        RUNNERS[probe]({ source, sourceName: name, serviceName: request.service, service, replicas: request.replicas, signal: aborted, timeoutMs, now: () => opts.clock.now() }, params),
      );
      return {
        ...reading,
        summary: scrub(reading.summary, secrets),
        ...(reading.details ? { details: reading.details.map((line) => scrub(line, secrets)) } : {}),
        source: label,
        at: opts.clock.now(),
      };
    } catch (error) {
      opts.onError?.(kind);
      const why = error instanceof Unmeasurable ? error.message : describeError(error);
      const where = label.includes(`"${name}"`) ? label : `${label} (source "${name}")`;
      throw new Unmeasurable(scrub(`${where}: ${why}`, secrets));
    }
  }

  return {
    async measure(request, signal) {
      if (closed) throw new Unmeasurable('the probes are closed: the bot is shutting down');
      if (!isProbeName(request.probe)) throw new Unmeasurable(`no probe "${request.probe}"; known: ${PROBE_NAMES.join(', ')}`);
      const pending = measure(request.probe, request, signal);
      running.add(pending);
      try {
        return await pending;
      } finally {
        running.delete(pending);
      }
    },
    async close() {
      closed = true;
      stopAll.abort(new Unmeasurable('the probes are closing'));
      await Promise.allSettled([...running]);
    },
  };
}
