// What a measurement means for its step: the runbook's `pass` condition read against the probe's
// values and the run's (target, current replicas, limits, the catalog's params, earlier checks),
// or the probe's own verdict. Pure: expressions are parsed data, never code.
import { evaluateBoolean, evaluateNumber, ExpressionError, type Expr, type Scope } from '../workflows/expression.ts';
import { scopeName } from '../workflows/probe-catalog.ts';
import type { ProbeResult, Run } from './run.ts';

/** The replicas the run heads for, once known. */
export function targetOf(run: Pick<Run, 'target'>): number | undefined {
  return run.target;
}

/** The replicas now, as last read (the plan's reading, or the last action's result). */
export function currentOf(run: Run): number | undefined {
  return run.after?.replicas ?? run.plan?.before.replicas;
}

/**
 * The level a scale operation controls: the HPA's floor when an HPA manages the target (the HPA
 * decides the replicas above it), the replicas otherwise. Gradual steps walk this level.
 */
export function levelOf(state: { replicas: number; hpa?: { minReplicas: number }; bounds?: { minReplicas: number } } | undefined): number | undefined {
  return state ? (state.hpa?.minReplicas ?? state.bounds?.minReplicas ?? state.replicas) : undefined;
}

export function currentLevel(run: Run): number | undefined {
  return levelOf(run.after ?? run.plan?.before);
}

/** Names an expression may read, for this run, with `own` (a probe's values) on top. */
export function runScope(run: Run, own?: Record<string, number>): Scope {
  const scope: Scope = {
    limits: { ...run.service.limits },
    service: { ...(run.service.params ?? {}) },
  };
  const target = targetOf(run);
  if (target !== undefined) scope.replicas = target;
  const current = currentOf(run);
  if (current !== undefined) scope.current = current;
  for (const [id, state] of Object.entries(run.steps)) {
    if (state.result?.values && state.result.ok !== undefined) scope[scopeName(id)] = { ...state.result.values };
  }
  if (own) Object.assign(scope, own);
  return scope;
}

/**
 * Decides a measured result: the `pass` condition when there is one, else the probe's own verdict.
 * A result that could not be measured stays unmeasured; so does a condition that cannot be read
 * (a value the probe did not return), with the reason.
 */
export function judge(run: Run, result: ProbeResult, pass: Expr | undefined): ProbeResult {
  if (result.ok === undefined || !pass) return result;
  try {
    const ok = evaluateBoolean(pass, runScope(run, result.values ?? {}));
    return { ...result, ok, threshold: pass.text, summary: `${result.summary} — ${ok ? 'holds' : 'fails'}: ${pass.text}` };
  } catch (error) {
    const why = error instanceof ExpressionError || error instanceof Error ? error.message : String(error);
    return { ...result, ok: undefined, threshold: pass.text, summary: `${result.summary} — could not evaluate ${pass.text}: ${why}` };
  }
}

/** The runbook's target formula, or why it cannot be computed yet. */
export function computeTarget(run: Run, formula: Expr): { ok: true; replicas: number } | { ok: false; error: string } {
  try {
    const value = evaluateNumber(formula, runScope(run));
    const replicas = Math.round(value);
    if (!Number.isFinite(replicas) || replicas < 0) return { ok: false, error: `${formula.text} gave ${value}, not a replica count` };
    return { ok: true, replicas };
  } catch (error) {
    return { ok: false, error: `${formula.text}: ${error instanceof Error ? error.message : String(error)}` };
  }
}
