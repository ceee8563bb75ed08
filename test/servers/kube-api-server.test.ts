/**
 * Proves the simulated API server against the REAL @kubernetes/client-node SDK (no mocks).
 */
import * as k8s from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import {
  startKubeApiServer,
  parseQuantity,
  formatQuantity,
  formatCpu,
  formatMemory,
  cpuToMillis,
  quantityToInt,
  canonicalQuantity,
  type Deployment,
  type HorizontalPodAutoscaler,
  type KubeApiServer,
} from './kube-api-server.ts';

const servers: KubeApiServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

interface Env {
  server: KubeApiServer;
  kc: k8s.KubeConfig;
  apps: k8s.AppsV1Api;
  core: k8s.CoreV1Api;
  hpa: k8s.AutoscalingV2Api;
}

/** A server with one roomy node and `prod/web` at 3 replicas (100m / 128Mi each). */
async function setup(opts: { nodes?: { name: string; cpu: string; memory: string; pods?: number }[]; replicas?: number; cpuRequest?: string; memoryRequest?: string } = {}): Promise<Env> {
  const server = await startKubeApiServer({ tickMs: 20 });
  servers.push(server);
  for (const n of opts.nodes ?? [{ name: 'node-1', cpu: '8', memory: '32Gi' }]) server.addNode(n);
  server.addDeployment({
    namespace: 'prod', name: 'web', replicas: opts.replicas ?? 3,
    ...(opts.cpuRequest ? { cpuRequest: opts.cpuRequest } : {}),
    ...(opts.memoryRequest ? { memoryRequest: opts.memoryRequest } : {}),
  });
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(server.kubeconfigPath);
  return { server, kc, apps: kc.makeApiClient(k8s.AppsV1Api), core: kc.makeApiClient(k8s.CoreV1Api), hpa: kc.makeApiClient(k8s.AutoscalingV2Api) };
}

