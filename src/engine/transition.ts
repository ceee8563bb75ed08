// The pure engine: `createRun` and `transition(run, event, now) -> { run, effects }`. No I/O, no
// clock, no platform types. It walks the runbook's phases in order (pre-scale, approve, execute,
// verify) and decides; the runner carries out the effects and feeds their results back as events.
import type { Actor, AuditRecord, RunEffect, RunEvent, TransitionResult } from './events.ts';
import { isActive, type Approval, type ProbeResult, type Run, type RunRequest, type ServiceSnapshot, type StepState } from './run.ts';
import { list, mention, mentionAny, plain } from './text.ts';
import { formatDuration } from '../workflows/duration.ts';
import type { ApprovalStep, Runbook, Step } from '../workflows/runbook-schema.ts';
import { evaluateRequestProbe } from './request-probes.ts';

export const ROLLBACK_STEP = '@rollback';
export const ROLLBACK_VERIFY_STEP = '@rollback-verify';

type Result = TransitionResult<Run>;

export interface CreateRunInput {
  id: string;
  now: number;
  service: ServiceSnapshot;
  runbook: Runbook;
  request: RunRequest;
}

export function approvalStep(runbook: Runbook): ApprovalStep {
  const step = runbook.phases.approve[0];
  if (!step || step.kind !== 'approval') throw new Error(`runbook ${runbook.name} has no approval step`);
  return step;
}

export function requiredApprovals(run: Run): number {
  return approvalStep(run.runbook).required ?? run.service.approvals.required;
}

export function stepsOf(runbook: Runbook): Step[] {
  return [...runbook.phases['pre-scale'], ...runbook.phases.approve, ...runbook.phases.execute, ...runbook.phases.verify];
}

export function createRun(input: CreateRunInput): Result {
  const { id, now, service, runbook, request } = input;
  const steps: Record<string, StepState> = {};
  const effects: RunEffect[] = [{ type: 'plan', attempt: 1, replicas: request.replicas }];
  for (const step of stepsOf(runbook)) {
    steps[step.id] = { status: 'pending', attempt: 0 };
  }
  let run: Run = {
    id,
    version: 0,
    createdAt: now,
    updatedAt: now,
    service,
    runbook,
    request,
    status: 'checking',
    steps,
    planAttempt: 1,
    evidenceRev: 1,
    approvals: [],
    rollbackApprovals: [],
    approvalExpiresAt: now + approvalStep(runbook).expires,
  };
  const issued = issueChecks(run, now);
  run = issued.run;
  effects.push(...issued.effects, { type: 'schedule', at: run.approvalExpiresAt, name: 'approval-expiry' });
  effects.push({
    type: 'audit',
    record: { type: 'request', user: request.requester, detail: `${service.name} to ${request.replicas} replicas${request.dryRun ? ' (dry run)' : ''}${request.reason ? `: ${request.reason}` : ''}` },
  });
  return settleChecks(run, effects, now);
}

/** (Re)issues every check: engine-evaluated ones are answered at once, the rest become probe effects. */
function issueChecks(run: Run, now: number): Result {
  const steps = { ...run.steps };
  const effects: RunEffect[] = [];
  for (const step of run.runbook.phases['pre-scale']) {
    if (step.kind !== 'check') continue;
    const previous = steps[step.id]!;
    const attempt = previous.attempt + 1;
    const local = evaluateRequestProbe(step.probe, run, now);
    if (local) {
      steps[step.id] = { ...previous, attempt, status: checkStatus(step.severity, local), result: local, at: now };
    } else {
      steps[step.id] = { ...previous, attempt, status: 'running', startedAt: now };
      effects.push({ type: 'probe', step: step.id, attempt, probe: step.probe, replicas: run.request.replicas });
    }
  }
  return { run: { ...run, steps }, effects };
}

function checkStatus(severity: 'block' | 'warn', result: ProbeResult): StepState['status'] {
  if (result.ok === true) return 'passed';
  if (severity === 'warn') return 'warned';
  return result.ok === false ? 'failed' : 'unmeasured';
}

export function transition(run: Run, event: RunEvent, now: number): Result {
  const result = apply(run, event, now);
  if (result.run === run) return result;
  const next = result.run;
  const effects = [...result.effects];
  const outcome = next.status !== run.status && (!isActive(next) || next.status === 'verify-failed');
  if (outcome) effects.push({ type: 'audit', record: { type: 'outcome', detail: `${next.status}${next.failure ? `: ${next.failure}` : next.ended?.reason ? `: ${next.ended.reason}` : ''}` } });
  return { run: { ...next, updatedAt: now }, effects };
}

