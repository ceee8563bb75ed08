// The composition root: catalog and runbooks loaded and checked, adapters built, listeners
// registered. main.ts feeds it the environment; tests can feed it their own.
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import bolt, { type App as BoltApp } from '@slack/bolt';
import type { Logger } from 'pino';
import { loadKubeConfig } from './adapters/kubernetes/kubernetes-targets.ts';
import { catalogTargets } from './adapters/targets.ts';
import { catalogDatabases } from './adapters/databases.ts';
import type { AuroraTargetOptions } from './adapters/aws/index.ts';
import type { AzureContainerAppTargetOptions } from './adapters/azure/index.ts';
import { createSlackApp, registerListeners } from './adapters/slack/bolt-app.ts';
import { createProbes } from './adapters/probes/index.ts';
import { SlackChat } from './adapters/slack/slack-chat.ts';
import { catalogProblems, loadCatalog, type Catalog } from './config/catalog.ts';
import { InvalidInputError } from './config/problems.ts';
import { DEFAULT_DOWN_RUNBOOK, loadRunbooks } from './config/runbooks.ts';
import { serviceSnapshot } from './config/service-snapshot.ts';
import { BUILTIN_WORKFLOWS } from './config/paths.ts';
import type { Env } from './config/env.ts';
import { systemClock, type Clock } from './ports/clock.port.ts';
import type { RunStore } from './ports/run-store.port.ts';
import { Runner } from './runner/runner.ts';
import { createMetrics, type Metrics } from './observability/metrics.ts';
import { isActive, type Run } from './engine/run.ts';
import { memoryState, newReplicaId, redisState, type State } from './state.ts';
import type { Runbook } from './workflows/runbook-schema.ts';

export { BUILTIN_WORKFLOWS, PROJECT_ROOT } from './config/paths.ts';

const { webApi } = bolt;

export interface Configuration {
  catalog: Catalog;
  runbooks: Map<string, Runbook>;
}

/** Loads the catalog and the runbooks (project workflows/ and a workflows/ folder beside the catalog). */
export function loadConfiguration(catalogFile: string): Configuration {
  const catalog = loadCatalog(catalogFile);
  // A catalog at the project root has the built-in folder beside it: load each folder once.
  const dirs = [...new Set([BUILTIN_WORKFLOWS, join(dirname(resolve(catalogFile)), 'workflows')].map((d) => resolve(d)))];
  const { runbooks, problems } = loadRunbooks(dirs);
  problems.push(...catalogProblems(catalogFile, catalog, runbooks));
  if (problems.length) throw new InvalidInputError(problems);
  return { catalog, runbooks };
}

