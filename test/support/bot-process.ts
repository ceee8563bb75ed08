// Starts the real bot (`node --import tsx src/main.ts`, as `npm start` does) in HTTP mode against
// the local Slack and Kubernetes servers, with its own catalog and runbooks in a temp folder.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './slack-driver.ts';

export const ROOT = join(import.meta.dirname, '../..');
export const SIGNING_SECRET = 'test-signing-secret-8f3a9c';
export const BOT_TOKEN = 'xoxb-test-bot-token-000000';

export interface BotProcess {
  url: string;
  port: number;
  logs: string[];
  stderr: string[];
  child: ChildProcess;
  dir: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface BotOptions {
  catalog: string;
  workflows?: Record<string, string>;
  kubeconfig: string;
  slackApiUrl: string;
  env?: Record<string, string>;
}

export async function startBot(opts: BotOptions): Promise<BotProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'scalebot-e2e-'));
  writeFileSync(join(dir, 'catalog.yml'), opts.catalog);
  if (opts.workflows) {
    mkdirSync(join(dir, 'workflows'));
    for (const [name, text] of Object.entries(opts.workflows)) writeFileSync(join(dir, 'workflows', `${name}.yml`), text);
  }
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: opts.slackApiUrl,
      SCALEBOT_CONFIG: join(dir, 'catalog.yml'),
      KUBECONFIG: opts.kubeconfig,
      PORT: String(port),
      LOG_LEVEL: 'debug',
      // A couple of retries, so a 429 with Retry-After is honoured; the default (~30 min) would stall tests.
      SCALEBOT_SLACK_RETRIES: '2',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // A bot must not outlive the test process that started it (a timed-out or interrupted run).
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  child.once('exit', () => process.removeListener('exit', reap));
  const logs: string[] = [];
  const stderr: string[] = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => logs.push(...d.split('\n').filter(Boolean)));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
  const url = `http://127.0.0.1:${port}`;
  let exited = false;
  child.once('exit', () => (exited = true));
  await waitFor(async () => {
    if (exited) throw new Error(`the bot exited during start-up:\n${stderr.join('')}\n${logs.join('\n')}`);
    try {
      return (await fetch(`${url}/healthz`)).ok;
    } catch {
      return false;
    }
  }, 20_000, 'the bot to answer /healthz');
  return {
    url,
    port,
    logs,
    stderr,
    child,
    dir,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      }),
  };
}