function apply(run: Run, event: RunEvent, now: number): Result {
  switch (event.type) {
    case 'card-posted':
      return run.card ? same(run) : { run: { ...run, card: { channel: event.channel, ts: event.ts } }, effects: [] };
    case 'plan-ready':
    case 'plan-failed':
      return onPlan(run, event, now);
    case 'probe-result':
      return onProbeResult(run, event, now);
    case 'rerun-checks':
      return onRerun(run, event.actor, now);
    case 'ticks':
      return onTicks(run, event, now);
    case 'approve':
      return onApprove(run, event.actor, event.evidenceRev, now);
    case 'reject':
      return onReject(run, event.actor, event.reason, now);
    case 'cancel':
      return onCancel(run, event.actor, now);
    case 'close':
      return onClose(run, event.actor, now);
    case 'action-done':
    case 'action-failed':
      return onAction(run, event, now);
    case 'verify-passed':
    case 'verify-failed':
      return onVerify(run, event, now);
    case 'approve-rollback':
      return onApproveRollback(run, event.actor, now);
    case 'timer':
      return onExpiry(run, now);
    case 'resume':
      return onResume(run, event.by);
  }
}

const same = (run: Run, ...effects: RunEffect[]): Result => ({ run, effects });
const reply = (run: Run, user: string, text: string): Result => same(run, { type: 'reply', user, text });

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

function finished(run: Run, user: string): Result {
  return reply(run, user, `Run ${run.id} is ${describeStatus(run)}; nothing was changed by this click.`);
}

// ---------------------------------------------------------------------------------------------
// Pre-scale: plan and checks

function onPlan(run: Run, event: Extract<RunEvent, { type: 'plan-ready' | 'plan-failed' }>, now: number): Result {
  if (event.attempt !== run.planAttempt || (run.status !== 'checking' && run.status !== 'awaiting')) return same(run);
  if (event.type === 'plan-failed') {
    const changed = run.planError !== event.error || run.plan !== undefined;
    const next: Run = { ...run, plan: undefined, planError: event.error };
    return settleChecks(changed ? bumpEvidence(next, 'the plan could not be made') : next, [], now);
  }
  const plan = event.plan;
  if (!plan.changes) {
    const ended: Run = { ...run, plan, planError: undefined, status: 'unchanged', finishedAt: now, ended: { at: now } };
    return same(
      ended,
      { type: 'note', text: `Nothing to do: ${plain(run.service.targetLabel)} is already at ${plan.before.replicas} replicas${plan.before.hpa ? ` with HPA bounds ${plan.before.hpa.minReplicas}..${plan.before.hpa.maxReplicas}` : ''}.` },
      ...release(ended),
    );
  }
  const lowers = plan.expect.replicas < (plan.before.hpa?.minReplicas ?? plan.before.replicas);
  if (run.runbook.direction === 'up' && lowers) {
    const reason = `this would lower ${plain(run.service.targetLabel)} from ${formatState(plan.before)} to ${plan.expect.replicas}, and the ${run.runbook.name} runbook only raises capacity. Scale-downs go through a scale-down runbook, with its guard checks and gradual steps`;
    const ended: Run = { ...run, plan, planError: undefined, status: 'cancelled', finishedAt: now, ended: { at: now, reason } };
    return same(ended, { type: 'note', text: `:no_entry: Refused: ${reason}. Nothing was executed.` }, ...release(ended));
  }
  const changed = run.plan !== undefined && (run.plan.summary !== plan.summary || run.plan.calls.join() !== plan.calls.join());
  const next: Run = { ...run, plan, planError: undefined };
  return settleChecks(changed ? bumpEvidence(next, 'the plan changed') : next, [], now);
}

function onProbeResult(run: Run, event: Extract<RunEvent, { type: 'probe-result' }>, now: number): Result {
  const state = run.steps[event.step];
  const step = findStep(run.runbook, event.step);
  if (!state || !step || step.kind !== 'check' || state.attempt !== event.attempt || state.status !== 'running') return same(run);
  const previous = state.result;
  const status = checkStatus(step.severity, event.result);
  const next: Run = { ...run, steps: { ...run.steps, [event.step]: { ...state, status, result: event.result, at: now } } };
  const changed = previous !== undefined && (previous.ok !== event.result.ok || previous.summary !== event.result.summary);
  return settleChecks(changed ? bumpEvidence(next, `"${step.title}" changed`) : next, [], now);
}

/** Evidence changed: approvals given on the old evidence no longer count. */
function bumpEvidence(run: Run, why: string): Run & { resetNote?: string } {
  const reset = run.approvals.length > 0;
  return {
    ...run,
    evidenceRev: run.evidenceRev + 1,
    approvals: [],
    ...(reset ? { resetNote: `Approvals reset because ${why} since they were given.` } : {}),
  };
}

function checksRunning(run: Run): boolean {
  return run.runbook.phases['pre-scale'].some((s) => s.kind === 'check' && run.steps[s.id]?.status === 'running');
}

