// The runner carries out the engine's effects through the ports and feeds their results back as
// events. It owns no decisions: every change of a run goes through `transition` and a
// compare-and-set write, so a losing writer (another click, another replica) re-reads and re-decides.
//
// Several replicas: the replica that wins a transition carries out its effects and takes the run's
// lease (it becomes the run's driver, heartbeating the lease). An action runs only after its
// idempotency key is journalled as started, which succeeds once per key across all replicas. When a
// driver dies its leases expire; another replica's recovery sweep takes them and resumes the runs.
import type { Logger } from 'pino';
import { cardView } from '../engine/card-view.ts';
import type { Actor, RunEffect, RunEvent } from '../engine/events.ts';
import { isActive, type ProbeResult, type Run, type RunRequest, type ServiceSnapshot } from '../engine/run.ts';
import { createRun, transition } from '../engine/transition.ts';
import type { AuditLog } from '../ports/audit-log.port.ts';
import type { ChatPort, MessageRef } from '../ports/chat.port.ts';
import type { Clock } from '../ports/clock.port.ts';
import type { Coordination, Lease } from '../ports/coordination.port.ts';
import type { RunStore } from '../ports/run-store.port.ts';
import type { TargetResolver } from '../ports/scale-target.port.ts';
import type { Probes } from '../ports/probe.port.ts';
import type { DatabaseTarget } from '../ports/database-target.port.ts';
import type { Scheduler, TimerJob } from '../ports/scheduler.port.ts';
import type { Runbook } from '../workflows/runbook-schema.ts';
import { ApproverPolicy } from './approver-policy.ts';
import { describeError, PlatformWork } from './platform-work.ts';
import { KeyedQueue } from './keyed-queue.ts';

export interface RunnerDeps {
  store: RunStore;
  chat: ChatPort;
  targets: TargetResolver;
  /** The databases a service's runbooks may change (catalog `databases`), by service and name. */
  databases?: (service: string, name: string) => DatabaseTarget;
  /** Prometheus, PostgreSQL, Redis, queue and HTTP probes (the `kubernetes.*` ones go to the target). */
  probes: Probes;
  clock: Clock;
  log: Logger;
  newRunId: () => string;
  coordination: Coordination;
  scheduler: Scheduler;
  audit: AuditLog;
  /** This process, as named in leases and the effect journal. */
  replicaId: string;
  /** How long a driver's lease lasts without a heartbeat (default 15 s). */
  leaseTtlMs?: number;
  /** Opens the scheduled scale-down run of a finished scale-up; resolves to the new run's id (throws with why not). */
  openScaleDown?: (run: Run, requester: string) => Promise<string>;
  /** Called after each stored transition (metrics). */
  onTransition?: (before: Run, after: Run, now: number) => void;
}

export type StartResult =
  | { started: true; run: Run; card: MessageRef }
  | { started: false; reason: 'busy'; holder: Run | undefined; holderId: string }
  | { started: false; reason: 'card-failed'; error: string };

export interface DispatchOutcome {
  found: boolean;
  changed: boolean;
  replies: string[];
  run?: Run;
}

const MAX_CAS_ATTEMPTS = 20;
/** Effects that are work on the run's behalf (as opposed to messages): their executor drives the run. */
const WORK: ReadonlySet<RunEffect['type']> = new Set(['plan', 'plan-step', 'probe', 'execute', 'execute-database', 'reconcile', 'reconcile-database', 'verify']);

