// Several real bot processes sharing one Redis: any replica takes any click, and nothing happens
// twice or is lost — under concurrent clicks, kill -9 at phase boundaries, restarts of every
// replica, and a Redis restart.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubeApiServer, type KubeApiServer } from '../servers/kube-api-server.ts';
import { startSlackApiServer, type SlackApiServer, type SlackMessage } from '../servers/slack-api-server.ts';
import { freePort, SIGNING_SECRET, startBot, type BotProcess } from '../support/bot-process.ts';
import { cardShows as showsOnCard, cardText, findCard, findElement, SlackDriver, waitFor } from '../support/slack-driver.ts';

const SERVICES = ['clicks', 'verifykill', 'applied', 'dropped', 'beforepatch', 'restartall', 'redisdown'];
const CATALOG = `channel: C0INFRA
services:
${SERVICES.map((s) => `  ${s}:
    target: { kind: kubernetes, namespace: prod, deployment: ${s} }
    limits: { min: 1, max: 40 }
    approvals: { required: 1, approvers: [U0BOB, U0CAROL] }
    runbooks: { up: scale-up-replicas }`).join('\n')}
`;
// Long enough that a busy CI machine does not miss a renewal (a spurious resume), short enough to test.
const LEASE_MS = 4000;

let kube: KubeApiServer;
let slack: SlackApiServer;
let runbook: string;
const prefix = `scalebot-test-${randomBytes(4).toString('hex')}:`;
const bots: BotProcess[] = [];
const opened: string[] = [];
const figures = { runs: 0, kills: 0, resumes: [] as number[], duplicateActions: 0, lostRuns: 0 };

async function replica(env: Record<string, string> = {}): Promise<{ bot: BotProcess; driver: SlackDriver }> {
  const bot = await startBot({
    catalog: CATALOG,
    workflows: { 'scale-up-replicas': runbook },
    kubeconfig: kube.kubeconfigPath,
    slackApiUrl: slack.apiUrl,
    env: { REDIS_URL: 'redis://127.0.0.1:6379', SCALEBOT_REDIS_PREFIX: prefix, SCALEBOT_LEASE_MS: String(LEASE_MS), ...env },
  });
  bots.push(bot);
  return { bot, driver: new SlackDriver(bot.url, SIGNING_SECRET, slack) };
}

beforeAll(async () => {
  const { readFileSync } = await import('node:fs');
  const { ROOT } = await import('../support/bot-process.ts');
  runbook = readFileSync(`${ROOT}/workflows/scale-up.yml`, 'utf8').replace('name: scale-up', 'name: scale-up-replicas').replace('timeout: 10m', 'timeout: 20s');
  [kube, slack] = await Promise.all([startKubeApiServer({ tickMs: 30 }), startSlackApiServer()]);
  for (const n of [1, 2, 3]) kube.addNode({ name: `node-${n}`, cpu: '32', memory: '128Gi', pods: 250 });
  for (const s of SERVICES) kube.addDeployment({ namespace: 'prod', name: s, replicas: 2, cpuRequest: '100m', memoryRequest: '128Mi' });
}, 60_000);

afterAll(async () => {
  await Promise.all(bots.map((b) => b.stop()));
  await Promise.all([kube?.close(), slack?.close()]);
  const redis = new Redis('redis://127.0.0.1:6379', { lazyConnect: true });
  await redis.connect();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
  console.log(JSON.stringify({ figure: 'replicas and faults', ...figures }, null, 1));
});

const card = (runId: string): SlackMessage => findCard(slack, runId);
const cardShows = (runId: string, text: string, timeoutMs?: number): Promise<SlackMessage> => showsOnCard(slack, runId, text, timeoutMs);

const scalePatches = (service: string) => kube.requests.filter((r) => r.method === 'PATCH' && r.path === `/apis/apps/v1/namespaces/prod/deployments/${service}/scale`);

async function openReady(driver: SlackDriver, service: string, replicas: number): Promise<string> {
  const { reply } = await driver.ask(`${service} ${replicas}`, 'U0ALICE');
  const runId = /run-[a-z0-9]+/.exec(reply)?.[0];
  if (!runId) throw new Error(`no run opened: ${reply}`);
  figures.runs++;
  opened.push(runId);
  await cardShows(runId, 'Waiting for');
  await driver.tick(card(runId), ['team-notified', 'backup-operator'], 'U0DAVE');
  await cardShows(runId, 'Waiting for 1 approval');
  return runId;
}

