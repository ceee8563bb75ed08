// After approval the runbook's phases run one step at a time: execute (or the rounds of a gradual
// scale-down), then verify. Each step starts, does its one thing through an effect (an action, a
// timer, a measurement, a message) and, when its answer comes back, the cursor moves on. A failure
// follows the runbook's on-failure: offer a rollback, roll back, or stop and alert.
import type { RunEffect, RunEvent } from './events.ts';
import type { Plan, ProbeResult, Run, StepPlan, StepState, TargetState } from './run.ts';
import { currentLevel, currentOf, judge, levelOf, targetOf } from './verdict.ts';
import { formatState, release, reply, requiredApprovals, rollbackWords, same, summaryLine, describeStatus, type Result } from './common.ts';
import { approvalRefusal, finished } from './approvals.ts';
import { list, mention, mentionAny, plain } from './text.ts';
import { formatDuration } from '../workflows/duration.ts';
import type { Actor } from './events.ts';
import type { ActionStep, OnFailure, SequentialPhase, Step } from '../workflows/runbook-schema.ts';

export const ROLLBACK_STEP = '@rollback';
export const ROLLBACK_VERIFY_STEP = '@rollback-verify';
/** A gradual scale-down stops after this many rounds, whatever happens (halving reaches any target sooner). */
const MAX_ROUNDS = 40;

export const wakeName = (step: string, attempt: number): string => `wake:${step}:${attempt}`;

/** Halfway from current to target, at least one replica closer. */
export function nextRound(current: number, target: number): number {
  const next = target + Math.floor((current - target) / 2);
  return next >= current ? target : next;
}

/** Every round of a gradual walk from `current` to `target`: 10 → 3 gives [6, 4, 3]. */
export function gradualPath(current: number, target: number): number[] {
  const path: number[] = [];
  for (let at = current; at > target && path.length < MAX_ROUNDS; ) {
    at = nextRound(at, target);
    path.push(at);
  }
  return path;
}

const phaseSteps = (run: Run, phase: SequentialPhase): Step[] => run.runbook.phases[phase];

function cursorStep(run: Run): Step | undefined {
  return run.cursor ? phaseSteps(run, run.cursor.phase)[run.cursor.index] : undefined;
}

/** The sequential step a probe answer, timer or action result is for, when it is the current one. */
function current(run: Run, stepId: string): { step: Step; state: StepState } | undefined {
  const step = cursorStep(run);
  const state = run.steps[stepId];
  if (!step || step.id !== stepId || !state || state.status !== 'running') return undefined;
  return { step, state };
}

function withStep(run: Run, id: string, state: StepState): Run {
  return { ...run, steps: { ...run.steps, [id]: state } };
}

function probeEffect(run: Run, step: Step, attempt: number): RunEffect {
  const probe = step.kind === 'wait' ? step.until!.probe : step.kind === 'check' || step.kind === 'verify' ? step.probe : '';
  const params = step.kind === 'wait' ? (step.until!.with ?? {}) : step.kind === 'check' || step.kind === 'verify' ? (step.with ?? {}) : {};
  return { type: 'probe', step: step.id, attempt, probe, params, replicas: targetOf(run) ?? currentOf(run) ?? 0 };
}

/** Approval is complete: start the first sequential phase. */
export function startSequence(run: Run, effects: RunEffect[], now: number): Result {
  const first: SequentialPhase = run.runbook.phases['scale-down'].length ? 'scale-down' : 'execute';
  return startAt({ ...run, status: 'executing', executedAt: now, cursor: { phase: first, index: 0, round: 0 } }, effects, now);
}

/** Starts the step under the cursor, or finishes the phase. */
function startAt(run: Run, effects: RunEffect[], now: number): Result {
  const step = cursorStep(run);
  if (!step) return phaseDone(run, effects, now);
  const previous = run.steps[step.id] ?? { status: 'pending', attempt: 0 };
  const attempt = previous.attempt + 1;
  const fresh: StepState = { status: 'running', attempt, startedAt: now, round: previous.round };
  const status = run.cursor!.phase === 'verify' ? 'verifying' : 'executing';
  const at = { ...run, status } as Run;
  switch (step.kind) {
    case 'action':
      if (step.gradual) return startRound(at, step, fresh, effects, now);
      return step.operation === 'scale' ? startAction(at, step.id, fresh, rebaseScalePlan(run), effects) : startStepAction(at, step, fresh, effects, now);
    case 'wait': {
      if (step.duration !== undefined) {
        const wakeAt = now + step.duration;
        return same(
          withStep(at, step.id, { ...fresh, doing: 'waiting', wakeAt }),
          ...effects,
          { type: 'note', text: `:hourglass_flowing_sand: ${plain(step.title)}: waiting ${formatDuration(step.duration)}, until <!date^${Math.floor(wakeAt / 1000)}^{time}|${new Date(wakeAt).toISOString()}>.` },
          { type: 'schedule', at: wakeAt, name: wakeName(step.id, attempt) },
        );
      }
      const deadline = now + step.timeout!;
      return same(withStep(at, step.id, { ...fresh, doing: 'measuring', deadline }), ...effects, probeEffect(at, step, attempt));
    }
    case 'verify': {
      const deadline = now + step.settle + step.timeout;
      if (step.settle > 0) {
        const wakeAt = now + step.settle;
        return same(
          withStep(at, step.id, { ...fresh, doing: 'waiting', wakeAt, deadline }),
          ...effects,
          { type: 'note', text: `:hourglass_flowing_sand: ${plain(step.title)}: letting it settle for ${formatDuration(step.settle)} before measuring.` },
          { type: 'schedule', at: wakeAt, name: wakeName(step.id, attempt) },
        );
      }
      return measure(withStep(at, step.id, { ...fresh, deadline }), step, effects);
    }
    case 'check':
      return same(withStep(at, step.id, { ...fresh, doing: 'measuring' }), ...effects, probeEffect(at, step, attempt));
    case 'notify': {
      const text = notifyText(run, step.text, step.mention);
      const done = withStep(at, step.id, { ...fresh, status: 'done', at: now });
      return advance(done, [...effects, step.to === 'channel' ? { type: 'announce', text } : { type: 'note', text }], now);
    }
    default:
      return advance(run, effects, now);
  }
}

