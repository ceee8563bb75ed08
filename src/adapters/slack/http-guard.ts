// In front of Bolt's HTTPReceiver (which reads `requestListener` on every request): requests to the
// events endpoint are read, verified and shape-checked here, with Bolt's own functions, before Bolt
// sees them. Bolt then reuses the body read here (bufferIncomingMessage keeps `req.rawBody`).
//   - A timestamp in the future (even "Infinity") is refused with 401: Bolt only refuses stale ones,
//     so a captured-and-future-dated request would stay replayable.
//   - The signature is verified first (Bolt's verifySlackRequest): unsigned or forged junk gets
//     Bolt's 401, whatever its shape.
//   - A body over Bolt's limit (4 MB) is refused with 413 without reading it all (raw-body stops at the limit).
//   - A signed body Bolt would choke on (not JSON, `null`, a field sent twice, no user, actions of
//     the wrong type, …: see request-shape.ts) is answered 400 with a short reason, where Bolt would
//     hang the request or answer 500.
import { HTTPModuleFunctions as boltHttp, isValidSlackRequest } from '@slack/bolt';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseForm } from 'node:querystring';
import type { Logger } from 'pino';
import { describeError } from '../../runner/runner.ts';
import { slackBodyProblem, type BodySource } from './request-shape.ts';

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export interface GuardOptions {
  signingSecret: string;
  log: Logger;
  /** The receiver's event endpoints (Bolt's default: /slack/events). */
  endpoints?: string[];
  /** The receiver's body limit (Bolt's default: 4 MB). */
  bodyLimit?: number | string;
  now?: () => number;
}

type Verdict = { pass: true } | { pass: false; status: number; reason: string };

const FIVE_MINUTES_S = 300;

function refuse(res: ServerResponse, status: number, reason: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(reason);
}

/** One header as Bolt reads it (a missing or repeated header fails verification). */
const header = (req: IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
};

/**
 * Reads, verifies and shape-checks one request to the events endpoint. Each step is Bolt's own
 * (HTTPModuleFunctions.bufferIncomingMessage, verifySlackRequest, the parse of parseHTTPRequestBody),
 * so what passes here is read by Bolt exactly as it was checked; the body is parsed once here
 * (a few MB of form take a noticeable time to parse) and Bolt parses it again.
 */
async function screen(req: IncomingMessage, opts: GuardOptions): Promise<Verdict> {
  let buffered;
  try {
    buffered = await boltHttp.bufferIncomingMessage(req, opts.bodyLimit ?? boltHttp.defaultBodyLimit);
  } catch (error) {
    if (boltHttp.isRawBodyError(error) && (error.type === 'entity.too.large' || error.statusCode === 413)) {
      return { pass: false, status: 413, reason: 'The request body is larger than a Slack request can be.' };
    }
    return { pass: false, status: 400, reason: `The request body could not be read (${describeError(error)}).` };
  }
  const text = buffered.rawBody.toString();
  const fields = req.headers['content-type'] === 'application/x-www-form-urlencoded' ? parseForm(text) : undefined;
  // Slack's ssl_check is not signed: Bolt keeps only `ssl_check=1` of it and answers 200.
  if (fields?.ssl_check === '1') return { pass: true };
  const signature = header(req, 'x-slack-signature');
  const timestamp = Number(header(req, 'x-slack-request-timestamp'));
  // Not verified: Bolt verifies it again, logs why it failed and answers 401 (so unsigned junk gets a 401 whatever its shape).
  if (!signature || !isValidSlackRequest({ signingSecret: opts.signingSecret, body: text, headers: { 'x-slack-signature': signature, 'x-slack-request-timestamp': timestamp } })) return { pass: true };
  // As Bolt parses it: a form's one `payload` field is JSON, other forms are their fields, any other body is JSON.
  const source: BodySource = fields ? (typeof fields.payload === 'string' ? 'payload' : 'form') : 'json';
  let body: unknown;
  try {
    body = source === 'form' ? fields : JSON.parse(source === 'payload' ? (fields!.payload as string) : text);
  } catch {
    return { pass: false, status: 400, reason: source === 'payload' ? 'Malformed Slack request: the form\'s payload is not JSON.' : 'Malformed Slack request: the body is not JSON.' };
  }
  const problem = slackBodyProblem(body, source);
  return problem ? { pass: false, status: 400, reason: `Malformed Slack request: ${problem}.` } : { pass: true };
}

/** Wraps a receiver's request listener with the checks above; other routes (health, metrics) pass untouched. */
export function guardRequests(original: RequestListener, opts: GuardOptions): RequestListener {
  const endpoints = opts.endpoints ?? ['/slack/events'];
  const now = opts.now ?? Date.now;
  return (req, res) => {
    const header = req.headers['x-slack-request-timestamp'];
    if (req.method === 'POST' && header !== undefined) {
      const ts = Number(header);
      if (!Number.isFinite(ts) || ts > now() / 1000 + FIVE_MINUTES_S) {
        refuse(res, 401, 'Request timestamp is not within five minutes of now; refused.');
        return;
      }
    }
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'POST' || !endpoints.includes(path)) {
      original(req, res);
      return;
    }
    void screen(req, opts)
      .then((verdict) => {
        if (verdict.pass) return original(req, res);
        if (verdict.status !== 413) opts.log.warn({ status: verdict.status, reason: verdict.reason }, 'Slack request refused');
        else opts.log.warn({ status: 413, length: req.headers['content-length'] }, 'Slack request refused: too large');
        refuse(res, verdict.status, verdict.reason);
      })
      .catch((error: unknown) => {
        opts.log.error({ err: describeError(error) }, 'Slack request could not be screened');
        if (!res.headersSent) refuse(res, 500, 'The request could not be handled.');
      });
  };
}

/** Installs the guard on a Bolt App's HTTPReceiver (not in Socket Mode: there is no HTTP request to guard). */
export function guardHttpReceiver(app: unknown, opts: Omit<GuardOptions, 'endpoints' | 'bodyLimit'>): boolean {
  // Bolt keeps these private; they are read once, and the receiver reads `requestListener` on every request.
  const receiver = (app as { receiver?: { requestListener?: RequestListener; endpoints?: unknown; bodyLimit?: number | string } }).receiver;
  const original = receiver?.requestListener;
  if (!receiver || !original) return false;
  const endpoints = Array.isArray(receiver.endpoints) && receiver.endpoints.every((e) => typeof e === 'string') ? (receiver.endpoints as string[]) : undefined;
  receiver.requestListener = guardRequests(original, { ...opts, endpoints, bodyLimit: receiver.bodyLimit });
  return true;
}
