// The guard in front of Bolt's HTTPReceiver (src/adapters/slack/http-guard.ts): alone on a plain
// HTTP server, then in front of a real Bolt app (whose receiver must reuse the body read by the guard).
import { createHmac } from 'node:crypto';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { defaultBodyLimit, type App } from '@slack/bolt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSlackApp } from '../../../src/adapters/slack/bolt-app.ts';
import { guardRequests } from '../../../src/adapters/slack/http-guard.ts';
import { startSlackApiServer, type SlackApiServer } from '../../servers/slack-api-server.ts';
import { freePort } from '../../support/bot-process.ts';

const SECRET = 'unit-test-signing-secret';
const FORM = 'application/x-www-form-urlencoded';
const log = pino({ level: 'silent' });

const sign = (body: string, ts = Math.floor(Date.now() / 1000), secret = SECRET): Record<string, string> => ({
  'x-slack-request-timestamp': String(ts),
  'x-slack-signature': `v0=${createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex')}`,
});

const commandBody = (fields: Record<string, string> = {}) =>
  new URLSearchParams({ team_id: 'T0TEAM', channel_id: 'C0INFRA', user_id: 'U0ALICE', command: '/scale', text: 'help', response_url: 'http://127.0.0.1:9/response/1', trigger_id: 't.1', ...fields }).toString();
const payloadBody = (payload: unknown) => new URLSearchParams({ payload: JSON.stringify(payload) }).toString();

interface Answer {
  status: number;
  body: string;
}

