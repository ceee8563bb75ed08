// Read-only measurements of the systems around a service: metrics (Prometheus), its database
// (PostgreSQL), its cache (Redis), its queues, its HTTP endpoints. The runbook names a probe and
// decides pass or fail from the named numbers it returns (`pass: "waiting < 100"`); the probe's own
// verdict (`ok`) is used when the runbook gives none. Probes never change anything.

/** What one probe measured. Every number an expression may use is in `values`. */
export interface Measurement {
  /** Named numbers, e.g. { waiting: 120, active: 4, failed: 0 }. Names: lower-case, digits, "_". */
  values: Record<string, number>;
  /** One line a person reads: "120 waiting, 4 active, 0 failed in queue pdf-generation". */
  summary: string;
  /** Where it was measured, without secrets: "PostgreSQL db.internal:5432/app". */
  source: string;
  /** Epoch ms of the measurement. */
  at: number;
  /** Extra evidence lines (e.g. per-instance answers, the query text). */
  details?: string[];
  /** The probe's own verdict when it has one (e.g. the DB connection budget holds). */
  ok?: boolean;
  /** The threshold behind `ok`, for people: "needs 260 ≤ 340". */
  threshold?: string;
}

/**
 * The source is down, refuses us, or answers nonsense: the result is "could not measure" with this
 * message (which names the source and what went wrong, never a secret).
 */
export class Unmeasurable extends Error {
  override name = 'Unmeasurable';
}

export interface ProbeRequest {
  /** e.g. "prometheus", "postgres.connections", "redis.info", "queue.depth", "http.health". */
  probe: string;
  /** The step's `with:` parameters, already validated against the probe's parameter schema. */
  params: Record<string, unknown>;
  /** The service the run scales (its catalog entry names the sources). */
  service: string;
  /** The replica count the run is heading for (the DB budget is computed for it). */
  replicas: number;
}

export interface Probes {
  /** Rejects with Unmeasurable (or any error, treated the same) when it cannot measure. */
  measure(request: ProbeRequest, signal?: AbortSignal): Promise<Measurement>;
  /** Closes pools and connections. */
  close(): Promise<void>;
}
