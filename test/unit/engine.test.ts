import { describe, expect, it } from 'vitest';
import { ROLLBACK_STEP, ROLLBACK_VERIFY_STEP } from '../../src/engine/transition.ts';
import { passing, plan, Sim, T0 } from '../support/engine-fixtures.ts';

const MIN = 60_000;

function readyToExecute(opts: Parameters<typeof Sim.start>[0] = {}): Sim {
  const sim = Sim.start(opts);
  sim.answerChecks();
  sim.tickAll();
  return sim;
}

describe('creating a run', () => {
  it('asks for the plan and every adapter probe, answers request.limits itself, and arms the expiry', () => {
    const sim = Sim.start();
    expect(sim.run.status).toBe('checking');
    expect(sim.of('plan')).toEqual([{ type: 'plan', attempt: 1, replicas: 10 }]);
    expect(sim.of('probe').map((p) => p.probe)).toEqual(['kubernetes.replicas', 'kubernetes.hpa', 'kubernetes.pending-pods', 'kubernetes.node-capacity']);
    expect(sim.run.steps['within-limits']).toMatchObject({ status: 'passed', result: { summary: '10 is within the limits 3..50' } });
    expect(sim.of('schedule')).toEqual([{ type: 'schedule', at: T0 + 30 * MIN, name: 'approval-expiry' }]);
  });

  it('posts the evidence once every check has answered, then waits', () => {
    const sim = Sim.start();
    const effects = sim.answerChecks({ 'node-capacity': passing('12 more pods fit on 3 nodes, 5 needed') });
    expect(sim.run.status).toBe('awaiting');
    const notes = sim.of('note', effects);
    expect(notes).toHaveLength(1);
    expect(notes[0]!.text).toContain('12 more pods fit on 3 nodes, 5 needed');
    expect(notes[0]!.text).toContain('*Plan:* Set Deployment prod/api-gateway replicas 5 → 10');
  });

  it('ends at once when the target is already as requested', () => {
    const sim = Sim.start();
    const effects = sim.send({ type: 'plan-ready', attempt: 1, plan: plan({ changes: false, before: { replicas: 10, readyReplicas: 10 } }) });
    expect(sim.run.status).toBe('unchanged');
    expect(sim.of('release-target', effects)).toHaveLength(1);
    expect(sim.of('execute')).toHaveLength(0);
  });

  it('ignores a late result of an earlier attempt', () => {
    const sim = Sim.start();
    sim.answerChecks();
    sim.send({ type: 'rerun-checks', actor: { user: 'U0BOB', approver: true } });
    const before = sim.run;
    sim.send({ type: 'probe-result', step: 'pending-pods', attempt: 1, result: { ok: false, summary: 'old', source: 't', at: T0 } });
    expect(sim.run).toBe(before);
  });
});

