// Socket Mode (SLACK_APP_TOKEN set): the same bot, reached over a WebSocket instead of HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubeApiServer, type KubeApiServer } from '../servers/kube-api-server.ts';
import { startSlackApiServer, type SlackApiServer } from '../servers/slack-api-server.ts';
import { startBot, type BotProcess } from '../support/bot-process.ts';
import { cardText, findElement, SlackDriver, waitFor } from '../support/slack-driver.ts';

let kube: KubeApiServer;
let slack: SlackApiServer;
let bot: BotProcess;
let driver: SlackDriver;

beforeAll(async () => {
  [kube, slack] = await Promise.all([startKubeApiServer({ tickMs: 30 }), startSlackApiServer()]);
  kube.addNode({ name: 'node-1', cpu: '16', memory: '64Gi' });
  kube.addDeployment({ namespace: 'prod', name: 'api-gateway', replicas: 5 });
  bot = await startBot({
    catalog: 'channel: C0INFRA\nservices:\n  api-gateway:\n    target: { kind: kubernetes, namespace: prod, deployment: api-gateway }\n    limits: { min: 3, max: 50 }\n    approvals: { approvers: [U0BOB] }\n',
    kubeconfig: kube.kubeconfigPath,
    slackApiUrl: slack.apiUrl,
    env: { SLACK_APP_TOKEN: 'xapp-1-test-app-token', SLACK_SIGNING_SECRET: '' },
  });
  driver = new SlackDriver(bot.url, 'unused', slack);
  await waitFor(() => slack.socket.connections() > 0, 10_000, 'the Socket Mode connection');
}, 60_000);

afterAll(async () => {
  await bot?.stop();
  await Promise.all([kube?.close(), slack?.close()]);
});

describe('Socket Mode', () => {
  it('serves /healthz, takes /scale and clicks over the socket, and scales', async () => {
    expect((await fetch(`${bot.url}/healthz`)).status).toBe(200);
    expect(slack.callsOf('apps.connections.open')).toHaveLength(1);

    const command = Object.fromEntries(new URLSearchParams(driver.commandBody('api-gateway 8 --reason "socket"', 'U0ALICE')));
    await slack.socket.send('slash_commands', command);
    // The same envelope redelivered (retry_attempt 1) has no second effect.
    await slack.socket.send('slash_commands', command, 1);
    const reply = await driver.waitForResponse(String(command.response_url).split('/').pop()!);
    const runId = /run-[a-z0-9]+/.exec(reply)![0];
    const card = await waitFor(() => slack.channelMessages('C0INFRA').find((m) => cardText(m).includes(runId) && cardText(m).includes('Waiting for')));

    const tick = findElement(card, (e) => e.type === 'checkboxes')!;
    const block = card.blocks!.find((b) => String(b.block_id).startsWith('tick|'))!;
    await slack.socket.send('interactive', driver.actionPayload(card, { type: 'checkboxes', action_id: tick.action_id, block_id: block.block_id, selected_options: tick.options }, 'U0DAVE'));
    await waitFor(() => !cardText(slack.message('C0INFRA', card.ts)).includes('checklist item'));
    const approve = findElement(slack.message('C0INFRA', card.ts)!, (e) => e.action_id === 'scalebot_approve')!;
    await slack.socket.send('interactive', driver.actionPayload(card, { type: 'button', action_id: approve.action_id, value: approve.value }, 'U0BOB'));
    await waitFor(() => cardText(slack.message('C0INFRA', card.ts)).includes('Verified in'), 15_000, 'verified');
    expect(kube.getDeployment('prod', 'api-gateway')!.status?.readyReplicas).toBe(8);
    expect(slack.channelMessages('C0INFRA').filter((m) => m.blocks)).toHaveLength(1);
    expect(slack.responses.filter((r) => r.id === String(command.response_url).split('/').pop())).toHaveLength(1);
  }, 40_000);
});
