// The state behind the simulated RDS API: Aurora clusters and their instances, with the status
// words RDS uses and transitions that take time (modifying → available, creating → available,
// deleting → gone). Actions validate their parameters the way RDS does and answer the typed faults
// (with RDS's wire codes: `DBInstanceNotFound`, not the SDK's class name `DBInstanceNotFoundFault`).
import { randomUUID } from 'node:crypto';
import { XmlInt, XmlList, type XmlNode } from './xml.ts';

export class RdsFault extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly type: 'Sender' | 'Receiver' = status >= 500 ? 'Receiver' : 'Sender',
  ) {
    super(message);
  }
}

export interface MemberSeed {
  id: string;
  /** Default: the first member is the writer. */
  writer?: boolean;
  /** Default "db.serverless". */
  instanceClass?: string;
  /** Default "available". */
  status?: string;
  /** Default 1 (0..15). */
  promotionTier?: number;
}

export interface ClusterSeed {
  id: string;
  /** Default "aurora-postgresql". */
  engine?: string;
  /** Default "15.4". */
  engineVersion?: string;
  /** Default "available". */
  status?: string;
  /** Serverless v2 range in ACU; null for a cluster without one (provisioned only). Default 2..16. */
  capacity?: { min: number; max: number } | null;
  /** Default: one writer `<id>-instance-1` of class db.serverless. */
  members?: MemberSeed[];
}

/** How long each transition takes (ms). */
export interface Timings {
  clusterModifyMs: number;
  instanceCreateMs: number;
  instanceDeleteMs: number;
  instanceModifyMs: number;
}

interface Transition {
  at: number;
  run: () => void;
}

export interface ClusterRecord {
  id: string;
  engine: string;
  engineVersion: string;
  status: string;
  capacity?: { min: number; max: number };
  resourceId: string;
  transition?: Transition;
}

export interface InstanceRecord {
  id: string;
  clusterId: string;
  instanceClass: string;
  status: string;
  writer: boolean;
  promotionTier: number;
  /** A class change waiting for (or in) its modification. */
  pendingClass?: string;
  transition?: Transition;
}

export type Params = Record<string, string>;

const ACCOUNT = '123456789012';
const IDENTIFIER = /^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}(?<!-)$/;

export class RdsModel {
  readonly clusters = new Map<string, ClusterRecord>();
  readonly instances = new Map<string, InstanceRecord>();
  stalled = false;
  /** Largest page DescribeDBInstances answers (RDS's MaxRecords caps it too). */
  pageSize = 100;

  constructor(
    readonly region: string,
    readonly timings: Timings,
    private readonly now: () => number = Date.now,
  ) {}

  addCluster(seed: ClusterSeed): void {
    if (this.clusters.has(seed.id)) throw new Error(`cluster ${seed.id} exists`);
    const capacity = seed.capacity === null ? undefined : (seed.capacity ?? { min: 2, max: 16 });
    this.clusters.set(seed.id, {
      id: seed.id,
      engine: seed.engine ?? 'aurora-postgresql',
      engineVersion: seed.engineVersion ?? '15.4',
      status: seed.status ?? 'available',
      ...(capacity ? { capacity: { ...capacity } } : {}),
      resourceId: `cluster-${randomUUID().replace(/-/g, '').slice(0, 26).toUpperCase()}`,
    });
    const members = seed.members ?? [{ id: `${seed.id}-instance-1` }];
    members.forEach((m, i) => {
      if (this.instances.has(m.id)) throw new Error(`instance ${m.id} exists`);
      this.instances.set(m.id, {
        id: m.id,
        clusterId: seed.id,
        instanceClass: m.instanceClass ?? 'db.serverless',
        status: m.status ?? 'available',
        writer: m.writer ?? (i === 0 && !members.some((o) => o.writer)),
        promotionTier: m.promotionTier ?? 1,
      });
    });
  }

  /** Runs the transitions that are due (all of them with `all`), unless stalled. */
  advance(all = false): void {
    if (this.stalled) return;
    const now = this.now();
    for (const rec of [...this.clusters.values(), ...this.instances.values()]) {
      const t = rec.transition;
      if (t && (all || t.at <= now)) {
        rec.transition = undefined;
        t.run();
      }
    }
  }

  /** Sets a status now; with `forMs`, it returns to "available" after that long. */
  setClusterStatus(id: string, status: string, forMs?: number): void {
    const c = this.mustCluster(id);
    c.status = status;
    c.transition = forMs === undefined ? undefined : { at: this.now() + forMs, run: () => (c.status = 'available') };
  }

