// A Kubernetes Deployment as a scale target. Changes only the scale subresource, or the bounds of
// the HPA that manages the Deployment (scaling the Deployment alone would be undone by the HPA).
// Never reads-modifies-writes the whole Deployment. Its probes only read; each returns the named
// numbers (`values`) a runbook's expressions use.
import * as k8s from '@kubernetes/client-node';
import type { Plan, ProbeResult, StepPlan, StepRequest, TargetOperation, TargetState } from '../../engine/run.ts';
import type { Clock } from '../../ports/clock.port.ts';
import type { ApplyResult, RolloutExpectation, ScaleTarget } from '../../ports/scale-target.port.ts';
import { formatDuration } from '../../workflows/duration.ts';
import { floorOf, selectorMatches } from './disruption-budget.ts';
import { podsThatFit, type NodeRoom } from './node-capacity.ts';
import { podUsage, shareLine, type PodMetric } from './pod-usage.ts';
import { formatBytes, formatCpu, parseQuantity } from './quantity.ts';
import { describeKubeError, withRetries } from './kube-errors.ts';
import { AbortError } from 'p-retry';

export interface KubernetesTargetConfig {
  namespace: string;
  deployment: string;
  hpa?: string;
  context?: string;
}

type Hpa = k8s.V2HorizontalPodAutoscaler;

/** The probes this adapter answers (a runbook's `probe:` for the service's scale target). */
export const KUBERNETES_PROBES = [
  'kubernetes.replicas',
  'kubernetes.hpa',
  'kubernetes.pending-pods',
  'kubernetes.node-capacity',
  'kubernetes.pod-usage',
  'kubernetes.pdb',
  'kubernetes.recent-deploy',
] as const;
export type KubernetesProbe = (typeof KUBERNETES_PROBES)[number];

const REVISION = 'deployment.kubernetes.io/revision';
const REVISION_HISTORY = 'deployment.kubernetes.io/revision-history';
const METRICS = { group: 'metrics.k8s.io', version: 'v1beta1' } as const;

const MERGE_PATCH = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
/** One API call may take this long before it counts as failed (and is retried). */
const CALL_TIMEOUT_MS = 15_000;
/** After the deadline, the diagnosis (what is stuck) may take this long. */
const DIAGNOSE_TIMEOUT_MS = 5_000;
/** While the rollout looks done but pods were still Pending, or the pod list failed, look again this often. */
const RECHECK_MS = 1_000;

export class KubernetesTarget implements ScaleTarget {
  private readonly apps: k8s.AppsV1Api;
  private readonly core: k8s.CoreV1Api;
  private readonly autoscaling: k8s.AutoscalingV2Api;
  private readonly policy: k8s.PolicyV1Api;
  private readonly custom: k8s.CustomObjectsApi;
  private readonly source: string;

  constructor(
    private readonly kc: k8s.KubeConfig,
    private readonly config: KubernetesTargetConfig,
    private readonly clock: Clock,
    /** Counts failed API calls (metrics): the HTTP status, or 'network'. */
    private readonly onError: (code: number | string) => void = () => undefined,
  ) {
    this.apps = kc.makeApiClient(k8s.AppsV1Api);
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.autoscaling = kc.makeApiClient(k8s.AutoscalingV2Api);
    this.policy = kc.makeApiClient(k8s.PolicyV1Api);
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
    this.source = `Kubernetes API${config.context ? ` (context ${config.context})` : ''}`;
  }

  private get label(): string {
    return `Deployment ${this.config.namespace}/${this.config.deployment}`;
  }

  private get scalePath(): string {
    return `/apis/apps/v1/namespaces/${this.config.namespace}/deployments/${this.config.deployment}/scale`;
  }

  private hpaPath(name: string): string {
    return `/apis/autoscaling/v2/namespaces/${this.config.namespace}/horizontalpodautoscalers/${name}`;
  }

  private async readDeployment(): Promise<k8s.V1Deployment> {
    return this.call(`read ${this.label}`, () => this.apps.readNamespacedDeployment({ name: this.config.deployment, namespace: this.config.namespace }));
  }