/** Once every check has answered and the plan is known, show the evidence and open the gate. */
function settleChecks(input: Run & { resetNote?: string }, effects: RunEffect[], now: number): Result {
  const { resetNote, ...run } = input;
  const out = [...effects];
  if (resetNote) out.push({ type: 'note', text: `:warning: ${resetNote}` });
  if (run.status !== 'checking') return proceed(run, out, now);
  if (checksRunning(run) || (run.plan === undefined && run.planError === undefined)) return same(run, ...out);
  const awaiting: Run = { ...run, status: 'awaiting' };
  out.push({ type: 'note', text: checksNote(awaiting) });
  return proceed(awaiting, out, now);
}

const CHECK_ICONS: Partial<Record<StepState['status'], string>> = {
  passed: ':white_check_mark:',
  warned: ':warning:',
  failed: ':x:',
  unmeasured: ':grey_question:',
};

export function checksNote(run: Run): string {
  const lines = ['*Pre-scale checks*'];
  for (const step of run.runbook.phases['pre-scale']) {
    if (step.kind !== 'check') continue;
    const state = run.steps[step.id]!;
    const result = state.result;
    lines.push(`${CHECK_ICONS[state.status] ?? ':hourglass:'} ${plain(step.title)}: ${result ? plain(result.summary) : 'no result'}${result ? ` _(${plain(result.source)})_` : ''}`);
    for (const detail of result?.details ?? []) lines.push(`      • ${plain(detail)}`);
  }
  if (run.plan) {
    lines.push(`*Plan:* ${plain(run.plan.summary)}`);
    if (run.plan.note) lines.push(`:information_source: ${plain(run.plan.note)}`);
  } else if (run.planError) {
    lines.push(`:x: *Plan:* could not be made: ${plain(run.planError)}`);
  }
  const blockers = blockingProblems(run);
  if (blockers.length) lines.push(`*Blocked:* ${blockers.map(plain).join('; ')}. Fix the cause and press *Re-run checks*.`);
  return lines.join('\n');
}

/** What stops approval: failed or unmeasured blocking checks, or no plan. */
export function blockingProblems(run: Run): string[] {
  const problems: string[] = [];
  for (const step of run.runbook.phases['pre-scale']) {
    if (step.kind !== 'check' || step.severity !== 'block') continue;
    const state = run.steps[step.id]!;
    if (state.status === 'failed') problems.push(`${step.title}: ${state.result?.summary ?? 'failed'}`);
    if (state.status === 'unmeasured') problems.push(`${step.title}: could not measure (${state.result?.summary ?? 'no answer'})`);
  }
  if (run.planError) problems.push(`the plan could not be made: ${run.planError}`);
  return problems;
}

export function openManualSteps(run: Run): Step[] {
  return run.runbook.phases['pre-scale'].filter((s) => s.kind === 'manual' && run.steps[s.id]?.status !== 'done');
}

function onRerun(run: Run, actor: Actor, now: number): Result {
  if (!isActive(run)) return finished(run, actor.user);
  if (run.status !== 'awaiting') {
    return reply(run, actor.user, run.status === 'checking' ? 'Checks are already running.' : `Run ${run.id} is ${describeStatus(run)}; checks can only be re-run before execution.`);
  }
  const issued = issueChecks({ ...run, status: 'checking', planAttempt: run.planAttempt + 1 }, now);
  return settleChecks(issued.run, [
    { type: 'note', text: `${mention(actor.user)} re-ran the pre-scale checks.` },
    { type: 'plan', attempt: run.planAttempt + 1, replicas: run.request.replicas },
    ...issued.effects,
  ], now);
}

// ---------------------------------------------------------------------------------------------
// Checklist and approvals

function onTicks(run: Run, event: Extract<RunEvent, { type: 'ticks' }>, now: number): Result {
  const user = event.actor.user;
  if (!isActive(run)) return finished(run, user);
  if (run.status !== 'checking' && run.status !== 'awaiting') {
    return reply(run, user, `The checklist is closed: run ${run.id} is ${describeStatus(run)}.`);
  }
  if (now >= run.approvalExpiresAt) return expire(run, now);
  const steps = { ...run.steps };
  const notes: string[] = [];
  const audits: AuditRecord[] = [];
  const refused: string[] = [];
  for (const { step: id, ticked } of event.changes) {
    const step = findStep(run.runbook, id);
    const state = steps[id];
    if (!step || step.kind !== 'manual' || !state) continue;
    if (ticked === (state.status === 'done')) continue;
    if (step.who && !event.allowed.includes(id)) {
      refused.push(`"${plain(step.title)}" can only be ticked by ${list(step.who.map(mentionAny))}`);
      continue;
    }
    steps[id] = ticked ? { ...state, status: 'done', by: user, at: now } : { ...state, status: 'pending', by: undefined, at: undefined };
    audits.push({ type: ticked ? 'tick' : 'untick', user, detail: step.title });
    notes.push(ticked ? `:ballot_box_with_check: ${mention(user)} ticked *${plain(step.title)}*` : `:white_large_square: ${mention(user)} unticked *${plain(step.title)}*`);
  }
  const effects: RunEffect[] = [...notes.map((text): RunEffect => ({ type: 'note', text })), ...audits.map((record): RunEffect => ({ type: 'audit', record }))];
  if (refused.length) effects.push({ type: 'reply', user, text: `Not ticked: ${refused.join('; ')}.` });
  if (!notes.length) return same(run, ...effects);
  return proceed({ ...run, steps }, effects, now);
}

