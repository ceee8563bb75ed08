// The first end-to-end scale, as a user sees it: the real bot process in HTTP mode, driven by
// signed slash commands and clicks, against local Slack Web API and Kubernetes API servers.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubeApiServer, type KubeApiServer } from '../servers/kube-api-server.ts';
import { startSlackApiServer, type SlackApiServer, type SlackMessage } from '../servers/slack-api-server.ts';
import { BOT_TOKEN, ROOT, SIGNING_SECRET, startBot, type BotProcess } from '../support/bot-process.ts';
import { buttonsOf, cardShows as showsOnCard, cardText, findCard, SlackDriver, waitFor } from '../support/slack-driver.ts';

const scaleUp = readFileSync(`${ROOT}/workflows/scale-up.yml`, 'utf8');
const fast = scaleUp.replace('name: scale-up', 'name: scale-up-fast').replace('timeout: 10m', 'timeout: 6s');
const expiring = fast.replace('name: scale-up-fast', 'name: scale-up-expiring').replace('expires: 30m', 'expires: 2s');

const service = (name: string, extra = '') => `
  ${name}:
    description: ${name} service
    target: { kind: kubernetes, namespace: prod, deployment: ${name} }
    limits: { min: 3, baseline: 3, max: 50 }
    approvals: { required: 1, approvers: [U0BOB, S0SRE] }
    runbooks: { up: scale-up-fast }${extra}`;

const CATALOG = `channel: C0INFRA
services:${['api-gateway', 'payments', 'search', 'reports', 'busy', 'dry', 'cancelme', 'clicks', 'evil', 'throttled', 'forbidden', 'conflict', 'ghost', 'moved', 'ticks', 'worker', 'worker2'].map((n) => service(n)).join('')}${service('batch').replace('scale-up-fast', 'scale-up-expiring')}
`;

let kube: KubeApiServer;
let slack: SlackApiServer;
let bot: BotProcess;
let driver: SlackDriver;

beforeAll(async () => {
  [kube, slack] = await Promise.all([startKubeApiServer({ tickMs: 30 }), startSlackApiServer()]);
  for (const n of [1, 2, 3]) kube.addNode({ name: `node-${n}`, cpu: '16', memory: '64Gi', pods: 110 });
  for (const name of ['api-gateway', 'payments', 'search', 'reports', 'busy', 'dry', 'cancelme', 'clicks', 'evil', 'throttled', 'forbidden', 'conflict', 'moved', 'ticks', 'batch']) {
    kube.addDeployment({ namespace: 'prod', name, replicas: 5, cpuRequest: '250m', memoryRequest: '256Mi' });
  }
  kube.addDeployment({ namespace: 'prod', name: 'worker', replicas: 3, cpuRequest: '250m', memoryRequest: '256Mi' });
  kube.addHpa({ namespace: 'prod', name: 'worker', target: 'worker', minReplicas: 3, maxReplicas: 10 });
  kube.addDeployment({ namespace: 'prod', name: 'worker2', replicas: 3, cpuRequest: '250m', memoryRequest: '256Mi' });
  kube.addHpa({ namespace: 'prod', name: 'worker2', target: 'worker2', minReplicas: 3, maxReplicas: 20 });
  slack.userGroups.set('S0SRE', ['U0CAROL']);
  bot = await startBot({ catalog: CATALOG, workflows: { 'scale-up-fast': fast, 'scale-up-expiring': expiring }, kubeconfig: kube.kubeconfigPath, slackApiUrl: slack.apiUrl });
  driver = new SlackDriver(bot.url, SIGNING_SECRET, slack);
}, 60_000);

afterAll(async () => {
  if (process.env.SCALEBOT_E2E_LOG && bot) (await import('node:fs')).writeFileSync(process.env.SCALEBOT_E2E_LOG, bot.logs.join('\n') + bot.stderr.join(''));
  await bot?.stop();
  await Promise.all([kube?.close(), slack?.close()]);
});

function runIdOf(reply: string): string {
  const match = /run-[a-z0-9]+/.exec(reply);
  if (!match) throw new Error(`no run id in: ${reply}`);
  return match[0];
}

const card = (runId: string): SlackMessage => findCard(slack, runId);
const cardShows = (runId: string, text: string, timeoutMs?: number): Promise<SlackMessage> => showsOnCard(slack, runId, text, timeoutMs);