describe('approval', () => {
  it('never lets the requester approve their own run', () => {
    const sim = readyToExecute();
    const effects = sim.approve('U0ALICE', true);
    expect(sim.run.approvals).toEqual([]);
    expect(sim.of('reply', effects)[0]!.text).toMatch(/You requested run run-test0001, so you cannot approve this run: a second person must\. Approvers for api-gateway: <@U0BOB> or <@U0CAROL>\./);
  });

  it('refuses people outside the policy and says who may approve', () => {
    const sim = readyToExecute();
    const effects = sim.approve('U0MALLORY', false);
    expect(sim.run.approvals).toEqual([]);
    expect(sim.of('reply', effects)[0]!.text).toContain('You are not an approver for api-gateway');
  });

  it('refuses while checks are still running', () => {
    const sim = Sim.start();
    const effects = sim.approve();
    expect(sim.of('reply', effects)[0]!.text).toContain('still running');
    expect(sim.run.approvals).toEqual([]);
  });

  it('refuses an approval given on evidence that has since changed', () => {
    const sim = readyToExecute();
    const effects = sim.send({ type: 'approve', actor: { user: 'U0BOB', approver: true }, evidenceRev: sim.run.evidenceRev - 1 });
    expect(sim.of('reply', effects)[0]!.text).toContain('changed since this card was shown');
    expect(sim.of('execute')).toHaveLength(0);
  });

  it('refuses while a blocking check failed, naming it', () => {
    const sim = Sim.start();
    sim.answerChecks({ 'node-capacity': { ok: false, summary: 'not enough room: 2 more pods fit, 5 needed', source: 't', at: T0 } });
    sim.tickAll();
    const effects = sim.approve();
    expect(sim.of('reply', effects)[0]!.text).toContain('Cannot approve while blocked: Room on the nodes for the extra pods: not enough room: 2 more pods fit, 5 needed');
    expect(sim.of('execute')).toHaveLength(0);
  });

  it('blocks on a blocking probe that could not measure, but only warns for a warn check', () => {
    const sim = Sim.start();
    sim.answerChecks({
      'pending-pods': { ok: undefined, summary: 'could not measure: connect ECONNREFUSED', source: 't', at: T0 },
      hpa: { ok: undefined, summary: 'could not measure: 403', source: 't', at: T0 },
    });
    expect(sim.run.steps['pending-pods']!.status).toBe('unmeasured');
    expect(sim.run.steps.hpa!.status).toBe('warned');
    sim.tickAll();
    expect(sim.of('reply', sim.approve())[0]!.text).toContain('No Pending pods now: could not measure');
  });

  it('a double click approves once', () => {
    const sim = Sim.start({ service: { approvals: { required: 2, approvers: ['U0BOB', 'U0CAROL'] } } });
    sim.answerChecks();
    sim.tickAll();
    sim.approve('U0BOB');
    const second = sim.approve('U0BOB');
    expect(sim.run.approvals.map((a) => a.user)).toEqual(['U0BOB']);
    expect(sim.of('reply', second)[0]!.text).toBe('You have already approved this run.');
    expect(sim.of('execute')).toHaveLength(0);
    sim.approve('U0CAROL');
    expect(sim.of('execute')).toHaveLength(1);
  });

  it('waits for the manual checklist even when approved', () => {
    const sim = Sim.start();
    sim.answerChecks();
    sim.approve();
    expect(sim.run.status).toBe('awaiting');
    expect(sim.of('execute')).toHaveLength(0);
    sim.tickAll('U0DAVE');
    expect(sim.run.steps['team-notified']).toMatchObject({ status: 'done', by: 'U0DAVE', at: T0 });
    expect(sim.run.status).toBe('executing');
    expect(sim.of('execute')).toEqual([{ type: 'execute', step: 'scale', key: 'run-test0001/scale', operation: { type: 'set-replicas', replicas: 10, from: 5 } }]);
  });

  it('resets approvals when a re-run changes the evidence', () => {
    const sim = Sim.start({ service: { approvals: { required: 2, approvers: ['U0BOB', 'U0CAROL'] } } });
    sim.answerChecks();
    sim.approve('U0BOB');
    const rev = sim.run.evidenceRev;
    sim.send({ type: 'rerun-checks', actor: { user: 'U0ALICE', approver: false } });
    const effects = sim.answerChecks({ 'pending-pods': { ok: true, summary: 'no Pending pods', source: 't', at: T0 } });
    expect(sim.run.evidenceRev).toBe(rev + 1);
    expect(sim.run.approvals).toEqual([]);
    expect(sim.of('note', effects).some((n) => n.text.includes('Approvals reset because "No Pending pods now" changed'))).toBe(true);
  });

  it('keeps approvals when a re-run finds the same evidence', () => {
    const sim = Sim.start({ service: { approvals: { required: 2, approvers: ['U0BOB', 'U0CAROL'] } } });
    sim.answerChecks();
    sim.approve('U0BOB');
    sim.send({ type: 'rerun-checks', actor: { user: 'U0ALICE', approver: false } });
    sim.answerChecks();
    expect(sim.run.approvals.map((a) => a.user)).toEqual(['U0BOB']);
  });

  it('expires: a run not approved in time executes nothing', () => {
    const sim = Sim.start();
    sim.answerChecks();
    sim.tickAll();
    const early = sim.send({ type: 'timer', name: 'approval-expiry' }, 10 * MIN);
    expect(sim.run.status).toBe('awaiting');
    expect(sim.of('schedule', early)).toHaveLength(1);
    const effects = sim.send({ type: 'timer', name: 'approval-expiry' }, 20 * MIN);
    expect(sim.run.status).toBe('expired');
    expect(sim.of('announce', effects)[0]!.text).toContain('expired after 30m (1 approval was missing). Nothing was executed.');
    expect(sim.of('release-target', effects)).toHaveLength(1);
    sim.approve();
    expect(sim.of('execute')).toHaveLength(0);
  });

  it('rejection ends the run; the requester cannot reject (they cancel)', () => {
    const sim = readyToExecute();
    const own = sim.send({ type: 'reject', actor: { user: 'U0ALICE', approver: true } });
    expect(sim.of('reply', own)[0]!.text).toContain('use Cancel');
    const effects = sim.send({ type: 'reject', actor: { user: 'U0CAROL', approver: true } });
    expect(sim.run.status).toBe('rejected');
    expect(sim.of('announce', effects)[0]!.text).toContain('rejected by <@U0CAROL>');
    const late = sim.approve();
    expect(sim.of('reply', late)[0]!.text).toContain('finished: rejected; nothing was changed');
  });
});