function approverHint(run: Run): string {
  const approvers = run.service.approvals.approvers.filter((a) => a !== run.request.requester);
  return approvers.length ? `Approvers for ${plain(run.service.name)}: ${list(approvers.map(mentionAny))}.` : `No approvers are configured for ${plain(run.service.name)} in the catalog.`;
}

/** Why this person may not approve (or approve a rollback of) this run; undefined when they may. */
function approvalRefusal(run: Run, actor: Actor, given: Approval[], what: string): string | undefined {
  if (actor.user === run.request.requester) {
    return `You requested run ${run.id}, so you cannot approve ${what}: a second person must. ${approverHint(run)}`;
  }
  if (!actor.approver) return `You are not an approver for ${plain(run.service.name)}. ${approverHint(run)}`;
  if (given.some((a) => a.user === actor.user)) return `You have already approved ${what}.`;
  return undefined;
}

function onApprove(run: Run, actor: Actor, evidenceRev: number, now: number): Result {
  if (!isActive(run)) return finished(run, actor.user);
  if (run.status === 'checking') return reply(run, actor.user, 'The pre-scale checks are still running; approve once their evidence is on the card.');
  if (run.status !== 'awaiting') return reply(run, actor.user, `Run ${run.id} is ${describeStatus(run)}; approvals are closed.`);
  if (now >= run.approvalExpiresAt) {
    const expired = expire(run, now);
    return same(expired.run, ...expired.effects, { type: 'reply', user: actor.user, text: `Too late: run ${run.id}'s approval window had closed, so it expired and nothing was executed.` });
  }
  if (evidenceRev !== run.evidenceRev) {
    return reply(run, actor.user, 'The checks or the plan changed since this card was shown to you. Read the updated card, then approve again.');
  }
  const refusal = approvalRefusal(run, actor, run.approvals, 'this run');
  if (refusal) return reply(run, actor.user, refusal);
  const blockers = blockingProblems(run);
  if (blockers.length) {
    return reply(run, actor.user, `Cannot approve while blocked: ${blockers.map(plain).join('; ')}. Fix the cause and press Re-run checks.`);
  }
  const approvals = [...run.approvals, { user: actor.user, at: now, evidenceRev }];
  const required = requiredApprovals(run);
  return proceed({ ...run, approvals }, [
    { type: 'note', text: `:white_check_mark: Approved by ${mention(actor.user)} (${approvals.length}/${required}).` },
    { type: 'audit', record: { type: 'approval', user: actor.user, detail: `evidence revision ${evidenceRev}; plan: ${run.plan?.summary ?? 'none'}` } },
  ], now);
}

function onReject(run: Run, actor: Actor, reason: string | undefined, now: number): Result {
  if (!isActive(run)) return finished(run, actor.user);
  if (run.status !== 'checking' && run.status !== 'awaiting') {
    return reply(run, actor.user, `Run ${run.id} is ${describeStatus(run)}; it can no longer be rejected.`);
  }
  if (!actor.approver || actor.user === run.request.requester) {
    return reply(run, actor.user, actor.user === run.request.requester
      ? `You requested run ${run.id}; use Cancel to withdraw it.`
      : `You are not an approver for ${plain(run.service.name)}, so you cannot reject this run. ${approverHint(run)}`);
  }
  const ended: Run = { ...run, status: 'rejected', finishedAt: now, ended: { by: actor.user, at: now, reason } };
  const why = reason ? `: ${plain(reason)}` : '';
  return same(
    ended,
    { type: 'note', text: `:no_entry: Rejected by ${mention(actor.user)}${why}. Nothing was executed.` },
    { type: 'audit', record: { type: 'rejection', user: actor.user, detail: reason } },
    { type: 'announce', text: `:no_entry: ${summaryLine(ended)} was rejected by ${mention(actor.user)}${why}. Nothing was executed.` },
    ...release(ended),
  );
}