function approvePayload(driver: SlackDriver, runId: string, user = 'U0BOB'): Record<string, unknown> {
  const c = card(runId);
  const button = findElement(c, (e) => e.action_id === 'scalebot_approve')!;
  return driver.actionPayload(c, { type: 'button', action_id: 'scalebot_approve', block_id: `buttons|${runId}`, value: button.value }, user);
}

function kill9(bot: BotProcess): void {
  bot.child.kill('SIGKILL');
  figures.kills++;
}

async function resumed(runId: string, killedAt: number): Promise<void> {
  const c = card(runId);
  await waitFor(() => slack.thread('C0INFRA', c.ts).find((m) => m.text?.includes('resumed it')), 20_000, `a replica to resume ${runId}`);
  figures.resumes.push(Date.now() - killedAt);
}

describe('three replicas sharing Redis', () => {
  let a: Awaited<ReturnType<typeof replica>>;
  let b: Awaited<ReturnType<typeof replica>>;
  let c: Awaited<ReturnType<typeof replica>>;

  beforeAll(async () => {
    [a, b, c] = await Promise.all([replica(), replica(), replica()]);
  }, 60_000);

  it('50 concurrent approve clicks spread across three replicas make exactly one scale call', async () => {
    const runId = await openReady(a.driver, 'clicks', 6);
    const drivers = [a.driver, b.driver, c.driver];
    // Distinct deliveries (each its own action_ts), so the per-delivery dedupe does not hide them.
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => drivers[i % 3]!.sendPayload(approvePayload(drivers[i % 3]!, runId, i % 2 ? 'U0BOB' : 'U0CAROL'))));
    expect(results.every((r) => r.status === 200)).toBe(true);
    await cardShows(runId, 'Verified in');
    expect(scalePatches('clicks')).toHaveLength(1);
    figures.duplicateActions += scalePatches('clicks').length - 1;
    expect(slack.thread('C0INFRA', card(runId).ts).filter((m) => m.text?.startsWith(':white_check_mark: Approved by'))).toHaveLength(1);
  }, 60_000);

  it('kill -9 the replica following a rollout: another resumes it with the same deadline, and it verifies once', async () => {
    const runId = await openReady(a.driver, 'verifykill', 8);
    kube.stallScheduling(true);
    let killedAt = 0;
    try {
      // The replica that takes the approval executes and drives the verification.
      await b.driver.sendPayload(approvePayload(b.driver, runId));
      await waitFor(() => scalePatches('verifykill').length === 1, 10_000, 'the scale call');
      await waitFor(() => kube.requests.some((r) => r.query.watch && r.query.fieldSelector === 'metadata.name=verifykill'), 10_000, 'the watch');
      kill9(b.bot);
      killedAt = Date.now();
      await resumed(runId, killedAt);
    } finally {
      kube.stallScheduling(false);
    }
    await cardShows(runId, 'Verified in', 20_000);
    expect(scalePatches('verifykill')).toHaveLength(1);
  }, 60_000);

  it('kill -9 while the scale call was applied but its answer never came: reconciled, not repeated', async () => {
    const runId = await openReady(a.driver, 'applied', 7);
    const hold = kube.holdNext({ method: 'PATCH', path: /\/deployments\/applied\/scale$/, mode: 'apply-then-hang' });
    await c.driver.sendPayload(approvePayload(c.driver, runId));
    await hold.caught;
    kill9(c.bot);
    const killedAt = Date.now();
    hold.release();
    await resumed(runId, killedAt);
    await cardShows(runId, 'Verified in', 20_000);
    expect(scalePatches('applied')).toHaveLength(1);
    expect(kube.getDeployment('prod', 'applied')!.spec?.replicas).toBe(7);
  }, 60_000);
});

describe('a replica killed before its scale call reached the cluster', () => {
  it('the run is reconciled (not applied yet), applied once by another replica, and verified', async () => {
    const [x, y] = await Promise.all([replica(), replica()]);
    const runId = await openReady(x.driver, 'dropped', 9);
    // The executor reads the scale subresource, then patches it: cut it off at the read.
    const hold = kube.holdNext({ method: 'GET', path: /\/deployments\/dropped\/scale$/, mode: 'drop' });
    await x.driver.sendPayload(approvePayload(x.driver, runId));
    await hold.caught;
    kill9(x.bot);
    const killedAt = Date.now();
    hold.release();
    await resumed(runId, killedAt);
    await cardShows(runId, 'Verified in', 20_000);
    expect(scalePatches('dropped')).toHaveLength(1);
    expect(kube.getDeployment('prod', 'dropped')!.spec?.replicas).toBe(9);
    await y.bot.stop();
  }, 60_000);
});

