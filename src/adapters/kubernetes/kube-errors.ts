// Kubernetes API errors turned into sentences a person can act on, and the retry policy for the
// answers that are worth retrying (conflicts, throttling, server errors, dropped connections).
import { ApiException } from '@kubernetes/client-node';
import pRetry, { AbortError } from 'p-retry';

const RETRYABLE = new Set([409, 429, 500, 502, 503, 504]);

export function withRetries<T>(fn: () => Promise<T>, retries = 3): Promise<T> {
  return pRetry(
    async () => {
      try {
        return await fn();
      } catch (error) {
        if (error instanceof ApiException && !RETRYABLE.has(error.code)) throw new AbortError(error);
        throw error;
      }
    },
    { retries, minTimeout: 200, factor: 2, maxTimeout: 2000, randomize: true },
  );
}

const HINTS: Record<number, string> = {
  401: 'the credentials in KUBECONFIG were refused; check the token or certificate',
  403: "the bot's service account lacks the permission; see deploy/ RBAC rules",
  404: 'check the namespace and name in the catalog, and the kubeconfig context',
  409: 'another writer changed it at the same time; retried without success',
  422: 'the API server refused the value',
  429: 'the API server is throttling requests',
};

export function describeKubeError(what: string, error: unknown): string {
  const cause = error instanceof AbortError ? (error.originalError ?? error) : error;
  if (cause instanceof ApiException) {
    const code = cause.code;
    const message = statusMessage(cause.body) ?? cause.message.split('\n')[0];
    const hint = HINTS[code] ? ` (${HINTS[code]})` : '';
    return `could not ${what}: Kubernetes answered ${code}: ${message}${hint}`;
  }
  const text = cause instanceof Error ? cause.message : String(cause);
  return `could not ${what}: ${text.split('\n')[0]}`;
}

function statusMessage(body: unknown): string | undefined {
  if (typeof body !== 'string') return (body as { message?: string } | undefined)?.message;
  try {
    return (JSON.parse(body) as { message?: string }).message;
  } catch {
    return body.slice(0, 200) || undefined;
  }
}
