// The general runbook vocabulary in the pure engine: checks decided by `pass` conditions on probe
// values, a target computed by the runbook's formula (seed 004: workers = ceil(queue / 50), 3..50),
// waits and verifications driven by timers (no test sleeps), notify steps, stop-and-alert, and the
// gradual scale-down (halve the distance, wait, re-check).
import { describe, expect, it } from 'vitest';
import { parseYamlText } from '../../src/config/problems.ts';
import { runbookSchema } from '../../src/workflows/runbook-schema.ts';
import type { RunEffect } from '../../src/engine/events.ts';
import { gradualPath } from '../../src/engine/transition.ts';
import { T0, Sim, passing, plan, runbookFrom } from '../support/engine-fixtures.ts';
import type { ProbeResult } from '../../src/engine/run.ts';

const MIN = 60_000;

const measured = (values: Record<string, number>, summary = 'measured'): ProbeResult => ({ ok: true, summary, values, source: 'test', at: T0 });
const unmeasured = (summary: string): ProbeResult => ({ ok: undefined, summary, source: 'test', at: T0 });

const WORKER_UP = `
name: worker-up
direction: up
target: "clamp(ceil(queue.waiting / 50), limits.min, limits.max)"
on-failure: stop
alert: [S0ONCALL]
phases:
  pre-scale:
    - { id: queue, title: Queue depth, kind: check, probe: queue.depth, pass: "waiting >= 0", severity: warn }
    - { id: db-budget, title: DB connections budget, kind: check, probe: postgres.connections }
    - { id: redis, title: Redis memory below 80%, kind: check, probe: redis.info, pass: "used_pct < 80", if-unmeasured: warn }
    - { id: tell, title: Tell the team, kind: notify, text: "Scaling {service} to {replicas}", to: channel, mention: [S0TEAM] }
  approve:
    - { id: approval, title: Approval, kind: approval }
  execute:
    - { id: scale, title: Scale, kind: action, operation: scale }
    - { id: warm-up, title: Let workers start, kind: wait, duration: 2m }
  verify:
    - { id: rollout, title: Rollout, kind: verify, probe: kubernetes.rollout }
    - { id: cpu, title: CPU per instance below 60%, kind: verify, probe: kubernetes.pod-usage, pass: "cpu_max_pct < 60", settle: 5m, timeout: 10m, interval: 1m }
    - { id: done, title: Tell the channel, kind: notify, text: "{service} is at {replicas}", to: channel }
`;

const SCALE_DOWN = `
name: walk-down
direction: down
on-failure: stop
alert: [S0ONCALL]
phases:
  pre-scale:
    - { id: limits, title: Not below baseline, kind: check, probe: request.limits }
    - { id: cpu, title: CPU below 40% for 30 min, kind: check, probe: prometheus, with: { query: cpu, over: 30m }, pass: "max < 40" }
  approve:
    - { id: approval, title: Approval, kind: approval }
  scale-down:
    - { id: step, title: Step down, kind: action, operation: scale, gradual: halve-distance }
    - { id: settle, title: Wait, kind: wait, duration: 10m }
    - { id: recheck, title: CPU still fine, kind: check, probe: prometheus, with: { query: cpu }, pass: "value < 60" }
  verify:
    - { id: rollout, title: Rollout, kind: verify, probe: kubernetes.rollout }
`;

function problemsOf(text: string): string[] {
  const parsed = parseYamlText('inline.yml', text, runbookSchema);
  return parsed.ok ? [] : parsed.problems.map((p) => `${p.path}: ${p.message}`);
}

/** Answers the latest open probe of a step. */
function answer(sim: Sim, step: string, result: ProbeResult, advance = 0): RunEffect[] {
  const probe = sim.of('probe').filter((e) => e.step === step).at(-1);
  if (!probe) throw new Error(`no probe for ${step}`);
  return sim.send({ type: 'probe-result', step, attempt: probe.attempt, result }, advance);
}

function fire(sim: Sim, name: string): RunEffect[] {
  const timer = sim.of('schedule').filter((e) => e.name.startsWith(name)).at(-1);
  if (!timer) throw new Error(`no timer ${name}`);
  sim.now = Math.max(sim.now, timer.at);
  return sim.send({ type: 'timer', name: timer.name });
}