/** Starts a measurement of a verify step: a rollout is followed; anything else is measured once. */
function measure(run: Run, step: Step, effects: RunEffect[]): Result {
  const state = run.steps[step.id]!;
  const measuring = withStep(run, step.id, { ...state, doing: 'measuring', wakeAt: undefined });
  if (step.kind === 'verify' && step.probe === 'kubernetes.rollout') {
    return same(measuring, ...effects, { type: 'verify', step: step.id, attempt: state.attempt, expect: rolloutExpectation(run), deadline: state.deadline! });
  }
  return same(measuring, ...effects, probeEffect(run, step, state.attempt));
}

/** What the rollout should reach: the plan's expectation, or a gradual walk's target. */
function rolloutExpectation(run: Run): { replicas: number; atLeast: boolean } {
  if (run.runbook.phases['scale-down'].length && run.after) return { replicas: run.after.hpa ? run.after.hpa.minReplicas : run.after.replicas, atLeast: !!run.after.hpa };
  return run.plan!.expect;
}

export function notifyText(run: Run, template: string, mentions: string[] | undefined): string {
  const values: Record<string, string> = {
    service: plain(run.service.name),
    replicas: `${targetOf(run) ?? '?'}`,
    current: `${currentOf(run) ?? '?'}`,
    requester: mention(run.request.requester),
    run: run.id,
  };
  const text = plain(template).replace(/\{(service|replicas|current|requester|run)\}/g, (_, name: string) => values[name]!);
  return mentions?.length ? `${list(mentions.map(mentionAny))} ${text}` : text;
}

function startAction(run: Run, stepId: string, fresh: StepState, plan: Plan, effects: RunEffect[], round?: number): Result {
  const key = round === undefined ? `${run.id}/${stepId}` : `${run.id}/${stepId}/round-${round}`;
  return same(
    withStep(run, stepId, { ...fresh, doing: 'acting', key, plan: round === undefined ? undefined : plan }),
    ...effects,
    { type: 'note', text: `:gear: Executing${round === undefined ? '' : ` step ${round}`}: ${plain(plan.summary)}` },
    { type: 'audit', record: { type: 'action-started', key, before: plan.before, detail: plan.calls.join('; ') } },
    { type: 'execute', step: stepId, key, operation: plan.operation },
  );
}

/** The run's scale plan, when an earlier step of this run moved the same HPA's bounds: from what it left. */
function rebaseScalePlan(run: Run): Plan {
  const plan = run.plan!;
  const left = run.after?.hpa;
  const op = plan.operation;
  if (!left || op.type !== 'set-hpa-bounds' || op.hpa !== left.name || !op.from) return plan;
  if (op.from.minReplicas === left.minReplicas && op.from.maxReplicas === left.maxReplicas) return plan;
  const max = Math.max(left.maxReplicas, op.minReplicas);
  return { ...plan, operation: { ...op, maxReplicas: max, from: { minReplicas: left.minReplicas, maxReplicas: left.maxReplicas } } };
}

/** An action with a plan of its own (HPA bounds or policy, a database change), approved with the run. */
function startStepAction(run: Run, step: ActionStep, fresh: StepState, effects: RunEffect[], now: number): Result {
  const planned = run.stepPlans?.[step.id]?.plan;
  const plan = planned ? rebaseStepPlan(run, step, planned) : undefined;
  if (plan && plan !== planned) run = { ...run, stepPlans: { ...run.stepPlans, [step.id]: { ...run.stepPlans![step.id]!, plan } } };
  if (!plan) return stop(withStep(run, step.id, fresh), `${step.title}: its plan is missing`, now, effects);
  if (!plan.changes) {
    return advance(withStep(run, step.id, { ...fresh, status: 'done', at: now }), [...effects, { type: 'note', text: `:white_check_mark: ${plain(step.title)}: nothing to change (${plain(plan.summary)})` }], now);
  }
  const key = `${run.id}/${step.id}`;
  const change = plan.change;
  return same(
    withStep(run, step.id, { ...fresh, doing: 'acting', key }),
    ...effects,
    { type: 'note', text: `:gear: Executing: ${plain(plan.summary)}${plan.warning ? `\n:warning: ${plain(plan.warning)}` : ''}` },
    { type: 'audit', record: { type: 'action-started', key, detail: plan.calls.join('; ') } },
    change.kind === 'target'
      ? { type: 'execute', step: step.id, key, operation: change.operation }
      : { type: 'execute-database', step: step.id, key, database: change.database, operation: change.operation },
  );
}

