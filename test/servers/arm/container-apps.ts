/**
 * The simulated Microsoft.App side of the ARM test server: container apps, their revisions and
 * replicas, and the long-running operations a PATCH starts. Pure state, stepped by `tick()`; the
 * HTTP layer (../arm-server.ts) turns requests into calls on it.
 *
 * What it models, as Azure Container Apps behaves:
 * - A PATCH is a JSON merge patch (RFC 7386) of the app's `properties.configuration`,
 *   `properties.template`, `tags` and `identity`; read-only properties are ignored; `location` must
 *   be the app's own. The app shows the new template at once, with provisioningState InProgress.
 * - A change to `properties.template` is revision-scope: it creates a new revision (single revision
 *   mode); the old one is deactivated once the new one is provisioned.
 * - The operation answers InProgress for `lroPolls` polls, then Succeeded (or Failed when told).
 * - The latest revision's replicas move towards the number the app's scale settles on
 *   (`max(minReplicas, demand)` capped at maxReplicas) by `replicaSpeed` per tick; 0 stalls them.
 */

import { randomUUID } from 'node:crypto';

export type Json = Record<string, unknown>;

export interface AppKey {
  subscription: string;
  resourceGroup: string;
  name: string;
}

export interface ContainerAppSeed extends AppKey {
  location?: string;
  /** `template.scale.minReplicas`; default 1. */
  minReplicas?: number;
  /** `template.scale.maxReplicas`; default 10. */
  maxReplicas?: number;
  /** Replicas of the first revision running at the start; default the number the scale settles on. */
  replicas?: number;
  /** Load the app's own scale rules ask for; the replicas settle on it within min..max. Default 0. */
  demand?: number;
  /** `template.scale.rules`; default one HTTP rule (concurrentRequests 50). */
  rules?: unknown[];
  /** `template.containers`; default one container named after the app. */
  containers?: unknown[];
  /** `configuration.ingress`; default external on port 8080. */
  ingress?: Json;
}

export interface Replica {
  name: string;
  createdTime: string;
  /** Ticks until it runs (a new replica starts NotRunning). */
  startsIn: number;
  containers: string[];
}

export interface Revision {
  name: string;
  createdTime: string;
  template: Json;
  active: boolean;
  provisioningState: 'Provisioning' | 'Provisioned' | 'Failed' | 'Deprovisioning' | 'Deprovisioned';
  provisioningError?: string;
  /** Ticks until provisioned. */
  provisionsIn: number;
  fails?: string;
  replicas: Replica[];
}

export interface Operation {
  id: string;
  appId: string;
  location: string;
  startTime: string;
  endTime?: string;
  status: 'InProgress' | 'Succeeded' | 'Failed';
  /** Polls still to answer InProgress. */
  pollsLeft: number;
  failWith?: { code: string; message: string };
  /** On failure: the template and tags the app had before (restored unless `keep`). */
  previous: { properties: Json; tags: Json };
  keepOnFailure: boolean;
  revision?: string;
}

export interface App {
  key: AppKey;
  id: string;
  location: string;
  tags: Json;
  identity?: Json;
  properties: Json;
  revisions: Revision[];
  demand: number;
  operation?: Operation;
}

/** An ARM error: the HTTP status and the `error` body ARM sends. */
export class ArmError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export interface OperationFailure {
  code?: string;
  message?: string;
  /** Leave the new template in place (provisioningState Failed) instead of restoring the old one. */
  keep?: boolean;
}

