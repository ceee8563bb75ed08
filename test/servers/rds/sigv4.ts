// Checks an AWS Signature Version 4 `Authorization` header the way AWS does for a Query API POST:
// rebuild the canonical request from the signed headers and the body, derive the signing key from
// the secret the server knows for that access key, compare signatures. Unknown key →
// InvalidClientTokenId; wrong secret (or a tampered request) → SignatureDoesNotMatch.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export type SignatureVerdict =
  | { ok: true; accessKeyId: string; region: string; service: string }
  | { ok: false; code: 'MissingAuthenticationToken' | 'IncompleteSignature' | 'InvalidClientTokenId' | 'SignatureDoesNotMatch'; message: string; accessKeyId?: string };

const AUTH = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  return (Array.isArray(value) ? value.join(',') : value).trim().replace(/\s+/g, ' ');
}

/**
 * `secrets` maps access key IDs to secret keys. Only the signature is checked, not the date's skew
 * (tests run on one machine).
 */
export function verifySignature(method: string, path: string, headers: IncomingHttpHeaders, body: Buffer, secrets: ReadonlyMap<string, string>): SignatureVerdict {
  const authorization = headers.authorization;
  if (!authorization) return { ok: false, code: 'MissingAuthenticationToken', message: 'Request is missing Authentication Token' };
  const m = AUTH.exec(authorization);
  if (!m) return { ok: false, code: 'IncompleteSignature', message: `Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters. Authorization=${authorization.slice(0, 40)}…` };
  const [, accessKeyId = '', date = '', region = '', service = '', signedHeaders = '', signature = ''] = m;
  const secret = secrets.get(accessKeyId);
  if (secret === undefined) return { ok: false, code: 'InvalidClientTokenId', message: 'The security token included in the request is invalid.', accessKeyId };
  const amzDate = headerValue(headers, 'x-amz-date') ?? '';
  const names = signedHeaders.split(';');
  const canonicalHeaders = names.map((name) => `${name}:${headerValue(headers, name) ?? ''}\n`).join('');
  const [pathOnly = '/', query = ''] = path.split('?');
  const canonicalQuery = query
    .split('&')
    .filter(Boolean)
    .map((pair) => pair.split('=').map((part) => encodeURIComponent(decodeURIComponent(part.replace(/\+/g, ' ')))).join('='))
    .sort()
    .join('&');
  const payloadHash = headerValue(headers, 'x-amz-content-sha256') ?? sha256(body);
  const canonicalRequest = [method, pathOnly, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
  const expected = Buffer.from(createHmac('sha256', key).update(stringToSign).digest('hex'));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    return {
      ok: false,
      code: 'SignatureDoesNotMatch',
      message: 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
      accessKeyId,
    };
  }
  return { ok: true, accessKeyId, region, service };
}
