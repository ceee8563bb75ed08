// The seed runbooks end to end, as a user sees them in Slack: the real bot IN PROCESS (so its clock
// can be injected), driven by signed slash commands and clicks, against the local Slack and
// Kubernetes servers and, for the seeds, real PostgreSQL and Redis, the Prometheus test server
// and N instances behind a balancer. Nothing sleeps through a runbook's 10-minute waits or settle
// windows: the test advances the bot's ManualClock (and the cluster's clock with it) and then
// waits for the effects, which run asynchronously.
import { rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startHttpInstancesServer, type HttpInstancesServer } from '../servers/http-instances-server.ts';
import { startKubeApiServer, type KubeApiServer } from '../servers/kube-api-server.ts';
import { startPrometheusServer, type PrometheusServer } from '../servers/prometheus-server.ts';
import { startSlackApiServer, type SlackApiServer, type SlackMessage } from '../servers/slack-api-server.ts';
import { startInProcessBot, SIGNING_SECRET, type InProcessBot } from '../support/in-process-bot.ts';
import { ManualClock } from '../support/manual-clock.ts';
import { exampleCatalog, peerOf, PG_URL, REDIS_URL, type CatalogDoc, type LocalSources } from '../support/example-catalog.ts';
import { buttonsOf, cardShows as showsOnCard, cardText, findCard, SlackDriver, waitFor } from '../support/slack-driver.ts';

const MIN = 60_000;
/** An example catalog with its sources pointed at the local servers (test/support/example-catalog.ts). */
const seedCatalog = (system: string, local: LocalSources, edit?: (doc: CatalogDoc) => void) => exampleCatalog(system, local, { edit });

async function pgMaxConnections(): Promise<number> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return Number((await client.query<{ max_connections: string }>('SHOW max_connections')).rows[0]!.max_connections);
  } finally {
    await client.end();
  }
}

/** Request counts by method and path (namespace folded), for the figures in the closing note. */
function kubeFigures(kube: KubeApiServer, from: number): Record<string, number> {
  return kube.requests.slice(from).reduce<Record<string, number>>((acc, r) => {
    const key = `${r.method} ${r.path.replace(/\/namespaces\/[^/]+/, '/namespaces/*').replace(/\/(deployments|horizontalpodautoscalers|poddisruptionbudgets)\/[^/]+/, '/$1/*')}${r.query.watch ? ' (watch)' : ''}`;
    return { ...acc, [key]: (acc[key] ?? 0) + 1 };
  }, {});
}
function slackFigures(slack: SlackApiServer, from: number): Record<string, number> {
  return slack.calls.slice(from).reduce<Record<string, number>>((acc, c) => ({ ...acc, [c.method]: (acc[c.method] ?? 0) + 1 }), {});
}

/** Asserts that `text` shows each of `expected` (a substring, or a pattern). */
function expectShows(text: string, ...expected: (string | RegExp)[]): void {
  for (const e of expected) {
    if (typeof e === 'string') expect(text).toContain(e);
    else expect(text).toMatch(e);
  }
}

function runIdOf(reply: string): string {
  const match = /run-[a-z0-9]+/.exec(reply);
  if (!match) throw new Error(`no run id in: ${reply}`);
  return match[0];
}

/** What every suite here shares: the servers, the bot, and the helpers that read what a user sees. */
class Harness {
  kube!: KubeApiServer;
  slack!: SlackApiServer;
  bot!: InProcessBot;
  driver!: SlackDriver;
  readonly clock = new ManualClock();

  card = (runId: string): SlackMessage => findCard(this.slack, runId);
  /** Waits for the card to show `text`; on a timeout, says what the card and its thread show instead. */
  cardShows = (runId: string, text: string, timeoutMs = 10_000): Promise<SlackMessage> =>
    showsOnCard(this.slack, runId, text, timeoutMs).catch((error: Error) => {
      const card = this.slack.channelMessages('C0INFRA').find((m) => m.blocks && cardText(m).includes(runId));
      const status = JSON.stringify(card?.blocks?.[1] ?? null);
      const thread = card ? this.slack.thread('C0INFRA', card.ts).slice(-4).map((m) => (m.text ?? '').slice(0, 300)) : [];
      throw new Error(`${error.message}\ncard status: ${status}\nlast thread posts: ${JSON.stringify(thread, null, 1)}`);
    });
  /** Non-GET requests whose path matches. */
  writes = (path: RegExp) => this.kube.requests.filter((r) => r.method !== 'GET' && path.test(r.path));
  threadShows = (runId: string, text: string, timeoutMs = 10_000) =>
    waitFor(() => this.slack.thread('C0INFRA', this.card(runId).ts).find((m) => m.text?.includes(text)), timeoutMs, `the thread of ${runId} to show "${text}"`);
  threadText = (runId: string): string => this.slack.thread('C0INFRA', this.card(runId).ts).map((m) => m.text ?? '').join('\n');
  announced = (text: string, timeoutMs = 10_000) =>
    waitFor(() => this.slack.channelMessages('C0INFRA').find((m) => !m.blocks && m.text?.includes(text)), timeoutMs, `a channel announcement with "${text}"`);
  ephemeralFor = (user: string, text: string) =>
    waitFor(() => this.slack.ephemerals.find((e) => e.user === user && e.text.includes(text)), 10_000, `an ephemeral to ${user}: ${text}`);

  /** Starts counting Kubernetes and Slack calls; the function returned logs them as a figure. */
  countCalls(): (figure: string, extra?: Record<string, unknown>) => void {
    const kubeFrom = this.kube.requests.length;
    const slackFrom = this.slack.calls.length;
    return (figure, extra = {}) => console.log(JSON.stringify({ figure, kubeCalls: kubeFigures(this.kube, kubeFrom), slackCalls: slackFigures(this.slack, slackFrom), ...extra }, null, 1));
  }

  /** The bot's and the cluster's clocks move together, as real time would. */
  advance(ms: number): void {
    this.kube.advanceClock(ms);
    this.clock.advance(ms);
  }

  /**
   * Waits until the bot has armed a timer exactly `ms` from now (a wait step's or a settle
   * window's), then moves time past it. Advancing before it is armed would leave it unfired.
   */
  async advanceThrough(ms: number, what: string): Promise<void> {
    const due = this.clock.now() + ms;
    await waitFor(() => this.clock.pending().includes(due), 10_000, `the bot to arm a timer for ${what} (${ms / MIN} min)`);
    this.advance(ms);
  }

  /**
   * A step that measures again every `ms` until it passes or its deadline: moves time one
   * interval at a time (waiting each time for the bot to arm the next timer) until `done`.
   */
  async advanceEvery(ms: number, done: () => boolean, what: string, max = 40): Promise<number> {
    for (let i = 0; i < max; i++) {
      const due = this.clock.now() + ms;
      await waitFor(() => done() || this.clock.pending().includes(due), 10_000, `${what} (interval ${i + 1})`);
      if (done()) return i;
      this.advance(ms);
    }
    throw new Error(`${what}: not done after ${max} intervals of ${ms / 1000}s`);
  }