describe('runbook schema: the vocabulary and its references', () => {
  it('accepts the worked examples', () => {
    expect(problemsOf(WORKER_UP)).toEqual([]);
    expect(problemsOf(SCALE_DOWN)).toEqual([]);
  });

  it('names a misspelt probe value and lists the real ones', () => {
    const bad = WORKER_UP.replace('used_pct < 80', 'used_pcent < 80');
    expect(problemsOf(bad).join('\n')).toContain('unknown name "used_pcent"');
  });

  it('refuses a formula that reads a check that does not exist, or a value it does not return', () => {
    expect(problemsOf(WORKER_UP.replace('queue.waiting', 'queues.waiting')).join('\n')).toContain('unknown name "queues.waiting"');
    expect(problemsOf(WORKER_UP.replace('queue.waiting', 'queue.wating')).join('\n')).toContain('queue has: waiting, active, failed, delayed');
  });

  it('refuses expression injection at load', () => {
    const evil = WORKER_UP.replace('"waiting >= 0"', '"process.exit(1)"');
    expect(problemsOf(evil).join('\n')).toMatch(/target|pass/);
    expect(problemsOf(WORKER_UP.replace('"waiting >= 0"', '"constructor.constructor(1)"')).length).toBeGreaterThan(0);
  });

  it('checks each probe\'s with: parameters at load', () => {
    expect(problemsOf(SCALE_DOWN.replace('over: 30m', 'over: 30 minutes')).join('\n')).toContain('phases.pre-scale.1.with.over');
    expect(problemsOf(SCALE_DOWN.replace('with: { query: cpu }', 'with: { query: cpu, url: "http://evil" }')).join('\n')).toContain('with');
    expect(problemsOf(WORKER_UP.replace('probe: kubernetes.rollout }', 'probe: kubernetes.rollout, with: { x: 1 } }')).join('\n')).toContain('the kubernetes.rollout probe takes no parameters');
  });

  it('a measuring probe needs a pass condition', () => {
    expect(problemsOf(WORKER_UP.replace(', pass: "used_pct < 80"', '')).join('\n')).toContain('the redis.info probe only measures; say what passes');
  });

  it('a wait has a duration or an until condition with a timeout', () => {
    const both = WORKER_UP.replace('kind: wait, duration: 2m', 'kind: wait');
    expect(problemsOf(both).join('\n')).toContain('a wait step has either a duration');
  });

  it('a scale-down phase needs direction down, one gradual action, and stop on failure', () => {
    expect(problemsOf(SCALE_DOWN.replace('direction: down', 'direction: up')).join('\n')).toContain('must say direction: down');
    expect(problemsOf(SCALE_DOWN.replace(', gradual: halve-distance', '')).join('\n')).toContain('exactly one action step, with gradual');
    expect(problemsOf(SCALE_DOWN.replace('on-failure: stop', 'on-failure: offer-rollback')).join('\n')).toContain('stops and alerts');
  });

  it('a check in the scale-down phase may only be read by steps after it', () => {
    const early = SCALE_DOWN.replace('pass: "max < 40"', 'pass: "recheck.value < 40"');
    expect(problemsOf(early).join('\n')).toContain('unknown name "recheck.value"');
  });
});

