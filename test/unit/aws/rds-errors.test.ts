// The Aurora adapter's pure parts: ACU validation and the sentences for RDS errors, including the
// ones the local server does not produce (credentials missing, expired, server errors mid-change).
import { DBClusterNotFoundFault, InvalidDBClusterStateFault, RDSServiceException } from '@aws-sdk/client-rds';
import { describe, expect, it } from 'vitest';
import { capacityProblem, formatAcu, formatRange } from '../../../src/adapters/aws/capacity.ts';
import { AuroraError, changedBy, describeRdsError, errorCode, isAuthError, isThrottling } from '../../../src/adapters/aws/rds-errors.ts';

const ctx = { cluster: 'autolytiq-prod', region: 'eu-west-1' };
const meta = (httpStatusCode: number, attempts = 1) => ({ httpStatusCode, attempts, totalRetryDelay: 0 });
const service = (name: string, httpStatusCode: number, message: string) => new RDSServiceException({ name, $fault: httpStatusCode >= 500 ? 'server' : 'client', $metadata: meta(httpStatusCode), message });

describe('capacity', () => {
  it.each([
    [0, 1],
    [0.5, 1],
    [2, 16],
    [8, 64],
    [256, 256],
    [1.5, 2.5],
  ])('%s..%s ACU is valid', (min, max) => {
    expect(capacityProblem(min, max)).toBeUndefined();
  });

  it.each([
    [0.25, 4, 'steps of 0.5'],
    [1, 4.2, 'steps of 0.5'],
    [Number.NaN, 4, 'not valid'],
    [1, Number.POSITIVE_INFINITY, 'not valid'],
    [0, 0.5, 'outside 1..256'],
    [0, 0, 'outside 1..256'],
    [257, 300, 'outside 0..256'],
    [8, 4, 'above maximum'],
  ])('%s..%s ACU is refused (%s)', (min, max, why) => {
    expect(capacityProblem(min, max)).toContain(why);
  });

  it('formats', () => {
    expect(formatAcu(0.5)).toBe('0.5');
    expect(formatAcu(64)).toBe('64');
    expect(formatRange({ min: 0.5, max: 2.5 })).toBe('0.5..2.5 ACU');
    expect(formatRange(undefined)).toBe('no Serverless v2 capacity range');
  });
});

describe('RDS errors', () => {
  it('modeled faults go by their class name, unmodeled by their wire code', () => {
    expect(errorCode(new DBClusterNotFoundFault({ $metadata: meta(404), message: 'x' }))).toBe('DBClusterNotFoundFault');
    expect(errorCode(service('Throttling', 400, 'Rate exceeded'))).toBe('Throttling');
    expect(isThrottling(service('Throttling', 400, 'Rate exceeded'))).toBe(true);
    expect(isAuthError(service('InvalidClientTokenId', 403, 'x'))).toBe(true);
    expect(isAuthError(new InvalidDBClusterStateFault({ $metadata: meta(400), message: 'x' }))).toBe(false);
    expect(isAuthError(new AuroraError('could not read…', 'SignatureDoesNotMatch'))).toBe(true);
  });

  it('a refusal (4xx) of a change changed nothing; a 5xx or a lost connection may have', () => {
    expect(changedBy(new InvalidDBClusterStateFault({ $metadata: meta(400), message: 'busy' }), true)).toBe('no');
    expect(changedBy(service('InternalFailure', 500, 'oops'), true)).toBe('unknown');
    expect(changedBy(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), true)).toBe('unknown');
    expect(changedBy(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), false)).toBe('no');
  });

  it('no credentials found anywhere in the chain', () => {
    const error = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
    const e = describeRdsError('read cluster autolytiq-prod', error, { ...ctx, mutating: true });
    expect(e).toBeInstanceOf(AuroraError);
    expect(e.changed).toBe('no');
    expect(e.message).toBe(
      'could not read cluster autolytiq-prod: no AWS credentials were found (Could not load credentials from any providers); give the bot credentials through the environment, a profile, web identity (IRSA) or an instance role. Nothing was changed.',
    );
  });

  it('expired session credentials', () => {
    const e = describeRdsError('read cluster autolytiq-prod', service('ExpiredToken', 403, 'The security token included in the request is expired'), ctx);
    expect(e.message).toBe("could not read cluster autolytiq-prod: the bot's AWS credentials have expired (ExpiredToken: The security token included in the request is expired); refresh the session or role credentials. Nothing was changed.");
  });

  it('a server error during a change: whether it applied is unknown', () => {
    const e = describeRdsError('set cluster autolytiq-prod capacity to 8..64 ACU', service('InternalFailure', 500, 'An internal error has occurred.'), { ...ctx, mutating: true });
    expect(e.changed).toBe('unknown');
    expect(e.message).toBe(
      'could not set cluster autolytiq-prod capacity to 8..64 ACU: RDS answered 500 InternalFailure: An internal error has occurred. RDS may or may not have applied it: the next read of the cluster shows which; nothing else was changed.',
    );
  });

  it('an AuroraError passes through unchanged', () => {
    const original = new AuroraError('Refused: x. Nothing was changed.', 'refused');
    expect(describeRdsError('anything', original, ctx)).toBe(original);
  });
});
