// An Azure Container App as a scale target (seed 000). A Container App scales itself between
// `template.scale.minReplicas` and `maxReplicas`, so "/scale api 10" raises the floor to 10 (and the
// ceiling only if it is below 10); rollback restores both. The only write is one PATCH (JSON merge
// patch) of `template.scale`, a long-running operation followed to its end; probes only read.
// Everything goes through the real ContainerAppsAPIClient (@azure/arm-appcontainers).
import type { ContainerApp, ContainerAppsAPIClient, Replica, Revision } from '@azure/arm-appcontainers';
import type { TokenCredential } from '@azure/identity';
import type { Plan, ProbeResult, TargetOperation, TargetState } from '../../engine/run.ts';
import { systemClock, type Clock } from '../../ports/clock.port.ts';
import type { ApplyResult, RolloutExpectation, ScaleTarget } from '../../ports/scale-target.port.ts';
import { formatDuration } from '../../workflows/duration.ts';
import { ARM_ENDPOINT, createContainerAppsClient, type ArmRetryOptions } from './arm-client.ts';
import { describeArmError, isLroFailure, lroFailure, seconds, statusOf } from './arm-errors.ts';

export interface ContainerAppCoordinates {
  subscription: string;
  resourceGroup: string;
  app: string;
}

export interface AzureTiming {
  /** One ARM request (and, for reads, its retries) may take this long; default 15 s. */
  callTimeoutMs?: number;
  /** The whole update, PATCH and its long-running operation; default 5 min. */
  updateTimeoutMs?: number;
  /** Between polls of the operation when ARM sends no Retry-After; default 2 s. */
  lroPollMs?: number;
  /** Between looks at the revision while following a rollout; default 5 s. */
  rolloutPollMs?: number;
}

export interface AzureTargetOptions {
  /** DefaultAzureCredential in production; any TokenCredential in tests. */
  credential: TokenCredential;
  /** ARM base URL; default https://management.azure.com. */
  endpoint?: string;
  /** Plain HTTP to a local test server (no TLS, no SDK token policy). */
  allowInsecure?: boolean;
  clock?: Clock;
  /** Counts failed ARM calls (metrics): the HTTP status, 'network', or 'lro-failed'. */
  onError?: (code: number | string) => void;
  retry?: ArmRetryOptions;
  timing?: AzureTiming;
}

/** The probes this adapter answers (a runbook's `probe:` for the service's scale target). */
export const AZURE_PROBES = ['azure.replicas'] as const;

type Bounds = { minReplicas: number; maxReplicas: number };
type BoundsOperation = Extract<TargetOperation, { type: 'set-replica-bounds' }>;

/** What one look at the app finds: its bounds, the latest revision and that revision's replicas. */
interface Observation {
  app: ContainerApp;
  bounds: Bounds;
  revision?: Revision;
  replicas: Replica[];
  running: number;
  ready: number;
}

/** The SDK's per-call options we set: a signal, and a hook that sees every raw response. */
interface CallOptions {
  abortSignal: AbortSignal;
  onResponse: (raw: { status: number }) => void;
}

const DEFAULT_MAX_REPLICAS = 10;

export class AzureContainerAppTarget implements ScaleTarget {
  private readonly client: ContainerAppsAPIClient;
  private readonly clock: Clock;
  private readonly onError: (code: number | string) => void;
  private readonly endpoint: string;
  private readonly source: string;
  private readonly retries: number;
  private readonly timing: Required<AzureTiming>;

  constructor(private readonly where: ContainerAppCoordinates, opts: AzureTargetOptions) {
    this.endpoint = (opts.endpoint ?? ARM_ENDPOINT).replace(/\/+$/, '');
    this.client = createContainerAppsClient({ credential: opts.credential, subscription: where.subscription, endpoint: this.endpoint, allowInsecure: opts.allowInsecure, retry: opts.retry });
    this.clock = opts.clock ?? systemClock;
    this.onError = opts.onError ?? (() => undefined);
    this.retries = opts.retry?.maxRetries ?? 3;
    this.timing = { callTimeoutMs: 15_000, updateTimeoutMs: 300_000, lroPollMs: 2_000, rolloutPollMs: 5_000, ...opts.timing };
    this.source = `Azure Resource Manager${this.endpoint === ARM_ENDPOINT ? '' : ` (${this.endpoint})`}`;
  }

  get label(): string {
    return `Container App ${this.where.resourceGroup}/${this.where.app}`;
  }

  private get appUrl(): string {
    const { subscription, resourceGroup, app } = this.where;
    return `${this.endpoint}/subscriptions/${subscription}/resourceGroups/${resourceGroup}/providers/Microsoft.App/containerApps/${app}?api-version=${this.client.apiVersion}`;
  }