const patches = (path: RegExp) => kube.requests.filter((r) => r.method !== 'GET' && path.test(r.path));
/** Waits for a threaded reply under the card (thread posts may land after the card update). */
const threadShows = (ts: string, text: string) =>
  waitFor(() => slack.thread('C0INFRA', ts).find((m) => m.text?.includes(text)), 10_000, `the thread to show "${text}"`);
const ephemeralFor = (user: string, text: string) => waitFor(() => slack.ephemerals.find((e) => e.user === user && e.text.includes(text)), 10_000, `ephemeral to ${user}: ${text}`);

/** Opens a run and waits for its checks to settle. */
async function open(text: string, user = 'U0ALICE'): Promise<{ runId: string; reply: string; ackMs: number }> {
  const { reply, ackMs } = await driver.ask(text, user);
  const runId = runIdOf(reply);
  await cardShows(runId, 'Waiting for');
  return { runId, reply, ackMs };
}

async function tickAll(runId: string, user = 'U0DAVE') {
  await driver.tick(card(runId), ['team-notified', 'backup-operator'], user);
  await waitFor(() => !cardText(card(runId)).includes('checklist item'), 10_000, 'the checklist to be ticked');
}

describe('/scale <service> <replicas>: the happy path', () => {
  it('card, evidence, checklist, a peer approval (never the requester), scale subresource, verified rollout, announcement', async () => {
    const slackBefore = slack.calls.length;
    const kubeBefore = kube.requests.length;
    const { runId, reply, ackMs } = await open('api-gateway 10 --reason "campaign"');
    expect(ackMs).toBeLessThan(3000);
    expect(reply).toContain(`Run \`${runId}\` opened below`);

    let c = card(runId);
    const text = cardText(c);
    for (const shown of ['Scale api-gateway: 5 → 10', 'Deployment prod/api-gateway', 'min 3 · baseline 3 · max 50', '<@U0ALICE>', 'campaign', 'Pre-scale checks', 'Approval', 'Execute', 'Verify', 'approvals expire']) {
      expect(text).toContain(shown);
    }
    // The evidence, on the card and in the thread.
    const evidence = (await threadShows(c.ts, '*Pre-scale checks*')).text ?? '';
    expect(evidence).toContain('5/5 ready');
    expect(evidence).toContain('10 is within the limits 3..50');
    expect(evidence).toContain('no HPA targets this Deployment');
    expect(evidence).toContain('no Pending pods');
    expect(evidence).toMatch(/\d+ more pods fit on 3 nodes, 5 needed \(each requests 250m CPU, 256Mi memory\)/);
    expect(text).toContain('5 needed');

    // The requester cannot approve.
    await driver.press(c, 'approve', 'U0ALICE');
    await ephemeralFor('U0ALICE', 'so you cannot approve this run');
    // Approval alone is not enough while the checklist is open.
    await tickAll(runId);
    await waitFor(() => slack.thread('C0INFRA', c.ts).some((m) => m.text?.includes('<@U0DAVE> ticked *Team notified in #infrastructure*')), 5000, 'the tick in the thread');
    c = card(runId);
    expect(patches(/scale$/)).toHaveLength(0);
    await driver.press(c, 'approve', 'U0BOB');
    c = await cardShows(runId, 'Verified in', 15_000);
    // The only control left on a verified scale-up is the way back down.
    expect(buttonsOf(c)).toEqual(['schedule-down']);

    const scalePatches = patches(/\/deployments\/api-gateway\/scale$/);
    expect(scalePatches).toHaveLength(1);
    expect(scalePatches[0]!.contentType).toContain('application/merge-patch+json');
    // Guarded by the resourceVersion it read: a concurrent writer makes it fail, not overwrite.
    expect(scalePatches[0]!.body).toEqual({ metadata: { resourceVersion: expect.stringMatching(/^\d+$/) }, spec: { replicas: 10 } });
    // Never a write to the whole Deployment.
    expect(kube.requests.filter((r) => r.method !== 'GET' && /\/deployments\/api-gateway$/.test(r.path))).toHaveLength(0);
    expect(kube.getDeployment('prod', 'api-gateway')!.status?.readyReplicas).toBe(10);
    // The rollout was followed with a watch, not a polling loop.
    expect(kube.requests.some((r) => r.path === '/apis/apps/v1/namespaces/prod/deployments' && (r.query.watch === 'true' || r.query.watch === '1'))).toBe(true);

    const announce = await waitFor(() => slack.channelMessages('C0INFRA').find((m) => !m.blocks && m.text?.includes('api-gateway scaled')));
    expect(announce.text).toMatch(/api-gateway scaled 5 replicas → 10 replicas and verified in \d/);
    expect(announce.text).toContain('Requested by <@U0ALICE> (campaign), approved by <@U0BOB>');

    // Figures for the closing note.
    const slackCalls = slack.calls.slice(slackBefore).reduce<Record<string, number>>((acc, call) => ({ ...acc, [call.method]: (acc[call.method] ?? 0) + 1 }), {});
    const kubeCalls = kube.requests.slice(kubeBefore).reduce<Record<string, number>>((acc, r) => {
      const key = `${r.method} ${r.path.replace(/\/namespaces\/[^/]+/, '/namespaces/*')}${r.query.watch ? ' (watch)' : ''}`;
      return { ...acc, [key]: (acc[key] ?? 0) + 1 };
    }, {});
    console.log(JSON.stringify({ figure: 'one full scale-up', ackMs: Math.round(ackMs), slackCalls, kubeCalls }, null, 1));
  }, 40_000);

  it('an approver from a user group (usergroups.users.list) may approve', async () => {
    const { runId } = await open('payments 6');
    await tickAll(runId);
    await driver.press(card(runId), 'approve', 'U0CAROL');
    await cardShows(runId, 'Verified in', 15_000);
    expect(slack.callsOf('usergroups.users.list').some((c) => c.args.usergroup === 'S0SRE')).toBe(true);
  }, 30_000);
});