export interface ScalebotApp {
  app: BoltApp;
  runner: Runner;
  store: RunStore;
  state: State;
  metrics: Metrics;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function newRunId(): string {
  // 10 base-32 characters: 50 bits, unique enough across replicas without coordination.
  const alphabet = 'abcdefghijkmnpqrstuvwxyz23456789';
  return `run-${[...randomBytes(10)].map((b) => alphabet[b % 32]).join('')}`;
}

export interface ScalebotOptions {
  clock?: Clock;
  /** Redis key prefix (tests isolate replicas' shared state with their own). */
  redisPrefix?: string;
  /** Lease time of a run's driver; a dead replica's runs are resumed after it. */
  leaseTtlMs?: number;
  /** Platform client settings (tests point the real SDKs at local servers; production uses the defaults). */
  platforms?: { azure?: AzureContainerAppTargetOptions; aws?: AuroraTargetOptions };
}

export async function createScalebot(env: Env, config: Configuration, log: Logger, opts: ScalebotOptions = {}): Promise<ScalebotApp> {
  const clock = opts.clock ?? systemClock;
  const state = env.REDIS_URL ? await redisState(env.REDIS_URL, log, opts.redisPrefix) : memoryState(clock, log);
  if (state.kind === 'memory') {
    log.warn('state is kept in process (REDIS_URL not set): run ONE replica only; active runs are lost when the bot restarts');
  }
  const metrics = createMetrics(async () => {
    const counts: Record<string, number> = {};
    for (const run of await state.store.list({ active: true })) counts[run.status] = (counts[run.status] ?? 0) + 1;
    return counts;
  });
  const platformError = (platform: string, code: number | string) => metrics.platformErrors.inc({ platform, code: String(code) });
  // The cloud SDKs are large (~40 MiB resident together): load each only when the catalog needs it.
  const services = Object.values(config.catalog.services);
  const azureSdk = services.some((s) => s.target.kind === 'azure-container-app') ? await import('./adapters/azure/index.ts') : undefined;
  const awsSdk = services.some((s) => Object.keys(s.databases).length > 0) ? await import('./adapters/aws/index.ts') : undefined;
  // Azure credentials come from @azure/identity's default chain (environment, workload identity, managed identity, az login).
  const azure = azureSdk ? { azure: (_name: string, t: Parameters<typeof azureSdk.azureContainerAppTarget>[0]) => azureSdk.azureContainerAppTarget(t, { clock, onError: (code) => platformError('azure', code), ...opts.platforms?.azure }) } : {};
  const targets = catalogTargets(config.catalog, loadKubeConfig, clock, { onError: platformError }, azure);
  const databases = catalogDatabases(config.catalog, clock, awsSdk?.auroraTarget, opts.platforms?.aws);
  const probes = createProbes(config.catalog, { clock, onError: (source) => metrics.platformErrors.inc({ platform: source, code: 'unmeasured' }) });
  let started = false;
  let accepting = true;
  let teamId: string | undefined;
  const app = createSlackApp({
    botToken: env.SLACK_BOT_TOKEN,
    signingSecret: env.SLACK_SIGNING_SECRET,
    appToken: env.SLACK_APP_TOKEN,
    port: env.PORT,
    slackApiUrl: env.SLACK_API_URL,
    log,
    retries: process.env.SCALEBOT_SLACK_RETRIES !== undefined ? Number(process.env.SCALEBOT_SLACK_RETRIES) : undefined,
    health: async () => ({ ok: true }),
    ready: async () => {
      if (!accepting) return { ok: false, detail: 'shutting down' };
      if (!started) return { ok: false, detail: 'starting' };
      const socket = socketOf(app);
      if (socket && !socket.isActive()) return { ok: false, detail: 'Socket Mode connection to Slack is down' };
      if (!(await state.ping())) return { ok: false, detail: `the ${state.kind} store does not answer` };
      return { ok: true };
    },
    metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
  });
  app.client.on(webApi.WebClientEvent.RATE_LIMITED, (_seconds: number, { url }: { url: string }) => metrics.slackRateLimited.inc({ method: url.replace(/^.*\//, '') }));
  const chat = new SlackChat(app.client, (method, error) => metrics.slackErrors.inc({ method, error }));
  const replicaId = newReplicaId();
  const runner: Runner = new Runner({
    store: state.store,
    chat,
    targets,
    databases,
    probes,
    clock,
    log: log.child({ replica: replicaId }),
    newRunId,
    coordination: state.coordination,
    scheduler: state.scheduler,
    audit: state.audit,
    replicaId,
    leaseTtlMs: opts.leaseTtlMs,
    onTransition: (before, after, now) => observeTransition(metrics, before, after, now),
    openScaleDown: async (run, requester) => {
      const service = serviceSnapshot(config.catalog, run.service.name);
      if (!service) throw new Error(`${run.service.name} is no longer in the catalog`);
      const name = config.catalog.services[run.service.name]?.runbooks.down ?? DEFAULT_DOWN_RUNBOOK;
      const runbook = config.runbooks.get(name);
      if (!runbook) throw new Error(`the scale-down runbook "${name}" is not loaded`);
      const started = await runner.start(service, runbook, { reason: `scheduled after run ${run.id}`, dryRun: false, requester, originChannel: run.card?.channel ?? service.channel });
      if (started.started) return started.run.id;
      throw new Error(started.reason === 'busy' ? `run ${started.holderId} holds ${service.targetLabel}` : `its card could not be posted: ${started.error}`);
    },
  });
  const DEDUPE_MS = 10 * 60_000;
  registerListeners(
    app,
    (user, channel) => ({ catalog: config.catalog, runbooks: config.runbooks, runner, store: state.store, chat, user, channel }),
    log,
    {
      // Fail open, and fast: a duplicate is harmless (the engine is idempotent), a lost click is not.
      firstSeen: (key) =>
        Promise.race([state.coordination.firstSeen(key, DEDUPE_MS), new Promise<boolean>((r) => setTimeout(() => r(true), 500).unref())]).catch(() => true),
      teamId: () => teamId,
      accepting: () => accepting,
      observeAck: (kind, seconds) => metrics.ackLatency.observe({ kind }, seconds),
    },
  );
  return {
    app,
    runner,
    store: state.store,
    state,
    metrics,
    async start() {
      await app.start();
      teamId = (await app.client.auth.test()).team_id;
      await runner.begin();
      started = true;
    },
    async stop() {
      // Stop taking new work (readiness fails, new commands are told to retry), let acks and
      // transitions in flight finish, release this replica's leases so another resumes at once.
      accepting = false;
      await Promise.race([runner.idle(), new Promise((r) => setTimeout(r, 5_000))]);
      await runner.stop();
      await app.stop();
      await probes.close();
      await state.close();
    },
  };
}

/** The Socket Mode connection, when the bot runs in Socket Mode. */
function socketOf(app: BoltApp): { isActive(): boolean } | undefined {
  const receiver = (app as unknown as { receiver?: { client?: { websocket?: { isActive(): boolean } } } }).receiver;
  return receiver?.client ? { isActive: () => receiver.client?.websocket?.isActive() ?? false } : undefined;
}

function observeTransition(metrics: Metrics, before: Run, after: Run, now: number): void {
  if (before.status !== after.status) {
    if (!isActive(after)) metrics.runsFinished.inc({ status: after.status });
    if (before.status === 'checking') metrics.stepDuration.observe({ kind: 'checks' }, (now - after.createdAt) / 1000);
    if (after.status === 'executing') metrics.stepDuration.observe({ kind: 'approval-wait' }, (now - after.createdAt) / 1000);
  }
  for (const [id, state] of Object.entries(after.steps)) {
    const was = before.steps[id];
    if (was?.status === 'running' && state.status !== 'running' && state.startedAt !== undefined) {
      const kind = state.key ? 'execute' : state.deadline !== undefined ? 'verify' : 'check';
      metrics.stepDuration.observe({ kind }, (now - state.startedAt) / 1000);
    }
  }
}
