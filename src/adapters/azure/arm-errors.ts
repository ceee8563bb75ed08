// Azure Resource Manager and credential errors turned into sentences a person can act on.

/** The HTTP status of a failed ARM call (a RestError), if it got an answer. */
export function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

const CREDENTIALS_HINT = 'check AZURE_CLIENT_ID / AZURE_TENANT_ID / AZURE_CLIENT_SECRET (or the managed or workload identity the bot runs as) and that this identity has the Contributor role on the app';

export interface ArmErrorContext {
  /** What the call was for: "read Container App rg/api". */
  what: string;
  /** Retries the SDK makes on 429/5xx, for the message. */
  retries: number;
  /** Set when the call was cut off by its own timeout. */
  timedOutAfterMs?: number;
  /** The last HTTP status seen before that (a 429 means it was throttled the whole time). */
  lastStatus?: number;
  /** Set when the caller's signal stopped it (shutdown). */
  stopped?: boolean;
}

/** One sentence: what could not be done, what Azure (or the credential) said, and what to check. */
export function describeArmError(error: unknown, ctx: ArmErrorContext): string {
  const prefix = `could not ${ctx.what}`;
  if (ctx.timedOutAfterMs !== undefined) {
    return ctx.lastStatus === 429
      ? `${prefix}: Azure Resource Manager kept throttling requests (429) for ${seconds(ctx.timedOutAfterMs)}`
      : `${prefix}: no answer from Azure Resource Manager within ${seconds(ctx.timedOutAfterMs)}`;
  }
  if (ctx.stopped) return `${prefix}: stopped (the bot is shutting down)`;
  const e = error as { name?: string; message?: string; code?: string } | undefined;
  const message = firstLine(e?.message ?? String(error));
  if (e?.name === 'CredentialUnavailableError') {
    return `${prefix}: no Azure credentials were found (${message}); set AZURE_CLIENT_ID / AZURE_TENANT_ID / AZURE_CLIENT_SECRET, or run the bot with a managed or workload identity, and give it the Contributor role on the app`;
  }
  if (e?.name === 'AuthenticationError' || e?.name === 'AggregateAuthenticationError') {
    return `${prefix}: Azure refused the credentials (Microsoft Entra ID: ${entraReason(error) ?? message}); ${CREDENTIALS_HINT}`;
  }
  const status = statusOf(error);
  if (status === undefined) return `${prefix}: ${e?.name === 'AbortError' ? 'the call was aborted' : `no answer from Azure Resource Manager (${message})`}`;
  const said = `${status}${e?.code ? ` ${e.code}` : ''}: ${message}`;
  switch (status) {
    case 401:
      return `${prefix}: Azure refused the credentials (${said}); ${CREDENTIALS_HINT}`;
    case 403:
      return `${prefix}: Azure refused the credentials (${said}); the identity is not allowed to do this: give it the Contributor role on the app (or its resource group), and check AZURE_CLIENT_ID / AZURE_TENANT_ID name the identity you meant`;
    case 404:
      return `${prefix}: Azure answered ${said} (check subscription, resource-group and app in the catalog)`;
    case 409:
      return `${prefix}: Azure answered ${said} (another operation on the app is still running; try again once it has finished)`;
    case 429:
      return `${prefix}: Azure Resource Manager is throttling requests (${said}), still after ${ctx.retries} retries`;
    default:
      return status >= 500 ? `${prefix}: Azure answered ${said} (still after ${ctx.retries} retries)` : `${prefix}: Azure answered ${said}`;
  }
}

/** "The long-running operation has failed. Code. Message" (core-lro) → "Code. Message". */
export function lroFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return firstLine(message.replace(/^The long-running operation has failed\.?\s*/, '')) || 'no reason given';
}

export function isLroFailure(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('The long-running operation has failed');
}

/** The first line of Entra ID's description ("AADSTS7000215: Invalid client secret provided."), of the error or the first in a chain. */
function entraReason(error: unknown): string | undefined {
  const e = error as { errorResponse?: { error?: string; errorDescription?: string }; errors?: unknown[] };
  const response = e.errorResponse ?? (e.errors?.[0] as typeof e | undefined)?.errorResponse;
  const description = response?.errorDescription ? firstLine(response.errorDescription) : undefined;
  return description ? `${response?.error ? `${response.error}: ` : ''}${description}` : undefined;
}

function firstLine(text: string): string {
  const line = text.split('\n')[0]?.trim() ?? '';
  return line.length > 400 ? `${line.slice(0, 400)}…` : line;
}

export function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}
