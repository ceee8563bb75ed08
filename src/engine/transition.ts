// The pure engine: `createRun` and `transition(run, event, now) -> { run, effects }`. No I/O, no
// clock, no platform types. Before approval it gathers evidence (the plan and the pre-scale checks,
// in parallel) and the checklist and approvals; after approval sequence.ts walks the runbook's
// sequential phases. The runner carries out the effects and feeds their results back as events.
import type { Actor, AuditRecord, RunEffect, RunEvent } from './events.ts';
import { isActive, type ProbeResult, type Run, type RunRequest, type ServiceSnapshot, type StepState } from './run.ts';
import { list, mention, mentionAny, plain } from './text.ts';
import { formatDuration } from '../workflows/duration.ts';
import { referencedNames } from '../workflows/expression.ts';
import { scopeName } from '../workflows/probe-catalog.ts';
import type { CheckStep, Runbook, Step } from '../workflows/runbook-schema.ts';
import { evaluateLocalProbe } from './local-probes.ts';
import { computeTarget, judge, levelOf, targetOf } from './verdict.ts';
import { approvedChanges, scalesReplicas, approvalStep, describeStatus, findStep, formatState, release, reply, requiredApprovals, same, stepsOf, summaryLine, type Result } from './common.ts';
import { approvalRefusal, approverHint, finished } from './approvals.ts';
import { issueStepPlans, onStepPlan, stepPlanProblems, stepPlansReady } from './step-plans.ts';
import { onCancelScaleDown, onScaleDownDue, onScaleDownOpened, onScheduleScaleDown, SCALE_DOWN_TIMER } from './follow-up.ts';
import { notifyText, onActionResult, onApproveRollback, onRollout, onRoundPlan, onStepProbe, onWake, resumeSequence, startSequence, gradualPath } from './sequence.ts';

export { approvalStep, describeStatus, findStep, formatState, requiredApprovals, rollbackWords, stepsOf, summaryLine } from './common.ts';
export { ROLLBACK_STEP, ROLLBACK_VERIFY_STEP, gradualPath } from './sequence.ts';

export interface CreateRunInput {
  id: string;
  now: number;
  service: ServiceSnapshot;
  runbook: Runbook;
  request: RunRequest;
}

export function createRun(input: CreateRunInput): Result {
  const { id, now, service, runbook, request } = input;
  const steps: Record<string, StepState> = {};
  for (const step of stepsOf(runbook)) steps[step.id] = { status: 'pending', attempt: 0 };
  // A scale-down without a number heads for the baseline; a runbook formula decides once its inputs are measured.
  const target = request.replicas ?? (runbook.direction === 'down' && !runbook.target ? service.limits.baseline : undefined);
  let run: Run = {
    id,
    version: 0,
    createdAt: now,
    updatedAt: now,
    service,
    runbook,
    request,
    target,
    status: 'checking',
    steps,
    planAttempt: 1,
    evidenceRev: 1,
    approvals: [],
    rollbackApprovals: [],
    approvalExpiresAt: now + approvalStep(runbook).expires,
  };
  const effects: RunEffect[] = [];
  if (target === undefined && !runbook.target) {
    run = { ...run, planError: `no replica count was given and the ${runbook.name} runbook has no target formula; ask for a number, e.g. /scale ${service.name} ${service.limits.baseline + 1}` };
  }
  const issued = issueChecks(run, now);
  run = issued.run;
  effects.push(...issued.effects, { type: 'schedule', at: run.approvalExpiresAt, name: 'approval-expiry' });
  const what = `${service.name} ${runbook.direction === 'down' ? 'down ' : ''}to ${target ?? (runbook.target ? `the runbook's formula (${runbook.target.text})` : '?')} replicas`;
  effects.push({ type: 'audit', record: { type: 'request', user: request.requester, detail: `${what}${request.dryRun ? ' (dry run)' : ''}${request.reason ? `: ${request.reason}` : ''}` } });
  return settleChecks(run, effects, now);
}

/** Checks the target formula reads: measured first, before the target (and so the plan) is known. */
function formulaInputs(run: Run): Set<string> {
  const formula = run.runbook.target;
  if (!formula || run.request.replicas !== undefined) return new Set();
  return new Set(referencedNames(formula).map((n) => n.split('.')[0]!));
}

