/**
 * The HTTP face of the simulated cluster: request recording, authentication, injected failures,
 * routing of Kubernetes REST paths, list/get/patch/put/delete handlers and watch streams.
 *
 * Supported paths (JSON only):
 *   /healthz /livez /readyz /version                      (no authentication needed)
 *   /api, /api/v1, /apis, /apis/{group}, /apis/{group}/{version}   discovery documents
 *   /api/v1/pods, /api/v1/namespaces/{ns}/pods[/{name}]    list, watch, get, delete
 *   /api/v1/nodes[/{name}]                                 list, watch, get
 *   /api/v1/namespaces[/{name}]                            list, get (derived from stored objects)
 *   /apis/apps/v1/deployments, .../namespaces/{ns}/deployments[/{name}]   list, watch, get, patch, put
 *   .../deployments/{name}/scale                           get, patch, put (autoscaling/v1 Scale)
 *   .../deployments/{name}/status                          get
 *   /apis/apps/v1/[namespaces/{ns}/]replicasets[/{name}]   list, watch, get (made by the deployment controller)
 *   /apis/autoscaling/v2/[namespaces/{ns}/]horizontalpodautoscalers[/{name}]  list, watch, get, patch, put
 *   /apis/policy/v1/[namespaces/{ns}/]poddisruptionbudgets[/{name}]  list, watch, get, create (POST), patch, put, delete
 *   /apis/metrics.k8s.io/v1beta1/[namespaces/{ns}/]pods[/{name}], /apis/metrics.k8s.io/v1beta1/nodes[/{name}]
 *     (while `cluster.metricsServer` is 'absent' the group is not served at all: 404 and missing
 *     from discovery, like a cluster without metrics-server; 'unavailable': 503, like an
 *     APIService whose backend is down)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, badRequest, notFound, qualifiedResource, statusBody, reasonForCode, type StatusDetails } from './errors.ts';
import { applyPatch } from './patch.ts';
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector, type FieldRequirement } from './selectors.ts';
import { apiVersionOf, type ResourceType, type StoredEvent, type Store } from './store.ts';
import type { SimulatedCluster } from './cluster.ts';
import type { KubeObject, RecordedRequest } from './types.ts';

/** An injected failure (see `KubeApiServer.failNext`). */
export interface FailRule {
  method?: string;
  /** Tested against the URL path (without query string). */
  path: RegExp;
  status: 403 | 404 | 409 | 422 | 500 | 503;
  /** How many matching requests fail; default 1. */
  times?: number;
  message?: string;
}

/**
 * Holds the next matching request, to kill a client at an exact moment (see `KubeApiServer.holdNext`).
 * `drop`: never applied; the connection is cut on release. `apply-then-hang`: applied at once, but
 * the answer is held until release (the client never learns it succeeded).
 */
export interface HoldRule {
  method?: string;
  path: RegExp;
  mode: 'drop' | 'apply-then-hang';
}

export interface Hold {
  /** Resolves when a matching request has arrived (and, for apply-then-hang, been applied). */
  caught: Promise<void>;
  release(): void;
}

export interface HttpContext {
  cluster: SimulatedCluster;
  requests: RecordedRequest[];
  failRules: { rule: FailRule; remaining: number }[];
  holds: { rule: HoldRule; caught: () => void; released: Promise<void> }[];
  /** Open watch responses, ended by `close()`. */
  watches: Set<ServerResponse>;
}

interface Call {
  method: string;
  segments: string[];
  query: Record<string, string>;
  body: unknown;
  contentType: string | undefined;
  res: ServerResponse;
  host: string;
}

const MAX_BODY = 3 * 1024 * 1024;
const USER = 'test-user';

