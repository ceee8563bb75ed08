/**
 * Kubernetes `Status` errors.
 *
 * Every failure the simulated API server sends is a `meta/v1 Status` object, exactly like a real
 * kube-apiserver: `{kind:"Status", apiVersion:"v1", metadata:{}, status:"Failure", message, reason,
 * details?, code}`. Handlers throw {@link ApiError}; the HTTP layer turns it into a response.
 */

/** `Status.details` as sent by the API server (only the fields we ever fill in). */
export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: { reason: string; message: string; field: string }[];
}

/** The wire form of a failure `Status`. */
export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  details?: StatusDetails;
  code: number;
}

/** The `reason` the real API server uses for each HTTP status code we emit. */
export function reasonForCode(code: number): string {
  switch (code) {
    case 400: return 'BadRequest';
    case 401: return 'Unauthorized';
    case 403: return 'Forbidden';
    case 404: return 'NotFound';
    case 405: return 'MethodNotAllowed';
    case 409: return 'Conflict';
    case 410: return 'Expired';
    case 413: return 'RequestEntityTooLarge';
    case 415: return 'UnsupportedMediaType';
    case 422: return 'Invalid';
    case 429: return 'TooManyRequests';
    case 500: return 'InternalError';
    case 503: return 'ServiceUnavailable';
    case 504: return 'Timeout';
    default: return code >= 500 ? 'InternalError' : 'BadRequest';
  }
}

/** An error that the HTTP layer serialises as a Kubernetes `Status` with HTTP status `code`. */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: StatusDetails | undefined;

  constructor(code: number, message: string, opts: { reason?: string; details?: StatusDetails } = {}) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.reason = opts.reason ?? reasonForCode(code);
    this.details = opts.details;
  }

  toStatus(): StatusBody {
    return statusBody(this.code, this.message, this.reason, this.details);
  }
}

export function statusBody(code: number, message: string, reason = reasonForCode(code), details?: StatusDetails): StatusBody {
  const body: StatusBody = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  if (details) body.details = details;
  return body;
}

/** Identifies a resource type in error messages, e.g. `deployments.apps "web" not found`. */
export interface ResourceRef {
  group: string; // '' for the core group
  plural: string;
}

export function qualifiedResource(r: ResourceRef): string {
  return r.group ? `${r.plural}.${r.group}` : r.plural;
}

export function notFound(r: ResourceRef, name: string): ApiError {
  return new ApiError(404, `${qualifiedResource(r)} "${name}" not found`, {
    details: { name, group: r.group, kind: r.plural },
  });
}

export function conflict(r: ResourceRef, name: string): ApiError {
  return new ApiError(
    409,
    `Operation cannot be fulfilled on ${qualifiedResource(r)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { details: { name, group: r.group, kind: r.plural } },
  );
}

/** A 422 `Invalid` with a single field cause, worded like the API server's validation errors. */
export function invalid(kindGroup: string, name: string, field: string, value: unknown, detail: string): ApiError {
  const msg = `Invalid value: ${JSON.stringify(value)}: ${detail}`;
  const [kind, group = ''] = kindGroup.split(/\.(.*)/s);
  return new ApiError(422, `${kindGroup} "${name}" is invalid: ${field}: ${msg}`, {
    details: { name, group, kind: kind ?? kindGroup, causes: [{ reason: 'FieldValueInvalid', message: msg, field }] },
  });
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, message);
}
