// A local server that speaks the Slack Web API well enough for the real WebClient: it records every
// call, keeps channel messages and threads, and can answer 429 with Retry-After or an error.
// Also receives posts to response_url (`/response/<id>`).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface SlackCall {
  method: string;
  args: Record<string, unknown>;
  at: number;
}

export interface SlackMessage {
  channel: string;
  ts: string;
  thread_ts?: string;
  text?: string;
  blocks?: Record<string, unknown>[];
  user?: string;
  /** Updated in place by chat.update. */
  edits: number;
}

export interface SlackApiServer {
  url: string;
  /** Base URL for SLACK_API_URL / slackApiUrl (ends with /api/). */
  apiUrl: string;
  calls: SlackCall[];
  messages: SlackMessage[];
  ephemerals: { channel: string; user: string; text: string }[];
  responses: { id: string; body: Record<string, unknown> }[];
  userGroups: Map<string, string[]>;
  rateLimit(method: string, retryAfterSeconds: number, times?: number): void;
  failNext(method: string, error: string, times?: number): void;
  /** Top-level messages of a channel (not thread replies). */
  channelMessages(channel: string): SlackMessage[];
  thread(channel: string, ts: string): SlackMessage[];
  message(channel: string, ts: string): SlackMessage | undefined;
  callsOf(method: string): SlackCall[];
  /**
   * Socket Mode: `apps.connections.open` answers a ws:// URL on this server; envelopes sent here
   * reach the connected bot, and its acks come back as the promise's value.
   */
  socket: {
    connections(): number;
    send(type: 'slash_commands' | 'interactive' | 'events_api', payload: Record<string, unknown>, retryAttempt?: number): Promise<Record<string, unknown> | undefined>;
  };
  close(): Promise<void>;
}

const CHANNEL_IDS: Record<string, string> = { '#infrastructure': 'C0INFRA' };

