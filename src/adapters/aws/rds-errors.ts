// Amazon RDS answers turned into sentences a person can act on. Every message says what happened
// and whether anything changed: a refused request (a 4xx answer) changed nothing; a call that got
// no answer, or a server error, may or may not have been applied (the next read tells).
import { RDSServiceException } from '@aws-sdk/client-rds';

/** Whether the database may have changed when the error happened. */
export type Changed = 'no' | 'unknown';

/** What the adapter throws: a sentence for people, the AWS error code, and whether anything changed. */
export class AuroraError extends Error {
  override name = 'AuroraError';
  constructor(
    message: string,
    /** The AWS error code ("DBClusterNotFoundFault", "Throttling"…), "refused" for the adapter's own refusals, "network" or "timeout". */
    readonly code: string,
    readonly changed: Changed = 'no',
  ) {
    super(message);
  }
}

/** Codes that mean the bot's credentials (or its signing) were refused: retrying cannot help. */
const AUTH_CODES = new Set([
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'ExpiredToken',
  'ExpiredTokenException',
  'RequestExpired',
  'AccessDenied',
  'AccessDeniedException',
  'UnauthorizedOperation',
  'CredentialsProviderError',
]);

const THROTTLING_CODES = new Set(['Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException', 'RequestThrottled', 'RequestThrottledException']);

/**
 * The SDK names modeled faults by class (`DBInstanceNotFoundFault`) while the wire code may be
 * shorter (`DBInstanceNotFound`); unmodeled ones (Throttling, InvalidClientTokenId) are an
 * RDSServiceException whose name is the wire code. This returns the class-style name.
 */
export function errorCode(error: unknown): string {
  if (error instanceof AuroraError) return error.code;
  if (error instanceof RDSServiceException) return error.name;
  const e = error as { name?: string; code?: string } | undefined;
  if (e?.name === 'AbortError') return 'AbortError';
  if (e?.name === 'TimeoutError') return 'timeout';
  if (typeof e?.code === 'string' && /^E[A-Z]+$/.test(e.code)) return 'network';
  return e?.name ?? 'Error';
}

export const isAuthError = (error: unknown): boolean => AUTH_CODES.has(errorCode(error));
export const isThrottling = (error: unknown): boolean => THROTTLING_CODES.has(errorCode(error));

/** True when RDS answered with a 4xx: the request was refused, nothing was applied. */
function refusedByRds(error: unknown): boolean {
  const status = error instanceof RDSServiceException ? error.$metadata.httpStatusCode : undefined;
  return status !== undefined && status >= 400 && status < 500;
}

export interface ErrorContext {
  cluster: string;
  region: string;
  endpoint?: string;
  /** The RDS permission the call needs, for AccessDenied ("rds:ModifyDBCluster"). */
  permission?: string;
  /** The call could change the database (a Modify/Create/Delete). */
  mutating?: boolean;
}

function reason(error: unknown, ctx: ErrorContext): string {
  const code = errorCode(error);
  const raw = error instanceof Error ? error.message.split('\n')[0]! : String(error);
  const said = `${code}: ${raw}`;
  const meta = error instanceof RDSServiceException ? error.$metadata : undefined;
  switch (code) {
    case 'DBClusterNotFoundFault':
      return `RDS has no cluster ${ctx.cluster} in ${ctx.region} (${said}); check the cluster identifier and region in the catalog`;
    case 'DBInstanceNotFoundFault':
      return `RDS has no such instance (${said})`;
    case 'InvalidDBClusterStateFault':
      return `cluster ${ctx.cluster} is busy with another change (${said}); RDS takes changes only while the cluster is available, so try again once the current change has finished`;
    case 'InvalidDBInstanceStateFault':
      return `the instance is busy (${said}); RDS takes changes only while the instance is available`;
    case 'DBInstanceAlreadyExistsFault':
      return `an instance with that identifier already exists (${said}); choose another identifier`;
    case 'InvalidParameterValue':
    case 'InvalidParameterCombination':
    case 'MissingParameter':
      return `RDS refused the values (${said})`;
    case 'InsufficientDBInstanceCapacityFault':
    case 'InstanceQuotaExceededFault':
      return `RDS cannot provide the instance now (${said})`;
    case 'InvalidClientTokenId':
    case 'UnrecognizedClientException':
      return `AWS does not recognise the bot's access key (${said}); check the credentials the bot runs with (environment, profile or role)`;
    case 'SignatureDoesNotMatch':
    case 'IncompleteSignature':
      return `AWS refused the signature of the bot's request (${said}); the secret access key does not belong to the access key ID the bot uses`;
    case 'ExpiredToken':
    case 'ExpiredTokenException':
    case 'RequestExpired':
      return `the bot's AWS credentials have expired (${said}); refresh the session or role credentials`;
    case 'MissingAuthenticationToken':
      return `the request reached AWS unsigned (${said})`;
    case 'AccessDenied':
    case 'AccessDeniedException':
    case 'UnauthorizedOperation':
      return `the bot's IAM identity may not do this (${said})${ctx.permission ? `; allow ${ctx.permission} on cluster ${ctx.cluster}` : ''}`;
    case 'CredentialsProviderError':
      return `no AWS credentials were found (${raw}); give the bot credentials through the environment, a profile, web identity (IRSA) or an instance role`;
    case 'AbortError':
      return 'the call was stopped before RDS answered';
    case 'timeout':
      return `RDS did not answer in time (${raw.replace(/^@smithy\/[\w-]+ - \[\w+\] /, '')})`;
    case 'network':
      return `could not reach RDS${ctx.endpoint ? ` at ${ctx.endpoint}` : ` in ${ctx.region}`} (${(error as { code?: string }).code}: ${raw})`;
    default:
      if (THROTTLING_CODES.has(code)) {
        const attempts = meta?.attempts ?? 1;
        const waited = meta?.totalRetryDelay ? ` over ${(meta.totalRetryDelay / 1000).toFixed(1)}s of backoff` : '';
        return `RDS is throttling the bot's requests (${said}), still after ${attempts} attempt${attempts === 1 ? '' : 's'}${waited}; try again in a minute`;
      }
      return `RDS answered ${meta?.httpStatusCode ? `${meta.httpStatusCode} ` : ''}${said}`;
  }
}

/** Whether anything may have changed when `error` ended a call. */
export function changedBy(error: unknown, mutating: boolean): Changed {
  if (!mutating) return 'no';
  if (refusedByRds(error) || errorCode(error) === 'CredentialsProviderError') return 'no';
  return 'unknown';
}

/** "could not <what>: <reason>. Nothing was changed." (or that it is unknown whether it was). */
export function describeRdsError(what: string, error: unknown, ctx: ErrorContext): AuroraError {
  if (error instanceof AuroraError) return error;
  const changed = changedBy(error, ctx.mutating ?? false);
  const tail = changed === 'no' ? 'Nothing was changed.' : 'RDS may or may not have applied it: the next read of the cluster shows which; nothing else was changed.';
  return new AuroraError(`could not ${what}: ${reason(error, ctx).replace(/\.$/, '')}. ${tail}`, errorCode(error), changed);
}
