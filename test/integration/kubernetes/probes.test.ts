/**
 * The Kubernetes target's read-only probes, driven through the real adapter (KubernetesTarget and
 * @kubernetes/client-node) against the simulated API server: the values a runbook's expressions
 * read, the one-line summaries, and the reasons a probe cannot measure.
 */
import * as k8s from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { KubernetesTarget } from '../../../src/adapters/kubernetes/kubernetes-target.ts';
import { systemClock, type Clock } from '../../../src/ports/clock.port.ts';
import { startKubeApiServer, type DeploymentSeed, type KubeApiServer } from '../../servers/kube-api-server.ts';

const NS = 'prod';
const servers: KubeApiServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function setup(seed: Partial<DeploymentSeed> = {}) {
  const server = await startKubeApiServer({ tickMs: 10 });
  servers.push(server);
  server.addNode({ name: 'node-1', cpu: '8', memory: '32Gi' });
  server.addDeployment({ namespace: NS, name: 'web', replicas: 3, cpuRequest: '250m', memoryRequest: '256Mi', ...seed });
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(server.kubeconfigPath);
  // One clock for the cluster and the bot: `pass(ms)` moves both, as if that much time went by.
  let offset = 0;
  const clock: Clock = { now: () => Date.now() + offset, at: (at, fn) => systemClock.at(at - offset, fn) };
  const pass = (ms: number) => {
    server.advanceClock(ms);
    offset += ms;
  };
  const target = new KubernetesTarget(kc, { namespace: NS, deployment: 'web' }, clock);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  return { server, kc, target, apps, pass };
}

async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const webPods = (server: KubeApiServer) => server.pods(NS).filter((p) => p.metadata.labels?.app === 'web').map((p) => p.metadata.name).sort();

