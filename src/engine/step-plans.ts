// Action steps other than `scale` (HPA bounds and scale-down policy, database capacity and readers)
// are planned like the run's scale: from the real state, before approval, shown on the card, and
// bound to the approval through the evidence revision. Their numbers come from the runbook's
// expressions, evaluated once the pre-scale checks have answered.
import type { RunEffect, RunEvent } from './events.ts';
import type { Run, StepRequest } from './run.ts';
import { same, type Result } from './common.ts';
import { runScope } from './verdict.ts';
import { evaluateNumber, type Expr } from '../workflows/expression.ts';
import type { ActionStep } from '../workflows/runbook-schema.ts';

/** The execute phase's actions that are planned on their own. */
export function plannedSteps(run: Run): ActionStep[] {
  return run.runbook.phases.execute.filter((s): s is ActionStep => s.kind === 'action' && s.operation !== 'scale');
}

function number(run: Run, expr: Expr | undefined, what: string): number | undefined {
  if (!expr) return undefined;
  const value = evaluateNumber(expr, runScope(run));
  if (!Number.isFinite(value)) throw new Error(`${what} ${expr.text} is not a number`);
  return value;
}

/** What the step asks for, with its expressions evaluated against the run and its checks. */
export function stepRequest(run: Run, step: ActionStep): StepRequest {
  const min = number(run, step.min, 'min');
  const max = number(run, step.max, 'max');
  switch (step.operation) {
    case 'hpa-bounds':
      return { kind: 'target', operation: 'hpa-bounds', ...(min !== undefined ? { min: Math.round(min) } : {}), ...(max !== undefined ? { max: Math.round(max) } : {}) };
    case 'hpa-scale-down':
      return { kind: 'target', operation: 'hpa-scale-down', enabled: step.enabled ?? true };
    case 'database-capacity':
      return { kind: 'database', database: step.database!, operation: { type: 'set-capacity', min: Math.round(min! * 2) / 2, max: Math.round(max! * 2) / 2 } };
    case 'add-reader':
      return { kind: 'database', database: step.database!, operation: { type: 'add-reader', instanceId: step.instance ?? `${run.id.replace(/^run-/, 'scalebot-')}-${step.id}`.slice(0, 63), instanceClass: step.class ?? 'db.serverless' } };
    case 'remove-reader':
      return { kind: 'database', database: step.database!, operation: { type: 'remove-reader', instanceId: step.instance! } };
    case 'instance-class':
      return { kind: 'database', database: step.database!, operation: { type: 'set-instance-class', instanceId: step.instance!, instanceClass: step.class! } };
    case 'scale':
      throw new Error('scale steps use the run plan');
  }
}

/** Asks for the plan of every such step (for the current plan attempt); a step whose numbers cannot be computed says why. */
export function issueStepPlans(run: Run): Result {
  const steps = plannedSteps(run);
  if (!steps.length) return same(run);
  const stepPlans = { ...(run.stepPlans ?? {}) };
  const effects: RunEffect[] = [];
  for (const step of steps) {
    try {
      const request = stepRequest(run, step);
      // The plan of the last attempt is kept only to tell whether the new one differs; it does not count as ready.
      const last = stepPlans[step.id]?.plan ?? stepPlans[step.id]?.previous;
      stepPlans[step.id] = { attempt: run.planAttempt, ...(last ? { previous: last } : {}) };
      effects.push({ type: 'plan-step', step: step.id, attempt: run.planAttempt, request });
    } catch (error) {
      stepPlans[step.id] = { attempt: run.planAttempt, error: `its numbers could not be computed: ${error instanceof Error ? error.message : String(error)}` };
    }
  }
  return same({ ...run, stepPlans }, ...effects);
}

/** A step's plan came back; reports whether the evidence changed. */
export function onStepPlan(run: Run, event: Extract<RunEvent, { type: 'step-plan-ready' | 'step-plan-failed' }>): { run: Run; changed: boolean } | undefined {
  const entry = run.stepPlans?.[event.step];
  if (!entry || entry.attempt !== event.attempt || event.attempt !== run.planAttempt) return undefined;
  if (entry.error && event.type === 'step-plan-failed' && entry.error === event.error) return undefined;
  const next = event.type === 'step-plan-ready' ? { attempt: event.attempt, plan: event.plan } : { attempt: event.attempt, error: event.error };
  const last = entry.plan ?? entry.previous;
  const before = last ? `${last.summary}|${last.calls.join()}` : entry.error;
  const after = next.plan ? `${next.plan.summary}|${next.plan.calls.join()}` : next.error;
  return { run: { ...run, stepPlans: { ...run.stepPlans, [event.step]: next } }, changed: before !== undefined && before !== after };
}

/** Why the step plans stand in the way of approval (errors), in words. */
export function stepPlanProblems(run: Run): string[] {
  return plannedSteps(run).flatMap((step) => {
    const entry = run.stepPlans?.[step.id];
    return entry?.error ? [`${step.title}: ${entry.error}`] : [];
  });
}

/** Whether every step plan for the current attempt is in. */
export function stepPlansReady(run: Run): boolean {
  return plannedSteps(run).every((step) => {
    const entry = run.stepPlans?.[step.id];
    return entry !== undefined && entry.attempt === run.planAttempt && entry.plan !== undefined;
  });
}