function onCancel(run: Run, actor: Actor, now: number): Result {
  if (!isActive(run)) return finished(run, actor.user);
  const isRequester = actor.user === run.request.requester;
  if (!isRequester && !actor.approver) {
    return reply(run, actor.user, `Only the requester (${mention(run.request.requester)}) or an approver can cancel run ${run.id}.`);
  }
  if (run.status === 'verify-failed') {
    return reply(run, actor.user, `Run ${run.id} has already executed and its verification failed: use *Roll back* or *Close without rollback* on the card.`);
  }
  if (run.status !== 'checking' && run.status !== 'awaiting') {
    return reply(run, actor.user, `Run ${run.id} is ${describeStatus(run)}: execution has begun, so it cannot be cancelled. Wait for verification; a failed one offers Roll back.`);
  }
  const ended: Run = { ...run, status: 'cancelled', finishedAt: now, ended: { by: actor.user, at: now } };
  return same(
    ended,
    { type: 'note', text: `:heavy_multiplication_x: Cancelled by ${mention(actor.user)}. Nothing was executed.` },
    { type: 'audit', record: { type: 'cancel', user: actor.user } },
    { type: 'announce', text: `:heavy_multiplication_x: ${summaryLine(ended)} was cancelled by ${mention(actor.user)}. Nothing was executed.` },
    ...release(ended),
  );
}

const PHASE_WORDS: Partial<Record<Run['status'], string>> = {
  checking: 'the pre-scale checks',
  awaiting: 'the wait for the checklist and approvals',
  executing: 'execution',
  verifying: 'verification',
  'rolling-back': 'the rollback',
};

/**
 * The replica that drove this run stopped. Re-issue whatever was in flight: checks and the plan
 * with their current attempt, the expiry timer, verifications with their original deadline. An
 * action that started but was not confirmed is reconciled against the target, never repeated blindly.
 */
function onResume(run: Run, by: string): Result {
  if (!isActive(run) || run.status === 'verify-failed') return same(run);
  const effects: RunEffect[] = [];
  if (run.status === 'checking' || run.status === 'awaiting') {
    if (run.status === 'checking' && !run.plan && !run.planError) effects.push({ type: 'plan', attempt: run.planAttempt, replicas: run.request.replicas });
    for (const step of run.runbook.phases['pre-scale']) {
      const state = run.steps[step.id]!;
      if (step.kind === 'check' && state.status === 'running') effects.push({ type: 'probe', step: step.id, attempt: state.attempt, probe: step.probe, replicas: run.request.replicas });
    }
    effects.push({ type: 'schedule', at: run.approvalExpiresAt, name: 'approval-expiry' });
  }
  for (const [id, state] of Object.entries(run.steps)) {
    if (state.status !== 'running') continue;
    const isAction = id === ROLLBACK_STEP || run.runbook.phases.execute.some((s) => s.id === id);
    if (isAction && state.key && run.plan) {
      effects.push({ type: 'reconcile', step: id, key: state.key, operation: id === ROLLBACK_STEP ? run.plan.undo : run.plan.operation });
    }
    const isVerify = id === ROLLBACK_VERIFY_STEP || run.runbook.phases.verify.some((s) => s.id === id);
    if (isVerify && state.deadline !== undefined && run.plan) {
      effects.push({ type: 'verify', step: id, attempt: state.attempt, probe: 'kubernetes.rollout', expect: id === ROLLBACK_VERIFY_STEP ? run.plan.undoExpect : run.plan.expect, deadline: state.deadline });
    }
  }
  const phase = PHASE_WORDS[run.status] ?? run.status;
  return same(
    { ...run, resumes: (run.resumes ?? 0) + 1 },
    { type: 'note', text: `:arrows_counterclockwise: The bot replica driving this run stopped during ${phase}; ${plain(by)} resumed it.` },
    { type: 'audit', record: { type: 'resume', detail: `during ${phase}, by ${by}` } },
    ...effects,
  );
}

function onClose(run: Run, actor: Actor, now: number): Result {
  if (!isActive(run)) return finished(run, actor.user);
  if (run.status !== 'verify-failed') return reply(run, actor.user, `Run ${run.id} is ${describeStatus(run)}; only a run whose verification failed can be closed without rollback.`);
  if (actor.user !== run.request.requester && !actor.approver) {
    return reply(run, actor.user, `Only the requester (${mention(run.request.requester)}) or an approver can close run ${run.id}.`);
  }
  const ended: Run = { ...run, status: 'failed', finishedAt: now, ended: { by: actor.user, at: now, reason: 'closed without rollback' } };
  return same(
    ended,
    { type: 'note', text: `${mention(actor.user)} closed the run without rolling back; ${plain(run.service.targetLabel)} is left as it is.` },
    { type: 'audit', record: { type: 'close', user: actor.user } },
    ...release(ended),
  );
}

