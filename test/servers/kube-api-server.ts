/**
 * A simulated Kubernetes API server for end-to-end tests (and as a "simulated cluster").
 *
 * It speaks enough of the real wire protocol that the official `@kubernetes/client-node` SDK works
 * against it unchanged: JSON bodies, `Status` errors, resourceVersions, label/field selectors,
 * merge / strategic-merge / JSON patches, the `/scale` subresource and chunked watch streams.
 * Behind the API run small simulations of the scheduler, kubelet, deployment controller (with its
 * ReplicaSets), HPA controller and disruption controller (PodDisruptionBudget status), see
 * ./kube/cluster.ts, stepped every `tickMs`; metrics.k8s.io serves settable pod usage, or is
 * switched off like a cluster without metrics-server.
 *
 * Usage:
 *   const server = await startKubeApiServer({ tickMs: 20 });
 *   server.addNode({ name: 'node-1', cpu: '4', memory: '16Gi' });
 *   server.addDeployment({ namespace: 'prod', name: 'web', replicas: 3 });
 *   const kc = new k8s.KubeConfig(); kc.loadFromFile(server.kubeconfigPath);
 *   ...
 *   await server.close();
 *
 * Module layout: kube/store.ts (objects, resourceVersions, event log), kube/cluster.ts
 * (controllers), kube/http.ts (REST + watch), kube/patch.ts, kube/selectors.ts,
 * kube/quantity.ts, kube/validate.ts, kube/errors.ts, kube/types.ts.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { SimulatedCluster, type DeploymentSeed, type HpaSeed, type MetricsServerState, type NodeSeed, type PdbSeed, type UsageOverride } from './kube/cluster.ts';
import { createRequestListener, type FailRule, type Hold, type HoldRule, type HttpContext } from './kube/http.ts';
import type { Deployment, HorizontalPodAutoscaler, Node, Pod, PodDisruptionBudget, RecordedRequest, ReplicaSet } from './kube/types.ts';

export type { DeploymentSeed, HpaSeed, NodeSeed, PdbSeed, PodMetrics, NodeMetrics, MetricsServerState, UsageOverride } from './kube/cluster.ts';
export type { FailRule, HoldRule, Hold } from './kube/http.ts';
export type {
  Condition, Deployment, DeploymentSpec, DeploymentStatus, HorizontalPodAutoscaler, KubeObject, LabelSelector, Node, ObjectMeta, OwnerReference, Pod,
  PodDisruptionBudget, PodPhase, RecordedRequest, ReplicaSet, Scale,
} from './kube/types.ts';
export { parseQuantity, formatQuantity, formatCpu, formatMemory, cpuToMillis, quantityToInt, canonicalQuantity, isQuantity } from './kube/quantity.ts';
export type { QuantityFormat } from './kube/quantity.ts';
export { statusBody, type StatusBody } from './kube/errors.ts';

export interface KubeApiServerOptions {
  /** Interval of one controller step (pod create/delete, scheduling, readiness); default 50 ms. */
  tickMs?: number;
  /** Port to listen on (127.0.0.1); default 0 = any free port. */
  port?: number;
}

export interface KubeApiServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** kubeconfig file (temp dir, removed by close()): cluster server = url, user token "test-token", context "test". */
  kubeconfigPath: string;
  /** Every request received, in arrival order (live array; truncate with `requests.length = 0`). */
  requests: RecordedRequest[];

  /** Add a Ready node with the given allocatable (= capacity) resources; `pods` defaults to 110. */
  addNode(n: NodeSeed): void;
  /**
   * Create a Deployment whose `replicas` pods already exist, scheduled and Ready where nodes have
   * room (add nodes first), and its revision-1 ReplicaSet. Selector `matchLabels` = `labels`
   * (default `{app: name}`); each pod's main container requests `cpuRequest` (default "100m") and
   * `memoryRequest` (default "128Mi"), `null` for none; `sidecars` add containers.
   */
  addDeployment(d: DeploymentSeed): void;
  /** Create an autoscaling/v2 HPA targeting Deployment `target` in the same namespace. */
  addHpa(h: HpaSeed): void;
  /** Create a policy/v1 PodDisruptionBudget (selector default `{matchLabels: {app: name}}`); its status is kept by the simulated disruption controller. */
  addPdb(p: PdbSeed): void;
  getDeployment(ns: string, name: string): Deployment | undefined;
  getHpa(ns: string, name: string): HorizontalPodAutoscaler | undefined;
  getPdb(ns: string, name: string): PodDisruptionBudget | undefined;
  /** ReplicaSets of one namespace (or all), as the deployment controller keeps them. */
  replicaSets(ns?: string): ReplicaSet[];
  /** Pods of one namespace, or of all namespaces. */
  pods(ns?: string): Pod[];
  nodes(): Node[];
  /** CPU usage reported by metrics.k8s.io for every Running pod of the Deployment (default: 10% of its request). */
  setPodCpuUsage(ns: string, deploymentName: string, cpu: string): void;
  /** Memory usage reported by metrics.k8s.io for every Running pod of the Deployment (default: 50% of its request). */
  setPodMemoryUsage(ns: string, deploymentName: string, memory: string): void;
  /** Usage of one pod's first container, or of its container `container`; wins over the per-Deployment settings. */
  setPodUsage(ns: string, pod: string, usage: UsageOverride, container?: string): void;
  /**
   * 'available' (default); 'absent': metrics.k8s.io is not served (404, missing from discovery),
   * like a cluster without metrics-server; 'unavailable': 503, like a metrics-server that is down.
   */
  setMetricsServer(state: MetricsServerState): void;

  /** While on, pending pods are not scheduled: `PodScheduled=False, reason=Unschedulable, "0/N nodes are available: N Insufficient cpu."`. */
  stallScheduling(on: boolean): void;
  /** Answer the next `times` (default 1) requests matching `method` (any if omitted) and `path` with a Status error. */
  failNext(rule: FailRule): void;
  /** Holds the next matching request (see HoldRule) so a test can kill the client at that moment. */
  holdNext(rule: HoldRule): Hold;
  /**
   * Move the cluster's clock forward by `ms`, as if that much time had passed: what is created or
   * changes afterwards carries later timestamps (creationTimestamp, conditions), and progress
   * deadlines count it. Earlier objects keep theirs, so they look that much older.
   */
  advanceClock(ms: number): void;
  /** Run one controller step now (in addition to the timer). */
  tick(): void;
  /** Stop the controllers, end watch streams, close all connections and remove the kubeconfig. */
  close(): Promise<void>;
}