  /**
   * One read with a timeout (covering the SDK's own retries); failures become sentences
   * (describeArmError) and are counted.
   */
  private async call<T>(what: string, fn: (options: CallOptions) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const timeout = AbortSignal.timeout(this.timing.callTimeoutMs);
    let lastStatus: number | undefined;
    try {
      return await fn({ abortSignal: signal ? AbortSignal.any([timeout, signal]) : timeout, onResponse: (raw) => void (lastStatus = raw.status) });
    } catch (error) {
      this.onError(statusOf(error) ?? 'network');
      throw new Error(describeArmError(error, {
        what,
        retries: this.retries,
        lastStatus,
        ...(timeout.aborted && !signal?.aborted ? { timedOutAfterMs: this.timing.callTimeoutMs } : {}),
        ...(signal?.aborted ? { stopped: true } : {}),
      }));
    }
  }

  private readApp(signal?: AbortSignal): Promise<ContainerApp> {
    return this.call(`read ${this.label}`, (o) => this.client.containerApps.get(this.where.resourceGroup, this.where.app, o), signal);
  }

  private async listReplicas(revision: string, signal?: AbortSignal): Promise<Replica[]> {
    const list = await this.call(`list the replicas of revision ${revision} of ${this.label}`, (o) => this.client.containerAppsRevisionReplicas.listReplicas(this.where.resourceGroup, this.where.app, revision, o), signal);
    return list.value ?? [];
  }

  private getRevision(revision: string, signal?: AbortSignal): Promise<Revision> {
    return this.call(`read revision ${revision} of ${this.label}`, (o) => this.client.containerAppsRevisions.getRevision(this.where.resourceGroup, this.where.app, revision, o), signal);
  }

  private listRevisions(signal?: AbortSignal): Promise<Revision[]> {
    return this.call(`list the revisions of ${this.label}`, async (o) => {
      const out: Revision[] = [];
      for await (const r of this.client.containerAppsRevisions.listRevisions(this.where.resourceGroup, this.where.app, o)) out.push(r);
      return out;
    }, signal);
  }

  /** The app, and the replicas of its latest revision (and that revision, when asked). */
  private async observe(opts: { revision?: boolean; signal?: AbortSignal } = {}): Promise<Observation> {
    const app = await this.readApp(opts.signal);
    const latest = app.latestRevisionName;
    const [revision, replicas] = latest
      ? await Promise.all([opts.revision ? this.getRevision(latest, opts.signal) : undefined, this.listReplicas(latest, opts.signal)])
      : [undefined, []];
    const running = replicas.filter(isRunning);
    return { app, bounds: boundsOf(app), ...(revision ? { revision } : {}), replicas, running: running.length, ready: running.filter(isReady).length };
  }

  private stateOf(o: Observation, bounds: Bounds = o.bounds): TargetState {
    return { replicas: o.running, readyReplicas: o.ready, bounds };
  }

  async plan(replicas: number): Promise<Plan> {
    const o = await this.observe();
    const { minReplicas: min, maxReplicas: max } = o.bounds;
    const newMax = Math.max(max, replicas);
    const raisesMax = newMax !== max;
    const operation: BoundsOperation = { type: 'set-replica-bounds', minReplicas: replicas, ...(raisesMax ? { maxReplicas: newMax } : {}), from: { minReplicas: min, maxReplicas: max } };
    const undo: BoundsOperation = { type: 'set-replica-bounds', minReplicas: min, ...(raisesMax ? { maxReplicas: max } : {}), from: { minReplicas: replicas, maxReplicas: newMax } };
    return {
      summary: `Set ${this.label} minReplicas ${min} → ${replicas}${raisesMax ? ` and maxReplicas ${max} → ${newMax}` : ` (maxReplicas stays ${max})`}`,
      note: `A Container App scales itself between its minReplicas and maxReplicas, so its floor is set to ${replicas}${raisesMax ? ` and its ceiling raised to match` : ''}; only template.scale changes (a new revision with the same containers). The previous bounds ${min}..${max} are recorded for rollback.`,
      calls: [`PATCH ${this.appUrl} ${JSON.stringify(wireBody(o.app.location, operation))} (JSON merge patch; then its Azure-AsyncOperation is polled until it ends)`],
      operation,
      undo,
      before: this.stateOf(o),
      expect: { replicas, atLeast: true },
      undoExpect: { replicas: min, atLeast: true },
      changes: replicas !== min || raisesMax,
    };
  }