describe('refusals and endings', () => {
  it('someone outside the policy is told who may approve; rejection ends the run with nothing executed', async () => {
    const { runId } = await open('search 8');
    await driver.press(card(runId), 'approve', 'U0MALLORY');
    await ephemeralFor('U0MALLORY', 'You are not an approver for search. Approvers for search: <@U0BOB> or <!subteam^S0SRE>');
    const beforeRejection = structuredClone(card(runId));
    await driver.press(card(runId), 'reject', 'U0BOB');
    const c = await cardShows(runId, 'Rejected by <@U0BOB>');
    expect(buttonsOf(c)).toEqual([]);
    await waitFor(() => slack.channelMessages('C0INFRA').find((m) => m.text?.includes('was rejected by <@U0BOB>')));
    // An approve click on the card as it was before (a client that had not refreshed) is answered and changes nothing.
    await driver.press(beforeRejection, 'approve', 'U0CAROL');
    await ephemeralFor('U0CAROL', `Run ${runId} is finished: rejected; nothing was changed by this click.`);
    expect(patches(/\/deployments\/search/)).toHaveLength(0);
  }, 30_000);

  it('approvals expire: the card says so and nothing executes', async () => {
    const { runId } = await open('batch 7');
    const stale = structuredClone(card(runId));
    await cardShows(runId, 'Expired: not ready within 2s', 10_000);
    await driver.press(stale, 'approve', 'U0BOB');
    await ephemeralFor('U0BOB', `Run ${runId} is finished: approvals expired; nothing was changed by this click.`);
    expect(patches(/\/deployments\/batch/)).toHaveLength(0);
  }, 30_000);

  it('one active run per target: the second request is told which run holds it and who started it', async () => {
    const { runId } = await open('busy 9');
    const second = await driver.ask('busy 12', 'U0CAROL');
    expect(second.reply).toContain(`\`busy\` is busy: run \`${runId}\` started by <@U0ALICE>`);
    expect(second.reply).toContain(`/scale cancel ${runId}`);
    const stranger = await driver.ask(`cancel ${runId}`, 'U0EVE');
    expect(stranger.reply).toContain('Only the requester (<@U0ALICE>) or an approver can cancel');
    const cancelled = await driver.ask(`cancel ${runId}`, 'U0ALICE');
    expect(cancelled.reply).toContain('cancelled; nothing was executed');
    await cardShows(runId, 'Cancelled by <@U0ALICE>');
    const third = await driver.ask('busy 12', 'U0CAROL');
    expect(third.reply).toMatch(/Run `run-[a-z0-9]+` opened below/);
  }, 30_000);

  it('dry run: everything except execution, saying exactly which call it would make', async () => {
    const { runId } = await open('dry 11 --dry-run');
    expect(cardText(card(runId))).toContain('dry run');
    await tickAll(runId);
    await driver.press(card(runId), 'approve', 'U0BOB');
    const c = await cardShows(runId, 'Finished: dry run');
    await threadShows(c.ts, '`PATCH /apis/apps/v1/namespaces/prod/deployments/dry/scale (merge patch, only if its resourceVersion is unchanged) {"spec":{"replicas":11}}`');
    expect(patches(/\/deployments\/dry/)).toHaveLength(0);
  }, 30_000);

  it('cancel before execution by the requester; not once execution began', async () => {
    const { runId } = await open('cancelme 6');
    await driver.press(card(runId), 'cancel', 'U0ALICE');
    await cardShows(runId, 'Cancelled by <@U0ALICE>');
    expect(patches(/\/deployments\/cancelme/)).toHaveLength(0);
  }, 30_000);
});

