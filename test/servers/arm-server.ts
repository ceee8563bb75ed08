/**
 * A local Azure Resource Manager server for Microsoft.App container apps, for tests that drive the
 * real `@azure/arm-appcontainers` SDK (plain HTTP on 127.0.0.1, random port).
 *
 * It serves what the Container Apps scale target uses, on ARM's paths and with ARM's bodies:
 *   GET   /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.App/containerApps/{app}
 *   PATCH (same)  → 202 with `Azure-AsyncOperation` and `Location` headers (a JSON merge patch)
 *   GET   …/containerApps/{app}/revisions, …/revisions/{rev}
 *   GET   …/revisions/{rev}/replicas, …/replicas/{replica}
 *   GET   /subscriptions/{s}/providers/Microsoft.App/locations/{loc}/containerappOperationStatuses/{id}
 *         → {status: InProgress | Succeeded | Failed, error?}
 *   GET   …/containerappOperationResults/{id} → 202 while in progress, then 200 with the app
 * Every request needs `api-version` (400 MissingApiVersionParameter otherwise). Errors carry ARM's
 * `{ error: { code, message } }`. The simulation behind it is ./arm/container-apps.ts.
 *
 * Usage:
 *   const arm = await startArmServer({ tickMs: 20, token: 'test-token' });
 *   arm.addApp({ subscription: 'sub-1', resourceGroup: 'rg-prod', name: 'api', minReplicas: 2, maxReplicas: 20 });
 *   arm.failNext({ status: 429, retryAfter: 1, times: 2 });
 *   … arm.requests …
 *   await arm.close();
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { ArmError, ContainerAppsSim, type App, type AppKey, type ContainerAppSeed, type Json, type OperationFailure } from './arm/container-apps.ts';

export type { AppKey, ContainerAppSeed, OperationFailure } from './arm/container-apps.ts';

export interface ArmServerOptions {
  /** Interval of one platform step (revision provisioning, replicas starting and stopping); default 50 ms. */
  tickMs?: number;
  /** When set, every request must carry `Authorization: Bearer <token>` (401 InvalidAuthenticationToken otherwise). */
  token?: string;
  /** Polls a long-running operation answers InProgress before it ends; default 2. */
  lroPolls?: number;
  /** `Retry-After` (seconds) on the 202 of a PATCH and on InProgress polls; not sent when absent. */
  pollRetryAfter?: number;
  /** Replicas added or removed per tick; default 1; 0 stalls. */
  replicaSpeed?: number;
  /** Whether a change of `template.scale` alone creates a new revision; default true. */
  newRevisionOnScale?: boolean;
}

export interface ArmRequest {
  method: string;
  /** URL path without the query string. */
  path: string;
  query: Record<string, string>;
  authorization?: string;
  contentType?: string;
  /** Parsed JSON body, or the raw string; absent when there is none. */
  body?: unknown;
  /** The status it was answered with (absent while held). */
  status?: number;
  at: number;
}

export interface FailRule {
  method?: string;
  /** Tested against the URL path; any path when absent. */
  path?: RegExp;
  status: 400 | 401 | 403 | 404 | 409 | 429 | 500 | 503;
  /** How many matching requests fail; default 1. */
  times?: number;
  /** `Retry-After` in seconds (429 and 503 default to 1). */
  retryAfter?: number;
  code?: string;
  message?: string;
}

export interface HangRule {
  method?: string;
  path?: RegExp;
  times?: number;
}

export interface ArmServer {
  url: string;
  /** Every request received, in arrival order (live array; truncate with `requests.length = 0`). */
  requests: ArmRequest[];
  addApp(seed: ContainerAppSeed): void;
  /** The app as GET returns it. */
  app(key: AppKey): Json;
  /** The app's revisions as the list returns them. */
  revisions(key: AppKey): Json[];
  /** `template.scale` bounds now. */
  scale(key: AppKey): { minReplicas: number; maxReplicas: number };
  /** Someone else changes `template.scale` (no operation, no new revision). */
  setScale(key: AppKey, scale: { minReplicas?: number; maxReplicas?: number }): void;
  /** Load the app's own scale rules react to: replicas settle on it within min..max. */
  setDemand(key: AppKey, replicas: number): void;
  /** Replicas added or removed per tick; 0 stalls the rollout. */
  setReplicaSpeed(perTick: number): void;
  /** Polls the next operations answer InProgress before they end. */
  setLroPolls(polls: number): void;
  /** The next PATCH's operation ends Failed with this code and message. */
  failNextOperation(failure?: OperationFailure): void;
  /** The next revision created fails to provision with this message. */
  failNextRevision(message: string): void;
  /** Answer the next `times` (default 1) matching requests with an ARM error. */
  failNext(rule: FailRule): void;
  /** Never answer the next `times` (default 1) matching requests (until close). */
  hangNext(rule: HangRule): void;
  /** One platform step now (in addition to the timer). */
  tick(): void;
  close(): Promise<void>;
}