  /**
   * Reads the app, checks it is still as planned (`from`), and PATCHes `template.scale` only,
   * following the long-running operation to its end. An app already as asked counts as applied
   * (nothing is sent). Every failure says what happened and that nothing else was changed.
   */
  async apply(operation: TargetOperation): Promise<ApplyResult> {
    if (operation.type !== 'set-replica-bounds') {
      throw new Error(`${this.label} scales itself between its own min/max replicas: a ${operation.type} operation is for another platform. Nothing was changed`);
    }
    const o = await this.observe().catch((error: Error) => {
      throw new Error(`${error.message}. Nothing was changed`);
    });
    const current = o.bounds;
    const before = this.stateOf(o, operation.from ?? current);
    if (isAsAsked(current, operation)) return { before, after: this.stateOf(o) };
    if (operation.from && !sameBounds(current, operation.from)) {
      throw new Error(`${this.label} changed since the plan was made: its min..max replicas are ${range(current)}, the plan expected ${range(operation.from)}. Nothing was changed; request again so the checks and approval see the current state`);
    }
    const wanted = { minReplicas: operation.minReplicas, maxReplicas: operation.maxReplicas ?? current.maxReplicas };
    if (wanted.minReplicas > wanted.maxReplicas) {
      throw new Error(`${this.label}: minReplicas ${wanted.minReplicas} would be above its maxReplicas ${wanted.maxReplicas}. Nothing was changed`);
    }
    const updated = await this.update(o.app.location, operation, current, wanted);
    // The operation's result is the app (read from its Location); should ARM answer without a body, the change is what was asked.
    const bounds = updated?.template?.scale ? boundsOf(updated) : wanted;
    return { before, after: { replicas: Math.min(bounds.maxReplicas, Math.max(bounds.minReplicas, o.running)), readyReplicas: o.ready, bounds } };
  }

  /** The PATCH and its long-running operation, with a message for each way it can end badly. */
  private async update(location: string | undefined, operation: BoundsOperation, current: Bounds, wanted: Bounds): Promise<ContainerApp> {
    const change = `min..max replicas ${range(current)} → ${range(wanted)}`;
    const overall = AbortSignal.timeout(this.timing.updateTimeoutMs);
    let patchStatus: number | undefined;
    let lastStatus: number | undefined;
    const options = {
      abortSignal: overall,
      updateIntervalInMs: this.timing.lroPollMs,
      requestOptions: { timeout: this.timing.callTimeoutMs },
      onResponse: (raw: { status: number; request: { method: string } }) => {
        lastStatus = raw.status;
        if (raw.request.method === 'PATCH') patchStatus = raw.status;
      },
    };
    const envelope = { location: location ?? '', template: { scale: scaleBody(operation) } };
    try {
      const poller = await this.client.containerApps.beginUpdate(this.where.resourceGroup, this.where.app, envelope, options);
      return await poller.pollUntilDone({ abortSignal: overall });
    } catch (error) {
      this.onError(statusOf(error) ?? (isLroFailure(error) ? 'lro-failed' : 'network'));
      // One request without an answer (the per-request timeout), as opposed to the whole update running out of time.
      const silent = !overall.aborted && (error as Error)?.name === 'AbortError' ? this.timing.callTimeoutMs : undefined;
      const describe = (what: string) => describeArmError(error, { what, retries: this.retries, lastStatus, ...(silent !== undefined ? { timedOutAfterMs: silent } : {}) });
      if (patchStatus === undefined) {
        throw new Error(`${describe(`change ${this.label} ${change}`)}. Azure never answered the PATCH, so it is not known whether it arrived: read the app (the run reconciles) before trying again. Nothing else was changed`);
      }
      if (patchStatus >= 300) throw new Error(`${describe(`change ${this.label} ${change}`)}. Azure refused the change, so nothing was changed`);
      const now = await this.readBack();
      if (isLroFailure(error)) {
        throw new Error(`Azure accepted the change of ${this.label} ${change}, but its operation ended Failed: ${lroFailure(error)}. ${now}. Nothing else was changed`);
      }
      if (overall.aborted) {
        throw new Error(`Azure accepted the change of ${this.label} ${change}, but its operation had not finished after ${seconds(this.timing.updateTimeoutMs)}; it may still complete. ${now}. Nothing else was changed`);
      }
      throw new Error(`Azure accepted the change of ${this.label} ${change}, but the bot ${describe('follow its operation')}; it may still complete. ${now}. Nothing else was changed`);
    }
  }