describe('HPA-managed Deployment', () => {
  it('raises the HPA floor instead of scaling the Deployment, says so before approval, and records the old bounds', async () => {
    const { runId } = await open('worker 12');
    const c = card(runId);
    expect(cardText(c)).toContain('Set HPA prod/worker minReplicas 3 → 12 and maxReplicas 10 → 12');
    expect(cardText(c)).toContain('scaling the Deployment alone would be undone by it');
    await tickAll(runId);
    await driver.press(card(runId), 'approve', 'U0BOB');
    await cardShows(runId, 'Verified in', 15_000);
    const hpaPatches = patches(/horizontalpodautoscalers\/worker$/);
    expect(hpaPatches).toHaveLength(1);
    expect(hpaPatches[0]!.body).toEqual({ metadata: { resourceVersion: expect.stringMatching(/^\d+$/) }, spec: { minReplicas: 12, maxReplicas: 12 } });
    expect(patches(/\/deployments\/worker\/scale$/)).toHaveLength(0);
    await threadShows(c.ts, '3 replicas (HPA 3..10) →');
  }, 30_000);
});

describe('the plan that was approved is the change that is made', () => {
  it('an HPA whose max already allows the request is sent only the new minReplicas, exactly as shown', async () => {
    const { runId } = await open('worker2 8');
    expect(cardText(card(runId))).toContain('{\\"spec\\":{\\"minReplicas\\":8}}');
    await tickAll(runId);
    await driver.press(card(runId), 'approve', 'U0BOB');
    await cardShows(runId, 'Verified in', 15_000);
    expect(patches(/horizontalpodautoscalers\/worker2$/).map((p) => p.body)).toEqual([{ metadata: { resourceVersion: expect.stringMatching(/^\d+$/) }, spec: { minReplicas: 8 } }]);
  }, 30_000);

  it('a target changed by someone else after the checks is not overwritten', async () => {
    const { runId } = await open('moved 8');
    await tickAll(runId);
    // Someone runs kubectl scale --replicas=9 while the run waits for approval.
    const kc = await fetch(`${kube.url}/apis/apps/v1/namespaces/prod/deployments/moved/scale`, {
      method: 'PATCH',
      headers: { authorization: 'Bearer kubectl', 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ spec: { replicas: 9 } }),
    });
    expect(kc.status).toBe(200);
    await driver.press(card(runId), 'approve', 'U0BOB');
    await cardShows(runId, 'changed since the plan was made: it has 9 replicas, the plan expected 5');
    expect(patches(/\/deployments\/moved\/scale$/)).toHaveLength(1);
    expect(kube.getDeployment('prod', 'moved')!.spec?.replicas).toBe(9);
  }, 30_000);

  it('a tick from a card that was stale in someone else\'s client does not undo another person\'s tick', async () => {
    const { runId } = await open('ticks 6');
    const stale = structuredClone(card(runId));
    await driver.tick(card(runId), ['team-notified'], 'U0DAVE');
    await waitFor(() => cardText(card(runId)).includes('ticked by <@U0DAVE>'));
    await driver.tick(stale, ['backup-operator'], 'U0CAROL');
    const c = await cardShows(runId, 'Waiting for 1 approval');
    expect(cardText(c)).toContain('ticked by <@U0CAROL>');
    expect(cardText(c)).toContain('ticked by <@U0DAVE>');
    await driver.press(c, 'cancel', 'U0ALICE');
  }, 30_000);
});