const METRICS_PODS: ResourceType = { group: 'metrics.k8s.io', version: 'v1beta1', plural: 'pods', kind: 'PodMetrics', namespaced: true, fieldLabels: ['metadata.name', 'metadata.namespace'] };
const METRICS_NODES: ResourceType = { group: 'metrics.k8s.io', version: 'v1beta1', plural: 'nodes', kind: 'NodeMetrics', namespaced: false, fieldLabels: ['metadata.name'] };
const NAMESPACES: ResourceType = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false, fieldLabels: ['metadata.name', 'status.phase'] };

/** Discovery: group/version → resources served there. */
const DISCOVERY: Record<string, { name: string; kind: string; namespaced: boolean; verbs: string[]; shortNames?: string[] }[]> = {
  v1: [
    { name: 'pods', kind: 'Pod', namespaced: true, verbs: ['delete', 'get', 'list', 'watch'], shortNames: ['po'] },
    { name: 'nodes', kind: 'Node', namespaced: false, verbs: ['get', 'list', 'watch'], shortNames: ['no'] },
    { name: 'namespaces', kind: 'Namespace', namespaced: false, verbs: ['get', 'list'], shortNames: ['ns'] },
  ],
  'apps/v1': [
    { name: 'deployments', kind: 'Deployment', namespaced: true, verbs: ['get', 'list', 'patch', 'update', 'watch'], shortNames: ['deploy'] },
    { name: 'deployments/scale', kind: 'Scale', namespaced: true, verbs: ['get', 'patch', 'update'] },
    { name: 'deployments/status', kind: 'Deployment', namespaced: true, verbs: ['get'] },
    { name: 'replicasets', kind: 'ReplicaSet', namespaced: true, verbs: ['get', 'list', 'watch'], shortNames: ['rs'] },
  ],
  'autoscaling/v2': [
    { name: 'horizontalpodautoscalers', kind: 'HorizontalPodAutoscaler', namespaced: true, verbs: ['get', 'list', 'patch', 'update', 'watch'], shortNames: ['hpa'] },
  ],
  'policy/v1': [
    { name: 'poddisruptionbudgets', kind: 'PodDisruptionBudget', namespaced: true, verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], shortNames: ['pdb'] },
  ],
  'metrics.k8s.io/v1beta1': [
    { name: 'pods', kind: 'PodMetrics', namespaced: true, verbs: ['get', 'list'] },
    { name: 'nodes', kind: 'NodeMetrics', namespaced: false, verbs: ['get', 'list'] },
  ],
};

export function sendJson(res: ServerResponse, code: number, body: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const data = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data), 'Cache-Control': 'no-cache, private' });
  res.end(data);
}

function sendError(res: ServerResponse, err: unknown): void {
  if (err instanceof ApiError) sendJson(res, err.code, err.toStatus());
  else sendJson(res, 500, statusBody(500, `Internal error occurred: ${err instanceof Error ? err.message : String(err)}`));
}

const pathNotFound = (): ApiError => new ApiError(404, 'the server could not find the requested resource', { details: {} });
const methodNotAllowed = (): ApiError => new ApiError(405, 'the server does not allow this method on the requested resource', { details: {} });

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += b.length;
    if (size > MAX_BODY) throw new ApiError(413, 'Request entity too large: limit is 3145728');
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** The Node request listener: never throws, always answers. */
export function createRequestListener(ctx: HttpContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    serve(ctx, req, res).catch((err: unknown) => {
      try {
        sendError(res, err);
      } catch {
        res.destroy();
      }
    });
  };
}

