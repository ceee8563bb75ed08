/**
 * A local Amazon RDS API server for tests, speaking the Query protocol the real
 * `@aws-sdk/client-rds` uses: form-encoded POST `Action=…&Version=2014-10-31`, XML answers in RDS's
 * shape (`<DescribeDBClustersResponse xmlns=…><DescribeDBClustersResult><DBClusters><DBCluster>…`),
 * typed errors (`<ErrorResponse><Error><Type>Sender</Type><Code>DBClusterNotFoundFault</Code>…`)
 * with RDS's HTTP status. Requests must be signed (SigV4, checked against the server's one key
 * pair): none → 403 MissingAuthenticationToken, unknown key → 403 InvalidClientTokenId, wrong
 * secret → 403 SignatureDoesNotMatch.
 *
 * Behind it, Aurora clusters and instances change over time (./rds/model.ts): a modified cluster is
 * `modifying` then `available`; a new instance `creating` then `available`; a deleted one
 * `deleting` then gone; an instance class change `modifying` (the new class pending) then applied.
 *
 * Usage:
 *   const rds = await startRdsServer();
 *   rds.addCluster({ id: 'autolytiq-prod', capacity: { min: 2, max: 16 }, members: [{ id: 'w' }, { id: 'r1' }] });
 *   new RDSClient({ region: rds.region, endpoint: rds.url, credentials: rds.credentials, maxAttempts: 1 });
 *   rds.throttle(2);                       // the next two requests answer 400 Throttling
 *   rds.failNext({ action: 'ModifyDBCluster', code: 'InvalidDBClusterStateFault' });
 *   await rds.close();
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RdsFault, RdsModel, type ClusterRecord, type ClusterSeed, type InstanceRecord, type Params, type Timings } from './rds/model.ts';
import { verifySignature } from './rds/sigv4.ts';
import { errorXml, responseXml } from './rds/xml.ts';

export type { ClusterSeed, MemberSeed, Timings } from './rds/model.ts';

export const RDS_API_VERSION = '2014-10-31';

export interface RdsServerOptions {
  /** Default "us-east-1". */
  region?: string;
  /** Transition times; defaults 150 ms each. */
  timings?: Partial<Timings>;
  /** Largest page of DescribeDBInstances (to exercise Marker paging); default 100. */
  pageSize?: number;
}

export interface RecordedRdsRequest {
  action: string;
  params: Params;
  /** The access key the request was signed with, if any. */
  accessKeyId?: string;
  authorization?: string;
  status: number;
  /** The error code answered, if any. */
  code?: string;
  /** The XML body answered. */
  response?: string;
  at: number;
}

/** Answers the next `times` (default 1) requests matching `action` (any if omitted) with this fault. */
export interface FaultRule {
  action?: string;
  times?: number;
  /** e.g. "Throttling", "InvalidDBClusterStateFault", "InternalFailure". */
  code?: string;
  /** Default: 404 for *NotFound*, 500 for InternalFailure, 503 for ServiceUnavailable, 403 for auth codes, else 400. */
  status?: number;
  message?: string;
  /** Wait this long before answering (or before dropping). */
  delayMs?: number;
  /**
   * Close the connection without an answer (a network failure): `true` before the action runs
   * (nothing changes), `'after'` once it has run (the change happened, the answer is lost).
   */
  drop?: boolean | 'after';
}

export interface RdsServer {
  url: string;
  region: string;
  /** The one key pair the server accepts. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Every request, in arrival order (a live array; empty it with `requests.length = 0`). */
  requests: RecordedRdsRequest[];
  /** Actions received, in order (a convenience over `requests`). */
  actions(): string[];
  addCluster(seed: ClusterSeed): void;
  /** The cluster as the API would show it now, or undefined. */
  cluster(id: string): (ClusterRecord & { members: InstanceRecord[] }) | undefined;
  instance(id: string): InstanceRecord | undefined;
  /** e.g. "modifying" (for `forMs`, then back to "available"; indefinitely without). */
  setClusterStatus(id: string, status: string, forMs?: number): void;
  setInstanceStatus(id: string, status: string, forMs?: number): void;
  failNext(rule: FaultRule): void;
  /** The next `times` requests (of `action`, or any) answer 400 `Throttling: Rate exceeded`, like RDS's API rate limit. */
  throttle(times?: number, action?: string): void;
  /** While on, nothing transitions (a change that never completes). */
  stall(on: boolean): void;
  /** Completes every pending transition now. */
  settle(): void;
  /** Runs `fn` just before the next request of `action` is handled (e.g. to change state between two reads). */
  beforeNext(action: string, fn: () => void): void;
  close(): Promise<void>;
}

function defaultStatus(code: string): number {
  if (/NotFound/.test(code)) return 404;
  if (code === 'InternalFailure') return 500;
  if (code === 'ServiceUnavailable') return 503;
  if (['InvalidClientTokenId', 'SignatureDoesNotMatch', 'MissingAuthenticationToken', 'AccessDenied', 'ExpiredToken'].includes(code)) return 403;
  return 400;
}