  /** After a failed update: what the app shows now, in a sentence. */
  private async readBack(): Promise<string> {
    try {
      const app = await this.readApp();
      return `The app now has min..max replicas ${range(boundsOf(app))} (provisioningState ${app.provisioningState ?? 'unknown'})`;
    } catch {
      return 'Its state could not be read back';
    }
  }

  async reconcile(operation: TargetOperation): ReturnType<ScaleTarget['reconcile']> {
    if (operation.type !== 'set-replica-bounds') return { status: 'diverged', detail: `${this.label} has no ${operation.type === 'set-replicas' ? 'replica count' : 'HPA'} of its own to set: it scales between its min/max replicas` };
    const o = await this.observe();
    const state = this.stateOf(o);
    if (isAsAsked(o.bounds, operation)) return { status: 'applied', state };
    if (!operation.from || sameBounds(o.bounds, operation.from)) return { status: 'not-applied', state };
    return { status: 'diverged', detail: `${this.label} has min..max replicas ${range(o.bounds)}: neither ${range(operation.from)} from before nor the requested change` };
  }

  /**
   * One read-only measurement; `replicas` is the count the run is heading for. Unknown names and
   * parameters are refused.
   */
  async probe(probe: string, replicas: number, params: Record<string, unknown> = {}): Promise<ProbeResult> {
    if (!(AZURE_PROBES as readonly string[]).includes(probe)) {
      throw new Error(`unknown Azure Container Apps probe "${probe}"; the Container App target answers ${AZURE_PROBES.join(', ')}`);
    }
    const given = Object.keys(params ?? {});
    if (given.length) throw new Error(`${probe} takes no parameters (given: ${given.join(', ')})`);
    const [o, revisions] = await Promise.all([this.observe(), this.listRevisions()]);
    const { minReplicas: min, maxReplicas: max } = o.bounds;
    const active = revisions.filter((r) => r.active);
    const latest = revisions.find((r) => r.name === o.app.latestRevisionName);
    const healthy = latest?.provisioningState === 'Provisioned' && latest.healthState !== 'Unhealthy';
    const notRunning = o.replicas.filter((r) => !isRunning(r) || !isReady(r));
    return this.result({
      ok: healthy && o.running >= min,
      value: o.running,
      threshold: min,
      values: { replicas: o.running, min, max, revisions: active.length },
      summary: `${o.running} running${o.ready !== o.running ? ` (${o.ready} ready)` : ''}, min..max ${min}..${max}; latest revision ${latest ? `${latest.name} ${revisionStates(latest)}` : 'unknown'}; ${active.length} active revision${active.length === 1 ? '' : 's'}`,
      details: [
        ...active.map((r) => `${r.name}: ${r.replicas ?? 0} replica${r.replicas === 1 ? '' : 's'}, traffic ${r.trafficWeight ?? 0}%, ${revisionStates(r)}`),
        ...(latest?.provisioningError ? [`${latest.name}: ${latest.provisioningError}`] : []),
        ...notRunning.slice(0, 5).map(replicaLine),
        ...(replicas > max ? [`the run asks for ${replicas}, above maxReplicas ${max}: the plan raises maxReplicas to ${replicas}`] : []),
      ],
    });
  }

  private result(partial: Omit<ProbeResult, 'source' | 'at'>): ProbeResult {
    return { ...partial, source: this.source, at: this.clock.now() };
  }