describe('existing probes now carry values', () => {
  it('kubernetes.replicas: spec, ready, updated, available', async () => {
    const { target } = await setup();
    const r = await target.probe('kubernetes.replicas', 5);
    expect(r).toMatchObject({ ok: true, values: { replicas: 3, ready: 3, updated: 3, available: 3 }, summary: '3/3 ready (updated 3, available 3)' });
    expect(r.source).toBe('Kubernetes API');
  });

  it('kubernetes.hpa: present 0 without one; bounds and counts with one', async () => {
    const { server, target } = await setup();
    expect(await target.probe('kubernetes.hpa', 5)).toMatchObject({ ok: true, values: { present: 0 }, summary: expect.stringContaining('no HPA') });
    server.addHpa({ namespace: NS, name: 'web', target: 'web', minReplicas: 2, maxReplicas: 8 });
    const r = await eventually(() => target.probe('kubernetes.hpa', 5), (x) => x.values?.current === 3, 'HPA status');
    expect(r.values).toEqual({ present: 1, min: 2, max: 8, current: 3, desired: 3 });
    expect(r.summary).toContain('HPA web (2..8, now 3)');
  });

  it('kubernetes.pending-pods: the count', async () => {
    const { server, target, apps } = await setup();
    expect((await target.probe('kubernetes.pending-pods', 3)).values).toEqual({ pending: 0 });
    server.stallScheduling(true);
    await apps.patchNamespacedDeploymentScale({ name: 'web', namespace: NS, body: { spec: { replicas: 5 } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    const r = await eventually(() => target.probe('kubernetes.pending-pods', 5), (x) => x.values?.pending === 2, '2 Pending');
    expect(r).toMatchObject({ ok: false, summary: '2 pods Pending' });
    expect(r.details?.[0]).toContain('Unschedulable: 0/1 nodes are available');
  });

  it('kubernetes.node-capacity: fits and needed, also when nothing is needed', async () => {
    const { target } = await setup();
    // 8 cores / 250m = 32 pods by CPU; 3 run already.
    const up = await target.probe('kubernetes.node-capacity', 10);
    expect(up).toMatchObject({ ok: true, values: { fits: 29, needed: 7 } });
    expect(up.summary).toBe('29 more pods fit on 1 node, 7 needed (each requests 250m CPU, 256Mi memory)');
    const down = await target.probe('kubernetes.node-capacity', 2);
    expect(down).toMatchObject({ ok: true, values: { fits: 29, needed: 0 } });
    expect(down.summary).toMatch(/^no extra pods needed \(3 → 2\); 29 more pods fit/);
    expect(await target.probe('kubernetes.node-capacity', 40)).toMatchObject({ ok: false, values: { fits: 29, needed: 37 }, summary: expect.stringMatching(/^not enough room: /) });
  });
});

describe('kubernetes.pod-usage', () => {
  it('gives CPU and memory per pod as a share of requests, busiest first', async () => {
    const { server, target } = await setup();
    const [a, b, c] = webPods(server);
    server.setPodUsage(NS, a!, { cpu: '100m', memory: '64Mi' }); // 40%, 25%
    server.setPodUsage(NS, b!, { cpu: '200m', memory: '128Mi' }); // 80%, 50%
    server.setPodUsage(NS, c!, { cpu: '50m', memory: '192Mi' }); // 20%, 75%
    const r = await target.probe('kubernetes.pod-usage', 3);
    expect(r.ok).toBe(true); // no verdict: the runbook's pass decides
    expect(r.values).toEqual({ pods: 3, cpu_avg_pct: 46.7, cpu_max_pct: 80, memory_avg_pct: 50, memory_max_pct: 75 });
    expect(r.summary).toBe('3 pods: CPU avg 46.7%, max 80%; memory avg 50%, max 75% of requests');
    expect(r.details).toEqual([
      `${b}: CPU 200m of 250m (80%), memory 128Mi of 256Mi (50%)`,
      `${c}: CPU 50m of 250m (20%), memory 192Mi of 256Mi (75%)`,
      `${a}: CPU 100m of 250m (40%), memory 64Mi of 256Mi (25%)`,
    ]);
    expect(r.source).toBe('Kubernetes API');
  });

  it('shows at most five pods in the details', async () => {
    const { target } = await setup({ replicas: 7 });
    const r = await target.probe('kubernetes.pod-usage', 7);
    expect(r.values?.pods).toBe(7);
    expect(r.details).toHaveLength(6);
    expect(r.details?.[5]).toBe('… and 2 more pods');
  });

  it('leaves containers without requests out of the share, and says so', async () => {
    const { server, target } = await setup({ sidecars: [{ name: 'proxy' }, { name: 'log-shipper', memoryRequest: '64Mi' }] });
    for (const pod of webPods(server)) {
      server.setPodUsage(NS, pod, { cpu: '125m', memory: '128Mi' });
      server.setPodUsage(NS, pod, { cpu: '900m', memory: '1Gi' }, 'proxy'); // would dominate if counted
      server.setPodUsage(NS, pod, { cpu: '10m', memory: '64Mi' }, 'log-shipper');
    }
    const r = await target.probe('kubernetes.pod-usage', 3);
    // CPU: only web requests it (125m of 250m). Memory: web + log-shipper (192Mi of 320Mi).
    expect(r.values).toEqual({ pods: 3, cpu_avg_pct: 50, cpu_max_pct: 50, memory_avg_pct: 60, memory_max_pct: 60 });
    expect(r.details).toContain('no CPU request, left out of the CPU share: container log-shipper, proxy');
    expect(r.details).toContain('no memory request, left out of the memory share: container proxy');
  });

  it('reports only the resource that is requested', async () => {
    const { target } = await setup({ cpuRequest: null });
    const r = await target.probe('kubernetes.pod-usage', 3);
    expect(r.values).toEqual({ pods: 3, memory_avg_pct: 50, memory_max_pct: 50 });
    expect(r.summary).toBe('3 pods: CPU not requested; memory avg 50%, max 50% of requests');
  });

  it('cannot measure when no container requests CPU or memory', async () => {
    const { target } = await setup({ cpuRequest: null, memoryRequest: null });
    await expect(target.probe('kubernetes.pod-usage', 3)).rejects.toThrow(
      'cannot measure Deployment prod/web: none of its containers requests CPU or memory, so usage cannot be a share of requests (set resources.requests)');
  });

  it('cannot measure without metrics-server (404), nor while it is down (503)', async () => {
    const { server, target } = await setup();
    server.setMetricsServer('absent');
    await expect(target.probe('kubernetes.pod-usage', 3)).rejects.toThrow(
      'metrics-server is not available (metrics.k8s.io/v1beta1: the API group is not served: metrics-server is not installed), so pod CPU and memory cannot be measured');
    expect(server.requests.filter((r) => r.path.startsWith('/apis/metrics.k8s.io/'))).toHaveLength(1); // a 404 is not retried
    server.setMetricsServer('unavailable');
    await expect(target.probe('kubernetes.pod-usage', 3)).rejects.toThrow(/^metrics-server is not available \(metrics\.k8s\.io\/v1beta1: the API group does not answer \(503\)/);
    server.setMetricsServer('available');
    expect((await target.probe('kubernetes.pod-usage', 3)).values?.pods).toBe(3);
  });

  it('cannot measure a Deployment without Running pods', async () => {
    const { target } = await setup({ replicas: 0 });
    await expect(target.probe('kubernetes.pod-usage', 2)).rejects.toThrow('Deployment prod/web has no Running pods to measure');
  });

  it('asks metrics-server for the Deployment\'s pods only', async () => {
    const { server, target } = await setup();
    server.addDeployment({ namespace: NS, name: 'other', replicas: 2 });
    await target.probe('kubernetes.pod-usage', 3);
    const metrics = server.requests.find((r) => r.path === `/apis/metrics.k8s.io/v1beta1/namespaces/${NS}/pods`);
    expect(metrics?.query.labelSelector).toBe('app=web');
  });
});

describe('kubernetes.pdb', () => {
  it('says so when no PDB covers the pods (a PDB for other pods does not count)', async () => {
    const { server, target } = await setup();
    server.addPdb({ namespace: NS, name: 'api', minAvailable: 1, selector: { matchLabels: { app: 'api' } } });
    const r = await target.probe('kubernetes.pdb', 2);
    expect(r).toMatchObject({ ok: true, values: { present: 0, min_available: 0 }, summary: 'no PodDisruptionBudget covers these pods: no floor for voluntary disruptions' });
  });

  it('resolves a minAvailable percentage against the current replicas, rounding up', async () => {
    const { server, target } = await setup({ replicas: 5 });
    server.addPdb({ namespace: NS, name: 'web', minAvailable: '50%' });
    const r = await target.probe('kubernetes.pdb', 2);
    expect(r.ok).toBe(true);
    expect(r.values).toEqual({ present: 1, min_available: 3, max_unavailable: 2, current_healthy: 5, desired_healthy: 3, disruptions_allowed: 2 });
    expect(r.summary).toBe('PDB web (minAvailable 50% = 3 of 5): min 3 available, 5 healthy, 2 disruptions allowed; at 2 replicas it asks for 1 available');
    expect(r.details).toContain('A PDB limits evictions (node drains); scaling down deletes pods directly and is not stopped by it.');
  });

  it('resolves a maxUnavailable percentage (rounding up, like the disruption controller)', async () => {
    const { server, target } = await setup({ replicas: 5 });
    server.addPdb({ namespace: NS, name: 'web', maxUnavailable: '30%' });
    const r = await target.probe('kubernetes.pdb', 5);
    expect(r.values).toEqual({ present: 1, min_available: 3, max_unavailable: 2, current_healthy: 5, desired_healthy: 3, disruptions_allowed: 2 });
    expect(r.summary).toBe('PDB web (maxUnavailable 30% = 3 of 5): min 3 available, 5 healthy, 2 disruptions allowed');
  });

  it('an integer minAvailable: says when the target goes below it', async () => {
    const { server, target } = await setup({ replicas: 5 });
    server.addPdb({ namespace: NS, name: 'web', minAvailable: 4, selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'web-canary'] }] } });
    const r = await target.probe('kubernetes.pdb', 3);
    expect(r.values).toMatchObject({ present: 1, min_available: 4, max_unavailable: 1, disruptions_allowed: 1 });
    expect(r.summary).toBe('PDB web (minAvailable 4): min 4 available, 5 healthy, 1 disruption allowed; 3 replicas would be below its minimum of 4');
  });

  it('with several PDBs, the highest floor counts and the details say evictions fail', async () => {
    const { server, target } = await setup({ replicas: 4 });
    server.addPdb({ namespace: NS, name: 'loose', minAvailable: 1, selector: { matchLabels: { app: 'web' } } });
    server.addPdb({ namespace: NS, name: 'strict', minAvailable: '75%', selector: {} }); // {} selects every pod in the namespace
    const r = await target.probe('kubernetes.pdb', 4);
    expect(r.values).toMatchObject({ present: 1, min_available: 3, max_unavailable: 1 });
    expect(r.summary).toMatch(/^PDB strict \(minAvailable 75% = 3 of 4\)/);
    expect(r.details?.[0]).toMatch(/^strict: minAvailable 75% → at 4 replicas min 3 available/);
    expect(r.details?.[1]).toMatch(/^loose: minAvailable 1 → at 4 replicas min 1 available/);
    expect(r.details).toContain('2 PodDisruptionBudgets select these pods: Kubernetes refuses to evict a pod covered by more than one');
  });
});