describe('checks decided by conditions on probe values', () => {
  it('measures the formula inputs first, then computes the target (seed 004: ceil(120 / 50) = 3, within 3..50)', () => {
    const sim = Sim.start({ runbook: runbookFrom(WORKER_UP), replicas: null, service: { limits: { min: 3, baseline: 3, max: 50 } } });
    // Only the queue is measured before the target is known; no plan yet.
    expect(sim.of('probe').map((e) => e.step)).toEqual(['queue']);
    expect(sim.of('plan')).toEqual([]);
    const effects = answer(sim, 'queue', measured({ waiting: 120, active: 2, failed: 0, delayed: 0 }));
    expect(sim.run.target).toBe(3);
    expect(sim.of('note', effects)[0]!.text).toContain('Target: 3 replicas from the runbook\'s formula `clamp(ceil(queue.waiting / 50), limits.min, limits.max)` = 3');
    expect(sim.of('plan', effects)).toEqual([{ type: 'plan', attempt: 1, replicas: 3 }]);
    expect(sim.of('probe', effects).map((e) => e.step).sort()).toEqual(['db-budget', 'redis']);
  });

  it('the formula clamps to the limits (2600 waiting → 52 → 50); the engine clamps a formula that does not', () => {
    const sim = Sim.start({ runbook: runbookFrom(WORKER_UP), replicas: null, service: { limits: { min: 3, baseline: 3, max: 50 } } });
    answer(sim, 'queue', measured({ waiting: 2600, active: 0, failed: 0, delayed: 0 }));
    expect(sim.run.target).toBe(50);
    const unclamped = runbookFrom(WORKER_UP.replace('clamp(ceil(queue.waiting / 50), limits.min, limits.max)', 'ceil(queue.waiting / 50)'));
    const raw = Sim.start({ runbook: unclamped, replicas: null, service: { limits: { min: 3, baseline: 3, max: 50 } } });
    const effects = answer(raw, 'queue', measured({ waiting: 2600, active: 0, failed: 0, delayed: 0 }));
    expect(raw.run.target).toBe(50);
    expect(raw.of('note', effects)[0]!.text).toContain('= 52, clamped to the catalog\'s limits 3..50');
  });

  it('a formula input that cannot be measured blocks with the reason', () => {
    const sim = Sim.start({ runbook: runbookFrom(WORKER_UP), replicas: null });
    answer(sim, 'queue', unmeasured('could not measure: Redis at queue.internal:6379 refused the connection'));
    expect(sim.run.target).toBeUndefined();
    expect(sim.run.status).toBe('awaiting');
    expect(sim.run.planError).toContain('the runbook\'s target formula could not be computed');
  });

  it('a pass condition decides; if-unmeasured: warn lets an unreachable source only warn', () => {
    const sim = Sim.start({ runbook: runbookFrom(WORKER_UP), replicas: 6 });
    answer(sim, 'queue', measured({ waiting: 300, active: 0, failed: 0, delayed: 0 }));
    answer(sim, 'db-budget', { ...measured({ needed: 120, available: 90 }), ok: false, summary: '6 pods × 20 = 120 > 100 − 10 = 90' });
    answer(sim, 'redis', unmeasured('could not measure: connection refused'));
    sim.send({ type: 'plan-ready', attempt: 1, plan: plan() });
    expect(sim.run.steps.redis!.status).toBe('warned');
    expect(sim.run.steps['db-budget']!.status).toBe('failed');
    const note = sim.of('note').at(-1)!.text;
    expect(note).toContain('*Blocked:* DB connections budget: 6 pods × 20 = 120 &gt; 100 − 10 = 90');
    expect(note.split('\n').find((l) => l.startsWith('*Blocked:*'))).not.toContain('Redis');
    expect(note).toContain(':warning: Redis memory below 80%: could not measure: connection refused');
  });

  it('a condition that fails is shown with the condition', () => {
    const sim = Sim.start({ runbook: runbookFrom(WORKER_UP), replicas: 6 });
    answer(sim, 'redis', measured({ used_pct: 91.5 }, '915 MiB of 1 GiB'));
    expect(sim.run.steps.redis!.result!.summary).toBe('915 MiB of 1 GiB — fails: used_pct < 80');
    expect(sim.run.steps.redis!.status).toBe('failed');
  });

  it('a notify step in pre-scale speaks in the channel once the evidence is in, mentioning the group', () => {
    const sim = Sim.start({ runbook: runbookFrom(WORKER_UP), replicas: 6 });
    expect(sim.of('announce')).toEqual([]);
    sim.answerChecks({ queue: measured({ waiting: 1 }), 'db-budget': measured({ needed: 1, available: 9 }), redis: measured({ used_pct: 1 }) });
    expect(sim.of('announce').map((a) => a.text)).toEqual(['<!subteam^S0TEAM> Scaling api-gateway to 6']);
    sim.send({ type: 'rerun-checks', actor: { user: 'U0ALICE', approver: false } });
    sim.answerChecks({ queue: measured({ waiting: 1 }), 'db-budget': measured({ needed: 1, available: 9 }), redis: measured({ used_pct: 1 }) });
    expect(sim.of('announce')).toHaveLength(1);
  });

  it('a check that feeds the target formula cannot read the replicas; the formula cannot read current', () => {
    expect(problemsOf(WORKER_UP.replace('pass: "waiting >= 0"', 'pass: "waiting < replicas * 50"')).join('\n')).toContain('feeds the target formula');
    expect(problemsOf(WORKER_UP.replace('clamp(ceil(queue.waiting / 50), limits.min, limits.max)', 'ceil(current * 1.5)')).join('\n')).toContain('cannot read "current"');
  });


});

/** A WORKER_UP run at 6 replicas, approved and executed, now in the wait. */
function executed(text = WORKER_UP): Sim {
  const sim = Sim.start({ runbook: runbookFrom(text), replicas: 6 });
  sim.answerChecks({ queue: measured({ waiting: 300, active: 0, failed: 0, delayed: 0 }), 'db-budget': measured({ needed: 120, available: 190 }), redis: measured({ used_pct: 40 }) }, plan({ summary: 'Set replicas 3 → 6', operation: { type: 'set-replicas', replicas: 6, from: 3 }, undo: { type: 'set-replicas', replicas: 3, from: 6 }, before: { replicas: 3, readyReplicas: 3 }, expect: { replicas: 6, atLeast: false } }));
  sim.approve();
  expect(sim.run.status).toBe('executing');
  sim.send({ type: 'action-done', step: 'scale', key: 'run-test0001/scale', before: { replicas: 3, readyReplicas: 3 }, after: { replicas: 6, readyReplicas: 3 } });
  return sim;
}