async function serve(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const at = Date.now();
  const url = new URL(req.url ?? '/', 'http://localhost');
  const method = (req.method ?? 'GET').toUpperCase();
  const query = Object.fromEntries(url.searchParams);
  const contentType = req.headers['content-type'];
  const record: RecordedRequest = { method, path: url.pathname, query, at };
  if (contentType) record.contentType = contentType;
  ctx.requests.push(record);

  const raw = await readBody(req);
  let body: unknown;
  let bodyError: string | undefined;
  if (raw.length > 0) {
    const text = raw.toString('utf8');
    const jsonish = !contentType || /json/i.test(contentType);
    try {
      body = jsonish ? JSON.parse(text) : text;
    } catch (e) {
      body = text;
      if (contentType) bodyError = `couldn't get version/kind; json parse error: ${e instanceof Error ? e.message : String(e)}`;
    }
    record.body = body;
  }

  let segments: string[];
  try {
    segments = url.pathname.split('/').filter((s) => s.length > 0).map((s) => decodeURIComponent(s));
  } catch {
    throw badRequest(`invalid URL path: ${url.pathname}`);
  }

  const first = segments[0];
  if (segments.length === 1 && (first === 'healthz' || first === 'livez' || first === 'readyz')) {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('ok');
    return;
  }
  if (segments.length === 1 && first === 'version') {
    sendJson(res, 200, { major: '1', minor: '31', gitVersion: 'v1.31.0-scalebot-sim', gitCommit: '0000000', gitTreeState: 'clean', buildDate: '2024-08-13T00:00:00Z', goVersion: 'go1.22.5', compiler: 'gc', platform: 'linux/amd64' });
    return;
  }

  const auth = req.headers.authorization;
  if (!auth || !/^Bearer\s+\S+/i.test(auth)) {
    sendJson(res, 401, statusBody(401, 'Unauthorized'));
    return;
  }

  const holdIndex = ctx.holds.findIndex(({ rule }) => (!rule.method || rule.method.toUpperCase() === method) && rule.path.test(url.pathname));
  if (holdIndex >= 0) {
    const hold = ctx.holds.splice(holdIndex, 1)[0]!;
    if (hold.rule.mode === 'drop') {
      hold.caught();
      await hold.released;
      res.destroy();
      return;
    }
    // Apply now; hold the answer.
    const writeHead = res.writeHead.bind(res);
    const end = res.end.bind(res);
    const pending: (() => void)[] = [];
    res.writeHead = ((...args: Parameters<typeof res.writeHead>) => {
      pending.push(() => writeHead(...args));
      return res;
    }) as typeof res.writeHead;
    res.end = ((...args: Parameters<typeof res.end>) => {
      pending.push(() => end(...args));
      hold.caught();
      void hold.released.then(() => {
        if (!res.destroyed) for (const fn of pending) fn();
      });
      return res;
    }) as typeof res.end;
  }
  const failure = takeFailure(ctx, method, url.pathname);
  if (failure) {
    const d = describe(method, segments, query);
    const message = failure.message ?? defaultFailureMessage(failure.status, d);
    const details: StatusDetails | undefined = d.name ? { name: d.name, group: d.group, kind: d.plural } : undefined;
    sendJson(res, failure.status, statusBody(failure.status, message, reasonForCode(failure.status), details));
    return;
  }
  if (bodyError) throw badRequest(bodyError);

  route(ctx, { method, segments, query, body, contentType, res, host: req.headers.host ?? '127.0.0.1' });
}

function takeFailure(ctx: HttpContext, method: string, path: string): FailRule | undefined {
  const i = ctx.failRules.findIndex(({ rule }) => {
    if (rule.method && rule.method.toUpperCase() !== method) return false;
    rule.path.lastIndex = 0;
    return rule.path.test(path);
  });
  const hit = ctx.failRules[i];
  if (!hit) return undefined;
  hit.remaining -= 1;
  if (hit.remaining <= 0) ctx.failRules.splice(i, 1);
  return hit.rule;
}

interface RequestDescription { verb: string; group: string; plural: string; namespace?: string; name?: string; subresource?: string }

