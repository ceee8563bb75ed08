// The runner's work on platforms: measurements, plans of steps, actions on databases, and the
// reconciliation of an action whose executor stopped. Each returns the event to feed back to the
// engine; nothing here decides what a run does next.
import type { Logger } from 'pino';
import type { RunEffect, RunEvent } from '../engine/events.ts';
import type { ProbeResult, Run, StepPlan, StepRequest, TargetState } from '../engine/run.ts';
import type { Clock } from '../ports/clock.port.ts';
import type { Coordination } from '../ports/coordination.port.ts';
import type { DatabaseOperation, DatabaseTarget } from '../ports/database-target.port.ts';
import type { Measurement, Probes } from '../ports/probe.port.ts';
import type { TargetResolver } from '../ports/scale-target.port.ts';

/** How long a database change may take to become available again before the action counts as failed. */
const DATABASE_SETTLE_MS = 30 * 60_000;

export interface PlatformDeps {
  targets: TargetResolver;
  databases?: (service: string, name: string) => DatabaseTarget;
  probes: Probes;
  coordination: Coordination;
  clock: Clock;
  log: Logger;
  replicaId: string;
}

export class PlatformWork {
  constructor(private readonly deps: PlatformDeps) {}

  targetStepPlan(service: string, request: Extract<StepRequest, { kind: 'target' }>): Promise<StepPlan> {
    const target = this.deps.targets(service);
    if (!target.planStep) return Promise.reject(new Error(`${request.operation} is not supported on this service's platform`));
    return target.planStep(request);
  }

  database(run: Run, name: string): DatabaseTarget {
    if (!this.deps.databases) throw new Error(`no database adapters are configured (database "${name}")`);
    return this.deps.databases(run.service.name, name);
  }

  /** Applies a database change and waits until the database is available again. */
  async applyDatabase(run: Run, effect: { step: string; key: string; database: string; operation: DatabaseOperation }): Promise<RunEvent> {
    const failed = (error: string): RunEvent => ({ type: 'action-failed', step: effect.step, key: effect.key, error });
    try {
      const db = this.database(run, effect.database);
      const result = await db.apply(effect.operation);
      const settled = await db.waitUntilAvailable(this.deps.clock.now() + DATABASE_SETTLE_MS, new AbortController().signal);
      if (!settled.passed) return failed(`the change was applied but ${effect.database} did not become available: ${settled.summary}`);
      return { type: 'database-done', step: effect.step, key: effect.key, database: effect.database, before: result.before, after: settled.state ?? result.after };
    } catch (error) {
      return failed(describeError(error));
    }
  }

  /** A database change whose executor stopped before confirming it: the journal, then the database itself. */
  async reconcileDatabase(run: Run, effect: Extract<RunEffect, { type: 'reconcile-database' }>): Promise<RunEvent> {
    const { coordination, clock } = this.deps;
    let record = await coordination.effectRecord(effect.key);
    if (!record && !(await coordination.beginEffect(effect.key, this.deps.replicaId, clock.now()))) record = await coordination.effectRecord(effect.key);
    if (record?.state === 'done') return JSON.parse(record.result) as RunEvent;
    const failed = (error: string): RunEvent => ({ type: 'action-failed', step: effect.step, key: effect.key, error });
    try {
      const seen = await this.database(run, effect.database).reconcile(effect.operation);
      if (seen.status === 'diverged') return failed(`the bot stopped while changing ${effect.database}, and it has since changed: ${seen.detail}. Nothing more was done; check it and request again`);
      const event = seen.status === 'applied'
        ? ({ type: 'database-done', step: effect.step, key: effect.key, database: effect.database, before: seen.state, after: seen.state } as RunEvent)
        : await this.applyDatabase(run, effect);
      await coordination.completeEffect(effect.key, this.deps.replicaId, clock.now(), JSON.stringify(event));
      return event;
    } catch (error) {
      return failed(`the bot stopped while changing ${effect.database} and it could not be read to check what happened: ${describeError(error)}`);
    }
  }

  /** One read-only probe: `kubernetes.*` through the service's target, the rest through the probe adapters. */
  async measure(run: Run, effect: Extract<RunEffect, { type: 'probe' }>): Promise<ProbeResult> {
    if (/^(kubernetes|azure|compose)\./.test(effect.probe)) return this.deps.targets(run.service.name).probe(effect.probe, effect.replicas, effect.params);
    if (effect.probe === 'aws.aurora') return this.measureDatabase(run, effect);
    const m: Measurement = await this.deps.probes.measure({ probe: effect.probe, params: effect.params, service: run.service.name, replicas: effect.replicas });
    // Measured: the probe's own verdict, or none (the runbook's pass condition decides).
    return { ok: m.ok ?? true, summary: m.summary, values: m.values, threshold: m.threshold, source: m.source, at: m.at, details: m.details };
  }

