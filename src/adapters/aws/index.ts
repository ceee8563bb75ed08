// Amazon Web Services adapters: an Aurora Serverless v2 cluster as a database target (capacity in
// ACU, readers, instance classes) and its read-only probe `aws.aurora`.
import type { RDSClient } from '@aws-sdk/client-rds';
import { systemClock, type Clock } from '../../ports/clock.port.ts';
import { AuroraTarget, type AuroraTargetConfig } from './aurora-target.ts';
import { createRdsClient, type RdsClientOptions } from './rds-client.ts';

export { AuroraTarget, availableLine, type AuroraTargetConfig, type AuroraTargetSettings } from './aurora-target.ts';
export { auroraProbe, AURORA_PROBE, AURORA_PROBE_VALUES, type ProbedDatabase } from './aurora-probe.ts';
export { AuroraError, describeRdsError, errorCode, isAuthError, isThrottling, type Changed } from './rds-errors.ts';
export { capacityProblem, formatAcu, formatRange, MAX_ACU } from './capacity.ts';
export { createRdsClient, MAX_ATTEMPTS_LIMIT, type RdsClientOptions } from './rds-client.ts';

export interface AuroraTargetOptions extends Omit<RdsClientOptions, 'region'> {
  /** Use this client instead of making one (e.g. one client for several clusters of a region). */
  client?: RDSClient;
  clock?: Clock;
  /** How often waitUntilAvailable reads again; default 10 s (50 ms..60 s). */
  pollIntervalMs?: number;
  /** One call, retries included, may take this long; default 60 s. */
  callTimeoutMs?: number;
  /** Promotion tier of added readers; default 15. */
  readerPromotionTier?: number;
}

/**
 * The Aurora cluster `config.cluster` in `config.region` as a DatabaseTarget. Production: no
 * options (the SDK's default credential chain, 3 attempts per call). Tests: `endpoint`, static
 * `credentials`, `maxAttempts: 1`.
 */
export function auroraTarget(config: AuroraTargetConfig, opts: AuroraTargetOptions = {}): AuroraTarget {
  const { client, clock, pollIntervalMs, callTimeoutMs, readerPromotionTier, ...clientOptions } = opts;
  return new AuroraTarget(client ?? createRdsClient({ region: config.region, ...clientOptions }), config, {
    clock: clock ?? systemClock,
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    ...(pollIntervalMs !== undefined ? { pollIntervalMs } : {}),
    ...(callTimeoutMs !== undefined ? { callTimeoutMs } : {}),
    ...(readerPromotionTier !== undefined ? { readerPromotionTier } : {}),
  });
}