  /**
   * Follows the latest revision (polling ARM) until it is provisioned and healthy, the app's
   * update has finished, and enough replicas run and are ready; or the deadline passes (failed,
   * with what is stuck); or the revision fails to provision (failed at once). Never rejects;
   * stops when `signal` aborts.
   */
  waitForRollout(expect: RolloutExpectation, deadline: number, signal: AbortSignal): Promise<{ passed: boolean; result: ProbeResult }> {
    const startedAt = this.clock.now();
    const want = `${expect.atLeast ? '≥' : ''}${expect.replicas}`;
    return new Promise((resolve) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      let last: Observation | undefined;
      let lastError: string | undefined;
      const after = () => formatDuration(this.clock.now() - startedAt);
      const finish = (passed: boolean, result: ProbeResult) => {
        if (settled) return;
        settled = true;
        cancelDeadline();
        if (timer) clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve({ passed, result });
      };
      const look = async () => {
        timer = undefined;
        if (settled) return;
        try {
          const o = await this.observe({ revision: true, signal });
          last = o;
          lastError = undefined;
          const r = o.revision;
          if (r?.provisioningState === 'Failed') {
            return finish(false, this.result({ ok: false, value: o.ready, threshold: expect.replicas, summary: `revision ${r.name} failed to provision${r.provisioningError ? `: ${r.provisioningError}` : ''} (${o.ready}/${want} ready after ${after()})`, details: details(o) }));
          }
          if (rolledOut(o, expect)) {
            return finish(true, this.result({ ok: true, value: o.ready, threshold: expect.replicas, summary: `${o.ready}/${want} replicas running and ready in revision ${r?.name ?? '?'} (${r ? revisionStates(r) : '?'}), min..max ${range(o.bounds)}, after ${after()}` }));
          }
        } catch (error) {
          lastError = error instanceof Error ? error.message : String(error);
        }
        if (!settled) timer = setTimeout(() => void look(), this.timing.rolloutPollMs);
      };
      const onTimeout = () => {
        const o = last;
        const stuck = o
          ? `${o.ready}/${want} running and ready in revision ${o.revision?.name ?? o.app.latestRevisionName ?? '?'}${o.revision ? ` (${revisionStates(o.revision)})` : ''}${o.app.provisioningState && o.app.provisioningState !== 'Succeeded' ? `, the app's provisioningState is ${o.app.provisioningState}` : ''}`
          : 'the app could not be read';
        finish(false, this.result({ ok: false, value: o?.ready ?? 0, threshold: expect.replicas, summary: `stuck after ${after()}: ${stuck}`, details: [...(o ? details(o) : []), ...(lastError ? [`last look failed: ${lastError}`] : [])] }));
      };
      const onAbort = () => finish(false, this.result({ ok: undefined, summary: 'verification stopped (the bot is shutting down)' }));
      const cancelDeadline = this.clock.at(deadline, onTimeout);
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort);
      void look();
    });
  }
}

/** `template.scale` bounds; Azure's defaults when unset (min 0, max 10). */
function boundsOf(app: ContainerApp): Bounds {
  const scale = app.template?.scale;
  return { minReplicas: scale?.minReplicas ?? 0, maxReplicas: scale?.maxReplicas ?? DEFAULT_MAX_REPLICAS };
}

function scaleBody(op: BoundsOperation): { minReplicas: number; maxReplicas?: number } {
  return { minReplicas: op.minReplicas, ...(op.maxReplicas !== undefined ? { maxReplicas: op.maxReplicas } : {}) };
}

/** The PATCH body as the SDK serializes it: `location` (its serializer requires it) and `properties.template.scale`. */
export function wireBody(location: string | undefined, op: BoundsOperation): { location: string; properties: { template: { scale: ReturnType<typeof scaleBody> } } } {
  return { location: location ?? '', properties: { template: { scale: scaleBody(op) } } };
}

function isAsAsked(b: Bounds, op: BoundsOperation): boolean {
  return b.minReplicas === op.minReplicas && (op.maxReplicas === undefined || b.maxReplicas === op.maxReplicas);
}

function sameBounds(a: Bounds, b: Bounds): boolean {
  return a.minReplicas === b.minReplicas && a.maxReplicas === b.maxReplicas;
}

function range(b: Bounds): string {
  return `${b.minReplicas}..${b.maxReplicas}`;
}

function isRunning(r: Replica): boolean {
  return r.runningState === 'Running';
}

function isReady(r: Replica): boolean {
  return (r.containers ?? []).every((c) => c.ready !== false);
}

function revisionStates(r: Revision): string {
  return [r.provisioningState, r.healthState, r.runningState].filter(Boolean).join(', ');
}

function replicaLine(r: Replica): string {
  const waiting = (r.containers ?? []).filter((c) => c.ready === false).map((c) => `${c.name}${c.runningStateDetails ? ` ${c.runningStateDetails}` : ''}`);
  return `${r.name}: ${r.runningState ?? 'Unknown'}${r.runningStateDetails ? ` (${r.runningStateDetails})` : ''}${waiting.length ? `; not ready: ${waiting.join(', ')}` : ''}`;
}

function details(o: Observation): string[] {
  return [
    ...(o.revision?.provisioningError ? [`${o.revision.name}: ${o.revision.provisioningError}`] : []),
    ...o.replicas.filter((r) => !isRunning(r) || !isReady(r)).slice(0, 5).map(replicaLine),
  ];
}

function rolledOut(o: Observation, expect: RolloutExpectation): boolean {
  const r = o.revision;
  if (!r || r.provisioningState !== 'Provisioned') return false;
  if (o.app.provisioningState && o.app.provisioningState !== 'Succeeded') return false;
  if (expect.replicas > 0 && r.healthState !== 'Healthy') return false;
  if (expect.atLeast) return o.ready >= expect.replicas;
  return o.ready === expect.replicas && o.replicas.length === expect.replicas;
}
