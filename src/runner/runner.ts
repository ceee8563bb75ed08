// The runner carries out the engine's effects through the ports and feeds their results back as
// events. It owns no decisions: every change of a run goes through `transition` and a
// compare-and-set write, so a losing writer (another click, another replica) re-reads and re-decides.
import type { Logger } from 'pino';
import { cardView } from '../engine/card-view.ts';
import type { Actor, RunEffect, RunEvent } from '../engine/events.ts';
import { isActive, type Run, type RunRequest, type ServiceSnapshot } from '../engine/run.ts';
import { createRun, transition } from '../engine/transition.ts';
import type { ChatPort, MessageRef } from '../ports/chat.port.ts';
import type { Clock } from '../ports/clock.port.ts';
import type { RunStore } from '../ports/run-store.port.ts';
import type { TargetResolver } from '../ports/scale-target.port.ts';
import type { Runbook } from '../workflows/runbook-schema.ts';
import { ApproverPolicy } from './approver-policy.ts';
import { KeyedQueue } from './keyed-queue.ts';

export interface RunnerDeps {
  store: RunStore;
  chat: ChatPort;
  targets: TargetResolver;
  clock: Clock;
  log: Logger;
  newRunId: () => string;
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

export class Runner {
  private readonly perRun = new KeyedQueue();
  private readonly chatQueue = new KeyedQueue();
  private readonly cardRefresh = new Map<string, { dirty: boolean }>();
  private readonly verifications = new Map<string, AbortController>();
  private readonly timers = new Set<() => void>();
  readonly policy: ApproverPolicy;

  constructor(private readonly deps: RunnerDeps) {
    this.policy = new ApproverPolicy(deps.chat);
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
    let card: MessageRef;
    try {
      card = await chat.postCard(service.channel, cardView({ ...created.run, version: 1 }));
    } catch (error) {
      const message = describeError(error);
      log.error({ err: message }, 'could not post the run card');
      const run = await store.get(id);
      if (run) await store.compareAndSet({ ...run, status: 'cancelled', failure: `card could not be posted: ${message}`, finishedAt: clock.now() }, run.version);
      if (!request.dryRun) await store.releaseTarget(service.targetKey, id);
      return { started: false, reason: 'card-failed', error: message };
    }
    log.info({ replicas: request.replicas, requester: request.requester, dryRun: request.dryRun }, 'run started');
    await this.dispatch(id, { type: 'card-posted', channel: card.channel, ts: card.ts });
    // The effects of creation (plan, probes, expiry timer) run once the card exists.
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
          this.deps.log.debug({ runId, event: ev.type, status: stored.status, version: stored.version }, 'transition');
          this.execute(stored, result.effects, opts);
          this.refreshCard(runId);
          return { found: true, changed: true, replies, run: stored };
        }
        // Someone else wrote first: re-read and decide again.
      }
      throw new Error(`run ${runId}: gave up after ${MAX_CAS_ATTEMPTS} conflicting writes`);
    });
  }

  private execute(run: Run, effects: RunEffect[], opts: { replyChannel?: string; quiet?: boolean } | undefined): void {
    for (const effect of effects) {
      void this.executeOne(run, effect, opts).catch((error) => {
        this.deps.log.error({ runId: run.id, effect: effect.type, err: describeError(error) }, 'effect failed');
      });
    }
  }

  private async executeOne(run: Run, effect: RunEffect, opts: { replyChannel?: string; quiet?: boolean } | undefined): Promise<void> {
    const { chat, targets, clock, store } = this.deps;
    const log = this.deps.log.child({ runId: run.id });
    switch (effect.type) {
      case 'plan': {
        const event = await targets(run.service.name)
          .plan(effect.replicas)
          .then((plan): RunEvent => ({ type: 'plan-ready', attempt: effect.attempt, plan }))
          .catch((error): RunEvent => ({ type: 'plan-failed', attempt: effect.attempt, error: describeError(error) }));
        await this.dispatch(run.id, event);
        return;
      }
      case 'probe': {
        const result = await targets(run.service.name)
          .probe(effect.probe, effect.replicas)
          .catch((error) => ({ ok: undefined, summary: `could not measure: ${describeError(error)}`, source: effect.probe, at: clock.now() }));
        await this.dispatch(run.id, { type: 'probe-result', step: effect.step, attempt: effect.attempt, result });
        return;
      }
      case 'execute': {
        log.info({ step: effect.step, key: effect.key, operation: effect.operation }, 'executing');
        const event = await targets(run.service.name)
          .apply(effect.operation)
          .then((r): RunEvent => ({ type: 'action-done', step: effect.step, key: effect.key, before: r.before, after: r.after }))
          .catch((error): RunEvent => ({ type: 'action-failed', step: effect.step, key: effect.key, error: describeError(error) }));
        log.info({ step: effect.step, key: effect.key, outcome: event.type }, 'executed');
        await this.dispatch(run.id, event);
        return;
      }
      case 'verify': {
        const controller = new AbortController();
        const key = `${run.id}/${effect.step}`;
        this.verifications.get(key)?.abort();
        this.verifications.set(key, controller);
        try {
          const outcome = await targets(run.service.name).waitForRollout(effect.expect, effect.deadline, controller.signal);
          if (controller.signal.aborted) return;
          await this.dispatch(run.id, { type: outcome.passed ? 'verify-passed' : 'verify-failed', step: effect.step, attempt: effect.attempt, result: outcome.result });
        } finally {
          if (this.verifications.get(key) === controller) this.verifications.delete(key);
        }
        return;
      }
      case 'schedule': {
        const cancel = clock.at(effect.at, () => {
          this.timers.delete(cancel);
          void this.dispatch(run.id, { type: 'timer', name: effect.name }).catch((error) => log.error({ err: describeError(error) }, 'timer dispatch failed'));
        });
        this.timers.add(cancel);
        return;
      }
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

  async activeRuns(): Promise<Run[]> {
    return this.deps.store.list({ active: true });
  }

  /** Waits until in-flight transitions, chat posts and card updates have settled (tests, shutdown). */
  async idle(): Promise<void> {
    for (let i = 0; i < 50; i++) {
      await Promise.all([this.perRun.idle(), this.chatQueue.idle()]);
      if (this.cardRefresh.size === 0 && this.perRun.size === 0 && this.chatQueue.size === 0) return;
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  stop(): void {
    for (const cancel of this.timers) cancel();
    this.timers.clear();
    for (const controller of this.verifications.values()) controller.abort();
  }
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

export { isActive };