  /** The Aurora probe: capacity and members, as values a runbook reads. */
  private async measureDatabase(run: Run, effect: Extract<RunEffect, { type: 'probe' }>): Promise<ProbeResult> {
    const name = typeof effect.params.database === 'string' ? effect.params.database : undefined;
    const only = run.service.databases?.length === 1 ? run.service.databases[0] : undefined;
    if (!name && !only) throw new Error(`name the database: with: { database: … } (known: ${run.service.databases?.join(', ') || 'none'})`);
    const state = await this.database(run, (name ?? only)!).read();
    const readers = state.members.filter((m) => m.role === 'reader').length;
    const writers = state.members.filter((m) => m.role === 'writer').length;
    const available = state.status === 'available' && state.members.every((m) => m.status === 'available') ? 1 : 0;
    return {
      ok: available === 1,
      summary: `Aurora ${state.id}: ${state.status}${state.capacity ? `, ${state.capacity.min}..${state.capacity.max} ACU` : ''}, ${writers} writer, ${readers} reader${readers === 1 ? '' : 's'}`,
      values: { min_acu: state.capacity?.min ?? 0, max_acu: state.capacity?.max ?? 0, readers, writers, available },
      source: `RDS API (cluster ${state.id})`,
      at: this.deps.clock.now(),
      details: state.members.map((m) => `${m.id}: ${m.role}, ${m.instanceClass}, ${m.status}`),
    };
  }

  /** An action whose executor stopped before confirming it: ask the journal, then the target. */
  async reconcile(run: Run, effect: Extract<RunEffect, { type: 'reconcile' }>): Promise<RunEvent> {
    const { coordination, clock, targets } = this.deps;
    const log = this.deps.log.child({ runId: run.id, key: effect.key });
    let record = await coordination.effectRecord(effect.key);
    if (!record && !(await coordination.beginEffect(effect.key, this.deps.replicaId, clock.now()))) {
      // The original executor journalled it just now: it is alive after all; read what it recorded.
      record = await coordination.effectRecord(effect.key);
    }
    if (record?.state === 'done') {
      log.info('action had completed before the restart; using its journalled result');
      return JSON.parse(record.result) as RunEvent;
    }
    const target = targets(run.service.name);
    const failed = (error: string): RunEvent => ({ type: 'action-failed', step: effect.step, key: effect.key, error });
    try {
      const seen = await target.reconcile(effect.operation);
      if (seen.status === 'applied') {
        log.info('action had been applied before the restart; not repeating it');
        const before = beforeOf(effect.operation, seen.state);
        const event: RunEvent = { type: 'action-done', step: effect.step, key: effect.key, before, after: seen.state };
        await coordination.completeEffect(effect.key, this.deps.replicaId, clock.now(), JSON.stringify(event));
        return event;
      }
      if (seen.status === 'diverged') return failed(`the bot stopped while executing, and the target has since changed: ${seen.detail}. Nothing more was done; check it and request again`);
      // Provably not applied: applying it now is the first application, not a repetition.
      log.info('action had not been applied before the restart; applying it now');
      const event = await target
        .apply(effect.operation)
        .then((r): RunEvent => ({ type: 'action-done', step: effect.step, key: effect.key, before: r.before, after: r.after }))
        .catch((error): RunEvent => failed(describeError(error)));
      await coordination.completeEffect(effect.key, this.deps.replicaId, clock.now(), JSON.stringify(event));
      return event;
    } catch (error) {
      return failed(`the bot stopped while executing and the target could not be read to check what happened: ${describeError(error)}`);
    }
  }

}

/** The state an operation found, from the state it left (for a reconciled action's record). */
function beforeOf(operation: Extract<RunEffect, { type: 'reconcile' }>['operation'], after: TargetState): TargetState {
  if (operation.type === 'set-replicas') return { replicas: operation.from ?? after.replicas, readyReplicas: after.readyReplicas };
  if (operation.type === 'set-replica-bounds') return { ...after, bounds: operation.from ?? after.bounds };
  if (operation.type === 'set-hpa-scale-down') return { ...after, hpa: after.hpa ? { ...after.hpa, scaleDownDisabled: operation.from === 'Disabled' } : after.hpa };
  return { ...after, hpa: operation.from && after.hpa ? { ...after.hpa, ...operation.from } : after.hpa };
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