function onExpiry(run: Run, now: number): Result {
  if (run.status !== 'checking' && run.status !== 'awaiting') return same(run);
  if (now < run.approvalExpiresAt) return same(run, { type: 'schedule', at: run.approvalExpiresAt, name: 'approval-expiry' });
  return expire(run, now);
}

/** What was still missing when the window closed, in words. */
function missingAtExpiry(run: Run): string {
  if (run.status === 'checking') return 'the pre-scale checks had not finished';
  const missing: string[] = [];
  const blockers = blockingProblems(run);
  if (blockers.length) missing.push(`it was blocked (${blockers.map(plain).join('; ')})`);
  const open = openManualSteps(run).length;
  if (open) missing.push(`${open} checklist item${open > 1 ? 's were' : ' was'} not ticked`);
  const approvals = requiredApprovals(run) - run.approvals.length;
  if (approvals > 0) missing.push(`${approvals} approval${approvals > 1 ? 's were' : ' was'} missing`);
  return missing.join(' and ') || 'it had not started';
}

/** The approval window has closed: end the run, executing nothing. */
function expire(run: Run, now: number): Result {
  const window = formatDuration(approvalStep(run.runbook).expires);
  const why = missingAtExpiry(run);
  const ended: Run = { ...run, status: 'expired', finishedAt: now, ended: { at: now, reason: `not ready within ${window}: ${why}` } };
  return same(
    ended,
    { type: 'note', text: `:hourglass: Expired after ${window}: ${why}. Nothing was executed; request again if it is still needed.` },
    { type: 'announce', text: `:hourglass: ${summaryLine(ended)} expired after ${window} (${why}). Nothing was executed.` },
    ...release(ended),
  );
}

// ---------------------------------------------------------------------------------------------
// Execute and verify

/** Starts execution when nothing stands in the way; otherwise leaves the run waiting. */
function proceed(run: Run, effects: RunEffect[], now: number): Result {
  if (run.status !== 'awaiting') return same(run, ...effects);
  if (now >= run.approvalExpiresAt) {
    const expired = expire(run, now);
    return same(expired.run, ...effects, ...expired.effects);
  }
  if (blockingProblems(run).length || !run.plan || openManualSteps(run).length) return same(run, ...effects);
  if (run.approvals.length < requiredApprovals(run)) return same(run, ...effects);
  const plan = run.plan;
  if (run.request.dryRun) {
    const ended: Run = { ...run, status: 'dry-run-complete', finishedAt: now, ended: { at: now } };
    return same(ended, ...effects, {
      type: 'note',
      text: [`:test_tube: *Dry run complete.* Checks, checklist and approvals are done. Nothing was executed. It would have run:`, ...plan.calls.map((c) => `• \`${plain(c)}\``)].join('\n'),
    }, ...release(ended));
  }
  const first = run.runbook.phases.execute[0]!;
  return startAction({ ...run, status: 'executing', executedAt: now }, first.id, effects, now);
}

function startAction(run: Run, stepId: string, effects: RunEffect[], now: number): Result {
  const state = run.steps[stepId]!;
  const key = `${run.id}/${stepId}`;
  const plan = run.plan!;
  return same(
    { ...run, steps: { ...run.steps, [stepId]: { ...state, status: 'running', key, startedAt: now, attempt: state.attempt + 1 } } },
    ...effects,
    { type: 'note', text: `:gear: Executing: ${plain(plan.summary)}` },
    { type: 'audit', record: { type: 'action-started', key, before: plan.before, detail: plan.calls.join('; ') } },
    { type: 'execute', step: stepId, key, operation: plan.operation },
  );
}