/**
 * An HPA change planned before approval, after this run's own earlier step changed the same HPA
 * (a scale step raises its floor): start from the state the run left, keep what the step leaves
 * alone, and undo back to that state. A change by anyone else is still refused by the adapter.
 */
function rebaseStepPlan(run: Run, step: ActionStep, plan: StepPlan): StepPlan {
  const left = run.after?.hpa;
  const change = plan.change;
  if (!left || change.kind !== 'target' || change.operation.type !== 'set-hpa-bounds' || change.operation.hpa !== left.name) return plan;
  const op = change.operation;
  if (op.from && op.from.minReplicas === left.minReplicas && op.from.maxReplicas === left.maxReplicas) return plan;
  const min = step.min ? op.minReplicas : left.minReplicas;
  const max = Math.max(step.max ? (op.maxReplicas ?? left.maxReplicas) : left.maxReplicas, min);
  const from = { minReplicas: left.minReplicas, maxReplicas: left.maxReplicas };
  return {
    ...plan,
    summary: `${plan.summary.replace(/bounds \d+\.\.\d+ → \d+\.\.\d+/, `bounds ${from.minReplicas}..${from.maxReplicas} → ${min}..${max}`)} (from the bounds this run's earlier step left)`,
    changes: min !== from.minReplicas || max !== from.maxReplicas,
    change: { kind: 'target', operation: { ...op, minReplicas: min, maxReplicas: max, from }, undo: { type: 'set-hpa-bounds', hpa: op.hpa, minReplicas: from.minReplicas, maxReplicas: from.maxReplicas, from: { minReplicas: min, maxReplicas: max } } },
  };
}

/** A round of a gradual scale-down: plan the next count (halfway to the target) from the real state. */
function startRound(run: Run, step: ActionStep, fresh: StepState, effects: RunEffect[], now: number): Result {
  const at = currentLevel(run);
  const target = targetOf(run);
  if (at === undefined || target === undefined || at <= target) return advance(withStep(run, step.id, { ...fresh, status: 'done', at: now }), effects, now);
  const next = nextRound(at, target);
  return same(withStep(run, step.id, { ...fresh, doing: 'planning' }), ...effects, { type: 'plan', attempt: fresh.attempt, replicas: next, step: step.id });
}

export function onRoundPlan(run: Run, event: Extract<RunEvent, { type: 'plan-ready' | 'plan-failed' }>, now: number): Result {
  const found = current(run, event.step!);
  if (!found || found.state.doing !== 'planning' || found.state.attempt !== event.attempt || found.step.kind !== 'action') return same(run);
  const round = (found.state.round ?? 0) + 1;
  if (event.type === 'plan-failed') return stop(run, `step ${round} could not be planned: ${event.error}`, now);
  const plan = event.plan;
  const before = levelOf(plan.before)!;
  if (plan.expect.replicas > before) {
    return stop(run, `step ${round} would raise ${plain(run.service.targetLabel)} from ${formatState(plan.before)} to ${plan.expect.replicas}: it changed since the last step`, now);
  }
  if (!plan.changes) return advance(withStep(run, found.step.id, { ...found.state, status: 'done', round, at: now, doing: undefined }), [], now);
  return startAction(run, found.step.id, { ...found.state, round }, plan, [], round);
}

/** The action steps that changed something so far (their own words), in the order they ran. */
function changedSoFar(run: Run, except?: string): { step: ActionStep; change: RollbackChange | undefined; words: string }[] {
  const out: { step: ActionStep; change: RollbackChange | undefined; words: string }[] = [];
  for (const phase of ['execute', 'scale-down'] as const) {
    for (const step of run.runbook.phases[phase]) {
      if (step.kind !== 'action' || step.id === except || run.steps[step.id]?.status !== 'done') continue;
      if (step.operation === 'scale') {
        if (step.gradual || !run.plan) continue;
        out.push({ step, change: { kind: 'target', operation: run.plan.undo }, words: plain(run.plan.summary) });
        continue;
      }
      const plan = run.stepPlans?.[step.id]?.plan;
      if (!plan?.changes) continue;
      const undo = plan.change.kind === 'target'
        ? (plan.change.undo ? { kind: 'target' as const, operation: plan.change.undo } : undefined)
        : (plan.change.undo ? { kind: 'database' as const, database: plan.change.database, operation: plan.change.undo } : undefined);
      out.push({ step, change: undo, words: plain(plan.summary) });
    }
  }
  return out;
}

type RollbackChange = NonNullable<Run['rollback']>['items'][number]['change'];