/** A POST on a connection of its own; `body` may be sent in chunks (no content-length). */
function post(url: string, body: string | Buffer, headers: Record<string, string>, opts: { chunked?: boolean; path?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${opts.path ?? '/slack/events'}`, {
      method: 'POST',
      agent: false,
      headers: { 'content-type': FORM, ...(opts.chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(Buffer.byteLength(body)) }), ...headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    // The server may answer 413 and close before the whole body is sent.
    req.on('error', (error: NodeJS.ErrnoException) => (['EPIPE', 'ECONNRESET'].includes(error.code ?? '') ? undefined : reject(error)));
    if (opts.chunked) {
      const buf = Buffer.from(body);
      for (let i = 0; i < buf.length; i += 64 * 1024) req.write(buf.subarray(i, i + 64 * 1024));
      req.end();
    } else req.end(body);
  });
}

describe('guardRequests on a plain server', () => {
  let server: Server;
  let url: string;
  /** What reached the wrapped listener: path and whether the body was already read. */
  const passed: { path: string; buffered: boolean; rawBody?: string }[] = [];
  const now = () => Date.now();

  beforeAll(async () => {
    const original = (req: IncomingMessage, res: ServerResponse) => {
      const rawBody = (req as IncomingMessage & { rawBody?: Buffer }).rawBody;
      passed.push({ path: req.url ?? '', buffered: Buffer.isBuffer(rawBody), rawBody: rawBody?.toString() });
      res.writeHead(200);
      res.end('passed');
    };
    server = createServer(guardRequests(original, { signingSecret: SECRET, log, bodyLimit: 64 * 1024, now }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const last = () => passed[passed.length - 1];

  it('passes a signed slash command on, its body already read (Bolt reuses req.rawBody)', async () => {
    const body = commandBody();
    const before = passed.length;
    expect(await post(url, body, sign(body))).toEqual({ status: 200, body: 'passed' });
    expect(passed.length).toBe(before + 1);
    expect(last()).toEqual({ path: '/slack/events', buffered: true, rawBody: body });
  });

  it('answers a signed body of the wrong shape 400 with a short reason, and does not pass it on', async () => {
    const before = passed.length;
    const cases: [string, string, string][] = [
      ['null', 'application/json', 'the body is null'],
      ['null', 'text/plain', 'the body is null'],
      ['payload=null', FORM, 'the payload is null'],
      ['{not json', 'application/json', 'the body is not JSON'],
      [payloadBody('x').replace('%22x%22', '%7Bnot'), FORM, "the form's payload is not JSON"],
      [`${commandBody()}&text=status`, FORM, 'the form field "text" is sent more than once'],
      [payloadBody({ type: 'block_actions', user: null, channel: { id: 'C1' }, actions: [{ action_id: 'a' }] }), FORM, 'user is null'],
      [payloadBody({ type: 'block_actions', user: { id: 'U1' }, channel: { id: 'C1' }, actions: 'scalebot_approve' }), FORM, 'actions is a string'],
    ];
    for (const [body, contentType, reason] of cases) {
      const answer = await post(url, body, { ...sign(body), 'content-type': contentType });
      expect(answer.status, body).toBe(400);
      expect(answer.body, body).toContain(reason);
      expect(answer.body.length).toBeLessThan(200);
    }
    expect(passed.length).toBe(before);
  });

  it('verifies the signature first: an unsigned or forged body of any shape goes on to Bolt, which answers 401', async () => {
    for (const [body, headers] of [['null', {}], ['null', sign('null', undefined, 'wrong-secret')], [payloadBody({ user: null }), sign('something else')]] as const) {
      const before = passed.length;
      expect((await post(url, body, headers)).status).toBe(200);
      expect(passed.length).toBe(before + 1);
      expect(last()?.buffered).toBe(true);
    }
  });

  it('passes an unsigned ssl_check on (Bolt answers it)', async () => {
    const before = passed.length;
    expect((await post(url, 'ssl_check=1&token=x', {})).status).toBe(200);
    expect(passed.length).toBe(before + 1);
  });

  it('refuses a timestamp in the future with 401, before reading the body', async () => {
    const body = commandBody();
    for (const ts of [Math.floor(Date.now() / 1000) + 400, 'Infinity', 'abc']) {
      const answer = await post(url, body, sign(body, ts as number));
      expect(answer.status).toBe(401);
      expect(answer.body).toMatch(/timestamp/);
    }
  });

  it('answers a body over the limit 413, signed or not, with or without a content-length', async () => {
    const big = `text=${'x'.repeat(200 * 1024)}`;
    const before = passed.length;
    expect((await post(url, big, {})).status).toBe(413);
    expect((await post(url, big, sign(big))).status).toBe(413);
    expect((await post(url, big, sign(big), { chunked: true })).status).toBe(413);
    expect(passed.length).toBe(before);
  });

  it('leaves other routes and methods to the receiver', async () => {
    const before = passed.length;
    expect((await post(url, 'null', sign('null'), { path: '/other' })).status).toBe(200);
    expect(last()).toMatchObject({ path: '/other', buffered: false });
    const res = await fetch(`${url}/healthz`);
    expect(res.status).toBe(200);
    expect(last()).toMatchObject({ path: '/healthz', buffered: false });
    expect(passed.length).toBe(before + 2);
  });
});

describe('the guard in front of a real Bolt app', () => {
  let slack: SlackApiServer;
  let app: App;
  let url: string;
  const commands: string[] = [];

  beforeAll(async () => {
    slack = await startSlackApiServer();
    const port = await freePort();
    app = createSlackApp({
      botToken: 'xoxb-unit',
      signingSecret: SECRET,
      port,
      slackApiUrl: slack.apiUrl,
      log,
      retries: 0,
      health: async () => ({ ok: true }),
      ready: async () => ({ ok: true }),
      metrics: async () => ({ contentType: 'text/plain', body: '' }),
    });
    app.command('/scale', async ({ command, ack }) => {
      commands.push(command.text);
      await ack({ response_type: 'ephemeral', text: `heard ${command.text}` });
    });
    app.action({ type: 'block_actions' }, async ({ ack }) => ack());
    await app.start(port);
    url = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await app?.stop();
    await slack?.close();
  });

  it('serves a valid command as before: Bolt reads the body the guard read', async () => {
    const body = commandBody({ text: 'status' });
    const answer = await post(url, body, sign(body));
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ text: 'heard status' });
    expect(commands).toContain('status');
  });

  it('answers a signed null body 400 at once (Bolt alone never answers it)', async () => {
    const started = performance.now();
    const answer = await post(url, 'null', { ...sign('null'), 'content-type': 'application/json' });
    expect(answer.status).toBe(400);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('answers signed payloads Bolt would answer 500 with 400', async () => {
    const shapes = [
      { type: 'block_actions', user: null, channel: { id: 'C0INFRA' }, team: { id: 'T0TEAM' }, actions: [{ action_id: 'x' }] },
      { type: 'block_actions', user: { id: 'U1' }, channel: { id: 'C0INFRA' }, team: { id: 'T0TEAM' }, actions: [5] },
      { type: 'block_actions', user: { id: 'U1' }, channel: { id: 'C0INFRA' }, team: { id: 'T0TEAM' }, actions: [{ action_id: 42 }] },
    ];
    for (const shape of shapes) {
      const body = payloadBody(shape);
      expect((await post(url, body, sign(body))).status, JSON.stringify(shape)).toBe(400);
    }
  });

  it('leaves forged requests to Bolt (401) and big ones get 413', async () => {
    const body = commandBody();
    expect((await post(url, body, sign(body, undefined, 'wrong'))).status).toBe(401);
    expect((await post(url, 'null', {})).status).toBe(401);
    const big = `text=${'x'.repeat(defaultBodyLimit)}`;
    expect((await post(url, big, sign(big))).status).toBe(413);
  });

  it('keeps the custom routes', async () => {
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });
});
