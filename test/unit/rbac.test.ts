/**
 * deploy/kubernetes/rbac.yaml grants exactly what the Kubernetes adapter uses.
 *
 * Drives the real KubernetesTarget (plan, apply of both operation types, every adapter probe,
 * reconcile, waitForRollout — passing and timing out) against the local Kubernetes API server, for a
 * Deployment without an HPA and one with an HPA (found by scaleTargetRef, and named in the catalog);
 * one has a PodDisruptionBudget, and metrics-server answers.
 * Every recorded request is mapped to (namespace, apiGroup, resource[/subresource], verb) the way the
 * API server's authorizer sees it, then:
 *   - each one must be granted by the rules bound to the service account, in the request's scope
 *     (ClusterRoleBinding: everywhere; RoleBinding: only its namespace);
 *   - each rule (apiGroup × resource × verb) must be used by at least one request in its scope;
 *   - no wildcards, resourceNames or nonResourceURLs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { parse, parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KUBERNETES_PROBES, KubernetesTarget } from '../../src/adapters/kubernetes/kubernetes-target.ts';
import { systemClock } from '../../src/ports/clock.port.ts';
import { startKubeApiServer, type KubeApiServer, type RecordedRequest } from '../servers/kube-api-server.ts';

const DEPLOY = join(import.meta.dirname, '..', '..', 'deploy', 'kubernetes');
const NS = 'prod';

// ---------------------------------------------------------------------------------------------
// Requests → authorizer attributes

interface Access {
  /** Namespace of a namespaced request; undefined for cluster-scoped and all-namespace requests. */
  namespace?: string;
  apiGroup: string;
  /** `deployments`, `deployments/scale`, ... */
  resource: string;
  verb: string;
  /** `GET /apis/...?watch=true`, for messages. */
  request: string;
}

/** Maps one request the way kube-apiserver's RequestInfoFactory does (resource requests only). */
function toAccess(r: RecordedRequest): Access {
  const query = new URLSearchParams(r.query).toString();
  const request = `${r.method} ${r.path}${query ? `?${query}` : ''}`;
  const seg = r.path.split('/').filter(Boolean).map(decodeURIComponent);
  let apiGroup: string;
  let rest: string[];
  if (seg[0] === 'api' && seg.length >= 3) {
    apiGroup = '';
    rest = seg.slice(2);
  } else if (seg[0] === 'apis' && seg.length >= 4) {
    apiGroup = seg[1]!;
    rest = seg.slice(3);
  } else {
    throw new Error(`not a resource request (would need a nonResourceURLs rule): ${request}`);
  }
  let namespace: string | undefined;
  // /api/v1/namespaces/{ns}/{resource}...; /api/v1/namespaces[/{name}] is the Namespace resource itself.
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resource, name, subresource] = rest;
  if (!resource) throw new Error(`no resource in ${request}`);
  const watch = r.query.watch === 'true' || r.query.watch === '1';
  let verb: string;
  switch (r.method.toUpperCase()) {
    case 'GET':
    case 'HEAD':
      verb = watch ? 'watch' : name ? 'get' : 'list';
      break;
    case 'PATCH':
      verb = 'patch';
      break;
    case 'PUT':
      verb = 'update';
      break;
    case 'POST':
      verb = 'create';
      break;
    case 'DELETE':
      verb = name ? 'delete' : 'deletecollection';
      break;
    default:
      throw new Error(`unexpected method in ${request}`);
  }
  return { namespace, apiGroup, resource: subresource ? `${resource}/${subresource}` : resource, verb, request };
}

// ---------------------------------------------------------------------------------------------
// rbac.yaml → grants

interface PolicyRule { apiGroups?: string[]; resources?: string[]; verbs?: string[]; resourceNames?: string[]; nonResourceURLs?: string[] }
interface RbacObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: PolicyRule[];
  roleRef?: { apiGroup: string; kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
}
interface Grant {
  /** undefined: cluster-wide (ClusterRoleBinding); otherwise only this namespace (RoleBinding). */
  namespace?: string;
  apiGroup: string;
  resource: string;
  verb: string;
  via: string;
}

function loadYamlDocs<T>(file: string): T[] {
  const docs = parseAllDocuments(readFileSync(join(DEPLOY, file), 'utf8'));
  for (const d of docs) if (d.errors.length) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
  return docs.map((d) => d.toJS() as T).filter((x) => x != null);
}