export function onActionResult(run: Run, event: Extract<RunEvent, { type: 'action-done' | 'action-failed' | 'database-done' }>, now: number): Result {
  const state = run.steps[event.step];
  if (!state || state.status !== 'running' || state.key !== event.key) return same(run);
  const rollback = event.step === ROLLBACK_STEP;
  if (event.type === 'action-failed') {
    const steps = { ...run.steps, [event.step]: { ...state, status: 'failed' as const, error: event.error, at: now, doing: undefined } };
    const failedRun: Run = { ...run, steps };
    const changed = rollback ? [] : changedSoFar(run, event.step);
    if (changed.length) return partialFailure(failedRun, event.step, event.error, changed, now);
    const failure = rollback ? `rollback failed: ${event.error}` : event.error;
    const ended: Run = { ...failedRun, status: 'failed', failure, finishedAt: now, ended: { at: now } };
    return same(
      ended,
      { type: 'note', text: `:x: ${rollback ? 'Rollback failed' : 'Execution failed'}: ${plain(event.error)}` },
      { type: 'audit', record: { type: 'action-failed', key: event.key, detail: event.error } },
      { type: 'announce', text: `:x: ${summaryLine(ended)} ${rollback ? 'could not be rolled back' : 'failed'}${afterWords(run)}: ${plain(event.error)}${alertWords(run)}` },
      ...release(ended),
    );
  }
  const steps = { ...run.steps, [event.step]: { ...state, status: 'done' as const, at: now, doing: undefined } };
  if (event.type === 'database-done') {
    const databases = { ...(run.databases ?? {}), [event.database]: { before: run.databases?.[event.database]?.before ?? event.before, after: event.after } };
    const next: Run = { ...run, steps, databases };
    const note: RunEffect = { type: 'note', text: `:white_check_mark: ${rollback ? 'Rolled back' : 'Executed'}: ${formatDatabase(event.before)} → ${formatDatabase(event.after)} _(idempotency key ${event.key})_` };
    const audit: RunEffect = { type: 'audit', record: { type: 'action-done', key: event.key, before: event.before, after: event.after } };
    return rollback ? nextRollbackItem(next, [note, audit], now) : advance(next, [note, audit], now);
  }
  const changed = `${formatState(event.before)} → ${formatState(event.after)}`;
  const next: Run = { ...run, steps, after: afterOf(run, event.step, event.after), before: rollback ? run.before : (run.before ?? event.before) };
  const round = state.plan ? ` (step ${state.round})` : '';
  const note: RunEffect = { type: 'note', text: `:white_check_mark: ${rollback ? 'Rolled back' : 'Executed'}${round}: ${changed} _(idempotency key ${event.key})_` };
  const audit: RunEffect = { type: 'audit', record: { type: 'action-done', key: event.key, before: event.before, after: event.after } };
  if (rollback) return nextRollbackItem(next, [note, audit], now);
  return advance(next, [note, audit], now);
}

/**
 * The target's state after an action, as the run reports it: an HPA policy change does not move the
 * replicas (its read of the HPA's current replicas may lag the rollout), so it keeps what the last
 * scaling step left, with the policy noted.
 */
function afterOf(run: Run, stepId: string, after: TargetState): TargetState {
  const step = run.runbook.phases.execute.find((s) => s.id === stepId);
  if (step?.kind === 'action' && step.operation === 'hpa-scale-down' && run.after) {
    return { ...run.after, ...(run.after.hpa && after.hpa ? { hpa: { ...run.after.hpa, scaleDownDisabled: after.hpa.scaleDownDisabled } } : {}) };
  }
  if (step?.kind === 'action' && step.operation === 'hpa-bounds' && run.after) return { ...after, replicas: Math.max(after.replicas, run.after.replicas) };
  return after;
}

function formatDatabase(state: { id: string; capacity?: { min: number; max: number }; members: { role: string }[] }): string {
  const readers = state.members.filter((m) => m.role === 'reader').length;
  return `${plain(state.id)}${state.capacity ? ` ${state.capacity.min}..${state.capacity.max} ACU` : ''}, ${readers} reader${readers === 1 ? '' : 's'}`;
}