export class Runner {
  private readonly perRun = new KeyedQueue();
  private readonly chatQueue = new KeyedQueue();
  private readonly cardRefresh = new Map<string, { dirty: boolean }>();
  /** Verifications in flight, by run, so losing a run's lease stops them. */
  private readonly verifications = new Map<string, Map<string, AbortController>>();
  /** Runs this replica drives, with their lease. */
  private readonly driving = new Map<string, Lease>();
  private heartbeat: NodeJS.Timeout | undefined;
  private ticking = false;
  /** Runs being resumed by this replica right now (so two overlapping sweeps cannot both resume one). */
  private readonly recovering = new Set<string>();
  /** Work effects in flight (plan, probes, actions, reconciles), so shutdown can wait for them. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private stopped = false;
  readonly policy: ApproverPolicy;
  private readonly leaseTtlMs: number;

  private readonly work: PlatformWork;

  constructor(private readonly deps: RunnerDeps) {
    this.policy = new ApproverPolicy(deps.chat);
    this.work = new PlatformWork(deps);
    this.leaseTtlMs = deps.leaseTtlMs ?? 15_000;
  }

  /** Starts timers delivery, lease heartbeats and the recovery of runs whose driver died. */
  async begin(): Promise<void> {
    await this.deps.scheduler.start((job) => this.onTimer(job));
    const every = Math.max(200, Math.floor(this.leaseTtlMs / 3));
    this.heartbeat = setInterval(() => void this.tick(), every);
    this.heartbeat.unref();
    await this.recover().catch((error) => this.deps.log.warn({ err: describeError(error) }, 'recovery at start-up failed; the heartbeat will retry'));
  }

  private async onTimer(job: TimerJob): Promise<void> {
    await this.dispatch(job.runId, { type: 'timer', name: job.name });
  }

  /** Renews the leases of the runs this replica drives; recovers runs nobody drives. */
  private async tick(): Promise<void> {
    // One sweep at a time: sweeps that pile up (a slow Redis) must not act twice.
    if (this.stopped || this.ticking) return;
    this.ticking = true;
    try {
      // Snapshot first: a run started or re-driven while the list is read is not ours to drop.
      const driven = [...this.driving];
      const active = await this.deps.store.list({ active: true });
      const activeIds = new Set(active.map((r) => r.id));
      for (const [runId, lease] of driven) {
        try {
          if (this.driving.get(runId) !== lease) continue;
          // A run may have ended on another replica (a click, a timer): stop driving it.
          if (!activeIds.has(runId)) {
            await this.release(runId, lease);
            continue;
          }
          const kept = await this.deps.coordination.renewLease(runId, lease, this.leaseTtlMs);
          if (!kept && this.driving.get(runId) === lease) this.letGo(runId, 'lease taken over');
        } catch (error) {
          this.deps.log.warn({ runId, err: describeError(error) }, 'lease renewal failed');
        }
      }
      await this.recover(active);
    } catch (error) {
      this.deps.log.warn({ err: describeError(error) }, 'heartbeat failed');
    } finally {
      this.ticking = false;
    }
  }

  /** Resumes active runs whose driver's lease has expired (it crashed, or was killed). */
  async recover(active?: Run[]): Promise<number> {
    let resumed = 0;
    for (const run of active ?? (await this.deps.store.list({ active: true }))) {
      if (this.stopped || this.driving.has(run.id) || this.recovering.has(run.id) || run.status === 'verify-failed') continue;
      this.recovering.add(run.id);
      try {
        if (await this.deps.coordination.leaseOf(run.id)) continue;
        const lease = await this.deps.coordination.acquireLease(run.id, this.deps.replicaId, this.leaseTtlMs);
        if (!lease) continue;
        this.driving.set(run.id, lease);
        this.deps.log.warn({ runId: run.id, status: run.status }, 'resuming a run whose driver stopped');
        await this.dispatch(run.id, { type: 'resume', by: `replica ${this.deps.replicaId}` });
        resumed++;
      } catch (error) {
        this.deps.log.warn({ runId: run.id, err: describeError(error) }, 'could not resume run; will try again');
      } finally {
        this.recovering.delete(run.id);
      }
    }
    return resumed;
  }

  private letGo(runId: string, why: string): void {
    this.driving.delete(runId);
    const running = this.verifications.get(runId);
    if (running?.size) this.deps.log.info({ runId, why }, 'stopping verifications of a run this replica no longer drives');
    for (const controller of running?.values() ?? []) controller.abort();
    this.verifications.delete(runId);
  }

  private async drive(runId: string): Promise<void> {
    const lease = await this.deps.coordination.takeLease(runId, this.deps.replicaId, this.leaseTtlMs);
    this.driving.set(runId, lease);
  }