function grantsFor(objects: RbacObject[], sa: { name: string; namespace: string }): Grant[] {
  const roles = new Map<string, RbacObject>();
  for (const o of objects) {
    if (o.kind === 'ClusterRole') roles.set(`ClusterRole/${o.metadata.name}`, o);
    if (o.kind === 'Role') roles.set(`Role/${o.metadata.namespace}/${o.metadata.name}`, o);
  }
  const grants: Grant[] = [];
  for (const b of objects) {
    if (b.kind !== 'ClusterRoleBinding' && b.kind !== 'RoleBinding') continue;
    const forSa = (b.subjects ?? []).some((s) => s.kind === 'ServiceAccount' && s.name === sa.name && s.namespace === sa.namespace);
    if (!forSa) continue;
    const ref = b.roleRef!;
    const key = ref.kind === 'Role' ? `Role/${b.metadata.namespace}/${ref.name}` : `ClusterRole/${ref.name}`;
    const role = roles.get(key);
    if (!role) throw new Error(`${b.kind} ${b.metadata.name} refers to ${key}, which rbac.yaml does not define`);
    if (b.kind === 'ClusterRoleBinding' && ref.kind !== 'ClusterRole') throw new Error(`ClusterRoleBinding ${b.metadata.name} must refer to a ClusterRole`);
    const namespace = b.kind === 'RoleBinding' ? b.metadata.namespace : undefined;
    if (b.kind === 'RoleBinding' && !namespace) throw new Error(`RoleBinding ${b.metadata.name} has no namespace`);
    for (const rule of role.rules ?? []) {
      for (const apiGroup of rule.apiGroups ?? []) {
        for (const resource of rule.resources ?? []) {
          for (const verb of rule.verbs ?? []) {
            grants.push({ namespace, apiGroup, resource, verb, via: `${b.kind} ${namespace ? `${namespace}/` : ''}${b.metadata.name} → ${key}` });
          }
        }
      }
    }
  }
  return grants;
}

/** A cluster-wide grant covers every request; a namespaced grant only namespaced requests in its namespace. */
const covers = (g: Grant, a: Access): boolean =>
  g.apiGroup === a.apiGroup && g.resource === a.resource && g.verb === a.verb && (g.namespace === undefined || g.namespace === a.namespace);

const fmtGrant = (g: Grant) => `${g.apiGroup || 'core'} ${g.resource} ${g.verb} (${g.via})`;
const fmtAccess = (a: Access) => `${a.apiGroup || 'core'} ${a.resource} ${a.verb}${a.namespace ? ` in ${a.namespace}` : ' (cluster-wide)'}: ${a.request}`;

// ---------------------------------------------------------------------------------------------
// Drive the adapter

let server: KubeApiServer;
let requests: RecordedRequest[] = [];

async function exercise(target: KubernetesTarget, replicas: number, opts: { stall?: () => Promise<void> } = {}): Promise<void> {
  const plan = await target.plan(replicas);
  for (const probe of KUBERNETES_PROBES) {
    const result = await target.probe(probe, replicas);
    expect(result.values, `${probe}: ${result.summary}`).toBeDefined();
  }
  await target.apply(plan.operation);
  expect(await target.reconcile(plan.operation)).toMatchObject({ status: 'applied' });
  const ac = new AbortController();
  const rollout = await target.waitForRollout(plan.expect, Date.now() + 15_000, ac.signal);
  expect(rollout, rollout.result.summary).toMatchObject({ passed: true });
  // Rollback operation too (same operation type, the other direction).
  await target.apply(plan.undo);
  expect(await target.reconcile(plan.undo)).toMatchObject({ status: 'applied' });
  await opts.stall?.();
}