/** An action failed after others had changed things: say what changed and what did not, then follow on-failure. */
function partialFailure(run: Run, stepId: string, error: string, changed: ReturnType<typeof changedSoFar>, now: number): Result {
  const failedStep = run.runbook.phases.execute.find((s) => s.id === stepId);
  const notRun = run.runbook.phases.execute.filter((s) => s.kind === 'action' && run.steps[s.id]?.status === 'pending').map((s) => s.title);
  const failure = `${failedStep?.title ?? stepId} failed: ${error}`;
  const report = [
    `:x: *Partly executed.* ${plain(failure)}`,
    `Changed: ${changed.map((c) => c.words).join('; ')}.`,
    `Not changed: ${[failedStep?.title ?? stepId, ...notRun].map(plain).join('; ')}.`,
  ].join('\n');
  const policy = run.runbook['on-failure'];
  if (policy === 'stop') return stop(run, `${failure} (after changing: ${changed.map((c) => c.words).join('; ')})`, now, [{ type: 'note', text: report }]);
  if (policy === 'rollback') {
    const started = beginRollback({ ...run, failure }, now);
    return same(started.run, { type: 'note', text: report }, { type: 'announce', text: `:x: ${summaryLine(run)} partly failed: ${plain(failure)}. Rolling back what changed, as the runbook says.${alertWords(run)}` }, ...started.effects);
  }
  const stopped: Run = { ...run, status: 'verify-failed', failure };
  return same(
    stopped,
    { type: 'note', text: `${report}\nPress *Roll back* to undo what changed (needs ${requiredApprovals(run)} approval${requiredApprovals(run) > 1 ? 's' : ''}), or *Close* to keep things as they are.` },
    { type: 'announce', text: `:x: ${summaryLine(stopped)} partly failed: ${plain(failure)}. Changed: ${changed.map((c) => c.words).join('; ')}. Rollback is offered on the card.${alertWords(run)}` },
  );
}

function rollbackTimeout(run: Run): number {
  const timeouts = run.runbook.phases.verify.flatMap((s) => (s.kind === 'verify' ? [s.timeout] : []));
  return timeouts.length ? Math.max(...timeouts) : 600_000;
}

/** The current step is done: start the next one. */
function advance(run: Run, effects: RunEffect[], now: number): Result {
  const cursor = run.cursor!;
  return startAt({ ...run, cursor: { ...cursor, index: cursor.index + 1 } }, effects, now);
}

/** The end of a phase: another round of a scale-down, the verify phase, or success. */
function phaseDone(run: Run, effects: RunEffect[], now: number): Result {
  const cursor = run.cursor!;
  if (cursor.phase === 'scale-down') {
    const at = currentLevel(run);
    const target = targetOf(run);
    if (at !== undefined && target !== undefined && at > target) {
      if (cursor.round + 1 >= MAX_ROUNDS) return stop(run, `still at ${at} replicas after ${MAX_ROUNDS} steps`, now);
      return startAt({ ...run, cursor: { phase: 'scale-down', index: 0, round: cursor.round + 1 } }, effects, now);
    }
  }
  if (cursor.phase !== 'verify' && run.runbook.phases.verify.length) return startAt({ ...run, status: 'verifying', cursor: { phase: 'verify', index: 0, round: 0 } }, effects, now);
  return succeed(run, effects, now);
}

/** A timer fired: a wait ended, or a measurement is due (after settling, or to try again). */
export function onWake(run: Run, name: string, now: number): Result {
  const match = /^wake:([^:]+):(\d+)$/.exec(name);
  if (!match) return same(run);
  const found = current(run, match[1]!);
  if (!found || found.state.attempt !== Number(match[2]) || found.state.doing !== 'waiting') return same(run);
  if (found.state.wakeAt !== undefined && now < found.state.wakeAt) return same(run, { type: 'schedule', at: found.state.wakeAt, name });
  const { step, state } = found;
  if (step.kind === 'wait' && step.duration !== undefined) {
    return advance(withStep(run, step.id, { ...state, status: 'done', at: now, doing: undefined, wakeAt: undefined }), [], now);
  }
  return measure(run, step, []);
}

/** A measurement for a sequential step came back. */
export function onStepProbe(run: Run, event: Extract<RunEvent, { type: 'probe-result' }>, now: number): Result {
  const found = current(run, event.step);
  if (!found || found.state.attempt !== event.attempt || found.state.doing !== 'measuring') return same(run);
  const { step, state } = found;
  const pass = step.kind === 'wait' ? step.until?.pass : step.kind === 'check' || step.kind === 'verify' ? step.pass : undefined;
  const result = judge(run, event.result, pass);
  const measured = withStep(run, step.id, { ...state, result, at: now });
  if (step.kind === 'check') {
    const severity = result.ok === undefined ? (step['if-unmeasured'] ?? step.severity) : step.severity;
    if (result.ok === true) return advance(withStep(measured, step.id, { ...state, result, at: now, status: 'passed', doing: undefined }), [{ type: 'note', text: `:white_check_mark: ${plain(step.title)}: ${plain(result.summary)}` }], now);
    if (severity === 'warn') {
      return advance(withStep(measured, step.id, { ...state, result, at: now, status: 'warned', doing: undefined }), [{ type: 'note', text: `:warning: ${plain(step.title)}: ${plain(result.summary)}` }], now);
    }
    const stopped = withStep(measured, step.id, { ...state, result, at: now, status: result.ok === false ? 'failed' : 'unmeasured', doing: undefined });
    return stop(stopped, `${step.title}: ${result.ok === false ? '' : 'could not measure: '}${result.summary}`, now);
  }
  if (result.ok === true) {
    const done = withStep(measured, step.id, { ...state, result, at: now, status: step.kind === 'verify' ? 'passed' : 'done', doing: undefined });
    return advance(done, [{ type: 'note', text: `:white_check_mark: ${step.kind === 'verify' ? 'Verified' : 'Condition holds'}: ${plain(step.title)}: ${evidence(result)}` }], now);
  }
  const interval = step.kind === 'wait' || step.kind === 'verify' ? step.interval : 30_000;
  if (state.deadline !== undefined && now + interval < state.deadline) {
    const wakeAt = now + interval;
    return same(withStep(measured, step.id, { ...state, result, at: now, doing: 'waiting', wakeAt }), { type: 'schedule', at: wakeAt, name: wakeName(step.id, state.attempt) });
  }
  if (step.kind === 'wait') {
    if (step['on-timeout'] === 'continue') {
      const warned = withStep(measured, step.id, { ...state, result, at: now, status: 'warned', doing: undefined });
      return advance(warned, [{ type: 'note', text: `:warning: ${plain(step.title)}: did not hold within ${formatDuration(step.timeout!)}; continuing as the runbook says. ${evidence(result)}` }], now);
    }
    return stop(withStep(measured, step.id, { ...state, result, at: now, status: 'failed', doing: undefined }), `${step.title}: did not hold within ${formatDuration(step.timeout!)}: ${result.summary}`, now);
  }
  return verifyFailed(measured, step, result, now);
}

