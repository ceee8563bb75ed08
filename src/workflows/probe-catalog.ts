// Every probe a runbook can name, with the numbers it returns (what `pass:` and formulas may read)
// and where it may be used. The engine answers `request.*` and `catalog.*` itself; `kubernetes.*`
// go to the service's scale target; the rest to the probe adapters (Prometheus, PostgreSQL, Redis,
// queues, HTTP). Pure data: the runbook schema validates against it at load.

export interface ProbeInfo {
  /** Value names the probe returns. */
  values: readonly string[];
  /** Whether the probe decides pass/fail itself (a `pass:` expression may still override it). */
  verdict: boolean;
  /** Usable only as a verify step (it waits for a condition rather than measuring once). */
  verifyOnly?: boolean;
  /** Evaluated by the engine without I/O. */
  local?: boolean;
  what: string;
}

export const PROBES = {
  'request.limits': { values: ['replicas', 'min', 'max', 'baseline'], verdict: true, local: true, what: "the requested replicas within the catalog's limits (and, going down, not below the baseline)" },
  'catalog.peak-window': { values: ['in_peak'], verdict: true, local: true, what: "whether now is inside one of the service's peak windows (scale-downs refused)" },
  'kubernetes.replicas': { values: ['replicas', 'ready', 'updated', 'available'], verdict: true, what: 'Deployment replicas and readiness' },
  'kubernetes.hpa': { values: ['present', 'min', 'max', 'current', 'desired'], verdict: true, what: 'the HorizontalPodAutoscaler managing the Deployment' },
  'kubernetes.pending-pods': { values: ['pending'], verdict: true, what: 'Pending pods of the Deployment, with scheduler messages' },
  'kubernetes.node-capacity': { values: ['fits', 'needed'], verdict: true, what: "nodes' allocatable vs requested: room for the extra pods" },
  'kubernetes.pod-usage': { values: ['pods', 'cpu_avg_pct', 'cpu_max_pct', 'memory_avg_pct', 'memory_max_pct'], verdict: false, what: 'CPU and memory per pod as a share of requests (metrics-server)' },
  'kubernetes.pdb': { values: ['present', 'min_available', 'max_unavailable', 'current_healthy', 'desired_healthy', 'disruptions_allowed'], verdict: false, what: 'the PodDisruptionBudget covering the Deployment' },
  'kubernetes.recent-deploy': { values: ['minutes_since', 'revision'], verdict: false, what: 'when the pod template last changed' },
  'kubernetes.rollout': { values: ['replicas', 'ready'], verdict: true, verifyOnly: true, what: 'the rollout is complete: all replicas updated and ready, none Pending' },
  'azure.replicas': { values: ['replicas', 'min', 'max', 'revisions'], verdict: true, what: "a Container App's running replicas and its min/max" },
  'compose.containers': { values: ['containers', 'running', 'healthy', 'unhealthy', 'exited'], verdict: true, what: "a Compose service's containers and their health" },
  'aws.aurora': { values: ['min_acu', 'max_acu', 'readers', 'writers', 'available'], verdict: true, what: "an Aurora cluster's Serverless v2 capacity range and members" },
  prometheus: { values: ['value', 'min', 'max', 'avg', 'samples', 'series'], verdict: false, what: 'a Prometheus query, instant or over a window' },
  'postgres.connections': { values: ['max_connections', 'reserved', 'current', 'total', 'pool', 'reserve', 'needed', 'available'], verdict: true, what: 'PostgreSQL connections and the budget pods × pool ≤ max_connections − reserve' },
  'redis.info': { values: ['used_memory', 'maxmemory', 'used_pct', 'evicted_keys', 'connected_clients', 'maxclients', 'clients_pct', 'hit_rate'], verdict: false, what: 'Redis memory, evictions, clients and hit rate' },
  'queue.depth': { values: ['waiting', 'active', 'failed', 'delayed'], verdict: false, what: 'jobs waiting, active and failed in a queue' },
  'http.health': { values: ['requests', 'ok', 'failed', 'p50_ms', 'p95_ms', 'max_ms', 'instances', 'top_share_pct'], verdict: true, what: 'N requests to an endpoint: status, response times and spread across instances' },
} as const satisfies Record<string, ProbeInfo>;

export type ProbeName = keyof typeof PROBES;
export const PROBE_NAMES = Object.keys(PROBES) as ProbeName[];

export function probeInfo(name: string): ProbeInfo | undefined {
  return Object.hasOwn(PROBES, name) ? (PROBES as Record<string, ProbeInfo>)[name] : undefined;
}

/** The name a step's values go by in expressions: step ids use dashes, expressions cannot. */
export function scopeName(stepId: string): string {
  return stepId.replaceAll('-', '_');
}