describe('sequential phases: waits, verifications with settle and retries, notify, stop and alert', () => {
  it('a wait holds the run until its timer fires, shown with its end time', () => {
    const sim = executed();
    expect(sim.run.steps['warm-up']).toMatchObject({ status: 'running', doing: 'waiting', wakeAt: sim.now + 2 * MIN });
    expect(sim.of('schedule').at(-1)).toEqual({ type: 'schedule', at: sim.now + 2 * MIN, name: 'wake:warm-up:1' });
    // A stale or early timer does nothing.
    expect(sim.send({ type: 'timer', name: 'wake:warm-up:7' })).toEqual([]);
    expect(sim.send({ type: 'timer', name: 'wake:warm-up:1' })).toEqual([{ type: 'schedule', at: sim.run.steps['warm-up']!.wakeAt, name: 'wake:warm-up:1' }]);
    fire(sim, 'wake:warm-up');
    expect(sim.run.status).toBe('verifying');
    expect(sim.of('verify').at(-1)).toMatchObject({ step: 'rollout', expect: { replicas: 6, atLeast: false } });
  });

  it('settles, measures again every interval until it holds, then notifies and succeeds', () => {
    const sim = executed();
    fire(sim, 'wake:warm-up');
    sim.send({ type: 'verify-passed', step: 'rollout', attempt: 1, result: passing('6/6 ready') });
    expect(sim.run.steps.cpu).toMatchObject({ doing: 'waiting', wakeAt: sim.now + 5 * MIN });
    fire(sim, 'wake:cpu');
    answer(sim, 'cpu', measured({ cpu_max_pct: 72 }, 'CPU max 72% of requests'));
    expect(sim.run.steps.cpu).toMatchObject({ status: 'running', doing: 'waiting', wakeAt: sim.now + MIN });
    fire(sim, 'wake:cpu');
    const effects = answer(sim, 'cpu', measured({ cpu_max_pct: 48 }, 'CPU max 48% of requests'));
    expect(sim.run.status).toBe('succeeded');
    expect(sim.of('note', effects).map((n) => n.text)).toContain(':white_check_mark: Verified: CPU per instance below 60%: CPU max 48% of requests — holds: cpu_max_pct &lt; 60');
    expect(sim.of('announce', effects).map((n) => n.text)).toContain('api-gateway is at 6');
  });

  it('a verification that never holds stops and alerts (on-failure: stop), leaving the target as it is', () => {
    const sim = executed();
    fire(sim, 'wake:warm-up');
    sim.send({ type: 'verify-passed', step: 'rollout', attempt: 1, result: passing('6/6 ready') });
    fire(sim, 'wake:cpu');
    let effects: RunEffect[] = [];
    for (let i = 0; i < 20 && sim.run.status === 'verifying'; i++) {
      effects = answer(sim, 'cpu', measured({ cpu_max_pct: 90 }, 'CPU max 90%'));
      if (sim.run.status === 'verifying') fire(sim, 'wake:cpu');
    }
    expect(sim.run.status).toBe('failed');
    expect(sim.run.failure).toContain('stopped: verification failed: CPU per instance below 60%');
    const announce = sim.of('announce', effects)[0]!.text;
    expect(announce).toContain('Deployment prod/api-gateway is left at 6 replicas');
    expect(announce).toContain('<!subteam^S0ONCALL>');
    expect(sim.of('execute', effects)).toEqual([]);
    expect(sim.of('release-target', effects)).toHaveLength(1);
  });

  it('a verification with severity warn that never holds is reported, and the run goes on to succeed', () => {
    const sim = executed(WORKER_UP.replace('settle: 5m, timeout: 10m', 'settle: 5m, timeout: 2m, severity: warn'));
    fire(sim, 'wake:warm-up');
    sim.send({ type: 'verify-passed', step: 'rollout', attempt: 1, result: passing('6/6 ready') });
    fire(sim, 'wake:cpu');
    answer(sim, 'cpu', measured({ cpu_max_pct: 90 }, 'CPU max 90%'));
    fire(sim, 'wake:cpu');
    const effects = answer(sim, 'cpu', measured({ cpu_max_pct: 91 }, 'CPU max 91%'));
    expect(sim.run.steps.cpu!.status).toBe('warned');
    expect(sim.of('note', effects)[0]!.text).toContain('did not hold (warning only, the run goes on)');
    expect(sim.run.status).toBe('succeeded');
  });

  it('resuming during a wait arms its timer again; during a measurement re-issues it', () => {
    const sim = executed();
    const resumed = sim.send({ type: 'resume', by: 'replica b' });
    expect(sim.of('schedule', resumed)).toContainEqual({ type: 'schedule', at: sim.run.steps['warm-up']!.wakeAt, name: 'wake:warm-up:1' });
    fire(sim, 'wake:warm-up');
    sim.send({ type: 'verify-passed', step: 'rollout', attempt: 1, result: passing('ok') });
    fire(sim, 'wake:cpu');
    const again = sim.send({ type: 'resume', by: 'replica c' });
    expect(sim.of('probe', again)).toEqual([expect.objectContaining({ step: 'cpu', probe: 'kubernetes.pod-usage' })]);
  });
});

