// An Aurora Serverless v2 cluster as a database target (seed 003): its min/max capacity in ACU
// (ModifyDBCluster ServerlessV2ScalingConfiguration), its readers (CreateDBInstance /
// DeleteDBInstance) and an instance's class (ModifyDBInstance). Reads are DescribeDBClusters and
// DescribeDBInstances. Every change is checked against the state it was planned on, an operation
// already in place counts as applied, and the writer is never deleted.
import {
  CreateDBInstanceCommand,
  DeleteDBInstanceCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  ModifyDBClusterCommand,
  ModifyDBInstanceCommand,
  type DBInstance,
  type RDSClient,
} from '@aws-sdk/client-rds';
import type { Clock } from '../../ports/clock.port.ts';
import type { DatabaseMember, DatabaseOperation, DatabasePlan, DatabaseState, DatabaseTarget } from '../../ports/database-target.port.ts';
import { formatDuration } from '../../workflows/duration.ts';
import { capacityProblem, formatAcu, formatRange } from './capacity.ts';
import { AuroraError, describeRdsError, isAuthError, type ErrorContext } from './rds-errors.ts';

export interface AuroraTargetConfig {
  /** The DB cluster identifier, e.g. "autolytiq-prod". */
  cluster: string;
  region: string;
}

export interface AuroraTargetSettings {
  clock: Clock;
  /** Shown as the probe's source; no secrets. */
  endpoint?: string;
  /** How often waitUntilAvailable reads again (clamped to 50 ms..60 s); default 10 s. */
  pollIntervalMs?: number;
  /** One call, retries included, may take this long before it counts as failed; default 60 s. */
  callTimeoutMs?: number;
  /** Promotion tier of added readers (0..15); default 15: last in line for failover, and scaling on their own load rather than with the writer. */
  readerPromotionTier?: number;
}

/** The cluster as read, with what DatabaseState leaves out but the adapter needs. */
interface Snapshot {
  state: DatabaseState;
  engine: string;
  /** Instance class changes RDS has accepted but not finished (PendingModifiedValues). */
  pendingClass: Map<string, string>;
}

/** What waitUntilAvailable checks besides the cluster's status, from the operations applied. */
type Expectation =
  | { kind: 'capacity'; min: number; max: number }
  | { kind: 'present'; id: string }
  | { kind: 'gone'; id: string }
  | { kind: 'class'; id: string; instanceClass: string };

const IDENTIFIER = /^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{0,62}(?<!-)$/;
const INSTANCE_CLASS = /^db\.[a-z0-9]+(\.[a-z0-9]+)?$/;
const MAX_PAGES = 20;
const SERVERLESS = 'db.serverless';
const UNKNOWN = 'unknown';

export class AuroraTarget implements DatabaseTarget {
  private readonly pollMs: number;
  private readonly callTimeoutMs: number;
  private readonly tier: number;
  /** Set by apply/reconcile; undefined until then (a fresh process waits for every member). */
  private expectations: Map<string, Expectation> | undefined;

  constructor(
    private readonly client: RDSClient,
    private readonly config: AuroraTargetConfig,
    private readonly settings: AuroraTargetSettings,
  ) {
    this.pollMs = Math.min(60_000, Math.max(50, settings.pollIntervalMs ?? 10_000));
    this.callTimeoutMs = Math.max(1_000, settings.callTimeoutMs ?? 60_000);
    const tier = settings.readerPromotionTier ?? 15;
    this.tier = Number.isInteger(tier) && tier >= 0 && tier <= 15 ? tier : 15;
  }

  /** "Amazon RDS us-east-1, cluster autolytiq-prod": where the probe measured. */
  get source(): string {
    return `Amazon RDS ${this.config.region}${this.settings.endpoint ? ` (${this.settings.endpoint})` : ''}, cluster ${this.config.cluster}`;
  }

  private get label(): string {
    return `cluster ${this.config.cluster}`;
  }

  private context(extra: Partial<ErrorContext> = {}): ErrorContext {
    return { cluster: this.config.cluster, region: this.config.region, ...(this.settings.endpoint ? { endpoint: this.settings.endpoint } : {}), ...extra };
  }