describe('kubernetes.recent-deploy', () => {
  const strategic = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch);
  const setImage = (apps: k8s.AppsV1Api, image: string) =>
    apps.patchNamespacedDeployment({ name: 'web', namespace: NS, body: { spec: { template: { spec: { containers: [{ name: 'web', image }] } } } } }, strategic);
  /** The controller has seen the change and replaced every pod. */
  const rolledOut = (apps: k8s.AppsV1Api, revision: string) =>
    eventually(() => apps.readNamespacedDeployment({ name: 'web', namespace: NS }), (d) =>
      d.status?.observedGeneration === d.metadata?.generation && d.metadata?.annotations?.['deployment.kubernetes.io/revision'] === revision &&
      d.status?.updatedReplicas === 3 && d.status.replicas === 3 && d.status.readyReplicas === 3, `rollout of revision ${revision}`);

  it('a Deployment just created: revision 1, 0 min ago', async () => {
    const { target } = await setup();
    const r = await target.probe('kubernetes.recent-deploy', 2);
    expect(r).toMatchObject({ ok: true, values: { minutes_since: 0, revision: 1 }, summary: 'last rollout 0 min ago (revision 1)' });
    expect(r.details?.[0]).toMatch(/^revision 1: ReplicaSet web-[a-z0-9]{10}, \d{4}-\d\d-\d\dT/);
  });

  it('a very recent deploy, still rolling out', async () => {
    const { server, target, apps } = await setup();
    server.stallScheduling(true); // the first new pod stays Pending: the rollout holds at 1 of 3
    await setImage(apps, 'registry.local/web:v2');
    const r = await eventually(() => target.probe('kubernetes.recent-deploy', 2), (x) => /1\/3 updated/.test(x.summary), 'revision 2, 1 updated');
    expect(r.values).toEqual({ minutes_since: 0, revision: 2 });
    expect(r.summary).toBe('last rollout 0 min ago (revision 2), still rolling out (1/3 updated)');
    expect(r.details?.[1]).toMatch(/^before it: revision 1 \(ReplicaSet web-[a-z0-9]{10}\), created 0 min ago$/);
  });

  it('minutes since the newest revision, seen 12 minutes later', async () => {
    const { target, apps, pass } = await setup();
    pass(60 * 60_000);
    await setImage(apps, 'registry.local/web:v2');
    await rolledOut(apps, '2');
    pass(12 * 60_000 + 5_000);
    const r = await target.probe('kubernetes.recent-deploy', 2);
    expect(r.values).toEqual({ minutes_since: 12, revision: 2 });
    expect(r.summary).toBe('last rollout 12 min ago (revision 2)');
    expect(r.value).toBe(12);
    expect(r.details?.[1]).toMatch(/^before it: revision 1 \(ReplicaSet web-[a-z0-9]{10}\), created 72 min ago$/);
  });

  it('a rollback reuses an old ReplicaSet: dated by its oldest pod, not its creation', async () => {
    const { target, apps, pass } = await setup();
    await setImage(apps, 'registry.local/web:v2');
    await rolledOut(apps, '2');
    pass(3 * 60 * 60_000);
    await setImage(apps, 'registry.local/web:v1');
    await rolledOut(apps, '3');
    pass(20 * 60_000 + 5_000);
    const r = await target.probe('kubernetes.recent-deploy', 2);
    expect(r.values).toEqual({ minutes_since: 20, revision: 3 }); // not 200: the ReplicaSet itself is from the first rollout
    expect(r.summary).toBe('last rollout 20 min ago (revision 3)');
    expect(r.details).toContainEqual(expect.stringMatching(/^ReplicaSet web-[a-z0-9]{10} was rolled out again \(earlier as revision 1\); created 3 h ago, dated by its oldest pod instead$/));
  });

  it('cannot date a Deployment none of whose ReplicaSets it owns', async () => {
    const { server, target } = await setup();
    server.failNext({ method: 'GET', path: /\/replicasets$/, status: 403 });
    await expect(target.probe('kubernetes.recent-deploy', 2)).rejects.toThrow(
      /^could not list ReplicaSets of Deployment prod\/web: Kubernetes answered 403: .*cannot list resource "replicasets" in API group "apps".*see deploy\/ RBAC rules/);
  });
});

describe('probe names and parameters', () => {
  it('refuses unknown names and parameters with a clear message', async () => {
    const { target } = await setup();
    await expect(target.probe('kubernetes.nope', 3)).rejects.toThrow(/^unknown Kubernetes probe "kubernetes.nope"; the Kubernetes target answers kubernetes.replicas, .*kubernetes.recent-deploy$/);
    await expect(target.probe('request.limits', 3)).rejects.toThrow('unknown Kubernetes probe "request.limits"');
    await expect(target.probe('kubernetes.pdb', 3, { name: 'x' })).rejects.toThrow('kubernetes.pdb takes no parameters (given: name)');
    expect((await target.probe('kubernetes.replicas', 3, {})).values?.replicas).toBe(3);
  });
});