/** A rollout verification (or the rollback's) came back. */
export function onRollout(run: Run, event: Extract<RunEvent, { type: 'verify-passed' | 'verify-failed' }>, now: number): Result {
  const state = run.steps[event.step];
  if (!state || state.status !== 'running' || state.attempt !== event.attempt) return same(run);
  const passed = event.type === 'verify-passed';
  if (event.step === ROLLBACK_VERIFY_STEP) {
    if (run.status !== 'rolling-back') return same(run);
    const next = withStep(run, event.step, { ...state, status: passed ? 'passed' : 'failed', result: event.result, at: now, doing: undefined });
    if (passed) {
      const ended: Run = { ...next, status: 'rolled-back', finishedAt: now, ended: { at: now } };
      return same(
        ended,
        { type: 'note', text: `:leftwards_arrow_with_hook: Rollback verified: ${evidence(event.result)}` },
        { type: 'announce', text: `:leftwards_arrow_with_hook: ${summaryLine(ended)} was rolled back after a failed verification: ${rollbackWords(run)}.` },
        ...release(ended),
      );
    }
    const ended: Run = { ...next, status: 'failed', failure: `rollback did not settle: ${event.result.summary}`, finishedAt: now, ended: { at: now } };
    return same(
      ended,
      { type: 'note', text: `:x: Rollback did not settle: ${evidence(event.result)}` },
      { type: 'announce', text: `:x: ${summaryLine(ended)}: rollback did not settle: ${plain(event.result.summary)}. Someone needs to look.${alertWords(run)}` },
      ...release(ended),
    );
  }
  const found = current(run, event.step);
  if (!found || run.status !== 'verifying') return same(run);
  const next = withStep(run, event.step, { ...state, status: passed ? 'passed' : 'failed', result: event.result, at: now, doing: undefined });
  if (passed) return advance(next, [{ type: 'note', text: `:white_check_mark: Verified: ${evidence(event.result)}` }], now);
  return verifyFailed(next, found.step, event.result, now);
}

function evidence(result: ProbeResult): string {
  return [plain(result.summary), ...(result.details ?? []).map((d) => `      • ${plain(d)}`)].join('\n');
}

function policyOf(run: Run, step: Step): OnFailure {
  return (step.kind === 'verify' ? step['on-failure'] : undefined) ?? run.runbook['on-failure'];
}

function verifyFailed(run: Run, step: Step, result: ProbeResult, now: number): Result {
  const state = run.steps[step.id]!;
  if (step.kind === 'verify' && step.severity === 'warn') {
    const warned = withStep(run, step.id, { ...state, status: 'warned', result, at: now, doing: undefined });
    return advance(warned, [{ type: 'note', text: `:warning: ${plain(step.title)} did not hold (warning only, the run goes on): ${evidence(result)}` }], now);
  }
  const failedRun = withStep(run, step.id, { ...state, status: 'failed', result, at: now, doing: undefined });
  const failure = `verification failed: ${step.title}: ${result.summary}`;
  const note: RunEffect = { type: 'note', text: `:x: Verification failed: ${plain(step.title)}: ${evidence(result)}` };
  const policy = policyOf(run, step);
  if (policy === 'stop' || !run.plan) return stop(failedRun, failure, now, [note]);
  if (policy === 'rollback') {
    const started = beginRollback({ ...failedRun, failure }, now);
    return same(started.run, note, { type: 'announce', text: `:x: ${summaryLine(failedRun)}: ${plain(failure)}. Rolling back as the runbook says: ${rollbackWords(run)}.${alertWords(run)}` }, ...started.effects);
  }
  const stopped: Run = { ...failedRun, status: 'verify-failed', failure };
  const required = requiredApprovals(run);
  return same(
    stopped,
    { type: 'note', text: `:x: Verification failed: ${plain(step.title)}: ${evidence(result)}\nPress *Roll back* to return to ${formatState(run.plan.before)} (needs ${required} approval${required > 1 ? 's' : ''} under the same policy), or *Close* to keep things as they are.` },
    { type: 'announce', text: `:x: ${summaryLine(stopped)}: ${plain(failure)}. Rollback is offered on the card.${alertWords(run)}` },
  );
}