describe('cancel', () => {
  it('by the requester or an approver, before execution only', () => {
    const sim = readyToExecute();
    const stranger = sim.send({ type: 'cancel', actor: { user: 'U0EVE', approver: false } });
    expect(sim.of('reply', stranger)[0]!.text).toContain('Only the requester');
    sim.approve();
    expect(sim.run.status).toBe('executing');
    const late = sim.send({ type: 'cancel', actor: { user: 'U0ALICE', approver: false } });
    expect(sim.of('reply', late)[0]!.text).toContain('execution has begun, so it cannot be cancelled');
  });

  it('releases the target', () => {
    const sim = readyToExecute();
    const effects = sim.send({ type: 'cancel', actor: { user: 'U0ALICE', approver: false } });
    expect(sim.run.status).toBe('cancelled');
    expect(sim.of('release-target', effects)).toHaveLength(1);
  });
});

describe('execute and verify', () => {
  it('executes once, verifies with the runbook deadline, and announces the outcome', () => {
    const sim = readyToExecute();
    sim.approve();
    expect(sim.of('execute')).toHaveLength(1);
    const dup = sim.send({ type: 'action-done', step: 'scale', key: 'run-test0001/other', before: { replicas: 5, readyReplicas: 5 }, after: { replicas: 10, readyReplicas: 5 } });
    expect(dup).toEqual([]);
    sim.send({ type: 'action-done', step: 'scale', key: 'run-test0001/scale', before: { replicas: 5, readyReplicas: 5 }, after: { replicas: 10, readyReplicas: 5 } }, 1000);
    expect(sim.run.status).toBe('verifying');
    const verify = sim.of('verify');
    expect(verify).toEqual([{ type: 'verify', step: 'rollout', attempt: 1, expect: { replicas: 10, atLeast: false }, deadline: sim.now + 10 * MIN }]);
    const effects = sim.send({ type: 'verify-passed', step: 'rollout', attempt: 1, result: passing('10/10 ready') }, 95_000);
    expect(sim.run.status).toBe('succeeded');
    const announce = sim.of('announce', effects)[0]!.text;
    expect(announce).toContain('api-gateway scaled 5 replicas → 10 replicas and verified in 1m 36s');
    expect(announce).toContain('Requested by <@U0ALICE> (campaign), approved by <@U0BOB>');
    expect(sim.of('release-target', effects)).toHaveLength(1);
  });

  it('an action failure ends the run and says why', () => {
    const sim = readyToExecute();
    sim.approve();
    const effects = sim.send({ type: 'action-failed', step: 'scale', key: 'run-test0001/scale', error: 'could not patch: Kubernetes answered 403: forbidden' });
    expect(sim.run.status).toBe('failed');
    expect(sim.of('announce', effects)[0]!.text).toContain('failed: could not patch: Kubernetes answered 403');
  });

  it('a failed verification offers rollback under the same policy, and rolls back once', () => {
    const sim = readyToExecute();
    sim.approve();
    sim.send({ type: 'action-done', step: 'scale', key: 'run-test0001/scale', before: { replicas: 5, readyReplicas: 5 }, after: { replicas: 10, readyReplicas: 5 } });
    const failed = sim.send({ type: 'verify-failed', step: 'rollout', attempt: 1, result: { ok: false, summary: 'stuck after 10m: 7/10 ready, 3 Pending', details: ['api-gateway-x: Unschedulable: 0/3 nodes are available: 3 Insufficient cpu.'], source: 't', at: T0 } });
    expect(sim.run.status).toBe('verify-failed');
    expect(sim.of('note', failed)[0]!.text).toContain('Insufficient cpu');
    const own = sim.send({ type: 'approve-rollback', actor: { user: 'U0ALICE', approver: true } });
    expect(sim.of('reply', own)[0]!.text).toContain('cannot approve the rollback');
    const cancel = sim.send({ type: 'cancel', actor: { user: 'U0ALICE', approver: false } });
    expect(sim.of('reply', cancel)[0]!.text).toContain('use *Roll back* or *Close without rollback*');
    sim.send({ type: 'approve-rollback', actor: { user: 'U0CAROL', approver: true } });
    sim.send({ type: 'approve-rollback', actor: { user: 'U0CAROL', approver: true } });
    const executes = sim.of('execute');
    expect(executes).toHaveLength(2);
    expect(executes[1]).toEqual({ type: 'execute', step: ROLLBACK_STEP, key: 'run-test0001/rollback', operation: { type: 'set-replicas', replicas: 5, from: 10 } });
    sim.send({ type: 'action-done', step: ROLLBACK_STEP, key: 'run-test0001/rollback', before: { replicas: 10, readyReplicas: 7 }, after: { replicas: 5, readyReplicas: 7 } });
    expect(sim.of('verify').at(-1)).toMatchObject({ step: ROLLBACK_VERIFY_STEP, expect: { replicas: 5, atLeast: false } });
    const done = sim.send({ type: 'verify-passed', step: ROLLBACK_VERIFY_STEP, attempt: 1, result: passing('5/5 ready') });
    expect(sim.run.status).toBe('rolled-back');
    expect(sim.of('announce', done)[0]!.text).toContain('was rolled back after a failed verification: back to 5 replicas');
  });

  it('dry run: everything but execution, saying which call it would make', () => {
    const sim = readyToExecute({ dryRun: true });
    const effects = sim.approve();
    expect(sim.run.status).toBe('dry-run-complete');
    expect(sim.of('execute')).toHaveLength(0);
    expect(sim.of('note', effects).at(-1)!.text).toContain('`PATCH /apis/apps/v1/namespaces/prod/deployments/api-gateway/scale (merge patch) {"spec":{"replicas":10}}`');
    expect(sim.of('release-target', effects)).toHaveLength(0);
  });
});