  /** Opens a run: claims the target, posts the card, then starts the checks. */
  async start(service: ServiceSnapshot, runbook: Runbook, request: RunRequest): Promise<StartResult> {
    const { store, chat, clock } = this.deps;
    const id = this.deps.newRunId();
    const log = this.deps.log.child({ runId: id, service: service.name });
    if (!request.dryRun) {
      const claim = await store.claimTarget(service.targetKey, id);
      if (!claim.claimed) return { started: false, reason: 'busy', holder: await store.get(claim.holder), holderId: claim.holder };
    }
    const created = createRun({ id, now: clock.now(), service, runbook, request });
    await store.create(created.run);
    await this.drive(id);
    let card: MessageRef;
    try {
      card = await chat.postCard(service.channel, cardView({ ...created.run, version: 1 }));
    } catch (error) {
      const message = describeError(error);
      log.error({ err: message }, 'could not post the run card');
      const run = await store.get(id);
      if (run) await store.compareAndSet({ ...run, status: 'cancelled', failure: `card could not be posted: ${message}`, finishedAt: clock.now() }, run.version);
      if (!request.dryRun) await store.releaseTarget(service.targetKey, id);
      await this.release(id);
      return { started: false, reason: 'card-failed', error: message };
    }
    log.info({ replicas: request.replicas, requester: request.requester, dryRun: request.dryRun }, 'run started');
    await this.dispatch(id, { type: 'card-posted', channel: card.channel, ts: card.ts });
    // The effects of creation (plan, probes, expiry timer, audit) run once the card exists.
    const run = (await store.get(id))!;
    this.execute(run, created.effects, undefined);
    return { started: true, run, card };
  }

  /** The actor for a person acting on a run: whether they are in its approver policy. */
  async actor(run: Run, user: string): Promise<Actor> {
    return { user, approver: await this.policy.isApprover(run.service.approvals.approvers, user) };
  }