describe('gradual scale-down: halve the distance, wait, re-check, stop and alert', () => {
  it('walks 10 → 6 → 4 → 3', () => {
    expect(gradualPath(10, 3)).toEqual([6, 4, 3]);
    expect(gradualPath(4, 3)).toEqual([3]);
    expect(gradualPath(3, 3)).toEqual([]);
    expect(gradualPath(50, 3)).toEqual([26, 14, 8, 5, 4, 3]);
  });

  function approvedDown(): Sim {
    const sim = Sim.start({ runbook: runbookFrom(SCALE_DOWN), replicas: null, service: { limits: { min: 1, baseline: 3, max: 50 } } });
    expect(sim.run.target).toBe(3);
    sim.answerChecks({ cpu: measured({ max: 22, min: 10, avg: 15, value: 12, samples: 30 }) }, plan({ summary: 'Set replicas 10 → 3', operation: { type: 'set-replicas', replicas: 3, from: 10 }, undo: { type: 'set-replicas', replicas: 10, from: 3 }, before: { replicas: 10, readyReplicas: 10 }, expect: { replicas: 3, atLeast: false } }));
    expect(sim.run.plan!.summary).toBe('Set replicas 10 → 3, gradually: 10 → 6 → 4 → 3');
    sim.approve();
    return sim;
  }

  function round(sim: Sim, from: number, to: number): void {
    const planned = sim.of('plan').at(-1)!;
    expect(planned).toMatchObject({ replicas: to, step: 'step' });
    sim.send({ type: 'plan-ready', attempt: planned.attempt, step: 'step', plan: plan({ summary: `Set replicas ${from} → ${to}`, operation: { type: 'set-replicas', replicas: to, from }, before: { replicas: from, readyReplicas: from }, expect: { replicas: to, atLeast: false } }) });
    const execute = sim.of('execute').at(-1)!;
    expect(execute.operation).toEqual({ type: 'set-replicas', replicas: to, from });
    sim.send({ type: 'action-done', step: 'step', key: execute.key, before: { replicas: from, readyReplicas: from }, after: { replicas: to, readyReplicas: to } });
  }

  it('steps down with a wait and a re-check between steps, then verifies and announces', () => {
    const sim = approvedDown();
    round(sim, 10, 6);
    expect(sim.run.steps.settle!.doing).toBe('waiting');
    fire(sim, 'wake:settle');
    answer(sim, 'recheck', measured({ value: 30 }));
    round(sim, 6, 4);
    fire(sim, 'wake:settle');
    answer(sim, 'recheck', measured({ value: 35 }));
    round(sim, 4, 3);
    fire(sim, 'wake:settle');
    answer(sim, 'recheck', measured({ value: 41 }));
    expect(sim.run.status).toBe('verifying');
    const keys = sim.of('execute').map((e) => e.key);
    expect(keys).toEqual(['run-test0001/step/round-1', 'run-test0001/step/round-2', 'run-test0001/step/round-3']);
    const effects = sim.send({ type: 'verify-passed', step: 'rollout', attempt: 1, result: passing('3/3 ready') });
    expect(sim.run.status).toBe('succeeded');
    expect(sim.of('announce', effects)[0]!.text).toContain('api-gateway scaled down 10 replicas → 3 replicas');
  });

  it('stops and alerts when the metrics worsen, left at the step it reached', () => {
    const sim = approvedDown();
    round(sim, 10, 6);
    fire(sim, 'wake:settle');
    const effects = answer(sim, 'recheck', measured({ value: 77 }, 'CPU 77%'));
    expect(sim.run.status).toBe('failed');
    expect(sim.run.failure).toBe('stopped: CPU still fine: CPU 77% — fails: value < 60');
    const announce = sim.of('announce', effects)[0]!.text;
    expect(announce).toContain('is left at 6 replicas');
    expect(announce).toContain('cc <!subteam^S0ONCALL>');
    expect(sim.of('execute')).toHaveLength(1);
  });

  it('refuses a target below the baseline before anything runs', () => {
    const sim = Sim.start({ runbook: runbookFrom(SCALE_DOWN), replicas: 2, service: { limits: { min: 1, baseline: 3, max: 50 } } });
    expect(sim.run.steps.limits!.status).toBe('failed');
    expect(sim.run.steps.limits!.result!.summary).toBe('2 is below the baseline 3; scale-downs stop at the baseline');
  });

  it('refuses when the plan would raise capacity', () => {
    const sim = Sim.start({ runbook: runbookFrom(SCALE_DOWN), replicas: null, service: { limits: { min: 1, baseline: 3, max: 50 } } });
    sim.answerChecks({ cpu: measured({ max: 22 }) }, plan({ before: { replicas: 2, readyReplicas: 2 }, expect: { replicas: 3, atLeast: false } }));
    expect(sim.run.status).toBe('cancelled');
    expect(sim.run.ended!.reason).toContain('only lowers capacity');
  });

  it('stops when someone scaled the target up between steps', () => {
    const sim = approvedDown();
    round(sim, 10, 6);
    fire(sim, 'wake:settle');
    answer(sim, 'recheck', measured({ value: 30 }));
    const planned = sim.of('plan').at(-1)!;
    sim.send({ type: 'plan-ready', attempt: planned.attempt, step: 'step', plan: plan({ before: { replicas: 2, readyReplicas: 2 }, expect: { replicas: 4, atLeast: false } }) });
    expect(sim.run.status).toBe('failed');
    expect(sim.run.failure).toContain('changed since the last step');
  });

  it('resuming while a step was being planned plans it again', () => {
    const sim = approvedDown();
    const resumed = sim.send({ type: 'resume', by: 'replica b' });
    expect(sim.of('plan', resumed)).toEqual([expect.objectContaining({ replicas: 6, step: 'step' })]);
  });
});