describe('the checklist', () => {
  it('records who ticked and when; unticking reopens it', () => {
    const sim = Sim.start();
    sim.answerChecks();
    sim.send({ type: 'ticks', actor: { user: 'U0DAVE', approver: false }, changes: [{ step: 'team-notified', ticked: true }], allowed: [] }, 5000);
    expect(sim.run.steps['team-notified']).toMatchObject({ status: 'done', by: 'U0DAVE', at: T0 + 5000 });
    sim.send({ type: 'ticks', actor: { user: 'U0DAVE', approver: false }, changes: [{ step: 'team-notified', ticked: false }], allowed: [] });
    expect(sim.run.steps['team-notified']!.status).toBe('pending');
  });

  it('ignores steps that are not manual steps of this run', () => {
    const sim = Sim.start();
    sim.answerChecks();
    const before = sim.run;
    sim.send({ type: 'ticks', actor: { user: 'U0DAVE', approver: false }, changes: [{ step: 'node-capacity', ticked: true }, { step: 'nope', ticked: true }], allowed: [] });
    expect(sim.run).toBe(before);
  });
});

describe('safety edges found in review', () => {
  it('an approval after the window closed expires the run even if the timer never fired', () => {
    const sim = readyToExecute();
    const effects = sim.approve('U0BOB');
    expect(sim.run.status).toBe('executing');
    const late = readyToExecute();
    late.now += 45 * MIN;
    const lateEffects = late.approve('U0BOB');
    expect(late.run.status).toBe('expired');
    expect(late.of('execute')).toHaveLength(0);
    expect(late.of('reply', lateEffects)[0]!.text).toContain('Too late');
    expect(sim.of('execute', effects)).toHaveLength(1);
  });

  it('the last tick after the window closed executes nothing', () => {
    const sim = Sim.start();
    sim.answerChecks();
    sim.approve('U0BOB');
    sim.now += 31 * MIN;
    sim.tickAll();
    expect(sim.run.status).toBe('expired');
    expect(sim.of('execute')).toHaveLength(0);
  });

  it('the scale-up runbook refuses a request that would lower capacity', () => {
    const sim = Sim.start();
    const effects = sim.send({ type: 'plan-ready', attempt: 1, plan: plan({ before: { replicas: 20, readyReplicas: 20 } }) });
    expect(sim.run.status).toBe('cancelled');
    expect(sim.of('note', effects)[0]!.text).toContain('would lower Deployment prod/api-gateway from 20 replicas to 10');
    expect(sim.of('release-target', effects)).toHaveLength(1);
  });

  it('the scale-up runbook refuses lowering an HPA floor', () => {
    const sim = Sim.start();
    sim.send({ type: 'plan-ready', attempt: 1, plan: plan({ before: { replicas: 12, readyReplicas: 12, hpa: { name: 'api-gateway', minReplicas: 12, maxReplicas: 50 } } }) });
    expect(sim.run.status).toBe('cancelled');
  });

  it('a late verification answer does not rewrite a run that has moved on', () => {
    const sim = readyToExecute();
    sim.approve();
    sim.send({ type: 'action-done', step: 'scale', key: 'run-test0001/scale', before: { replicas: 5, readyReplicas: 5 }, after: { replicas: 10, readyReplicas: 5 } });
    sim.send({ type: 'verify-failed', step: 'rollout', attempt: 1, result: { ok: false, summary: 'stuck', source: 't', at: T0 } });
    sim.send({ type: 'approve-rollback', actor: { user: 'U0CAROL', approver: true } });
    expect(sim.run.status).toBe('rolling-back');
    const late = sim.send({ type: 'verify-passed', step: 'rollout', attempt: 1, result: passing() });
    expect(late).toEqual([]);
    expect(sim.run.status).toBe('rolling-back');
  });

  it('close keeps the target as it is, and only after a failed verification', () => {
    const sim = readyToExecute();
    const early = sim.send({ type: 'close', actor: { user: 'U0ALICE', approver: false } });
    expect(sim.of('reply', early)[0]!.text).toContain('only a run whose verification failed can be closed');
    sim.approve();
    sim.send({ type: 'action-done', step: 'scale', key: 'run-test0001/scale', before: { replicas: 5, readyReplicas: 5 }, after: { replicas: 10, readyReplicas: 5 } });
    sim.send({ type: 'verify-failed', step: 'rollout', attempt: 1, result: { ok: false, summary: 'stuck', source: 't', at: T0 } });
    const closed = sim.send({ type: 'close', actor: { user: 'U0ALICE', approver: false } });
    expect(sim.run.status).toBe('failed');
    expect(sim.of('release-target', closed)).toHaveLength(1);
    expect(sim.of('execute')).toHaveLength(1);
  });

  it('the announcement uses the before-state the action read, not the plan', () => {
    const sim = readyToExecute();
    sim.approve();
    sim.send({ type: 'action-done', step: 'scale', key: 'run-test0001/scale', before: { replicas: 6, readyReplicas: 6 }, after: { replicas: 10, readyReplicas: 6 } });
    const effects = sim.send({ type: 'verify-passed', step: 'rollout', attempt: 1, result: passing() });
    expect(sim.of('announce', effects)[0]!.text).toContain('scaled 6 replicas → 10 replicas');
  });

  it('an expiry note says what was missing', () => {
    const sim = Sim.start();
    sim.answerChecks();
    sim.approve('U0BOB');
    const effects = sim.send({ type: 'timer', name: 'approval-expiry' }, 30 * MIN);
    expect(sim.of('note', effects)[0]!.text).toContain('2 checklist items were not ticked');
    expect(sim.of('note', effects)[0]!.text).not.toContain('approval was missing');
  });
});