const DEFAULT_CODES: Record<number, [string, string]> = {
  400: ['BadRequest', 'The request is invalid.'],
  401: ['InvalidAuthenticationToken', 'The access token is invalid.'],
  403: ['AuthorizationFailed', "The client 'scalebot' with object id '00000000-0000-0000-0000-000000000001' does not have authorization to perform action 'Microsoft.App/containerApps/write' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials."],
  404: ['ResourceNotFound', 'The Resource was not found.'],
  409: ['Conflict', 'The request conflicts with the state of the resource.'],
  429: ['TooManyRequests', 'The request is being throttled as the limit has been reached for operation type - Write_ObservationWindow_00:05:00. For more information, see - https://aka.ms/armthrottling'],
  500: ['InternalServerError', 'Encountered internal server error. Diagnostic information: timestamp, correlation id.'],
  503: ['ServiceUnavailable', 'The service is currently unavailable.'],
};

export async function startArmServer(opts: ArmServerOptions = {}): Promise<ArmServer> {
  const sim = new ContainerAppsSim();
  if (opts.lroPolls !== undefined) sim.lroPolls = opts.lroPolls;
  if (opts.replicaSpeed !== undefined) sim.replicaSpeed = opts.replicaSpeed;
  if (opts.newRevisionOnScale !== undefined) sim.newRevisionOnScale = opts.newRevisionOnScale;
  const requests: ArmRequest[] = [];
  const failRules: { rule: FailRule; remaining: number }[] = [];
  const hangRules: { rule: HangRule; remaining: number }[] = [];
  let url = '';

  const take = <R extends { method?: string; path?: RegExp }>(rules: { rule: R; remaining: number }[], method: string, path: string): R | undefined => {
    const i = rules.findIndex(({ rule }) => (!rule.method || rule.method.toUpperCase() === method) && (!rule.path || new RegExp(rule.path.source, rule.path.flags.replace('g', '')).test(path)));
    const hit = rules[i];
    if (!hit) return undefined;
    if (--hit.remaining <= 0) rules.splice(i, 1);
    return hit.rule;
  };

  const send = (res: ServerResponse, entry: ArmRequest, status: number, body?: unknown, headers: Record<string, string> = {}): void => {
    entry.status = status;
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, {
      ...(text ? { 'Content-Type': 'application/json; charset=utf-8' } : {}),
      'x-ms-request-id': randomUUID(),
      'x-ms-ratelimit-remaining-subscription-reads': '11999',
      ...headers,
    });
    res.end(text);
  };
  const sendError = (res: ServerResponse, entry: ArmRequest, status: number, code: string, message: string, headers: Record<string, string> = {}): void =>
    send(res, entry, status, { error: { code, message } }, headers);

  const operationUrls = (app: App, id: string, apiVersion: string) => {
    const base = `${url}/subscriptions/${app.key.subscription}/providers/Microsoft.App/locations/${encodeURIComponent(app.location)}`;
    return {
      'Azure-AsyncOperation': `${base}/containerappOperationStatuses/${id}?api-version=${apiVersion}`,
      Location: `${base}/containerappOperationResults/${id}?api-version=${apiVersion}`,
    };
  };
  const retryAfter = (): Record<string, string> => (opts.pollRetryAfter !== undefined ? { 'Retry-After': String(opts.pollRetryAfter) } : {});

  const route = (method: string, path: string, apiVersion: string, body: unknown, res: ServerResponse, entry: ArmRequest): void => {
    const s = path.split('/').filter(Boolean).map(decodeURIComponent);
    const lower = s.map((x) => x.toLowerCase());
    const is = (i: number, name: string) => lower[i] === name.toLowerCase();
    // Operation status and results: /subscriptions/{s}/providers/Microsoft.App/locations/{loc}/…/{id}
    if (s.length === 8 && is(0, 'subscriptions') && is(2, 'providers') && is(3, 'Microsoft.App') && is(4, 'locations') && method === 'GET') {
      const id = s[7]!;
      if (is(6, 'containerappOperationStatuses')) {
        const op = sim.pollOperation(id);
        return send(res, entry, 200, sim.operationJson(op), op.status === 'InProgress' ? retryAfter() : {});
      }
      if (is(6, 'containerappOperationResults')) {
        const op = sim.pollOperation(id);
        const app = [...sim.apps.values()].find((a) => a.id === op.appId);
        if (op.status === 'InProgress' && app) return send(res, entry, 202, undefined, { Location: operationUrls(app, id, apiVersion).Location, ...retryAfter() });
        if (!app) throw new ArmError(404, 'ResourceNotFound', 'The container app of this operation no longer exists.');
        return send(res, entry, 200, sim.appJson(app));
      }
    }
    // /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.App/containerApps/{app}[/revisions[/{rev}[/replicas[/{replica}]]]]
    if (s.length >= 8 && is(0, 'subscriptions') && is(2, 'resourceGroups') && is(4, 'providers') && is(5, 'Microsoft.App') && is(6, 'containerApps')) {
      const key: AppKey = { subscription: s[1]!, resourceGroup: s[3]!, name: s[7]! };
      const app = sim.get(key);
      if (s.length === 8) {
        if (method === 'GET') return send(res, entry, 200, sim.appJson(app));
        if (method === 'PATCH') {
          const { operation } = sim.update(key, body);
          return send(res, entry, 202, sim.appJson(app), { ...operationUrls(app, operation.id, apiVersion), ...retryAfter() });
        }
        throw new ArmError(405, 'MethodNotAllowed', `The method ${method} is not served by this test server.`);
      }
      if (method !== 'GET' || !is(8, 'revisions')) throw new ArmError(404, 'NotFound', `No route for ${method} ${path}`);
      if (s.length === 9) return send(res, entry, 200, { value: app.revisions.map((r) => sim.revisionJson(app, r)) });
      const revision = sim.revision(app, s[9]!);
      if (s.length === 10) return send(res, entry, 200, sim.revisionJson(app, revision));
      if (!is(10, 'replicas')) throw new ArmError(404, 'NotFound', `No route for ${method} ${path}`);
      if (s.length === 11) return send(res, entry, 200, { value: revision.replicas.map((r) => sim.replicaJson(app, revision, r)) });
      const replica = revision.replicas.find((r) => r.name === s[11]);
      if (s.length === 12 && replica) return send(res, entry, 200, sim.replicaJson(app, revision, replica));
      throw new ArmError(404, 'ContainerAppReplicaNotFound', `Replica '${s[11]}' of revision '${revision.name}' was not found.`);
    }
    throw new ArmError(404, 'NotFound', `No route for ${method} ${path}`);
  };

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const parsed = new URL(req.url ?? '/', 'http://localhost');
      const method = (req.method ?? 'GET').toUpperCase();
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      if (raw) {
        try {
          body = JSON.parse(raw);
        } catch {
          body = raw;
        }
      }
      const entry: ArmRequest = {
        method,
        path: parsed.pathname,
        query: Object.fromEntries(parsed.searchParams),
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
        ...(req.headers['content-type'] ? { contentType: req.headers['content-type'] } : {}),
        ...(raw ? { body } : {}),
        at: Date.now(),
      };
      requests.push(entry);
      if (take(hangRules, method, parsed.pathname)) return;
      const fail = take(failRules, method, parsed.pathname);
      if (fail) {
        const [code, message] = DEFAULT_CODES[fail.status] ?? ['Error', 'Error.'];
        const wait = fail.retryAfter ?? (fail.status === 429 || fail.status === 503 ? 1 : undefined);
        return sendError(res, entry, fail.status, fail.code ?? code, (fail.message ?? message).replace('{scope}', parsed.pathname), wait !== undefined ? { 'Retry-After': String(wait) } : {});
      }
      if (opts.token !== undefined && req.headers.authorization !== `Bearer ${opts.token}`) {
        return sendError(res, entry, 401, req.headers.authorization ? 'InvalidAuthenticationToken' : 'AuthenticationFailed', req.headers.authorization ? 'The access token is invalid.' : "Authentication failed. The 'Authorization' header is missing.");
      }
      const apiVersion = parsed.searchParams.get('api-version');
      if (!apiVersion) return sendError(res, entry, 400, 'MissingApiVersionParameter', "The api-version query parameter (?api-version=) is required for all requests.");
      try {
        route(method, parsed.pathname, apiVersion, body, res, entry);
      } catch (error) {
        if (error instanceof ArmError) return sendError(res, entry, error.status, error.code, error.message);
        sendError(res, entry, 500, 'InternalServerError', error instanceof Error ? error.message : String(error));
      }
    });
  };

  const server: Server = createServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const tick = (): void => {
    try {
      sim.tick();
    } catch (err) {
      process.emitWarning(`arm-server tick failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
  };
  const timer = setInterval(tick, opts.tickMs ?? 50);
  timer.unref();
  let closed: Promise<void> | undefined;

  return {
    url,
    requests,
    addApp: (seed) => void sim.addApp(seed),
    app: (key) => sim.appJson(sim.get(key)),
    revisions: (key) => {
      const app = sim.get(key);
      return app.revisions.map((r) => sim.revisionJson(app, r));
    },
    scale: (key) => sim.scaleOf(sim.get(key)),
    setScale: (key, scale) => sim.setScale(key, scale),
    setDemand: (key, replicas) => {
      sim.get(key).demand = replicas;
    },
    setReplicaSpeed: (perTick) => {
      sim.replicaSpeed = perTick;
    },
    setLroPolls: (polls) => {
      sim.lroPolls = polls;
    },
    failNextOperation: (failure) => sim.failNextOperation(failure),
    failNextRevision: (message) => sim.failNextRevision(message),
    failNext: (rule) => void failRules.push({ rule, remaining: rule.times ?? 1 }),
    hangNext: (rule) => void hangRules.push({ rule, remaining: rule.times ?? 1 }),
    tick,
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        clearInterval(timer);
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
