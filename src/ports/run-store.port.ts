// Where runs live. Every write is compare-and-set on `version`, so two replicas or two clicks can
// never both apply a transition: the loser re-reads and re-decides. Implementations: memory (one
// process) and, later, Redis (several replicas) — both pass test/contract/run-store.contract.ts.
import type { Run } from '../engine/run.ts';

export type ClaimResult = { claimed: true } | { claimed: false; holder: string };

export interface RunStore {
  /** Stores a new run (version 1). Fails if the id exists. */
  create(run: Run): Promise<void>;
  get(id: string): Promise<Run | undefined>;
  /**
   * Replaces the run if its stored version is still `expectedVersion`; the stored copy gets version
   * `expectedVersion + 1`. Returns false (and changes nothing) when someone else wrote first.
   */
  compareAndSet(run: Run, expectedVersion: number): Promise<boolean>;
  /** Runs, newest first. */
  list(filter?: { active?: boolean; service?: string; limit?: number }): Promise<Run[]>;
  /**
   * One active run per target: claims the target for a run unless another active run holds it. A
   * holder whose run has finished (its release was lost to a crash) is replaced.
   */
  claimTarget(targetKey: string, runId: string): Promise<ClaimResult>;
  /** Releases the target if (and only if) this run holds it. */
  releaseTarget(targetKey: string, runId: string): Promise<void>;
}
