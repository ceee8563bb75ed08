// One interface for everything that can be scaled; one adapter per platform. Probes are read-only.
import type { Plan, ProbeResult, StepPlan, StepRequest, TargetOperation, TargetState } from '../engine/run.ts';

export interface ApplyResult {
  before: TargetState;
  after: TargetState;
}

export interface RolloutExpectation {
  replicas: number;
  /** An HPA may run more than the floor we set. */
  atLeast: boolean;
}

export interface ScaleTarget {
  /** Reads the real state and decides the exact operation (and its undo) for `replicas`. */
  plan(replicas: number): Promise<Plan>;
  /** Plans an action step other than `scale` (HPA bounds, HPA scale-down) from the real state; throws when the platform has no such thing. */
  planStep?(request: Extract<StepRequest, { kind: 'target' }>): Promise<StepPlan>;
  /** Carries out one operation. Changes only what the operation names. */
  apply(operation: TargetOperation): Promise<ApplyResult>;
  /** A read-only `kubernetes.*` probe (see workflows/probe-catalog.ts), for the run heading to `replicas`. */
  probe(probe: string, replicas: number, params?: Record<string, unknown>): Promise<ProbeResult>;
  /**
   * After a crash: was this operation applied? Reads the target only. `applied` when the target is
   * as the operation sets it; `not-applied` when it is still as the operation found it (`from`);
   * otherwise `diverged` (someone else changed it).
   */
  reconcile(operation: TargetOperation): Promise<{ status: 'applied'; state: TargetState } | { status: 'not-applied'; state: TargetState } | { status: 'diverged'; detail: string }>;
  /**
   * Follows the rollout until it matches the expectation (passed) or the deadline passes (failed,
   * with what is stuck). Resolves, never rejects; stops early when `signal` aborts.
   */
  waitForRollout(expect: RolloutExpectation, deadline: number, signal: AbortSignal): Promise<{ passed: boolean; result: ProbeResult }>;
}

/** Finds the target adapter for a service. */
export type TargetResolver = (service: string) => ScaleTarget;