  /** Runs opened by this harness, so a failed test does not leave its target claimed for the next. */
  private readonly opened: string[] = [];

  async cancelOpenRuns(): Promise<void> {
    for (const runId of this.opened.splice(0)) {
      const card = this.slack.channelMessages('C0INFRA').find((m) => m.blocks && cardText(m).includes(runId));
      if (card && buttonsOf(card).includes('cancel')) await this.driver.ask(`cancel ${runId}`, 'U0ALICE');
      if (card && buttonsOf(card).includes('close')) await this.driver.press(card, 'close', 'U0ALICE');
    }
  }

  async open(text: string, user = 'U0ALICE', settled = 'Waiting for'): Promise<string> {
    const { reply } = await this.driver.ask(text, user);
    const runId = runIdOf(reply);
    this.opened.push(runId);
    await this.cardShows(runId, settled, 15_000);
    return runId;
  }

  async tick(runId: string, items: string[], user = 'U0DAVE'): Promise<void> {
    await this.driver.tick(this.card(runId), items, user);
    await waitFor(() => !cardText(this.card(runId)).includes('checklist item'), 10_000, 'the checklist to be ticked');
  }

  /**
   * A request whose checks block: the card says why, an approver's click is refused, the
   * Deployment (`ns/name`) is not scaled, and the requester cancels it.
   */
  async blocked(command: string, deployment: string, shown: string[], approver = 'U0BOB'): Promise<SlackMessage> {
    const [ns, name] = deployment.split('/');
    const scaled = () => this.writes(new RegExp(`/namespaces/${ns}/deployments/${name}/scale$`)).length;
    const before = scaled();
    const runId = await this.open(command, 'U0ALICE', 'Blocked');
    const c = this.card(runId);
    for (const text of shown) expect(cardText(c)).toContain(text);
    await this.driver.press(c, 'approve', approver);
    await this.ephemeralFor(approver, 'Cannot approve while blocked');
    expect(scaled()).toBe(before);
    await this.driver.press(this.card(runId), 'cancel', 'U0ALICE');
    return this.cardShows(runId, 'Cancelled by <@U0ALICE>');
  }

  /** The requester is refused, then a peer approves. */
  async peerApproval(runId: string, requester = 'U0ALICE', peer = 'U0BOB'): Promise<void> {
    await this.driver.press(this.card(runId), 'approve', requester);
    await this.ephemeralFor(requester, 'so you cannot approve this run');
    await this.driver.press(this.card(runId), 'approve', peer);
    await this.threadShows(runId, `Approved by <@${peer}>`);
  }

  readyAt(ns: string, name: string, replicas: number): Promise<unknown> {
    return waitFor(() => {
      const d = this.kube.getDeployment(ns, name);
      return d?.spec?.replicas === replicas && d.status?.readyReplicas === replicas && d.status.replicas === replicas;
    }, 10_000, `Deployment ${ns}/${name} to settle at ${replicas} ready`);
  }

  async start(opts: { catalog: string; workflows?: Record<string, string>; env?: Record<string, string> } | { catalogFile: string; env?: Record<string, string> }): Promise<void> {
    this.bot = await startInProcessBot({ ...opts, kubeconfig: this.kube.kubeconfigPath, slackApiUrl: this.slack.apiUrl, clock: this.clock, env: opts.env });
    this.driver = new SlackDriver(this.bot.url, SIGNING_SECRET, this.slack);
  }

  async servers(): Promise<void> {
    [this.kube, this.slack] = await Promise.all([startKubeApiServer({ tickMs: 20 }), startSlackApiServer()]);
    for (const n of [1, 2, 3]) this.kube.addNode({ name: `node-${n}`, cpu: '16', memory: '64Gi', pods: 110 });
  }

  private readonly cleanups: (() => unknown)[] = [];

  /** Something close() must undo after the bot has stopped (a server, a temp folder, Redis keys). */
  later(cleanup: () => unknown): void {
    this.cleanups.push(cleanup);
  }

  async prometheus(): Promise<PrometheusServer> {
    const prom = await startPrometheusServer();
    this.later(() => prom.close());
    return prom;
  }

  /** A Redis client for the test's own keys (`prefix:*`), which close() deletes. */
  async redis(prefix: string): Promise<Redis> {
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    this.later(async () => {
      await deleteKeys(redis, `${prefix}:*`);
      redis.disconnect();
    });
    return redis;
  }

  /** seedCatalog, removed again by close(). */
  seed(...args: Parameters<typeof seedCatalog>): ReturnType<typeof seedCatalog> {
    const seed = seedCatalog(...args);
    this.later(() => rmSync(seed.dir, { recursive: true, force: true }));
    return seed;
  }

  async close(): Promise<void> {
    if (process.env.SCALEBOT_E2E_LOG && this.bot) writeFileSync(process.env.SCALEBOT_E2E_LOG, this.bot.logs.join('\n'));
    await this.bot?.stop();
    await Promise.all([this.kube?.close(), this.slack?.close()]);
    for (const cleanup of this.cleanups.splice(0).reverse()) await cleanup();
  }
}

// ---------------------------------------------------------------------------------------------
// The built-in runbooks: workflows/scale-down.yml (seed 004's "Scaling Back Down").
// ---------------------------------------------------------------------------------------------