function kubeconfigYaml(url: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: test',
    '  cluster:',
    `    server: ${JSON.stringify(url)}`,
    // client-node refuses plain-http clusters unless TLS verification is explicitly skipped.
    '    insecure-skip-tls-verify: true',
    'users:',
    '- name: test',
    '  user:',
    '    token: "test-token"',
    'contexts:',
    '- name: test',
    '  context:',
    '    cluster: test',
    '    user: test',
    '    namespace: default',
    'current-context: test',
    '',
  ].join('\n');
}

export async function startKubeApiServer(opts: KubeApiServerOptions = {}): Promise<KubeApiServer> {
  const tickMs = opts.tickMs ?? 50;
  const cluster = new SimulatedCluster();
  const ctx: HttpContext = { cluster, requests: [], failRules: [], holds: [], watches: new Set<ServerResponse>() };
  const heldReleases: (() => void)[] = [];
  const server: Server = createServer(createRequestListener(ctx));
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const dir = await mkdtemp(join(tmpdir(), 'kube-api-server-'));
  const kubeconfigPath = join(dir, 'kubeconfig.yaml');
  await writeFile(kubeconfigPath, kubeconfigYaml(url), 'utf8');

  const tick = (): void => {
    try {
      cluster.tick();
    } catch (err) {
      // A controller bug must not take the server (or the test process) down.
      process.emitWarning(`kube-api-server tick failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
  };
  const timer = setInterval(tick, tickMs);
  timer.unref();

  let closed: Promise<void> | undefined;
  return {
    url,
    kubeconfigPath,
    requests: ctx.requests,
    addNode: (n) => { cluster.addNode(n); },
    addDeployment: (d) => { cluster.addDeployment(d); },
    addHpa: (h) => { cluster.addHpa(h); },
    addPdb: (p) => { cluster.addPdb(p); },
    getDeployment: (ns, name) => cluster.deployments.get(ns, name),
    getHpa: (ns, name) => cluster.hpas.get(ns, name),
    getPdb: (ns, name) => cluster.pdbs.get(ns, name),
    replicaSets: (ns) => cluster.replicaSets.list(ns),
    pods: (ns) => cluster.pods.list(ns),
    nodes: () => cluster.nodes.list(),
    setPodCpuUsage: (ns, name, cpu) => cluster.setPodCpuUsage(ns, name, cpu),
    setPodMemoryUsage: (ns, name, memory) => cluster.setPodMemoryUsage(ns, name, memory),
    setPodUsage: (ns, pod, usage, container) => cluster.setPodUsage(ns, pod, usage, container),
    setMetricsServer: (state) => { cluster.metricsServer = state; },
    stallScheduling: (on) => cluster.setStallScheduling(on),
    advanceClock: (ms) => cluster.advanceClock(ms),
    failNext: (rule) => {
      ctx.failRules.push({ rule, remaining: rule.times ?? 1 });
    },
    holdNext: (rule) => {
      let caught!: () => void;
      let release!: () => void;
      const caughtPromise = new Promise<void>((resolve) => (caught = resolve));
      const released = new Promise<void>((resolve) => (release = resolve));
      ctx.holds.push({ rule, caught, released });
      heldReleases.push(release);
      return { caught: caughtPromise, release };
    },
    tick,
    close: () => {
      closed ??= (async () => {
        clearInterval(timer);
        for (const release of heldReleases) release();
        for (const res of ctx.watches) res.end();
        ctx.watches.clear();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
          // Give in-flight responses (and just-ended watch streams) a moment to flush, then cut.
          setTimeout(() => server.closeAllConnections(), 50).unref();
        });
        await rm(dir, { recursive: true, force: true });
      })();
      return closed;
    },
  };
}
