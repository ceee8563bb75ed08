/**
 * The local RDS server itself, through the real SDK: the wire shapes it answers (RDS's XML, typed
 * errors with their HTTP status), SigV4 checks, transitions over time, paging and faults.
 */
import {
  CreateDBInstanceCommand,
  DBClusterNotFoundFault,
  DBInstanceAlreadyExistsFault,
  DeleteDBInstanceCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  InvalidDBClusterStateFault,
  InvalidDBInstanceStateFault,
  ModifyDBClusterCommand,
  ModifyDBInstanceCommand,
  RDSClient,
  RDSServiceException,
} from '@aws-sdk/client-rds';
import { afterEach, describe, expect, it } from 'vitest';
import { startRdsServer, type RdsServer } from '../../servers/rds-server.ts';

const servers: RdsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function setup() {
  const rds = await startRdsServer({ timings: { clusterModifyMs: 80, instanceCreateMs: 80, instanceDeleteMs: 80, instanceModifyMs: 80 } });
  servers.push(rds);
  rds.addCluster({ id: 'db', capacity: { min: 0.5, max: 16 }, members: [{ id: 'db-w' }, { id: 'db-r', instanceClass: 'db.r6g.large', promotionTier: 2 }] });
  const client = new RDSClient({ region: rds.region, endpoint: rds.url, credentials: rds.credentials, maxAttempts: 1 });
  return { rds, client };
}

async function thrown(p: Promise<unknown>): Promise<RDSServiceException> {
  const e = await p.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(e).toBeInstanceOf(RDSServiceException);
  return e as RDSServiceException;
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Transitions run on the server's timers: poll (bounded) until `ok`. */
async function eventually(ok: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await wait(10);
  }
}

