/**
 * The Aurora Serverless v2 target driven through the real @aws-sdk/client-rds (Query protocol,
 * SigV4-signed) against the local RDS server: read, plan and apply each operation, wait until
 * available, undo, reconcile, changed-since-plan, and every fault the adapter must explain.
 */
import { ModifyDBClusterCommand, RDSClient } from '@aws-sdk/client-rds';
import { afterEach, describe, expect, it } from 'vitest';
import { AuroraError, auroraProbe, auroraTarget, type AuroraTargetOptions } from '../../../src/adapters/aws/index.ts';
import type { DatabaseOperation } from '../../../src/ports/database-target.port.ts';
import { Unmeasurable } from '../../../src/ports/probe.port.ts';
import { startRdsServer, type ClusterSeed, type RdsServer, type RdsServerOptions } from '../../servers/rds-server.ts';

const CLUSTER = 'autolytiq-prod';
const WRITER = 'autolytiq-prod-instance-1';
const READER = 'autolytiq-prod-reader-1';
const MUTATING = ['ModifyDBCluster', 'CreateDBInstance', 'DeleteDBInstance', 'ModifyDBInstance'];

const servers: RdsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function setup(opts: { server?: RdsServerOptions; cluster?: Partial<ClusterSeed>; target?: AuroraTargetOptions } = {}) {
  const rds = await startRdsServer({ timings: { clusterModifyMs: 60, instanceCreateMs: 120, instanceDeleteMs: 120, instanceModifyMs: 120 }, ...opts.server });
  servers.push(rds);
  rds.addCluster({
    id: CLUSTER,
    capacity: { min: 2, max: 16 },
    members: [
      { id: WRITER, writer: true },
      { id: READER, promotionTier: 1 },
    ],
    ...opts.cluster,
  });
  const target = targetOn(rds, opts.target);
  /** Someone else, with their own client. */
  const other = new RDSClient({ region: rds.region, endpoint: rds.url, credentials: rds.credentials, maxAttempts: 1 });
  const mutations = () => rds.requests.filter((r) => MUTATING.includes(r.action));
  return { rds, target, other, mutations };
}

/** The adapter pointed at the local server (static credentials, one attempt unless told). */
function targetOn(rds: RdsServer, opts: AuroraTargetOptions = {}, cluster = CLUSTER) {
  return auroraTarget({ cluster, region: rds.region }, { endpoint: rds.url, credentials: rds.credentials, maxAttempts: 1, pollIntervalMs: 20, ...opts });
}

const soon = (ms = 5_000) => Date.now() + ms;
const never = () => new AbortController().signal;

async function rejection(p: Promise<unknown>): Promise<AuroraError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AuroraError);
  return error as AuroraError;
}