describe('a stuck rollout', () => {
  it('shows what is stuck and rolls back under the same approval policy', async () => {
    const { runId } = await open('reports 12');
    await tickAll(runId);
    kube.stallScheduling(true);
    try {
      await driver.press(card(runId), 'approve', 'U0BOB');
      const failed = await cardShows(runId, 'Verification failed', 20_000);
      expect(cardText(failed)).toContain('Insufficient cpu');
      expect(buttonsOf(failed)).toEqual(['rollback', 'close']);
      await driver.press(failed, 'rollback', 'U0ALICE');
      await ephemeralFor('U0ALICE', 'cannot approve the rollback');
      await driver.press(failed, 'rollback', 'U0BOB');
      await cardShows(runId, 'Rolled back', 20_000);
    } finally {
      kube.stallScheduling(false);
    }
    const scalePatches = patches(/\/deployments\/reports\/scale$/);
    expect(scalePatches.map((p) => p.body)).toEqual([{ metadata: { resourceVersion: expect.stringMatching(/^\d+$/) }, spec: { replicas: 12 } }, { metadata: { resourceVersion: expect.stringMatching(/^\d+$/) }, spec: { replicas: 5 } }]);
    await waitFor(() => slack.channelMessages('C0INFRA').find((m) => m.text?.includes('was rolled back after a failed verification: back to 5 replicas')));
  }, 60_000);
});

describe('double clicks and replays', () => {
  it('fifty approve clicks and the same delivery twice make one scale call', async () => {
    const { runId } = await open('clicks 7');
    await tickAll(runId);
    const c = card(runId);
    const payload = driver.actionPayload(c, { type: 'button', action_id: 'scalebot_approve', block_id: `buttons|${runId}`, value: JSON.stringify({ r: runId, i: 'approve', v: 1 }) }, 'U0BOB');
    const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    const headers = driver.sign(body);
    const results = await Promise.all(Array.from({ length: 50 }, () => driver.post(body, { ...headers, 'x-slack-retry-num': '1' })));
    expect(results.every((r) => r.status === 200)).toBe(true);
    await cardShows(runId, 'Verified in', 15_000);
    expect(patches(/\/deployments\/clicks\/scale$/)).toHaveLength(1);
    expect(slack.thread('C0INFRA', c.ts).filter((m) => m.text?.includes('Approved by <@U0BOB>'))).toHaveLength(1);
  }, 30_000);
});

describe('Kubernetes API faults are answered in the thread, with the run left true', () => {
  it('403 on the scale subresource: the run fails, says why and what to fix, and releases the target', async () => {
    const { runId } = await open('forbidden 8');
    await tickAll(runId);
    kube.failNext({ method: 'PATCH', path: /\/deployments\/forbidden\/scale$/, status: 403, message: 'deployments.apps "forbidden" is forbidden: User "system:serviceaccount:ops:scalebot" cannot patch resource "deployments/scale"' });
    await driver.press(card(runId), 'approve', 'U0BOB');
    const c = await cardShows(runId, 'Failed: could not patch the scale of Deployment prod/forbidden: Kubernetes answered 403');
    expect(cardText(c)).toContain("lacks the permission");
    expect(kube.getDeployment('prod', 'forbidden')!.spec?.replicas).toBe(5);
    await waitFor(() => slack.channelMessages('C0INFRA').find((m) => m.text?.includes('forbidden') && m.text.includes('failed: could not patch')));
    const again = await driver.ask('forbidden 8', 'U0ALICE');
    expect(again.reply).toMatch(/Run `run-[a-z0-9]+` opened below/);
  }, 30_000);

  it('409 conflict on the scale subresource is retried and the run succeeds, with one effective change', async () => {
    const { runId } = await open('conflict 7');
    await tickAll(runId);
    kube.failNext({ method: 'PATCH', path: /\/deployments\/conflict\/scale$/, status: 409, times: 2 });
    await driver.press(card(runId), 'approve', 'U0BOB');
    await cardShows(runId, 'Verified in', 15_000);
    expect(patches(/\/deployments\/conflict\/scale$/).length).toBe(3);
    expect(kube.getDeployment('prod', 'conflict')!.spec?.replicas).toBe(7);
  }, 30_000);

  it('a Deployment that does not exist blocks approval with a clear reason', async () => {
    const { reply } = await driver.ask('ghost 5', 'U0ALICE');
    const runId = runIdOf(reply);
    const c = await cardShows(runId, 'Blocked');
    expect(cardText(c)).toContain('could not read Deployment prod/ghost: Kubernetes answered 404');
    expect(cardText(c)).toContain('check the namespace and name in the catalog');
    await driver.press(c, 'approve', 'U0BOB');
    await ephemeralFor('U0BOB', 'Cannot approve while blocked');
    await driver.press(card(runId), 'cancel', 'U0ALICE');
    await cardShows(runId, 'Cancelled by <@U0ALICE>');
  }, 30_000);
});

