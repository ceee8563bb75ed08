// Open-loop load generator for bench/run.ts, run as its own process so that its timers are not
// delayed by the in-process Slack/Kubernetes servers. Reads one JSON job from argv[2], prints one
// JSON result line on stdout. Request i is scheduled at t0 + i/rate, whether or not earlier ones
// were answered. Latency = time from the moment the request is handed to undici to the end of the
// HTTP response body (the ack). `sendLagMs` says how late requests left against their schedule.
import { createHmac } from 'node:crypto';
import { Agent, request } from 'undici';

export interface LoadJob {
  url: string;
  secret: string;
  rate: number;
  seconds: number;
  /** Base of the unique response_url / trigger ids. */
  responseBase: string;
  /** The channel card the approve clicks are made on (a card of a run waiting for approval). */
  card: { channel: string; ts: string; text?: string; blocks?: unknown[] };
  /** The approve button of that card. */
  button: { action_id: string; block_id?: string; value?: string; text?: unknown };
  /** A command text refused at once (out of limits). */
  commandText: string;
  /** Text the ack of a command must contain to count as answered (bots only; bare Bolt acks empty). */
  expectCommandText?: string;
  clicker: string;
  requester: string;
  timeoutMs: number;
}

export interface LoadResult {
  rate: number;
  seconds: number;
  sent: number;
  ok: number;
  errors: number;
  errorKinds: Record<string, number>;
  unexpectedAnswers: number;
  /** Up to 3 acks of commands that did not contain expectCommandText. */
  unexpectedSamples: string[];
  latenciesMs: { command: number[]; click: number[] };
  sendLagMs: { p99: number; max: number };
  wallMs: number;
}

const job = JSON.parse(process.argv[2] ?? '{}') as LoadJob;
const tag = Math.random().toString(36).slice(2, 8);
const agent = new Agent({ connections: 256, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000 });
const target = new URL('/slack/events', job.url);

function sign(body: string): Record<string, string> {
  const ts = Math.floor(Date.now() / 1000);
  const sig = `v0=${createHmac('sha256', job.secret).update(`v0:${ts}:${body}`).digest('hex')}`;
  return { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(ts), 'x-slack-signature': sig };
}

function commandBody(i: number): string {
  const id = `b${tag}c${i}`;
  return new URLSearchParams({
    token: 'legacy-token', team_id: 'T0TEAM', team_domain: 'test', channel_id: job.card.channel, channel_name: 'infrastructure',
    user_id: job.requester, user_name: job.requester.toLowerCase(), command: '/scale', text: job.commandText, api_app_id: 'A0APP',
    response_url: `${job.responseBase}/response/${id}`, trigger_id: `trigger.${id}`,
  }).toString();
}

function clickBody(i: number): string {
  const id = `b${tag}a${i}`;
  const payload = {
    type: 'block_actions', team: { id: 'T0TEAM', domain: 'test' }, user: { id: job.clicker, username: job.clicker.toLowerCase(), team_id: 'T0TEAM' },
    api_app_id: 'A0APP', token: 'legacy-token', container: { type: 'message', message_ts: job.card.ts, channel_id: job.card.channel, is_ephemeral: false },
    trigger_id: `trigger.${id}`, channel: { id: job.card.channel, name: 'infrastructure' },
    message: { type: 'message', ts: job.card.ts, text: job.card.text, blocks: job.card.blocks, user: 'U0BOT' },
    response_url: `${job.responseBase}/response/${id}`,
    actions: [{ action_ts: `${Date.now() / 1000}`, type: 'button', ...job.button }],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

const total = Math.max(1, Math.round(job.rate * job.seconds));
const result: LoadResult = {
  rate: job.rate, seconds: job.seconds, sent: 0, ok: 0, errors: 0, errorKinds: {}, unexpectedAnswers: 0, unexpectedSamples: [],
  latenciesMs: { command: [], click: [] }, sendLagMs: { p99: 0, max: 0 }, wallMs: 0,
};
const lags: number[] = [];
const inflight = new Set<Promise<void>>();
const fail = (kind: string) => {
  result.errors++;
  result.errorKinds[kind] = (result.errorKinds[kind] ?? 0) + 1;
};

async function one(i: number): Promise<void> {
  const isCommand = i % 2 === 0;
  const body = isCommand ? commandBody(i) : clickBody(i);
  const headers = sign(body);
  const started = performance.now();
  try {
    const res = await request(target, { method: 'POST', headers, body, dispatcher: agent, signal: AbortSignal.timeout(job.timeoutMs) });
    const text = await res.body.text();
    const ms = performance.now() - started;
    if (res.statusCode !== 200) return fail(`HTTP ${res.statusCode}`);
    result.ok++;
    (isCommand ? result.latenciesMs.command : result.latenciesMs.click).push(ms);
    if (isCommand && job.expectCommandText && !text.includes(job.expectCommandText)) {
      result.unexpectedAnswers++;
      if (result.unexpectedSamples.length < 3) result.unexpectedSamples.push(`${text.slice(0, 300)} (${Math.round(ms)} ms)`);
    }
  } catch (error) {
    fail(error instanceof Error ? error.name : 'error');
  }
}

const t0 = performance.now();
const interval = 1000 / job.rate;
let next = 0;
await new Promise<void>((resolve) => {
  const pump = () => {
    const now = performance.now();
    while (next < total && t0 + next * interval <= now) {
      lags.push(now - (t0 + next * interval));
      const p = one(next).finally(() => inflight.delete(p));
      inflight.add(p);
      next++;
      result.sent++;
    }
    if (next >= total) return resolve();
    setTimeout(pump, Math.max(0, t0 + next * interval - performance.now()));
  };
  pump();
});
// Bounded drain: every request has its own timeout; wait at most timeoutMs + 1 s more.
await Promise.race([Promise.allSettled([...inflight]), new Promise((r) => setTimeout(r, job.timeoutMs + 1000))]);
result.wallMs = performance.now() - t0;
lags.sort((a, b) => a - b);
result.sendLagMs = { p99: lags[Math.min(lags.length - 1, Math.floor(lags.length * 0.99))] ?? 0, max: lags[lags.length - 1] ?? 0 };
await agent.close().catch(() => undefined);
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
