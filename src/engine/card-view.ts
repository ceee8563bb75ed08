// The run card as a platform-neutral model: what a person sees and may press. The Slack adapter
// renders it to Block Kit; tests snapshot both.
import { blockingProblems, describeStatus, formatState, gradualPath, openManualSteps, requiredApprovals, rollbackWords, ROLLBACK_STEP, ROLLBACK_VERIFY_STEP } from './transition.ts';
import { approvedChanges, scalesReplicas, targetWords } from './common.ts';
import { currentOf } from './verdict.ts';
import { canScheduleScaleDown } from './follow-up.ts';
import { isActive, type Run, type StepState } from './run.ts';
import { list, mention, mentionAny, plain } from './text.ts';
import { formatDuration } from '../workflows/duration.ts';
import { PHASES, type PhaseName } from '../workflows/runbook-schema.ts';

export type Tone = 'progress' | 'waiting' | 'success' | 'failure' | 'neutral';
export type Intent = 'approve' | 'reject' | 'rerun' | 'cancel' | 'rollback' | 'close' | 'schedule-down' | 'cancel-down';

export interface CardItem {
  id: string;
  title: string;
  state: StepState['status'];
  /** One line of evidence or who/when. */
  detail?: string;
  lines?: string[];
}

export interface CardPhase {
  name: PhaseName | 'rollback';
  title: string;
  items: CardItem[];
  /** Manual steps, rendered as checkboxes while the checklist is open. */
  checklist?: { open: boolean; options: { id: string; title: string; ticked: boolean; by?: string; at?: number }[] };
}

export interface CardButton {
  intent: Intent;
  label: string;
  style?: 'primary' | 'danger';
  confirm?: { title: string; text: string; confirm: string };
}

export interface CardView {
  runId: string;
  /** Buttons carry it: an approval is bound to the evidence it was given on. */
  evidenceRev: number;
  title: string;
  status: { text: string; tone: Tone };
  facts: { label: string; value: string }[];
  plan?: { summary: string; note?: string; calls: string[] };
  phases: CardPhase[];
  buttons: CardButton[];
  /** Epoch ms, rendered in the reader's time zone. */
  approvalExpiresAt?: number;
  footer: string;
}

const TONES: Record<Run['status'], Tone> = {
  checking: 'progress',
  awaiting: 'waiting',
  executing: 'progress',
  verifying: 'progress',
  succeeded: 'success',
  'verify-failed': 'failure',
  'rolling-back': 'progress',
  'rolled-back': 'neutral',
  failed: 'failure',
  rejected: 'neutral',
  expired: 'neutral',
  cancelled: 'neutral',
  unchanged: 'neutral',
  'dry-run-complete': 'success',
};

const PHASE_TITLES: Record<PhaseName, string> = {
  'pre-scale': 'Pre-scale checks',
  approve: 'Approval',
  execute: 'Execute',
  'scale-down': 'Scale down, step by step',
  verify: 'Verify',
};

export function cardView(run: Run): CardView {
  const { service, request, plan } = run;
  const changes = approvedChanges(run);
  const current = plan ? `${plan.before.replicas}` : '?';
  const facts = [
    { label: 'Service', value: `${plain(service.name)}${service.description ? ` — ${plain(service.description)}` : ''}` },
    { label: 'Target', value: plain(service.targetLabel) },
    { label: 'Replicas', value: `${current} → *${targetWords(run)}*` },
    { label: 'Limits', value: `min ${service.limits.min} · baseline ${service.limits.baseline} · max ${service.limits.max}` },
    { label: 'Requested by', value: mention(request.requester) },
    { label: 'Reason', value: request.reason ? plain(request.reason) : '_none given_' },
  ];
  if (plan?.before.hpa) facts.push({ label: 'HPA', value: `${plain(plan.before.hpa.name)}: ${plan.before.hpa.minReplicas}..${plan.before.hpa.maxReplicas}` });
  if (request.dryRun) facts.push({ label: 'Mode', value: '*dry run* — nothing will be executed' });
  if (run.scaleDown) facts.push({ label: 'Scale-down', value: scaleDownFact(run.scaleDown) });

  const phases: CardPhase[] = PHASES.filter((name) => run.runbook.phases[name].length > 0).map((name) => phaseView(run, name));
  if (run.steps[ROLLBACK_STEP]) {
    phases.push({
      name: 'rollback',
      title: 'Rollback',
      items: [
        { id: ROLLBACK_STEP, title: plan ? capitalise(rollbackWords(run)) : 'Return to the previous state', state: run.steps[ROLLBACK_STEP]!.status, detail: run.steps[ROLLBACK_STEP]!.error ? plain(run.steps[ROLLBACK_STEP]!.error!) : undefined },
        ...(run.steps[ROLLBACK_VERIFY_STEP] ? [itemForVerify('Rollback settled', run.steps[ROLLBACK_VERIFY_STEP]!)] : []),
      ],
    });
  }

  return {
    runId: run.id,
    evidenceRev: run.evidenceRev,
    title: `${run.runbook.direction === 'down' ? 'Scale down' : 'Scale'} ${service.name}: ${current} → ${targetWords(run)}${request.dryRun ? ' (dry run)' : ''}`,
    status: { text: statusText(run), tone: TONES[run.status] },
    facts,
    plan: changes ? { summary: changes.summary, ...(scalesReplicas(run.runbook) && plan?.note ? { note: plan.note } : {}), calls: changes.calls } : undefined,
    phases,
    buttons: buttons(run),
    approvalExpiresAt: run.status === 'checking' || run.status === 'awaiting' ? run.approvalExpiresAt : undefined,
    footer: footer(run),
  };
}

