// A database whose capacity scales (Aurora Serverless v2, seed 003): its min/max capacity units and
// its members (writer and readers). One adapter per platform; every change is followed until the
// database says it is available again, and every read is what the card shows as evidence.

export interface DatabaseMember {
  id: string;
  role: 'writer' | 'reader';
  /** e.g. "db.serverless", "db.r6g.large". */
  instanceClass: string;
  /** The platform's status word: "available", "creating", "modifying", "deleting"… */
  status: string;
}

export interface DatabaseState {
  /** The cluster identifier. */
  id: string;
  status: string;
  /** Serverless v2 capacity range in ACU; absent when the cluster is not serverless v2. */
  capacity?: { min: number; max: number };
  members: DatabaseMember[];
}

/**
 * A change to a database. `from` is the state the change was planned against: the adapter refuses
 * to apply it if the database has moved since (someone else changed it), like the scale targets.
 */
export type DatabaseOperation =
  | { type: 'set-capacity'; min: number; max: number; from?: { min: number; max: number } }
  /** Adds a reader (a `db.serverless` instance unless another class is named) to the cluster. */
  | { type: 'add-reader'; instanceId: string; instanceClass: string }
  | { type: 'remove-reader'; instanceId: string }
  /** Restarts the instance: the plan says so before approval. */
  | { type: 'set-instance-class'; instanceId: string; instanceClass: string; from?: string };

export interface DatabasePlan {
  /** One line: "Set cluster autolytiq-prod capacity 2..16 ACU → 8..64 ACU". */
  summary: string;
  /** e.g. "changing the instance class restarts the instance (a few minutes of failover)". */
  warning?: string;
  /** The exact API calls, for the card and dry runs. */
  calls: string[];
  operation: DatabaseOperation;
  /** What restores the state read before the change (absent when there is no undo, e.g. a removed reader). */
  undo?: DatabaseOperation;
  before: DatabaseState;
  changes: boolean;
}

export interface DatabaseTarget {
  read(): Promise<DatabaseState>;
  /** Reads the real state and decides the exact call for what the runbook asks. */
  plan(request: DatabaseOperation): Promise<DatabasePlan>;
  /** Carries out one operation (idempotent: a database already as asked counts as applied). */
  apply(operation: DatabaseOperation): Promise<{ before: DatabaseState; after: DatabaseState }>;
  /** After a crash: was this operation applied? Reads only. */
  reconcile(operation: DatabaseOperation): Promise<{ status: 'applied' | 'not-applied'; state: DatabaseState } | { status: 'diverged'; detail: string }>;
  /** Follows the database until it (and every member the operation touched) is available, or the deadline passes. Never rejects. */
  waitUntilAvailable(deadline: number, signal: AbortSignal): Promise<{ passed: boolean; state?: DatabaseState; summary: string }>;
}