/** RFC 7386: objects merge, `null` removes, anything else (arrays included) replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Json = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const PATCHABLE_PROPERTIES = ['configuration', 'template', 'workloadProfileName'];

export class ContainerAppsSim {
  readonly apps = new Map<string, App>();
  readonly operations = new Map<string, Operation>();
  lroPolls = 2;
  /** Replicas added or removed per tick on the latest revision; 0 stalls. */
  replicaSpeed = 1;
  /** Ticks a new revision takes to be provisioned. */
  provisionTicks = 2;
  /** Whether a change of `template.scale` creates a new revision. */
  newRevisionOnScale = true;
  private failNextOp: OperationFailure | undefined;
  private failNextRev: string | undefined;
  private counter = 0;
  /** Fake time the server's timestamps use (ms). */
  now = () => Date.now();

  static keyOf(k: AppKey): string {
    return `${k.subscription}/${k.resourceGroup}/${k.name}`.toLowerCase();
  }

  private next(): number {
    return ++this.counter;
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }

  addApp(seed: ContainerAppSeed): App {
    const location = seed.location ?? 'eastus';
    const min = seed.minReplicas ?? 1;
    const max = seed.maxReplicas ?? 10;
    const id = `/subscriptions/${seed.subscription}/resourceGroups/${seed.resourceGroup}/providers/Microsoft.App/containerApps/${seed.name}`;
    const envId = `/subscriptions/${seed.subscription}/resourceGroups/${seed.resourceGroup}/providers/Microsoft.App/managedEnvironments/env-${seed.resourceGroup}`;
    const template: Json = {
      containers: seed.containers ?? [{ name: seed.name, image: `registry.example/${seed.name}:1.0`, resources: { cpu: 0.5, memory: '1Gi', ephemeralStorage: '2Gi' }, env: [{ name: 'DB_PASSWORD', secretRef: 'db-password' }] }],
      scale: { minReplicas: min, maxReplicas: max, cooldownPeriod: 300, pollingInterval: 30, rules: seed.rules ?? [{ name: 'http-rule', http: { metadata: { concurrentRequests: '50' } } }] },
    };
    const app: App = {
      key: { subscription: seed.subscription, resourceGroup: seed.resourceGroup, name: seed.name },
      id,
      location,
      tags: {},
      demand: seed.demand ?? 0,
      revisions: [],
      properties: {
        provisioningState: 'Succeeded',
        runningStatus: 'Running',
        managedEnvironmentId: envId,
        environmentId: envId,
        workloadProfileName: 'Consumption',
        outboundIpAddresses: ['20.1.2.3'],
        latestRevisionFqdn: '',
        customDomainVerificationId: 'ABCDEF0123456789',
        configuration: {
          activeRevisionsMode: 'Single',
          secrets: [{ name: 'db-password' }],
          ingress: seed.ingress ?? { external: true, targetPort: 8080, transport: 'Auto', allowInsecure: false, fqdn: `${seed.name}.example.azurecontainerapps.io`, traffic: [{ weight: 100, latestRevision: true }] },
          maxInactiveRevisions: 100,
        },
        template,
      },
    };
    const revision = this.newRevision(app, template);
    revision.provisioningState = 'Provisioned';
    revision.provisionsIn = 0;
    const running = seed.replicas ?? this.settle(app);
    for (let i = 0; i < running; i++) revision.replicas.push(this.newReplica(app, revision, 0));
    this.apps.set(ContainerAppsSim.keyOf(seed), app);
    return app;
  }

  private newRevision(app: App, template: Json): Revision {
    const n = this.next();
    const name = `${app.key.name}--${n.toString(36).padStart(7, '0')}`;
    const revision: Revision = {
      name,
      createdTime: this.iso(),
      template: structuredClone(template),
      active: true,
      provisioningState: 'Provisioning',
      provisionsIn: this.provisionTicks,
      replicas: [],
      ...(this.failNextRev !== undefined ? { fails: this.failNextRev } : {}),
    };
    this.failNextRev = undefined;
    app.revisions.push(revision);
    app.properties.latestRevisionName = name;
    app.properties.latestRevisionFqdn = `${name}.example.azurecontainerapps.io`;
    return revision;
  }

  private newReplica(app: App, revision: Revision, startsIn: number): Replica {
    const n = this.next();
    const containers = ((revision.template.containers as Json[] | undefined) ?? []).map((c) => String(c.name ?? app.key.name));
    return { name: `${revision.name}-${(7_000_000 + n).toString(36)}-${n.toString(36).padStart(5, 'x')}`, createdTime: this.iso(), startsIn, containers };
  }

  get(key: AppKey): App {
    const app = this.apps.get(ContainerAppsSim.keyOf(key));
    if (!app) {
      const rgKnown = [...this.apps.values()].some((a) => a.key.subscription === key.subscription && a.key.resourceGroup.toLowerCase() === key.resourceGroup.toLowerCase());
      if (!rgKnown) throw new ArmError(404, 'ResourceGroupNotFound', `Resource group '${key.resourceGroup}' could not be found.`);
      throw new ArmError(404, 'ResourceNotFound', `The Resource 'Microsoft.App/containerApps/${key.name}' under resource group '${key.resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`);
    }
    return app;
  }

  revision(app: App, name: string): Revision {
    const r = app.revisions.find((x) => x.name.toLowerCase() === name.toLowerCase());
    if (!r) throw new ArmError(404, 'ContainerAppRevisionNotFound', `Revision '${name}' of container app '${app.key.name}' was not found.`);
    return r;
  }

  latest(app: App): Revision | undefined {
    return app.revisions.find((r) => r.name === app.properties.latestRevisionName);
  }

  scaleOf(app: App): { minReplicas: number; maxReplicas: number } {
    const scale = ((app.properties.template as Json | undefined)?.scale ?? {}) as Json;
    return { minReplicas: Number(scale.minReplicas ?? 0), maxReplicas: Number(scale.maxReplicas ?? 10) };
  }

  /** The replicas the app's own autoscaler settles on. */
  settle(app: App): number {
    const { minReplicas, maxReplicas } = this.scaleOf(app);
    return Math.min(maxReplicas, Math.max(minReplicas, app.demand));
  }

  failNextOperation(f: OperationFailure = {}): void {
    this.failNextOp = f;
  }

  failNextRevision(message: string): void {
    this.failNextRev = message;
  }

  /** Sets `template.scale` directly, as someone else's change (portal, CLI) would; no operation. */
  setScale(key: AppKey, scale: { minReplicas?: number; maxReplicas?: number }): void {
    const app = this.get(key);
    const template = app.properties.template as Json;
    template.scale = { ...(template.scale as Json), ...scale };
    this.latest(app)!.template = structuredClone(template);
  }

  /** PATCH: validates, applies the merge patch, starts the operation. */
  update(key: AppKey, body: unknown): { app: App; operation: Operation } {
    const app = this.get(key);
    if (!isObject(body)) throw new ArmError(400, 'InvalidRequestContent', 'The request content was invalid and could not be deserialized.');
    if (app.operation && app.operation.status === 'InProgress') {
      throw new ArmError(409, 'ContainerAppOperationInProgress', `Cannot modify a container app '${app.key.name}' because there is a pending operation on it. Please retry once the operation has completed.`);
    }
    if (body.location !== undefined && String(body.location).replace(/\s/g, '').toLowerCase() !== app.location.toLowerCase()) {
      throw new ArmError(400, 'LocationNotMatching', `The location '${String(body.location)}' of the request does not match the location '${app.location}' of the container app.`);
    }
    const props = isObject(body.properties) ? body.properties : {};
    const patch: Json = {};
    for (const k of PATCHABLE_PROPERTIES) if (k in props) patch[k] = props[k];
    const properties = mergePatch(app.properties, patch) as Json;
    const scale = ((properties.template as Json | undefined)?.scale ?? {}) as Json;
    const min = Number(scale.minReplicas ?? 0);
    const max = Number(scale.maxReplicas ?? 10);
    if (!Number.isInteger(min) || min < 0 || min > 1000 || !Number.isInteger(max) || max < 1 || max > 1000) {
      throw new ArmError(400, 'ContainerAppInvalidScaleSettings', `Invalid scale settings: minReplicas ${String(scale.minReplicas)} must be 0..1000 and maxReplicas ${String(scale.maxReplicas)} 1..1000.`);
    }
    if (min > max) throw new ArmError(400, 'ContainerAppInvalidScaleSettings', `Invalid scale settings: minReplicas (${min}) cannot be greater than maxReplicas (${max}).`);
    const previous = { properties: structuredClone(app.properties), tags: structuredClone(app.tags) };
    const templateChanged = JSON.stringify(properties.template) !== JSON.stringify(app.properties.template);
    const onlyScale = JSON.stringify({ ...(properties.template as Json), scale: null }) === JSON.stringify({ ...(app.properties.template as Json), scale: null });
    app.properties = properties;
    if (isObject(body.tags)) app.tags = mergePatch(app.tags, body.tags) as Json;
    if (isObject(body.identity)) app.identity = mergePatch(app.identity, body.identity) as Json;
    app.properties.provisioningState = 'InProgress';
    const failure = this.failNextOp;
    this.failNextOp = undefined;
    const id = randomUUID();
    const operation: Operation = {
      id,
      appId: app.id,
      location: app.location,
      startTime: this.iso(),
      status: 'InProgress',
      pollsLeft: this.lroPolls,
      previous,
      keepOnFailure: failure?.keep ?? false,
      ...(failure ? { failWith: { code: failure.code ?? 'ContainerAppProvisioningFailed', message: failure.message ?? 'Failed to provision revision for container app. Error details: Operation expired.' } } : {}),
    };
    if (templateChanged && (this.newRevisionOnScale || !onlyScale)) {
      operation.revision = this.newRevision(app, app.properties.template as Json).name;
    } else if (templateChanged) {
      this.latest(app)!.template = structuredClone(app.properties.template as Json);
    }
    app.operation = operation;
    this.operations.set(id, operation);
    return { app, operation };
  }

  /** One poll of the operation's status: counts down, then ends it. */
  pollOperation(id: string): Operation {
    const op = this.operations.get(id);
    if (!op) throw new ArmError(404, 'OperationNotFound', `The operation '${id}' was not found.`);
    if (op.status !== 'InProgress') return op;
    if (op.pollsLeft > 0) {
      op.pollsLeft -= 1;
      return op;
    }
    this.finish(op);
    return op;
  }

  private finish(op: Operation): void {
    const app = [...this.apps.values()].find((a) => a.id === op.appId);
    op.endTime = this.iso();
    if (op.failWith) {
      op.status = 'Failed';
      if (app) {
        if (!op.keepOnFailure) {
          app.properties = op.previous.properties;
          app.tags = op.previous.tags;
          const revision = op.revision ? app.revisions.find((r) => r.name === op.revision) : undefined;
          if (revision) {
            revision.active = false;
            revision.provisioningState = 'Failed';
            revision.provisioningError = op.failWith.message;
            revision.replicas = [];
          }
        }
        app.properties.provisioningState = 'Failed';
      }
    } else {
      op.status = 'Succeeded';
      if (app) app.properties.provisioningState = 'Succeeded';
    }
    if (app?.operation === op) app.operation = undefined;
  }

  /** One step of the platform: revisions provision, replicas start, converge, old revisions stop. */
  tick(): void {
    for (const app of this.apps.values()) {
      const latest = this.latest(app);
      if (!latest) continue;
      if (latest.provisioningState === 'Provisioning') {
        if (latest.provisionsIn > 0) latest.provisionsIn -= 1;
        else if (latest.fails !== undefined) {
          latest.provisioningState = 'Failed';
          latest.provisioningError = latest.fails;
          latest.replicas = [];
        } else latest.provisioningState = 'Provisioned';
      }
      if (latest.provisioningState === 'Failed' || !latest.active) continue;
      for (const r of latest.replicas) if (r.startsIn > 0) r.startsIn -= 1;
      const want = this.settle(app);
      const have = latest.replicas.length;
      const step = this.replicaSpeed;
      if (have < want && step > 0) for (let i = 0; i < Math.min(step, want - have); i++) latest.replicas.push(this.newReplica(app, latest, 1));
      if (have > want && step > 0) latest.replicas.splice(Math.max(want, have - step));
      // Single revision mode: the previous revisions go once the new one serves.
      if (latest.provisioningState === 'Provisioned' && (want === 0 || latest.replicas.some((r) => r.startsIn === 0))) {
        for (const r of app.revisions) {
          if (r === latest || !r.active) continue;
          r.active = false;
          r.replicas = [];
        }
        app.properties.latestReadyRevisionName = latest.name;
      }
    }
  }

  // ---- wire shapes ----

  appJson(app: App): Json {
    return {
      id: app.id,
      name: app.key.name,
      type: 'Microsoft.App/containerApps',
      location: app.location,
      tags: structuredClone(app.tags),
      ...(app.identity ? { identity: structuredClone(app.identity) } : { identity: { type: 'None' } }),
      systemData: { createdBy: 'ops@example.com', createdByType: 'User', createdAt: app.revisions[0]?.createdTime, lastModifiedAt: this.iso() },
      properties: structuredClone(app.properties),
    };
  }

  revisionJson(app: App, r: Revision): Json {
    const running = r.replicas.filter((x) => x.startsIn === 0).length;
    const runningState = r.provisioningState === 'Failed' ? 'Failed' : !r.active ? 'Stopped' : r.provisioningState === 'Provisioning' || r.replicas.length !== running ? 'Processing' : 'Running';
    return {
      id: `${app.id}/revisions/${r.name}`,
      name: r.name,
      type: 'Microsoft.App/containerApps/revisions',
      properties: {
        createdTime: r.createdTime,
        lastActiveTime: r.createdTime,
        fqdn: `${r.name}.example.azurecontainerapps.io`,
        template: structuredClone(r.template),
        active: r.active,
        replicas: r.replicas.length,
        trafficWeight: r.active ? 100 : 0,
        healthState: r.provisioningState === 'Failed' ? 'Unhealthy' : r.provisioningState === 'Provisioned' && r.active ? 'Healthy' : 'None',
        provisioningState: r.provisioningState,
        ...(r.provisioningError ? { provisioningError: r.provisioningError } : {}),
        runningState,
      },
    };
  }

  replicaJson(app: App, r: Revision, rep: Replica): Json {
    const running = rep.startsIn === 0;
    return {
      id: `${app.id}/revisions/${r.name}/replicas/${rep.name}`,
      name: rep.name,
      type: 'Microsoft.App/containerApps/revisions/replicas',
      properties: {
        createdTime: rep.createdTime,
        runningState: running ? 'Running' : 'NotRunning',
        runningStateDetails: running ? '' : 'Container is starting',
        containers: rep.containers.map((name, i) => ({
          name,
          containerId: `containerd://${rep.name}-${i}`,
          ready: running,
          started: running,
          restartCount: 0,
          runningState: running ? 'Running' : 'Waiting',
          runningStateDetails: running ? '' : 'ContainerCreating',
        })),
      },
    };
  }

  operationJson(op: Operation): Json {
    return {
      id: `/subscriptions/${op.appId.split('/')[2]}/providers/Microsoft.App/locations/${op.location}/containerappOperationStatuses/${op.id}`,
      name: op.id,
      status: op.status,
      startTime: op.startTime,
      ...(op.endTime ? { endTime: op.endTime } : {}),
      ...(op.status === 'Failed' && op.failWith ? { error: { code: op.failWith.code, message: op.failWith.message } } : {}),
    };
  }
}