function statusText(run: Run): string {
  const base = describeStatus(run);
  const word = capitalise(base);
  if (run.status === 'awaiting') {
    const waiting: string[] = [];
    const blockers = blockingProblems(run);
    if (blockers.length) return `Blocked: ${blockers.map(plain).join('; ')}`;
    const open = openManualSteps(run).length;
    if (open) waiting.push(`${open} checklist item${open > 1 ? 's' : ''}`);
    const missing = requiredApprovals(run) - run.approvals.length;
    if (missing > 0) waiting.push(`${missing} approval${missing > 1 ? 's' : ''}`);
    return `Waiting for ${waiting.join(' and ')}`;
  }
  if (run.status === 'succeeded' && run.executedAt !== undefined && run.finishedAt !== undefined) {
    return `Verified in ${formatDuration(run.finishedAt - run.executedAt)}`;
  }
  if (run.status === 'rolled-back' && run.plan) return `Rolled back after a failed verification: ${rollbackWords(run)}`;
  if (run.status === 'expired' && run.ended?.reason) return `Expired: ${run.ended.reason}; nothing was executed`;
  if (run.status === 'cancelled' && !run.ended?.by && run.ended?.reason) return `Refused: ${run.ended.reason}`;
  if (run.status === 'verify-failed' && run.failure) return `${capitalise(plain(run.failure))}. Roll back, or close and keep it as it is`;
  if (run.status === 'failed' && run.failure) return `Failed: ${plain(run.failure)}`;
  if (run.ended?.by && (run.status === 'rejected' || run.status === 'cancelled')) {
    return `${run.status === 'rejected' ? 'Rejected' : 'Cancelled'} by ${mention(run.ended.by)}${run.ended.reason ? `: ${plain(run.ended.reason)}` : ''}; nothing was executed`;
  }
  return word;
}

function phaseView(run: Run, name: PhaseName): CardPhase {
  const steps = run.runbook.phases[name];
  const items: CardItem[] = [];
  const options: NonNullable<CardPhase['checklist']>['options'] = [];
  for (const step of steps) {
    const state = run.steps[step.id]!;
    switch (step.kind) {
      case 'check':
        items.push({
          id: step.id,
          title: plain(step.title),
          state: state.status,
          detail: state.result ? `${plain(state.result.summary)}${state.status === 'warned' ? ' (warning only: does not block)' : ''}` : undefined,
          lines: state.result?.details?.map(plain),
        });
        break;
      case 'manual':
        options.push({ id: step.id, title: plain(step.title), ticked: state.status === 'done', by: state.by, at: state.at });
        break;
      case 'approval': {
        const required = requiredApprovals(run);
        const approvers = run.service.approvals.approvers;
        items.push({
          id: step.id,
          title: `${plain(step.title)} (${run.approvals.length}/${required})`,
          state: run.approvals.length >= required ? 'done' : 'pending',
          detail: run.approvals.length
            ? `Approved by ${list(run.approvals.map((a) => mention(a.user)))}`
            : `From ${approvers.length ? list(approvers.map(mentionAny)) : 'nobody (no approvers configured)'}; not the requester`,
        });
        if (run.rollbackApprovals.length) {
          items.push({ id: `${step.id}-rollback`, title: 'Rollback approvals', state: 'done', detail: `by ${list(run.rollbackApprovals.map((a) => mention(a.user)))}` });
        }
        break;
      }
      case 'action':
        items.push({
          id: step.id,
          title: plain(step.title),
          state: state.status,
          detail: state.error ? plain(state.error) : step.gradual ? gradualDetail(run, state) : step.operation !== 'scale' ? stepPlanDetail(run, step.id) : state.status === 'done' && run.after ? `now ${formatState(run.after)}` : run.plan ? plain(run.plan.summary) : undefined,
        });
        break;
      case 'verify':
        items.push({ ...itemForVerify(plain(step.title), state, step.id), ...(state.doing === 'waiting' && state.wakeAt ? { detail: `${state.result ? `${plain(state.result.summary)}; ` : ''}${countdown(state.wakeAt, run.updatedAt, state.result ? 'measuring again' : 'settling until')}` } : {}) });
        break;
      case 'wait':
        items.push({
          id: step.id,
          title: plain(step.title),
          state: state.status,
          detail: state.doing === 'waiting' && state.wakeAt ? `${state.result ? `${plain(state.result.summary)}; ` : ''}${countdown(state.wakeAt, run.updatedAt, step.duration !== undefined ? 'until' : 'measuring again')}` : state.result ? plain(state.result.summary) : step.duration !== undefined ? `wait ${formatDuration(step.duration)}` : `until ${plain(step.until!.pass.text)}, at most ${formatDuration(step.timeout!)}`,
        });
        break;
      case 'notify':
        items.push({ id: step.id, title: plain(step.title), state: state.status, detail: step.to === 'channel' ? 'posted in the channel' : 'posted in the thread' });
        break;
    }
  }
  const open = run.status === 'checking' || run.status === 'awaiting';
  return { name, title: PHASE_TITLES[name], items, ...(options.length ? { checklist: { open, options } } : {}) };
}