describe('built-in scale-down: /scale down <service> to 3 from 10, gradually, on an injected clock', () => {
  const h = new Harness();
  const service = (name: string, extra = '') => `
  ${name}:
    description: ${name} service
    target: { kind: kubernetes, namespace: prod, deployment: ${name} }
    limits: { min: 2, baseline: 3, max: 50 }
    approvals: { required: 1, approvers: [U0BOB, U0CAROL] }${extra}`;
  const allDay = `
    peak-windows:
      - { days: [mon, tue, wed, thu, fri, sat, sun], from: "00:00", to: "24:00", reason: campaign week }`;

  beforeAll(async () => {
    await h.servers();
    for (const name of ['api', 'worse', 'guarded', 'peaky', 'fresh']) {
      h.kube.addDeployment({ namespace: 'prod', name, replicas: 10, cpuRequest: '250m', memoryRequest: '256Mi' });
    }
    h.kube.addPdb({ namespace: 'prod', name: 'api', minAvailable: 3 });
    h.kube.addPdb({ namespace: 'prod', name: 'guarded', minAvailable: 5 });
    await h.start({ catalog: `channel: C0INFRA\nservices:${['api', 'worse', 'guarded', 'fresh'].map((n) => service(n)).join('')}${service('peaky', allDay)}\n` });
    // Everything was deployed 40 minutes ago.
    h.advance(40 * MIN);
  }, 60_000);
  afterAll(() => h.close());

  it('guards pass; 10 → 6 → 4 → 3 with a 10-minute wait and a re-check after each step; verified; announced', async () => {
    const report = h.countCalls();
    const runId = await h.open('down api to 3 --reason "after the campaign"');
    let c = h.card(runId);
    const text = cardText(c);
    for (const shown of ['Scale down api: 10 → 3', 'Deployment prod/api', 'min 2 · baseline 3 · max 50', 'after the campaign', 'path 10 → 6 → 4 → 3', 'Scale down, step by step']) {
      expect(text).toContain(shown);
    }
    // The guard checks, each with its evidence.
    expectShows(
      text,
      '*Not inside a peak window* — no peak windows are declared for this service',
      '*CPU per pod below 40% of requests* — 10 pods: CPU avg 10%, max 10%',
      'PDB api (minAvailable 3): min 3 available, 10 healthy, 7 disruptions allowed; at 3 replicas it asks for 3 available',
      'Waiting for 2 checklist items and 1 approval',
    );
    // The cluster's clock and the bot's may be a few seconds apart: 40 minutes back, give or take one.
    expect(text).toMatch(/\*No deployment in the last 30 minutes\* — last rollout (39|40|41) min ago \(revision 1\) — holds: minutes_since &gt;= 30/);

    await h.tick(runId, ['no-spike-expected', 'team-notified']);
    await h.peerApproval(runId);

    // Step 1: 10 → 6, then a 10-minute wait the test moves through.
    const scale = /\/deployments\/api\/scale$/;
    await waitFor(() => h.writes(scale).length === 1, 10_000, 'the first scale call');
    expect(h.writes(scale)[0]!.body).toEqual({ metadata: { resourceVersion: expect.stringMatching(/^\d+$/) }, spec: { replicas: 6 } });
    await h.threadShows(runId, 'Wait and watch: waiting 10m');
    c = await h.cardShows(runId, 'until');
    expect(cardText(c)).toContain('1 step done');
    await h.readyAt('prod', 'api', 6);
    // No second step before the wait is over.
    expect(h.writes(scale)).toHaveLength(1);
    await h.advanceThrough(10 * MIN, 'the wait after step 1');
    await h.threadShows(runId, 'Pods settled: 6/6 ready');
    await h.threadShows(runId, 'CPU per pod still below 60% of requests');

    // Step 2: 6 → 4.
    await waitFor(() => h.writes(scale).length === 2, 10_000, 'the second scale call');
    expect(h.writes(scale)[1]!.body).toMatchObject({ spec: { replicas: 4 } });
    await h.readyAt('prod', 'api', 4);
    await h.advanceThrough(10 * MIN, 'the wait after step 2');

    // Step 3: 4 → 3, the target.
    await waitFor(() => h.writes(scale).length === 3, 10_000, 'the third scale call');
    expect(h.writes(scale)[2]!.body).toMatchObject({ spec: { replicas: 3 } });
    await h.readyAt('prod', 'api', 3);
    await h.advanceThrough(10 * MIN, 'the wait after step 3');

    c = await h.cardShows(runId, 'Verified in 30m', 15_000);
    expect(buttonsOf(c)).toEqual([]);
    const announce = await h.announced('api scaled down');
    expect(announce.text).toContain('api scaled down 10 replicas → 3 replicas in 3 steps and verified in 30m');
    expect(announce.text).toContain('Requested by <@U0ALICE> (after the campaign), approved by <@U0BOB>');
    expect(h.writes(scale)).toHaveLength(3);
    expect(h.writes(/\/deployments\/api$/)).toHaveLength(0);
    const thread = h.threadText(runId);
    expect(thread.match(/Wait and watch: waiting 10m/g)).toHaveLength(3);
    expect(thread).toContain('Executed (step 1): 10 replicas → 6 replicas');
    expect(thread).toContain('Executed (step 3): 4 replicas → 3 replicas');

    report('built-in scale-down 10 → 3 (3 steps)');
  }, 30_000);

  it('a re-check that worsens stops the walk and alerts, leaving the Deployment where it is', async () => {
    const runId = await h.open('down worse to 3');
    await h.tick(runId, ['no-spike-expected', 'team-notified']);
    await h.peerApproval(runId, 'U0ALICE', 'U0CAROL');
    const scale = /\/deployments\/worse\/scale$/;
    await waitFor(() => h.writes(scale).length === 1, 10_000, 'the first scale call');
    await h.readyAt('prod', 'worse', 6);
    // Load comes back while the bot waits: 200m of 250m requested = 80% per pod.
    h.kube.setPodCpuUsage('prod', 'worse', '200m');
    await h.advanceThrough(10 * MIN, 'the wait after step 1');
    const c = await h.cardShows(runId, 'Failed: stopped: CPU per pod still below 60% of requests');
    expect(cardText(c)).toContain('80%');
    await h.threadShows(runId, 'Stopped: CPU per pod still below 60% of requests');
    const alert = await h.announced('worse');
    expect(alert.text).toContain(':rotating_light:');
    expect(alert.text).toContain('Deployment prod/worse is left at 6 replicas');
    // Nothing more: no second step, even much later.
    h.advance(60 * MIN);
    await new Promise((r) => setTimeout(r, 200));
    expect(h.writes(scale)).toHaveLength(1);
    expect(h.kube.getDeployment('prod', 'worse')!.spec?.replicas).toBe(6);
  }, 30_000);

  it('guard: a target below the PodDisruptionBudget\'s minAvailable blocks approval, with the reason', async () => {
    await h.blocked('down guarded to 3', 'prod/guarded', ["Target keeps the PodDisruptionBudget's minAvailable", '3 replicas would be below its minimum of 5']);
  }, 30_000);

  it('guard: inside a declared peak window a scale-down is blocked', async () => {
    await h.blocked('down peaky', 'prod/peaky', ['Blocked: Not inside a peak window: inside the peak window', '(campaign week)']);
  }, 30_000);

  it('guard: a deployment in the last 30 minutes blocks; 31 minutes later the same request passes the guard', async () => {
    // Someone rolls out a new image just now.
    const res = await fetch(`${h.kube.url}/apis/apps/v1/namespaces/prod/deployments/fresh`, {
      method: 'PATCH',
      headers: { authorization: 'Bearer kubectl', 'content-type': 'application/strategic-merge-patch+json' },
      body: JSON.stringify({ spec: { template: { spec: { containers: [{ name: 'fresh', image: 'registry.local/fresh:v2' }] } } } }),
    });
    expect(res.status).toBe(200);
    await h.blocked('down fresh to 3', 'prod/fresh', ['Blocked: No deployment in the last 30 minutes: last rollout 0 min ago (revision 2)']);
    // (Approvals expire after 30 minutes, so the same run cannot outwait a 30-minute guard: ask again.)
    await h.readyAt('prod', 'fresh', 10);
    h.advance(31 * MIN);
    const again = await h.open('down fresh to 3');
    const after = h.card(again);
    expect(cardText(after)).toContain('Waiting for 2 checklist items and 1 approval');
    expect(cardText(after)).toMatch(/No deployment in the last 30 minutes\* — last rollout 3[01] min ago \(revision 2\) — holds/);
    expect(h.writes(/\/deployments\/fresh\/scale/)).toHaveLength(0);
    await h.driver.press(after, 'cancel', 'U0ALICE');
  }, 30_000);
});