beforeAll(async () => {
  server = await startKubeApiServer({ tickMs: 10 });
  server.addNode({ name: 'node-1', cpu: '8', memory: '32Gi' });
  server.addNode({ name: 'node-2', cpu: '8', memory: '32Gi' });
  server.addDeployment({ namespace: NS, name: 'web', replicas: 3 });
  server.addDeployment({ namespace: NS, name: 'api', replicas: 2 });
  server.addHpa({ namespace: NS, name: 'api', target: 'api', minReplicas: 2, maxReplicas: 4 });
  server.addPdb({ namespace: NS, name: 'web', minAvailable: '50%' });
  server.addDeployment({ namespace: 'other', name: 'noise', replicas: 2 });
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(server.kubeconfigPath);

  // No HPA: the scale subresource. Then a rollout that does not settle, to cover the diagnosis.
  const web = new KubernetesTarget(kc, { namespace: NS, deployment: 'web' }, systemClock);
  const webPlan = await web.plan(5);
  expect(webPlan.operation.type).toBe('set-replicas');
  await exercise(web, 5, {
    stall: async () => {
      server.stallScheduling(true);
      const plan = await web.plan(40);
      await web.apply(plan.operation);
      const stuck = await web.waitForRollout(plan.expect, Date.now() + 500, new AbortController().signal);
      expect(stuck.passed).toBe(false);
      server.stallScheduling(false);
      await web.apply(plan.undo);
    },
  });

  // HPA found by scaleTargetRef (list), and HPA named in the catalog (get).
  const api = new KubernetesTarget(kc, { namespace: NS, deployment: 'api' }, systemClock);
  const apiPlan = await api.plan(6);
  expect(apiPlan.operation).toMatchObject({ type: 'set-hpa-bounds', hpa: 'api', minReplicas: 6, maxReplicas: 6 });
  await exercise(api, 6);
  const named = new KubernetesTarget(kc, { namespace: NS, deployment: 'api', hpa: 'api' }, systemClock);
  expect((await named.plan(3)).operation.type).toBe('set-hpa-bounds');
  await exercise(named, 3);

  requests = [...server.requests];
}, 60_000);

afterAll(async () => {
  await server?.close();
});

// ---------------------------------------------------------------------------------------------

describe('deploy/kubernetes/rbac.yaml', () => {
  const objects = loadYamlDocs<RbacObject>('rbac.yaml');
  const sa = loadYamlDocs<RbacObject>('serviceaccount.yaml').find((o) => o.kind === 'ServiceAccount')!;
  const saRef = { name: sa.metadata.name, namespace: sa.metadata.namespace ?? 'default' };
  const grants = grantsFor(objects, saRef);

  it('binds its roles to the ServiceAccount the Deployment runs as', () => {
    const deployment = loadYamlDocs<{ kind: string; spec: { template: { spec: { serviceAccountName?: string } } }; metadata: { namespace?: string } }>('deployment.yaml')
      .find((o) => o.kind === 'Deployment')!;
    expect(deployment.spec.template.spec.serviceAccountName).toBe(saRef.name);
    expect(deployment.metadata.namespace).toBe(saRef.namespace);
    for (const b of objects.filter((o) => o.kind.endsWith('Binding'))) {
      expect(b.subjects, `${b.kind} ${b.metadata.name}`).toEqual([{ kind: 'ServiceAccount', name: saRef.name, namespace: saRef.namespace }]);
    }
    expect(grants.length).toBeGreaterThan(0);
  });

  it('binds the scaler rights in every namespace the catalog ConfigMap scales in', () => {
    const cm = loadYamlDocs<{ kind: string; data: Record<string, string> }>('configmap-catalog.yaml').find((o) => o.kind === 'ConfigMap')!;
    const catalog = parse(cm.data['catalog.yml']!) as { services: Record<string, { target: { namespace?: string } }> };
    const namespaces = new Set(Object.values(catalog.services).map((s) => s.target.namespace ?? 'default'));
    for (const ns of namespaces) {
      expect(grants.some((g) => g.namespace === ns && g.resource === 'deployments/scale' && g.verb === 'patch'), `no RoleBinding grants the scaler role in ${ns}`).toBe(true);
    }
  });

  it('uses no wildcard, resourceNames or nonResourceURLs', () => {
    for (const o of objects) {
      for (const rule of o.rules ?? []) {
        expect(rule.nonResourceURLs, `${o.metadata.name}`).toBeUndefined();
        expect(rule.resourceNames, `${o.metadata.name}`).toBeUndefined();
        for (const v of [...(rule.apiGroups ?? []), ...(rule.resources ?? []), ...(rule.verbs ?? [])]) {
          expect(v, `${o.metadata.name}: ${JSON.stringify(rule)}`).not.toContain('*');
        }
        expect(rule.apiGroups?.length && rule.resources?.length && rule.verbs?.length, `${o.metadata.name}: empty rule`).toBeTruthy();
      }
    }
  });

  it('the adapter exercised every operation (sanity of the drive)', () => {
    const accesses = requests.map(toAccess);
    const seen = new Set(accesses.map((a) => `${a.apiGroup}|${a.resource}|${a.verb}`));
    // Both operation types were applied and the rollout was watched.
    expect(seen).toContain('apps|deployments/scale|patch');
    expect(seen).toContain('autoscaling|horizontalpodautoscalers|patch');
    expect(seen).toContain('apps|deployments|watch');
    expect(seen).toContain('|nodes|list');
    // The read-only probes: usage, disruption budgets, rollout history.
    expect(seen).toContain('metrics.k8s.io|pods|list');
    expect(seen).toContain('policy|poddisruptionbudgets|list');
    expect(seen).toContain('apps|replicasets|list');
  });

  it('grants every request the adapter makes, in its scope', () => {
    const accesses = requests.map(toAccess);
    expect(accesses.length).toBeGreaterThan(20);
    const denied = accesses.filter((a) => !grants.some((g) => covers(g, a)));
    expect([...new Set(denied.map(fmtAccess))]).toEqual([]);
  });

  it('grants nothing the adapter does not use', () => {
    const accesses = requests.map(toAccess);
    const unused = grants.filter((g) => !accesses.some((a) => covers(g, a)));
    expect(unused.map(fmtGrant)).toEqual([]);
  });

  it('reads metrics, PDBs and ReplicaSets only in the catalog namespaces (RoleBinding), never cluster-wide', () => {
    const probeGrants = grants.filter((g) => ['metrics.k8s.io|pods', 'policy|poddisruptionbudgets', 'apps|replicasets'].includes(`${g.apiGroup}|${g.resource}`));
    expect(probeGrants.map((g) => `${g.apiGroup} ${g.resource} ${g.verb} in ${g.namespace}`).sort()).toEqual([
      `apps replicasets list in ${NS}`,
      `metrics.k8s.io pods list in ${NS}`,
      `policy poddisruptionbudgets list in ${NS}`,
    ]);
    const metrics = requests.filter((r) => r.path.startsWith('/apis/metrics.k8s.io/'));
    expect(metrics.length).toBeGreaterThan(0);
    expect(metrics.every((r) => r.path === `/apis/metrics.k8s.io/v1beta1/namespaces/${NS}/pods` && r.query.labelSelector)).toBe(true);
  });
});