function alertWords(run: Run): string {
  const alert = run.runbook.alert;
  return alert?.length ? ` cc ${list(alert.map(mentionAny))}` : '';
}

function afterWords(run: Run): string {
  return run.after ? ` (now at ${formatState(run.after)})` : '';
}

/** Stop and alert: the target is left as it is now, and people are told where that is. */
export function stop(input: Run, why: string, now: number, effects: RunEffect[] = []): Result {
  // The step that was under way when the run stopped shows as failed, not as still running.
  const step = cursorStep(input);
  const running = step ? input.steps[step.id] : undefined;
  const run = step && running?.status === 'running' ? withStep(input, step.id, { ...running, status: 'failed', doing: undefined, at: now }) : input;
  const ended: Run = { ...run, status: 'failed', failure: `stopped: ${why}`, finishedAt: now, ended: { at: now, reason: why } };
  const where = run.after ? `${plain(run.service.targetLabel)} is left at ${formatState(run.after)}` : `${plain(run.service.targetLabel)} was not changed`;
  return same(
    ended,
    ...effects,
    { type: 'note', text: `:rotating_light: Stopped: ${plain(why)}. ${where}; nothing more will be done by this run.` },
    { type: 'audit', record: { type: 'stopped', detail: why } },
    { type: 'announce', text: `:rotating_light: ${summaryLine(ended)} stopped: ${plain(why)}. ${where}.${alertWords(run)}` },
    ...release(ended),
  );
}

function succeed(run: Run, effects: RunEffect[], now: number): Result {
  const ended: Run = { ...run, status: 'succeeded', finishedAt: now, ended: { at: now } };
  const took = formatDuration(now - (run.executedAt ?? run.createdAt));
  const approvers = run.approvals.map((a) => mention(a.user));
  const steps = run.runbook.phases['scale-down'].reduce((n, s) => Math.max(n, run.steps[s.id]?.round ?? 0), 0);
  const rounds = run.runbook.phases['scale-down'].length ? ` in ${steps} step${steps === 1 ? '' : 's'}` : '';
  const verb = run.runbook.direction === 'down' ? 'scaled down' : 'scaled';
  const dbs = Object.entries(run.databases ?? {}).flatMap(([name, d]) => (d.before && d.after ? [`; ${plain(name)} ${formatDatabase(d.before)} → ${formatDatabase(d.after)}`] : [])).join('');
  return same(
    ended,
    ...effects,
    {
      type: 'announce',
      text: `:white_check_mark: ${plain(run.service.name)} ${verb} ${formatState(run.before ?? run.plan!.before)} → ${formatState(run.after ?? run.plan!.before)}${dbs}${rounds} and verified in ${took}. Requested by ${mention(run.request.requester)}${run.request.reason ? ` (${plain(run.request.reason)})` : ''}, approved by ${list(approvers)}.`,
    },
    ...release(ended),
  );
}

/** Starts the rollback: undo what changed, newest first, one change at a time. */
function beginRollback(run: Run, now: number): Result {
  const changes = changedSoFar(run);
  const items = changes.flatMap((c) => (c.change ? [{ step: c.step.id, change: c.change }] : [])).reverse();
  const lost = changes.filter((c) => !c.change).map((c) => c.words);
  const notes: RunEffect[] = lost.length ? [{ type: 'note', text: `:warning: These cannot be undone by a rollback: ${lost.join('; ')}.` }] : [];
  if (!items.length) return same({ ...run, status: 'rolled-back', finishedAt: now, ended: { at: now } }, ...notes, ...release(run));
  return startRollbackItem({ ...run, status: 'rolling-back', rollback: { items, index: 0 } }, [...notes, { type: 'note', text: `:gear: Rolling back: ${rollbackWords(run)}` }], now);
}

function startRollbackItem(run: Run, effects: RunEffect[], now: number): Result {
  const { items, index } = run.rollback!;
  const item = items[index]!;
  const key = index === 0 ? `${run.id}/rollback` : `${run.id}/rollback/${index}`;
  const previous = run.steps[ROLLBACK_STEP];
  const steps = { ...run.steps, [ROLLBACK_STEP]: { status: 'running' as const, attempt: (previous?.attempt ?? 0) + 1, key, startedAt: now, doing: 'acting' as const } };
  const change = item.change;
  return same(
    { ...run, steps },
    ...effects,
    { type: 'audit', record: { type: 'action-started', key, detail: `rollback of ${item.step}` } },
    change.kind === 'target'
      ? { type: 'execute', step: ROLLBACK_STEP, key, operation: change.operation }
      : { type: 'execute-database', step: ROLLBACK_STEP, key, database: change.database, operation: change.operation },
  );
}

