// Builders for engine tests: a run of the real scale-up runbook with overridable parts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseYamlText } from '../../src/config/problems.ts';
import type { RunEffect, RunEvent } from '../../src/engine/events.ts';
import type { Plan, ProbeResult, Run, ServiceSnapshot } from '../../src/engine/run.ts';
import { createRun, transition } from '../../src/engine/transition.ts';
import { runbookSchema, type Runbook } from '../../src/workflows/runbook-schema.ts';

export const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);

/** A runbook from YAML text, validated; throws with the problems when it is invalid. */
export function runbookFrom(text: string): Runbook {
  const parsed = parseYamlText('inline.yml', text, runbookSchema);
  if (!parsed.ok) throw new Error(parsed.problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
  return parsed.value;
}

export function scaleUpRunbook(): Runbook {
  const file = join(import.meta.dirname, '../../workflows/scale-up.yml');
  const parsed = parseYamlText(file, readFileSync(file, 'utf8'), runbookSchema);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed.value;
}

export function service(overrides: Partial<ServiceSnapshot> = {}): ServiceSnapshot {
  return {
    name: 'api-gateway',
    targetKey: 'kubernetes/(current)/prod/api-gateway',
    targetLabel: 'Deployment prod/api-gateway',
    namespace: 'prod',
    limits: { min: 3, baseline: 3, max: 50 },
    approvals: { required: 1, approvers: ['U0BOB', 'U0CAROL'] },
    channel: 'C0INFRA',
    ...overrides,
  };
}

export function plan(overrides: Partial<Plan> = {}): Plan {
  return {
    summary: 'Set Deployment prod/api-gateway replicas 5 → 10',
    calls: ['PATCH /apis/apps/v1/namespaces/prod/deployments/api-gateway/scale (merge patch) {"spec":{"replicas":10}}'],
    operation: { type: 'set-replicas', replicas: 10, from: 5 },
    undo: { type: 'set-replicas', replicas: 5, from: 10 },
    before: { replicas: 5, readyReplicas: 5 },
    expect: { replicas: 10, atLeast: false },
    undoExpect: { replicas: 5, atLeast: false },
    changes: true,
    ...overrides,
  };
}

export function passing(summary = 'fine'): ProbeResult {
  return { ok: true, summary, source: 'test', at: T0 };
}

/** Threads events through the engine, collecting every effect. */
export class Sim {
  effects: RunEffect[] = [];
  now = T0;
  constructor(public run: Run) {}

  static start(opts: { dryRun?: boolean; requester?: string; runbook?: Runbook; service?: Partial<ServiceSnapshot>; replicas?: number | null } = {}): Sim {
    const created = createRun({
      id: 'run-test0001',
      now: T0,
      service: service(opts.service),
      runbook: opts.runbook ?? scaleUpRunbook(),
      request: { replicas: opts.replicas === null ? undefined : (opts.replicas ?? 10), reason: 'campaign', dryRun: opts.dryRun ?? false, requester: opts.requester ?? 'U0ALICE', originChannel: 'C0INFRA' },
    });
    const sim = new Sim({ ...created.run, version: 1 });
    sim.effects.push(...created.effects);
    return sim;
  }

  send(event: RunEvent, advanceMs = 0): RunEffect[] {
    this.now += advanceMs;
    const result = transition(this.run, event, this.now);
    this.run = result.run === this.run ? this.run : { ...result.run, version: this.run.version + 1 };
    this.effects.push(...result.effects);
    return result.effects;
  }

  /** Answers every outstanding probe and the plan. */
  answerChecks(results: Record<string, ProbeResult> = {}, thePlan: Plan = plan()): RunEffect[] {
    const out: RunEffect[] = [];
    const pending = this.effects.filter((e) => e.type === 'probe' || e.type === 'plan');
    for (const e of pending) {
      if (e.type === 'plan' && e.attempt === this.run.planAttempt) out.push(...this.send({ type: 'plan-ready', attempt: e.attempt, plan: thePlan }));
      if (e.type === 'probe' && this.run.steps[e.step]?.attempt === e.attempt && this.run.steps[e.step]?.status === 'running') {
        out.push(...this.send({ type: 'probe-result', step: e.step, attempt: e.attempt, result: results[e.step] ?? passing() }));
      }
    }
    return out;
  }

  tickAll(user = 'U0ALICE'): RunEffect[] {
    const manual = this.run.runbook.phases['pre-scale'].filter((s) => s.kind === 'manual').map((s) => s.id);
    return this.send({ type: 'ticks', actor: { user, approver: false }, changes: manual.map((step) => ({ step, ticked: true })), allowed: [] });
  }

  approve(user = 'U0BOB', approver = true): RunEffect[] {
    return this.send({ type: 'approve', actor: { user, approver }, evidenceRev: this.run.evidenceRev });
  }

  of<T extends RunEffect['type']>(type: T, effects: RunEffect[] = this.effects): Extract<RunEffect, { type: T }>[] {
    return effects.filter((e): e is Extract<RunEffect, { type: T }> => e.type === type);
  }
}
