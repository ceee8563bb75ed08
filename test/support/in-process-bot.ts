// Starts the real bot IN THIS PROCESS (createScalebot, as main.ts does, HTTP mode) against the local
// Slack and Kubernetes servers, with an injected ManualClock: runbook waits, settle windows and
// approval expiry run on it, so a test advances 10 minutes instead of sleeping through them.
// State is in memory (no REDIS_URL), so the memory scheduler's timers fire via clock.at.
//
// Same signing secret and bot token as bot-process.ts: a SlackDriver drives either.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import bolt from '@slack/bolt';
import * as boltExports from '@slack/bolt';
import type { ScalebotApp, ScalebotOptions } from '../../src/app.ts';
import { readEnv } from '../../src/config/env.ts';
import { createLogger } from '../../src/logger.ts';
import { BOT_TOKEN, SIGNING_SECRET, freePort } from './bot-process.ts';
import { ManualClock } from './manual-clock.ts';
import { waitFor } from './slack-driver.ts';

export { BOT_TOKEN, SIGNING_SECRET };

/**
 * src/ imports Bolt as `import bolt from '@slack/bolt'` and reads `bolt.LogLevel`, `bolt.App`,
 * `bolt.webApi`. Under Node that default is module.exports; under vitest's interop it is the
 * module's `exports.default`, the App class alone, so those are undefined. Give the class the
 * module's other exports (once, before src/app.ts is first evaluated) so the same code runs here.
 */
function boltInterop(): void {
  const target = bolt as unknown as Record<string, unknown>;
  if (target.LogLevel) return;
  for (const [name, value] of Object.entries(boltExports)) {
    if (name !== 'default' && !(name in target)) Object.defineProperty(target, name, { value, configurable: true });
  }
}

export interface InProcessBotOptions {
  /** A catalog file to load as is (its workflows/ folder beside it is loaded too)… */
  catalogFile?: string;
  /** …or the catalog's text and runbooks by name, written to a temp folder. */
  catalog?: string;
  workflows?: Record<string, string>;
  kubeconfig: string;
  slackApiUrl: string;
  clock?: ManualClock;
  /**
   * Set in process.env while the bot runs (e.g. `${DATABASE_URL}` placeholders of probe sources,
   * read at each measurement), restored by stop().
   */
  env?: Record<string, string>;
  /**
   * A driver's lease. Default 24 h: with one replica nobody else could resume a run, and leases are
   * timed on the injected clock, so a 10-minute advance with real-time heartbeats every few
   * seconds would expire them and make the bot "recover" its own runs, which no real run does.
   */
  leaseTtlMs?: number;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /**
   * Client settings of the platform adapters, passed to createScalebot as is: the real Azure and
   * AWS SDKs pointed at the local ARM and RDS servers (endpoint, credentials, short timings).
   */
  platforms?: ScalebotOptions['platforms'];
}

export interface InProcessBot {
  url: string;
  clock: ManualClock;
  app: ScalebotApp;
  /** Every log line (pino JSON), for a failing test's diagnosis. */
  logs: string[];
  /** The temp folder holding the catalog, when the bot wrote one. */
  dir?: string;
  stop(): Promise<void>;
}

export async function startInProcessBot(opts: InProcessBotOptions): Promise<InProcessBot> {
  let dir: string | undefined;
  let catalogFile = opts.catalogFile;
  if (!catalogFile) {
    if (opts.catalog === undefined) throw new Error('startInProcessBot: give catalogFile or catalog');
    dir = mkdtempSync(join(tmpdir(), 'scalebot-inproc-'));
    catalogFile = join(dir, 'catalog.yml');
    writeFileSync(catalogFile, opts.catalog);
    if (opts.workflows) {
      mkdirSync(join(dir, 'workflows'));
      for (const [name, text] of Object.entries(opts.workflows)) writeFileSync(join(dir, 'workflows', `${name}.yml`), text);
    }
  }
  const clock = opts.clock ?? new ManualClock();
  const port = await freePort();
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const log = createLogger(opts.logLevel ?? 'debug', sink);

  // process.env is what the kubeconfig loader and the probes' ${VAR} placeholders read.
  const saved = new Map<string, string | undefined>();
  const setEnv = (name: string, value: string) => {
    if (!saved.has(name)) saved.set(name, process.env[name]);
    process.env[name] = value;
  };
  const restoreEnv = () => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    saved.clear();
  };
  for (const [name, value] of Object.entries(opts.env ?? {})) setEnv(name, value);
  setEnv('KUBECONFIG', opts.kubeconfig);
  // The same retry budget as bot-process.ts: a 429 with Retry-After is honoured, nothing stalls.
  setEnv('SCALEBOT_SLACK_RETRIES', '2');

  const envResult = readEnv({
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: opts.slackApiUrl,
    SCALEBOT_CONFIG: catalogFile,
    KUBECONFIG: opts.kubeconfig,
    PORT: String(port),
  });
  if (!envResult.ok) {
    restoreEnv();
    throw new Error(`in-process bot: ${envResult.problems.join('; ')}`);
  }
  let app: ScalebotApp;
  try {
    boltInterop();
    const { createScalebot, loadConfiguration } = await import('../../src/app.ts');
    app = await createScalebot(envResult.env, loadConfiguration(catalogFile), log, {
      clock,
      leaseTtlMs: opts.leaseTtlMs ?? 24 * 60 * 60_000,
      ...(opts.platforms ? { platforms: opts.platforms } : {}),
    });
    await app.start();
  } catch (error) {
    restoreEnv();
    if (dir) rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => {
    try {
      return (await fetch(`${url}/healthz`)).ok;
    } catch {
      return false;
    }
  }, 10_000, 'the in-process bot to answer /healthz');

  let stopped: Promise<void> | undefined;
  return {
    url,
    clock,
    app,
    logs,
    dir,
    stop: () =>
      (stopped ??= (async () => {
        try {
          // Bounded: a stuck watch or probe must not hold the test file past its hook timeout.
          await Promise.race([app.stop(), new Promise((r) => setTimeout(r, 20_000).unref())]);
        } finally {
          restoreEnv();
          if (dir) rmSync(dir, { recursive: true, force: true });
        }
      })()),
  };
}
