// The Container Apps ARM client as the scale target uses it: the real `ContainerAppsAPIClient`,
// with bounded retries (the SDK retries 429 after its Retry-After and 5xx with backoff; a server
// asking for a long wait is capped so one call cannot hang a run) and, for a local test server over
// plain HTTP, a bearer header instead of the SDK's token policy (which refuses non-TLS URLs).
import { ContainerAppsAPIClient } from '@azure/arm-appcontainers';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';

export const ARM_ENDPOINT = 'https://management.azure.com';

type Pipeline = ContainerAppsAPIClient['pipeline'];
type PipelinePolicy = Parameters<Pipeline['addPolicy']>[0];
type PipelineResponse = Awaited<ReturnType<PipelinePolicy['sendRequest']>>;

export interface ArmRetryOptions {
  /** Retries of one request after a 429, a 5xx or a dropped connection; default 3. */
  maxRetries?: number;
  /** First backoff after a 5xx or a dropped connection; default 800 ms, doubling. */
  retryDelayMs?: number;
  /** Longest backoff; default 8 s. */
  maxRetryDelayMs?: number;
  /** Longest Retry-After honoured on a 429/503; a longer one is shortened to this. Default 10 s. */
  maxRetryAfterMs?: number;
}

export interface ArmClientOptions {
  credential: TokenCredential;
  subscription: string;
  /** ARM base URL; default https://management.azure.com. */
  endpoint?: string;
  /** Plain HTTP (a local test server): no TLS, and the token is sent without the SDK's bearer policy. */
  allowInsecure?: boolean;
  retry?: ArmRetryOptions;
}

export function createContainerAppsClient(opts: ArmClientOptions): ContainerAppsAPIClient {
  const endpoint = (opts.endpoint ?? ARM_ENDPOINT).replace(/\/+$/, '');
  const retry = opts.retry ?? {};
  const client = new ContainerAppsAPIClient(opts.credential, opts.subscription, {
    endpoint,
    $host: endpoint,
    userAgentOptions: { userAgentPrefix: 'scalebot' },
    retryOptions: { maxRetries: retry.maxRetries ?? 3, retryDelayInMs: retry.retryDelayMs ?? 800, maxRetryDelayInMs: retry.maxRetryDelayMs ?? 8_000 },
    ...(opts.allowInsecure ? { allowInsecureConnection: true } : {}),
  });
  client.pipeline.addPolicy(capRetryAfterPolicy(retry.maxRetryAfterMs ?? 10_000), { afterPhase: 'Retry' });
  if (opts.allowInsecure) {
    client.pipeline.removePolicy({ name: 'bearerTokenAuthenticationPolicy' });
    client.pipeline.addPolicy(plainBearerPolicy(opts.credential, `${ARM_ENDPOINT}/.default`), { phase: 'Sign' });
  }
  return client;
}

let shared: TokenCredential | undefined;

/** One DefaultAzureCredential for all targets (environment, workload identity, managed identity, Azure CLI…), so tokens are cached once. */
export function defaultCredential(): TokenCredential {
  shared ??= new DefaultAzureCredential();
  return shared;
}

/** The wait a 429/503 asks for, in ms, from `retry-after-ms`, `x-ms-retry-after-ms` or `Retry-After` (seconds or a date). */
function retryAfterMs(response: PipelineResponse): number | undefined {
  for (const [header, factor] of [['retry-after-ms', 1], ['x-ms-retry-after-ms', 1], ['retry-after', 1000]] as const) {
    const value = response.headers.get(header);
    if (value === undefined) continue;
    const n = Number(value);
    if (Number.isFinite(n)) return n * factor;
    const date = Date.parse(value);
    if (Number.isFinite(date)) return Math.max(0, date - Date.now());
  }
  return undefined;
}

/** Sits below the SDK's retry policy: a throttling answer asking for more than `maxMs` is told `maxMs`. */
function capRetryAfterPolicy(maxMs: number): PipelinePolicy {
  return {
    name: 'scalebotCapRetryAfter',
    async sendRequest(request, next) {
      const response = await next(request);
      if (response.status === 429 || response.status === 503) {
        const wait = retryAfterMs(response);
        if (wait !== undefined && wait > maxMs) {
          response.headers.set('retry-after-ms', String(maxMs));
          response.headers.delete('x-ms-retry-after-ms');
        }
      }
      return response;
    },
  };
}

/** `Authorization: Bearer <token>` from the credential, over any scheme (tests only). */
function plainBearerPolicy(credential: TokenCredential, scope: string): PipelinePolicy {
  return {
    name: 'scalebotPlainBearer',
    async sendRequest(request, next) {
      const token = await credential.getToken(scope, { abortSignal: request.abortSignal });
      if (token) request.headers.set('Authorization', `Bearer ${token.token}`);
      return next(request);
    },
  };
}