const DEFAULT_MESSAGES: Record<string, string> = {
  Throttling: 'Rate exceeded',
  InternalFailure: 'An internal error has occurred. Please try your query again at a later time.',
  ServiceUnavailable: 'Service is unavailable. Please try again later.',
  InvalidClientTokenId: 'The security token included in the request is invalid.',
  SignatureDoesNotMatch: 'The request signature we calculated does not match the signature you provided.',
  AccessDenied: 'User is not authorized to perform this action',
};

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function startRdsServer(opts: RdsServerOptions = {}): Promise<RdsServer> {
  const region = opts.region ?? 'us-east-1';
  const credentials = { accessKeyId: 'AKIDRDSTEST00000001', secretAccessKey: 'rds-test-secret-key' };
  const secrets = new Map([[credentials.accessKeyId, credentials.secretAccessKey]]);
  const model = new RdsModel(region, { clusterModifyMs: 150, instanceCreateMs: 150, instanceDeleteMs: 150, instanceModifyMs: 150, ...opts.timings });
  if (opts.pageSize) model.pageSize = opts.pageSize;
  const requests: RecordedRdsRequest[] = [];
  const faults: { rule: FaultRule; remaining: number }[] = [];
  const hooks: { action: string; fn: () => void }[] = [];

  const send = (res: ServerResponse, status: number, xml: string, requestId: string, record: RecordedRdsRequest) => {
    record.response = xml;
    res.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId, date: new Date().toUTCString(), 'content-length': Buffer.byteLength(xml) });
    res.end(xml);
  };

  const listener = async (req: IncomingMessage, res: ServerResponse) => {
    const requestId = randomUUID();
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const params: Params = Object.fromEntries(new URLSearchParams(req.method === 'POST' ? body.toString('utf8') : url.search));
    const record: RecordedRdsRequest = { action: params.Action ?? '', params, status: 200, at: Date.now(), ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) };
    requests.push(record);
    const fail = (status: number, code: string, message: string, type?: 'Sender' | 'Receiver') => {
      record.status = status;
      record.code = code;
      send(res, status, errorXml(type ?? (status >= 500 ? 'Receiver' : 'Sender'), code, message, requestId), requestId, record);
    };

    const verdict = verifySignature(req.method ?? 'GET', req.url ?? '/', req.headers, body, secrets);
    if (verdict.accessKeyId) record.accessKeyId = verdict.accessKeyId;
    if (!verdict.ok) return fail(verdict.code === 'IncompleteSignature' ? 400 : 403, verdict.code, verdict.message);

    let dropAfter = false;
    const index = faults.findIndex((f) => f.rule.action === undefined || f.rule.action === record.action);
    if (index >= 0) {
      const fault = faults[index]!;
      if (--fault.remaining <= 0) faults.splice(index, 1);
      const { rule } = fault;
      if (rule.delayMs) await new Promise((r) => setTimeout(r, rule.delayMs));
      if (rule.drop === 'after') dropAfter = true;
      else if (rule.drop) {
        record.status = 0;
        record.code = 'dropped';
        req.socket.destroy();
        return;
      }
      if (rule.code) {
        const status = rule.status ?? defaultStatus(rule.code);
        return fail(status, rule.code, rule.message ?? DEFAULT_MESSAGES[rule.code] ?? `Injected ${rule.code}`);
      }
    }

    const hook = hooks.findIndex((h) => h.action === record.action);
    if (hook >= 0) hooks.splice(hook, 1)[0]!.fn();

    if (params.Version !== RDS_API_VERSION) return fail(400, 'InvalidParameterValue', `Could not find version ${params.Version ?? '(none)'} for service RDS; use ${RDS_API_VERSION}.`);
    try {
      const result = model.handle(record.action, params);
      if (dropAfter) {
        record.code = 'dropped';
        req.socket.destroy();
        return;
      }
      send(res, 200, responseXml(record.action, result, requestId), requestId, record);
    } catch (error) {
      if (error instanceof RdsFault) return fail(error.status, error.code, error.message, error.type);
      fail(500, 'InternalFailure', error instanceof Error ? error.message : String(error));
    }
  };

  const server: Server = createServer((req, res) => {
    listener(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(error));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    region,
    credentials,
    requests,
    actions: () => requests.map((r) => r.action),
    addCluster: (seed) => model.addCluster(seed),
    cluster: (id) => {
      model.advance();
      const c = model.clusters.get(id);
      return c && { ...c, members: model.members(id).map((i) => ({ ...i })) };
    },
    instance: (id) => {
      model.advance();
      const i = model.instances.get(id);
      return i && { ...i };
    },
    setClusterStatus: (id, status, forMs) => model.setClusterStatus(id, status, forMs),
    setInstanceStatus: (id, status, forMs) => model.setInstanceStatus(id, status, forMs),
    failNext: (rule) => {
      faults.push({ rule, remaining: rule.times ?? 1 });
    },
    throttle: (times = 1, action) => {
      faults.push({ rule: { code: 'Throttling', status: 400, times, ...(action ? { action } : {}) }, remaining: times });
    },
    stall: (on) => {
      model.stalled = on;
    },
    settle: () => model.advance(true),
    beforeNext: (action, fn) => {
      hooks.push({ action, fn });
    },
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