/** One change was undone: the next one, or the rollout check once every change is undone. */
function nextRollbackItem(run: Run, effects: RunEffect[], now: number): Result {
  const rollback = run.rollback ?? { items: [], index: 0 };
  if (rollback.index + 1 < rollback.items.length) return startRollbackItem({ ...run, rollback: { ...rollback, index: rollback.index + 1 } }, effects, now);
  const movedTarget = rollback.items.some((i) => i.change.kind === 'target' && (i.change.operation.type === 'set-replicas' || i.change.operation.type === 'set-hpa-bounds' || i.change.operation.type === 'set-replica-bounds'));
  if (!movedTarget || !run.plan) {
    const ended: Run = { ...run, status: 'rolled-back', finishedAt: now, ended: { at: now } };
    return same(ended, ...effects, { type: 'announce', text: `:leftwards_arrow_with_hook: ${summaryLine(ended)} was rolled back: ${rollbackWords(run)}.` }, ...release(ended));
  }
  const deadline = now + rollbackTimeout(run);
  const verifyState: StepState = { status: 'running', attempt: (run.steps[ROLLBACK_VERIFY_STEP]?.attempt ?? 0) + 1, startedAt: now, deadline, doing: 'measuring' };
  return same(
    withStep({ ...run, status: 'rolling-back' }, ROLLBACK_VERIFY_STEP, verifyState),
    ...effects,
    { type: 'verify', step: ROLLBACK_VERIFY_STEP, attempt: verifyState.attempt, expect: run.plan.undoExpect, deadline },
  );
}

export function onApproveRollback(run: Run, actor: Actor, now: number): Result {
  if (run.status !== 'verify-failed') {
    if (run.status === 'succeeded' || run.status === 'failed' || run.status === 'rolled-back') return finished(run, actor.user);
    return reply(run, actor.user, `Run ${run.id} is ${describeStatus(run)}; there is nothing to roll back.`);
  }
  const refusal = approvalRefusal(run, actor, run.rollbackApprovals, 'the rollback');
  if (refusal) return reply(run, actor.user, refusal);
  const rollbackApprovals = [...run.rollbackApprovals, { user: actor.user, at: now, evidenceRev: run.evidenceRev }];
  const required = requiredApprovals(run);
  const note: RunEffect = { type: 'note', text: `:leftwards_arrow_with_hook: Rollback approved by ${mention(actor.user)} (${rollbackApprovals.length}/${required}).` };
  const audit: RunEffect = { type: 'audit', record: { type: 'rollback-approval', user: actor.user } };
  if (rollbackApprovals.length < required) return same({ ...run, rollbackApprovals }, note, audit);
  const started = beginRollback({ ...run, rollbackApprovals }, now);
  return same(started.run, note, audit, ...started.effects);
}

/** After a crash: re-issue what the current sequential step (or the rollback) was doing. */
export function resumeSequence(run: Run): RunEffect[] {
  const effects: RunEffect[] = [];
  const rollback = run.steps[ROLLBACK_STEP];
  const item = run.rollback?.items[run.rollback.index];
  if (rollback?.status === 'running' && rollback.key && item) {
    effects.push(item.change.kind === 'target'
      ? { type: 'reconcile', step: ROLLBACK_STEP, key: rollback.key, operation: item.change.operation }
      : { type: 'reconcile-database', step: ROLLBACK_STEP, key: rollback.key, database: item.change.database, operation: item.change.operation });
  }
  const rollbackVerify = run.steps[ROLLBACK_VERIFY_STEP];
  if (run.status === 'rolling-back' && rollbackVerify?.status === 'running' && rollbackVerify.deadline !== undefined && run.plan) {
    effects.push({ type: 'verify', step: ROLLBACK_VERIFY_STEP, attempt: rollbackVerify.attempt, expect: run.plan.undoExpect, deadline: rollbackVerify.deadline });
  }
  if (run.status !== 'executing' && run.status !== 'verifying') return effects;
  const step = cursorStep(run);
  const state = step ? run.steps[step.id] : undefined;
  if (!step || !state || state.status !== 'running') return effects;
  switch (state.doing) {
    case 'acting': {
      if (!state.key) break;
      const change = step.kind === 'action' && step.operation !== 'scale' ? run.stepPlans?.[step.id]?.plan?.change : undefined;
      if (change?.kind === 'database') effects.push({ type: 'reconcile-database', step: step.id, key: state.key, database: change.database, operation: change.operation });
      else effects.push({ type: 'reconcile', step: step.id, key: state.key, operation: change?.kind === 'target' ? change.operation : (state.plan ?? run.plan!).operation });
      break;
    }
    case 'planning':
      if (run.cursor) effects.push({ type: 'plan', attempt: state.attempt, replicas: nextRound(currentLevel(run) ?? 0, targetOf(run) ?? 0), step: step.id });
      break;
    case 'waiting':
      if (state.wakeAt !== undefined) effects.push({ type: 'schedule', at: state.wakeAt, name: wakeName(step.id, state.attempt) });
      break;
    case 'measuring':
      if (step.kind === 'verify' && step.probe === 'kubernetes.rollout') effects.push({ type: 'verify', step: step.id, attempt: state.attempt, expect: rolloutExpectation(run), deadline: state.deadline! });
      else effects.push(probeEffect(run, step, state.attempt));
      break;
    default:
      break;
  }
  return effects;
}
