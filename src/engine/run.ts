// The state of one run: everything the engine needs to decide the next step, and nothing that
// needs I/O to read. A run carries a snapshot of its runbook and service policy, so what was
// requested and approved cannot change under it when the catalog is edited.
import type { Runbook, SequentialPhase } from '../workflows/runbook-schema.ts';
import type { DatabaseOperation, DatabaseState } from '../ports/database-target.port.ts';

export type RunStatus =
  | 'checking' // pre-scale checks and the plan are being gathered
  | 'awaiting' // waiting for ticks and approvals
  | 'executing'
  | 'verifying'
  | 'succeeded'
  | 'verify-failed' // rollback may be offered
  | 'rolling-back'
  | 'rolled-back'
  | 'failed' // an action or rollback failed
  | 'rejected'
  | 'expired'
  | 'cancelled'
  | 'unchanged' // the target is already as requested
  | 'dry-run-complete';

export const TERMINAL_STATUSES: ReadonlySet<RunStatus> = new Set([
  'succeeded',
  'rolled-back',
  'failed',
  'rejected',
  'expired',
  'cancelled',
  'unchanged',
  'dry-run-complete',
]);

/** Statuses in which the run still holds its target (nothing else may scale it). */
export function isActive(run: Pick<Run, 'status'>): boolean {
  return !TERMINAL_STATUSES.has(run.status);
}

export interface ServiceSnapshot {
  name: string;
  description?: string;
  /** Stable key for the one-active-run-per-target rule, e.g. "kubernetes/default/prod/api-gateway". */
  targetKey: string;
  /** What people read, e.g. "Deployment prod/api-gateway". */
  targetLabel: string;
  namespace?: string;
  limits: { min: number; baseline: number; max: number };
  approvals: { required: number; approvers: string[] };
  channel: string;
  /** The catalog's numbers for formulas (`service.pool`). */
  params?: Record<string, number>;
  /** Names of the databases its runbooks may change (catalog `databases`). */
  databases?: string[];
  /** How long after a verified scale-up a scheduled scale-down opens. */
  scaleDownAfterMs?: number;
  /** When scale-downs are refused. */
  peakWindows?: { days: string[]; from: string; to: string; tz: string; reason?: string }[];
}

export interface RunRequest {
  /** Absent when the runbook's target formula decides (e.g. from the queue depth) or a scale-down heads for the baseline. */
  replicas?: number;
  reason?: string;
  dryRun: boolean;
  requester: string;
  /** Channel the command was typed in. */
  originChannel: string;
}

/** A read-only measurement with its evidence. `ok: undefined` means it could not be measured. */
export interface ProbeResult {
  ok: boolean | undefined;
  /** One line a person reads: "5/5 ready", "3 more pods fit (need 5)". */
  summary: string;
  value?: number | string;
  threshold?: number | string;
  /** Named numbers the runbook's expressions read (`waiting`, `max_connections`, …). */
  values?: Record<string, number>;
  source: string;
  at: number;
  /** Extra lines of evidence (e.g. Pending pods and their scheduler messages). */
  details?: string[];
}

/** What execution will do, decided from the target's real state before approval. */
export interface Plan {
  /** One line: "Set Deployment prod/api-gateway replicas 5 → 10". */
  summary: string;
  /** Why this mechanism (e.g. an HPA manages the Deployment). */
  note?: string;
  /** The exact API calls, for the card and dry runs. */
  calls: string[];
  /** Platform-neutral operation the adapter will carry out. */
  operation: TargetOperation;
  /** The operation that restores the state read before the change. */
  undo: TargetOperation;
  before: TargetState;
  /** Replicas expected once the change has rolled out, and whether more is fine (an HPA may add). */
  expect: { replicas: number; atLeast: boolean };
  /** The rollback's expectation. */
  undoExpect: { replicas: number; atLeast: boolean };
  changes: boolean;
}

/**
 * A change to a target. `from` is the state the change was planned (and approved) against: the
 * adapter refuses to apply it if the target has moved since, rather than silently undoing someone
 * else's change. `maxReplicas` is only sent when it changes.
 */
export type TargetOperation =
  | { type: 'set-replicas'; replicas: number; from?: number }
  | { type: 'set-hpa-bounds'; hpa: string; minReplicas: number; maxReplicas?: number; from?: { minReplicas: number; maxReplicas: number } }
  /** Set an HPA's `behavior.scaleDown.selectPolicy` ("Disabled" around an event; null removes it): `from` is what it had. */
  | { type: 'set-hpa-scale-down'; hpa: string; selectPolicy: string | null; from?: string | null }
  /** A platform's own autoscaler bounds (Azure Container Apps `template.scale`): the floor is raised or lowered. */
  | { type: 'set-replica-bounds'; minReplicas: number; maxReplicas?: number; from?: { minReplicas: number; maxReplicas: number } };

