// The seed runbooks end to end, as a user sees them in Slack: the real bot IN PROCESS (so its clock
// can be injected), driven by signed slash commands and clicks, against the local Slack and
// Kubernetes servers and, for the seeds, real PostgreSQL and Redis, the Prometheus test server
// and N instances behind a balancer. Nothing sleeps through a runbook's 10-minute waits or settle
// windows: the test advances the bot's ManualClock (and the cluster's clock with it) and then
// waits for the effects, which run asynchronously.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubeApiServer, type KubeApiServer } from '../servers/kube-api-server.ts';
import { startSlackApiServer, type SlackApiServer, type SlackMessage } from '../servers/slack-api-server.ts';
import { startInProcessBot, SIGNING_SECRET, type InProcessBot } from '../support/in-process-bot.ts';
import { ManualClock } from '../support/manual-clock.ts';
import { buttonsOf, cardShows as showsOnCard, cardText, findCard, SlackDriver, waitFor } from '../support/slack-driver.ts';

const MIN = 60_000;

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
  cardShows = (runId: string, text: string, timeoutMs = 10_000): Promise<SlackMessage> => showsOnCard(this.slack, runId, text, timeoutMs);
  /** Non-GET requests whose path matches. */
  writes = (path: RegExp) => this.kube.requests.filter((r) => r.method !== 'GET' && path.test(r.path));
  threadShows = (runId: string, text: string, timeoutMs = 10_000) =>
    waitFor(() => this.slack.thread('C0INFRA', this.card(runId).ts).find((m) => m.text?.includes(text)), timeoutMs, `the thread of ${runId} to show "${text}"`);
  threadText = (runId: string): string => this.slack.thread('C0INFRA', this.card(runId).ts).map((m) => m.text ?? '').join('\n');
  announced = (text: string, timeoutMs = 10_000) =>
    waitFor(() => this.slack.channelMessages('C0INFRA').find((m) => !m.blocks && m.text?.includes(text)), timeoutMs, `a channel announcement with "${text}"`);
  ephemeralFor = (user: string, text: string) =>
    waitFor(() => this.slack.ephemerals.find((e) => e.user === user && e.text.includes(text)), 10_000, `an ephemeral to ${user}: ${text}`);

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

  async open(text: string, user = 'U0ALICE', settled = 'Waiting for'): Promise<string> {
    const { reply } = await this.driver.ask(text, user);
    const runId = runIdOf(reply);
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
    const runId = await this.open(command, 'U0ALICE', 'Blocked');
    const c = this.card(runId);
    for (const text of shown) expect(cardText(c)).toContain(text);
    await this.driver.press(c, 'approve', approver);
    await this.ephemeralFor(approver, 'Cannot approve while blocked');
    const [ns, name] = deployment.split('/');
    expect(this.writes(new RegExp(`/namespaces/${ns}/deployments/${name}/scale$`))).toHaveLength(0);
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

  async close(): Promise<void> {
    if (process.env.SCALEBOT_E2E_LOG && this.bot) (await import('node:fs')).writeFileSync(process.env.SCALEBOT_E2E_LOG, this.bot.logs.join('\n'));
    await this.bot?.stop();
    await Promise.all([this.kube?.close(), this.slack?.close()]);
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
    const kubeBefore = h.kube.requests.length;
    const slackBefore = h.slack.calls.length;
    const runId = await h.open('down api to 3 --reason "after the campaign"');
    let c = h.card(runId);
    const text = cardText(c);
    for (const shown of ['Scale down api: 10 → 3', 'Deployment prod/api', 'min 2 · baseline 3 · max 50', 'after the campaign', 'path 10 → 6 → 4 → 3', 'Scale down, step by step']) {
      expect(text).toContain(shown);
    }
    // The guard checks, each with its evidence.
    expect(text).toContain('*Not inside a peak window* — no peak windows are declared for this service');
    expect(text).toContain('*No deployment in the last 30 minutes* — last rollout 40 min ago (revision 1) — holds: minutes_since &gt;= 30');
    expect(text).toContain('*CPU per pod below 40% of requests* — 10 pods: CPU avg 10%, max 10%');
    expect(text).toContain('PDB api (minAvailable 3): min 3 available, 10 healthy, 7 disruptions allowed; at 3 replicas it asks for 3 available');
    expect(text).toContain('Waiting for 2 checklist items and 1 approval');

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

    console.log(JSON.stringify({ figure: 'built-in scale-down 10 → 3 (3 steps)', kubeCalls: kubeFigures(h.kube, kubeBefore), slackCalls: slackFigures(h.slack, slackBefore) }, null, 1));
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