/**
 * (Re)issues the checks that can run now: engine-evaluated ones are answered at once, the rest
 * become probe effects; with the target known, the plan too. Until the target is known only the
 * target formula's inputs run.
 */
function issueChecks(run: Run, now: number, skip: ReadonlySet<string> = new Set()): Result {
  const steps = { ...run.steps };
  const effects: RunEffect[] = [];
  const target = targetOf(run);
  const inputs = formulaInputs(run);
  if (target !== undefined) effects.push({ type: 'plan', attempt: run.planAttempt, replicas: target });
  for (const step of run.runbook.phases['pre-scale']) {
    if (step.kind !== 'check') continue;
    if ((target === undefined && !inputs.has(scopeName(step.id))) || skip.has(scopeName(step.id))) continue;
    const previous = steps[step.id]!;
    const attempt = previous.attempt + 1;
    const local = evaluateLocalProbe(step.probe, run, now);
    if (local) {
      const result = judge(run, local, step.pass);
      steps[step.id] = { ...previous, attempt, status: checkStatus(step, result), result, at: now };
    } else {
      steps[step.id] = { ...previous, attempt, status: 'running', startedAt: now };
      effects.push({ type: 'probe', step: step.id, attempt, probe: step.probe, params: step.with ?? {}, replicas: target ?? 0 });
    }
  }
  return { run: { ...run, steps }, effects };
}

function checkStatus(step: CheckStep, result: ProbeResult): StepState['status'] {
  if (result.ok === true) return 'passed';
  const severity = result.ok === undefined ? (step['if-unmeasured'] ?? step.severity) : step.severity;
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
      return event.step ? onRoundPlan(run, event, now) : onPlan(run, event, now);
    case 'probe-result':
      return onProbeResult(run, event, now);
    case 'step-plan-ready':
    case 'step-plan-failed': {
      if (run.status !== 'checking' && run.status !== 'awaiting') return same(run);
      const stored = onStepPlan(run, event);
      if (!stored) return same(run);
      const step = findStep(run.runbook, event.step);
      const notes: RunEffect[] = [];
      if (!stepPlansReady(run) && stepPlansReady(stored.run)) {
        const lines = Object.entries(stored.run.stepPlans ?? {}).map(([id, e]) => `• *${plain(findStep(run.runbook, id)?.title ?? id)}:* ${plain(e.plan!.summary)}${e.plan!.changes ? '' : ' (nothing to change)'}${e.plan!.warning ? ` — :warning: ${plain(e.plan!.warning)}` : ''}`);
        notes.push({ type: 'note', text: ['*Also planned:*', ...lines].join('\n') });
      } else if (event.type === 'step-plan-failed') {
        notes.push({ type: 'note', text: `:x: *${plain(step?.title ?? event.step)}* could not be planned: ${plain(event.error)}. Fix the cause and press *Re-run checks*.` });
      }
      return settleChecks(stored.changed ? bumpEvidence(stored.run, `the plan of "${step?.title ?? event.step}" changed`) : stored.run, notes, now);
    }
    case 'database-done':
      return onActionResult(run, event, now);
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
      return onActionResult(run, event, now);
    case 'verify-passed':
    case 'verify-failed':
      return onRollout(run, event, now);
    case 'approve-rollback':
      return isActive(run) ? onApproveRollback(run, event.actor, now) : finished(run, event.actor.user);
    case 'timer':
      if (event.name === SCALE_DOWN_TIMER) return onScaleDownDue(run, now);
      return event.name === 'approval-expiry' ? onExpiry(run, now) : onWake(run, event.name, now);
    case 'schedule-scale-down':
      return onScheduleScaleDown(run, event.actor, now);
    case 'cancel-scale-down':
      return onCancelScaleDown(run, event.actor);
    case 'scale-down-opened':
      return onScaleDownOpened(run, event);
    case 'resume':
      return onResume(run, event.by);
  }
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
  let plan = event.plan;
  if (!plan.changes) {
    const ended: Run = { ...run, plan, planError: undefined, status: 'unchanged', finishedAt: now, ended: { at: now } };
    return same(
      ended,
      { type: 'note', text: `Nothing to do: ${plain(run.service.targetLabel)} is already at ${plan.before.replicas} replicas${plan.before.hpa ? ` with HPA bounds ${plan.before.hpa.minReplicas}..${plan.before.hpa.maxReplicas}` : ''}.` },
      ...release(ended),
    );
  }
  const from = levelOf(plan.before)!;
  const wrongWay =
    run.runbook.direction === 'up' && plan.expect.replicas < from
      ? `this would lower ${plain(run.service.targetLabel)} from ${formatState(plan.before)} to ${plan.expect.replicas}, and the ${run.runbook.name} runbook only raises capacity. Scale-downs go through a scale-down runbook (/scale down ${plain(run.service.name)}), with its guard checks and gradual steps`
      : run.runbook.direction === 'down' && plan.expect.replicas > from
        ? `this would raise ${plain(run.service.targetLabel)} from ${formatState(plan.before)} to ${plan.expect.replicas}, and the ${run.runbook.name} runbook only lowers capacity. Ask with /scale ${plain(run.service.name)} ${plan.expect.replicas} instead`
        : undefined;
  if (wrongWay) {
    const ended: Run = { ...run, plan, planError: undefined, status: 'cancelled', finishedAt: now, ended: { at: now, reason: wrongWay } };
    return same(ended, { type: 'note', text: `:no_entry: Refused: ${wrongWay}. Nothing was executed.` }, ...release(ended));
  }
  if (run.runbook.phases['scale-down'].length) {
    // The approved plan is the whole walk; each step is planned again from the real state when it comes.
    plan = { ...plan, summary: `${plan.summary}, gradually: ${[from, ...gradualPath(from, plan.expect.replicas)].join(' → ')}` };
  }
  const changed = run.plan !== undefined && (run.plan.summary !== plan.summary || run.plan.calls.join() !== plan.calls.join());
  const next: Run = { ...run, plan, planError: undefined };
  return settleChecks(changed ? bumpEvidence(next, 'the plan changed') : next, [], now);
}