  /**
   * Applies one event to a run with compare-and-set, retrying from fresh state if another writer won,
   * then carries out the effects of the transition that was stored. Replies go to `replyChannel`
   * as ephemeral messages unless `quiet` (the caller answers them itself).
   */
  async dispatch(runId: string, event: RunEvent | ((run: Run) => Promise<RunEvent>), opts: { replyChannel?: string; quiet?: boolean } = {}): Promise<DispatchOutcome> {
    return this.perRun.run(runId, async () => {
      for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
        const run = await this.deps.store.get(runId);
        if (!run) return { found: false, changed: false, replies: [] };
        const ev = typeof event === 'function' ? await event(run) : event;
        const result = transition(run, ev, this.deps.clock.now());
        const replies = result.effects.flatMap((e) => (e.type === 'reply' ? [e.text] : []));
        if (result.run === run) {
          this.execute(run, result.effects, opts);
          return { found: true, changed: false, replies, run };
        }
        if (await this.deps.store.compareAndSet(result.run, run.version)) {
          const stored = { ...result.run, version: run.version + 1 };
          this.deps.onTransition?.(run, stored, this.deps.clock.now());
          this.deps.log.debug({ runId, event: ev.type, status: stored.status, version: stored.version }, 'transition');
          if (result.effects.some((e) => WORK.has(e.type))) {
            await this.drive(runId).catch((error) => this.deps.log.warn({ runId, err: describeError(error) }, 'could not take the lease; the work goes ahead, guarded by the journal'));
          }
          if (!isActive(stored)) await this.release(runId);
          this.execute(stored, result.effects, opts);
          this.refreshCard(runId);
          return { found: true, changed: true, replies, run: stored };
        }
        // Someone else wrote first: re-read and decide again.
      }
      throw new Error(`run ${runId}: gave up after ${MAX_CAS_ATTEMPTS} conflicting writes`);
    });
  }

  private async release(runId: string, only?: Lease): Promise<void> {
    const lease = this.driving.get(runId);
    if (only && lease !== only) return;
    this.driving.delete(runId);
    if (lease) await this.deps.coordination.releaseLease(runId, lease).catch(() => undefined);
  }

  private execute(run: Run, effects: RunEffect[], opts: { replyChannel?: string; quiet?: boolean } | undefined): void {
    for (const effect of effects) {
      const work = this.executeOne(run, effect, opts).catch(async (error) => {
        this.deps.log.error({ runId: run.id, effect: effect.type, err: describeError(error) }, 'effect failed');
        if (WORK.has(effect.type)) {
          // Work whose outcome was lost (the store or journal failed) must not leave the run stuck:
          // give up driving it, so the recovery sweep resumes it and reconciles what happened.
          this.letGo(run.id, 'work failed');
          await this.release(run.id);
        }
      });
      if (WORK.has(effect.type)) {
        this.inFlight.add(work);
        void work.finally(() => this.inFlight.delete(work));
      }
    }
  }

  private async executeOne(run: Run, effect: RunEffect, opts: { replyChannel?: string; quiet?: boolean } | undefined): Promise<void> {
    const { chat, targets, clock, store, coordination } = this.deps;
    const log = this.deps.log.child({ runId: run.id });
    switch (effect.type) {
      case 'plan': {
        const step = effect.step;
        const event = await targets(run.service.name)
          .plan(effect.replicas)
          .then((plan): RunEvent => ({ type: 'plan-ready', attempt: effect.attempt, plan, step }))
          .catch((error): RunEvent => ({ type: 'plan-failed', attempt: effect.attempt, error: describeError(error), step }));
        await this.dispatch(run.id, event);
        return;
      }
      case 'probe': {
        const result = await this.work.measure(run, effect).catch((error): ProbeResult => ({ ok: undefined, summary: `could not measure: ${describeError(error)}`, source: effect.probe, at: clock.now() }));
        await this.dispatch(run.id, { type: 'probe-result', step: effect.step, attempt: effect.attempt, result });
        return;
      }
      case 'execute': {
        // Journal first: exactly one executor per idempotency key, across replicas and retries.
        if (!(await coordination.beginEffect(effect.key, this.deps.replicaId, clock.now()))) {
          log.warn({ key: effect.key }, 'action already started elsewhere; not executing it again');
          return;
        }
        log.info({ step: effect.step, key: effect.key, operation: effect.operation }, 'executing');
        const event = await targets(run.service.name)
          .apply(effect.operation)
          .then((r): RunEvent => ({ type: 'action-done', step: effect.step, key: effect.key, before: r.before, after: r.after }))
          .catch((error): RunEvent => ({ type: 'action-failed', step: effect.step, key: effect.key, error: describeError(error) }));
        await coordination.completeEffect(effect.key, this.deps.replicaId, clock.now(), JSON.stringify(event));
        log.info({ step: effect.step, key: effect.key, outcome: event.type }, 'executed');
        await this.dispatch(run.id, event);
        return;
      }
      case 'reconcile': {
        await this.dispatch(run.id, await this.work.reconcile(run, effect));
        return;
      }
      case 'plan-step': {
        const request = effect.request;
        const planned = request.kind === 'target'
          ? this.work.targetStepPlan(run.service.name, request)
          : this.work.database(run, request.database).plan(request.operation).then((p) => ({
              summary: p.summary,
              calls: p.calls,
              ...(p.warning ? { warning: p.warning } : {}),
              changes: p.changes,
              change: { kind: 'database' as const, database: request.database, operation: p.operation, ...(p.undo ? { undo: p.undo } : {}) },
            }));
        const event = await planned
          .then((plan): RunEvent => ({ type: 'step-plan-ready', step: effect.step, attempt: effect.attempt, plan }))
          .catch((error): RunEvent => ({ type: 'step-plan-failed', step: effect.step, attempt: effect.attempt, error: describeError(error) }));
        await this.dispatch(run.id, event);
        return;
      }
      case 'execute-database': {
        if (!(await coordination.beginEffect(effect.key, this.deps.replicaId, clock.now()))) {
          log.warn({ key: effect.key }, 'database action already started elsewhere; not executing it again');
          return;
        }
        const event = await this.work.applyDatabase(run, effect);
        await coordination.completeEffect(effect.key, this.deps.replicaId, clock.now(), JSON.stringify(event));
        await this.dispatch(run.id, event);
        return;
      }
      case 'reconcile-database': {
        await this.dispatch(run.id, await this.work.reconcileDatabase(run, effect));
        return;
      }
      case 'verify': {
        const controller = new AbortController();
        const byStep = this.verifications.get(run.id) ?? new Map<string, AbortController>();
        this.verifications.set(run.id, byStep);
        byStep.get(effect.step)?.abort();
        byStep.set(effect.step, controller);
        try {
          const outcome = await targets(run.service.name).waitForRollout(effect.expect, effect.deadline, controller.signal);
          if (controller.signal.aborted) return;
          await this.dispatch(run.id, { type: outcome.passed ? 'verify-passed' : 'verify-failed', step: effect.step, attempt: effect.attempt, result: outcome.result });
        } finally {
          if (byStep.get(effect.step) === controller) byStep.delete(effect.step);
        }
        return;
      }
      case 'schedule':
        await this.deps.scheduler.schedule({ runId: run.id, name: effect.name, at: effect.at });
        return;
      case 'audit':
        await this.deps.audit.append({ ...effect.record, at: clock.now(), runId: run.id, service: run.service.name });
        return;
      case 'note':
        if (!run.card) return;
        await this.chatQueue.run(run.id, () => chat.postThread(run.card!, effect.text));
        return;
      case 'announce':
        await this.chatQueue.run(run.id, () => chat.postChannel(run.service.channel, effect.text));
        return;
      case 'reply':
        if (opts?.quiet) return;
        await chat.postEphemeral(opts?.replyChannel ?? run.card?.channel ?? run.request.originChannel, effect.user, effect.text);
        return;
      case 'release-target':
        await store.releaseTarget(run.service.targetKey, run.id);
        return;
      case 'open-scale-down': {
        const opened = this.deps.openScaleDown
          ? await this.deps.openScaleDown(run, effect.requester).then((runId): RunEvent => ({ type: 'scale-down-opened', runId })).catch((error): RunEvent => ({ type: 'scale-down-opened', error: describeError(error) }))
          : ({ type: 'scale-down-opened', error: 'this bot cannot open runs on its own' } as RunEvent);
        await this.dispatch(run.id, opened);
        return;
      }
    }
  }

  /** Updates the card in place; bursts of transitions collapse into one update of the newest state. */
  private refreshCard(runId: string): void {
    const pending = this.cardRefresh.get(runId);
    if (pending) {
      pending.dirty = true;
      return;
    }
    const state = { dirty: false };
    this.cardRefresh.set(runId, state);
    const loop = async () => {
      do {
        state.dirty = false;
        try {
          const run = await this.deps.store.get(runId);
          if (!run?.card) break;
          await this.deps.chat.updateCard(run.card, cardView(run));
        } catch (error) {
          this.deps.log.warn({ runId, err: describeError(error) }, 'card update failed');
        }
      } while (state.dirty);
      this.cardRefresh.delete(runId);
    };
    void loop();
  }

  /** Waits until in-flight transitions, chat posts and card updates have settled (tests, shutdown). */
  async idle(): Promise<void> {
    for (let i = 0; i < 50; i++) {
      await Promise.all([this.perRun.idle(), this.chatQueue.idle()]);
      if (this.cardRefresh.size === 0 && this.perRun.size === 0 && this.chatQueue.size === 0) return;
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Stops heartbeats, timers and watches; releases this replica's leases so others resume at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const runId of [...this.verifications.keys()]) this.letGo(runId, 'shutting down');
    // An action in flight must finish (and be journalled) before the lease goes: otherwise the
    // replica that resumes the run would reconcile while the call is still on its way.
    await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((r) => setTimeout(r, 15_000).unref())]);
    await this.deps.scheduler.stop().catch(() => undefined);
    await Promise.all([...this.driving.keys()].map((runId) => this.release(runId)));
  }
}

export { describeError };

export { isActive };