// ---------------------------------------------------------------------------------------------
// Seed 001, Broxiva: examples/broxiva (AKS: the API behind an HPA; PostgreSQL pool budget; Redis).
// ---------------------------------------------------------------------------------------------

describe('seed 001 Broxiva: /scale broxiva-api, the capacity formula, the DB pool budget, verified after settle windows', () => {
  const h = new Harness();
  let prom: PrometheusServer;
  let seed: ReturnType<typeof seedCatalog>;
  let maxConnections: number;
  let bob: string;
  let evidence = '';
  let redis: Redis;
  const prefix = `e2e-${randomBytes(4).toString('hex')}`;
  const q = (name: string) => seed.doc.services['broxiva-api']!.sources!.metrics!.queries![name]!;
  const series = (name: string, value: number) => prom.setSeries(q(name), [{ metric: { namespace: 'broxiva-prod', app: 'broxiva-api' }, value }]);

  beforeAll(async () => {
    await h.servers();
    prom = await h.prometheus();
    maxConnections = await pgMaxConnections();
    // The seed's PostgreSQL allows 250+ connections and keeps 50 in reserve; the local one allows
    // max_connections (100 here) and nothing else uses it: no reserve, so 4-5 pods × 20 fit and 13 do not.
    redis = await h.redis(prefix);
    seed = h.seed('broxiva', { prometheus: prom.url, queuePrefix: prefix }, (doc) => {
      doc.services['broxiva-api']!.params!.reserve = 0;
    });
    bob = peerOf(seed.doc, 'broxiva-api');
    h.kube.addDeployment({ namespace: 'broxiva-prod', name: 'broxiva-api', replicas: 3, cpuRequest: '250m', memoryRequest: '512Mi' });
    h.kube.addHpa({ namespace: 'broxiva-prod', name: 'broxiva-api-hpa', target: 'broxiva-api', minReplicas: 3, maxReplicas: 10, targetCpuUtilization: 70 });
    h.kube.addDeployment({ namespace: 'broxiva-prod', name: 'broxiva-web', replicas: 2 });
    h.kube.addDeployment({ namespace: 'broxiva-prod', name: 'broxiva-worker', replicas: 2, cpuRequest: '200m', memoryRequest: '256Mi' });
    await h.start({ catalogFile: seed.file });
  }, 60_000);
  afterEach(() => h.cancelOpenRuns());
  afterAll(() => h.close());

  /** Load as the seed's "when to scale" describes it: every trigger over its threshold. */
  function underLoad(rps: number) {
    series('rps', rps);
    series('cpu', 82);
    series('memory', 64);
    series('request_queue', 140);
    series('p95_ms', 620);
    series('error_rate', 0.05);
  }

  it('auto: 1500 RPS → ceil(1500 / 500 × 1.3) = 4 pods; evidence on the card; HPA floor raised once; verified after 2 and 5 minutes of settling', async () => {
    underLoad(1500);
    const report = h.countCalls();
    const runId = await h.open('broxiva-api auto --reason "campaign"');
    let c = h.card(runId);
    let text = cardText(c);
    expect(text).toContain('Scale broxiva-api: 3 → 4');
    expect(text).toContain('Set HPA broxiva-prod/broxiva-api-hpa minReplicas 3 → 4 (maxReplicas stays 10)');
    // Every check with its evidence, from the real sources: on the card, and whole in the thread.
    expectShows(
      text,
      /\*CPU above 70% for 5\+ minutes\* — cpu over 5m: last 82, min 82, avg 82, max 82 \(\d+ samples\) — holds: min &gt; 70/,
      '*Request queue depth above 100* — request_queue = 140 — holds: value &gt; 100',
      '*Response time P95 above 500 ms* — p95_ms = 620 — holds',
      /\*Memory above 80% for 5\+ minutes\* — memory over 5m: last 64.*\(warning only: does not block\)/,
    );
    evidence = (await h.threadShows(runId, '*Pre-scale checks*')).text ?? '';
    expectShows(
      evidence,
      `Database connection pool: pods × 20 ≤ max_connections − 50: `,
      new RegExp(`\\d+ connections to test \\(\\d+ in all\\) of max_connections ${maxConnections}; budget 4 × 20 = 80 ≤ ${maxConnections} \\(${maxConnections - 80} to spare\\)`),
      /:white_check_mark: Redis can take the extra connections \(clients below 80% of maxclients\): memory [\d.]+ ?[KMG]i?B[^,]*, clients \d+\/\d+, \d+ evicted keys/,
      /:white_check_mark: Room on the nodes for the extra pods: \d+ more pods fit on 3 nodes, 1 needed \(each requests 250m CPU, 512Mi memory\)/,
    );
    expect(text).toContain('Waiting for 1 checklist item and 1 approval');
    await h.threadShows(runId, 'Target: 4 replicas from the runbook\'s formula');
    // "Team notified in #infrastructure", posted once the evidence (and so the target) is in.
    await h.announced(`Scaling broxiva-api to 4 pods (run ${runId}, requested by <@U0ALICE>).`);

    await h.tick(runId, ['cost']);
    await h.peerApproval(runId, 'U0ALICE', bob);

    const hpaWrites = /\/horizontalpodautoscalers\/broxiva-api-hpa$/;
    await waitFor(() => h.writes(hpaWrites).length === 1, 10_000, 'the HPA patch');
    expect(h.writes(hpaWrites)[0]!.body).toEqual({ metadata: { resourceVersion: expect.stringMatching(/^\d+$/) }, spec: { minReplicas: 4 } });
    await h.threadShows(runId, 'Verified: 4/≥4 ready');
    // Load falls once the new pod serves.
    series('p95_ms', 310);
    await h.advanceThrough(2 * MIN, 'the CPU check\'s settle window');
    await h.threadShows(runId, 'Verified: CPU per pod back below the HPA\'s 70% target');
    await h.advanceThrough(5 * MIN, 'the P95 check\'s settle window');
    await h.threadShows(runId, 'Verified: Response time P95 below 500 ms (performance target): p95_ms = 310');
    c = await h.cardShows(runId, 'Verified in 7m');
    text = cardText(c);
    expect(text).toContain('Database has capacity');
    const announce = await h.announced('broxiva-api scaled');
    expect(announce.text).toMatch(/broxiva-api scaled .*3.* → .*4.* and verified in 7m/);
    expect(announce.text).toContain(`Requested by <@U0ALICE> (campaign), approved by <@${bob}>`);
    // Exactly one change: the HPA's floor; the Deployment itself is left to the HPA.
    expect(h.writes(hpaWrites)).toHaveLength(1);
    expect(h.writes(/\/deployments\/broxiva-api/)).toHaveLength(0);
    expect(h.kube.getDeployment('broxiva-prod', 'broxiva-api')!.status?.readyReplicas).toBe(4);
    report('seed 001 broxiva-api auto 3 → 4', { prometheusQueries: prom.requests.length });
  }, 30_000);

  // Was a bug: a phase was one section clipped at 2900 characters, so the last checks of
  // broxiva-api-up never reached the card. Long phases now continue in further sections.
  it('the card shows every pre-scale check, including the DB pool budget and Redis clients', () => {
    const text = cardText(h.slack.channelMessages('C0INFRA').find((m) => m.blocks && cardText(m).includes('runbook `broxiva-api-up`')));
    expect(evidence).toContain('budget 4 × 20 = 80');
    expect(text).toContain('*Database connection pool: pods × 20 ≤ max_connections − 50* — ');
    expect(text).toContain('*Redis can take the extra connections (clients below 80% of maxclients)* — ');
  });

  it('auto at 5000 RPS: 13 pods, and 13 × 20 = 260 connections exceed the real max_connections: blocked, with the reason', async () => {
    underLoad(5000);
    await h.blocked('broxiva-api auto', 'broxiva-prod/broxiva-api', [
      ' → 13',
      `Blocked: Database connection pool: pods × 20 ≤ max_connections − 50: `,
      `budget 13 × 20 = 260 &gt; ${maxConnections} (over by ${260 - maxConnections})`,
      '*Within the recommended 3-10 pods for normal operation*',
    ], bob);
    expect(h.writes(/\/horizontalpodautoscalers\//)).toHaveLength(1);
  }, 30_000);

  it('P95 stays above 500 ms after the change: measured every minute for 15 minutes, then the run stops and alerts', async () => {
    underLoad(1500);
    const runId = await h.open('broxiva-api 5 --reason "p95"');
    await h.tick(runId, ['cost']);
    await h.peerApproval(runId, 'U0ALICE', bob);
    await h.threadShows(runId, 'Verified: 5/≥5 ready');
    await h.advanceThrough(2 * MIN, 'the CPU check\'s settle window');
    await h.threadShows(runId, 'Verified: CPU per pod back below');
    const p95Queries = () => prom.requests.filter((r) => r.params.query === q('p95_ms')).length;
    const before = p95Queries();
    await h.advanceThrough(5 * MIN, 'the P95 check\'s settle window');
    const failed = () => cardText(h.card(runId)).includes('Failed:');
    const intervals = await h.advanceEvery(MIN, failed, 'the P95 check to give up');
    const c = await h.cardShows(runId, 'Failed: stopped: verification failed: Response time P95 below 500 ms (performance target): p95_ms = 620');
    expect(buttonsOf(c)).toEqual([]);
    // Measured at the end of the settle window and once a minute until its 15-minute timeout.
    expect(p95Queries() - before).toBeGreaterThanOrEqual(14);
    expect(intervals).toBeGreaterThanOrEqual(13);
    const alert = await h.announced(`stopped: verification failed: Response time P95`);
    expect(alert.text).toContain(':rotating_light:');
    expect(alert.text).toMatch(/is left at .*5/);
    // on-failure: stop: nothing is undone; the one change stays.
    expect(h.writes(/\/horizontalpodautoscalers\/broxiva-api-hpa$/)).toHaveLength(2);
    expect(h.kube.getHpa('broxiva-prod', 'broxiva-api-hpa')!.spec.minReplicas).toBe(5);
  }, 30_000);

  it('broxiva-worker 5: the email and notification queues (Redis lists, LLEN) as evidence; one scale call; the queues drain during the 5-minute settle', async () => {
    const email = `${prefix}:email-queue`;
    await redis.lpush(email, ...Array.from({ length: 1200 }, (_, i) => JSON.stringify({ to: `user${i}@example.com` })));
    await redis.lpush(`${prefix}:notification-queue`, ...Array.from({ length: 300 }, (_, i) => `n${i}`));
    const runId = await h.open('broxiva-worker 5 --reason "email backlog"');
    expectShows(
      cardText(h.card(runId)),
      'Scale broxiva-worker: 2 → 5',
      `*Email queue longer than 1000 jobs* — 1200 waiting in list ${email} — holds: waiting &gt; service.queue_trigger`,
      `*Notification queue longer than 1000 jobs* — 300 waiting in list ${prefix}:notification-queue — fails: waiting &gt; service.queue_trigger (warning only: does not block)`,
      /\*Redis can take the extra connections \(clients below 80% of maxclients\)\* — memory .*clients \d+\/\d+/,
      'Waiting for 1 approval',
    );
    await h.announced(`Scaling broxiva-worker to 5 pods (run ${runId}, requested by <@U0ALICE>).`);
    await h.peerApproval(runId, 'U0ALICE', bob);
    const scale = /\/namespaces\/broxiva-prod\/deployments\/broxiva-worker\/scale$/;
    await h.threadShows(runId, 'Verified: 5/5 ready');
    // Five workers send 1000 emails while the bot lets the queues settle.
    await redis.ltrim(email, 0, 199);
    await h.advanceThrough(5 * MIN, 'the queue check\'s settle window');
    await h.threadShows(runId, `Verified: Email queue draining (below 1000, or shorter than before): 200 waiting in list ${email}`);
    await h.cardShows(runId, 'Verified in 5m');
    await h.announced('broxiva-worker scaled 2 replicas → 5 replicas and verified in 5m');
    expect(h.writes(scale).map((w) => w.body)).toEqual([{ metadata: { resourceVersion: expect.stringMatching(/^\d+$/) }, spec: { replicas: 5 } }]);
  }, 30_000);
});

// ---------------------------------------------------------------------------------------------
// Seed 002, Insurance Lead Gen: examples/insurance-lead-gen (Kubernetes; Prometheus alert levels;
// Bull queues on Redis; a health endpoint behind a load balancer).
// ---------------------------------------------------------------------------------------------

/** Adds `n` waiting jobs to a Bull 3 queue the way Bull does: a job hash each, ids on the wait list. */
async function addBullJobs(redis: Redis, prefix: string, queue: string, n: number): Promise<void> {
  const base = `${prefix}:${queue}`;
  const first = (await redis.incrby(`${base}:id`, n)) - n + 1;
  const tx = redis.multi();
  for (let id = first; id < first + n; id++) {
    tx.hset(`${base}:${id}`, { name: '__default__', data: JSON.stringify({ leadId: id }), opts: '{"attempts":3}', timestamp: String(Date.now()), delay: '0', priority: '0' });
    tx.lpush(`${base}:wait`, String(id));
  }
  await tx.exec();
}

async function deleteKeys(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}

describe('seed 002 Insurance Lead Gen: alert levels as evidence, Bull queue depth, load balancing, rollback', () => {
  const h = new Harness();
  let prom: PrometheusServer;
  let lb: HttpInstancesServer;
  let redis: Redis;
  let seed: ReturnType<typeof seedCatalog>;
  let bob: string;
  const prefix = `bull-e2e-${randomBytes(4).toString('hex')}`;
  const query = (service: string, name: string) => seed.doc.services[service]!.sources!.metrics!.queries![name]!;
  const series = (service: string, name: string, value: number) => prom.setSeries(query(service, name), [{ metric: { app: service }, value }]);

  beforeAll(async () => {
    await h.servers();
    [prom, lb] = await Promise.all([h.prometheus(), startHttpInstancesServer({ instances: ['api-7f9c-1', 'api-7f9c-2', 'api-7f9c-3'] })]);
    h.later(() => lb.close());
    redis = await h.redis(prefix);
    seed = h.seed('insurance-lead-gen', { prometheus: prom.url, http: lb.url, queuePrefix: prefix });
    bob = peerOf(seed.doc, 'worker');
    h.kube.addDeployment({ namespace: 'default', name: 'api', replicas: 3, cpuRequest: '500m', memoryRequest: '512Mi' });
    h.kube.addDeployment({ namespace: 'default', name: 'data-service', replicas: 2, cpuRequest: '250m', memoryRequest: '256Mi' });
    h.kube.addDeployment({ namespace: 'default', name: 'worker', replicas: 2, cpuRequest: '250m', memoryRequest: '256Mi' });
    // Quiet defaults for every named query; each test sets the load it describes.
    for (const [name, service] of Object.entries(seed.doc.services)) {
      for (const q of Object.keys(service.sources?.metrics?.queries ?? {})) series(name, q, 0);
    }
    await h.start({ catalogFile: seed.file });
  }, 60_000);
  afterEach(() => h.cancelOpenRuns());
  afterAll(() => h.close());

  it('worker auto: 1500 jobs waiting in the real Bull queue → 5 workers (autoScaleWorkers); one scale call; the queue drains during the 5-minute settle', async () => {
    await addBullJobs(redis, prefix, 'lead-processing', 1500);
    series('worker', 'processing_p95_s', 42);
    series('worker', 'failed_rate', 0.4);
    series('worker', 'db_pool', 0.55);
    const report = h.countCalls();
    const runId = await h.open('worker auto --reason "lead backlog"');
    const c = h.card(runId);
    const text = cardText(c);
    expectShows(
      text,
      'Scale worker: 2 → 5',
      '*Queue depth above 1000 waiting jobs (warning level; critical 5000)* — 1500 waiting, 0 active, 0 failed, 0 delayed in queue lead-processing — holds: waiting &gt; service.scale_up_above',
      '*Job processing time above its 30 s warning level (p95; critical 60 s)* — processing_p95_s = 42 — holds',
      '*Failed job rate below its 1% warning level (critical 5%); failures are not fixed by more workers* — failed_rate = 0.4 — holds',
      '*Database connection pool below its 90% critical level (more workers add connections)* — db_pool = 0.55 — holds',
      'Waiting for 1 approval',
    );
    await h.threadShows(runId, 'Target: 5 replicas from the runbook\'s formula');
    await h.announced(`Scaling worker to 5 workers (run ${runId}, requested by <@U0ALICE>).`);

    await h.peerApproval(runId, 'U0ALICE', bob);
    const scale = /\/namespaces\/default\/deployments\/worker\/scale$/;
    await waitFor(() => h.writes(scale).length === 1, 10_000, 'the scale call');
    expect(h.writes(scale)[0]!.body).toEqual({ metadata: { resourceVersion: expect.stringMatching(/^\d+$/) }, spec: { replicas: 5 } });
    await h.threadShows(runId, 'Verified: 5/5 ready');
    // The five workers take 1200 jobs while the bot lets the queue settle.
    await redis.ltrim(`${prefix}:lead-processing:wait`, 0, 299);
    await h.advanceThrough(5 * MIN, 'the queue check\'s settle window');
    await h.threadShows(runId, 'Verified: Queue back below 1000, or shorter than before: 300 waiting');
    await h.cardShows(runId, 'Verified in 5m');
    const announce = await h.announced('worker scaled');
    expect(announce.text).toContain('worker scaled 2 replicas → 5 replicas and verified in 5m');
    expect(announce.text).toContain(`Requested by <@U0ALICE> (lead backlog), approved by <@${bob}>`);
    expect(h.writes(scale)).toHaveLength(1);
    report('seed 002 worker auto 2 → 5');
  }, 30_000);

  it('worker: the database pool at its 90% critical level blocks approval, with the reason', async () => {
    series('worker', 'db_pool', 0.93);
    await h.blocked('worker 8', 'default/worker', ['Blocked: Database connection pool below its 90% critical level (more workers add connections): db_pool = 0.93'], bob);
    series('worker', 'db_pool', 0.55);
  }, 30_000);

  it('api: the alert levels as evidence, two ticks, a peer approval, then load balancing, latency and errors validated', async () => {
    series('api', 'p95_ms', 560);
    series('api', 'p99_ms', 900);
    series('api', 'error_rate', 0.4);
    series('api', 'db_pool', 0.6);
    series('api', 'cache_hit_rate', 0.86);
    series('api', 'cache_memory_pct', 55);
    series('api', 'evictions_per_s', 2);
    const report = h.countCalls();
    const hitsBefore = lb.requests.length;
    const runId = await h.open('api 6 --reason "latency incident"');
    const text = cardText(h.card(runId));
    expectShows(
      text,
      'Scale api: 3 → 6',
      /\*HighAPILatency \(warning\): P95 above 200 ms for 5 minutes\* — p95_ms over 5m: last 560, min 560, avg 560, max 560 \(\d+ samples\) — holds: min &gt; 200/,
      /\*CriticalAPILatency \(critical\): P95 above 500 ms for 2 minutes\* — p95_ms over 2m: last 560.* — holds: min &gt; 500/,
      '*Error rate above its 0.1% warning level (critical 1%)* — error_rate = 0.4 — holds',
      /\*LowCacheHitRate not firing: hit rate at least 80% over 10 minutes \(critical 60%\)\* — cache_hit_rate over 10m: last 0.86/,
      'Waiting for 2 checklist items and 1 approval',
    );
    await h.announced(`Scaling api to 6 replicas (run ${runId}, requested by <@U0ALICE>).`);

    await h.tick(runId, ['stateless', 'rollback-plan']);
    await h.peerApproval(runId, 'U0ALICE', bob);
    const scale = /\/namespaces\/default\/deployments\/api\/scale$/;
    await waitFor(() => h.writes(scale).length === 1, 10_000, 'the scale call');
    await h.threadShows(runId, 'Verified: 6/6 ready');
    const balanced = (await h.threadShows(runId, 'Verified: Load balancing')).text ?? '';
    expect(balanced).toMatch(/10\/10 (answered )?(2xx|200)/);
    expect(lb.requests.length - hitsBefore).toBe(10);
    expect(lb.requests.slice(hitsBefore).every((r) => r.path === '/api/health')).toBe(true);
    // Latency falls below the 200 ms target once the new replicas serve.
    series('api', 'p95_ms', 150);
    await h.advanceThrough(5 * MIN, 'the latency check\'s settle window');
    await h.threadShows(runId, 'Verified: P95 below its 200 ms target, or lower than before scaling: p95_ms = 150');
    await h.cardShows(runId, 'Verified in 5m');
    await h.announced(`api is at 6 replicas and validated (run ${runId})`);
    const announce = await h.announced('api scaled');
    expect(announce.text).toContain('api scaled 3 replicas → 6 replicas and verified in 5m. Requested by <@U0ALICE> (latency incident)');
    expect(h.writes(scale)).toHaveLength(1);
    report('seed 002 api 3 → 6', { healthRequests: lb.requests.length - hitsBefore });
  }, 30_000);

  it('data-service: an instance failing its health check for 3 minutes fails load balancing; rollback offered, refused to the requester, approved by a peer, verified', async () => {
    series('data-service', 'p95_ms', 260);
    lb.set('api-7f9c-2', { status: 503 });
    try {
      const runId = await h.open('data-service 4');
      await h.tick(runId, ['stateless', 'rollback-plan']);
      await h.peerApproval(runId, 'U0ALICE', bob);
      await h.threadShows(runId, 'Verified: 4/4 ready');
      const offered = () => cardText(h.card(runId)).includes('Roll back, or close');
      const intervals = await h.advanceEvery(30_000, offered, 'load balancing to fail for 3 minutes');
      expect(intervals).toBeGreaterThanOrEqual(5);
      const c = h.card(runId);
      expect(cardText(c)).toContain('Verification failed: Load balancing: 10 requests to the health endpoint all answer 200');
      expect(cardText(c)).toMatch(/\d\/10 answered 2xx, p50 \d+ ms, p95 \d+ ms; \d failed/);
      await h.announced(`verification failed: Load balancing: 10 requests to the health endpoint all answer 200: `);
      expect(buttonsOf(c)).toEqual(['rollback', 'close']);
      await h.announced('Rollback is offered on the card');
      await h.driver.press(c, 'rollback', 'U0ALICE');
      await h.ephemeralFor('U0ALICE', 'cannot approve the rollback');
      await h.driver.press(h.card(runId), 'rollback', bob);
      await h.cardShows(runId, 'Rolled back after a failed verification: back to 2 replicas');
      const scale = /\/namespaces\/default\/deployments\/data-service\/scale$/;
      expect(h.writes(scale).map((w) => (w.body as { spec: unknown }).spec)).toEqual([{ replicas: 4 }, { replicas: 2 }]);
      const rolledBack = await h.announced('was rolled back after a failed verification');
      expect(rolledBack.text).toContain(`Scale *data-service* 2 → 4 (run ${runId}, requested by <@U0ALICE>) was rolled back after a failed verification: back to 2 replicas`);
    } finally {
      lb.set('api-7f9c-2', { status: 200 });
    }
  }, 30_000);
});

// ---------------------------------------------------------------------------------------------
// Seed 003, Autolytiq, the Kubernetes part: examples/autolytiq (EKS: five services behind HPAs,
// the load-forecast table as the target, breaking points per pod, a PodDisruptionBudget).
// ---------------------------------------------------------------------------------------------

describe('seed 003 Autolytiq (Kubernetes): the load-forecast level as the target, HPA floors, walking back after the peak', () => {
  const h = new Harness();
  let prom: PrometheusServer;
  let seed: ReturnType<typeof seedCatalog>;
  let bob: string;
  const NS = 'autolytiq-prod';
  const query = (service: string, name: string) => seed.doc.services[service]!.sources!.metrics!.queries![name]!;
  const series = (service: string, name: string, value: number) => prom.setSeries(query(service, name), [{ metric: { namespace: NS }, value }]);
  /** Platform traffic: every service's `platform_rps` is the same query, the api-gateway's RPS. */
  const platformRps = (value: number) => series('api-gateway', 'platform_rps', value);

  beforeAll(async () => {
    await h.servers();
    prom = await h.prometheus();
    seed = h.seed('autolytiq', { prometheus: prom.url });
    bob = peerOf(seed.doc, 'deal-service');
    // After an event: api-gateway still at its Peak level, its HPA floor raised to 8.
    h.kube.addDeployment({ namespace: NS, name: 'api-gateway', replicas: 8, cpuRequest: '500m', memoryRequest: '512Mi' });
    h.kube.addHpa({ namespace: NS, name: 'api-gateway-hpa', target: 'api-gateway', minReplicas: 8, maxReplicas: 20, targetCpuUtilization: 70 });
    h.kube.addPdb({ namespace: NS, name: 'api-gateway-pdb', minAvailable: 2, selector: { matchLabels: { app: 'api-gateway' } } });
    for (const [name, normal, max] of [['auth-service', 3, 8], ['deal-service', 3, 10], ['customer-service', 2, 6], ['inventory-service', 2, 6]] as const) {
      h.kube.addDeployment({ namespace: NS, name, replicas: normal, cpuRequest: '250m', memoryRequest: '256Mi' });
      h.kube.addHpa({ namespace: NS, name, target: name, minReplicas: normal, maxReplicas: max, targetCpuUtilization: 70 });
    }
    for (const [name, service] of Object.entries(seed.doc.services)) {
      for (const q of Object.keys(service.sources?.metrics?.queries ?? {})) series(name, q, 0);
    }
    await h.start({ catalogFile: seed.file });
    // The Deployments have run for a while.
    h.advance(60 * MIN);
  }, 60_000);
  afterEach(() => h.cancelOpenRuns());
  afterAll(() => h.close());

  /** A traffic peak: 2100 RPS on the platform (Peak level, +100%), the service hot. */
  function peak(service: string, rps: number, cpu: string) {
    platformRps(2100);
    series(service, 'rps', rps);
    series(service, 'p95_ms', 420);
    series(service, 'error_rate', 0.3);
    h.kube.setPodCpuUsage(NS, service, cpu);
  }

  it('deal-service auto at 2100 RPS: the Peak level, 8 replicas; breaking point per pod; three event ticks; HPA floor raised once; verified after the 5-minute settle', async () => {
    peak('deal-service', 900, '180m');
    const report = h.countCalls();
    const runId = await h.open('deal-service auto --reason "dealer event"');
    const text = cardText(h.card(runId));
    expectShows(
      text,
      'Scale deal-service: 3 → 8',
      `Set HPA ${NS}/deal-service minReplicas 3 → 8 (maxReplicas stays 10)`,
      /\*Platform traffic at the High level or above \(\+50% over the normal 1000 RPS\) in the last 15 minutes\* — platform_rps over 15m: last 2100.* — holds/,
      '*Target is one of the service\'s load-forecast levels (Normal, High, Peak, Critical)* — 8 is within the limits 3..10 — holds',
      '*At the target, each pod stays below its breaking point (max RPS per pod)* — rps = 900 — holds: value / replicas &lt; service.max_rps_per_pod',
      // 900 / 8 = 112.5 RPS per pod: above the 1-per-100 scaling factor, below the 150 breaking point.
      /\*At the target, each pod serves no more than its scaling factor \(1 pod per N RPS\)\* — rps = 900 — fails: value \/ replicas &lt;= service.rps_per_pod \(warning only/,
      /\*CPU above its acceptable 60% \(warning 60-80%, critical above 80%\)\* — 3 pods: CPU avg 72%, max 72%/,
      'Waiting for 3 checklist items and 1 approval',
    );
    const evidence = (await h.threadShows(runId, '*Pre-scale checks*')).text ?? '';
    expectShows(
      evidence,
      /:white_check_mark: Database connections below 90% of max_connections \(critical level\): \d+ connections to test \(\d+ in all\) of max_connections \d+/,
      /No cache evictions \(evicted_keys should be 0 in normal operation\): memory [\d.]+ ?[KMG]i?B/,
    );
    await h.threadShows(runId, 'Target: 8 replicas from the runbook\'s formula');

    await h.tick(runId, ['event-database', 'event-caches', 'event-hpa']);
    await h.peerApproval(runId, 'U0ALICE', bob);
    const hpa = new RegExp(`/namespaces/${NS}/horizontalpodautoscalers/deal-service$`);
    await waitFor(() => h.writes(hpa).length === 1, 10_000, 'the HPA patch');
    expect(h.writes(hpa)[0]!.body).toEqual({ metadata: { resourceVersion: expect.stringMatching(/^\d+$/) }, spec: { minReplicas: 8 } });
    await h.threadShows(runId, 'Verified: 8/≥8 ready');
    // The load spreads over eight pods.
    h.kube.setPodCpuUsage(NS, 'deal-service', '100m');
    await h.advanceThrough(5 * MIN, 'the CPU check\'s settle window');
    await h.threadShows(runId, 'Verified: CPU per pod below the critical 80%: 8 pods: CPU avg 40%');
    await h.cardShows(runId, 'Verified in 5m');
    const announce = await h.announced('deal-service scaled');
    expect(announce.text).toMatch(/deal-service scaled .*3.* → .*8.* and verified in 5m\. Requested by <@U0ALICE> \(dealer event\)/);
    expect(h.writes(hpa)).toHaveLength(1);
    expect(h.writes(new RegExp(`/namespaces/${NS}/deployments/`))).toHaveLength(0);
    expect(h.kube.getDeployment(NS, 'deal-service')!.status?.readyReplicas).toBe(8);
    report('seed 003 deal-service auto 3 → 8 (HPA floor)', { prometheusQueries: prom.requests.length });
  }, 30_000);

  it('customer-service: CPU per pod stays above the critical 80% after the change: measured each minute for 10 minutes, then the run stops and alerts', async () => {
    peak('customer-service', 700, '220m');
    const runId = await h.open('customer-service 5');
    await h.tick(runId, ['event-database', 'event-caches', 'event-hpa']);
    await h.peerApproval(runId, 'U0ALICE', bob);
    await h.threadShows(runId, 'Verified: 5/≥5 ready');
    await h.advanceThrough(5 * MIN, 'the CPU check\'s settle window');
    const intervals = await h.advanceEvery(MIN, () => cardText(h.card(runId)).includes('Failed:'), 'the CPU check to give up');
    expect(intervals).toBeGreaterThanOrEqual(8);
    const c = await h.cardShows(runId, 'Failed: stopped: verification failed: CPU per pod below the critical 80%: 5 pods: CPU avg 88%');
    expect(buttonsOf(c)).toEqual([]);
    const alert = await h.announced('stopped: verification failed: CPU per pod below the critical 80%');
    expect(alert.text).toContain(':rotating_light:');
    // on-failure: stop leaves the HPA as it is, floor 5.
    expect(h.kube.getHpa(NS, 'customer-service')!.spec.minReplicas).toBe(5);
    expect(h.writes(new RegExp(`/namespaces/${NS}/horizontalpodautoscalers/customer-service$`))).toHaveLength(1);
  }, 30_000);

  it('after the peak: /scale down api-gateway walks the HPA floor 8 → 5 → 4 → 3 with 5-minute waits, keeping the PDB and re-checking traffic', async () => {
    platformRps(900);
    h.kube.setPodCpuUsage(NS, 'api-gateway', '150m');
    const report = h.countCalls();
    const runId = await h.open('down api-gateway --reason "event over"');
    const text = cardText(h.card(runId));
    expectShows(
      text,
      'Scale down api-gateway: 8 → 3',
      /\*Platform traffic below the High level \(\+50%\) for the last hour\* — platform_rps over 1h: last 900.* — holds: max &lt; 1.5 \* service.normal_rps/,
      '*Target keeps the PodDisruptionBudget\'s minAvailable* — PDB api-gateway-pdb (minAvailable 2)',
      'path 8 → 5 → 4 → 3',
      'Waiting for 2 checklist items and 1 approval',
    );
    await h.tick(runId, ['hpa-scale-down-enabled', 'database-reset']);
    await h.peerApproval(runId, 'U0ALICE', bob);
    const hpa = new RegExp(`/namespaces/${NS}/horizontalpodautoscalers/api-gateway-hpa$`);
    for (const [step, floor] of [[1, 5], [2, 4], [3, 3]] as const) {
      await waitFor(() => h.writes(hpa).length === step, 10_000, `HPA step ${step}`);
      expect(h.writes(hpa)[step - 1]!.body).toMatchObject({ spec: { minReplicas: floor } });
      await h.advanceThrough(5 * MIN, `the stabilization wait after step ${step}`);
      await h.threadShows(runId, `Platform traffic still below the High level: platform_rps = 900`);
    }
    await h.cardShows(runId, 'Verified in 15m');
    const announce = await h.announced('api-gateway scaled down');
    // The floor moved; the replicas are the HPA's to lower, on its metrics (this cluster's HPA keeps them).
    expect(announce.text).toContain('api-gateway scaled down 8 replicas (HPA 8..20) → 8 replicas (HPA 3..20) in 3 steps and verified in 15m');
    expect(announce.text).toContain(`Requested by <@U0ALICE> (event over), approved by <@${bob}>`);
    expect(h.kube.getHpa(NS, 'api-gateway-hpa')!.spec).toMatchObject({ minReplicas: 3, maxReplicas: 20 });
    // The HPA's floor is what the runbook walks; the Deployment itself is never written.
    expect(h.writes(new RegExp(`/namespaces/${NS}/deployments/api-gateway`))).toHaveLength(0);
    report('seed 003 api-gateway down 8 → 3 (HPA floor, 3 steps)');
  }, 30_000);
});