describe('read', () => {
  it('reads capacity and members through signed Describe calls', async () => {
    const { rds, target } = await setup();
    const state = await target.read();
    expect(state).toEqual({
      id: CLUSTER,
      status: 'available',
      capacity: { min: 2, max: 16 },
      members: [
        { id: WRITER, role: 'writer', instanceClass: 'db.serverless', status: 'available' },
        { id: READER, role: 'reader', instanceClass: 'db.serverless', status: 'available' },
      ],
    });
    expect(rds.actions()).toEqual(['DescribeDBClusters', 'DescribeDBInstances']);
    for (const r of rds.requests) {
      expect(r.params.Version).toBe('2014-10-31');
      expect(r.authorization).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=${rds.credentials.accessKeyId}/\\d{8}/us-east-1/rds/aws4_request, SignedHeaders=.*host.*, Signature=[0-9a-f]{64}$`));
    }
    expect(rds.requests[0]!.params).toMatchObject({ Action: 'DescribeDBClusters', DBClusterIdentifier: CLUSTER });
    expect(rds.requests[1]!.params).toMatchObject({ 'Filters.Filter.1.Name': 'db-cluster-id', 'Filters.Filter.1.Values.Value.1': CLUSTER });
  });

  it('follows DescribeDBInstances pages (Marker)', async () => {
    const { rds, target } = await setup({ server: { pageSize: 1 }, cluster: { members: [{ id: WRITER }, { id: 'r-a' }, { id: 'r-b' }] } });
    const state = await target.read();
    expect(state.members.map((m) => [m.id, m.role, m.status])).toEqual([
      [WRITER, 'writer', 'available'],
      ['r-a', 'reader', 'available'],
      ['r-b', 'reader', 'available'],
    ]);
    const pages = rds.requests.filter((r) => r.action === 'DescribeDBInstances');
    expect(pages).toHaveLength(3);
    expect(pages[0]!.params.Marker).toBeUndefined();
    expect(pages[1]!.params.Marker).toBeTruthy();
  });

  it('the server refuses an unsigned request as AWS does (403 MissingAuthenticationToken)', async () => {
    const { rds } = await setup();
    const res = await fetch(rds.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `Action=DescribeDBClusters&Version=2014-10-31` });
    expect(res.status).toBe(403);
    expect(await res.text()).toMatch(/<ErrorResponse xmlns="http:\/\/rds.amazonaws.com\/doc\/2014-10-31\/"><Error><Type>Sender<\/Type><Code>MissingAuthenticationToken<\/Code>/);
  });
});

describe('set-capacity (seed 003: pre-scale 2..16 → 8..64 ACU, and back)', () => {
  it('plans the exact call and its undo without changing anything', async () => {
    const { target, mutations } = await setup();
    const plan = await target.plan({ type: 'set-capacity', min: 8, max: 64 });
    expect(plan).toMatchObject({
      summary: `Set cluster ${CLUSTER} capacity 2..16 ACU → 8..64 ACU`,
      calls: [`ModifyDBCluster DBClusterIdentifier=${CLUSTER} ServerlessV2ScalingConfiguration={MinCapacity=8,MaxCapacity=64} ApplyImmediately=true`],
      operation: { type: 'set-capacity', min: 8, max: 64, from: { min: 2, max: 16 } },
      undo: { type: 'set-capacity', min: 2, max: 16, from: { min: 8, max: 64 } },
      changes: true,
    });
    expect(plan.warning).toBeUndefined();
    expect(plan.before.capacity).toEqual({ min: 2, max: 16 });
    expect(mutations()).toEqual([]);
  });

  it('applies, waits until available, and rolls back with the undo', async () => {
    const { rds, target, mutations } = await setup();
    const plan = await target.plan({ type: 'set-capacity', min: 8, max: 64 });
    rds.stall(true); // hold the transition while the intermediate state is checked
    const { before, after } = await target.apply(plan.operation);
    expect(before.capacity).toEqual({ min: 2, max: 16 });
    expect(after).toMatchObject({ status: 'modifying', capacity: { min: 8, max: 64 } });
    rds.stall(false);
    expect(mutations().map((r) => r.params)).toEqual([
      expect.objectContaining({
        Action: 'ModifyDBCluster',
        DBClusterIdentifier: CLUSTER,
        'ServerlessV2ScalingConfiguration.MinCapacity': '8',
        'ServerlessV2ScalingConfiguration.MaxCapacity': '64',
        ApplyImmediately: 'true',
      }),
    ]);
    const waited = await target.waitUntilAvailable(soon(), never());
    expect(waited.passed).toBe(true);
    expect(waited.summary).toMatch(new RegExp(`^cluster ${CLUSTER} available, 8\\.\\.64 ACU; writer ${WRITER}, reader ${READER} available after `));
    expect(rds.cluster(CLUSTER)).toMatchObject({ status: 'available', capacity: { min: 8, max: 64 } });

    const undo = await target.apply(plan.undo!);
    expect(undo.after.capacity).toEqual({ min: 2, max: 16 });
    expect((await target.waitUntilAvailable(soon(), never())).passed).toBe(true);
    expect(rds.cluster(CLUSTER)!.capacity).toEqual({ min: 2, max: 16 });
  });

  it('a cluster already as asked counts as applied: no second ModifyDBCluster', async () => {
    const { rds, target, mutations } = await setup();
    const plan = await target.plan({ type: 'set-capacity', min: 8, max: 64 });
    await target.apply(plan.operation);
    rds.settle();
    const again = await target.apply(plan.operation);
    expect(again.after.capacity).toEqual({ min: 8, max: 64 });
    expect(mutations()).toHaveLength(1);
    const replan = await target.plan({ type: 'set-capacity', min: 8, max: 64 });
    expect(replan).toMatchObject({ changes: false, calls: [], summary: `cluster ${CLUSTER} capacity is already 8..64 ACU: nothing to change` });
  });

  it('refuses when the cluster changed since the plan, and changes nothing', async () => {
    const { rds, target, other, mutations } = await setup();
    const plan = await target.plan({ type: 'set-capacity', min: 8, max: 64 });
    await other.send(new ModifyDBClusterCommand({ DBClusterIdentifier: CLUSTER, ServerlessV2ScalingConfiguration: { MinCapacity: 4, MaxCapacity: 32 }, ApplyImmediately: true }));
    rds.settle();
    const before = mutations().length;
    const error = await rejection(target.apply(plan.operation));
    expect(error.message).toBe(
      `cluster ${CLUSTER} capacity changed since the plan was made: it is 4..32 ACU, the plan expected 2..16 ACU. Request again so the checks and approval see the current state. Nothing was changed.`,
    );
    expect(error.code).toBe('refused');
    expect(mutations()).toHaveLength(before);
    expect(rds.cluster(CLUSTER)!.capacity).toEqual({ min: 4, max: 32 });
  });

  it.each([
    [{ min: 2.3, max: 16 }, 'minimum 2.3 ACU is not valid: capacity goes in steps of 0.5 ACU'],
    [{ min: 2, max: 300 }, 'maximum 300 ACU is outside 1..256 ACU'],
    [{ min: 2, max: 0.5 }, 'maximum 0.5 ACU is outside 1..256 ACU (Aurora needs a maximum above 0.5 ACU)'],
    [{ min: 32, max: 16 }, 'minimum 32 ACU is above maximum 16 ACU'],
    [{ min: -1, max: 16 }, 'minimum -1 ACU is outside 0..256 ACU'],
  ])('refuses %o before any call: %s', async (range, reason) => {
    const { target, mutations } = await setup();
    const op: DatabaseOperation = { type: 'set-capacity', ...range };
    const planned = await rejection(target.plan(op));
    expect(planned.message).toContain(reason);
    expect(planned.message).toMatch(/^Refused: cluster autolytiq-prod capacity .* Nothing was changed\.$/);
    const applied = await rejection(target.apply(op));
    expect(applied.message).toContain(reason);
    expect(mutations()).toEqual([]);
  });

  it('accepts half steps and a minimum of 0 (auto-pause)', async () => {
    const { rds, target } = await setup();
    await target.apply({ type: 'set-capacity', min: 0, max: 1.5 });
    expect(rds.cluster(CLUSTER)!.capacity).toEqual({ min: 0, max: 1.5 });
    const plan = await target.plan({ type: 'set-capacity', min: 0.5, max: 256 });
    expect(plan.calls[0]).toContain('ServerlessV2ScalingConfiguration={MinCapacity=0.5,MaxCapacity=256}');
  });

  it('warns when the maximum goes down', async () => {
    const { target } = await setup();
    expect((await target.plan({ type: 'set-capacity', min: 2, max: 8 })).warning).toMatch(/lowering the maximum caps the database at 8 ACU/);
  });

  it('refuses on a cluster that is not Serverless v2', async () => {
    const { target } = await setup({ cluster: { capacity: null, members: [{ id: WRITER, instanceClass: 'db.r6g.large' }] } });
    expect((await target.read()).capacity).toBeUndefined();
    const error = await rejection(target.plan({ type: 'set-capacity', min: 8, max: 64 }));
    expect(error.message).toMatch(/has no Serverless v2 scaling configuration/);
  });
});

describe('readers', () => {
  it('adds a db.serverless reader with the cluster engine, waits for it, and removes it again (undo)', async () => {
    const { rds, target, mutations } = await setup();
    const plan = await target.plan({ type: 'add-reader', instanceId: 'autolytiq-prod-reader-2', instanceClass: 'db.serverless' });
    expect(plan).toMatchObject({
      summary: `Add reader autolytiq-prod-reader-2 (db.serverless, promotion tier 15) to cluster ${CLUSTER}: 1 reader → 2`,
      calls: [`CreateDBInstance DBInstanceIdentifier=autolytiq-prod-reader-2 DBClusterIdentifier=${CLUSTER} DBInstanceClass=db.serverless Engine=aurora-postgresql PromotionTier=15`],
      undo: { type: 'remove-reader', instanceId: 'autolytiq-prod-reader-2' },
      changes: true,
    });
    rds.stall(true);
    const { after } = await target.apply(plan.operation);
    expect(after.members.find((m) => m.id === 'autolytiq-prod-reader-2')).toMatchObject({ role: 'reader', status: 'creating' });
    rds.stall(false);
    expect(mutations().map((r) => r.params)).toEqual([
      expect.objectContaining({ Action: 'CreateDBInstance', DBInstanceIdentifier: 'autolytiq-prod-reader-2', DBClusterIdentifier: CLUSTER, DBInstanceClass: 'db.serverless', Engine: 'aurora-postgresql', PromotionTier: '15' }),
    ]);
    const waited = await target.waitUntilAvailable(soon(), never());
    expect(waited).toMatchObject({ passed: true });
    expect(waited.summary).toContain('readers autolytiq-prod-reader-1, autolytiq-prod-reader-2 available');
    expect(rds.instance('autolytiq-prod-reader-2')).toMatchObject({ status: 'available', writer: false, promotionTier: 15 });

    // Applying again is a no-op.
    await target.apply(plan.operation);
    expect(mutations()).toHaveLength(1);

    rds.stall(true);
    await target.apply(plan.undo!);
    expect(rds.instance('autolytiq-prod-reader-2')!.status).toBe('deleting');
    rds.stall(false);
    const gone = await target.waitUntilAvailable(soon(), never());
    expect(gone.passed).toBe(true);
    expect(rds.instance('autolytiq-prod-reader-2')).toBeUndefined();
    expect(gone.state!.members.map((m) => m.id)).toEqual([WRITER, READER]);
  });

  it('removing a reader warns that its connections drop; the undo adds it back with its class', async () => {
    const { rds, target } = await setup({ cluster: { members: [{ id: WRITER }, { id: READER, instanceClass: 'db.r6g.large' }] } });
    const plan = await target.plan({ type: 'remove-reader', instanceId: READER });
    expect(plan).toMatchObject({
      summary: `Remove reader ${READER} (db.r6g.large) from cluster ${CLUSTER}: 1 reader → 0`,
      warning: 'connections to that reader are dropped; the reader endpoint sends new ones to the writer, as no reader is left',
      calls: [`DeleteDBInstance DBInstanceIdentifier=${READER}`],
      undo: { type: 'add-reader', instanceId: READER, instanceClass: 'db.r6g.large' },
    });
    await target.apply(plan.operation);
    expect((await target.waitUntilAvailable(soon(), never())).passed).toBe(true);
    expect(rds.instance(READER)).toBeUndefined();
    // Applying the removal again (a retry after a crash) is a no-op.
    await target.apply(plan.operation);
    expect(rds.actions().filter((a) => a === 'DeleteDBInstance')).toHaveLength(1);

    await target.apply(plan.undo!);
    expect((await target.waitUntilAvailable(soon(), never())).passed).toBe(true);
    expect(rds.instance(READER)).toMatchObject({ instanceClass: 'db.r6g.large', status: 'available', writer: false });
  });

  it('never deletes the writer', async () => {
    const { rds, target, mutations } = await setup();
    const planned = await rejection(target.plan({ type: 'remove-reader', instanceId: WRITER }));
    expect(planned.message).toBe(`Refused: ${WRITER} is the writer of cluster ${CLUSTER}; the bot never deletes the writer. Nothing was changed.`);
    const applied = await rejection(target.apply({ type: 'remove-reader', instanceId: WRITER }));
    expect(applied.message).toContain('never deletes the writer');
    expect(mutations()).toEqual([]);
    expect(rds.instance(WRITER)!.status).toBe('available');
  });

  it('refuses a reader identifier that another cluster already uses, at plan time', async () => {
    const { rds, target } = await setup();
    rds.addCluster({ id: 'other-cluster', members: [{ id: 'taken-name' }] });
    const error = await rejection(target.plan({ type: 'add-reader', instanceId: 'taken-name', instanceClass: 'db.serverless' }));
    expect(error.message).toBe('Refused: an instance named taken-name already exists in cluster other-cluster; choose another identifier. Nothing was changed.');
    const bad = await rejection(target.plan({ type: 'add-reader', instanceId: 'bad--name', instanceClass: 'db.serverless' }));
    expect(bad.message).toMatch(/not a valid instance identifier/);
  });

  it('a create whose answer was lost and that the SDK retried counts as applied', async () => {
    const { rds, target } = await setup({ target: { maxAttempts: 2 } });
    rds.failNext({ action: 'CreateDBInstance', drop: 'after' });
    const { after } = await target.apply({ type: 'add-reader', instanceId: 'reader-x', instanceClass: 'db.serverless' });
    expect(rds.requests.filter((r) => r.action === 'CreateDBInstance').map((r) => r.code)).toEqual(['dropped', 'DBInstanceAlreadyExists']);
    expect(after.members.some((m) => m.id === 'reader-x')).toBe(true);
  });
});

describe('set-instance-class', () => {
  it('warns that the instance restarts, waits for the pending class to apply, and undoes', async () => {
    const { rds, target } = await setup({ cluster: { members: [{ id: WRITER }, { id: READER, instanceClass: 'db.r6g.large' }] } });
    const plan = await target.plan({ type: 'set-instance-class', instanceId: READER, instanceClass: 'db.r6g.xlarge' });
    expect(plan).toMatchObject({
      summary: `Change the instance class of reader ${READER} of cluster ${CLUSTER}: db.r6g.large → db.r6g.xlarge`,
      calls: [`ModifyDBInstance DBInstanceIdentifier=${READER} DBInstanceClass=db.r6g.xlarge ApplyImmediately=true`],
      operation: { from: 'db.r6g.large' },
      undo: { type: 'set-instance-class', instanceId: READER, instanceClass: 'db.r6g.large', from: 'db.r6g.xlarge' },
    });
    expect(plan.warning).toMatch(/^changing the instance class restarts the instance/);
    rds.stall(true);
    await target.apply(plan.operation);
    expect(rds.instance(READER)).toMatchObject({ status: 'modifying', instanceClass: 'db.r6g.large', pendingClass: 'db.r6g.xlarge' });
    // While RDS is on it, the operation counts as applied (a retry does not call again).
    expect((await target.reconcile(plan.operation)).status).toBe('applied');
    await target.apply(plan.operation);
    expect(rds.actions().filter((a) => a === 'ModifyDBInstance')).toHaveLength(1);
    rds.stall(false);
    const waited = await target.waitUntilAvailable(soon(), never());
    expect(waited.passed).toBe(true);
    expect(waited.state!.members.find((m) => m.id === READER)).toMatchObject({ instanceClass: 'db.r6g.xlarge', status: 'available' });

    await target.apply(plan.undo!);
    expect((await target.waitUntilAvailable(soon(), never())).passed).toBe(true);
    expect(rds.instance(READER)!.instanceClass).toBe('db.r6g.large');
  });

  it('the writer: the warning says writes stop; changed since the plan is refused', async () => {
    const { rds, target, mutations } = await setup({ cluster: { members: [{ id: WRITER, instanceClass: 'db.r6g.large' }] } });
    const plan = await target.plan({ type: 'set-instance-class', instanceId: WRITER, instanceClass: 'db.r6g.2xlarge' });
    expect(plan.warning).toMatch(/restarts the instance.*the cluster takes no writes/);
    await target.apply({ type: 'set-instance-class', instanceId: WRITER, instanceClass: 'db.r6g.xlarge' });
    rds.settle();
    const error = await rejection(target.apply(plan.operation));
    expect(error.message).toBe(
      `Instance ${WRITER} changed since the plan was made: it is db.r6g.xlarge, the plan expected db.r6g.large. Request again so the checks and approval see the current state. Nothing was changed.`,
    );
    expect(mutations()).toHaveLength(1);
  });
});

describe('reconcile (after a crash; reads only)', () => {
  it('set-capacity: not-applied, applied, diverged', async () => {
    const { rds, target, other, mutations } = await setup();
    const op: DatabaseOperation = { type: 'set-capacity', min: 8, max: 64, from: { min: 2, max: 16 } };
    expect(await target.reconcile(op)).toMatchObject({ status: 'not-applied', state: { capacity: { min: 2, max: 16 } } });
    await target.apply(op);
    rds.settle();
    expect(await target.reconcile(op)).toMatchObject({ status: 'applied', state: { capacity: { min: 8, max: 64 } } });
    await other.send(new ModifyDBClusterCommand({ DBClusterIdentifier: CLUSTER, ServerlessV2ScalingConfiguration: { MinCapacity: 4, MaxCapacity: 32 } }));
    expect(await target.reconcile(op)).toEqual({
      status: 'diverged',
      detail: `cluster ${CLUSTER} capacity is 4..32 ACU: neither 2..16 ACU (before) nor 8..64 ACU (asked); someone else changed it`,
    });
    expect(mutations().filter((r) => r.accessKeyId === rds.credentials.accessKeyId && r.action === 'ModifyDBCluster')).toHaveLength(2);
  });

  it('readers and instance class', async () => {
    const { rds, target } = await setup();
    const add: DatabaseOperation = { type: 'add-reader', instanceId: 'r-new', instanceClass: 'db.serverless' };
    expect((await target.reconcile(add)).status).toBe('not-applied');
    await target.apply(add);
    expect((await target.reconcile(add)).status).toBe('applied');
    const remove: DatabaseOperation = { type: 'remove-reader', instanceId: READER };
    expect((await target.reconcile(remove)).status).toBe('not-applied');
    await target.apply(remove);
    expect((await target.reconcile(remove)).status).toBe('applied');
    rds.settle();
    expect((await target.reconcile(remove)).status).toBe('applied');
    expect(await target.reconcile({ type: 'remove-reader', instanceId: WRITER })).toMatchObject({ status: 'diverged' });
    const cls: DatabaseOperation = { type: 'set-instance-class', instanceId: WRITER, instanceClass: 'db.r6g.large', from: 'db.serverless' };
    expect((await target.reconcile(cls)).status).toBe('not-applied');
    expect(await target.reconcile({ ...cls, from: 'db.r5.large' })).toMatchObject({ status: 'diverged', detail: expect.stringContaining('someone else changed it') });
  });
});

describe('reading while instances come and go', () => {
  it('an instance deleted between DescribeDBClusters and DescribeDBInstances: read again, not "unknown"', async () => {
    const { rds, target } = await setup();
    rds.stall(true);
    const remove: DatabaseOperation = { type: 'remove-reader', instanceId: READER };
    await target.apply(remove);
    rds.beforeNext('DescribeDBInstances', () => {
      rds.stall(false);
      rds.settle();
    });
    rds.requests.length = 0;
    const result = await target.reconcile(remove);
    expect(result).toMatchObject({ status: 'applied', state: { members: [{ id: WRITER, status: 'available' }] } });
    expect(rds.actions()).toEqual(['DescribeDBClusters', 'DescribeDBInstances', 'DescribeDBClusters', 'DescribeDBInstances']);
  });
});

describe('waitUntilAvailable', () => {
  it('after a crash, a new target follows what reconcile found applied', async () => {
    const { rds, target } = await setup();
    const op: DatabaseOperation = { type: 'add-reader', instanceId: 'r-crash', instanceClass: 'db.serverless' };
    await target.apply(op);
    const restarted = targetOn(rds);
    expect((await restarted.reconcile(op)).status).toBe('applied');
    const result = await restarted.waitUntilAvailable(soon(), never());
    expect(result.passed).toBe(true);
    expect(rds.instance('r-crash')!.status).toBe('available');
  });

  it('a change that never completes: not passed at the deadline, naming what is stuck', async () => {
    const { rds, target } = await setup();
    rds.stall(true);
    await target.apply({ type: 'add-reader', instanceId: 'slow-reader', instanceClass: 'db.serverless' });
    const started = Date.now();
    const result = await target.waitUntilAvailable(Date.now() + 300, never());
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(result.passed).toBe(false);
    expect(result.summary).toMatch(/^not available after .*: slow-reader is creating$/);
    expect(result.state!.members.some((m) => m.id === 'slow-reader')).toBe(true);
  });

  it('stops promptly when aborted, and never rejects', async () => {
    const { rds, target } = await setup();
    rds.setClusterStatus(CLUSTER, 'modifying');
    const ac = new AbortController();
    const waiting = target.waitUntilAvailable(soon(60_000), ac.signal);
    // Abort once at least one full read has been answered (on a loaded machine that can take a while).
    while (rds.requests.filter((r) => r.action === 'DescribeDBInstances').length < 1) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 30));
    const started = Date.now();
    ac.abort();
    const result = await waiting;
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(result.passed).toBe(false);
    expect(result.summary).toMatch(/^stopped waiting after .*: cluster autolytiq-prod is modifying/);
  });

  it('a fresh target (nothing applied in this process) waits for every member', async () => {
    const { rds, target } = await setup();
    rds.setInstanceStatus(READER, 'rebooting');
    const waiting = target.waitUntilAvailable(soon(), never());
    while (rds.requests.filter((r) => r.action === 'DescribeDBInstances').length < 1) await new Promise((r) => setTimeout(r, 5));
    rds.setInstanceStatus(READER, 'available');
    const result = await waiting;
    expect(result.passed).toBe(true);
    expect(rds.requests.filter((r) => r.action === 'DescribeDBClusters').length).toBeGreaterThan(1);
  });

  it('only the members the operation touched count once something was applied', async () => {
    const { rds, target } = await setup();
    rds.setInstanceStatus(READER, 'upgrading');
    await target.apply({ type: 'set-capacity', min: 4, max: 32 });
    const result = await target.waitUntilAvailable(soon(), never());
    expect(result.passed).toBe(true);
  });

  it('a cluster that does not exist ends the wait at once', async () => {
    const { target } = await setup();
    const missing = targetOn(servers[0]!, {}, 'no-such-cluster');
    const result = await missing.waitUntilAvailable(soon(60_000), never());
    expect(result.passed).toBe(false);
    expect(result.summary).toMatch(/RDS has no cluster no-such-cluster in us-east-1 \(DBClusterNotFoundFault/);
    expect(await target.read()).toBeTruthy();
  });

  it('refused credentials end the wait at once', async () => {
    const { rds } = await setup();
    const target = targetOn(rds, { credentials: { accessKeyId: 'AKIDUNKNOWN', secretAccessKey: 'x' } });
    const result = await target.waitUntilAvailable(soon(60_000), never());
    expect(result).toEqual({ passed: false, summary: expect.stringContaining("AWS does not recognise the bot's access key (InvalidClientTokenId") });
    expect(rds.requests).toHaveLength(1);
  });

  it('a read that hangs does not outlast the deadline', async () => {
    const { rds, target } = await setup({ target: { callTimeoutMs: 30_000 } });
    rds.failNext({ action: 'DescribeDBClusters', delayMs: 5_000, code: 'Throttling' });
    const started = Date.now();
    const result = await target.waitUntilAvailable(Date.now() + 300, never());
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(result).toMatchObject({ passed: false, summary: expect.stringMatching(/^not available after /) });
  });

  it('keeps polling through throttling until the cluster is available', async () => {
    const { rds, target } = await setup();
    await target.apply({ type: 'set-capacity', min: 4, max: 32 });
    rds.throttle(2);
    const result = await target.waitUntilAvailable(soon(), never());
    expect(result.passed).toBe(true);
    expect(rds.requests.filter((r) => r.code === 'Throttling')).toHaveLength(2);
  });
});

describe('faults, each explained, nothing else changed', () => {
  it('DBClusterNotFoundFault', async () => {
    const { rds } = await setup();
    const target = targetOn(rds, {}, 'autolytiq-staging');
    const error = await rejection(target.plan({ type: 'set-capacity', min: 8, max: 64 }));
    expect(error.code).toBe('DBClusterNotFoundFault');
    expect(error.message).toBe(
      'could not read cluster autolytiq-staging: RDS has no cluster autolytiq-staging in us-east-1 (DBClusterNotFoundFault: DBCluster autolytiq-staging not found.); check the cluster identifier and region in the catalog. Nothing was changed.',
    );
    expect(rds.requests.map((r) => [r.action, r.status])).toEqual([['DescribeDBClusters', 404]]);
  });

  it('InvalidDBClusterStateFault: the cluster is modifying', async () => {
    const { rds, target } = await setup();
    rds.setClusterStatus(CLUSTER, 'modifying');
    const error = await rejection(target.apply({ type: 'set-capacity', min: 8, max: 64 }));
    expect(error.code).toBe('InvalidDBClusterStateFault');
    expect(error.changed).toBe('no');
    expect(error.message).toBe(
      `could not set cluster ${CLUSTER} capacity to 8..64 ACU: cluster ${CLUSTER} is busy with another change (InvalidDBClusterStateFault: DB cluster ${CLUSTER} is not currently in the available state (it is modifying).); RDS takes changes only while the cluster is available, so try again once the current change has finished. Nothing was changed.`,
    );
    expect(rds.cluster(CLUSTER)!.capacity).toEqual({ min: 2, max: 16 });
  });

  it('Throttling with maxAttempts 1: answered at once, nothing changed', async () => {
    const { rds, target } = await setup();
    rds.throttle(1, 'ModifyDBCluster');
    const error = await rejection(target.apply({ type: 'set-capacity', min: 8, max: 64 }));
    expect(error.code).toBe('Throttling');
    expect(error.message).toBe(
      `could not set cluster ${CLUSTER} capacity to 8..64 ACU: RDS is throttling the bot's requests (Throttling: Rate exceeded), still after 1 attempt; try again in a minute. Nothing was changed.`,
    );
    expect(rds.cluster(CLUSTER)!.capacity).toEqual({ min: 2, max: 16 });
  });

  it('Throttling is retried by the SDK with backoff, up to maxAttempts', async () => {
    const { rds, target } = await setup({ target: { maxAttempts: 3 } });
    rds.throttle(2, 'ModifyDBCluster');
    const started = Date.now();
    await target.apply({ type: 'set-capacity', min: 8, max: 64 });
    expect(rds.requests.filter((r) => r.action === 'ModifyDBCluster').map((r) => r.code ?? r.status)).toEqual(['Throttling', 'Throttling', 200]);
    // Full-jitter backoff from a 1 s base for throttling: waits of up to 1 s, then up to 2 s.
    expect(Date.now() - started).toBeLessThan(6_000);
    expect(rds.cluster(CLUSTER)!.capacity).toEqual({ min: 8, max: 64 });
  });

  it('Throttling that does not stop: bounded by maxAttempts, and the message says how many', async () => {
    const { rds, target } = await setup({ target: { maxAttempts: 2 } });
    rds.throttle(10, 'ModifyDBCluster');
    const error = await rejection(target.apply({ type: 'set-capacity', min: 8, max: 64 }));
    expect(rds.requests.filter((r) => r.action === 'ModifyDBCluster')).toHaveLength(2);
    expect(error.message).toMatch(/RDS is throttling the bot's requests \(Throttling: Rate exceeded\), still after 2 attempts over \d+\.\d+s of backoff; try again in a minute\. Nothing was changed\.$/);
  });

  it('maxAttempts is capped at 5', async () => {
    const { rds } = await setup();
    const target = targetOn(rds, { maxAttempts: 50 });
    rds.failNext({ action: 'DescribeDBClusters', code: 'InternalFailure', times: 10 });
    await rejection(target.read());
    expect(rds.requests.filter((r) => r.action === 'DescribeDBClusters')).toHaveLength(5);
  }, 20_000);

  it('InvalidClientTokenId: an unknown access key, not retried', async () => {
    const { rds } = await setup();
    const target = targetOn(rds, { credentials: { accessKeyId: 'AKIDUNKNOWN', secretAccessKey: 'whatever' }, maxAttempts: 3 });
    const error = await rejection(target.apply({ type: 'set-capacity', min: 8, max: 64 }));
    expect(error.code).toBe('InvalidClientTokenId');
    expect(error.message).toBe(
      `could not read cluster ${CLUSTER}: AWS does not recognise the bot's access key (InvalidClientTokenId: The security token included in the request is invalid.); check the credentials the bot runs with (environment, profile or role). Nothing was changed.`,
    );
    expect(rds.requests.map((r) => [r.action, r.status])).toEqual([['DescribeDBClusters', 403]]);
    expect(error.message).not.toContain('whatever');
  });

  it('SignatureDoesNotMatch: the wrong secret, not retried', async () => {
    const { rds } = await setup();
    const target = targetOn(rds, { credentials: { accessKeyId: rds.credentials.accessKeyId, secretAccessKey: 'not-the-secret' }, maxAttempts: 3 });
    const error = await rejection(target.read());
    expect(error.code).toBe('SignatureDoesNotMatch');
    expect(error.message).toMatch(/^could not read cluster autolytiq-prod: AWS refused the signature of the bot's request \(SignatureDoesNotMatch: .*\); the secret access key does not belong to the access key ID the bot uses\. Nothing was changed\.$/);
    expect(error.message).not.toContain('not-the-secret');
    expect(rds.requests).toHaveLength(1);
  });

  it('AccessDenied names the permission', async () => {
    const { rds, target } = await setup();
    rds.failNext({ action: 'CreateDBInstance', code: 'AccessDenied', message: 'User: arn:aws:sts::123456789012:assumed-role/scalebot is not authorized to perform: rds:CreateDBInstance' });
    const error = await rejection(target.apply({ type: 'add-reader', instanceId: 'r-2', instanceClass: 'db.serverless' }));
    expect(error.message).toMatch(/the bot's IAM identity may not do this \(AccessDenied: .*\); allow rds:CreateDBInstance on cluster autolytiq-prod\. Nothing was changed\.$/);
    // A refused change is not waited for.
    expect(await target.waitUntilAvailable(soon(), never())).toMatchObject({ passed: true });
  });

  it('a lost answer to a change: unknown whether applied, and reconcile tells', async () => {
    const { rds, target } = await setup();
    rds.failNext({ action: 'ModifyDBCluster', drop: 'after' });
    const op: DatabaseOperation = { type: 'set-capacity', min: 8, max: 64, from: { min: 2, max: 16 } };
    const error = await rejection(target.apply(op));
    expect(error.changed).toBe('unknown');
    expect(error.message).toMatch(/^could not set cluster autolytiq-prod capacity to 8\.\.64 ACU: .*RDS may or may not have applied it: the next read of the cluster shows which; nothing else was changed\.$/);
    expect((await target.reconcile(op)).status).toBe('applied');
  });

  it.each([
    ['the per-attempt timeout bounds one attempt', { requestTimeoutMs: 200 }, 'a request has exceeded the configured 200 ms requestTimeout.'],
    ['the call timeout bounds a call and its retries together', { maxAttempts: 3, callTimeoutMs: 1_000 }, 'no answer within 1s, retries included'],
  ])('a server that does not answer: %s', async (_what, opts: AuroraTargetOptions, detail) => {
    const { rds } = await setup();
    const target = targetOn(rds, opts);
    rds.failNext({ action: 'DescribeDBClusters', delayMs: 5_000, code: 'Throttling' });
    const started = Date.now();
    const error = await rejection(target.read());
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(error.code).toBe('timeout');
    expect(error.message).toBe(`could not read cluster autolytiq-prod: RDS did not answer in time (${detail}). Nothing was changed.`);
  });

  it('nothing listening: could not reach RDS', async () => {
    const { rds } = await setup();
    await rds.close();
    const target = targetOn(rds);
    const error = await rejection(target.read());
    expect(error.code).toBe('network');
    expect(error.message).toMatch(new RegExp(`^could not read cluster autolytiq-prod: could not reach RDS at ${rds.url} \\(ECONNREFUSED: .*\\)\\. Nothing was changed\\.$`));
  });
});

describe('auroraProbe (aws.aurora)', () => {
  it('values and summary of an available cluster', async () => {
    const { target } = await setup();
    const m = await auroraProbe(target);
    expect(m.values).toEqual({ min_acu: 2, max_acu: 16, readers: 1, writers: 1, available: 1 });
    expect(m.summary).toBe('cluster autolytiq-prod available: 2..16 ACU, 1 writer, 1 reader');
    expect(m.source).toMatch(/^Amazon RDS us-east-1 \(http:\/\/127\.0\.0\.1:\d+\), cluster autolytiq-prod$/);
    expect(m.ok).toBe(true);
    expect(m.details).toEqual([`writer ${WRITER}: db.serverless, available`, `reader ${READER}: db.serverless, available`]);
  });

  it('not available while a reader is being created', async () => {
    const { rds, target } = await setup();
    rds.stall(true);
    await target.apply({ type: 'add-reader', instanceId: 'r-2', instanceClass: 'db.serverless' });
    const m = await auroraProbe(target);
    expect(m.values).toMatchObject({ readers: 2, available: 0 });
    expect(m.summary).toBe('cluster autolytiq-prod not available (r-2 creating): 2..16 ACU, 1 writer, 2 readers');
    expect(m.ok).toBe(false);
  });

  it('could not measure: the reason', async () => {
    const { rds } = await setup();
    const target = targetOn(rds, {}, 'nope');
    const error = await auroraProbe(target).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Unmeasurable);
    expect((error as Error).message).toMatch(/RDS has no cluster nope in us-east-1/);
  });
});