describe('RDS Query-protocol server', () => {
  it('answers in RDS XML, which the SDK parses into its shapes', async () => {
    const { rds, client } = await setup();
    const out = await client.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'db' }));
    const xml = rds.requests[0]!.response!;
    expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<DescribeDBClustersResponse xmlns="http:\/\/rds.amazonaws.com\/doc\/2014-10-31\/"><DescribeDBClustersResult><DBClusters><DBCluster>/);
    expect(xml).toContain('<ServerlessV2ScalingConfiguration><MinCapacity>0.5</MinCapacity><MaxCapacity>16.0</MaxCapacity></ServerlessV2ScalingConfiguration>');
    expect(xml).toContain('<DBClusterMembers><DBClusterMember><DBInstanceIdentifier>db-w</DBInstanceIdentifier><IsClusterWriter>true</IsClusterWriter>');
    expect(xml).toMatch(/<ResponseMetadata><RequestId>[0-9a-f-]{36}<\/RequestId><\/ResponseMetadata><\/DescribeDBClustersResponse>\n$/);
    const cluster = out.DBClusters![0]!;
    expect(cluster).toMatchObject({
      DBClusterIdentifier: 'db',
      Status: 'available',
      Engine: 'aurora-postgresql',
      ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 16 },
      DBClusterMembers: [
        { DBInstanceIdentifier: 'db-w', IsClusterWriter: true, PromotionTier: 1 },
        { DBInstanceIdentifier: 'db-r', IsClusterWriter: false, PromotionTier: 2 },
      ],
    });
    expect(out.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
    const instances = await client.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'db-r' }));
    expect(instances.DBInstances).toEqual([expect.objectContaining({ DBInstanceIdentifier: 'db-r', DBInstanceClass: 'db.r6g.large', DBInstanceStatus: 'available', DBClusterIdentifier: 'db' })]);
  });

  it('typed errors with RDS wire codes and HTTP status', async () => {
    const { rds, client } = await setup();
    const notFound = await thrown(client.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'nope' })));
    expect(notFound).toBeInstanceOf(DBClusterNotFoundFault);
    expect(notFound.$metadata.httpStatusCode).toBe(404);
    expect(rds.requests.at(-1)!.response).toContain('<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error><Type>Sender</Type><Code>DBClusterNotFoundFault</Code><Message>DBCluster nope not found.</Message></Error><RequestId>');
    const exists = await thrown(client.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'db-r', DBClusterIdentifier: 'db', DBInstanceClass: 'db.serverless', Engine: 'aurora-postgresql' })));
    expect(exists).toBeInstanceOf(DBInstanceAlreadyExistsFault);
    expect(rds.requests.at(-1)!.code).toBe('DBInstanceAlreadyExists');
    const engine = await thrown(client.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'x', DBClusterIdentifier: 'db', DBInstanceClass: 'db.serverless', Engine: 'aurora-mysql' })));
    expect(engine.name).toBe('InvalidParameterCombination');
    const half = await thrown(client.send(new ModifyDBClusterCommand({ DBClusterIdentifier: 'db', ServerlessV2ScalingConfiguration: { MinCapacity: 1.2, MaxCapacity: 8 } })));
    expect(half.name).toBe('InvalidParameterValue');
    const inverted = await thrown(client.send(new ModifyDBClusterCommand({ DBClusterIdentifier: 'db', ServerlessV2ScalingConfiguration: { MinCapacity: 16, MaxCapacity: 8 } })));
    expect(inverted.name).toBe('InvalidParameterCombination');
    expect(rds.cluster('db')!.capacity).toEqual({ min: 0.5, max: 16 });
  });

  it('checks signatures: unknown key, wrong secret, unsigned', async () => {
    const { rds } = await setup();
    const unknown = new RDSClient({ region: rds.region, endpoint: rds.url, credentials: { accessKeyId: 'AKIDNOBODY', secretAccessKey: 's' }, maxAttempts: 1 });
    expect((await thrown(unknown.send(new DescribeDBClustersCommand({})))).name).toBe('InvalidClientTokenId');
    const wrong = new RDSClient({ region: rds.region, endpoint: rds.url, credentials: { ...rds.credentials, secretAccessKey: 'wrong' }, maxAttempts: 1 });
    const mismatch = await thrown(wrong.send(new DescribeDBClustersCommand({})));
    expect(mismatch.name).toBe('SignatureDoesNotMatch');
    expect(mismatch.$metadata.httpStatusCode).toBe(403);
    const res = await fetch(rds.url, { method: 'POST', body: new URLSearchParams({ Action: 'DescribeDBClusters', Version: '2014-10-31' }) });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('<Code>MissingAuthenticationToken</Code>');
    expect(rds.requests.map((r) => r.status)).toEqual([403, 403, 403]);
  });

  it('changes take time: modifying, creating, deleting, a pending class', async () => {
    const { rds, client } = await setup();
    // Held while the intermediate states are checked (a loaded machine must not race the timers).
    rds.stall(true);
    const modified = await client.send(new ModifyDBClusterCommand({ DBClusterIdentifier: 'db', ServerlessV2ScalingConfiguration: { MinCapacity: 8, MaxCapacity: 64 }, ApplyImmediately: true }));
    expect(modified.DBCluster).toMatchObject({ Status: 'modifying', ServerlessV2ScalingConfiguration: { MinCapacity: 8, MaxCapacity: 64 } });
    const busy = await thrown(client.send(new ModifyDBClusterCommand({ DBClusterIdentifier: 'db', ServerlessV2ScalingConfiguration: { MinCapacity: 2, MaxCapacity: 16 } })));
    expect(busy).toBeInstanceOf(InvalidDBClusterStateFault);
    rds.stall(false);
    await eventually(() => rds.cluster('db')!.status === 'available');

    rds.stall(true);
    const created = await client.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'db-r2', DBClusterIdentifier: 'db', DBInstanceClass: 'db.serverless', Engine: 'aurora-postgresql', PromotionTier: 15 }));
    expect(created.DBInstance).toMatchObject({ DBInstanceStatus: 'creating', PromotionTier: 15 });
    const cluster = await client.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'db' }));
    expect(cluster.DBClusters![0]!.DBClusterMembers!.map((m) => m.DBInstanceIdentifier)).toEqual(['db-w', 'db-r', 'db-r2']);
    const early = await thrown(client.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'db-r2' })));
    expect(early).toBeInstanceOf(InvalidDBInstanceStateFault);
    rds.stall(false);
    await eventually(() => rds.instance('db-r2')!.status === 'available');

    rds.stall(true);
    const resized = await client.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: 'db-r', DBInstanceClass: 'db.r6g.xlarge', ApplyImmediately: true }));
    expect(resized.DBInstance).toMatchObject({ DBInstanceStatus: 'modifying', DBInstanceClass: 'db.r6g.large', PendingModifiedValues: { DBInstanceClass: 'db.r6g.xlarge' } });
    await client.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'db-r2' }));
    expect(rds.instance('db-r2')!.status).toBe('deleting');
    rds.stall(false);
    await eventually(() => rds.instance('db-r2') === undefined && rds.instance('db-r')!.status === 'available');
    expect(rds.instance('db-r')).toMatchObject({ instanceClass: 'db.r6g.xlarge', pendingClass: undefined });
  });

  it('stall holds transitions; settle completes them', async () => {
    const { rds, client } = await setup();
    rds.stall(true);
    await client.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'db-r' }));
    await wait(120);
    expect(rds.instance('db-r')!.status).toBe('deleting');
    rds.stall(false);
    rds.settle();
    expect(rds.instance('db-r')).toBeUndefined();
  });

  it('pages DescribeDBInstances with Marker and checks MaxRecords', async () => {
    const rds = await startRdsServer({ pageSize: 2 });
    servers.push(rds);
    rds.addCluster({ id: 'big', members: ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id })) });
    const client = new RDSClient({ region: rds.region, endpoint: rds.url, credentials: rds.credentials, maxAttempts: 1 });
    const seen: string[] = [];
    let marker: string | undefined;
    do {
      const page = await client.send(new DescribeDBInstancesCommand({ Filters: [{ Name: 'db-cluster-id', Values: ['big'] }], ...(marker ? { Marker: marker } : {}) }));
      seen.push(...page.DBInstances!.map((i) => i.DBInstanceIdentifier!));
      marker = page.Marker;
    } while (marker);
    expect(seen).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect((await thrown(client.send(new DescribeDBInstancesCommand({ MaxRecords: 5 })))).name).toBe('InvalidParameterValue');
  });

  it('faults on demand: the next N requests of an action, or any', async () => {
    const { rds, client } = await setup();
    rds.throttle(2, 'DescribeDBInstances');
    rds.failNext({ code: 'InternalFailure' });
    expect((await thrown(client.send(new DescribeDBClustersCommand({})))).$metadata.httpStatusCode).toBe(500);
    const throttled = await thrown(client.send(new DescribeDBInstancesCommand({})));
    expect([throttled.name, throttled.message, throttled.$metadata.httpStatusCode]).toEqual(['Throttling', 'Rate exceeded', 400]);
    await thrown(client.send(new DescribeDBInstancesCommand({})));
    await client.send(new DescribeDBInstancesCommand({}));
    expect(rds.requests.map((r) => r.code ?? r.status)).toEqual(['InternalFailure', 'Throttling', 'Throttling', 200]);
  });
});