  /** One SDK call (its retries included) under the call timeout and the caller's signal. */
  private async send<T>(what: string, run: (client: RDSClient, options: { abortSignal: AbortSignal }) => Promise<T>, ctx: Partial<ErrorContext>, signal?: AbortSignal): Promise<T> {
    const timeout = AbortSignal.timeout(this.callTimeoutMs);
    const abortSignal = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      return await run(this.client, { abortSignal });
    } catch (error) {
      const cause = timeout.aborted && !signal?.aborted ? Object.assign(new Error(`no answer within ${this.callTimeoutMs / 1000}s, retries included`), { name: 'TimeoutError' }) : error;
      throw describeRdsError(what, cause, this.context(ctx));
    }
  }

  /**
   * The cluster and its instances come from two calls; an instance deleted (or created) between
   * them leaves a member without details. Read again then (twice at most) rather than report a
   * member as "unknown".
   */
  private async snapshot(signal?: AbortSignal): Promise<Snapshot> {
    let snap = await this.readOnce(signal);
    for (let again = 0; again < 2 && snap.state.members.some((m) => m.status === UNKNOWN); again++) snap = await this.readOnce(signal);
    return snap;
  }

  private async readOnce(signal?: AbortSignal): Promise<Snapshot> {
    const id = this.config.cluster;
    const clusters = await this.send(`read ${this.label}`, (c, o) => c.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }), o), { permission: 'rds:DescribeDBClusters' }, signal);
    const cluster = clusters.DBClusters?.[0];
    if (!cluster) throw new AuroraError(`could not read ${this.label}: RDS returned no cluster of that name in ${this.config.region}. Nothing was changed.`, 'DBClusterNotFoundFault');
    const instances: DBInstance[] = [];
    let marker: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const out = await this.send(
        `read the instances of ${this.label}`,
        (c, o) => c.send(new DescribeDBInstancesCommand({ Filters: [{ Name: 'db-cluster-id', Values: [id] }], ...(marker ? { Marker: marker } : {}) }), o),
        { permission: 'rds:DescribeDBInstances' },
        signal,
      );
      instances.push(...(out.DBInstances ?? []));
      marker = out.Marker;
      if (!marker) break;
    }
    const byId = new Map(instances.map((i) => [i.DBInstanceIdentifier ?? '', i]));
    const members: DatabaseMember[] = [];
    const seen = new Set<string>();
    for (const m of cluster.DBClusterMembers ?? []) {
      const mid = m.DBInstanceIdentifier ?? '';
      seen.add(mid);
      const inst = byId.get(mid);
      members.push({ id: mid, role: m.IsClusterWriter ? 'writer' : 'reader', instanceClass: inst?.DBInstanceClass ?? UNKNOWN, status: inst?.DBInstanceStatus ?? UNKNOWN });
    }
    // An instance RDS lists for the cluster before the cluster lists it as a member (just created).
    for (const inst of instances) {
      const iid = inst.DBInstanceIdentifier ?? '';
      if (!seen.has(iid)) members.push({ id: iid, role: 'reader', instanceClass: inst.DBInstanceClass ?? 'unknown', status: inst.DBInstanceStatus ?? 'unknown' });
    }
    members.sort((a, b) => (a.role === b.role ? 0 : a.role === 'writer' ? -1 : 1));
    const scaling = cluster.ServerlessV2ScalingConfiguration;
    const capacity = scaling?.MinCapacity !== undefined && scaling.MaxCapacity !== undefined ? { min: scaling.MinCapacity, max: scaling.MaxCapacity } : undefined;
    const pendingClass = new Map<string, string>();
    for (const inst of instances) {
      const pending = inst.PendingModifiedValues?.DBInstanceClass;
      if (pending && inst.DBInstanceIdentifier) pendingClass.set(inst.DBInstanceIdentifier, pending);
    }
    return {
      state: { id: cluster.DBClusterIdentifier ?? id, status: cluster.Status ?? 'unknown', ...(capacity ? { capacity } : {}), members },
      engine: cluster.Engine ?? 'unknown',
      pendingClass,
    };
  }

  async read(signal?: AbortSignal): Promise<DatabaseState> {
    return (await this.snapshot(signal)).state;
  }

  private refuse(message: string): never {
    throw new AuroraError(`${message}. Nothing was changed.`, 'refused');
  }

  private checkOperation(op: DatabaseOperation, snap: Snapshot): void {
    switch (op.type) {
      case 'set-capacity': {
        const problem = capacityProblem(op.min, op.max);
        if (problem) this.refuse(`Refused: ${this.label} capacity ${formatAcu(op.min)}..${formatAcu(op.max)} ACU — ${problem}`);
        if (!snap.state.capacity) this.refuse(`Refused: ${this.label} has no Serverless v2 scaling configuration (it is not Aurora Serverless v2), so it has no min/max ACU to set`);
        return;
      }
      case 'add-reader':
        if (!IDENTIFIER.test(op.instanceId)) this.refuse(`Refused: "${op.instanceId}" is not a valid instance identifier (1 to 63 letters, digits and hyphens, starting with a letter, no trailing or double hyphen)`);
        if (!INSTANCE_CLASS.test(op.instanceClass)) this.refuse(`Refused: "${op.instanceClass}" is not an instance class (e.g. db.serverless, db.r6g.large)`);
        if (op.instanceClass === SERVERLESS && !snap.state.capacity) this.refuse(`Refused: ${this.label} has no Serverless v2 scaling configuration, so it cannot have db.serverless readers`);
        return;
      case 'remove-reader':
        return;
      case 'set-instance-class':
        if (!INSTANCE_CLASS.test(op.instanceClass)) this.refuse(`Refused: "${op.instanceClass}" is not an instance class (e.g. db.serverless, db.r6g.large)`);
        if (op.instanceClass === SERVERLESS && !snap.state.capacity) this.refuse(`Refused: ${this.label} has no Serverless v2 scaling configuration, so its instances cannot be db.serverless`);
        return;
    }
  }

  private member(snap: Snapshot, id: string): DatabaseMember | undefined {
    return snap.state.members.find((m) => m.id === id);
  }

  private readerCount(snap: Snapshot): number {
    return snap.state.members.filter((m) => m.role === 'reader').length;
  }

  private createCall(op: { instanceId: string; instanceClass: string }, engine: string): string {
    return `CreateDBInstance DBInstanceIdentifier=${op.instanceId} DBClusterIdentifier=${this.config.cluster} DBInstanceClass=${op.instanceClass} Engine=${engine} PromotionTier=${this.tier}`;
  }

  async plan(request: DatabaseOperation): Promise<DatabasePlan> {
    const snap = await this.snapshot();
    this.checkOperation(request, snap);
    const before = snap.state;
    const id = this.config.cluster;
    switch (request.type) {
      case 'set-capacity': {
        const cur = before.capacity!;
        const changes = cur.min !== request.min || cur.max !== request.max;
        const target = { min: request.min, max: request.max };
        const lowering = request.max < cur.max ? `lowering the maximum caps the database at ${formatAcu(request.max)} ACU: under more load than that, queries slow down instead of capacity growing` : undefined;
        return {
          summary: changes ? `Set ${this.label} capacity ${formatRange(cur)} → ${formatRange(target)}` : `${this.label} capacity is already ${formatRange(cur)}: nothing to change`,
          ...(changes && lowering ? { warning: lowering } : {}),
          calls: changes ? [`ModifyDBCluster DBClusterIdentifier=${id} ServerlessV2ScalingConfiguration={MinCapacity=${formatAcu(request.min)},MaxCapacity=${formatAcu(request.max)}} ApplyImmediately=true`] : [],
          operation: { type: 'set-capacity', min: request.min, max: request.max, from: { ...cur } },
          undo: { type: 'set-capacity', min: cur.min, max: cur.max, from: target },
          before,
          changes,
        };
      }
      case 'add-reader': {
        const existing = this.member(snap, request.instanceId);
        if (existing?.role === 'writer') this.refuse(`Refused: ${request.instanceId} is the writer of ${this.label}, not a reader to add`);
        if (!existing) await this.mustBeFreeIdentifier(request.instanceId);
        const readers = this.readerCount(snap);
        return {
          summary: existing
            ? `${request.instanceId} is already a reader of ${this.label} (${existing.instanceClass}, ${existing.status}): nothing to add`
            : `Add reader ${request.instanceId} (${request.instanceClass}, promotion tier ${this.tier}) to ${this.label}: ${plural(readers, 'reader')} → ${readers + 1}`,
          calls: existing ? [] : [this.createCall(request, snap.engine)],
          operation: { type: 'add-reader', instanceId: request.instanceId, instanceClass: request.instanceClass },
          undo: { type: 'remove-reader', instanceId: request.instanceId },
          before,
          changes: !existing,
        };
      }
      case 'remove-reader': {
        const existing = this.member(snap, request.instanceId);
        if (existing?.role === 'writer') this.refuse(`Refused: ${request.instanceId} is the writer of ${this.label}; the bot never deletes the writer`);
        const readers = this.readerCount(snap);
        if (!existing || existing.status === 'deleting') {
          return {
            summary: existing ? `${request.instanceId} is already being deleted from ${this.label}: nothing to remove` : `${request.instanceId} is not an instance of ${this.label}: nothing to remove`,
            calls: [],
            operation: { type: 'remove-reader', instanceId: request.instanceId },
            before,
            changes: false,
          };
        }
        const left = readers - 1;
        return {
          summary: `Remove reader ${request.instanceId} (${existing.instanceClass}) from ${this.label}: ${plural(readers, 'reader')} → ${left}`,
          warning: `connections to that reader are dropped; the reader endpoint sends new ones to ${left > 0 ? `the ${plural(left, 'remaining reader')}` : 'the writer, as no reader is left'}`,
          calls: [`DeleteDBInstance DBInstanceIdentifier=${request.instanceId}`],
          operation: { type: 'remove-reader', instanceId: request.instanceId },
          undo: { type: 'add-reader', instanceId: request.instanceId, instanceClass: existing.instanceClass },
          before,
          changes: true,
        };
      }
      case 'set-instance-class': {
        const existing = this.member(snap, request.instanceId);
        if (!existing) this.refuse(`Refused: ${request.instanceId} is not an instance of ${this.label} (its instances: ${before.members.map((m) => m.id).join(', ') || 'none'})`);
        const current = existing.instanceClass;
        const changes = current !== request.instanceClass;
        return {
          summary: changes
            ? `Change the instance class of ${existing.role} ${request.instanceId} of ${this.label}: ${current} → ${request.instanceClass}`
            : `${request.instanceId} is already ${current}: nothing to change`,
          ...(changes
            ? { warning: `changing the instance class restarts the instance: its connections drop for a few minutes${existing.role === 'writer' ? ', and while the writer restarts the cluster takes no writes' : ''}` }
            : {}),
          calls: changes ? [`ModifyDBInstance DBInstanceIdentifier=${request.instanceId} DBInstanceClass=${request.instanceClass} ApplyImmediately=true`] : [],
          operation: { type: 'set-instance-class', instanceId: request.instanceId, instanceClass: request.instanceClass, from: current },
          undo: { type: 'set-instance-class', instanceId: request.instanceId, instanceClass: current, from: request.instanceClass },
          before,
          changes,
        };
      }
    }
  }

  /** An identifier taken by an instance outside this cluster would make CreateDBInstance fail: say so at plan time. */
  private async mustBeFreeIdentifier(instanceId: string): Promise<void> {
    try {
      const out = await this.send(`look up instance ${instanceId}`, (c, o) => c.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: instanceId }), o), { permission: 'rds:DescribeDBInstances' });
      const other = out.DBInstances?.[0];
      if (other) this.refuse(`Refused: an instance named ${instanceId} already exists${other.DBClusterIdentifier ? ` in cluster ${other.DBClusterIdentifier}` : ''}; choose another identifier`);
    } catch (error) {
      if (error instanceof AuroraError && error.code === 'DBInstanceNotFoundFault') return;
      throw error;
    }
  }

  private changedSincePlan(what: string, now: string, planned: string): never {
    this.refuse(`${what} changed since the plan was made: it is ${now}, the plan expected ${planned}. Request again so the checks and approval see the current state`);
  }

  private expect(e: Expectation): void {
    this.expectations ??= new Map();
    this.expectations.set(e.kind === 'capacity' ? 'cluster' : e.id, e);
  }

  async apply(operation: DatabaseOperation): Promise<{ before: DatabaseState; after: DatabaseState }> {
    const result = await this.applyOnce(operation);
    // Only an operation that went through (or was already in place) is waited for.
    this.expect(expectationOf(operation));
    return result;
  }

  private async applyOnce(operation: DatabaseOperation): Promise<{ before: DatabaseState; after: DatabaseState }> {
    const snap = await this.snapshot();
    this.checkOperation(operation, snap);
    const before = snap.state;
    const id = this.config.cluster;
    /** The state after a change: read again; if that read fails, the change still happened. */
    const after = async (fallback: DatabaseState) => this.read().catch(() => fallback);
    switch (operation.type) {
      case 'set-capacity': {
        const cur = before.capacity!;
        const target = { min: operation.min, max: operation.max };
        const done = cur.min === target.min && cur.max === target.max;
        if (!done && operation.from && (cur.min !== operation.from.min || cur.max !== operation.from.max)) {
          this.changedSincePlan(`${this.label} capacity`, formatRange(cur), formatRange(operation.from));
        }
        if (done) return { before, after: before };
        await this.send(
          `set ${this.label} capacity to ${formatRange(target)}`,
          (c, o) => c.send(new ModifyDBClusterCommand({ DBClusterIdentifier: id, ServerlessV2ScalingConfiguration: { MinCapacity: target.min, MaxCapacity: target.max }, ApplyImmediately: true }), o),
          { permission: 'rds:ModifyDBCluster', mutating: true },
        );
        return { before, after: await after({ ...before, capacity: target }) };
      }
      case 'add-reader': {
        const existing = this.member(snap, operation.instanceId);
        if (existing?.role === 'writer') this.refuse(`Refused: ${operation.instanceId} is the writer of ${this.label}, not a reader to add`);
        if (existing) return { before, after: before };
        try {
          await this.send(
            `add reader ${operation.instanceId} to ${this.label}`,
            (c, o) => c.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: operation.instanceId, DBClusterIdentifier: id, DBInstanceClass: operation.instanceClass, Engine: snap.engine, PromotionTier: this.tier }), o),
            { permission: 'rds:CreateDBInstance', mutating: true },
          );
        } catch (error) {
          // A retried create whose first attempt went through answers "already exists": it is ours if the cluster has it now.
          if (!(error instanceof AuroraError && error.code === 'DBInstanceAlreadyExistsFault')) throw error;
          const now = await this.read();
          if (!now.members.some((m) => m.id === operation.instanceId && m.role === 'reader')) throw error;
          return { before, after: now };
        }
        const added: DatabaseMember = { id: operation.instanceId, role: 'reader', instanceClass: operation.instanceClass, status: 'creating' };
        return { before, after: await after({ ...before, members: [...before.members, added] }) };
      }
      case 'remove-reader': {
        const existing = this.member(snap, operation.instanceId);
        if (existing?.role === 'writer') this.refuse(`Refused: ${operation.instanceId} is the writer of ${this.label}; the bot never deletes the writer`);
        if (!existing || existing.status === 'deleting') return { before, after: before };
        try {
          await this.send(`remove reader ${operation.instanceId} from ${this.label}`, (c, o) => c.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: operation.instanceId }), o), { permission: 'rds:DeleteDBInstance', mutating: true });
        } catch (error) {
          // A retried delete whose first attempt went through: the instance is gone or being deleted.
          if (!(error instanceof AuroraError && ['DBInstanceNotFoundFault', 'InvalidDBInstanceStateFault'].includes(error.code))) throw error;
          const now = await this.read();
          const still = now.members.find((m) => m.id === operation.instanceId);
          if (still && still.status !== 'deleting') throw error;
          return { before, after: now };
        }
        const members = before.members.map((m) => (m.id === operation.instanceId ? { ...m, status: 'deleting' } : m));
        return { before, after: await after({ ...before, members }) };
      }
      case 'set-instance-class': {
        const existing = this.member(snap, operation.instanceId);
        if (!existing) this.refuse(`Refused: ${operation.instanceId} is not an instance of ${this.label}`);
        const pending = snap.pendingClass.get(operation.instanceId);
        const done = (existing.instanceClass === operation.instanceClass && !pending) || pending === operation.instanceClass;
        if (!done && operation.from !== undefined && existing.instanceClass !== operation.from) {
          this.changedSincePlan(`Instance ${operation.instanceId}`, existing.instanceClass, operation.from);
        }
        if (done) return { before, after: before };
        await this.send(
          `change the class of ${operation.instanceId} to ${operation.instanceClass}`,
          (c, o) => c.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: operation.instanceId, DBInstanceClass: operation.instanceClass, ApplyImmediately: true }), o),
          { permission: 'rds:ModifyDBInstance', mutating: true },
        );
        const members = before.members.map((m) => (m.id === operation.instanceId ? { ...m, status: 'modifying' } : m));
        return { before, after: await after({ ...before, members }) };
      }
    }
  }

  async reconcile(operation: DatabaseOperation): Promise<{ status: 'applied' | 'not-applied'; state: DatabaseState } | { status: 'diverged'; detail: string }> {
    const snap = await this.snapshot();
    const state = snap.state;
    const result = (status: 'applied' | 'not-applied') => {
      if (status === 'applied') this.expect(expectationOf(operation));
      return { status, state };
    };
    switch (operation.type) {
      case 'set-capacity': {
        const cur = state.capacity;
        const asked = { min: operation.min, max: operation.max };
        if (cur && cur.min === asked.min && cur.max === asked.max) return result('applied');
        if (!operation.from || (cur && cur.min === operation.from.min && cur.max === operation.from.max)) return result('not-applied');
        return { status: 'diverged', detail: `${this.label} capacity is ${formatRange(cur)}: neither ${formatRange(operation.from)} (before) nor ${formatRange(asked)} (asked); someone else changed it` };
      }
      case 'add-reader': {
        const m = this.member(snap, operation.instanceId);
        if (m?.role === 'writer') return { status: 'diverged', detail: `${operation.instanceId} is the writer of ${this.label}, not an added reader` };
        return result(m ? 'applied' : 'not-applied');
      }
      case 'remove-reader': {
        const m = this.member(snap, operation.instanceId);
        if (m?.role === 'writer') return { status: 'diverged', detail: `${operation.instanceId} is now the writer of ${this.label} (a failover?); the bot never deletes the writer` };
        return result(!m || m.status === 'deleting' ? 'applied' : 'not-applied');
      }
      case 'set-instance-class': {
        const m = this.member(snap, operation.instanceId);
        if (!m) return { status: 'diverged', detail: `${operation.instanceId} is no longer an instance of ${this.label}` };
        const pending = snap.pendingClass.get(operation.instanceId);
        if ((m.instanceClass === operation.instanceClass && !pending) || pending === operation.instanceClass) return result('applied');
        if (operation.from === undefined || m.instanceClass === operation.from) return result('not-applied');
        return { status: 'diverged', detail: `${operation.instanceId} is ${m.instanceClass}: neither ${operation.from} (before) nor ${operation.instanceClass} (asked); someone else changed it` };
      }
    }
  }

  /** What still keeps the cluster from being as applied and available; empty when it is. */
  private outstanding(snap: Snapshot): string[] {
    const { state } = snap;
    const out: string[] = [];
    if (state.status !== 'available') out.push(`${this.label} is ${state.status}`);
    const expectations = this.expectations ? [...this.expectations.values()] : undefined;
    if (!expectations) {
      for (const m of state.members) if (m.status !== 'available') out.push(`${m.id} is ${m.status}`);
      return out;
    }
    for (const e of expectations) {
      if (e.kind === 'capacity') {
        if (state.capacity?.min !== e.min || state.capacity.max !== e.max) out.push(`capacity is ${formatRange(state.capacity)}, not yet ${formatRange(e)}`);
        continue;
      }
      const m = state.members.find((x) => x.id === e.id);
      if (e.kind === 'gone') {
        if (m) out.push(`${e.id} is ${m.status}`);
      } else if (!m) {
        out.push(`${e.id} is not in the cluster${e.kind === 'class' ? ' any more' : ' yet'}`);
      } else if (e.kind === 'class' && (m.instanceClass !== e.instanceClass || snap.pendingClass.has(e.id))) {
        out.push(`${e.id} is ${m.status} (class ${m.instanceClass}, ${e.instanceClass} pending)`);
      } else if (m.status !== 'available') {
        out.push(`${e.id} is ${m.status}`);
      }
    }
    return out;
  }

  async waitUntilAvailable(deadline: number, signal: AbortSignal): Promise<{ passed: boolean; state?: DatabaseState; summary: string }> {
    const clock = this.settings.clock;
    const startedAt = clock.now();
    const took = () => formatDuration(Math.max(0, clock.now() - startedAt));
    let last: Snapshot | undefined;
    let lastError: AuroraError | undefined;
    const stuck = () => {
      const parts = last ? this.outstanding(last) : [];
      if (lastError) parts.push(`the last read failed: ${lastError.message}`);
      return parts.join('; ') || 'nothing could be read';
    };
    const failed = (summary: string) => ({ passed: false, ...(last ? { state: last.state } : {}), summary });
    for (;;) {
      if (signal.aborted) return failed(`stopped waiting after ${took()}: ${stuck()}`);
      if (clock.now() >= deadline) return failed(`not available after ${took()}: ${stuck()}`);
      // A read may not outlast the deadline.
      const readSignal = AbortSignal.any([signal, AbortSignal.timeout(Math.max(1, deadline - clock.now()))]);
      try {
        last = await this.snapshot(readSignal);
        lastError = undefined;
        const pending = this.outstanding(last);
        if (pending.length === 0) {
          this.expectations = new Map();
          return { passed: true, state: last.state, summary: `${availableLine(last.state)} after ${took()}` };
        }
      } catch (error) {
        if (readSignal.aborted) continue;
        const e = error instanceof AuroraError ? error : describeRdsError(`read ${this.label}`, error, this.context());
        // A missing cluster or refused credentials will not get better by waiting.
        if (e.code === 'DBClusterNotFoundFault' || isAuthError(e)) return failed(e.message);
        lastError = e;
      }
      await sleep(Math.min(this.pollMs, Math.max(0, deadline - clock.now())), deadline, clock, signal);
    }
  }
}