describe('Slack rate limits', () => {
  it('a 429 with Retry-After is waited out and the card still ends up true', async () => {
    const { runId } = await open('throttled 6');
    const before = slack.callsOf('chat.update').length;
    slack.rateLimit('chat.update', 1, 1);
    await driver.press(card(runId), 'cancel', 'U0ALICE');
    await cardShows(runId, 'Cancelled by <@U0ALICE>', 15_000);
    const updates = slack.callsOf('chat.update').slice(before);
    expect(updates.length).toBeGreaterThanOrEqual(2);
    expect(updates[1]!.at - updates[0]!.at).toBeGreaterThanOrEqual(900);
  }, 30_000);
});

describe('bad input is answered clearly and changes nothing', () => {
  const cases: [string, RegExp][] = [
    ['nosuch 5', /There is no service `nosuch` in the catalog\. Known services: `api-gateway`/],
    ['evil 51', /51 replicas is outside the limits of `evil` \(min 3, max 50\)/],
    ['evil 2', /outside the limits of `evil` \(min 3, max 50\)/],
    ['evil ten', /`ten` is not a replica count: it must be a whole number/],
    ['evil -3', /`-3` is not a replica count: it cannot be negative/],
    ['evil 99999999999999999999', /is not a replica count: it is far too large/],
    ['evil 1e3', /`1e3` is not a replica count/],
    ['evil', /How many replicas\? Use `\/scale evil <replicas>`/],
    ['evil 5 6', /Unexpected `6`: a request takes one replica count/],
    ['evil 5 --force', /Unknown option `--force`\. Accepted: `--reason "why"`, `--dry-run`/],
    ['evil 5 --reason', /`--reason` needs a text/],
    ['evil 5 --reason "unterminated', /a quote is not closed/],
    ['evil;rm -rf / 5', /is not a service name or a subcommand/],
    ['$(reboot) 5', /is not a service name or a subcommand/],
    ['évil 5', /is not a service name or a subcommand/],
    ['evil 5 && curl x', /Unexpected `&amp;&amp;`/],
    ['<@U0BOB> 5', /is not a service name or a subcommand/],
    ['cancel', /Which run\?/],
    ['cancel notarun', /is not a run id/],
    ['cancel run-zzzzzzzz', /No run `run-zzzzzzzz` is known/],
    ['status ../../etc', /is neither a service name nor a run id/],
    ['x'.repeat(1200), /at most 1000 are accepted/],
  ];
  it.each(cases)('/scale %s', async (text, expected) => {
    const cardsBefore = slack.messages.filter((m) => m.blocks).length;
    const writesBefore = kube.requests.filter((r) => r.method !== 'GET' && r.path.includes('/evil')).length;
    const { reply, status } = await driver.ask(text, 'U0ALICE');
    expect(status).toBe(200);
    expect(reply).toMatch(expected);
    expect(reply).not.toContain('<@U0BOB>');
    expect(slack.messages.filter((m) => m.blocks).length).toBe(cardsBefore);
    expect(kube.requests.filter((r) => r.method !== 'GET' && r.path.includes('/evil')).length).toBe(writesBefore);
  });

  it('help and status answer', async () => {
    const help = await driver.ask('help', 'U0ALICE');
    expect(help.reply).toContain('/scale <service> <replicas>');
    expect(help.reply).toContain('`api-gateway` — 3..50 replicas');
    const status = await driver.ask('status api-gateway', 'U0ALICE');
    expect(status.reply).toMatch(/api-gateway\* 5 → 10 — finished: verified, requested by <@U0ALICE>/);
  });

  it('forged and stale signatures are refused with 401 and change nothing', async () => {
    const body = driver.commandBody('evil 10', 'U0ALICE');
    const forged = await driver.post(body, driver.sign(body, Math.floor(Date.now() / 1000), 'wrong-secret'));
    expect(forged.status).toBe(401);
    const stale = await driver.post(body, driver.sign(body, Math.floor(Date.now() / 1000) - 600));
    expect(stale.status).toBe(401);
    const unsigned = await driver.post(body, {});
    expect(unsigned.status).toBe(401);
    const id = new URLSearchParams(body).get('response_url')!.split('/').pop();
    expect(slack.responses.some((r) => r.id === id)).toBe(false);
  });

  it('tampered buttons: another run, an old evidence revision, a garbage value, an unknown action id', async () => {
    const { runId } = await open('evil 9');
    const other = await driver.ask('status', 'U0ALICE');
    const c = card(runId);
    // Another run's id on this card.
    const otherRun = slack.channelMessages('C0INFRA').find((m) => m.ts !== c.ts && m.blocks)!;
    const otherId = runIdOf(cardText(otherRun));
    await driver.sendPayload(driver.actionPayload(c, { type: 'button', action_id: 'scalebot_approve', value: JSON.stringify({ r: otherId, i: 'approve', v: 1 }) }, 'U0BOB'));
    await ephemeralFor('U0BOB', 'which is not the run of this card');
    // An old evidence revision.
    await driver.sendPayload(driver.actionPayload(c, { type: 'button', action_id: 'scalebot_approve', value: JSON.stringify({ r: runId, i: 'approve', v: 0 }) }, 'U0BOB'));
    await ephemeralFor('U0BOB', 'changed since this card was shown to you');
    // Garbage, and an intent that does not match the action id.
    await driver.sendPayload(driver.actionPayload(c, { type: 'button', action_id: 'scalebot_approve', value: '{"r":"run-x"; DROP' }, 'U0BOB'));
    await driver.sendPayload(driver.actionPayload(c, { type: 'button', action_id: 'scalebot_approve', value: JSON.stringify({ r: runId, i: 'rollback', v: 1 }) }, 'U0BOB'));
    await waitFor(() => slack.ephemerals.filter((e) => e.text.includes('That button is not valid')).length >= 2);
    // An action id this version does not know.
    await driver.sendPayload(driver.actionPayload(c, { type: 'button', action_id: 'delete_everything', value: 'x' }, 'U0BOB'));
    await ephemeralFor('U0BOB', 'That control is not one scalebot knows');
    expect(other.status).toBe(200);
    expect(patches(/\/deployments\/evil/)).toHaveLength(0);
    expect(cardText(card(runId))).toContain('Waiting for');
  }, 30_000);
});