function onProbeResult(run: Run, event: Extract<RunEvent, { type: 'probe-result' }>, now: number): Result {
  if (!run.runbook.phases['pre-scale'].some((s) => s.id === event.step)) return onStepProbe(run, event, now);
  const state = run.steps[event.step];
  const step = findStep(run.runbook, event.step);
  if (!state || !step || step.kind !== 'check' || state.attempt !== event.attempt || state.status !== 'running') return same(run);
  if (run.status !== 'checking' && run.status !== 'awaiting') return same(run);
  const previous = state.result;
  const result = judge(run, event.result, step.pass);
  const next: Run = { ...run, steps: { ...run.steps, [event.step]: { ...state, status: checkStatus(step, result), result, at: now } } };
  const changed = previous !== undefined && (previous.ok !== result.ok || previous.summary !== result.summary);
  return settleChecks(changed ? bumpEvidence(next, `"${step.title}" changed`) : next, [], now);
}

/** The target formula's inputs are measured: compute the target, then plan and run the other checks. */
function resolveTarget(run: Run, now: number): Result {
  const formula = run.runbook.target;
  if (targetOf(run) !== undefined || !formula || run.planError) return same(run);
  const inputs = formulaInputs(run);
  const stillRunning = run.runbook.phases['pre-scale'].some((s) => inputs.has(scopeName(s.id)) && run.steps[s.id]?.status === 'running');
  if (stillRunning) return same(run);
  const computed = computeTarget(run, formula);
  if (!computed.ok) return same({ ...run, planError: `the runbook's target formula could not be computed: ${computed.error}` });
  const { min, max } = run.service.limits;
  const replicas = Math.min(max, Math.max(min, computed.replicas));
  const clamped = replicas !== computed.replicas ? `, clamped to the catalog's limits ${min}..${max}` : '';
  // The formula's inputs were just measured; the rest run now, with the target known.
  const issued = issueChecks({ ...run, target: replicas }, now, inputs);
  return same(issued.run, { type: 'note', text: `:abacus: Target: ${replicas} replicas from the runbook's formula \`${plain(formula.text)}\` = ${computed.replicas}${clamped}.` }, ...issued.effects);
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
  const { resetNote, ...unresolved } = input;
  const out = [...effects];
  if (resetNote) out.push({ type: 'note', text: `:warning: ${resetNote}` });
  const resolved = resolveTarget(unresolved, now);
  const run = resolved.run;
  out.push(...resolved.effects);
  if (run.status !== 'checking') return proceed(run, out, now);
  if (checksRunning(run) || (run.plan === undefined && run.planError === undefined)) return same(run, ...out);
  const planned = issueStepPlans({ ...run, status: 'awaiting' });
  let awaiting: Run = planned.run;
  out.push({ type: 'note', text: checksNote(awaiting) }, ...planned.effects);
  // Pre-scale notify steps speak once the evidence (and so the target and current replicas) is known.
  for (const step of run.runbook.phases['pre-scale']) {
    if (step.kind !== 'notify' || awaiting.steps[step.id]?.status !== 'pending') continue;
    awaiting = { ...awaiting, steps: { ...awaiting.steps, [step.id]: { status: 'done', attempt: 1, at: now } } };
    const text = notifyText(awaiting, step.text, step.mention);
    out.push(step.to === 'channel' ? { type: 'announce', text } : { type: 'note', text });
  }
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
  if (run.plan && scalesReplicas(run.runbook)) {
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
    if (step.kind !== 'check') continue;
    const state = run.steps[step.id]!;
    if (state.status === 'failed') problems.push(`${step.title}: ${state.result?.summary ?? 'failed'}`);
    if (state.status === 'unmeasured') problems.push(`${step.title}: could not measure (${state.result?.summary ?? 'no answer'})`);
  }
  if (run.planError) problems.push(`the plan could not be made: ${run.planError}`);
  problems.push(...stepPlanProblems(run));
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
  // A computed target is computed again from the new measurements.
  const recompute = run.request.replicas === undefined && run.runbook.target !== undefined;
  const fresh: Run = { ...run, status: 'checking', planAttempt: run.planAttempt + 1, ...(recompute ? { target: undefined, planError: undefined } : {}) };
  const issued = issueChecks(fresh, now);
  return settleChecks(issued.run, [{ type: 'note', text: `${mention(actor.user)} re-ran the pre-scale checks.` }, ...issued.effects], now);
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
    const target = targetOf(run);
    if (run.status === 'checking' && target !== undefined && !run.plan && !run.planError) effects.push({ type: 'plan', attempt: run.planAttempt, replicas: target });
    for (const step of run.runbook.phases['pre-scale']) {
      const state = run.steps[step.id]!;
      if (step.kind === 'check' && state.status === 'running') effects.push({ type: 'probe', step: step.id, attempt: state.attempt, probe: step.probe, params: step.with ?? {}, replicas: target ?? 0 });
    }
    effects.push({ type: 'schedule', at: run.approvalExpiresAt, name: 'approval-expiry' });
  }
  effects.push(...resumeSequence(run));
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

/** Starts execution when nothing stands in the way; otherwise leaves the run waiting. */
function proceed(run: Run, effects: RunEffect[], now: number): Result {
  if (run.status !== 'awaiting') return same(run, ...effects);
  if (now >= run.approvalExpiresAt) {
    const expired = expire(run, now);
    return same(expired.run, ...effects, ...expired.effects);
  }
  if (blockingProblems(run).length || !run.plan || !stepPlansReady(run) || openManualSteps(run).length) return same(run, ...effects);
  if (run.approvals.length < requiredApprovals(run)) return same(run, ...effects);
  const plan = run.plan;
  if (run.request.dryRun) {
    const ended: Run = { ...run, status: 'dry-run-complete', finishedAt: now, ended: { at: now } };
    return same(ended, ...effects, {
      type: 'note',
      text: [`:test_tube: *Dry run complete.* Checks, checklist and approvals are done. Nothing was executed. It would have run:`, ...(approvedChanges(run)?.calls ?? plan.calls).map((c) => `• \`${plain(c)}\``)].join('\n'),
    }, ...release(ended));
  }
  return startSequence(run, effects, now);
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

