// Small pieces every part of the engine uses: finding steps, releasing the target, the words for
// states and runs.
import type { RunEffect, TransitionResult } from './events.ts';
import type { Run } from './run.ts';
import { mention, plain } from './text.ts';
import type { ApprovalStep, Runbook, Step } from '../workflows/runbook-schema.ts';
import { PHASES } from '../workflows/runbook-schema.ts';

export type Result = TransitionResult<Run>;

export const same = (run: Run, ...effects: RunEffect[]): Result => ({ run, effects });
export const reply = (run: Run, user: string, text: string): Result => same(run, { type: 'reply', user, text });

export function stepsOf(runbook: Runbook): Step[] {
  return PHASES.flatMap((phase) => runbook.phases[phase]);
}

export function findStep(runbook: Runbook, id: string): Step | undefined {
  return stepsOf(runbook).find((s) => s.id === id);
}

export function approvalStep(runbook: Runbook): ApprovalStep {
  const step = runbook.phases.approve[0];
  if (!step || step.kind !== 'approval') throw new Error(`runbook ${runbook.name} has no approval step`);
  return step;
}

export function requiredApprovals(run: Run): number {
  return approvalStep(run.runbook).required ?? run.service.approvals.required;
}

export function release(run: Run): RunEffect[] {
  return run.request.dryRun ? [] : [{ type: 'release-target' }];
}

const STATUS_WORDS: Record<Run['status'], string> = {
  checking: 'running its pre-scale checks',
  awaiting: 'waiting for its checklist and approvals',
  executing: 'executing',
  verifying: 'verifying the change',
  succeeded: 'finished: verified',
  'verify-failed': 'stopped: verification failed',
  'rolling-back': 'rolling back',
  'rolled-back': 'finished: rolled back',
  failed: 'finished: failed',
  rejected: 'finished: rejected',
  expired: 'finished: approvals expired',
  cancelled: 'finished: cancelled',
  unchanged: 'finished: nothing to change',
  'dry-run-complete': 'finished: dry run',
};

export function describeStatus(run: Run): string {
  return STATUS_WORDS[run.status];
}

/** What a rollback restores: replicas, or an HPA's bounds (the HPA then decides the replicas). */
export function rollbackWords(run: Run): string {
  const before = run.plan!.before;
  if (before.hpa) return `HPA ${plain(before.hpa.name)} bounds restored to ${before.hpa.minReplicas}..${before.hpa.maxReplicas}`;
  if (before.bounds) return `min..max replicas restored to ${before.bounds.minReplicas}..${before.bounds.maxReplicas}`;
  return `back to ${before.replicas} replicas`;
}

export function formatState(state: { replicas: number; hpa?: { minReplicas: number; maxReplicas: number }; bounds?: { minReplicas: number; maxReplicas: number } }): string {
  if (state.hpa) return `${state.replicas} replicas (HPA ${state.hpa.minReplicas}..${state.hpa.maxReplicas})`;
  if (state.bounds) return `${state.replicas} replicas (min..max ${state.bounds.minReplicas}..${state.bounds.maxReplicas})`;
  return `${state.replicas} replicas`;
}

/** "3" or "? (computed by the runbook)" */
export function targetWords(run: Run): string {
  return run.target !== undefined ? `${run.target}` : run.runbook.direction === 'down' ? 'baseline' : 'auto';
}

export function summaryLine(run: Run): string {
  const from = run.plan ? `${run.plan.before.replicas} → ` : '';
  const verb = run.runbook.direction === 'down' ? 'Scale down' : 'Scale';
  return `${verb} *${plain(run.service.name)}* ${from}${targetWords(run)}${run.request.dryRun ? ' (dry run)' : ''} (run ${run.id}, requested by ${mention(run.request.requester)})`;
}

/** Whether the runbook changes the replicas itself (a `scale` step), or only through steps of their own. */
export function scalesReplicas(runbook: Runbook): boolean {
  return [...runbook.phases.execute, ...runbook.phases['scale-down']].some((s) => s.kind === 'action' && s.operation === 'scale');
}

/** What approving commits to: the scale plan (when the runbook scales) and every step plan that changes something. */
export function approvedChanges(run: Run): { summary: string; calls: string[] } | undefined {
  const steps = Object.values(run.stepPlans ?? {}).flatMap((e) => (e.plan?.changes ? [e.plan] : []));
  const parts = [...(run.plan && scalesReplicas(run.runbook) ? [run.plan] : []), ...steps];
  if (!parts.length) return undefined;
  return { summary: parts.map((p) => p.summary).join('; '), calls: parts.flatMap((p) => p.calls) };
}