/** Best-effort parse of a resource path, for wording injected failures. */
function describe(method: string, segments: string[], query: Record<string, string>): RequestDescription {
  const rest = segments[0] === 'api' ? segments.slice(2) : segments.slice(3);
  const group = segments[0] === 'apis' ? (segments[1] ?? '') : '';
  let namespace: string | undefined;
  let tail = rest;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    tail = rest.slice(2);
  }
  const [plural = '', name, subresource] = tail;
  const watch = query.watch === 'true' || query.watch === '1';
  const verb = method === 'GET' ? (watch ? 'watch' : name ? 'get' : 'list')
    : method === 'PATCH' ? 'patch' : method === 'PUT' ? 'update' : method === 'POST' ? 'create' : method === 'DELETE' ? 'delete' : method.toLowerCase();
  const d: RequestDescription = { verb, group, plural };
  if (namespace !== undefined) d.namespace = namespace;
  if (name !== undefined) d.name = name;
  if (subresource !== undefined) d.subresource = subresource;
  return d;
}

function defaultFailureMessage(code: number, d: RequestDescription): string {
  const res = qualifiedResource(d);
  const what = d.name ? `${res} "${d.name}"` : res;
  switch (code) {
    case 403: {
      const resource = d.subresource ? `${d.plural}/${d.subresource}` : d.plural;
      const where = d.namespace !== undefined ? ` in the namespace "${d.namespace}"` : ' at the cluster scope';
      return `${what} is forbidden: User "${USER}" cannot ${d.verb} resource "${resource}" in API group "${d.group}"${where}`;
    }
    case 404: return d.name ? `${what} not found` : 'the server could not find the requested resource';
    case 409: return `Operation cannot be fulfilled on ${what}: the object has been modified; please apply your changes to the latest version and try again`;
    case 422: return `${what} is invalid: simulated validation failure`;
    case 500: return 'Internal error occurred: simulated failure';
    case 503: return 'the server is currently unable to handle the request';
    default: return 'simulated failure';
  }
}

// ------------------------------------------------------------------ routing

function route(ctx: HttpContext, c: Call): void {
  const [root, a, b] = c.segments;
  if (root === 'api') {
    if (c.segments.length === 1) return sendJson(c.res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: c.host }] });
    if (a !== 'v1') throw pathNotFound();
    return resourceRoute(ctx, c, '', 'v1', c.segments.slice(2));
  }
  if (root === 'apis') {
    if (c.segments.length === 1) return sendJson(c.res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: apiGroups(ctx) });
    const group = apiGroups(ctx).find((g) => g.name === a);
    if (!group) throw pathNotFound();
    if (a === 'metrics.k8s.io' && ctx.cluster.metricsServer === 'unavailable') {
      // kube-aggregator's answer when the APIService's backend does not respond: plain text, not a Status.
      c.res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
      c.res.end('service unavailable\n');
      return;
    }
    if (c.segments.length === 2) return sendJson(c.res, 200, { kind: 'APIGroup', apiVersion: 'v1', ...group });
    if (!b || !(`${a}/${b}` in DISCOVERY)) throw pathNotFound();
    return resourceRoute(ctx, c, a ?? '', b, c.segments.slice(3));
  }
  throw pathNotFound();
}

function apiGroups(ctx: HttpContext): { name: string; versions: { groupVersion: string; version: string }[]; preferredVersion: { groupVersion: string; version: string } }[] {
  const served = (gv: string): boolean => gv.includes('/') && !(gv.startsWith('metrics.k8s.io/') && ctx.cluster.metricsServer === 'absent');
  return Object.keys(DISCOVERY).filter(served).map((gv) => {
    const [name = '', version = ''] = gv.split('/');
    const v = { groupVersion: gv, version };
    return { name, versions: [v], preferredVersion: v };
  });
}