describe('toAccess (request → RBAC attributes)', () => {
  const req = (method: string, path: string, query: Record<string, string> = {}): RecordedRequest => ({ method, path, query, at: 0 });
  it.each([
    ['GET named', req('GET', '/apis/apps/v1/namespaces/prod/deployments/web'), { namespace: 'prod', apiGroup: 'apps', resource: 'deployments', verb: 'get' }],
    ['GET watch=true', req('GET', '/apis/apps/v1/namespaces/prod/deployments', { watch: 'true' }), { namespace: 'prod', apiGroup: 'apps', resource: 'deployments', verb: 'watch' }],
    ['GET watch=1', req('GET', '/apis/apps/v1/namespaces/prod/deployments', { watch: '1' }), { verb: 'watch' }],
    ['GET collection', req('GET', '/apis/apps/v1/namespaces/prod/deployments'), { verb: 'list' }],
    ['PATCH subresource', req('PATCH', '/apis/apps/v1/namespaces/prod/deployments/web/scale'), { resource: 'deployments/scale', verb: 'patch' }],
    ['PUT subresource', req('PUT', '/apis/apps/v1/namespaces/prod/deployments/web/scale'), { resource: 'deployments/scale', verb: 'update' }],
    ['GET all-namespace collection', req('GET', '/api/v1/pods'), { namespace: undefined, apiGroup: '', resource: 'pods', verb: 'list' }],
    ['GET cluster-scoped collection', req('GET', '/api/v1/nodes'), { namespace: undefined, apiGroup: '', resource: 'nodes', verb: 'list' }],
    ['GET a namespace', req('GET', '/api/v1/namespaces/prod'), { namespace: undefined, resource: 'namespaces', verb: 'get' }],
  ] as const)('%s', (_label, r, expected) => {
    expect(toAccess(r)).toMatchObject(expected);
  });
  it('refuses non-resource URLs', () => {
    expect(() => toAccess(req('GET', '/version'))).toThrow(/nonResourceURLs/);
  });
});
