// The append-only audit record of every request, tick, approval, action (before and after, with its
// idempotency key) and outcome. Memory and Redis Stream implementations; exportable as JSON lines.

import type { AuditType } from '../engine/events.ts';

export type { AuditType };

export interface AuditEntry {
  at: number;
  type: AuditType;
  runId: string;
  service: string;
  user?: string;
  /** Idempotency key of an action. */
  key?: string;
  before?: unknown;
  after?: unknown;
  detail?: string;
}

export interface AuditLog {
  append(entry: AuditEntry): Promise<void>;
  /** Oldest first. */
  read(filter?: { runId?: string; service?: string; since?: number; limit?: number }): Promise<AuditEntry[]>;
}
