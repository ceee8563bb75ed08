// The RDS client the Aurora target uses. In production: the region from the catalog and the SDK's
// default credential chain (environment, shared config/SSO profile, web identity such as EKS IRSA,
// container or instance role). Tests point `endpoint` at a local server with static credentials.
//
// Retries are the SDK's standard mode: throttling (`Throttling`, HTTP 429) and transient failures
// (5xx, dropped connections, timeouts) are retried with full-jitter exponential backoff (throttling
// from a 1 s base, others from 50 ms, each wait ≤ 20 s), up to `maxAttempts` attempts in all; other
// answers (not found, invalid state, refused credentials) are not retried. Bounded here: at most 5
// attempts, each HTTP attempt `requestTimeoutMs` (a timed-out attempt counts as transient and is retried).
import { RDSClient, type RDSClientConfig } from '@aws-sdk/client-rds';

export interface RdsClientOptions {
  region: string;
  /** e.g. "http://127.0.0.1:4566" for a local server; default: the region's RDS endpoint. */
  endpoint?: string;
  /** Default: the SDK's credential chain. */
  credentials?: RDSClientConfig['credentials'];
  /** Attempts per call including the first (1..5); default 3, tests use 1. */
  maxAttempts?: number;
  /** One HTTP attempt may take this long; default 15 s. */
  requestTimeoutMs?: number;
}

export const MAX_ATTEMPTS_LIMIT = 5;

export function createRdsClient(opts: RdsClientOptions): RDSClient {
  const maxAttempts = Math.min(MAX_ATTEMPTS_LIMIT, Math.max(1, Math.trunc(opts.maxAttempts ?? 3)));
  return new RDSClient({
    region: opts.region,
    maxAttempts,
    // Without throwOnRequestTimeout the handler only logs a warning when requestTimeout passes.
    requestHandler: { connectionTimeout: 5_000, requestTimeout: opts.requestTimeoutMs ?? 15_000, throwOnRequestTimeout: true },
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
  });
}