describe('every replica restarted', () => {
  it('a run waiting for approval survives; a new replica takes the approval and scales', async () => {
    const first = await replica();
    const runId = await openReady(first.driver, 'restartall', 5);
    await first.bot.stop();
    const fresh = await replica();
    await fresh.driver.sendPayload(approvePayload(fresh.driver, runId));
    await cardShows(runId, 'Verified in', 20_000);
    expect(scalePatches('restartall')).toHaveLength(1);
    const history = await fresh.driver.ask('history restartall', 'U0ALICE');
    expect(history.reply).toContain(`\`${runId}\` 2 → 5 — finished: verified; requested by <@U0ALICE>, approved by <@U0BOB>`);
    await fresh.bot.stop();
  }, 60_000);
});

describe('Redis', () => {
  let server: ChildProcess | undefined;
  afterAll(() => {
    server?.kill('SIGKILL');
  });

  async function startRedis(port: number, dir: string): Promise<ChildProcess> {
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir], { stdio: 'ignore' });
    const probe = new Redis({ port, lazyConnect: true, retryStrategy: () => null });
    probe.on('error', () => undefined);
    await waitFor(async () => probe.connect().then(() => true, () => false), 10_000, 'redis-server to start');
    probe.disconnect();
    return child;
  }

  it('restarted mid-run: the bot reconnects and the run continues', async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'scalebot-redis-'));
    server = await startRedis(port, dir);
    const bot = await replica({ REDIS_URL: `redis://127.0.0.1:${port}` });
    const runId = await openReady(bot.driver, 'redisdown', 4);
    server.kill('SIGTERM');
    await new Promise((r) => server!.once('exit', r));
    server = await startRedis(port, dir);
    await bot.driver.sendPayload(approvePayload(bot.driver, runId));
    await cardShows(runId, 'Verified in', 30_000);
    expect(scalePatches('redisdown')).toHaveLength(1);
    await bot.bot.stop();
  }, 60_000);

  it('unreachable at start: a clear error and a non-zero exit, not a crash loop', async () => {
    const port = await freePort();
    const err = await replica({ REDIS_URL: `redis://:hunter2@127.0.0.1:${port}` }).then(
      () => '',
      (e: Error) => e.message,
    );
    expect(err).toContain('exited during start-up');
    expect(err).toMatch(/not reachable/);
    expect(err).toContain('REDIS_URL');
    expect(err).not.toContain('hunter2');
  }, 30_000);
});

describe('bookkeeping', () => {
  it('the audit record exports as JSON lines: request, ticks, approval, the action with its key and before/after, the outcome', async () => {
    const { execFileSync } = await import('node:child_process');
    const { ROOT } = await import('../support/bot-process.ts');
    const out = execFileSync(process.execPath, ['bin/scalebot.js', 'audit', '--service', 'clicks'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, REDIS_URL: 'redis://127.0.0.1:6379', SCALEBOT_REDIS_PREFIX: prefix },
      encoding: 'utf8',
    });
    const entries = out.trim().split('\n').map((line) => JSON.parse(line) as { type: string; key?: string; before?: { replicas: number }; after?: { replicas: number }; user?: string; detail?: string });
    expect(entries.map((e) => e.type)).toEqual(['request', 'tick', 'tick', 'approval', 'action-started', 'action-done', 'outcome']);
    const done = entries.find((e) => e.type === 'action-done')!;
    expect(done.key).toMatch(/^run-[a-z0-9]+\/scale$/);
    expect(done.before?.replicas).toBe(2);
    expect(done.after?.replicas).toBe(6);
    expect(entries.at(-1)!.detail).toBe('succeeded');
  });


  it('lost no run: every run opened here ended verified', () => {
    const lost = opened.filter((runId) => !cardText(card(runId)).includes('Verified in'));
    figures.lostRuns = lost.length;
    expect(lost).toEqual([]);
  });
});