function resourceRoute(ctx: HttpContext, c: Call, group: string, version: string, rest: string[]): void {
  const gv = group ? `${group}/${version}` : version;
  if (rest.length === 0) {
    if (c.method !== 'GET') throw methodNotAllowed();
    const resources = (DISCOVERY[gv] ?? []).map((r) => ({ ...r, singularName: r.name.includes('/') ? '' : r.kind.toLowerCase() }));
    return sendJson(c.res, 200, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv, resources });
  }
  let ns: string | undefined;
  let tail = rest;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    ns = rest[1];
    tail = rest.slice(2);
  }
  if (tail.length > 3) throw pathNotFound();
  const [plural = '', name, sub] = tail;
  const cl = ctx.cluster;
  const dryRun = c.query.dryRun === 'All';
  switch (`${gv}/${plural}`) {
    case 'v1/pods':
      return storeResource(ctx, c, cl.pods, ns, name, sub, {
        delete: (n, nm) => cl.deletePod(n, nm),
      });
    case 'v1/nodes':
      return storeResource(ctx, c, cl.nodes, ns, name, sub, {});
    case 'v1/namespaces':
      return derivedResource(c, NAMESPACES, ns, name, sub, () => namespaceObjects(ctx), String(cl.log.currentVersion));
    case 'apps/v1/deployments':
      return storeResource(ctx, c, cl.deployments, ns, name, sub, {
        write: (n, nm, body) => cl.writeDeployment(n, nm, body, dryRun),
        subresources: {
          scale: (n, nm) => {
            const current = cl.getDeploymentOrThrow(n, nm);
            const view = cl.scaleOf(current);
            if (c.method === 'GET') return view;
            if (c.method === 'PATCH') return cl.writeScale(n, nm, applyPatch(c.contentType, view, c.body), dryRun);
            if (c.method === 'PUT') return cl.writeScale(n, nm, c.body, dryRun);
            throw methodNotAllowed();
          },
          status: (n, nm) => {
            if (c.method !== 'GET') throw methodNotAllowed();
            return cl.getDeploymentOrThrow(n, nm);
          },
        },
      });
    case 'apps/v1/replicasets':
      return storeResource(ctx, c, cl.replicaSets, ns, name, sub, {});
    case 'autoscaling/v2/horizontalpodautoscalers':
      return storeResource(ctx, c, cl.hpas, ns, name, sub, {
        write: (n, nm, body) => cl.writeHpa(n, nm, body, dryRun),
      });
    case 'policy/v1/poddisruptionbudgets':
      return storeResource(ctx, c, cl.pdbs, ns, name, sub, {
        create: (n, body) => cl.createPdb(n, body, dryRun),
        write: (n, nm, body) => cl.writePdb(n, nm, body, dryRun),
        delete: (n, nm) => cl.deletePdb(n, nm),
      });
    case 'metrics.k8s.io/v1beta1/pods':
      return derivedResource(c, METRICS_PODS, ns, name, sub, () => cl.podMetrics(ns).map((m) => ({ kind: 'PodMetrics', apiVersion: 'metrics.k8s.io/v1beta1', ...m })));
    case 'metrics.k8s.io/v1beta1/nodes':
      return derivedResource(c, METRICS_NODES, ns, name, sub, () => cl.nodeMetrics().map((m) => ({ kind: 'NodeMetrics', apiVersion: 'metrics.k8s.io/v1beta1', ...m })));
    default:
      throw pathNotFound();
  }
}

interface ResourceOps<T extends KubeObject> {
  /** POST to the namespaced collection: validate and store `body` as a new object. */
  create?: (ns: string, body: unknown) => T;
  /** PUT, and PATCH after the patch is applied: persist `body` as the new object. */
  write?: (ns: string, name: string, body: unknown) => T;
  delete?: (ns: string, name: string) => T;
  subresources?: Record<string, (ns: string, name: string) => unknown>;
}

const isWatch = (q: Record<string, string>): boolean => q.watch === 'true' || q.watch === '1';