export async function startSlackApiServer(): Promise<SlackApiServer> {
  const calls: SlackCall[] = [];
  const messages: SlackMessage[] = [];
  const ephemerals: SlackApiServer['ephemerals'] = [];
  const responses: SlackApiServer['responses'] = [];
  const userGroups = new Map<string, string[]>();
  const limits = new Map<string, { retryAfter: number; times: number }>();
  const failures = new Map<string, { error: string; times: number }>();
  let seq = 0;
  const nextTs = () => `${1_700_000_000 + Math.floor(seq / 1000)}.${String(++seq).padStart(6, '0')}`;

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((error) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: false, error: String(error) }));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(payload));
    };
    if (url.pathname.startsWith('/response/')) {
      const parsed = parseArgs(req.headers['content-type'], body);
      responses.push({ id: url.pathname.slice('/response/'.length), body: parsed });
      return send(200, { ok: true });
    }
    const method = url.pathname.replace(/^\/api\//, '');
    const args = { ...Object.fromEntries(url.searchParams), ...parseArgs(req.headers['content-type'], body) };
    calls.push({ method, args, at: Date.now() });
    if (!/^Bearer (xox|xapp-)/.test(req.headers.authorization ?? '') && typeof args.token !== 'string') return send(200, { ok: false, error: 'not_authed' });
    const limit = limits.get(method);
    if (limit && limit.times > 0) {
      limit.times--;
      return send(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(limit.retryAfter) });
    }
    const failure = failures.get(method);
    if (failure && failure.times > 0) {
      failure.times--;
      return send(200, { ok: false, error: failure.error });
    }
    const channelOf = (c: unknown) => CHANNEL_IDS[String(c)] ?? String(c);
    switch (method) {
      case 'apps.connections.open':
        if (!String(req.headers.authorization ?? '').startsWith('Bearer xapp-')) return send(200, { ok: false, error: 'not_allowed_token_type' });
        return send(200, { ok: true, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/link?ticket=${++seq}` });
      case 'auth.test':
        return send(200, { ok: true, url: 'https://test.slack.com/', team: 'Test', user: 'scalebot', team_id: 'T0TEAM', user_id: 'U0BOT', bot_id: 'B0BOT' });
      case 'chat.postMessage': {
        const channel = channelOf(args.channel);
        const message: SlackMessage = { channel, ts: nextTs(), thread_ts: args.thread_ts as string | undefined, text: args.text as string | undefined, blocks: args.blocks as SlackMessage['blocks'], user: 'U0BOT', edits: 0 };
        messages.push(message);
        return send(200, { ok: true, channel, ts: message.ts, message: { text: message.text, ts: message.ts } });
      }
      case 'chat.update': {
        const channel = channelOf(args.channel);
        const message = messages.find((m) => m.channel === channel && m.ts === args.ts);
        if (!message) return send(200, { ok: false, error: 'message_not_found' });
        message.text = args.text as string | undefined;
        message.blocks = args.blocks as SlackMessage['blocks'];
        message.edits++;
        return send(200, { ok: true, channel, ts: message.ts });
      }
      case 'chat.postEphemeral':
        ephemerals.push({ channel: channelOf(args.channel), user: String(args.user), text: String(args.text ?? '') });
        return send(200, { ok: true, message_ts: nextTs() });
      case 'chat.getPermalink':
        return send(200, { ok: true, channel: args.channel, permalink: `https://test.slack.com/archives/${args.channel}/p${String(args.message_ts).replace('.', '')}` });
      case 'usergroups.users.list': {
        const users = userGroups.get(String(args.usergroup));
        return users ? send(200, { ok: true, users }) : send(200, { ok: false, error: 'no_such_subteam' });
      }
      case 'views.open':
        return send(200, { ok: true, view: { id: 'V0VIEW' } });
      default:
        return send(200, { ok: false, error: 'unknown_method' });
    }
  }

  const wss = new WebSocketServer({ server, path: '/link' });
  const sockets = new Set<WebSocket>();
  const acks = new Map<string, (payload: Record<string, unknown> | undefined) => void>();
  wss.on('connection', (ws) => {
    sockets.add(ws);
    ws.on('close', () => sockets.delete(ws));
    ws.on('message', (data) => {
      const message = safeJson(String(data)) as { envelope_id?: string; payload?: Record<string, unknown> };
      if (message?.envelope_id) acks.get(message.envelope_id)?.(message.payload);
    });
    ws.send(JSON.stringify({ type: 'hello', num_connections: sockets.size, debug_info: { host: 'test' }, connection_info: { app_id: 'A0APP' } }));
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    apiUrl: `${url}/api/`,
    calls,
    messages,
    ephemerals,
    responses,
    userGroups,
    rateLimit(method, retryAfterSeconds, times = 1) {
      limits.set(method, { retryAfter: retryAfterSeconds, times });
    },
    failNext(method, error, times = 1) {
      failures.set(method, { error, times });
    },
    channelMessages: (channel) => messages.filter((m) => m.channel === channel && !m.thread_ts),
    thread: (channel, ts) => messages.filter((m) => m.channel === channel && m.thread_ts === ts),
    message: (channel, ts) => messages.find((m) => m.channel === channel && m.ts === ts),
    callsOf: (method) => calls.filter((c) => c.method === method),
    socket: {
      connections: () => sockets.size,
      send(type, payload, retryAttempt = 0) {
        const ws = [...sockets][0];
        if (!ws) return Promise.reject(new Error('no Socket Mode connection'));
        const envelopeId = `env-${++seq}`;
        return new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no ack for ${envelopeId}`)), 5000);
          acks.set(envelopeId, (p) => {
            clearTimeout(timer);
            acks.delete(envelopeId);
            resolve(p);
          });
          ws.send(JSON.stringify({ envelope_id: envelopeId, type, payload, accepts_response_payload: type !== 'events_api', retry_attempt: retryAttempt, retry_reason: retryAttempt ? 'timeout' : '' }));
        });
      },
    },
    close: () =>
      new Promise((resolve) => {
        for (const ws of sockets) ws.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseArgs(contentType: string | undefined, body: string): Record<string, unknown> {
  if (!body) return {};
  if (contentType?.includes('application/json')) return JSON.parse(body) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(body)) {
    // WebClient sends arrays and objects (blocks, attachments) as JSON strings.
    out[key] = /^[[{]/.test(value) ? safeJson(value) : value;
  }
  return out;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