describe('health, readiness and metrics', () => {
  it('GET /healthz and /readyz answer 200; /metrics exposes runs, acks, Slack and platform errors', async () => {
    expect((await fetch(`${bot.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${bot.url}/readyz`);
    expect(ready.status).toBe(200);
    const res = await fetch(`${bot.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toMatch(/scalebot_ack_latency_seconds_count\{kind="command"\} [1-9]\d*/);
    expect(text).toMatch(/scalebot_ack_latency_seconds_count\{kind="action"\} [1-9]\d*/);
    expect(text).toMatch(/scalebot_runs_finished_total\{status="succeeded"\} [1-9]\d*/);
    expect(text).toMatch(/scalebot_runs_active\{status="awaiting"\} [1-9]\d*/);
    expect(text).toMatch(/scalebot_step_duration_seconds_count\{kind="verify"\} [1-9]\d*/);
    expect(text).toMatch(/scalebot_platform_api_errors_total\{platform="kubernetes",code="403"\} [1-9]\d*/);
    expect(text).toMatch(/scalebot_slack_rate_limited_total\{method="chat.update"\} [1-9]\d*/);
  });
});

describe('logs', () => {
  it('never contain the bot token or the signing secret', () => {
    const all = bot.logs.join('\n') + bot.stderr.join('');
    expect(all.length).toBeGreaterThan(0);
    expect(all).not.toContain(BOT_TOKEN);
    expect(all).not.toContain(SIGNING_SECRET);
  });
});
