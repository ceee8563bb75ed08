// What several bot replicas need to agree on, beyond runs themselves: who drives a run's
// long-running effects (a lease), which effects have started (so an action runs at most once per
// idempotency key, whatever crashes), and which Slack deliveries were already seen.
// Implementations: memory (one process) and Redis; both pass test/contract/coordination.contract.ts.

export interface Lease {
  owner: string;
  /** Fencing token: strictly increasing per run across all acquisitions. */
  token: number;
}

export type EffectRecord =
  | { state: 'started'; owner: string; at: number }
  | { state: 'done'; owner: string; at: number; result: string };

export interface Coordination {
  /** Takes the run's lease if it is free or expired (or already ours: then renews it). */
  acquireLease(runId: string, owner: string, ttlMs: number): Promise<Lease | undefined>;
  /**
   * Takes the lease whatever its state, with a new token: the replica that just won the transition
   * emitting a run's work becomes its driver; the previous holder's renew then fails and it stops.
   */
  takeLease(runId: string, owner: string, ttlMs: number): Promise<Lease>;
  /** Extends our lease; false when it expired and someone else (or no one) holds it now. */
  renewLease(runId: string, lease: Lease, ttlMs: number): Promise<boolean>;
  releaseLease(runId: string, lease: Lease): Promise<void>;
  leaseOf(runId: string): Promise<Lease | undefined>;

  /**
   * Journal of effects by idempotency key. `beginEffect` succeeds for exactly one caller per key,
   * ever (it records "started" before the effect runs); `completeEffect` records the outcome — the
   * first one recorded stands (a slow executor cannot overwrite a reconciled result).
   */
  beginEffect(key: string, owner: string, at: number): Promise<boolean>;
  completeEffect(key: string, owner: string, at: number, result: string): Promise<void>;
  effectRecord(key: string): Promise<EffectRecord | undefined>;

  /** True the first time a key is seen within `ttlMs` (Slack retries, replayed envelopes). */
  firstSeen(key: string, ttlMs: number): Promise<boolean>;
}
