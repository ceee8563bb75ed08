/**
 * Wire (JSON) shapes of the objects the simulated cluster stores and serves.
 *
 * These mirror the Kubernetes API's JSON, not the @kubernetes/client-node classes (which use
 * `Date` for timestamps): they are what goes over the wire. Only the fields the simulation uses
 * are typed; objects may carry any further fields a client patched in, and those are preserved.
 */

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid: string;
  resourceVersion: string;
  generation?: number;
  creationTimestamp: string;
  generateName?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** metav1.LabelSelector: `matchLabels` and `matchExpressions` are ANDed; `{}` selects everything. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
}

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  lastUpdateTime?: string;
  lastProbeTime?: string | null;
  lastHeartbeatTime?: string;
}

export interface ResourceList {
  cpu?: string;
  memory?: string;
  pods?: string;
}

export interface Container {
  name: string;
  image: string;
  resources?: { requests?: ResourceList; limits?: ResourceList };
}

export interface PodSpec {
  containers: Container[];
  nodeName?: string;
  restartPolicy?: string;
  schedulerName?: string;
  terminationGracePeriodSeconds?: number;
}

export interface PodTemplateSpec {
  metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
  spec: PodSpec;
}

export interface DeploymentSpec {
  replicas: number;
  selector: { matchLabels: Record<string, string> };
  template: PodTemplateSpec;
  strategy: {
    type: 'RollingUpdate' | 'Recreate';
    rollingUpdate?: { maxSurge?: string | number; maxUnavailable?: string | number };
  };
  revisionHistoryLimit?: number;
  progressDeadlineSeconds?: number;
  minReadySeconds?: number;
  paused?: boolean;
}

/** Real API server omits zero-valued counters (`omitempty`); so do we. */
export interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  unavailableReplicas?: number;
  conditions?: Condition[];
}

export interface Deployment extends KubeObject {
  spec: DeploymentSpec;
  status: DeploymentStatus;
}

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';

export interface ContainerStatus {
  name: string;
  ready: boolean;
  started: boolean;
  restartCount: number;
  image: string;
  imageID: string;
  state: { running?: { startedAt: string }; waiting?: { reason: string } };
}

export interface PodStatus {
  phase: PodPhase;
  conditions: Condition[];
  hostIP?: string;
  podIP?: string;
  startTime?: string;
  qosClass?: string;
  containerStatuses?: ContainerStatus[];
}

export interface Pod extends KubeObject {
  spec: PodSpec;
  status: PodStatus;
}

export interface NodeAddress { type: string; address: string }

export interface Node extends KubeObject {
  spec: { unschedulable?: boolean; podCIDR?: string };
  status: {
    capacity: Required<ResourceList>;
    allocatable: Required<ResourceList>;
    conditions: Condition[];
    addresses: NodeAddress[];
    nodeInfo: { kubeletVersion: string; osImage: string; architecture: string; operatingSystem: string };
  };
}

export interface CrossVersionObjectReference { apiVersion: string; kind: string; name: string }

export interface HorizontalPodAutoscaler extends KubeObject {
  spec: {
    scaleTargetRef: CrossVersionObjectReference;
    minReplicas: number;
    maxReplicas: number;
    metrics?: unknown[];
    behavior?: unknown;
  };
  status: {
    observedGeneration?: number;
    lastScaleTime?: string;
    currentReplicas?: number;
    desiredReplicas: number;
    currentMetrics?: unknown[];
    conditions?: Condition[];
  };
}

/**
 * apps/v1 ReplicaSet, owned by a Deployment (one per pod template, named `<deployment>-<hash>`).
 * `status.replicas` is always sent; the other counters are `omitempty`.
 */
export interface ReplicaSet extends KubeObject {
  spec: { replicas: number; selector: { matchLabels: Record<string, string> }; template: PodTemplateSpec };
  status: { replicas: number; fullyLabeledReplicas?: number; readyReplicas?: number; availableReplicas?: number; observedGeneration?: number };
}

/** policy/v1 PodDisruptionBudget. The four status counters are always sent (no `omitempty`). */
export interface PodDisruptionBudget extends KubeObject {
  spec: {
    minAvailable?: number | string;
    maxUnavailable?: number | string;
    /** Absent selects no pods; `{}` selects every pod in the namespace (policy/v1). */
    selector?: LabelSelector;
    unhealthyPodEvictionPolicy?: string;
  };
  status: {
    observedGeneration?: number;
    currentHealthy: number;
    desiredHealthy: number;
    disruptionsAllowed: number;
    expectedPods: number;
    conditions?: Condition[];
  };
}

/** autoscaling/v1 Scale, the `/scale` subresource view of a Deployment. */
export interface Scale extends KubeObject {
  spec: { replicas?: number };
  status: { replicas: number; selector: string };
}

/** One request as seen by the server (see `KubeApiServer.requests`). */
export interface RecordedRequest {
  method: string;
  /** URL path without the query string, e.g. `/apis/apps/v1/namespaces/prod/deployments/web/scale`. */
  path: string;
  query: Record<string, string>;
  contentType?: string;
  /** Parsed JSON body, or the raw string when it is not JSON; absent when there is no body. */
  body?: unknown;
  /** `Date.now()` when the request arrived. */
  at: number;
}