describe('Schedule scale-down from a verified scale-up', () => {
  function verified(): Sim {
    const sim = Sim.start({ service: { scaleDownAfterMs: 2 * 60 * MIN } });
    sim.answerChecks();
    sim.tickAll();
    sim.approve();
    sim.send({ type: 'action-done', step: 'scale', key: 'run-test0001/scale', before: { replicas: 5, readyReplicas: 5 }, after: { replicas: 10, readyReplicas: 5 } });
    sim.send({ type: 'verify-passed', step: 'rollout', attempt: 1, result: passing('10/10 ready') });
    expect(sim.run.status).toBe('succeeded');
    return sim;
  }

  it('schedules a scale-down run after the service\'s delay, opens it once when due', () => {
    const sim = verified();
    const effects = sim.send({ type: 'schedule-scale-down', actor: { user: 'U0ALICE', approver: false } });
    expect(sim.run.scaleDown).toMatchObject({ state: 'scheduled', by: 'U0ALICE', at: sim.now + 120 * MIN });
    expect(sim.of('schedule', effects)).toEqual([{ type: 'schedule', at: sim.now + 120 * MIN, name: 'scale-down' }]);
    expect(sim.of('reply', sim.send({ type: 'schedule-scale-down', actor: { user: 'U0BOB', approver: true } }))[0]!.text).toContain('already scheduled');
    // Early delivery re-arms; due delivery asks for the run, once.
    expect(sim.send({ type: 'timer', name: 'scale-down' })).toEqual([{ type: 'schedule', at: sim.now + 120 * MIN, name: 'scale-down' }]);
    sim.now += 120 * MIN;
    expect(sim.send({ type: 'timer', name: 'scale-down' })).toEqual([{ type: 'open-scale-down', requester: 'U0ALICE' }]);
    expect(sim.send({ type: 'timer', name: 'scale-down' })).toEqual([]);
    sim.send({ type: 'scale-down-opened', runId: 'run-down0001' });
    expect(sim.run.scaleDown).toMatchObject({ state: 'opened', runId: 'run-down0001' });
  });

  it('only the requester or an approver may schedule; anyone who may can cancel before it opens', () => {
    const sim = verified();
    expect(sim.of('reply', sim.send({ type: 'schedule-scale-down', actor: { user: 'U0MALLORY', approver: false } }))[0]!.text).toContain('Only the requester');
    sim.send({ type: 'schedule-scale-down', actor: { user: 'U0ALICE', approver: false } });
    sim.send({ type: 'cancel-scale-down', actor: { user: 'U0BOB', approver: true } });
    expect(sim.run.scaleDown).toMatchObject({ state: 'cancelled', changedBy: 'U0BOB' });
    sim.now += 200 * MIN;
    expect(sim.send({ type: 'timer', name: 'scale-down' })).toEqual([]);
  });

  it('a scale-down that cannot be opened is said in the channel, with what to do', () => {
    const sim = verified();
    sim.send({ type: 'schedule-scale-down', actor: { user: 'U0ALICE', approver: false } });
    sim.now += 120 * MIN;
    sim.send({ type: 'timer', name: 'scale-down' });
    const effects = sim.send({ type: 'scale-down-opened', error: 'run run-other001 holds Deployment prod/api-gateway' });
    expect(sim.run.scaleDown!.state).toBe('failed');
    expect(sim.of('announce', effects)[0]!.text).toContain('request it with /scale down api-gateway');
  });

  it('is not offered for runs that did not raise capacity', () => {
    const sim = Sim.start({ dryRun: true });
    sim.answerChecks();
    sim.tickAll();
    sim.approve();
    expect(sim.run.status).toBe('dry-run-complete');
    expect(sim.of('reply', sim.send({ type: 'schedule-scale-down', actor: { user: 'U0ALICE', approver: false } }))[0]!.text).toContain('nothing to schedule');
  });
});

const EVENT_UP = `
name: event-up
direction: up
phases:
  pre-scale:
    - { id: traffic, title: Forecast traffic, kind: check, probe: prometheus, with: { query: rps }, pass: "value >= 0" }
  approve:
    - { id: approval, title: Approval, kind: approval }
  execute:
    - { id: scale, title: Raise the floor, kind: action, operation: scale }
    - { id: hpa-max, title: Raise the HPA ceiling, kind: action, operation: hpa-bounds, max: "max(replicas * 2, 20)" }
    - { id: no-scale-down, title: Disable HPA scale-down, kind: action, operation: hpa-scale-down, enabled: false }
    - { id: acu, title: Raise Aurora capacity, kind: action, operation: database-capacity, database: db, min: "service.acu_min", max: "service.acu_max" }
  verify:
    - { id: rollout, title: Rollout, kind: verify, probe: kubernetes.rollout }
`;