function onAction(run: Run, event: Extract<RunEvent, { type: 'action-done' | 'action-failed' }>, now: number): Result {
  const state = run.steps[event.step];
  if (!state || state.status !== 'running' || state.key !== event.key) return same(run);
  const rollback = event.step === ROLLBACK_STEP;
  if (event.type === 'action-failed') {
    const steps = { ...run.steps, [event.step]: { ...state, status: 'failed' as const, error: event.error, at: now } };
    const failure = rollback ? `rollback failed: ${event.error}` : event.error;
    const ended: Run = { ...run, steps, status: 'failed', failure, finishedAt: now, ended: { at: now } };
    return same(
      ended,
      { type: 'note', text: `:x: ${rollback ? 'Rollback failed' : 'Execution failed'}: ${plain(event.error)}` },
      { type: 'audit', record: { type: 'action-failed', key: event.key, detail: event.error } },
      { type: 'announce', text: `:x: ${summaryLine(ended)} ${rollback ? 'could not be rolled back' : 'failed'}: ${plain(event.error)}` },
      ...release(ended),
    );
  }
  const steps = { ...run.steps, [event.step]: { ...state, status: 'done' as const, at: now } };
  const changed = `${formatState(event.before)} → ${formatState(event.after)}`;
  const next: Run = { ...run, steps, after: event.after, before: rollback ? run.before : (run.before ?? event.before) };
  const note: RunEffect = { type: 'note', text: `:white_check_mark: ${rollback ? 'Rolled back' : 'Executed'}: ${changed} _(idempotency key ${event.key})_` };
  const audit: RunEffect = { type: 'audit', record: { type: 'action-done', key: event.key, before: event.before, after: event.after } };
  if (rollback) {
    return startVerify({ ...next, status: 'rolling-back' }, [{ id: ROLLBACK_VERIFY_STEP, timeout: rollbackTimeout(run) }], run.plan!.undoExpect, [note, audit], now);
  }
  const order = run.runbook.phases.execute;
  const index = order.findIndex((s) => s.id === event.step);
  const following = order[index + 1];
  if (following) return startAction(next, following.id, [note, audit], now);
  const verifySteps = run.runbook.phases.verify.flatMap((s) => (s.kind === 'verify' ? [{ id: s.id, timeout: s.timeout }] : []));
  if (!verifySteps.length) return succeed(next, [note, audit], now);
  return startVerify({ ...next, status: 'verifying' }, verifySteps, run.plan!.expect, [note, audit], now);
}

function rollbackTimeout(run: Run): number {
  const timeouts = run.runbook.phases.verify.flatMap((s) => (s.kind === 'verify' ? [s.timeout] : []));
  return timeouts.length ? Math.max(...timeouts) : 600_000;
}

function startVerify(run: Run, verifySteps: { id: string; timeout: number }[], expect: { replicas: number; atLeast: boolean }, effects: RunEffect[], now: number): Result {
  const steps = { ...run.steps };
  const out = [...effects];
  for (const { id, timeout } of verifySteps) {
    const state = steps[id] ?? { status: 'pending', attempt: 0 };
    const attempt = state.attempt + 1;
    const deadline = now + timeout;
    steps[id] = { ...state, status: 'running', attempt, startedAt: now, deadline };
    out.push({ type: 'verify', step: id, attempt, probe: 'kubernetes.rollout', expect, deadline });
  }
  return same({ ...run, steps }, ...out);
}

function onVerify(run: Run, event: Extract<RunEvent, { type: 'verify-passed' | 'verify-failed' }>, now: number): Result {
  const state = run.steps[event.step];
  if (!state || state.status !== 'running' || state.attempt !== event.attempt) return same(run);
  // A late answer must not rewrite a run that has moved on (failed, rolling back, finished).
  if (run.status !== (event.step === ROLLBACK_VERIFY_STEP ? 'rolling-back' : 'verifying')) return same(run);
  const passed = event.type === 'verify-passed';
  const steps = { ...run.steps, [event.step]: { ...state, status: passed ? ('passed' as const) : ('failed' as const), result: event.result, at: now } };
  const next: Run = { ...run, steps };
  const evidence = [plain(event.result.summary), ...(event.result.details ?? []).map((d) => `      • ${plain(d)}`)].join('\n');
  if (event.step === ROLLBACK_VERIFY_STEP) {
    if (passed) {
      const ended: Run = { ...next, status: 'rolled-back', finishedAt: now, ended: { at: now } };
      return same(
        ended,
        { type: 'note', text: `:leftwards_arrow_with_hook: Rollback verified: ${evidence}` },
        { type: 'announce', text: `:leftwards_arrow_with_hook: ${summaryLine(ended)} was rolled back after a failed verification: ${rollbackWords(run)}.` },
        ...release(ended),
      );
    }
    const ended: Run = { ...next, status: 'failed', failure: `rollback did not settle: ${event.result.summary}`, finishedAt: now, ended: { at: now } };
    return same(
      ended,
      { type: 'note', text: `:x: Rollback did not settle: ${evidence}` },
      { type: 'announce', text: `:x: ${summaryLine(ended)}: rollback did not settle: ${plain(event.result.summary)}. Someone needs to look.` },
      ...release(ended),
    );
  }
  if (!passed) {
    // The first failure decides; other verifications still running no longer count.
    for (const other of run.runbook.phases.verify) {
      if (other.id !== event.step && steps[other.id]?.status === 'running') steps[other.id] = { ...steps[other.id]!, status: 'skipped', at: now };
    }
    const step = findStep(run.runbook, event.step);
    const offerRollback = step?.kind === 'verify' && step['on-failure'] === 'offer-rollback';
    const failure = `verification failed: ${event.result.summary}`;
    if (!offerRollback) {
      const ended: Run = { ...next, status: 'failed', failure, finishedAt: now, ended: { at: now } };
      return same(
        ended,
        { type: 'note', text: `:x: Verification failed: ${evidence}` },
        { type: 'announce', text: `:x: ${summaryLine(ended)}: ${plain(failure)}` },
        ...release(ended),
      );
    }
    const stopped: Run = { ...next, status: 'verify-failed', failure };
    return same(
      stopped,
      { type: 'note', text: `:x: Verification failed: ${evidence}\nPress *Roll back* to return to ${formatState(run.plan!.before)} (needs ${requiredApprovals(run)} approval${requiredApprovals(run) > 1 ? 's' : ''} under the same policy), or *Close* to keep things as they are.` },
      { type: 'announce', text: `:x: ${summaryLine(stopped)}: ${plain(failure)}. Rollback is offered on the card.` },
    );
  }
  const verifying = run.runbook.phases.verify.some((s) => s.id !== event.step && steps[s.id]?.status === 'running');
  const note: RunEffect = { type: 'note', text: `:white_check_mark: Verified: ${evidence}` };
  if (verifying) return same(next, note);
  return succeed(next, [note], now);
}