/** "until 14:32 (7m left at the last update)": Slack renders the time in the reader's zone. */
function countdown(at: number, now: number, words: string): string {
  return `${words} <!date^${Math.floor(at / 1000)}^{time}|${new Date(at).toISOString().slice(11, 16)} UTC> (${formatDuration(Math.max(0, at - now))} left at the last update)`;
}

function stepPlanDetail(run: Run, id: string): string | undefined {
  const entry = run.stepPlans?.[id];
  if (entry?.error) return `cannot be planned: ${plain(entry.error)}`;
  if (!entry?.plan) return run.status === 'checking' || run.status === 'awaiting' ? 'planned once the checks are in' : undefined;
  return `${plain(entry.plan.summary)}${entry.plan.changes ? '' : ' (nothing to change)'}${entry.plan.warning ? ` — :warning: ${plain(entry.plan.warning)}` : ''}`;
}

function gradualDetail(run: Run, state: StepState): string {
  const target = run.target;
  const before = run.plan?.before.replicas;
  const path = before !== undefined && target !== undefined ? [before, ...gradualPath(before, target)].join(' → ') : undefined;
  const now = currentOf(run);
  const parts = [path ? `path ${path}` : undefined, state.round ? `${state.round} step${state.round > 1 ? 's' : ''} done` : undefined, now !== undefined ? `now ${now}` : undefined];
  return parts.filter(Boolean).join(' · ');
}

function itemForVerify(title: string, state: StepState, id = ROLLBACK_VERIFY_STEP): CardItem {
  return {
    id,
    title,
    state: state.status,
    detail: state.result ? plain(state.result.summary) : state.status === 'running' && state.deadline ? 'following the rollout' : undefined,
    lines: state.result?.details?.map(plain),
  };
}

function buttons(run: Run): CardButton[] {
  switch (run.status) {
    case 'checking':
      return [{ intent: 'cancel', label: 'Cancel' }];
    case 'awaiting':
      return [
        {
          intent: 'approve',
          label: 'Approve',
          style: 'primary',
          confirm: {
            title: 'Approve this change?',
            text: approvedChanges(run) ? `${approvedChanges(run)!.summary}${run.request.dryRun ? ' (dry run: nothing will be executed)' : ''}` : 'Approve the requested change.',
            confirm: 'Approve',
          },
        },
        { intent: 'reject', label: 'Reject', style: 'danger' },
        { intent: 'rerun', label: 'Re-run checks' },
        { intent: 'cancel', label: 'Cancel' },
      ];
    case 'verify-failed':
      return [
        {
          intent: 'rollback',
          label: 'Roll back',
          style: 'danger',
          confirm: { title: 'Roll back?', text: run.plan ? `${capitalise(rollbackWords(run))}.` : 'Return to the previous state.', confirm: 'Roll back' },
        },
        { intent: 'close', label: 'Close without rollback' },
      ];
    case 'succeeded':
      if (run.scaleDown?.state === 'scheduled') return [{ intent: 'cancel-down', label: 'Cancel scheduled scale-down' }];
      if (!canScheduleScaleDown(run) || (run.scaleDown && run.scaleDown.state !== 'cancelled')) return [];
      return [
        {
          intent: 'schedule-down',
          label: 'Schedule scale-down',
          confirm: {
            title: 'Schedule the scale-down?',
            text: `A scale-down run to the baseline (${run.service.limits.baseline}) opens in ${formatDuration(run.service.scaleDownAfterMs ?? 2 * 3_600_000)}, with its guard checks, approvals and gradual steps.`,
            confirm: 'Schedule',
          },
        },
      ];
    default:
      return [];
  }
}

function scaleDownFact(plan: NonNullable<Run['scaleDown']>): string {
  const when = `<!date^${Math.floor(plan.at / 1000)}^{date_short_pretty} {time}|${new Date(plan.at).toISOString()}>`;
  switch (plan.state) {
    case 'scheduled':
      return `opens ${when}, scheduled by ${mention(plan.by)}`;
    case 'cancelled':
      return `cancelled by ${mention(plan.changedBy ?? plan.by)}`;
    case 'opened':
      return plan.runId ? `opened as run \`${plan.runId}\`` : 'opening';
    case 'failed':
      return `could not be opened: ${plain(plan.detail ?? '')}`;
  }
}

function footer(run: Run): string {
  const parts = [`Run \`${run.id}\``, `runbook \`${run.runbook.name}\``];
  if (!isActive(run) && run.finishedAt !== undefined) parts.push(`took ${formatDuration(run.finishedAt - run.createdAt)} in all`);
  return parts.join(' · ');
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