  /** The HPA whose scaleTargetRef is this Deployment (or the one the catalog names). */
  private async findHpa(): Promise<Hpa | undefined> {
    const { namespace, deployment, hpa } = this.config;
    if (hpa) return this.call(`read HPA ${namespace}/${hpa}`, () => this.autoscaling.readNamespacedHorizontalPodAutoscaler({ name: hpa, namespace }));
    const list = await this.call(`list HPAs in ${namespace}`, () => this.autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace }));
    return list.items.find((h) => h.spec?.scaleTargetRef.kind === 'Deployment' && h.spec.scaleTargetRef.name === deployment);
  }

  /**
   * One API call with a timeout and retries. With `conflicts: 'fail'` a 409 is not retried but
   * thrown as a ConflictError (a resourceVersion precondition failed: read again and decide again).
   * With `unserved`, a final answer with one of those codes (after the usual retries) is thrown
   * as an UnservedError carrying the code (an API group the cluster does not serve or whose
   * backend is down, e.g. metrics-server).
   */
  private call<T>(what: string, fn: () => Promise<T>, opts: { conflicts?: 'retry' | 'fail'; unserved?: number[] } = {}): Promise<T> {
    const attempt = () =>
      withTimeout(fn(), CALL_TIMEOUT_MS, `no answer within ${CALL_TIMEOUT_MS / 1000}s`).catch((error: unknown) => {
        this.onError((error as { code?: number }).code ?? 'network');
        if (opts.conflicts === 'fail' && error instanceof k8s.ApiException && error.code === 409) throw new AbortError(new ConflictError(describeKubeError(what, error)));
        throw error;
      });
    return withRetries(attempt).catch((error) => {
      const cause = error instanceof AbortError ? error.originalError : error;
      if (cause instanceof ConflictError) throw cause;
      if (cause instanceof k8s.ApiException && opts.unserved?.includes(cause.code)) throw new UnservedError(cause.code, describeKubeError(what, cause));
      throw new Error(describeKubeError(what, error));
    });
  }

  async plan(replicas: number): Promise<Plan> {
    const [deployment, hpa] = await Promise.all([this.readDeployment(), this.findHpa()]);
    const current = deployment.spec?.replicas ?? 1;
    const before: TargetState = { replicas: current, readyReplicas: deployment.status?.readyReplicas ?? 0 };
    if (!hpa?.spec) {
      const body = { spec: { replicas } };
      return {
        summary: `Set ${this.label} replicas ${current} → ${replicas}`,
        calls: [`PATCH ${this.scalePath} (merge patch, only if its resourceVersion is unchanged) ${JSON.stringify(body)}`],
        operation: { type: 'set-replicas', replicas, from: current },
        undo: { type: 'set-replicas', replicas: current, from: replicas },
        before,
        expect: { replicas, atLeast: false },
        undoExpect: { replicas: current, atLeast: false },
        changes: replicas !== current,
      };
    }
    const name = hpa.metadata?.name ?? 'unknown';
    const min = hpa.spec.minReplicas ?? 1;
    const max = hpa.spec.maxReplicas;
    const newMax = Math.max(max, replicas);
    const operation: TargetOperation = {
      type: 'set-hpa-bounds',
      hpa: name,
      minReplicas: replicas,
      ...(newMax !== max ? { maxReplicas: newMax } : {}),
      from: { minReplicas: min, maxReplicas: max },
    };
    const undo: TargetOperation = {
      type: 'set-hpa-bounds',
      hpa: name,
      minReplicas: min,
      ...(newMax !== max ? { maxReplicas: max } : {}),
      from: { minReplicas: replicas, maxReplicas: newMax },
    };
    return {
      summary: `Set HPA ${this.config.namespace}/${name} minReplicas ${min} → ${replicas}${newMax !== max ? ` and maxReplicas ${max} → ${newMax}` : ` (maxReplicas stays ${max})`}`,
      note: `HPA ${name} manages this Deployment, so scaling the Deployment alone would be undone by it: its minReplicas is raised instead. The previous bounds ${min}..${max} are recorded for rollback.`,
      calls: [`PATCH ${this.hpaPath(name)} (merge patch, only if its resourceVersion is unchanged) ${JSON.stringify(hpaPatchBody(operation))}`],
      operation,
      undo,
      before: { ...before, hpa: { name, minReplicas: min, maxReplicas: max } },
      expect: { replicas, atLeast: true },
      undoExpect: { replicas: min, atLeast: true },
      changes: replicas !== min || newMax !== max,
    };
  }

  /**
   * Applies one operation as a compare-and-set on the object's resourceVersion: read, check it is
   * still as planned (`from`), patch with that resourceVersion. A concurrent writer (a status
   * update, or another replica reconciling after a crash) makes the patch fail with 409; then it
   * reads again and decides again. A target already as requested counts as applied, never twice.
   */
  async apply(operation: TargetOperation): Promise<ApplyResult> {
    const { namespace, deployment: name } = this.config;
    for (let attempt = 1; ; attempt++) {
      try {
        if (operation.type === 'set-replicas') {
          const scale = await this.call(`read the scale of ${this.label}`, () => this.apps.readNamespacedDeploymentScale({ name, namespace }));
          const current = scale.spec?.replicas ?? 0;
          const before = { replicas: operation.from ?? current, readyReplicas: scale.status?.replicas ?? 0 };
          if (current === operation.replicas) return { before, after: { replicas: current, readyReplicas: scale.status?.replicas ?? 0 } };
          if (operation.from !== undefined && current !== operation.from) {
            throw new Error(`${this.label} changed since the plan was made: it has ${current} replicas, the plan expected ${operation.from}. Nothing was changed; request again so the checks and approval see the current state`);
          }
          const body = { metadata: { resourceVersion: scale.metadata?.resourceVersion }, spec: { replicas: operation.replicas } };
          const patched = await this.call(`patch the scale of ${this.label}`, () => this.apps.patchNamespacedDeploymentScale({ name, namespace, body }, MERGE_PATCH), { conflicts: 'fail' });
          return { before, after: { replicas: patched.spec?.replicas ?? operation.replicas, readyReplicas: patched.status?.replicas ?? 0 } };
        }
        if (operation.type === 'set-replica-bounds') throw new Error(`${this.label} has no min/max replicas of its own (an HPA has): this operation is for other platforms`);
        if (operation.type === 'set-hpa-scale-down') return await this.applyScaleDownPolicy(operation);
        const hpaName = operation.hpa;
        const current = await this.call(`read HPA ${namespace}/${hpaName}`, () => this.autoscaling.readNamespacedHorizontalPodAutoscaler({ name: hpaName, namespace }));
        const hpaState = (h: Hpa) => ({ name: hpaName, minReplicas: h.spec?.minReplicas ?? 1, maxReplicas: h.spec?.maxReplicas ?? 0 });
        const bounds = hpaState(current);
        const before = { replicas: current.status?.currentReplicas ?? 0, readyReplicas: current.status?.currentReplicas ?? 0, hpa: operation.from ? { name: hpaName, ...operation.from } : bounds };
        const done = bounds.minReplicas === operation.minReplicas && (operation.maxReplicas === undefined || bounds.maxReplicas === operation.maxReplicas);
        if (done) return { before, after: { ...before, hpa: bounds } };
        if (operation.from && (bounds.minReplicas !== operation.from.minReplicas || bounds.maxReplicas !== operation.from.maxReplicas)) {
          throw new Error(`HPA ${namespace}/${hpaName} changed since the plan was made: its bounds are ${bounds.minReplicas}..${bounds.maxReplicas}, the plan expected ${operation.from.minReplicas}..${operation.from.maxReplicas}. Nothing was changed; request again so the checks and approval see the current state`);
        }
        const body = { metadata: { resourceVersion: current.metadata?.resourceVersion }, ...hpaPatchBody(operation) };
        const patched = await this.call(`patch HPA ${namespace}/${hpaName}`, () => this.autoscaling.patchNamespacedHorizontalPodAutoscaler({ name: hpaName, namespace, body }, MERGE_PATCH), { conflicts: 'fail' });
        return { before, after: { replicas: Math.max(patched.status?.desiredReplicas ?? 0, operation.minReplicas), readyReplicas: patched.status?.currentReplicas ?? 0, hpa: hpaState(patched) } };
      } catch (error) {
        if (error instanceof ConflictError && attempt < 5) continue;
        throw error instanceof ConflictError ? new Error(error.message) : error;
      }
    }
  }

  private readHpa(name: string): Promise<Hpa> {
    const { namespace } = this.config;
    return this.call(`read HPA ${namespace}/${name}`, () => this.autoscaling.readNamespacedHorizontalPodAutoscaler({ name, namespace }));
  }

  /** HPA bounds or its scale-down policy, as a step of its own (seed 003: raise maxReplicas, disable scale-down around an event). */
  async planStep(request: Extract<StepRequest, { kind: 'target' }>): Promise<StepPlan> {
    const hpa = await this.findHpa();
    if (!hpa?.spec || !hpa.metadata?.name) throw new Error(`no HPA manages ${this.label}, so ${request.operation} has nothing to change; name it in the catalog (target.hpa) if it exists`);
    const name = hpa.metadata.name;
    const path = this.hpaPath(name);
    if (request.operation === 'hpa-bounds') {
      const min = hpa.spec.minReplicas ?? 1;
      const max = hpa.spec.maxReplicas;
      const newMin = request.min ?? min;
      const newMax = request.max ?? max;
      if (newMin < 1 || newMax < newMin) throw new Error(`HPA bounds ${newMin}..${newMax} are not valid: the floor must be at least 1 and not above the ceiling`);
      const operation: TargetOperation = { type: 'set-hpa-bounds', hpa: name, minReplicas: newMin, maxReplicas: newMax, from: { minReplicas: min, maxReplicas: max } };
      return {
        summary: `Set HPA ${this.config.namespace}/${name} bounds ${min}..${max} → ${newMin}..${newMax}`,
        calls: [`PATCH ${path} (merge patch, only if its resourceVersion is unchanged) ${JSON.stringify(hpaPatchBody(operation))}`],
        changes: newMin !== min || newMax !== max,
        change: { kind: 'target', operation, undo: { type: 'set-hpa-bounds', hpa: name, minReplicas: min, maxReplicas: max, from: { minReplicas: newMin, maxReplicas: newMax } } },
      };
    }
    const policy = hpa.spec.behavior?.scaleDown?.selectPolicy ?? null;
    const want = request.enabled ? (policy === 'Disabled' ? null : policy) : 'Disabled';
    const operation: TargetOperation = { type: 'set-hpa-scale-down', hpa: name, selectPolicy: want, from: policy };
    return {
      summary: request.enabled ? `Re-enable scale-down of HPA ${this.config.namespace}/${name} (selectPolicy ${policy ?? 'default'} → ${want ?? 'default'})` : `Disable scale-down of HPA ${this.config.namespace}/${name} (selectPolicy ${policy ?? 'default'} → Disabled): it can still scale up`,
      calls: [`PATCH ${path} (merge patch, only if its resourceVersion is unchanged) ${JSON.stringify(scaleDownPatchBody(want))}`],
      changes: want !== policy,
      change: { kind: 'target', operation, undo: { type: 'set-hpa-scale-down', hpa: name, selectPolicy: policy, from: want } },
    };
  }

  private async applyScaleDownPolicy(operation: Extract<TargetOperation, { type: 'set-hpa-scale-down' }>): Promise<ApplyResult> {
    const { namespace } = this.config;
    const current = await this.readHpa(operation.hpa);
    const policy = current.spec?.behavior?.scaleDown?.selectPolicy ?? null;
    const before = hpaTargetState(current, operation.hpa);
    if (policy === operation.selectPolicy) return { before, after: before };
    if (operation.from !== undefined && policy !== operation.from) {
      throw new Error(`HPA ${namespace}/${operation.hpa} changed since the plan was made: its scale-down policy is ${policy ?? 'default'}, the plan expected ${operation.from ?? 'default'}. Nothing was changed; request again`);
    }
    const body = { metadata: { resourceVersion: current.metadata?.resourceVersion }, ...scaleDownPatchBody(operation.selectPolicy) };
    const patched = await this.call(`patch HPA ${namespace}/${operation.hpa}`, () => this.autoscaling.patchNamespacedHorizontalPodAutoscaler({ name: operation.hpa, namespace, body }, MERGE_PATCH), { conflicts: 'fail' });
    return { before, after: hpaTargetState(patched, operation.hpa) };
  }

  async reconcile(operation: TargetOperation): ReturnType<ScaleTarget['reconcile']> {
    const { namespace, deployment: name } = this.config;
    if (operation.type === 'set-replicas') {
      const scale = await this.call(`read the scale of ${this.label}`, () => this.apps.readNamespacedDeploymentScale({ name, namespace }));
      const current = scale.spec?.replicas ?? 0;
      const state = { replicas: current, readyReplicas: scale.status?.replicas ?? 0 };
      if (current === operation.replicas) return { status: 'applied', state };
      if (operation.from === undefined || current === operation.from) return { status: 'not-applied', state };
      return { status: 'diverged', detail: `${this.label} has ${current} replicas: neither the ${operation.from} it had before nor the ${operation.replicas} requested` };
    }
    if (operation.type === 'set-replica-bounds') return { status: 'diverged', detail: `${this.label} has no min/max replicas of its own` };
    if (operation.type === 'set-hpa-scale-down') {
      const read = await this.readHpa(operation.hpa);
      const policy = read.spec?.behavior?.scaleDown?.selectPolicy ?? null;
      const state = hpaTargetState(read, operation.hpa);
      if (policy === operation.selectPolicy) return { status: 'applied', state };
      if (operation.from === undefined || policy === operation.from) return { status: 'not-applied', state };
      return { status: 'diverged', detail: `HPA ${namespace}/${operation.hpa} has scale-down policy ${policy ?? 'default'}: neither ${operation.from ?? 'default'} from before nor the requested ${operation.selectPolicy ?? 'default'}` };
    }
    const hpa = await this.call(`read HPA ${namespace}/${operation.hpa}`, () => this.autoscaling.readNamespacedHorizontalPodAutoscaler({ name: operation.hpa, namespace }));
    const min = hpa.spec?.minReplicas ?? 1;
    const max = hpa.spec?.maxReplicas ?? 0;
    const state = { replicas: hpa.status?.currentReplicas ?? 0, readyReplicas: hpa.status?.currentReplicas ?? 0, hpa: { name: operation.hpa, minReplicas: min, maxReplicas: max } };
    if (min === operation.minReplicas && (operation.maxReplicas === undefined || max === operation.maxReplicas)) return { status: 'applied', state };
    if (!operation.from || (min === operation.from.minReplicas && max === operation.from.maxReplicas)) return { status: 'not-applied', state };
    return { status: 'diverged', detail: `HPA ${namespace}/${operation.hpa} has bounds ${min}..${max}: neither ${operation.from.minReplicas}..${operation.from.maxReplicas} from before nor the requested change` };
  }

  /**
   * One read-only measurement; `replicas` is the count the run is heading for. Unknown names and
   * parameters are refused (none of these probes takes parameters); a source that cannot be
   * measured (no metrics-server, no requests, no ReplicaSet) rejects with the reason.
   */
  async probe(probe: string, replicas: number, params: Record<string, unknown> = {}): Promise<ProbeResult> {
    if (!(KUBERNETES_PROBES as readonly string[]).includes(probe)) {
      throw new Error(`unknown Kubernetes probe "${probe}"; the Kubernetes target answers ${KUBERNETES_PROBES.join(', ')}`);
    }
    const given = Object.keys(params ?? {});
    if (given.length) throw new Error(`${probe} takes no parameters (given: ${given.join(', ')})`);
    switch (probe as KubernetesProbe) {
      case 'kubernetes.replicas':
        return this.probeReplicas();
      case 'kubernetes.hpa':
        return this.probeHpa(replicas);
      case 'kubernetes.pending-pods':
        return this.probePending();
      case 'kubernetes.node-capacity':
        return this.probeNodeCapacity(replicas);
      case 'kubernetes.pod-usage':
        return this.probePodUsage();
      case 'kubernetes.pdb':
        return this.probePdb(replicas);
      case 'kubernetes.recent-deploy':
        return this.probeRecentDeploy();
    }
  }

  private result(partial: Omit<ProbeResult, 'source' | 'at'>): ProbeResult {
    return { ...partial, source: this.source, at: this.clock.now() };
  }

  private async probeReplicas(): Promise<ProbeResult> {
    const d = await this.readDeployment();
    const spec = d.spec?.replicas ?? 1;
    const ready = d.status?.readyReplicas ?? 0;
    const updated = d.status?.updatedReplicas ?? 0;
    const available = d.status?.availableReplicas ?? 0;
    return this.result({
      ok: ready === spec,
      value: ready,
      threshold: spec,
      values: { replicas: spec, ready, updated, available },
      summary: `${ready}/${spec} ready (updated ${updated}, available ${available})`,
    });
  }

  private async probeHpa(replicas: number): Promise<ProbeResult> {
    const hpa = await this.findHpa();
    if (!hpa?.spec) return this.result({ ok: true, value: 'none', values: { present: 0 }, summary: 'no HPA targets this Deployment; its scale subresource will be set' });
    const min = hpa.spec.minReplicas ?? 1;
    const max = hpa.spec.maxReplicas;
    return this.result({
      ok: true,
      value: `${min}..${max}`,
      values: { present: 1, min, max, current: hpa.status?.currentReplicas ?? 0, desired: hpa.status?.desiredReplicas ?? 0 },
      summary: `HPA ${hpa.metadata?.name} (${min}..${max}, now ${hpa.status?.currentReplicas ?? '?'}) manages this Deployment: its minReplicas will be raised to ${replicas} instead of scaling the Deployment`,
    });
  }

  private async pendingPods(deployment?: k8s.V1Deployment): Promise<k8s.V1Pod[]> {
    return this.podsOf(deployment ?? (await this.readDeployment()), 'Pending pods', 'status.phase=Pending');
  }

  private async probePending(): Promise<ProbeResult> {
    const pending = await this.pendingPods();
    return this.result({
      ok: pending.length === 0,
      value: pending.length,
      threshold: 0,
      values: { pending: pending.length },
      summary: pending.length ? `${pending.length} pod${pending.length > 1 ? 's' : ''} Pending` : 'no Pending pods',
      details: pending.slice(0, 5).map(pendingLine),
    });
  }

  private async probeNodeCapacity(replicas: number): Promise<ProbeResult> {
    const deployment = await this.readDeployment();
    const current = deployment.spec?.replicas ?? 1;
    const extra = Math.max(0, replicas - current);
    const perPod = podRequests(deployment.spec?.template.spec);
    const [nodes, pods] = await Promise.all([
      this.call('list nodes', () => this.core.listNode()),
      this.call('list scheduled pods', () => this.core.listPodForAllNamespaces({ fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed' })),
    ]);
    const rooms: NodeRoom[] = nodes.items
      .filter((n) => !n.spec?.unschedulable && n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') !== false)
      .map((n) => {
        const onNode = pods.items.filter((p) => p.spec?.nodeName === n.metadata?.name);
        const requested = onNode.reduce(
          (sum, p) => {
            const r = podRequests(p.spec);
            return { cpu: sum.cpu + r.cpu, memory: sum.memory + r.memory, pods: sum.pods + 1 };
          },
          { cpu: 0, memory: 0, pods: 0 },
        );
        const alloc = n.status?.allocatable ?? {};
        return {
          name: n.metadata?.name ?? '?',
          allocatable: { cpu: parseQuantity(alloc.cpu), memory: parseQuantity(alloc.memory), pods: parseQuantity(alloc.pods ?? '110') },
          requested,
        };
      });
    const fit = podsThatFit(rooms, perPod);
    const room = `${fit.fits} more pod${fit.fits === 1 ? '' : 's'} fit on ${rooms.length} node${rooms.length === 1 ? '' : 's'}`;
    const each = `(each requests ${formatCpu(perPod.cpu)} CPU, ${formatBytes(perPod.memory)} memory)`;
    return this.result({
      ok: fit.fits >= extra,
      value: fit.fits,
      threshold: extra,
      values: { fits: fit.fits, needed: extra },
      summary: extra === 0
        ? `no extra pods needed (${current} → ${replicas}); ${room} ${each}`
        : `${fit.fits >= extra ? '' : 'not enough room: '}${room}, ${extra} needed ${each}`,
      details: fit.perNode.map((n) => n.line),
    });
  }

  /** The Deployment's pods (label selector of the Deployment), by phase when given. */
  private async podsOf(d: k8s.V1Deployment, what: string, fieldSelector?: string): Promise<k8s.V1Pod[]> {
    const list = await this.call(`list ${what} of ${this.label}`, () =>
      this.core.listNamespacedPod({ namespace: this.config.namespace, labelSelector: selectorString(d.spec?.selector), ...(fieldSelector ? { fieldSelector } : {}) }),
    );
    return list.items;
  }

  /**
   * CPU and memory per pod from metrics-server as a share of the pod's requests. No verdict: the
   * runbook's `pass` decides ("cpu_max_pct < 60").
   */
  private async probePodUsage(): Promise<ProbeResult> {
    const d = await this.readDeployment();
    const labelSelector = selectorString(d.spec?.selector);
    const [pods, metrics] = await Promise.all([
      this.podsOf(d, 'Running pods', 'status.phase=Running'),
      this.call(`read pod metrics of ${this.label}`, () =>
        this.custom.listNamespacedCustomObject({ ...METRICS, namespace: this.config.namespace, plural: 'pods', labelSelector }) as Promise<{ items?: PodMetric[] }>,
        { unserved: [404, 503] },
      ).catch((error: unknown) => {
        if (!(error instanceof UnservedError)) throw error;
        const why = error.code === 404
          ? 'the API group is not served: metrics-server is not installed'
          : 'the API group does not answer (503): metrics-server is registered but not running';
        throw new Error(`metrics-server is not available (${METRICS.group}/${METRICS.version}: ${why}), so pod CPU and memory cannot be measured`);
      }),
    ]);
    if (pods.length === 0) throw new Error(`${this.label} has no Running pods to measure`);
    const usage = podUsage(pods, metrics.items ?? []);
    const notes = [
      ...(usage.noCpuRequest.length ? [`no CPU request, left out of the CPU share: container ${usage.noCpuRequest.join(', ')}`] : []),
      ...(usage.noMemoryRequest.length ? [`no memory request, left out of the memory share: container ${usage.noMemoryRequest.join(', ')}`] : []),
      ...(usage.withoutMetrics.length ? [`no metrics yet for ${usage.withoutMetrics.length} pod${usage.withoutMetrics.length === 1 ? '' : 's'}: ${usage.withoutMetrics.slice(0, 5).join(', ')}`] : []),
    ];
    if (!usage.cpu && !usage.memory) {
      const reason = usage.pods.length === 0 && usage.withoutMetrics.length === pods.length
        ? `metrics-server has no usage for any of its ${pods.length} Running pods yet`
        : 'none of its containers requests CPU or memory, so usage cannot be a share of requests (set resources.requests)';
      throw new Error(`cannot measure ${this.label}: ${reason}`);
    }
    const values: Record<string, number> = { pods: usage.pods.length };
    const parts: string[] = [];
    if (usage.cpu) {
      values.cpu_avg_pct = usage.cpu.avg;
      values.cpu_max_pct = usage.cpu.max;
      parts.push(`CPU avg ${usage.cpu.avg}%, max ${usage.cpu.max}%`);
    } else {
      parts.push('CPU not requested');
    }
    if (usage.memory) {
      values.memory_avg_pct = usage.memory.avg;
      values.memory_max_pct = usage.memory.max;
      parts.push(`memory avg ${usage.memory.avg}%, max ${usage.memory.max}%`);
    } else {
      parts.push('memory not requested');
    }
    return this.result({
      ok: true,
      value: usage.cpu?.max ?? usage.memory?.max,
      values,
      summary: `${usage.pods.length} pod${usage.pods.length === 1 ? '' : 's'}: ${parts.join('; ')} of requests`,
      details: [...usage.pods.slice(0, 5).map(shareLine), ...(usage.pods.length > 5 ? [`… and ${usage.pods.length - 5} more pods`] : []), ...notes],
    });
  }

  /**
   * The PodDisruptionBudget(s) whose selector matches the Deployment's pod template, resolved to
   * numbers at the current replica count. With several, the one with the highest floor counts.
   * No verdict: the runbook compares ("replicas >= min_available").
   */
  private async probePdb(replicas: number): Promise<ProbeResult> {
    const { namespace } = this.config;
    const [d, list] = await Promise.all([
      this.readDeployment(),
      this.call(`list PodDisruptionBudgets in ${namespace}`, () => this.policy.listNamespacedPodDisruptionBudget({ namespace })),
    ]);
    const labels = d.spec?.template.metadata?.labels ?? {};
    const current = d.spec?.replicas ?? 1;
    const pdbs = list.items.filter((p) => selectorMatches(p.spec?.selector, labels));
    if (pdbs.length === 0) {
      return this.result({ ok: true, value: 'none', values: { present: 0, min_available: 0 }, summary: 'no PodDisruptionBudget covers these pods: no floor for voluntary disruptions' });
    }
    const ranked = pdbs.map((pdb) => ({ pdb, floor: floorOf(pdb, current), atTarget: floorOf(pdb, replicas) }))
      .sort((a, b) => b.floor.minAvailable - a.floor.minAvailable || a.floor.name.localeCompare(b.floor.name));
    const { pdb, floor, atTarget } = ranked[0]!;
    const status = pdb.status;
    const values = {
      present: 1,
      min_available: floor.minAvailable,
      max_unavailable: floor.maxUnavailable,
      current_healthy: status?.currentHealthy ?? 0,
      desired_healthy: status?.desiredHealthy ?? 0,
      disruptions_allowed: status?.disruptionsAllowed ?? 0,
    };
    const percent = /%/.test(floor.rule);
    const target = replicas === current ? '' : replicas < atTarget.minAvailable
      ? `; ${replicas} replica${replicas === 1 ? '' : 's'} would be below its minimum of ${atTarget.minAvailable}`
      : `; at ${replicas} replicas it asks for ${atTarget.minAvailable} available`;
    return this.result({
      ok: true,
      value: floor.minAvailable,
      values,
      summary: `PDB ${floor.name} (${floor.rule}${percent ? ` = ${floor.minAvailable} of ${current}` : ''}): min ${floor.minAvailable} available, ${values.current_healthy} healthy, ${values.disruptions_allowed} disruption${values.disruptions_allowed === 1 ? '' : 's'} allowed${target}`,
      details: [
        ...ranked.map(({ floor: f, pdb: p }) => `${f.name}: ${f.rule} → at ${current} replicas min ${f.minAvailable} available, max ${f.maxUnavailable} unavailable; status ${p.status?.currentHealthy ?? 0} healthy of ${p.status?.expectedPods ?? 0} expected, ${p.status?.desiredHealthy ?? 0} desired`),
        ...(pdbs.length > 1 ? [`${pdbs.length} PodDisruptionBudgets select these pods: Kubernetes refuses to evict a pod covered by more than one`] : []),
        'A PDB limits evictions (node drains); scaling down deletes pods directly and is not stopped by it.',
      ],
    });
  }

  /**
   * When the pod template last changed: the newest ReplicaSet of the Deployment (by revision).
   * A rollback reuses an old ReplicaSet; then its oldest pod tells when the rollback started.
   * No verdict: the runbook compares ("minutes_since > 30").
   */
  private async probeRecentDeploy(): Promise<ProbeResult> {
    const { namespace } = this.config;
    const d = await this.readDeployment();
    const list = await this.call(`list ReplicaSets of ${this.label}`, () => this.apps.listNamespacedReplicaSet({ namespace, labelSelector: selectorString(d.spec?.selector) }));
    const revisionOf = (rs: k8s.V1ReplicaSet) => Number(rs.metadata?.annotations?.[REVISION] ?? NaN);
    const owned = list.items
      .filter((rs) => rs.metadata?.ownerReferences?.some((o) => o.controller && o.uid === d.metadata?.uid) && Number.isFinite(revisionOf(rs)))
      .sort((a, b) => revisionOf(b) - revisionOf(a));
    const newest = owned[0];
    if (!newest?.metadata?.creationTimestamp) throw new Error(`no ReplicaSet of ${this.label} carries a revision, so its last rollout cannot be dated`);
    const revision = revisionOf(newest);
    const name = newest.metadata.name ?? '?';
    let since = newest.metadata.creationTimestamp.getTime();
    const details: string[] = [];
    const history = newest.metadata.annotations?.[REVISION_HISTORY];
    if (history) {
      // Reused by a rollback: its creation time is that of the first rollout of this template.
      const hash = newest.metadata.labels?.['pod-template-hash'];
      const pods = hash ? await this.podsOf(d, 'pods of the current ReplicaSet').then((ps) => ps.filter((p) => p.metadata?.labels?.['pod-template-hash'] === hash)) : [];
      const started = pods.map((p) => p.metadata?.creationTimestamp?.getTime() ?? Infinity).reduce((a, b) => Math.min(a, b), Infinity);
      details.push(`ReplicaSet ${name} was rolled out again (earlier as revision ${history}); created ${ago(this.clock.now() - since)}, dated by its oldest pod instead`);
      if (Number.isFinite(started)) since = started;
    }
    const ms = Math.max(0, this.clock.now() - since);
    const spec = d.spec?.replicas ?? 1;
    const updated = d.status?.updatedReplicas ?? 0;
    // A rollout (not a mere scale change): the controller has not seen the change yet, or older ReplicaSets still run pods.
    const inProgress = (d.status?.observedGeneration ?? 0) < (d.metadata?.generation ?? 0) || owned.slice(1).some((rs) => (rs.status?.replicas ?? 0) > 0);
    details.unshift(`revision ${revision}: ReplicaSet ${name}, ${new Date(since).toISOString()}`);
    const previous = owned[1];
    if (previous?.metadata?.creationTimestamp) details.push(`before it: revision ${revisionOf(previous)} (ReplicaSet ${previous.metadata.name}), created ${ago(this.clock.now() - previous.metadata.creationTimestamp.getTime())}`);
    return this.result({
      ok: true,
      value: Math.floor(ms / 60_000),
      values: { minutes_since: Math.floor(ms / 60_000), revision },
      summary: `last rollout ${ago(ms)} (revision ${revision})${inProgress ? `, still rolling out (${updated}/${spec} updated)` : ''}`,
      details,
    });
  }

  /**
   * Follows the Deployment with a watch (re-watching when the server ends it) until the rollout
   * matches: observedGeneration current, readyReplicas as expected, no Pending pods.
   */
  async waitForRollout(expect: RolloutExpectation, deadline: number, signal: AbortSignal): Promise<{ passed: boolean; result: ProbeResult }> {
    const startedAt = this.clock.now();
    const { namespace, deployment: name } = this.config;
    const watch = new k8s.Watch(this.kc);
    return new Promise((resolve) => {
      let settled = false;
      let watchAbort: AbortController | undefined;
      let checking = false;
      let recheck = false;
      let lastResourceVersion: string | undefined;
      let latest: k8s.V1Deployment | undefined;
      let recheckTimer: NodeJS.Timeout | undefined;

      const finish = (passed: boolean, result: ProbeResult) => {
        if (settled) return;
        settled = true;
        cancelDeadline();
        if (recheckTimer) clearTimeout(recheckTimer);
        watchAbort?.abort();
        signal.removeEventListener('abort', onAbort);
        resolve({ passed, result });
      };

      const evaluate = async (d: k8s.V1Deployment) => {
        latest = d;
        if (checking) {
          recheck = true;
          return;
        }
        checking = true;
        try {
          do {
            recheck = false;
            const current = latest!;
            if (!rolledOut(current, expect)) continue;
            const pending = await this.pendingPods(current).catch(() => undefined);
            if (!pending || pending.length > 0) {
              // Pending pods clear (or the API answers again) without a Deployment event: look again.
              if (!recheckTimer) recheckTimer = setTimeout(() => { recheckTimer = undefined; if (!settled && latest) void evaluate(latest); }, RECHECK_MS);
              continue;
            }
            if (pending.length === 0) {
              const ready = current.status?.readyReplicas ?? 0;
              finish(true, this.result({
                ok: true,
                value: ready,
                threshold: expect.replicas,
                summary: `${ready}/${expect.atLeast ? `≥${expect.replicas}` : expect.replicas} ready, generation ${current.metadata?.generation} observed, no Pending pods, after ${formatDuration(this.clock.now() - startedAt)}`,
              }));
              return;
            }
          } while (recheck && !settled);
        } finally {
          checking = false;
        }
      };

      const onTimeout = async () => {
        if (settled) return;
        watchAbort?.abort();
        // Diagnose with what answers quickly; a silent API server must not hold the run past its deadline.
        const d = await withTimeout(this.readDeployment(), DIAGNOSE_TIMEOUT_MS, 'timeout').catch(() => latest);
        const pending = d ? await withTimeout(this.pendingPods(d), DIAGNOSE_TIMEOUT_MS, 'timeout').catch(() => undefined) : undefined;
        const ready = d?.status?.readyReplicas ?? 0;
        const observed = d?.status?.observedGeneration ?? 0;
        const generation = d?.metadata?.generation ?? 0;
        finish(false, this.result({
          ok: false,
          value: ready,
          threshold: expect.replicas,
          summary: `stuck after ${formatDuration(this.clock.now() - startedAt)}: ${d ? `${ready}/${expect.atLeast ? `≥${expect.replicas}` : expect.replicas} ready` : 'the Deployment could not be read'}${observed < generation ? `, generation ${generation} not yet observed` : ''}, ${pending ? `${pending.length} Pending` : 'Pending pods unknown (the pod list did not answer)'}`,
          details: (pending ?? []).slice(0, 5).map(pendingLine),
        }));
      };

      const onAbort = () => finish(false, this.result({ ok: undefined, summary: 'verification stopped (the bot is shutting down)' }));
      signal.addEventListener('abort', onAbort);
      const cancelDeadline = this.clock.at(deadline, () => void onTimeout());

      const startWatch = async () => {
        if (settled) return;
        const query: Record<string, string> = { fieldSelector: `metadata.name=${name}`, allowWatchBookmarks: 'true' };
        if (lastResourceVersion) query.resourceVersion = lastResourceVersion;
        try {
          watchAbort = await watch.watch(
            `/apis/apps/v1/namespaces/${namespace}/deployments`,
            query,
            (phase, obj: k8s.V1Deployment) => {
              if (obj?.metadata?.resourceVersion) lastResourceVersion = obj.metadata.resourceVersion;
              if (phase === 'ADDED' || phase === 'MODIFIED') void evaluate(obj);
            },
            (err: unknown) => {
              if (settled) return;
              // A watch ends on inactivity or a server restart: re-read and watch again.
              if (err && String((err as { statusCode?: number }).statusCode ?? '').startsWith('410')) lastResourceVersion = undefined;
              setTimeout(() => void resync(), err ? 250 : 0).unref();
            },
          );
          if (settled) watchAbort.abort();
        } catch {
          if (!settled) setTimeout(() => void resync(), 500).unref();
        }
      };

      const resync = async () => {
        if (settled) return;
        try {
          const d = await this.readDeployment();
          lastResourceVersion = d.metadata?.resourceVersion;
          await evaluate(d);
        } catch {
          // keep watching; the deadline reports what is stuck
        }
        await startWatch();
      };

      void resync();
    });
  }
}

/** A resourceVersion precondition failed: someone wrote in between. */
class ConflictError extends Error {}

/** The API answered that it does not serve this (see `call`'s `unserved`). */
class UnservedError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

/** A label selector as the `labelSelector` query parameter (matchLabels and matchExpressions). */
export function selectorString(selector: k8s.V1LabelSelector | undefined): string {
  const terms = Object.entries(selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of selector?.matchExpressions ?? []) {
    const values = (e.values ?? []).join(',');
    if (e.operator === 'In') terms.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') terms.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') terms.push(e.key);
    else if (e.operator === 'DoesNotExist') terms.push(`!${e.key}`);
  }
  return terms.join(',');
}

/** "3 min ago", "5 h ago", "2 days ago": whole units, rounded down. */
function ago(ms: number): string {
  const minutes = Math.floor(Math.max(0, ms) / 60_000);
  if (minutes < 120) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} days ago`;
}

function scaleDownPatchBody(selectPolicy: string | null): { spec: { behavior: { scaleDown: { selectPolicy: string | null } } } } {
  return { spec: { behavior: { scaleDown: { selectPolicy } } } };
}

function hpaTargetState(hpa: Hpa, name: string): TargetState {
  const current = hpa.status?.currentReplicas ?? 0;
  return {
    replicas: current,
    readyReplicas: current,
    hpa: { name, minReplicas: hpa.spec?.minReplicas ?? 1, maxReplicas: hpa.spec?.maxReplicas ?? 0, scaleDownDisabled: hpa.spec?.behavior?.scaleDown?.selectPolicy === 'Disabled' },
  };
}

function hpaPatchBody(op: Extract<TargetOperation, { type: 'set-hpa-bounds' }>): { spec: { minReplicas: number; maxReplicas?: number } } {
  return { spec: { minReplicas: op.minReplicas, ...(op.maxReplicas !== undefined ? { maxReplicas: op.maxReplicas } : {}) } };
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}

function rolledOut(d: k8s.V1Deployment, expect: RolloutExpectation): boolean {
  const generation = d.metadata?.generation ?? 0;
  const observed = d.status?.observedGeneration ?? 0;
  const ready = d.status?.readyReplicas ?? 0;
  const total = d.status?.replicas ?? 0;
  if (observed < generation) return false;
  if (expect.atLeast) return ready >= expect.replicas && ready === (d.spec?.replicas ?? 0);
  return ready === expect.replicas && total === expect.replicas && (d.spec?.replicas ?? 0) === expect.replicas;
}

function podRequests(spec: k8s.V1PodSpec | undefined): { cpu: number; memory: number } {
  let cpu = 0;
  let memory = 0;
  for (const c of spec?.containers ?? []) {
    cpu += parseQuantity(c.resources?.requests?.cpu);
    memory += parseQuantity(c.resources?.requests?.memory);
  }
  return { cpu, memory };
}

function pendingLine(pod: k8s.V1Pod): string {
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  const why = scheduled?.status === 'False' ? `${scheduled.reason ?? 'Unschedulable'}: ${scheduled.message ?? 'no message'}` : 'waiting to start';
  return `${pod.metadata?.name}: ${why}`;
}