  setInstanceStatus(id: string, status: string, forMs?: number): void {
    const i = this.instances.get(id);
    if (!i) throw new Error(`no instance ${id}`);
    i.status = status;
    i.transition = forMs === undefined ? undefined : { at: this.now() + forMs, run: () => (i.status = 'available') };
  }

  members(clusterId: string): InstanceRecord[] {
    return [...this.instances.values()].filter((i) => i.clusterId === clusterId);
  }

  handle(action: string, p: Params): XmlNode | undefined {
    this.advance();
    switch (action) {
      case 'DescribeDBClusters':
        return this.describeClusters(p);
      case 'DescribeDBInstances':
        return this.describeInstances(p);
      case 'ModifyDBCluster':
        return { DBCluster: this.clusterXml(this.modifyCluster(p)) };
      case 'CreateDBInstance':
        return { DBInstance: this.instanceXml(this.createInstance(p)) };
      case 'DeleteDBInstance':
        return { DBInstance: this.instanceXml(this.deleteInstance(p)) };
      case 'ModifyDBInstance':
        return { DBInstance: this.instanceXml(this.modifyInstance(p)) };
      default:
        throw new RdsFault(400, 'InvalidAction', `The action ${action} is not valid for this web service.`);
    }
  }

  private clusterArn(id: string): string {
    return `arn:aws:rds:${this.region}:${ACCOUNT}:cluster:${id}`;
  }

  private instanceArn(id: string): string {
    return `arn:aws:rds:${this.region}:${ACCOUNT}:db:${id}`;
  }

  /** An identifier or an ARN, as RDS accepts both. */
  private clusterById(ref: string): ClusterRecord | undefined {
    const id = ref.startsWith('arn:') ? ref.split(':').pop()! : ref;
    return this.clusters.get(id.toLowerCase()) ?? this.clusters.get(id);
  }

  private mustCluster(ref: string): ClusterRecord {
    const c = this.clusterById(ref);
    if (!c) throw new RdsFault(404, 'DBClusterNotFoundFault', `DBCluster ${ref} not found.`);
    return c;
  }

  private mustInstance(ref: string): InstanceRecord {
    const i = this.instances.get(ref.startsWith('arn:') ? ref.split(':').pop()! : ref);
    if (!i) throw new RdsFault(404, 'DBInstanceNotFound', `DBInstance ${ref} not found.`);
    return i;
  }

  private describeClusters(p: Params): XmlNode {
    const ref = p.DBClusterIdentifier;
    const list = ref ? [this.mustCluster(ref)] : [...this.clusters.values()];
    return { DBClusters: new XmlList('DBCluster', list.map((c) => this.clusterXml(c))) };
  }

  private describeInstances(p: Params): XmlNode {
    let list = [...this.instances.values()];
    if (p.DBInstanceIdentifier) list = [this.mustInstance(p.DBInstanceIdentifier)];
    for (const f of filters(p)) {
      if (f.name === 'db-cluster-id') {
        const ids = new Set(f.values.map((v) => this.clusterById(v)?.id ?? v));
        list = list.filter((i) => ids.has(i.clusterId));
      } else if (f.name === 'db-instance-id') {
        list = list.filter((i) => f.values.includes(i.id) || f.values.includes(this.instanceArn(i.id)));
      } else {
        throw new RdsFault(400, 'InvalidParameterValue', `Unrecognized filter name: ${f.name}.`);
      }
    }
    let max = 100;
    if (p.MaxRecords !== undefined) {
      max = Number(p.MaxRecords);
      if (!Number.isInteger(max) || max < 20 || max > 100) throw new RdsFault(400, 'InvalidParameterValue', 'Invalid value for MaxRecords. Must be between 20 and 100');
    }
    const start = p.Marker ? Number(Buffer.from(p.Marker, 'base64').toString('utf8').replace(/^offset:/, '')) : 0;
    if (!Number.isInteger(start) || start < 0) throw new RdsFault(400, 'InvalidParameterValue', 'Invalid Marker');
    const size = Math.min(max, this.pageSize);
    const page = list.slice(start, start + size);
    const next = start + size < list.length ? Buffer.from(`offset:${start + size}`).toString('base64') : undefined;
    return { DBInstances: new XmlList('DBInstance', page.map((i) => this.instanceXml(i))), Marker: next };
  }