describe('actions with plans of their own: HPA bounds and policy, database capacity (seed 003 event pre-scale)', () => {
  const stepPlan = (summary: string, change: import('../../src/engine/run.ts').StepPlan['change']) => ({ summary, calls: [`call for ${summary}`], changes: true, change });
  const hpaMax = stepPlan('Set HPA bounds 8..10 → 8..20', { kind: 'target', operation: { type: 'set-hpa-bounds', hpa: 'api', minReplicas: 8, maxReplicas: 20, from: { minReplicas: 8, maxReplicas: 10 } }, undo: { type: 'set-hpa-bounds', hpa: 'api', minReplicas: 8, maxReplicas: 10, from: { minReplicas: 8, maxReplicas: 20 } } });
  const noDown = stepPlan('Disable scale-down of HPA api', { kind: 'target', operation: { type: 'set-hpa-scale-down', hpa: 'api', selectPolicy: 'Disabled', from: null }, undo: { type: 'set-hpa-scale-down', hpa: 'api', selectPolicy: null, from: 'Disabled' } });
  const acu = stepPlan('Set cluster prod capacity 2..16 ACU → 8..64 ACU', { kind: 'database', database: 'db', operation: { type: 'set-capacity', min: 8, max: 64, from: { min: 2, max: 16 } }, undo: { type: 'set-capacity', min: 2, max: 16, from: { min: 8, max: 64 } } });
  const db = (min: number, max: number) => ({ id: 'prod', status: 'available', capacity: { min, max }, members: [{ id: 'prod-1', role: 'writer' as const, instanceClass: 'db.serverless', status: 'available' }] });

  function approved(): Sim {
    const sim = Sim.start({ runbook: runbookFrom(EVENT_UP), replicas: 8, service: { params: { acu_min: 8, acu_max: 64 }, databases: ['db'] } });
    sim.answerChecks({ traffic: measured({ value: 3000 }) });
    // The step plans are asked for once the checks have answered, with their numbers computed.
    const asked = sim.of('plan-step');
    expect(asked.map((e) => [e.step, e.request])).toEqual([
      ['hpa-max', { kind: 'target', operation: 'hpa-bounds', max: 20 }],
      ['no-scale-down', { kind: 'target', operation: 'hpa-scale-down', enabled: false }],
      ['acu', { kind: 'database', database: 'db', operation: { type: 'set-capacity', min: 8, max: 64 } }],
    ]);
    sim.approve();
    expect(sim.run.status).toBe('awaiting'); // the step plans are not in yet
    for (const [step, plan] of [['hpa-max', hpaMax], ['no-scale-down', noDown], ['acu', acu]] as const) {
      sim.send({ type: 'step-plan-ready', step, attempt: 1, plan });
    }
    expect(sim.run.status).toBe('executing');
    return sim;
  }

  it('plans, then executes each change in order with its own key; the database is followed to available', () => {
    const sim = approved();
    sim.send({ type: 'action-done', step: 'scale', key: 'run-test0001/scale', before: { replicas: 5, readyReplicas: 5 }, after: { replicas: 10, readyReplicas: 5 } });
    expect(sim.of('execute').at(-1)).toEqual({ type: 'execute', step: 'hpa-max', key: 'run-test0001/hpa-max', operation: hpaMax.change.operation });
    sim.send({ type: 'action-done', step: 'hpa-max', key: 'run-test0001/hpa-max', before: { replicas: 10, readyReplicas: 10 }, after: { replicas: 10, readyReplicas: 10, hpa: { name: 'api', minReplicas: 8, maxReplicas: 20 } } });
    sim.send({ type: 'action-done', step: 'no-scale-down', key: 'run-test0001/no-scale-down', before: { replicas: 10, readyReplicas: 10 }, after: { replicas: 10, readyReplicas: 10, hpa: { name: 'api', minReplicas: 8, maxReplicas: 20, scaleDownDisabled: true } } });
    expect(sim.of('execute-database')).toEqual([{ type: 'execute-database', step: 'acu', key: 'run-test0001/acu', database: 'db', operation: acu.change.operation }]);
    const effects = sim.send({ type: 'database-done', step: 'acu', key: 'run-test0001/acu', database: 'db', before: db(2, 16), after: db(8, 64) });
    expect(sim.of('note', effects)[0]!.text).toContain('prod 2..16 ACU, 0 readers → prod 8..64 ACU, 0 readers');
    expect(sim.run.status).toBe('verifying');
    expect(sim.run.databases).toEqual({ db: { before: db(2, 16), after: db(8, 64) } });
  });

  it('a change that fails after others: says what changed and what did not, offers a rollback that undoes them newest first', () => {
    const sim = approved();
    sim.send({ type: 'action-done', step: 'scale', key: 'run-test0001/scale', before: { replicas: 5, readyReplicas: 5 }, after: { replicas: 10, readyReplicas: 5 } });
    sim.send({ type: 'action-done', step: 'hpa-max', key: 'run-test0001/hpa-max', before: { replicas: 10, readyReplicas: 10 }, after: { replicas: 10, readyReplicas: 10 } });
    sim.send({ type: 'action-done', step: 'no-scale-down', key: 'run-test0001/no-scale-down', before: { replicas: 10, readyReplicas: 10 }, after: { replicas: 10, readyReplicas: 10 } });
    const effects = sim.send({ type: 'action-failed', step: 'acu', key: 'run-test0001/acu', error: 'InvalidDBClusterStateFault: the cluster is modifying' });
    expect(sim.run.status).toBe('verify-failed');
    const report = sim.of('note', effects)[0]!.text;
    expect(report).toContain('*Partly executed.* Raise Aurora capacity failed: InvalidDBClusterStateFault');
    expect(report).toContain('Changed: Set Deployment prod/api-gateway replicas 5 → 10; Set HPA bounds 8..10 → 8..20; Disable scale-down of HPA api.');
    expect(report).toContain('Not changed: Raise Aurora capacity.');
    sim.send({ type: 'approve-rollback', actor: { user: 'U0CAROL', approver: true } });
    const undo = () => sim.of('execute').filter((e) => e.step === '@rollback').at(-1)!;
    expect(undo()).toMatchObject({ key: 'run-test0001/rollback', operation: noDown.change.undo });
    sim.send({ type: 'action-done', step: '@rollback', key: 'run-test0001/rollback', before: { replicas: 10, readyReplicas: 10 }, after: { replicas: 10, readyReplicas: 10 } });
    expect(undo()).toMatchObject({ key: 'run-test0001/rollback/1', operation: hpaMax.change.undo });
    sim.send({ type: 'action-done', step: '@rollback', key: 'run-test0001/rollback/1', before: { replicas: 10, readyReplicas: 10 }, after: { replicas: 10, readyReplicas: 10 } });
    expect(undo()).toMatchObject({ key: 'run-test0001/rollback/2', operation: { type: 'set-replicas', replicas: 5, from: 10 } });
    sim.send({ type: 'action-done', step: '@rollback', key: 'run-test0001/rollback/2', before: { replicas: 10, readyReplicas: 10 }, after: { replicas: 5, readyReplicas: 10 } });
    expect(sim.of('verify').at(-1)).toMatchObject({ step: '@rollback-verify', expect: { replicas: 5, atLeast: false } });
    sim.send({ type: 'verify-passed', step: '@rollback-verify', attempt: 1, result: passing('5/5 ready') });
    expect(sim.run.status).toBe('rolled-back');
    expect(sim.of('execute-database')).toHaveLength(1); // the failed database change is not "undone"
  });

  it('a step whose numbers cannot be computed blocks approval with the reason', () => {
    const sim = Sim.start({ runbook: runbookFrom(EVENT_UP), replicas: 8, service: { params: { acu_min: 8 }, databases: ['db'] } });
    sim.answerChecks({ traffic: measured({ value: 3000 }) });
    expect(sim.run.stepPlans!.acu!.error).toContain('unknown name "service.acu_max"');
    sim.approve();
    expect(sim.of('reply').at(-1)!.text).toContain('Cannot approve while blocked: Raise Aurora capacity: its numbers could not be computed');
  });

  it('validates each operation\'s fields', () => {
    expect(problemsOf(EVENT_UP.replace(', database: db, min: "service.acu_min"', ', min: "service.acu_min"')).join('\n')).toContain('database-capacity needs database');
    expect(problemsOf(EVENT_UP.replace('operation: hpa-scale-down, enabled: false', 'operation: hpa-scale-down')).join('\n')).toContain('hpa-scale-down needs enabled');
    expect(problemsOf(EVENT_UP.replace('operation: hpa-bounds, max:', 'operation: hpa-bounds, database: db, max:')).join('\n')).toContain('database does not apply to operation hpa-bounds');
  });
});

describe('step plans after Re-run checks', () => {
  it('the last attempt\'s plans do not count until the new ones are in', () => {
    const text = EVENT_UP.replace(/\n {4}- \{ id: no-scale-down.*\n/, '\n').replace(/\n {4}- \{ id: acu.*\n/, '\n');
    const sim = Sim.start({ runbook: runbookFrom(text), replicas: 8 });
    sim.answerChecks({ traffic: measured({ value: 3000 }) });
    const plan = { summary: 'Set HPA bounds 8..10 → 8..20', calls: ['PATCH'], changes: true, change: { kind: 'target' as const, operation: { type: 'set-hpa-bounds' as const, hpa: 'api', minReplicas: 8, maxReplicas: 20 } } };
    sim.send({ type: 'step-plan-ready', step: 'hpa-max', attempt: 1, plan });
    sim.send({ type: 'rerun-checks', actor: { user: 'U0ALICE', approver: false } });
    sim.answerChecks({ traffic: measured({ value: 3000 }) });
    sim.approve();
    expect(sim.run.status).toBe('awaiting');
    sim.send({ type: 'step-plan-ready', step: 'hpa-max', attempt: 2, plan });
    expect(sim.run.status).toBe('executing');
  });
});
