/**
 * The simulated cluster: object stores plus the controllers that make it behave like Kubernetes.
 *
 * Every {@link SimulatedCluster.tick} (driven by the server every `tickMs`):
 *  1. kubelet:    pods that were Running-but-unready at the start of the tick become Ready;
 *  2. scheduler:  Pending pods without a node are bound to a node with room (or get/refresh a
 *                 `PodScheduled=False, reason=Unschedulable` condition with the scheduler's message);
 *  3. HPA:        each HPA clamps its target Deployment's `spec.replicas` into [min, max] and
 *                 refreshes its status (a target at 0 replicas is left alone: autoscaling is
 *                 disabled at zero, as in Kubernetes);
 *  4. deployment: per Deployment, at most ONE pod is created or deleted (scale up/down, or one
 *                 step of a rolling update after a template change), then `status` is recomputed
 *                 (observedGeneration, counters, Available/Progressing conditions). Each pod
 *                 template has a ReplicaSet `<deployment>-<pod-template-hash>` owned by the
 *                 Deployment, created when the template is first rolled out, with the
 *                 Deployment's `deployment.kubernetes.io/revision`; a rollback to an earlier
 *                 template reuses its ReplicaSet and moves the old revision into
 *                 `deployment.kubernetes.io/revision-history`, as the real controller does.
 *                 Pods carry an ownerReference to their ReplicaSet;
 *  5. disruption: each PodDisruptionBudget's status (expectedPods, currentHealthy,
 *                 desiredHealthy, disruptionsAllowed) is recomputed from the pods it selects.
 * A newly created pod is scheduled right away if a node has room, which makes it `Running` but not
 * Ready; it turns Ready on the next tick. Each change is a separate watch event.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { notFound, conflict } from './errors.ts';
import { deepEqual } from './patch.ts';
import { cpuToMillis, formatCpu, formatMemory, canonicalQuantity, quantityToInt, resolveIntOrPercent } from './quantity.ts';
import { fromLabelSelector, matchesLabels, labelsToSelectorString } from './selectors.ts';
import { EventLog, Store, type ResourceType } from './store.ts';
import { compactStatus, isReady, isTerminal, key, podRequests, safeEncode, selectorOf, templateHash, upsertCondition, type ConditionStyle } from './objects.ts';
import type { Condition, Deployment, DeploymentStatus, HorizontalPodAutoscaler, LabelSelector, Node, Pod, PodDisruptionBudget, ReplicaSet, Scale } from './types.ts';
import { preconditionVersion, scaleReplicas, validateDeployment, validateHpa, validatePdb } from './validate.ts';

const REVISION = 'deployment.kubernetes.io/revision';
const REVISION_HISTORY = 'deployment.kubernetes.io/revision-history';

const META_FIELDS = ['metadata.name', 'metadata.namespace'] as const;

/** The resource types the server stores (and can watch). */
export const RESOURCES = {
  pods: { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true,
    fieldLabels: [...META_FIELDS, 'spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'status.phase', 'status.podIP'] },
  nodes: { group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false, fieldLabels: ['metadata.name', 'spec.unschedulable'] },
  deployments: { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', namespaced: true, fieldLabels: META_FIELDS },
  hpas: { group: 'autoscaling', version: 'v2', plural: 'horizontalpodautoscalers', kind: 'HorizontalPodAutoscaler', namespaced: true, fieldLabels: META_FIELDS },
  replicaSets: { group: 'apps', version: 'v1', plural: 'replicasets', kind: 'ReplicaSet', namespaced: true, fieldLabels: [...META_FIELDS, 'status.replicas'] },
  pdbs: { group: 'policy', version: 'v1', plural: 'poddisruptionbudgets', kind: 'PodDisruptionBudget', namespaced: true, fieldLabels: META_FIELDS },
} as const satisfies Record<string, ResourceType>;

export interface NodeSeed { name: string; cpu: string; memory: string; pods?: number }
export interface DeploymentSeed {
  namespace: string;
  name: string;
  replicas: number;
  labels?: Record<string, string>;
  /** CPU request of the main container; default "100m"; `null`: none. */
  cpuRequest?: string | null;
  /** Memory request of the main container; default "128Mi"; `null`: none. */
  memoryRequest?: string | null;
  /** Further containers, each requesting only what is given here (nothing by default). */
  sidecars?: { name: string; cpuRequest?: string; memoryRequest?: string }[];
  /** Container image; default `registry.local/<name>:v1`. */
  image?: string;
  /** Default 600, as in Kubernetes. */
  progressDeadlineSeconds?: number;
}
export interface HpaSeed {
  namespace: string;
  name: string;
  /** Name of the target Deployment. */
  target: string;
  minReplicas: number;
  maxReplicas: number;
  /** Written into spec.metrics as a cpu Utilization target; default 80. Not acted upon. */
  targetCpuUtilization?: number;
}

export interface PdbSeed {
  namespace: string;
  name: string;
  /** An integer or a percentage ("50%"); at most one of minAvailable / maxUnavailable. */
  minAvailable?: number | string;
  maxUnavailable?: number | string;
  /** Default `{ matchLabels: { app: <name> } }`. */
  selector?: LabelSelector;
}

/** What the metrics.k8s.io API group does: served, not registered (404), or registered but its backend down (503). */
export type MetricsServerState = 'available' | 'absent' | 'unavailable';

/** Usage a test sets for one pod (or one container of it). */
export interface UsageOverride { cpu?: string; memory?: string }

export interface PodMetrics {
  metadata: { name: string; namespace: string; creationTimestamp: string; labels?: Record<string, string> };
  timestamp: string;
  window: string;
  containers: { name: string; usage: { cpu: string; memory: string } }[];
}
export interface NodeMetrics {
  metadata: { name: string; creationTimestamp: string; labels?: Record<string, string> };
  timestamp: string;
  window: string;
  usage: { cpu: string; memory: string };
}

export class SimulatedCluster {
  readonly log = new EventLog();
  readonly pods = new Store<Pod>(RESOURCES.pods, this.log);
  readonly nodes = new Store<Node>(RESOURCES.nodes, this.log);
  readonly deployments = new Store<Deployment>(RESOURCES.deployments, this.log);
  readonly hpas = new Store<HorizontalPodAutoscaler>(RESOURCES.hpas, this.log);
  readonly replicaSets = new Store<ReplicaSet>(RESOURCES.replicaSets, this.log);
  readonly pdbs = new Store<PodDisruptionBudget>(RESOURCES.pdbs, this.log);
  metricsServer: MetricsServerState = 'available';

  private stalled = false;
  private podSeq = 0;
  private readonly podOrder = new Map<string, number>(); // pod uid → creation sequence
  private readonly nodeIndex = new Map<string, number>();
  private readonly progress = new Map<string, { sig: string; at: number }>();
  private readonly cpuUsage = new Map<string, string>(); // "ns/deployment" → cpu per pod
  private readonly memoryUsage = new Map<string, string>();
  private readonly podUsage = new Map<string, UsageOverride>(); // "ns/pod" or "ns/pod/container" → usage

  /** Moves the cluster's clock forward (creation times, conditions, the progress deadline). */
  advanceClock(ms: number): void {
    this.log.advance(ms);
  }

  private condition(list: Condition[] | undefined, c: Condition, style: ConditionStyle): Condition[] {
    return upsertCondition(list, c, style, this.log.nowIso());
  }

  // ---------------------------------------------------------------- seeding

  addNode(n: NodeSeed): Node {
    const idx = this.nodeIndex.get(n.name) ?? this.nodeIndex.size + 1;
    const resources = { cpu: canonicalQuantity(n.cpu), memory: canonicalQuantity(n.memory), pods: String(n.pods ?? 110) };
    const now = this.log.nowIso();
    const cond = (type: string, status: 'True' | 'False', reason: string, message: string): Condition =>
      ({ type, status, lastHeartbeatTime: now, lastTransitionTime: now, reason, message });
    const node = this.nodes.create({
      apiVersion: 'v1', kind: 'Node',
      metadata: { name: n.name, uid: '', resourceVersion: '', creationTimestamp: '', labels: {
        'kubernetes.io/hostname': n.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', 'node.kubernetes.io/instance-type': 'simulated',
      } },
      spec: { podCIDR: `10.244.${idx}.0/24` },
      status: {
        capacity: { ...resources }, allocatable: { ...resources },
        conditions: [
          cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
          cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
          cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
          cond('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
        ],
        addresses: [{ type: 'InternalIP', address: `10.0.0.${10 + idx}` }, { type: 'Hostname', address: n.name }],
        nodeInfo: { kubeletVersion: 'v1.31.0', osImage: 'Simulated Linux', architecture: 'amd64', operatingSystem: 'linux' },
      },
    });
    this.nodeIndex.set(n.name, idx);
    return node;
  }

  /** Creates the Deployment with `replicas` pods already scheduled and Ready (where nodes have room). */
  addDeployment(s: DeploymentSeed): Deployment {
    if (!Number.isInteger(s.replicas) || s.replicas < 0) throw new Error(`addDeployment: replicas must be a non-negative integer, got ${s.replicas}`);
    const labels = s.labels ?? { app: s.name };
    const requestsOf = (cpu: string | null | undefined, memory: string | null | undefined): Record<string, string> => ({
      ...(cpu ? { cpu: canonicalQuantity(cpu) } : {}),
      ...(memory ? { memory: canonicalQuantity(memory) } : {}),
    });
    const main = requestsOf(s.cpuRequest === undefined ? '100m' : s.cpuRequest, s.memoryRequest === undefined ? '128Mi' : s.memoryRequest);
    const container = (name: string, requests: Record<string, string>, image: string) =>
      ({ name, image, ...(Object.keys(requests).length ? { resources: { requests } } : {}) });
    const d: Deployment = {
      apiVersion: 'apps/v1', kind: 'Deployment',
      metadata: {
        name: s.name, namespace: s.namespace, uid: randomUUID(), resourceVersion: '', creationTimestamp: '', generation: 1,
        labels: { ...labels }, annotations: { [REVISION]: '1' },
      },
      spec: {
        replicas: s.replicas,
        selector: { matchLabels: { ...labels } },
        template: {
          metadata: { labels: { ...labels } },
          spec: { containers: [
            container(s.name, main, s.image ?? `registry.local/${s.name}:v1`),
            ...(s.sidecars ?? []).map((c) => container(c.name, requestsOf(c.cpuRequest, c.memoryRequest), `registry.local/${c.name}:v1`)),
          ] },
        },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
        revisionHistoryLimit: 10,
        progressDeadlineSeconds: s.progressDeadlineSeconds ?? 600,
      },
      status: {},
    };
    if (this.deployments.has(s.namespace, s.name)) this.deployments.create(d); // throws 409 AlreadyExists before any pod is made
    const hash = templateHash(d.spec.template);
    for (let i = 0; i < s.replicas; i++) {
      const pod = this.createPod(d, hash);
      if (pod.spec.nodeName) this.markReady(pod);
    }
    this.syncReplicaSets(d, hash);
    d.status = this.computeStatus(d, this.podsOf(d), hash);
    return this.deployments.create(d);
  }

  addHpa(h: HpaSeed): HorizontalPodAutoscaler {
    return this.hpas.create({
      apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler',
      metadata: { name: h.name, namespace: h.namespace, uid: '', resourceVersion: '', creationTimestamp: '', generation: 1 },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: h.target },
        minReplicas: h.minReplicas,
        maxReplicas: h.maxReplicas,
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: h.targetCpuUtilization ?? 80 } } }],
      },
      status: { desiredReplicas: 0 },
    });
  }

  /** Create a policy/v1 PodDisruptionBudget (validated like a client's), its status computed at once. */
  addPdb(p: PdbSeed): PodDisruptionBudget {
    const spec: PodDisruptionBudget['spec'] = { selector: p.selector ?? { matchLabels: { app: p.name } } };
    if (p.minAvailable !== undefined) spec.minAvailable = p.minAvailable;
    if (p.maxUnavailable !== undefined) spec.maxUnavailable = p.maxUnavailable;
    return this.createPdb(p.namespace, { metadata: { name: p.name, namespace: p.namespace }, spec }, false);
  }

  /** POST of a PodDisruptionBudget. */
  createPdb(ns: string, body: unknown, dryRun: boolean): PodDisruptionBudget {
    const pdb = validatePdb(body, ns);
    pdb.status = this.pdbStatus(pdb);
    if (dryRun) return pdb;
    return this.pdbs.create(pdb);
  }

  /** PUT/PATCH of a PodDisruptionBudget: `body` is the desired object. */
  writePdb(ns: string, name: string, body: unknown, dryRun: boolean): PodDisruptionBudget {
    const current = this.pdbs.get(ns, name);
    if (!current) throw notFound(RESOURCES.pdbs, name);
    const next = validatePdb(body, ns, current);
    next.status = this.pdbStatus(next);
    if (dryRun) return next;
    return this.pdbs.replace(next, preconditionVersion(body)) ?? current;
  }

  deletePdb(ns: string, name: string): PodDisruptionBudget {
    const p = this.pdbs.delete(ns, name);
    if (!p) throw notFound(RESOURCES.pdbs, name);
    return p;
  }

  setStallScheduling(on: boolean): void {
    this.stalled = on;
  }

  setPodCpuUsage(ns: string, deployment: string, cpu: string): void {
    this.cpuUsage.set(`${ns}/${deployment}`, canonicalQuantity(cpu));
  }

  setPodMemoryUsage(ns: string, deployment: string, memory: string): void {
    this.memoryUsage.set(`${ns}/${deployment}`, canonicalQuantity(memory));
  }

  /** Usage of one pod: of its first container, or of the named one. Wins over the per-Deployment settings. */
  setPodUsage(ns: string, pod: string, usage: UsageOverride, container?: string): void {
    const k = container ? `${ns}/${pod}/${container}` : `${ns}/${pod}`;
    const next = { ...this.podUsage.get(k) };
    if (usage.cpu !== undefined) next.cpu = canonicalQuantity(usage.cpu);
    if (usage.memory !== undefined) next.memory = canonicalQuantity(usage.memory);
    this.podUsage.set(k, next);
  }

  // ---------------------------------------------------------------- API operations

  getDeploymentOrThrow(ns: string, name: string): Deployment {
    const d = this.deployments.get(ns, name);
    if (!d) throw notFound(RESOURCES.deployments, name);
    return d;
  }

  /** The autoscaling/v1 Scale view of a Deployment (`spec.replicas` is omitted at 0, like the API). */
  scaleOf(d: Deployment): Scale {
    const { name, namespace, uid, resourceVersion, creationTimestamp } = d.metadata;
    return {
      apiVersion: 'autoscaling/v1', kind: 'Scale',
      metadata: { name, namespace, uid, resourceVersion, creationTimestamp },
      spec: d.spec.replicas ? { replicas: d.spec.replicas } : {},
      status: { replicas: d.status.replicas ?? 0, selector: labelsToSelectorString(d.spec.selector.matchLabels) },
    };
  }

  /** PUT/PATCH of `/scale`: `body` is the desired Scale object. */
  writeScale(ns: string, name: string, body: unknown, dryRun: boolean): Scale {
    const current = this.getDeploymentOrThrow(ns, name);
    const replicas = scaleReplicas(body, name);
    const rv = preconditionVersion(body);
    if (rv && rv !== current.metadata.resourceVersion) throw conflict(RESOURCES.deployments, name);
    if (dryRun) return this.scaleOf({ ...current, spec: { ...current.spec, replicas } });
    return this.scaleOf(this.setReplicas(ns, name, replicas) ?? current);
  }

  /** PUT/PATCH of a Deployment: `body` is the desired object. */
  writeDeployment(ns: string, name: string, body: unknown, dryRun: boolean): Deployment {
    const current = this.getDeploymentOrThrow(ns, name);
    const next = validateDeployment(body, current);
    if (!deepEqual(next.spec, current.spec)) next.metadata.generation = (current.metadata.generation ?? 1) + 1;
    if (!deepEqual(next.spec.template, current.spec.template)) {
      const rev = Number(current.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? '1') + 1;
      next.metadata.annotations = { ...next.metadata.annotations, 'deployment.kubernetes.io/revision': String(rev) };
    }
    if (dryRun) return next;
    return this.deployments.replace(next, preconditionVersion(body)) ?? current;
  }

  /** PUT/PATCH of an HPA: `body` is the desired object. */
  writeHpa(ns: string, name: string, body: unknown, dryRun: boolean): HorizontalPodAutoscaler {
    const current = this.hpas.get(ns, name);
    if (!current) throw notFound(RESOURCES.hpas, name);
    const next = validateHpa(body, current);
    if (!deepEqual(next.spec, current.spec)) next.metadata.generation = (current.metadata.generation ?? 1) + 1;
    if (dryRun) return next;
    return this.hpas.replace(next, preconditionVersion(body)) ?? current;
  }

  deletePod(ns: string, name: string): Pod {
    const p = this.pods.delete(ns, name);
    if (!p) throw notFound(RESOURCES.pods, name);
    this.podOrder.delete(p.metadata.uid);
    return p;
  }

  /** Sets spec.replicas, bumping metadata.generation when it changes. */
  setReplicas(ns: string, name: string, replicas: number): Deployment | undefined {
    return this.deployments.update(ns, name, (d) => {
      if (d.spec.replicas === replicas) return;
      d.spec.replicas = replicas;
      d.metadata.generation = (d.metadata.generation ?? 1) + 1;
    });
  }

  /** Namespaces that exist: the usual system ones plus any that hold an object. */
  namespaceNames(): string[] {
    const names = new Set(['default', 'kube-system', 'kube-public', 'kube-node-lease']);
    for (const o of [...this.deployments.list(), ...this.pods.list(), ...this.hpas.list(), ...this.pdbs.list()]) {
      if (o.metadata.namespace) names.add(o.metadata.namespace);
    }
    return [...names].sort();
  }

  podMetrics(ns?: string): PodMetrics[] {
    const deployments = this.deployments.list(ns);
    const timestamp = this.log.nowIso();
    return this.pods.list(ns).filter((p) => p.status.phase === 'Running').map((p) => {
      const owner = deployments.find((d) => d.metadata.namespace === p.metadata.namespace && matchesLabels(selectorOf(d), p.metadata.labels));
      const ownerKey = owner ? key(owner) : '';
      const podKey = key(p);
      const containers = p.spec.containers.map((c, i) => {
        const req = c.resources?.requests ?? {};
        // Precedence: this container of this pod, this pod (first container), this Deployment (first
        // container), then the defaults: 10% of the cpu request and 50% of the memory request.
        const own = this.podUsage.get(`${podKey}/${c.name}`);
        const pod = i === 0 ? this.podUsage.get(podKey) : undefined;
        const cpu = own?.cpu ?? pod?.cpu ?? ((i === 0 && this.cpuUsage.get(ownerKey)) || formatCpu(Math.max(1, Math.round(cpuToMillis(req.cpu ?? 0) / 10))));
        const memory = own?.memory ?? pod?.memory ?? ((i === 0 && this.memoryUsage.get(ownerKey)) || formatMemory(Math.round(quantityToInt(req.memory ?? '8Mi') / 2 / 1024) * 1024));
        return { name: c.name, usage: { cpu, memory } };
      });
      const metadata: PodMetrics['metadata'] = { name: p.metadata.name, namespace: p.metadata.namespace ?? '', creationTimestamp: timestamp };
      if (p.metadata.labels) metadata.labels = p.metadata.labels;
      return { metadata, timestamp, window: '30s', containers };
    });
  }

  nodeMetrics(): NodeMetrics[] {
    const pods = this.podMetrics();
    const podNode = new Map(this.pods.list().map((p) => [key(p), p.spec.nodeName]));
    const timestamp = this.log.nowIso();
    return this.nodes.list().map((n) => {
      let cpu = 0;
      let mem = 0;
      for (const pm of pods) {
        if (podNode.get(`${pm.metadata.namespace}/${pm.metadata.name}`) !== n.metadata.name) continue;
        for (const c of pm.containers) {
          cpu += cpuToMillis(c.usage.cpu);
          mem += quantityToInt(c.usage.memory);
        }
      }
      const metadata: NodeMetrics['metadata'] = { name: n.metadata.name, creationTimestamp: timestamp };
      if (n.metadata.labels) metadata.labels = n.metadata.labels;
      return { metadata, timestamp, window: '20s', usage: { cpu: formatCpu(cpu), memory: formatMemory(mem) } };
    });
  }

  // ---------------------------------------------------------------- controllers

  /** One reconciliation round of every simulated controller (see the module doc). */
  tick(): void {
    for (const p of this.pods.list()) {
      if (p.spec.nodeName && p.status.phase === 'Running' && !isReady(p)) this.markReady(p);
    }
    const pending = this.pods.list().filter((p) => !p.spec.nodeName && p.status.phase === 'Pending');
    pending.sort((a, b) => (this.podOrder.get(a.metadata.uid) ?? 0) - (this.podOrder.get(b.metadata.uid) ?? 0));
    for (const p of pending) this.schedule(p);
    for (const h of this.hpas.list()) this.reconcileHpa(h);
    for (const d of this.deployments.list()) this.reconcileDeployment(d);
    for (const b of this.pdbs.list()) {
      const status = this.pdbStatus(b);
      this.pdbs.update(b.metadata.namespace, b.metadata.name, (x) => {
        x.status = status;
      });
    }
  }

  private podsOf(d: Deployment): Pod[] {
    const sel = selectorOf(d);
    return this.pods.list(d.metadata.namespace).filter((p) => !isTerminal(p) && matchesLabels(sel, p.metadata.labels));
  }

  private createPod(d: Deployment, hash: string): Pod {
    const base = `${d.metadata.name}-${hash}-`;
    const name = base + safeEncode(randomBytes(5), 5);
    const spec = structuredClone(d.spec.template.spec);
    const hasRequests = spec.containers.some((c) => c.resources?.requests && Object.keys(c.resources.requests).length > 0);
    const rs = this.replicaSetFor(d, hash);
    const pod = this.pods.create({
      apiVersion: 'v1', kind: 'Pod',
      metadata: {
        name, generateName: base, namespace: d.metadata.namespace, uid: '', resourceVersion: '', creationTimestamp: '',
        labels: { ...d.spec.template.metadata.labels, 'pod-template-hash': hash },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs.metadata.name, uid: rs.metadata.uid, controller: true, blockOwnerDeletion: true }],
      },
      spec: { ...spec, restartPolicy: 'Always', schedulerName: 'default-scheduler', terminationGracePeriodSeconds: 30 },
      status: { phase: 'Pending', conditions: [], qosClass: hasRequests ? 'Burstable' : 'BestEffort' },
    });
    this.podOrder.set(pod.metadata.uid, ++this.podSeq);
    return this.schedule(pod);
  }

  /** Bind a pending pod to a node with room, or record why it cannot be scheduled. */
  private schedule(pod: Pod): Pod {
    const nodes = this.nodes.list();
    const req = podRequests(pod);
    const used = new Map<string, { cpu: number; mem: number; count: number }>();
    for (const p of this.pods.list()) {
      if (!p.spec.nodeName || isTerminal(p)) continue;
      const u = used.get(p.spec.nodeName) ?? { cpu: 0, mem: 0, count: 0 };
      const r = podRequests(p);
      used.set(p.spec.nodeName, { cpu: u.cpu + r.cpu, mem: u.mem + r.mem, count: u.count + 1 });
    }
    const reasons = new Map<string, number>();
    const note = (r: string): void => { reasons.set(r, (reasons.get(r) ?? 0) + 1); };
    let best: { node: Node; score: number } | undefined;
    for (const n of nodes) {
      const u = used.get(n.metadata.name) ?? { cpu: 0, mem: 0, count: 0 };
      const alloc = { cpu: cpuToMillis(n.status.allocatable.cpu), mem: quantityToInt(n.status.allocatable.memory), pods: quantityToInt(n.status.allocatable.pods) };
      let fits = true;
      if (n.spec.unschedulable) { note('node(s) were unschedulable'); fits = false; }
      if (u.count + 1 > alloc.pods) { note('Too many pods'); fits = false; }
      if (u.cpu + req.cpu > alloc.cpu) { note('Insufficient cpu'); fits = false; }
      if (u.mem + req.mem > alloc.mem) { note('Insufficient memory'); fits = false; }
      if (!fits) continue;
      const score = (u.cpu + req.cpu) / Math.max(alloc.cpu, 1) + (u.mem + req.mem) / Math.max(alloc.mem, 1);
      if (!best || score < best.score) best = { node: n, score };
    }
    if (this.stalled || !best) {
      let message: string;
      if (nodes.length === 0) message = 'no nodes available to schedule pods';
      else if (this.stalled) message = `0/${nodes.length} nodes are available: ${nodes.length} Insufficient cpu.`;
      else message = `0/${nodes.length} nodes are available: ${[...reasons].map(([r, c]) => `${c} ${r}`).sort().join(', ')}.`;
      return this.pods.update(pod.metadata.namespace, pod.metadata.name, (p) => {
        p.status.conditions = this.condition(p.status.conditions, { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message }, 'pod');
      }) ?? pod;
    }
    const node = best.node;
    const nodeIdx = this.nodeIndex.get(node.metadata.name) ?? 0;
    const seq = this.podOrder.get(pod.metadata.uid) ?? 0;
    return this.pods.update(pod.metadata.namespace, pod.metadata.name, (p) => {
      const now = this.log.nowIso();
      const notReady = `containers with unready status: [${p.spec.containers.map((c) => c.name).join(' ')}]`;
      p.spec.nodeName = node.metadata.name;
      p.status.phase = 'Running';
      p.status.hostIP = node.status.addresses[0]?.address ?? '';
      p.status.podIP = `10.244.${nodeIdx}.${(seq % 250) + 2}`;
      p.status.startTime = now;
      let conds = p.status.conditions;
      conds = this.condition(conds, { type: 'PodScheduled', status: 'True' }, 'pod');
      conds = this.condition(conds, { type: 'Initialized', status: 'True' }, 'pod');
      conds = this.condition(conds, { type: 'Ready', status: 'False', reason: 'ContainersNotReady', message: notReady }, 'pod');
      conds = this.condition(conds, { type: 'ContainersReady', status: 'False', reason: 'ContainersNotReady', message: notReady }, 'pod');
      p.status.conditions = conds;
      p.status.containerStatuses = p.spec.containers.map((c) => ({
        name: c.name, ready: false, started: true, restartCount: 0, image: c.image, imageID: '', state: { running: { startedAt: now } },
      }));
    }) ?? pod;
  }

  private markReady(pod: Pod): void {
    this.pods.update(pod.metadata.namespace, pod.metadata.name, (p) => {
      p.status.conditions = this.condition(p.status.conditions, { type: 'Ready', status: 'True' }, 'pod');
      p.status.conditions = this.condition(p.status.conditions, { type: 'ContainersReady', status: 'True' }, 'pod');
      for (const cs of p.status.containerStatuses ?? []) cs.ready = true;
    });
  }

  private reconcileHpa(h: HorizontalPodAutoscaler): void {
    const ns = h.metadata.namespace ?? '';
    const ref = h.spec.scaleTargetRef;
    const target = ref.kind === 'Deployment' ? this.deployments.get(ns, ref.name) : undefined;
    let conditions = h.status.conditions;
    const status: HorizontalPodAutoscaler['status'] = { desiredReplicas: h.status.desiredReplicas };
    if (h.metadata.generation) status.observedGeneration = h.metadata.generation;
    if (h.status.lastScaleTime) status.lastScaleTime = h.status.lastScaleTime;
    if (!target) {
      conditions = this.condition(conditions, { type: 'AbleToScale', status: 'False', reason: 'FailedGetScale',
        message: `the HPA controller was unable to get the target's current scale: ${ref.kind.toLowerCase()}s/scale.apps "${ref.name}" not found` }, 'plain');
    } else {
      const current = target.spec.replicas;
      const { minReplicas: min, maxReplicas: max } = h.spec;
      const desired = current === 0 ? 0 : Math.min(max, Math.max(min, current));
      if (desired !== current) {
        this.setReplicas(ns, ref.name, desired);
        status.lastScaleTime = this.log.nowIso();
      }
      status.desiredReplicas = desired;
      if (target.status.replicas) status.currentReplicas = target.status.replicas;
      const metrics = this.cpuUtilization(target);
      if (metrics) status.currentMetrics = [{ type: 'Resource', resource: { name: 'cpu', current: metrics } }];
      conditions = this.condition(conditions, { type: 'AbleToScale', status: 'True', reason: desired !== current ? 'SucceededRescale' : 'ReadyForNewScale',
        message: desired !== current ? `the HPA controller was able to update the target scale to ${desired}` : 'recommended size matches current size' }, 'plain');
      conditions = this.condition(conditions, current === 0
        ? { type: 'ScalingActive', status: 'False', reason: 'ScalingDisabled', message: 'scaling is disabled since the replica count of the target is zero' }
        : { type: 'ScalingActive', status: 'True', reason: 'ValidMetricFound', message: 'the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)' }, 'plain');
      conditions = this.condition(conditions, current !== 0 && current < min
        ? { type: 'ScalingLimited', status: 'True', reason: 'TooFewReplicas', message: 'the desired replica count is less than the minimum replica count' }
        : current > max
          ? { type: 'ScalingLimited', status: 'True', reason: 'TooManyReplicas', message: 'the desired replica count is more than the maximum replica count' }
          : { type: 'ScalingLimited', status: 'False', reason: 'DesiredWithinRange', message: 'the desired count is within the acceptable range' }, 'plain');
    }
    status.conditions = conditions ?? [];
    this.hpas.update(ns, h.metadata.name, (x) => {
      x.status = status;
    });
  }

  private cpuUtilization(d: Deployment): { averageUtilization: number; averageValue: string } | undefined {
    const running = this.podMetrics(d.metadata.namespace).filter((m) => matchesLabels(selectorOf(d), m.metadata.labels));
    if (running.length === 0) return undefined;
    const requestMillis = d.spec.template.spec.containers.reduce((s, c) => s + cpuToMillis(c.resources?.requests?.cpu ?? 0), 0);
    const usage = running.reduce((s, m) => s + m.containers.reduce((t, c) => t + cpuToMillis(c.usage.cpu), 0), 0) / running.length;
    return {
      averageUtilization: requestMillis > 0 ? Math.round((100 * usage) / requestMillis) : 0,
      averageValue: formatCpu(Math.round(usage)),
    };
  }

  /** One pod action (create or delete) toward the desired state, then a status refresh. */
  private reconcileDeployment(d: Deployment): void {
    const ns = d.metadata.namespace ?? '';
    const desired = d.spec.replicas;
    const hash = templateHash(d.spec.template);
    const pods = this.podsOf(d);
    const current = pods.filter((p) => p.metadata.labels?.['pod-template-hash'] === hash);
    const old = pods.filter((p) => p.metadata.labels?.['pod-template-hash'] !== hash);
    const order = (p: Pod): number => this.podOrder.get(p.metadata.uid) ?? 0;
    // Deletion preference: unscheduled, then scheduled-but-unready, then newest.
    const rank = (p: Pod): number => (!p.spec.nodeName ? 0 : !isReady(p) ? 1 : 2);
    const victims = (xs: Pod[]): Pod[] => [...xs].sort((a, b) => rank(a) - rank(b) || order(b) - order(a));
    const remove = (p: Pod | undefined): void => { if (p) this.deletePod(ns, p.metadata.name); };

    if (old.length > 0 && d.spec.strategy.type === 'Recreate') {
      remove(victims(old)[0]);
    } else if (old.length > 0 && !d.spec.paused) {
      const ru = d.spec.strategy.rollingUpdate;
      const maxSurge = resolveIntOrPercent(ru?.maxSurge, desired, true, '25%');
      let maxUnavailable = resolveIntOrPercent(ru?.maxUnavailable, desired, false, '25%');
      if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
      const ready = pods.filter(isReady).length;
      const oldVictim = victims(old)[0];
      if (current.length < desired && pods.length < desired + maxSurge) {
        this.createPod(d, hash);
      } else if (oldVictim && (!isReady(oldVictim) || ready - 1 >= desired - maxUnavailable)) {
        remove(oldVictim);
      } else if (current.length > desired) {
        remove(victims(current)[0]);
      }
    } else if (pods.length < desired) {
      this.createPod(d, hash);
    } else if (pods.length > desired) {
      remove(victims(pods)[0]);
    }

    this.syncReplicaSets(d, hash);
    const status = this.computeStatus(d, this.podsOf(d), hash);
    this.deployments.update(ns, d.metadata.name, (x) => {
      x.status = status;
    });
  }

  private ownedReplicaSets(d: Deployment): ReplicaSet[] {
    return this.replicaSets.list(d.metadata.namespace).filter((rs) => rs.metadata.ownerReferences?.some((o) => o.controller && o.uid === d.metadata.uid));
  }

  /**
   * The ReplicaSet of one pod template: created with the Deployment's revision the first time the
   * template is rolled out; on a rollback to it, given the new revision (the old one goes into
   * the revision history), like the deployment controller.
   */
  private replicaSetFor(d: Deployment, hash: string): ReplicaSet {
    const ns = d.metadata.namespace ?? '';
    const name = `${d.metadata.name}-${hash}`;
    const revision = d.metadata.annotations?.[REVISION] ?? '1';
    const existing = this.replicaSets.get(ns, name);
    if (!existing) {
      const template = structuredClone(d.spec.template);
      template.metadata.labels = { ...template.metadata.labels, 'pod-template-hash': hash };
      return this.replicaSets.create({
        apiVersion: 'apps/v1', kind: 'ReplicaSet',
        metadata: {
          name, namespace: ns, uid: '', resourceVersion: '', creationTimestamp: '', generation: 1,
          labels: { ...template.metadata.labels },
          annotations: { [REVISION]: revision, 'deployment.kubernetes.io/desired-replicas': String(d.spec.replicas) },
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: d.metadata.name, uid: d.metadata.uid, controller: true, blockOwnerDeletion: true }],
        },
        spec: { replicas: 0, selector: { matchLabels: { ...d.spec.selector.matchLabels, 'pod-template-hash': hash } }, template },
        status: { replicas: 0 },
      });
    }
    const old = existing.metadata.annotations?.[REVISION];
    if (old === revision) return existing;
    return this.replicaSets.update(ns, name, (rs) => {
      const history = [rs.metadata.annotations?.[REVISION_HISTORY], old].filter(Boolean).join(',');
      rs.metadata.annotations = { ...rs.metadata.annotations, [REVISION]: revision, ...(history ? { [REVISION_HISTORY]: history } : {}) };
    }) ?? existing;
  }

  /** Counts each owned ReplicaSet's pods into its spec and status; drops empty old ones beyond revisionHistoryLimit. */
  private syncReplicaSets(d: Deployment, hash: string): void {
    const ns = d.metadata.namespace ?? '';
    this.replicaSetFor(d, hash);
    const pods = this.podsOf(d);
    const owned = this.ownedReplicaSets(d);
    for (const rs of owned) {
      const rsHash = rs.spec.selector.matchLabels['pod-template-hash'];
      const mine = pods.filter((p) => p.metadata.labels?.['pod-template-hash'] === rsHash);
      const ready = mine.filter(isReady).length;
      this.replicaSets.update(ns, rs.metadata.name, (x) => {
        x.spec.replicas = rsHash === hash ? Math.max(mine.length, d.spec.replicas - (pods.length - mine.length)) : mine.length;
        x.metadata.annotations = { ...x.metadata.annotations, 'deployment.kubernetes.io/desired-replicas': String(d.spec.replicas) };
        x.status = { replicas: mine.length, observedGeneration: x.metadata.generation ?? 1 };
        if (mine.length) x.status.fullyLabeledReplicas = mine.length;
        if (ready) {
          x.status.readyReplicas = ready;
          x.status.availableReplicas = ready;
        }
      });
    }
    const limit = d.spec.revisionHistoryLimit ?? 10;
    const revisionOf = (rs: ReplicaSet): number => Number(rs.metadata.annotations?.[REVISION] ?? 0);
    const idle = this.ownedReplicaSets(d)
      .filter((rs) => rs.spec.selector.matchLabels['pod-template-hash'] !== hash && rs.status.replicas === 0)
      .sort((a, b) => revisionOf(a) - revisionOf(b));
    for (const rs of idle.slice(0, Math.max(0, idle.length - limit))) this.replicaSets.delete(ns, rs.metadata.name);
  }

  /**
   * The disruption controller's arithmetic: an integer minAvailable counts the selected pods;
   * a percentage, or maxUnavailable, is resolved (rounding up) against the replicas of the
   * Deployments whose pods it selects.
   */
  private pdbStatus(b: PodDisruptionBudget): PodDisruptionBudget['status'] {
    const ns = b.metadata.namespace ?? '';
    const sel = fromLabelSelector(b.spec.selector);
    const pods = sel ? this.pods.list(ns).filter((p) => !isTerminal(p) && matchesLabels(sel, p.metadata.labels)) : [];
    const scale = (): number => this.deployments.list(ns)
      .filter((d) => pods.some((p) => matchesLabels(selectorOf(d), p.metadata.labels)))
      .reduce((sum, d) => sum + d.spec.replicas, 0);
    const { minAvailable, maxUnavailable } = b.spec;
    let expectedPods = pods.length;
    let desiredHealthy = 0;
    if (maxUnavailable !== undefined && maxUnavailable !== null) {
      expectedPods = scale();
      desiredHealthy = Math.max(0, expectedPods - resolveIntOrPercent(maxUnavailable, expectedPods, true, '0'));
    } else if (typeof minAvailable === 'number') {
      desiredHealthy = minAvailable;
    } else if (typeof minAvailable === 'string') {
      expectedPods = scale();
      desiredHealthy = resolveIntOrPercent(minAvailable, expectedPods, true, '0');
    }
    const currentHealthy = pods.filter(isReady).length;
    const disruptionsAllowed = expectedPods > 0 ? Math.max(0, currentHealthy - desiredHealthy) : 0;
    const conditions = this.condition(b.status?.conditions, disruptionsAllowed > 0
      ? { type: 'DisruptionAllowed', status: 'True', reason: 'SufficientPods' }
      : { type: 'DisruptionAllowed', status: 'False', reason: 'InsufficientPods' }, 'plain');
    return { observedGeneration: b.metadata.generation ?? 1, currentHealthy, desiredHealthy, disruptionsAllowed, expectedPods, conditions };
  }

  private computeStatus(d: Deployment, pods: Pod[], hash: string): DeploymentStatus {
    const desired = d.spec.replicas;
    const replicas = pods.length;
    const updated = pods.filter((p) => p.metadata.labels?.['pod-template-hash'] === hash).length;
    const ready = pods.filter(isReady).length;
    const available = ready;
    const maxUnavailable = d.spec.strategy.type === 'RollingUpdate'
      ? resolveIntOrPercent(d.spec.strategy.rollingUpdate?.maxUnavailable, desired, false, '25%') : 0;
    const rsName = `${d.metadata.name}-${hash}`;
    const now = this.log.now();
    const k = key(d);
    const sig = JSON.stringify([d.metadata.generation, replicas, updated, ready]);
    const prog = this.progress.get(k);
    if (!prog || prog.sig !== sig) this.progress.set(k, { sig, at: now });
    const since = this.progress.get(k)?.at ?? now;
    const complete = updated === desired && replicas === desired && available === desired;
    const deadlineMs = (d.spec.progressDeadlineSeconds ?? 600) * 1000;

    let conditions = d.status.conditions;
    conditions = this.condition(conditions, available >= desired - maxUnavailable
      ? { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' }
      : { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' }, 'deployment');
    conditions = this.condition(conditions, complete
      ? { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${rsName}" has successfully progressed.` }
      : now - since > deadlineMs
        ? { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: `ReplicaSet "${rsName}" has timed out progressing.` }
        : { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', message: `ReplicaSet "${rsName}" is progressing.` }, 'deployment');
    return compactStatus({
      observedGeneration: d.metadata.generation ?? 1,
      replicas,
      updatedReplicas: updated,
      readyReplicas: ready,
      availableReplicas: available,
      unavailableReplicas: Math.max(0, desired - available),
      conditions,
    });
  }
}
