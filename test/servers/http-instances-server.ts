/**
 * One local HTTP listener standing in for N instances behind a round-robin load balancer. Each
 * answer carries the instance that "served" it twice: an `x-instance` header and a JSON body
 * `{ "status": "ok", "hostname": "<instance>" }`, like a health endpoint that reports its host.
 *
 *   const lb = await startHttpInstancesServer({ instances: ['api-1', 'api-2', 'api-3'] });
 *   lb.set('api-2', { status: 503 });          // that instance fails its health check
 *   lb.set('api-3', { latencyMs: 200 });       // …or answers slowly (`hang: true`: never)
 *   fetch(`${lb.url}/healthz`) …
 *   lb.hits   // { 'api-1': 4, 'api-2': 3, 'api-3': 3 }
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface InstanceBehaviour {
  /** HTTP status it answers; 200 by default. */
  status?: number;
  /** Delay before answering, in ms; 0 by default. */
  latencyMs?: number;
  /** Never answer (until the server closes). */
  hang?: boolean;
}

export interface HttpInstancesServer {
  url: string;
  instances: string[];
  /** Answers per instance (counted when the request is routed). */
  hits: Record<string, number>;
  /** Path and headers of every request, in arrival order. */
  requests: { path: string; headers: IncomingHttpHeaders }[];
  set(instance: string, behaviour: InstanceBehaviour): void;
  close(): Promise<void>;
}

export interface HttpInstancesOptions {
  /** Instance names, or how many (named instance-1…instance-N). */
  instances: string[] | number;
}

export async function startHttpInstancesServer(opts: HttpInstancesOptions): Promise<HttpInstancesServer> {
  const instances = typeof opts.instances === 'number' ? Array.from({ length: opts.instances }, (_, i) => `instance-${i + 1}`) : [...opts.instances];
  if (!instances.length) throw new Error('at least one instance');
  const behaviours = new Map<string, InstanceBehaviour>();
  const hits: Record<string, number> = Object.fromEntries(instances.map((name) => [name, 0]));
  const requests: HttpInstancesServer['requests'] = [];
  const timers = new Set<NodeJS.Timeout>();
  let next = 0;

  const server = createServer((req, res) => {
    requests.push({ path: req.url ?? '/', headers: req.headers });
    const instance = instances[next++ % instances.length] as string;
    hits[instance] = (hits[instance] ?? 0) + 1;
    const { status = 200, latencyMs = 0, hang = false } = behaviours.get(instance) ?? {};
    if (hang) return;
    const answer = () => {
      res.writeHead(status, { 'content-type': 'application/json', 'x-instance': instance });
      res.end(JSON.stringify({ status: status < 400 ? 'ok' : 'failing', hostname: instance }));
    };
    if (latencyMs <= 0) return answer();
    const timer = setTimeout(() => {
      timers.delete(timer);
      answer();
    }, latencyMs);
    timers.add(timer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    instances,
    hits,
    requests,
    set(instance, behaviour) {
      if (!instances.includes(instance)) throw new Error(`no instance ${instance}; instances: ${instances.join(', ')}`);
      behaviours.set(instance, behaviour);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