function storeResource<T extends KubeObject>(ctx: HttpContext, c: Call, store: Store<T>, ns: string | undefined, name: string | undefined, sub: string | undefined, ops: ResourceOps<T>): void {
  const type = store.type;
  if (!type.namespaced && ns !== undefined) throw pathNotFound();
  if (name === undefined) {
    if (c.method === 'POST' && ops.create && ns !== undefined) return sendJson(c.res, 201, ops.create(ns, c.body));
    if (c.method !== 'GET') throw methodNotAllowed();
    if (isWatch(c.query)) return serveWatch(ctx, c, store, ns);
    return sendJson(c.res, 200, listBody(type, store.list(ns), c.query, String(ctx.cluster.log.currentVersion)));
  }
  if (type.namespaced && ns === undefined) throw pathNotFound();
  const n = ns ?? '';
  if (sub !== undefined) {
    const handler = ops.subresources?.[sub];
    if (!handler) throw pathNotFound();
    return sendJson(c.res, 200, handler(n, name));
  }
  switch (c.method) {
    case 'GET': {
      if (isWatch(c.query)) return serveWatch(ctx, c, store, ns, { field: 'metadata.name', op: '=', value: name });
      const obj = store.get(ns, name);
      if (!obj) throw notFound(type, name);
      return sendJson(c.res, 200, obj);
    }
    case 'PATCH': {
      if (!ops.write) throw methodNotAllowed();
      const current = store.get(ns, name);
      if (!current) throw notFound(type, name);
      return sendJson(c.res, 200, ops.write(n, name, applyPatch(c.contentType, current, c.body)));
    }
    case 'PUT':
      if (!ops.write) throw methodNotAllowed();
      if (!store.has(ns, name)) throw notFound(type, name);
      return sendJson(c.res, 200, ops.write(n, name, c.body));
    case 'DELETE':
      if (!ops.delete) throw methodNotAllowed();
      return sendJson(c.res, 200, ops.delete(n, name));
    default:
      throw methodNotAllowed();
  }
}

/** Read-only resources computed on demand (namespaces, metrics): list and get, no watch. */
function derivedResource(c: Call, type: ResourceType, ns: string | undefined, name: string | undefined, sub: string | undefined,
  all: () => KubeObjectLike[], resourceVersion?: string): void {
  if (c.method !== 'GET' || sub !== undefined) throw c.method !== 'GET' ? methodNotAllowed() : pathNotFound();
  if (!type.namespaced && ns !== undefined) throw pathNotFound();
  if (isWatch(c.query)) throw methodNotAllowed();
  const items = all().filter((o) => ns === undefined || o.metadata.namespace === ns);
  if (name === undefined) return sendJson(c.res, 200, listBody(type, items, c.query, resourceVersion));
  const obj = items.find((o) => o.metadata.name === name);
  if (!obj) throw notFound(type, name);
  return sendJson(c.res, 200, obj);
}

interface KubeObjectLike { metadata: { name: string; namespace?: string; labels?: Record<string, string> } }

function namespaceObjects(ctx: HttpContext): KubeObjectLike[] {
  return ctx.cluster.namespaceNames().map((name) => ({
    apiVersion: 'v1', kind: 'Namespace',
    metadata: { name, uid: `00000000-0000-4000-8000-${Buffer.from(name).toString('hex').padEnd(12, '0').slice(0, 12)}`, resourceVersion: '1', creationTimestamp: '2024-01-01T00:00:00Z', labels: { 'kubernetes.io/metadata.name': name } },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  }));
}

/**
 * A `<Kind>List` with label/field selectors and `limit`/`continue` paging applied. Items carry no
 * apiVersion/kind, as with the real API server.
 */