async function eventually<T>(probe: () => Promise<T> | T, ok: (v: T) => boolean, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (ok(last)) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const rolledOut = (replicas: number) => (d: k8s.V1Deployment): boolean =>
  d.spec?.replicas === replicas && d.status?.readyReplicas === replicas && d.status?.replicas === replicas &&
  d.status?.observedGeneration === d.metadata?.generation;

async function rejection(p: Promise<unknown>): Promise<k8s.ApiException<unknown>> {
  try {
    await p;
  } catch (err) {
    if (err instanceof k8s.ApiException) return err as k8s.ApiException<unknown>;
    throw err;
  }
  throw new Error('expected the call to fail');
}

describe('kube-api-server with the real @kubernetes/client-node SDK', () => {
  it('serves a seeded deployment, its pods and nodes', async () => {
    const { apps, core } = await setup();
    const d = await apps.readNamespacedDeployment({ name: 'web', namespace: 'prod' });
    expect(d.metadata?.name).toBe('web');
    expect(d.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect(d.metadata?.generation).toBe(1);
    expect(d.spec?.replicas).toBe(3);
    expect(d.spec?.selector.matchLabels).toEqual({ app: 'web' });
    expect(d.status).toMatchObject({ replicas: 3, readyReplicas: 3, availableReplicas: 3, updatedReplicas: 3, observedGeneration: 1 });
    expect(d.status?.conditions?.map((c) => [c.type, c.status])).toEqual([['Available', 'True'], ['Progressing', 'True']]);

    const all = await apps.listDeploymentForAllNamespaces();
    expect(all.items.map((x) => x.metadata?.name)).toEqual(['web']);
    expect(Number(all.metadata?.resourceVersion)).toBeGreaterThan(0);
    const byName = await apps.listNamespacedDeployment({ namespace: 'prod', fieldSelector: 'metadata.name=web' });
    expect(byName.items).toHaveLength(1);
    expect((await apps.listNamespacedDeployment({ namespace: 'prod', labelSelector: 'app=nope' })).items).toHaveLength(0);
    expect((await apps.listNamespacedDeployment({ namespace: 'other' })).items).toHaveLength(0);

    const pods = await core.listNamespacedPod({ namespace: 'prod', labelSelector: 'app=web' });
    expect(pods.items).toHaveLength(3);
    for (const p of pods.items) {
      expect(p.status?.phase).toBe('Running');
      expect(p.spec?.nodeName).toBe('node-1');
      expect(p.spec?.containers[0]?.resources?.requests).toEqual({ cpu: '100m', memory: '128Mi' });
      expect(p.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    }
    expect((await core.listPodForAllNamespaces({ fieldSelector: 'status.phase!=Succeeded,spec.nodeName=node-1' })).items).toHaveLength(3);

    const nodes = await core.listNode();
    expect(nodes.items.map((n) => n.status?.allocatable)).toEqual([{ cpu: '8', memory: '32Gi', pods: '110' }]);
    const node = await core.readNode({ name: 'node-1' });
    expect(node.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');

    const err = await rejection(apps.readNamespacedDeployment({ name: 'missing', namespace: 'prod' }));
    expect(err.code).toBe(404);
    expect(JSON.parse(String(err.body))).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404, message: 'deployments.apps "missing" not found' });
  });

  it('scales with a merge patch on /scale and rolls out to readyReplicas=6', async () => {
    const { server, apps } = await setup();
    const scale = await apps.patchNamespacedDeploymentScale({ name: 'web', namespace: 'prod', body: { spec: { replicas: 6 } } }, mergePatch);
    expect(scale.kind).toBe('Scale');
    expect(scale.spec?.replicas).toBe(6);
    expect(scale.status?.selector).toBe('app=web');

    const d = await eventually(() => apps.readNamespacedDeployment({ name: 'web', namespace: 'prod' }), rolledOut(6), 'rollout to 6');
    expect(d.metadata?.generation).toBe(2);
    expect(d.status?.availableReplicas).toBe(6);
    expect(d.status?.unavailableReplicas).toBeUndefined(); // omitempty, like the real API
    expect(server.pods('prod')).toHaveLength(6);

    const patch = server.requests.find((r) => r.method === 'PATCH');
    expect(patch).toMatchObject({
      path: '/apis/apps/v1/namespaces/prod/deployments/web/scale',
      contentType: 'application/merge-patch+json',
      body: { spec: { replicas: 6 } },
    });
    expect(typeof patch?.at).toBe('number');

    const read = await apps.readNamespacedDeploymentScale({ name: 'web', namespace: 'prod' });
    expect(read.status?.replicas).toBe(6);
  });

  it('scales with the default JSON-patch content type, up and down', async () => {
    const { server, apps } = await setup();
    await apps.patchNamespacedDeploymentScale({ name: 'web', namespace: 'prod', body: [{ op: 'replace', path: '/spec/replicas', value: 4 }] });
    await eventually(() => apps.readNamespacedDeployment({ name: 'web', namespace: 'prod' }), rolledOut(4), 'rollout to 4');
    expect(server.requests.find((r) => r.method === 'PATCH')?.contentType).toBe('application/json-patch+json');

    await apps.patchNamespacedDeploymentScale({ name: 'web', namespace: 'prod', body: [{ op: 'replace', path: '/spec/replicas', value: 1 }] });
    const d = await eventually(() => apps.readNamespacedDeployment({ name: 'web', namespace: 'prod' }), rolledOut(1), 'scale down to 1');
    expect(d.metadata?.generation).toBe(3);
    expect(server.pods('prod')).toHaveLength(1);

    // A strategic merge patch and a PUT also work; a stale resourceVersion conflicts.
    await apps.patchNamespacedDeploymentScale({ name: 'web', namespace: 'prod', body: { spec: { replicas: 2 } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch));
    expect(server.getDeployment('prod', 'web')?.spec.replicas).toBe(2);
    const stale = await rejection(apps.replaceNamespacedDeploymentScale({
      name: 'web', namespace: 'prod', body: { metadata: { name: 'web', namespace: 'prod', resourceVersion: '1' }, spec: { replicas: 9 } },
    }));
    expect(stale.code).toBe(409);
    // Read-modify-write only once the controller is idle: its status writes also bump resourceVersion.
    await eventually(() => apps.readNamespacedDeployment({ name: 'web', namespace: 'prod' }), rolledOut(2), 'rollout to 2');
    const current = await apps.readNamespacedDeploymentScale({ name: 'web', namespace: 'prod' });
    await apps.replaceNamespacedDeploymentScale({ name: 'web', namespace: 'prod', body: { metadata: current.metadata, spec: { replicas: 3 } } });
    expect(server.getDeployment('prod', 'web')?.spec.replicas).toBe(3);

    const invalid = await rejection(apps.patchNamespacedDeploymentScale({ name: 'web', namespace: 'prod', body: { spec: { replicas: -1 } } }, mergePatch));
    expect(invalid.code).toBe(422);
    expect(JSON.parse(String(invalid.body)).message).toContain('spec.replicas: Invalid value: -1');
  });

  it('scales from zero with a merge patch; a JSON-patch replace fails there like the real API (spec.replicas is omitempty)', async () => {
    const { apps } = await setup({ replicas: 0 });
    const zero = await apps.readNamespacedDeploymentScale({ name: 'web', namespace: 'prod' });
    expect(zero.spec?.replicas).toBeUndefined();
    const err = await rejection(apps.patchNamespacedDeploymentScale({ name: 'web', namespace: 'prod', body: [{ op: 'replace', path: '/spec/replicas', value: 2 }] }));
    expect(err.code).toBe(422);
    await apps.patchNamespacedDeploymentScale({ name: 'web', namespace: 'prod', body: [{ op: 'add', path: '/spec/replicas', value: 2 }] });
    await eventually(() => apps.readNamespacedDeployment({ name: 'web', namespace: 'prod' }), rolledOut(2), 'rollout to 2');
    await apps.patchNamespacedDeploymentScale({ name: 'web', namespace: 'prod', body: { spec: { replicas: 0 } } }, mergePatch);
    await apps.patchNamespacedDeploymentScale({ name: 'web', namespace: 'prod', body: { spec: { replicas: 1 } } }, mergePatch);
    await eventually(() => apps.readNamespacedDeployment({ name: 'web', namespace: 'prod' }), rolledOut(1), 'rollout to 1');
  });

  it('emits no events (and no resourceVersion bumps) while nothing changes', async () => {
    const { server, apps } = await setup();
    server.addHpa({ namespace: 'prod', name: 'web', target: 'web', minReplicas: 1, maxReplicas: 5 });
    server.tick();
    server.tick();
    const rv = (await apps.listNamespacedDeployment({ namespace: 'prod' })).metadata?.resourceVersion;
    await new Promise((r) => setTimeout(r, 150));
    expect((await apps.listNamespacedDeployment({ namespace: 'prod' })).metadata?.resourceVersion).toBe(rv);
  });

  it('patches the deployment itself and performs a rolling update', async () => {
    const { server, apps } = await setup();
    const before = new Set(server.pods('prod').map((p) => p.metadata.name));
    await apps.patchNamespacedDeployment({
      name: 'web', namespace: 'prod',
      body: { spec: { template: { spec: { containers: [{ name: 'web', resources: { requests: { cpu: '200m' } } }] } } } },
    }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch));
    const d = await eventually(() => apps.readNamespacedDeployment({ name: 'web', namespace: 'prod' }),
      (x) => rolledOut(3)(x) && x.status?.updatedReplicas === 3 && x.status?.conditions?.find((c) => c.type === 'Progressing')?.reason === 'NewReplicaSetAvailable',
      'rolling update');
    expect(d.metadata?.annotations?.['deployment.kubernetes.io/revision']).toBe('2');
    expect(d.spec?.template.spec?.containers[0]?.image).toBe('registry.local/web:v1'); // merged by name, not replaced
    const pods = server.pods('prod');
    expect(pods).toHaveLength(3);
    expect(pods.every((p) => !before.has(p.metadata.name) && p.spec.containers[0]?.resources?.requests?.cpu === '200m')).toBe(true);
  });

  it('streams watch events (fieldSelector-filtered) through a rollout', async () => {
    const { server, kc, apps } = await setup();
    server.addDeployment({ namespace: 'prod', name: 'api', replicas: 1 });
    const events: { type: string; name: string; ready: number; rv: string }[] = [];
    let done: unknown = 'open';
    const watch = new k8s.Watch(kc);
    const ctl = await watch.watch('/apis/apps/v1/namespaces/prod/deployments', { fieldSelector: 'metadata.name=web' },
      (type: string, obj: Deployment) => {
        events.push({ type, name: obj.metadata.name, ready: obj.status.readyReplicas ?? 0, rv: obj.metadata.resourceVersion });
      },
      (err: unknown) => { done = err; });
    await eventually(() => events.length, (n) => n >= 1, 'initial ADDED');
    expect(events[0]).toMatchObject({ type: 'ADDED', name: 'web', ready: 3 });

    await apps.patchNamespacedDeploymentScale({ name: 'web', namespace: 'prod', body: { spec: { replicas: 5 } } }, mergePatch);
    server.addDeployment({ namespace: 'prod', name: 'worker', replicas: 1 }); // not selected
    await eventually(() => events, (e) => e.some((x) => x.ready === 5), 'MODIFIED with readyReplicas=5');
    const modified = events.filter((e) => e.type === 'MODIFIED');
    expect(modified.length).toBeGreaterThanOrEqual(3);
    expect(events.every((e) => e.name === 'web')).toBe(true);
    const rvs = events.map((e) => Number(e.rv));
    expect(rvs).toEqual([...rvs].sort((a, b) => a - b));
    const readies = modified.map((e) => e.ready);
    expect(readies).toEqual([...readies].sort((a, b) => a - b));
    ctl.abort();
    await eventually(() => done, (d) => d !== 'open', 'done callback after abort');
  });

  it('replays a watch from a resourceVersion and keeps an informer in sync', async () => {
    const { server, kc, apps } = await setup();
    const list = await apps.listNamespacedDeployment({ namespace: 'prod' });
    const rv = list.metadata?.resourceVersion ?? '';
    await apps.patchNamespacedDeploymentScale({ name: 'web', namespace: 'prod', body: { spec: { replicas: 4 } } }, mergePatch);
    await eventually(() => apps.readNamespacedDeployment({ name: 'web', namespace: 'prod' }), rolledOut(4), 'rollout to 4');

    const seen: { type: string; replicas: number; generation: number }[] = [];
    const ctl = await new k8s.Watch(kc).watch('/apis/apps/v1/namespaces/prod/deployments', { resourceVersion: rv },
      (type: string, obj: Deployment) => { seen.push({ type, replicas: obj.spec.replicas, generation: obj.metadata.generation ?? 0 }); },
      () => undefined);
    await eventually(() => seen, (s) => s.length >= 3, 'replayed events');
    expect(seen[0]).toEqual({ type: 'MODIFIED', replicas: 4, generation: 2 }); // no ADDED: history after rv only
    ctl.abort();

    const informer = k8s.makeInformer(kc, '/apis/apps/v1/namespaces/prod/deployments', () => apps.listNamespacedDeployment({ namespace: 'prod' }));
    const updates: number[] = [];
    informer.on('update', (d) => updates.push(d.status?.readyReplicas ?? 0));
    await informer.start();
    await apps.patchNamespacedDeploymentScale({ name: 'web', namespace: 'prod', body: { spec: { replicas: 6 } } }, mergePatch);
    await eventually(() => informer.get('web', 'prod')?.status?.readyReplicas, (r) => r === 6, 'informer cache at 6');
    expect(updates).toContain(6);
    await informer.stop();
    expect(server.requests.some((r) => r.query.watch === 'true' && r.query.resourceVersion)).toBe(true);
  });

  it('ends watch streams on timeoutSeconds and on close()', async () => {
    const { server, kc } = await setup();
    const t0 = Date.now();
    const timedOut = new Promise<unknown>((resolve) => {
      void new k8s.Watch(kc).watch('/api/v1/namespaces/prod/pods', { timeoutSeconds: 1 }, () => undefined, resolve);
    });
    expect(await timedOut).toBeNull();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);

    const closed = new Promise<unknown>((resolve) => {
      void new k8s.Watch(kc).watch('/apis/apps/v1/deployments', {}, () => undefined, resolve);
    });
    await eventually(() => server.requests.filter((r) => r.path === '/apis/apps/v1/deployments').length, (n) => n === 1, 'watch request');
    await server.close();
    expect(await closed).toBeNull();
  });

  it('keeps pods Pending with the scheduler message while scheduling is stalled', async () => {
    const { server, kc, apps, core } = await setup();
    const pendingEvents: string[] = [];
    const ctl = await new k8s.Watch(kc).watch('/api/v1/namespaces/prod/pods', { fieldSelector: 'status.phase=Pending' },
      (type: string) => { pendingEvents.push(type); }, () => undefined);

    server.stallScheduling(true);
    await apps.patchNamespacedDeploymentScale({ name: 'web', namespace: 'prod', body: { spec: { replicas: 5 } } }, mergePatch);
    const pending = await eventually(() => core.listNamespacedPod({ namespace: 'prod', fieldSelector: 'status.phase=Pending' }),
      (l) => l.items.length === 2, '2 pending pods');
    for (const p of pending.items) {
      expect(p.spec?.nodeName).toBeUndefined();
      const cond = p.status?.conditions?.find((c) => c.type === 'PodScheduled');
      expect(cond).toMatchObject({ status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available: 1 Insufficient cpu.' });
    }
    const stuck = await eventually(() => apps.readNamespacedDeployment({ name: 'web', namespace: 'prod' }),
      (d) => d.status?.observedGeneration === 2, 'observed generation 2');
    expect(stuck.status).toMatchObject({ replicas: 5, readyReplicas: 3, unavailableReplicas: 2 });
    expect((await core.listNamespacedPod({ namespace: 'prod', fieldSelector: 'spec.nodeName!=' })).items).toHaveLength(3);

    server.stallScheduling(false);
    await eventually(() => apps.readNamespacedDeployment({ name: 'web', namespace: 'prod' }), rolledOut(5), 'rollout to 5');
    expect((await core.listNamespacedPod({ namespace: 'prod', fieldSelector: 'status.phase=Pending' })).items).toHaveLength(0);
    await eventually(() => pendingEvents, (e) => e.filter((t) => t === 'DELETED').length === 2, 'pods leaving the Pending selector');
    expect(pendingEvents.filter((t) => t === 'ADDED')).toHaveLength(2);
    ctl.abort();
  });

  it('leaves pods Pending when nodes are full and schedules them when a node is added', async () => {
    const { server, apps, core } = await setup({ nodes: [{ name: 'node-1', cpu: '1', memory: '4Gi' }], replicas: 2, cpuRequest: '400m' });
    await apps.patchNamespacedDeploymentScale({ name: 'web', namespace: 'prod', body: { spec: { replicas: 4 } } }, mergePatch);
    const pending = await eventually(() => core.listNamespacedPod({ namespace: 'prod', fieldSelector: 'status.phase=Pending' }),
      (l) => l.items.length === 2, '2 pending pods');
    expect(pending.items[0]?.status?.conditions?.[0]?.message).toBe('0/1 nodes are available: 1 Insufficient cpu.');

    server.addNode({ name: 'node-2', cpu: '2', memory: '4Gi' });
    await eventually(() => apps.readNamespacedDeployment({ name: 'web', namespace: 'prod' }), rolledOut(4), 'rollout to 4');
    expect((await core.listNamespacedPod({ namespace: 'prod', fieldSelector: 'spec.nodeName=node-2' })).items).toHaveLength(2);

    // Scaling down removes Pending pods first.
    server.stallScheduling(true);
    await apps.patchNamespacedDeploymentScale({ name: 'web', namespace: 'prod', body: { spec: { replicas: 5 } } }, mergePatch);
    await eventually(() => server.pods('prod').filter((p) => p.status.phase === 'Pending').length, (n) => n === 1, 'one pending');
    await apps.patchNamespacedDeploymentScale({ name: 'web', namespace: 'prod', body: { spec: { replicas: 4 } } }, mergePatch);
    await eventually(() => server.pods('prod'), (ps) => ps.length === 4 && ps.every((p) => p.status.phase === 'Running'), 'pending pod removed');
  });

  it('words multi-reason scheduling failures like kube-scheduler', async () => {
    const { server, apps, core } = await setup({
      nodes: [{ name: 'cpu-poor', cpu: '500m', memory: '64Gi' }, { name: 'mem-poor', cpu: '16', memory: '512Mi' }, { name: 'full', cpu: '16', memory: '64Gi', pods: 0 }],
      replicas: 0, cpuRequest: '1', memoryRequest: '1Gi',
    });
    await apps.patchNamespacedDeploymentScale({ name: 'web', namespace: 'prod', body: { spec: { replicas: 1 } } }, mergePatch);
    const pending = await eventually(() => core.listNamespacedPod({ namespace: 'prod', fieldSelector: 'status.phase=Pending' }),
      (l) => l.items.length === 1, 'a pending pod');
    expect(pending.items[0]?.status?.conditions?.find((c) => c.type === 'PodScheduled')?.message)
      .toBe('0/3 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 Too many pods.');
    expect(server.getDeployment('prod', 'web')?.status.readyReplicas).toBeUndefined();
  });

  it('raises the deployment when an HPA minReplicas is patched, and clamps to maxReplicas', async () => {
    const { server, kc, apps, hpa } = await setup();
    server.addHpa({ namespace: 'prod', name: 'web', target: 'web', minReplicas: 2, maxReplicas: 10 });
    const hpaEvents: { type: string; min: number }[] = [];
    const ctl = await new k8s.Watch(kc).watch('/apis/autoscaling/v2/namespaces/prod/horizontalpodautoscalers', {},
      (type: string, obj: HorizontalPodAutoscaler) => { hpaEvents.push({ type, min: obj.spec.minReplicas }); }, () => undefined);
    const before = await hpa.readNamespacedHorizontalPodAutoscaler({ name: 'web', namespace: 'prod' });
    expect(before.spec?.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' });
    expect((await hpa.listNamespacedHorizontalPodAutoscaler({ namespace: 'prod' })).items).toHaveLength(1);

    await hpa.patchNamespacedHorizontalPodAutoscaler({
      name: 'web', namespace: 'prod',
      body: { spec: { minReplicas: 5, behavior: { scaleDown: { stabilizationWindowSeconds: 60 } } } },
    }, mergePatch);
    await eventually(() => apps.readNamespacedDeployment({ name: 'web', namespace: 'prod' }), rolledOut(5), 'HPA raises to 5');
    const after = await eventually(() => hpa.readNamespacedHorizontalPodAutoscaler({ name: 'web', namespace: 'prod' }),
      (h) => h.status?.currentReplicas === 5, 'HPA status current=5');
    expect(after.status?.desiredReplicas).toBe(5);
    expect(after.spec?.behavior?.scaleDown?.stabilizationWindowSeconds).toBe(60);
    expect(after.metadata?.generation).toBe(2);
    expect(hpaEvents[0]).toEqual({ type: 'ADDED', min: 2 });
    expect(hpaEvents).toContainEqual({ type: 'MODIFIED', min: 5 });
    ctl.abort();

    await hpa.patchNamespacedHorizontalPodAutoscaler({
      name: 'web', namespace: 'prod',
      body: [{ op: 'replace', path: '/spec/minReplicas', value: 2 }, { op: 'replace', path: '/spec/maxReplicas', value: 4 }],
    });
    await eventually(() => apps.readNamespacedDeployment({ name: 'web', namespace: 'prod' }), rolledOut(4), 'HPA clamps to 4');
    expect(server.getHpa('prod', 'web')).toMatchObject({ spec: { minReplicas: 2, maxReplicas: 4 } });

    const bad = await rejection(hpa.patchNamespacedHorizontalPodAutoscaler({ name: 'web', namespace: 'prod', body: { spec: { maxReplicas: 1 } } }, mergePatch));
    expect(bad.code).toBe(422);
    expect(JSON.parse(String(bad.body))).toMatchObject({ reason: 'Invalid', message: expect.stringContaining('spec.maxReplicas') });
  });

  it('surfaces injected failures as ApiException with a Status body', async () => {
    const { server, apps } = await setup();
    server.failNext({ method: 'PATCH', path: /\/deployments\/web\/scale$/, status: 409 });
    const err = await rejection(apps.patchNamespacedDeploymentScale({ name: 'web', namespace: 'prod', body: { spec: { replicas: 6 } } }, mergePatch));
    expect(err).toBeInstanceOf(k8s.ApiException);
    expect(err.code).toBe(409);
    expect(typeof err.body).toBe('string'); // client-node 1.x: the raw response text
    expect(JSON.parse(String(err.body))).toMatchObject({
      kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Conflict', code: 409,
      message: expect.stringContaining('Operation cannot be fulfilled on deployments.apps "web"'),
    });
    expect(server.getDeployment('prod', 'web')?.spec.replicas).toBe(3);
    await apps.patchNamespacedDeploymentScale({ name: 'web', namespace: 'prod', body: { spec: { replicas: 6 } } }, mergePatch);
    expect(server.getDeployment('prod', 'web')?.spec.replicas).toBe(6);

    server.failNext({ path: /^\/apis\/apps\/v1\/namespaces\/prod\/deployments\/web$/, status: 503, times: 2 });
    expect((await rejection(apps.readNamespacedDeployment({ name: 'web', namespace: 'prod' }))).code).toBe(503);
    expect((await rejection(apps.readNamespacedDeployment({ name: 'web', namespace: 'prod' }))).code).toBe(503);
    expect((await apps.readNamespacedDeployment({ name: 'web', namespace: 'prod' })).metadata?.name).toBe('web');

    server.failNext({ method: 'PATCH', path: /scale/, status: 403 });
    const forbidden = await rejection(apps.patchNamespacedDeploymentScale({ name: 'web', namespace: 'prod', body: { spec: { replicas: 1 } } }, mergePatch));
    expect(JSON.parse(String(forbidden.body)).message).toBe(
      'deployments.apps "web" is forbidden: User "test-user" cannot patch resource "deployments/scale" in API group "apps" in the namespace "prod"');

    server.failNext({ path: /deployments/, status: 500, message: 'etcd is on fire' });
    const internal = await rejection(apps.listNamespacedDeployment({ namespace: 'prod' }));
    expect(internal.code).toBe(500);
    expect(JSON.parse(String(internal.body))).toMatchObject({ reason: 'InternalError', message: 'etcd is on fire' });
  });

  it('answers raw HTTP robustly: 401 without a token, 404 Status, 400 on bad JSON, 415 on apply-patch', async () => {
    const { server } = await setup();
    const auth = { Authorization: 'Bearer whatever' };
    const noAuth = await fetch(`${server.url}/apis/apps/v1/deployments`);
    expect(noAuth.status).toBe(401);
    expect(await noAuth.json()).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });

    const unknown = await fetch(`${server.url}/apis/nope/v1/things`, { headers: auth });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404 });

    const badJson = await fetch(`${server.url}/apis/apps/v1/namespaces/prod/deployments/web/scale`, {
      method: 'PATCH', headers: { ...auth, 'Content-Type': 'application/merge-patch+json' }, body: '{"spec":',
    });
    expect(badJson.status).toBe(400);
    expect(await badJson.json()).toMatchObject({ kind: 'Status', reason: 'BadRequest', code: 400 });

    const apply = await fetch(`${server.url}/apis/apps/v1/namespaces/prod/deployments/web/scale`, {
      method: 'PATCH', headers: { ...auth, 'Content-Type': 'application/apply-patch+yaml' }, body: 'spec:\n  replicas: 2\n',
    });
    expect(apply.status).toBe(415);

    const badSelector = await fetch(`${server.url}/api/v1/pods?fieldSelector=spec.bogus%3Dx`, { headers: auth });
    expect(badSelector.status).toBe(400);
    expect(await badSelector.json()).toMatchObject({ message: 'field label not supported: spec.bogus' });

    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect(server.requests.map((r) => r.body)).toContain('{"spec":'); // unparsable bodies are kept raw
    expect(server.getDeployment('prod', 'web')?.spec.replicas).toBe(3);
  });

  it('serves pod and node metrics from settable usage', async () => {
    const { server, kc } = await setup();
    server.setPodCpuUsage('prod', 'web', '0.25');
    server.setPodMemoryUsage('prod', 'web', '100Mi');
    const metrics = new k8s.Metrics(kc);
    const pods = await metrics.getPodMetrics('prod');
    expect(pods.kind).toBe('PodMetricsList');
    expect(pods.items).toHaveLength(3);
    for (const m of pods.items) {
      expect(m.metadata.namespace).toBe('prod');
      expect(m.containers).toEqual([{ name: 'web', usage: { cpu: '250m', memory: '100Mi' } }]);
    }
    const nodes = await metrics.getNodeMetrics();
    expect(nodes.items[0]?.usage).toEqual({ cpu: '750m', memory: '300Mi' });
    expect((await metrics.getPodMetrics('empty')).items).toHaveLength(0);
  });

  it('serves pod metrics by label selector, per-pod usage, and no metrics group without metrics-server', async () => {
    const { server, kc } = await setup();
    server.addDeployment({ namespace: 'prod', name: 'api', replicas: 1, sidecars: [{ name: 'proxy' }] });
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const list = (labelSelector: string) =>
      custom.listNamespacedCustomObject({ group: 'metrics.k8s.io', version: 'v1beta1', namespace: 'prod', plural: 'pods', labelSelector }) as Promise<{ items: { metadata: { name: string }; containers: { name: string; usage: { cpu: string; memory: string } }[] }[] }>;
    const [first, second] = server.pods('prod').filter((p) => p.metadata.labels?.app === 'web');
    server.setPodUsage('prod', first!.metadata.name, { cpu: '90m', memory: '100Mi' });
    server.setPodUsage('prod', second!.metadata.name, { cpu: '1' });
    const web = await list('app=web');
    expect(web.items).toHaveLength(3);
    const usage = Object.fromEntries(web.items.map((m) => [m.metadata.name, m.containers[0]!.usage]));
    expect(usage[first!.metadata.name]).toEqual({ cpu: '90m', memory: '100Mi' });
    expect(usage[second!.metadata.name]).toEqual({ cpu: '1', memory: '64Mi' }); // memory: the default, half the request

    const api = await list('app=api');
    expect(api.items[0]?.containers.map((c) => c.name)).toEqual(['api', 'proxy']);
    const apiPod = server.pods('prod').find((p) => p.metadata.labels?.app === 'api')!;
    expect(apiPod.spec.containers[1]).toEqual({ name: 'proxy', image: 'registry.local/proxy:v1' }); // no requests at all
    server.setPodUsage('prod', apiPod.metadata.name, { cpu: '5m' }, 'proxy');
    expect((await list('app=api')).items[0]?.containers[1]?.usage.cpu).toBe('5m');

    server.setMetricsServer('absent');
    const absent = await rejection(list('app=web'));
    expect(absent.code).toBe(404);
    expect(JSON.parse(String(absent.body))).toMatchObject({ reason: 'NotFound', message: 'the server could not find the requested resource' });
    const groups = await (await fetch(`${server.url}/apis`, { headers: { Authorization: 'Bearer t' } })).json() as { groups: { name: string }[] };
    expect(groups.groups.map((g) => g.name)).not.toContain('metrics.k8s.io');
    expect(groups.groups.map((g) => g.name)).toContain('policy');

    server.setMetricsServer('unavailable');
    const down = await rejection(list('app=web'));
    expect(down.code).toBe(503);
    expect(down.body).toBe('service unavailable\n');

    server.setMetricsServer('available');
    expect((await list('app=web')).items).toHaveLength(3);
  });

  it('keeps a ReplicaSet per pod template, with revisions, owners and a rollback that reuses one', async () => {
    const { server, apps } = await setup();
    const owned = async () => (await apps.listNamespacedReplicaSet({ namespace: 'prod', labelSelector: 'app=web' })).items
      .sort((a, b) => Number(a.metadata?.annotations?.['deployment.kubernetes.io/revision']) - Number(b.metadata?.annotations?.['deployment.kubernetes.io/revision']));
    const d = await apps.readNamespacedDeployment({ name: 'web', namespace: 'prod' });
    const [rs1] = await owned();
    expect(rs1?.metadata?.name).toMatch(/^web-[a-z0-9]{10}$/);
    expect(rs1?.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect(rs1?.metadata?.annotations?.['deployment.kubernetes.io/revision']).toBe('1');
    expect(rs1?.metadata?.ownerReferences).toEqual([expect.objectContaining({ kind: 'Deployment', name: 'web', uid: d.metadata?.uid, controller: true })]);
    expect(rs1?.status).toMatchObject({ replicas: 3, readyReplicas: 3, availableReplicas: 3 });
    expect(rs1?.spec?.replicas).toBe(3);
    const hash1 = rs1?.metadata?.labels?.['pod-template-hash'];
    for (const p of server.pods('prod')) {
      expect(p.metadata.labels?.['pod-template-hash']).toBe(hash1);
      expect(p.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'ReplicaSet', name: rs1?.metadata?.name, uid: rs1?.metadata?.uid })]);
    }

    const strategic = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch);
    const setImage = (image: string) => apps.patchNamespacedDeployment({ name: 'web', namespace: 'prod', body: { spec: { template: { spec: { containers: [{ name: 'web', image }] } } } } }, strategic);
    server.advanceClock(60 * 60_000); // an hour later
    await setImage('registry.local/web:v2');
    await eventually(() => apps.readNamespacedDeployment({ name: 'web', namespace: 'prod' }), (x) => rolledOut(3)(x) && x.status?.updatedReplicas === 3 && server.pods('prod').length === 3, 'rollout of v2');
    const [old, rs2] = await owned();
    expect(old?.metadata?.name).toBe(rs1?.metadata?.name);
    expect(old?.spec?.replicas).toBe(0);
    expect(old?.status?.replicas).toBe(0);
    expect(rs2?.metadata?.annotations?.['deployment.kubernetes.io/revision']).toBe('2');
    expect(rs2?.status).toMatchObject({ replicas: 3, readyReplicas: 3 });
    expect(rs2!.metadata!.creationTimestamp!.getTime() - rs1!.metadata!.creationTimestamp!.getTime()).toBeGreaterThanOrEqual(60 * 60_000);
    expect(Date.parse(server.pods('prod')[0]!.metadata.creationTimestamp)).toBeGreaterThan(Date.now() + 59 * 60_000);
    expect((await apps.readNamespacedReplicaSet({ name: rs2!.metadata!.name!, namespace: 'prod' })).spec?.template?.spec?.containers[0]?.image).toBe('registry.local/web:v2');

    // Rolling back to v1 reuses its ReplicaSet, which takes the next revision.
    await setImage('registry.local/web:v1');
    await eventually(() => apps.readNamespacedDeployment({ name: 'web', namespace: 'prod' }), (x) => rolledOut(3)(x) && x.status?.updatedReplicas === 3 && server.pods('prod').length === 3, 'rollback to v1');
    const all = await owned();
    expect(all).toHaveLength(2);
    expect(all[1]?.metadata?.name).toBe(rs1?.metadata?.name);
    expect(all[1]?.metadata?.annotations).toMatchObject({ 'deployment.kubernetes.io/revision': '3', 'deployment.kubernetes.io/revision-history': '1' });
    expect(all[1]?.metadata?.creationTimestamp).toEqual(rs1?.metadata?.creationTimestamp);
    expect(server.replicaSets('other')).toEqual([]);
  });

  it('creates, reads, patches and deletes PodDisruptionBudgets, with status from the disruption controller', async () => {
    const { server, apps, kc } = await setup({ replicas: 4 });
    const policy = kc.makeApiClient(k8s.PolicyV1Api);
    const created = await policy.createNamespacedPodDisruptionBudget({
      namespace: 'prod',
      body: { metadata: { name: 'web' }, spec: { minAvailable: '50%', selector: { matchLabels: { app: 'web' } } } },
    });
    expect(created.metadata?.uid).toBeTruthy();
    expect(created.status).toMatchObject({ expectedPods: 4, currentHealthy: 4, desiredHealthy: 2, disruptionsAllowed: 2 });
    expect(server.requests.at(-1)).toMatchObject({ method: 'POST', path: '/apis/policy/v1/namespaces/prod/poddisruptionbudgets' });

    // A percentage is resolved against the Deployment's replicas, rounding up.
    await apps.patchNamespacedDeploymentScale({ name: 'web', namespace: 'prod', body: { spec: { replicas: 5 } } }, mergePatch);
    await eventually(() => apps.readNamespacedDeployment({ name: 'web', namespace: 'prod' }), rolledOut(5), 'rollout to 5');
    const read = await eventually(() => policy.readNamespacedPodDisruptionBudget({ name: 'web', namespace: 'prod' }), (p) => p.status?.currentHealthy === 5, 'PDB status at 5');
    expect(read.status).toMatchObject({ expectedPods: 5, desiredHealthy: 3, disruptionsAllowed: 2 });
    expect(read.status?.conditions?.[0]).toMatchObject({ type: 'DisruptionAllowed', status: 'True', reason: 'SufficientPods' });

    const maxU = await policy.patchNamespacedPodDisruptionBudget({ name: 'web', namespace: 'prod', body: { spec: { minAvailable: null, maxUnavailable: '30%' } } }, mergePatch);
    expect(maxU.spec?.maxUnavailable).toBe('30%');
    expect(maxU.status).toMatchObject({ expectedPods: 5, desiredHealthy: 3, disruptionsAllowed: 2 }); // 30% of 5 → 2 (up)
    expect(maxU.metadata?.generation).toBe(2);

    const both = await rejection(policy.patchNamespacedPodDisruptionBudget({ name: 'web', namespace: 'prod', body: { spec: { minAvailable: 5 } } }, mergePatch));
    expect(both.code).toBe(422);
    expect(JSON.parse(String(both.body)).message).toContain('minAvailable and maxUnavailable cannot be both set');
    const badPct = await rejection(policy.createNamespacedPodDisruptionBudget({ namespace: 'prod', body: { metadata: { name: 'bad' }, spec: { minAvailable: '150%' } } }));
    expect(badPct.code).toBe(422);
    const dup = await rejection(policy.createNamespacedPodDisruptionBudget({ namespace: 'prod', body: { metadata: { name: 'web' }, spec: { minAvailable: 1 } } }));
    expect(dup.code).toBe(409);

    server.addPdb({ namespace: 'prod', name: 'strict', minAvailable: 5, selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'api'] }] } });
    expect(server.getPdb('prod', 'strict')?.status).toMatchObject({ expectedPods: 5, currentHealthy: 5, desiredHealthy: 5, disruptionsAllowed: 0 });
    const listed = await policy.listNamespacedPodDisruptionBudget({ namespace: 'prod' });
    expect(listed.items.map((p) => p.metadata?.name)).toEqual(['strict', 'web']);
    expect((await policy.listPodDisruptionBudgetForAllNamespaces()).items).toHaveLength(2);

    await policy.deleteNamespacedPodDisruptionBudget({ name: 'strict', namespace: 'prod' });
    expect(server.getPdb('prod', 'strict')).toBeUndefined();
    expect((await rejection(policy.readNamespacedPodDisruptionBudget({ name: 'strict', namespace: 'prod' }))).code).toBe(404);
  });

  it('parses and formats Kubernetes quantities', () => {
    expect(parseQuantity('100m')).toBe(0.1);
    expect(parseQuantity('2')).toBe(2);
    expect(parseQuantity('512Mi')).toBe(512 * 1024 * 1024);
    expect(parseQuantity('1Gi')).toBe(2 ** 30);
    expect(parseQuantity('1G')).toBe(1e9);
    expect(parseQuantity('1000k')).toBe(1e6);
    expect(parseQuantity('1e3')).toBe(1000);
    expect(parseQuantity('1.5')).toBe(1.5);
    expect(parseQuantity('250000000n')).toBe(0.25);
    expect(() => parseQuantity('12 cores')).toThrow();
    expect(() => parseQuantity('1KB')).toThrow();
    expect(cpuToMillis('1.5')).toBe(1500);
    expect(cpuToMillis('1.5m')).toBe(2); // rounds up like Quantity.MilliValue()
    expect(quantityToInt('1Ki')).toBe(1024);
    expect(formatCpu(250)).toBe('250m');
    expect(formatCpu(2000)).toBe('2');
    expect(formatCpu(1500)).toBe('1500m');
    expect(formatMemory(16 * 2 ** 30)).toBe('16Gi');
    expect(formatMemory(1536 * 2 ** 20)).toBe('1536Mi');
    expect(formatMemory(1e9)).toBe('1G');
    expect(formatMemory(1500)).toBe('1500');
    expect(formatQuantity(0)).toBe('0');
    expect(formatQuantity(1e6)).toBe('1M');
    expect(formatQuantity(0.0005)).toBe('500u');
    expect(canonicalQuantity('0.5')).toBe('500m');
    expect(canonicalQuantity('1024Mi')).toBe('1Gi');
    expect(canonicalQuantity('2000m')).toBe('2');
  });
});