function succeed(run: Run, effects: RunEffect[], now: number): Result {
  const ended: Run = { ...run, status: 'succeeded', finishedAt: now, ended: { at: now } };
  const took = formatDuration(now - (run.executedAt ?? run.createdAt));
  const approvers = run.approvals.map((a) => mention(a.user));
  return same(
    ended,
    ...effects,
    {
      type: 'announce',
      text: `:white_check_mark: ${plain(run.service.name)} scaled ${formatState(run.before ?? run.plan!.before)} → ${formatState(run.after ?? run.plan!.before)} and verified in ${took}. Requested by ${mention(run.request.requester)}${run.request.reason ? ` (${plain(run.request.reason)})` : ''}, approved by ${list(approvers)}.`,
    },
    ...release(ended),
  );
}

function onApproveRollback(run: Run, actor: Actor, now: number): Result {
  if (!isActive(run)) return finished(run, actor.user);
  if (run.status !== 'verify-failed') return reply(run, actor.user, `Run ${run.id} is ${describeStatus(run)}; there is nothing to roll back.`);
  const refusal = approvalRefusal(run, actor, run.rollbackApprovals, 'the rollback');
  if (refusal) return reply(run, actor.user, refusal);
  const rollbackApprovals = [...run.rollbackApprovals, { user: actor.user, at: now, evidenceRev: run.evidenceRev }];
  const required = requiredApprovals(run);
  const note: RunEffect = { type: 'note', text: `:leftwards_arrow_with_hook: Rollback approved by ${mention(actor.user)} (${rollbackApprovals.length}/${required}).` };
  const audit: RunEffect = { type: 'audit', record: { type: 'rollback-approval', user: actor.user } };
  if (rollbackApprovals.length < required) return same({ ...run, rollbackApprovals }, note, audit);
  const plan = run.plan!;
  const key = `${run.id}/rollback`;
  const steps = { ...run.steps, [ROLLBACK_STEP]: { status: 'running' as const, attempt: 1, key, startedAt: now } };
  return same(
    { ...run, rollbackApprovals, steps, status: 'rolling-back' },
    note,
    audit,
    { type: 'note', text: `:gear: Rolling back: ${rollbackWords(run)}` },
    { type: 'audit', record: { type: 'action-started', key, detail: `rollback: ${rollbackWords(run)}` } },
    { type: 'execute', step: ROLLBACK_STEP, key, operation: plan.undo },
  );
}

// ---------------------------------------------------------------------------------------------

function release(run: Run): RunEffect[] {
  return run.request.dryRun ? [] : [{ type: 'release-target' }];
}

export function findStep(runbook: Runbook, id: string): Step | undefined {
  return stepsOf(runbook).find((s) => s.id === id);
}

/** What a rollback restores: replicas, or an HPA's bounds (the HPA then decides the replicas). */
export function rollbackWords(run: Run): string {
  const before = run.plan!.before;
  return before.hpa ? `HPA ${plain(before.hpa.name)} bounds restored to ${before.hpa.minReplicas}..${before.hpa.maxReplicas}` : `back to ${before.replicas} replicas`;
}

export function formatState(state: { replicas: number; hpa?: { minReplicas: number; maxReplicas: number } }): string {
  return state.hpa ? `${state.replicas} replicas (HPA ${state.hpa.minReplicas}..${state.hpa.maxReplicas})` : `${state.replicas} replicas`;
}

export function summaryLine(run: Run): string {
  const from = run.plan ? `${run.plan.before.replicas} → ` : '';
  return `Scale *${plain(run.service.name)}* ${from}${run.request.replicas}${run.request.dryRun ? ' (dry run)' : ''} (run ${run.id}, requested by ${mention(run.request.requester)})`;
}
