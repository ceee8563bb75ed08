// What one probe implementation is given, and what it gives back (index.ts adds `source` and `at`).
import type { ServiceConfig, SourceConfig } from '../../config/catalog.ts';
import type { Measurement } from '../../ports/probe.port.ts';

export interface ProbeContext<S extends SourceConfig = SourceConfig> {
  /** The source with its `${VAR}` placeholders expanded: it holds secrets, never print it. */
  source: S;
  /** The source's name in the catalog ("db"). */
  sourceName: string;
  serviceName: string;
  service: ServiceConfig;
  /** The replica count the run is heading for. */
  replicas: number;
  /** Aborted when the caller aborts or the deadline passes: close connections on it. */
  signal: AbortSignal;
  /** The per-measurement budget, in ms. */
  timeoutMs: number;
  /** Epoch ms from the injected clock (e.g. the end of a Prometheus range). */
  now(): number;
}

export type Reading = Omit<Measurement, 'source' | 'at'>;