/** What an action step other than `scale` asks for, with its expressions evaluated. */
export type StepRequest =
  | { kind: 'target'; operation: 'hpa-bounds'; min?: number; max?: number }
  | { kind: 'target'; operation: 'hpa-scale-down'; enabled: boolean }
  | { kind: 'database'; database: string; operation: DatabaseOperation };

/** The plan of one such step, read from the real state before approval (like the run's plan). */
export interface StepPlan {
  summary: string;
  calls: string[];
  /** Shown before approval, e.g. "changing the instance class restarts the instance". */
  warning?: string;
  changes: boolean;
  change:
    | { kind: 'target'; operation: TargetOperation; undo?: TargetOperation }
    | { kind: 'database'; database: string; operation: DatabaseOperation; undo?: DatabaseOperation };
}

export interface TargetState {
  replicas: number;
  readyReplicas: number;
  hpa?: { name: string; minReplicas: number; maxReplicas: number; scaleDownDisabled?: boolean };
  /** The platform's own min/max replicas (Azure Container Apps), when it scales within them itself. */
  bounds?: { minReplicas: number; maxReplicas: number };
}

export type StepStatus =
  | 'pending'
  | 'running'
  | 'passed'
  | 'warned'
  | 'failed'
  | 'unmeasured'
  | 'done'
  | 'skipped';

export interface StepState {
  status: StepStatus;
  /** Bumped each time a probe is (re)issued, so late results of an earlier attempt are ignored. */
  attempt: number;
  result?: ProbeResult;
  by?: string;
  at?: number;
  startedAt?: number;
  deadline?: number;
  /** Idempotency key of an action step: one execution per key, whatever happens. */
  key?: string;
  error?: string;
  /** What a running step is doing now: planning its round, acting, waiting for its wake-up, measuring. */
  doing?: 'planning' | 'acting' | 'waiting' | 'measuring';
  /** When a waiting step wakes (end of a wait, next measurement): the card's countdown. */
  wakeAt?: number;
  /** A gradual round's own plan. */
  plan?: Plan;
  /** Rounds of a gradual scale-down completed by this step. */
  round?: number;
}

export interface Approval {
  user: string;
  at: number;
  /** The evidence revision the approver saw. */
  evidenceRev: number;
}

export interface Run {
  id: string;
  /** Compare-and-set version: bumped by every stored transition. */
  version: number;
  createdAt: number;
  updatedAt: number;
  service: ServiceSnapshot;
  runbook: Runbook;
  request: RunRequest;
  /** The replicas the run heads for: the request's, the baseline for a scale-down, or the runbook's formula once its inputs are measured. */
  target?: number;
  /** Where the run is in its sequential phases (execute or scale-down, then verify). */
  cursor?: { phase: SequentialPhase; index: number; round: number };
  status: RunStatus;
  steps: Record<string, StepState>;
  plan?: Plan;
  planError?: string;
  /** Plans of the action steps other than `scale` (HPA bounds, databases), by step, for the current plan attempt. */
  stepPlans?: Record<string, { attempt: number; plan?: StepPlan; error?: string; previous?: StepPlan }>;
  /** Databases as the actions read them before and after. */
  databases?: Record<string, { before?: DatabaseState; after?: DatabaseState }>;
  /** A rollback of several changes: undone one at a time, in reverse order. */
  rollback?: { items: { step: string; change: StepPlan['change'] }[]; index: number };
  planAttempt: number;
  /** Bumped whenever the request's evidence (check results, plan) changes; approvals are bound to it. */
  evidenceRev: number;
  approvals: Approval[];
  rollbackApprovals: Approval[];
  approvalExpiresAt: number;
  ended?: { by?: string; at: number; reason?: string };
  card?: { channel: string; ts: string };
  executedAt?: number;
  finishedAt?: number;
  /** Replicas and bounds before and after the change, as read back by the action itself. */
  before?: TargetState;
  after?: TargetState;
  /** Why the run stopped (failure text), for the card and the announcement. */
  failure?: string;
  /** A scale-down scheduled from this (finished) scale-up's card. */
  scaleDown?: { at: number; by: string; state: 'scheduled' | 'cancelled' | 'opened' | 'failed'; runId?: string; detail?: string; changedBy?: string };
  /** How often another replica picked the run up after its driver stopped. */
  resumes?: number;
}