describe('resuming after the driving replica stopped', () => {
  it('re-issues running checks and the plan with their current attempts', () => {
    const sim = Sim.start();
    const effects = sim.send({ type: 'resume', by: 'replica b' });
    expect(sim.of('plan', effects)).toEqual([{ type: 'plan', attempt: 1, replicas: 10 }]);
    expect(sim.of('probe', effects).map((p) => [p.step, p.attempt])).toEqual([['current-replicas', 1], ['hpa', 1], ['pending-pods', 1], ['node-capacity', 1]]);
    expect(sim.of('note', effects)[0]!.text).toContain('stopped during the pre-scale checks; replica b resumed it');
  });

  it('reconciles an action that started but was never confirmed, instead of executing it again', () => {
    const sim = readyToExecute();
    sim.approve();
    const effects = sim.send({ type: 'resume', by: 'replica b' });
    expect(sim.of('execute', effects)).toHaveLength(0);
    expect(sim.of('reconcile', effects)).toEqual([{ type: 'reconcile', step: 'scale', key: 'run-test0001/scale', operation: { type: 'set-replicas', replicas: 10, from: 5 } }]);
    expect(sim.of('audit', effects).map((a) => a.record.type)).toEqual(['resume']);
  });

  it('follows a verification again with its original deadline', () => {
    const sim = readyToExecute();
    sim.approve();
    sim.send({ type: 'action-done', step: 'scale', key: 'run-test0001/scale', before: { replicas: 5, readyReplicas: 5 }, after: { replicas: 10, readyReplicas: 5 } });
    const deadline = sim.run.steps.rollout!.deadline;
    const effects = sim.send({ type: 'resume', by: 'replica b' }, 60_000);
    expect(sim.of('verify', effects)).toEqual([{ type: 'verify', step: 'rollout', attempt: 1, expect: { replicas: 10, atLeast: false }, deadline }]);
    expect(sim.of('note', effects)[0]!.text).toContain('stopped during verification');
  });

  it('does nothing for a finished run', () => {
    const sim = readyToExecute();
    sim.send({ type: 'cancel', actor: { user: 'U0ALICE', approver: false } });
    expect(sim.send({ type: 'resume', by: 'replica b' })).toEqual([]);
  });
});

describe('the audit record', () => {
  it('records request, ticks, approval, action before/after with its key, and the outcome', () => {
    const sim = readyToExecute();
    sim.approve();
    sim.send({ type: 'action-done', step: 'scale', key: 'run-test0001/scale', before: { replicas: 5, readyReplicas: 5 }, after: { replicas: 10, readyReplicas: 5 } });
    sim.send({ type: 'verify-passed', step: 'rollout', attempt: 1, result: passing() });
    const records = sim.of('audit').map((a) => a.record);
    expect(records.map((r) => r.type)).toEqual(['request', 'tick', 'tick', 'approval', 'action-started', 'action-done', 'outcome']);
    expect(records[0]).toMatchObject({ user: 'U0ALICE', detail: 'api-gateway to 10 replicas: campaign' });
    expect(records[5]).toMatchObject({ key: 'run-test0001/scale', before: { replicas: 5 }, after: { replicas: 10 } });
    expect(records[6]).toMatchObject({ detail: 'succeeded' });
  });
});