  private modifyCluster(p: Params): ClusterRecord {
    const id = required(p, 'DBClusterIdentifier');
    const c = this.mustCluster(id);
    if (c.status !== 'available') throw new RdsFault(400, 'InvalidDBClusterStateFault', `DB cluster ${c.id} is not currently in the available state (it is ${c.status}).`);
    const min = optionalNumber(p, 'ServerlessV2ScalingConfiguration.MinCapacity');
    const max = optionalNumber(p, 'ServerlessV2ScalingConfiguration.MaxCapacity');
    if (min === undefined && max === undefined) {
      if (Object.keys(p).some((k) => k.startsWith('ServerlessV2ScalingConfiguration.'))) throw new RdsFault(400, 'InvalidParameterValue', 'ServerlessV2ScalingConfiguration needs MinCapacity and MaxCapacity.');
      return c;
    }
    const next = { min: min ?? c.capacity?.min, max: max ?? c.capacity?.max };
    if (next.min === undefined || next.max === undefined) throw new RdsFault(400, 'InvalidParameterCombination', 'Both MinCapacity and MaxCapacity are required to set up Serverless v2 scaling.');
    for (const [name, v] of [['MinCapacity', next.min], ['MaxCapacity', next.max]] as const) {
      if (!Number.isFinite(v) || v * 2 !== Math.round(v * 2)) throw new RdsFault(400, 'InvalidParameterValue', `${name} ${v} is not valid: capacity is set in steps of 0.5 ACU.`);
    }
    if (next.min < 0 || next.min > 256) throw new RdsFault(400, 'InvalidParameterValue', `MinCapacity ${next.min} is outside 0..256 ACU.`);
    if (next.max < 1 || next.max > 256) throw new RdsFault(400, 'InvalidParameterValue', `MaxCapacity ${next.max} is outside 1..256 ACU: the maximum capacity must be higher than 0.5 ACUs.`);
    if (next.min > next.max) throw new RdsFault(400, 'InvalidParameterCombination', `MinCapacity ${next.min} must not be greater than MaxCapacity ${next.max}.`);
    c.capacity = { min: next.min, max: next.max };
    c.status = 'modifying';
    c.transition = { at: this.now() + this.timings.clusterModifyMs, run: () => (c.status = 'available') };
    return c;
  }

  private createInstance(p: Params): InstanceRecord {
    const id = required(p, 'DBInstanceIdentifier');
    const instanceClass = required(p, 'DBInstanceClass');
    const engine = required(p, 'Engine');
    if (!IDENTIFIER.test(id)) {
      throw new RdsFault(400, 'InvalidParameterValue', 'The parameter DBInstanceIdentifier is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens.');
    }
    if (this.instances.has(id.toLowerCase())) throw new RdsFault(400, 'DBInstanceAlreadyExists', 'DB instance already exists');
    const clusterRef = p.DBClusterIdentifier;
    if (!clusterRef) throw new RdsFault(400, 'InvalidParameterCombination', 'This server only creates Aurora instances: DBClusterIdentifier is required.');
    const c = this.mustCluster(clusterRef);
    if (c.status !== 'available') throw new RdsFault(400, 'InvalidDBClusterStateFault', `DB cluster ${c.id} is not currently in the available state (it is ${c.status}).`);
    if (engine !== c.engine) throw new RdsFault(400, 'InvalidParameterCombination', `The engine name requested for your DB instance (${engine}) doesn't match the engine name of your DB cluster (${c.engine}).`);
    checkClass(instanceClass, c);
    const tier = optionalNumber(p, 'PromotionTier') ?? 1;
    if (!Number.isInteger(tier) || tier < 0 || tier > 15) throw new RdsFault(400, 'InvalidParameterValue', `PromotionTier ${tier} is outside 0..15.`);
    const inst: InstanceRecord = {
      id: id.toLowerCase(),
      clusterId: c.id,
      instanceClass,
      status: 'creating',
      writer: this.members(c.id).length === 0,
      promotionTier: tier,
    };
    inst.transition = { at: this.now() + this.timings.instanceCreateMs, run: () => (inst.status = 'available') };
    this.instances.set(inst.id, inst);
    return inst;
  }

  private deleteInstance(p: Params): InstanceRecord {
    const inst = this.mustInstance(required(p, 'DBInstanceIdentifier'));
    if (inst.status === 'deleting') throw new RdsFault(400, 'InvalidDBInstanceState', `Instance ${inst.id} is already being deleted.`);
    if (inst.status !== 'available') throw new RdsFault(400, 'InvalidDBInstanceState', `Instance ${inst.id} is not in available state (it is ${inst.status}).`);
    inst.status = 'deleting';
    inst.transition = {
      at: this.now() + this.timings.instanceDeleteMs,
      run: () => {
        this.instances.delete(inst.id);
        if (inst.writer) {
          // Failover: the reader with the best promotion tier becomes the writer.
          const next = this.members(inst.clusterId).filter((i) => i.status !== 'deleting').sort((a, b) => a.promotionTier - b.promotionTier)[0];
          if (next) next.writer = true;
        }
      },
    };
    return inst;
  }

