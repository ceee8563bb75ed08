// The baseline for bench/run.ts: a bare Bolt app in HTTP mode that only acks `/scale` and any
// block_actions. Same signing secret and same (local) Slack API server as the bot under test.
// Env: PORT, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_API_URL.
import bolt from '@slack/bolt';

const { App } = bolt;
const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`bare-bolt: ${name} is required`);
  return value;
};

const app = new App({
  token: env('SLACK_BOT_TOKEN'),
  signingSecret: env('SLACK_SIGNING_SECRET'),
  port: Number(env('PORT')),
  clientOptions: { slackApiUrl: env('SLACK_API_URL'), retryConfig: { retries: 0 } },
  // Only so bench/run.ts can tell when the app listens (the bot serves the same route).
  customRoutes: [{ path: '/healthz', method: ['GET'], handler: (_req, res) => { res.writeHead(200); res.end('ok'); } }],
});

app.command('/scale', async ({ ack }) => {
  await ack();
});
app.action({ type: 'block_actions' }, async ({ ack }) => {
  await ack();
});

await app.start();
process.on('SIGTERM', () => {
  void app.stop().finally(() => process.exit(0));
});
