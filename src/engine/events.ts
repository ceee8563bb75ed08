// Events the engine reacts to, and effects it asks the runner to carry out. Neither mentions Slack
// or Kubernetes: adapters translate payloads into events and effects into API calls.
import type { Plan, ProbeResult, StepPlan, StepRequest, TargetOperation, TargetState } from './run.ts';
import type { DatabaseOperation, DatabaseState } from '../ports/database-target.port.ts';

export type AuditType =
  | 'request'
  | 'tick'
  | 'untick'
  | 'approval'
  | 'rollback-approval'
  | 'rejection'
  | 'cancel'
  | 'close'
  | 'action-started'
  | 'action-done'
  | 'action-failed'
  | 'outcome'
  | 'resume'
  | 'stopped'
  | 'scale-down-scheduled'
  | 'scale-down-cancelled';

/** One line of the audit record; the runner adds when, which run and which service. */
export interface AuditRecord {
  type: AuditType;
  user?: string;
  key?: string;
  before?: unknown;
  after?: unknown;
  detail?: string;
}

/** A person acting on a run. `eligible` is resolved by the runner (user-group membership needs I/O). */
export interface Actor {
  user: string;
  /** Whether the user is in the run's approver policy. */
  approver: boolean;
}

export type RunEvent =
  | { type: 'card-posted'; channel: string; ts: string }
  /** `step`: the plan of one round of a gradual scale-down (absent: the run's plan). */
  | { type: 'plan-ready'; attempt: number; plan: Plan; step?: string }
  | { type: 'plan-failed'; attempt: number; error: string; step?: string }
  | { type: 'probe-result'; step: string; attempt: number; result: ProbeResult }
  | { type: 'step-plan-ready'; step: string; attempt: number; plan: StepPlan }
  | { type: 'step-plan-failed'; step: string; attempt: number; error: string }
  | { type: 'database-done'; step: string; key: string; database: string; before: DatabaseState; after: DatabaseState }
  | { type: 'rerun-checks'; actor: Actor }
  | {
      type: 'ticks';
      actor: Actor;
      /** Only what this person changed on the card they saw: a stale card cannot undo others' ticks. */
      changes: { step: string; ticked: boolean }[];
      /** Restricted steps (`who`) this person may tick, resolved by the runner. */
      allowed: string[];
    }
  | { type: 'approve'; actor: Actor; evidenceRev: number }
  | { type: 'reject'; actor: Actor; reason?: string }
  | { type: 'cancel'; actor: Actor }
  /** Close a run whose verification failed, keeping the target as it is (no rollback). */
  | { type: 'close'; actor: Actor }
  | { type: 'action-done'; step: string; key: string; before: TargetState; after: TargetState }
  | { type: 'action-failed'; step: string; key: string; error: string }
  | { type: 'verify-passed'; step: string; attempt: number; result: ProbeResult }
  | { type: 'verify-failed'; step: string; attempt: number; result: ProbeResult }
  | { type: 'approve-rollback'; actor: Actor }
  /** From a verified scale-up's card: open a scale-down run later (the service's scale-down delay). */
  | { type: 'schedule-scale-down'; actor: Actor }
  | { type: 'cancel-scale-down'; actor: Actor }
  /** The scheduled scale-down run was opened (or could not be). */
  | { type: 'scale-down-opened'; runId?: string; error?: string }
  /** 'approval-expiry', or `wake:<step>:<attempt>` (a wait ends, a measurement is due again). */
  | { type: 'timer'; name: string }
  /** The replica driving this run stopped; another one picks up whatever was in flight. */
  | { type: 'resume'; by: string };

export type RunEffect =
  | { type: 'plan'; attempt: number; replicas: number; step?: string }
  | { type: 'probe'; step: string; attempt: number; probe: string; params: Record<string, unknown>; replicas: number }
  /** Plan an action step other than `scale` from the real state (before approval). */
  | { type: 'plan-step'; step: string; attempt: number; request: StepRequest }
  /** Change a database; done when it is available again. */
  | { type: 'execute-database'; step: string; key: string; database: string; operation: DatabaseOperation }
  | { type: 'reconcile-database'; step: string; key: string; database: string; operation: DatabaseOperation }
  | { type: 'execute'; step: string; key: string; operation: TargetOperation }
  /** An action that started but was never confirmed: read the target, never blindly repeat. */
  | { type: 'reconcile'; step: string; key: string; operation: TargetOperation }
  | { type: 'audit'; record: AuditRecord }
  /** Follow the rollout until it matches `expect` or the deadline passes. */
  | { type: 'verify'; step: string; attempt: number; expect: { replicas: number; atLeast: boolean }; deadline: number }
  | { type: 'schedule'; at: number; name: string }
  /** A threaded reply under the card. */
  | { type: 'note'; text: string }
  /** A message in the channel itself (outcomes, notify steps). */
  | { type: 'announce'; text: string }
  /** An answer only the acting person sees. */
  | { type: 'reply'; user: string; text: string }
  | { type: 'release-target' }
  /** Open a scale-down run of this run's service, requested by `requester`. */
  | { type: 'open-scale-down'; requester: string };

export interface TransitionResult<R> {
  run: R;
  effects: RunEffect[];
}