  private modifyInstance(p: Params): InstanceRecord {
    const inst = this.mustInstance(required(p, 'DBInstanceIdentifier'));
    if (inst.status !== 'available') throw new RdsFault(400, 'InvalidDBInstanceState', `Database instance ${inst.id} is not in available state (it is ${inst.status}).`);
    const instanceClass = p.DBInstanceClass;
    if (instanceClass === undefined || instanceClass === inst.instanceClass) return inst;
    checkClass(instanceClass, this.mustCluster(inst.clusterId));
    inst.pendingClass = instanceClass;
    if (p.ApplyImmediately === 'true') {
      inst.status = 'modifying';
      inst.transition = {
        at: this.now() + this.timings.instanceModifyMs,
        run: () => {
          inst.instanceClass = inst.pendingClass ?? inst.instanceClass;
          inst.pendingClass = undefined;
          inst.status = 'available';
        },
      };
    }
    return inst;
  }

  clusterXml(c: ClusterRecord): XmlNode {
    const host = `${c.id}.cluster-abcdefghijkl.${this.region}.rds.amazonaws.com`;
    return {
      AllocatedStorage: new XmlInt(1),
      DBClusterIdentifier: c.id,
      Status: c.status,
      Endpoint: host,
      ReaderEndpoint: host.replace('.cluster-', '.cluster-ro-'),
      MultiAZ: this.members(c.id).length > 1,
      Engine: c.engine,
      EngineVersion: c.engineVersion,
      Port: new XmlInt(5432),
      DBClusterMembers: new XmlList(
        'DBClusterMember',
        this.members(c.id).map((i) => ({
          DBInstanceIdentifier: i.id,
          IsClusterWriter: i.writer,
          DBClusterParameterGroupStatus: 'in-sync',
          PromotionTier: new XmlInt(i.promotionTier),
        })),
      ),
      StorageEncrypted: true,
      DbClusterResourceId: c.resourceId,
      DBClusterArn: this.clusterArn(c.id),
      EngineMode: 'provisioned',
      ServerlessV2ScalingConfiguration: c.capacity ? { MinCapacity: c.capacity.min, MaxCapacity: c.capacity.max } : undefined,
    };
  }

  instanceXml(i: InstanceRecord): XmlNode {
    const c = this.clusters.get(i.clusterId);
    return {
      DBInstanceIdentifier: i.id,
      DBInstanceClass: i.instanceClass,
      Engine: c?.engine,
      DBInstanceStatus: i.status,
      Endpoint: i.status === 'creating' ? undefined : { Address: `${i.id}.abcdefghijkl.${this.region}.rds.amazonaws.com`, Port: new XmlInt(5432) },
      PendingModifiedValues: i.pendingClass ? { DBInstanceClass: i.pendingClass } : {},
      EngineVersion: c?.engineVersion,
      DBClusterIdentifier: i.clusterId,
      PromotionTier: new XmlInt(i.promotionTier),
      DBInstanceArn: this.instanceArn(i.id),
    };
  }
}

function required(p: Params, name: string): string {
  const v = p[name];
  if (v === undefined || v === '') throw new RdsFault(400, 'MissingParameter', `The request must contain the parameter ${name}`);
  return v;
}

function optionalNumber(p: Params, name: string): number | undefined {
  const v = p[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || Number.isNaN(n)) throw new RdsFault(400, 'InvalidParameterValue', `Invalid value '${v}' for ${name}.`);
  return n;
}

function checkClass(instanceClass: string, c: ClusterRecord): void {
  if (!/^db\.[a-z0-9]+(\.[a-z0-9]+)?$/.test(instanceClass)) throw new RdsFault(400, 'InvalidParameterValue', `Invalid DB instance class: ${instanceClass}`);
  if (instanceClass === 'db.serverless' && !c.capacity) {
    throw new RdsFault(400, 'InvalidParameterCombination', `Set the Serverless v2 scaling configuration on DB cluster ${c.id} before adding db.serverless instances.`);
  }
}

/** Filters.Filter.N.Name / Filters.Filter.N.Values.Value.M, as the Query protocol flattens them. */
function filters(p: Params): { name: string; values: string[] }[] {
  const out: { name: string; values: string[] }[] = [];
  for (let n = 1; p[`Filters.Filter.${n}.Name`] !== undefined; n++) {
    const values: string[] = [];
    for (let m = 1; p[`Filters.Filter.${n}.Values.Value.${m}`] !== undefined; m++) values.push(p[`Filters.Filter.${n}.Values.Value.${m}`]!);
    out.push({ name: p[`Filters.Filter.${n}.Name`]!, values });
  }
  return out;
}