function listBody(type: ResourceType, items: KubeObjectLike[], q: Record<string, string>, resourceVersion?: string): unknown {
  const labels = parseLabelSelector(q.labelSelector);
  const fields = parseFieldSelector(q.fieldSelector, type.fieldLabels);
  let matched = items.filter((o) => matchesLabels(labels, o.metadata.labels) && matchesFields(fields, o));
  const metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number } = {};
  if (resourceVersion) metadata.resourceVersion = resourceVersion;
  let offset = 0;
  if (q.continue) {
    offset = Number(Buffer.from(q.continue, 'base64url').toString('utf8'));
    if (!Number.isInteger(offset) || offset < 0) throw badRequest('continue key is not valid: invalid continue token');
  }
  const limit = q.limit ? Number(q.limit) : 0;
  if (offset > 0) matched = matched.slice(offset);
  if (limit > 0 && matched.length > limit) {
    metadata.continue = Buffer.from(String(offset + limit)).toString('base64url');
    metadata.remainingItemCount = matched.length - limit;
    matched = matched.slice(0, limit);
  }
  const stripped = matched.map((o) => {
    const copy: Record<string, unknown> = { ...o };
    delete copy.apiVersion;
    delete copy.kind;
    return copy;
  });
  return { kind: `${type.kind}List`, apiVersion: apiVersionOf(type), metadata, items: stripped };
}

// ------------------------------------------------------------------ watch

/**
 * Stream watch events as newline-delimited JSON. Without `resourceVersion` (or with "0"), the
 * current matching objects are sent as ADDED first; otherwise events after that version are
 * replayed from the log. Objects entering/leaving a selector are sent as ADDED/DELETED, like
 * the real API server. `timeoutSeconds` ends the stream.
 */
function serveWatch<T extends KubeObject>(ctx: HttpContext, c: Call, store: Store<T>, ns: string | undefined, extra?: FieldRequirement): void {
  const type = store.type;
  const log = ctx.cluster.log;
  const labels = parseLabelSelector(c.query.labelSelector);
  const fields = parseFieldSelector(c.query.fieldSelector, type.fieldLabels);
  if (extra) fields.push(extra);
  const rvParam = c.query.resourceVersion;
  let replay: StoredEvent[] | undefined = [];
  const initial = !rvParam || rvParam === '0';
  if (!initial) {
    const n = Number(rvParam);
    if (!/^\d+$/.test(rvParam) || !Number.isSafeInteger(n)) throw badRequest(`resourceVersion: Invalid value: "${rvParam}": must be a non-negative integer`);
    replay = log.since(n);
  }
  const timeout = c.query.timeoutSeconds ? Number(c.query.timeoutSeconds) : undefined;
  if (timeout !== undefined && (!Number.isFinite(timeout) || timeout < 0)) throw badRequest(`timeoutSeconds: Invalid value: "${c.query.timeoutSeconds}"`);

  const res = c.res;
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
  res.flushHeaders();
  const send = (eventType: string, object: unknown): void => {
    if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify({ type: eventType, object })}\n`);
  };
  if (replay === undefined) {
    send('ERROR', statusBody(410, `too old resource version: ${rvParam} (${log.currentVersion})`, 'Expired'));
    res.end();
    return;
  }
  const matches = (o: KubeObject | undefined): boolean =>
    !!o && (ns === undefined || o.metadata.namespace === ns) && matchesLabels(labels, o.metadata.labels) && matchesFields(fields, o);
  const onEvent = (e: StoredEvent): void => {
    if (e.resource.group !== type.group || e.resource.plural !== type.plural) return;
    const now = matches(e.object);
    const before = matches(e.previous);
    if (e.type === 'ADDED' && now) send('ADDED', e.object);
    else if (e.type === 'MODIFIED' && now) send(before ? 'MODIFIED' : 'ADDED', e.object);
    else if (e.type === 'MODIFIED' && before) send('DELETED', e.object);
    else if (e.type === 'DELETED' && (now || before)) send('DELETED', e.object);
  };
  if (initial) {
    for (const o of store.list(ns)) if (matches(o)) send('ADDED', o);
  } else {
    replay.forEach(onEvent);
  }
  const unsubscribe = log.subscribe(onEvent);
  ctx.watches.add(res);
  const timer = timeout !== undefined ? setTimeout(() => res.end(), timeout * 1000) : undefined;
  res.on('close', () => {
    unsubscribe();
    if (timer) clearTimeout(timer);
    ctx.watches.delete(res);
  });
}