function expectationOf(op: DatabaseOperation): Expectation {
  switch (op.type) {
    case 'set-capacity':
      return { kind: 'capacity', min: op.min, max: op.max };
    case 'add-reader':
      return { kind: 'present', id: op.instanceId };
    case 'remove-reader':
      return { kind: 'gone', id: op.instanceId };
    case 'set-instance-class':
      return { kind: 'class', id: op.instanceId, instanceClass: op.instanceClass };
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** "cluster autolytiq-prod available, 8..64 ACU; writer w-1, readers r-1, r-2 available". */
export function availableLine(state: DatabaseState): string {
  const writers = state.members.filter((m) => m.role === 'writer').map((m) => m.id);
  const readers = state.members.filter((m) => m.role === 'reader').map((m) => m.id);
  const who = [writers.length ? `writer ${writers.join(', ')}` : 'no writer', readers.length ? `${readers.length === 1 ? 'reader' : 'readers'} ${readers.join(', ')}` : 'no readers'];
  return `cluster ${state.id} available, ${formatRange(state.capacity)}; ${who.join(', ')} available`;
}

/** Waits `ms` (real time), or until the clock reaches `deadline`, or the signal aborts. */
function sleep(ms: number, deadline: number, clock: Clock, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    let cancelDeadline = () => {};
    const done = () => {
      clearTimeout(timer);
      cancelDeadline();
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    cancelDeadline = clock.at(deadline, done);
    signal.addEventListener('abort', done, { once: true });
  });
}

