// `npm start`: read the environment, load and check the catalog and runbooks, start the bot.
// Anything missing or invalid stops start-up with every problem listed.
import { createScalebot, loadConfiguration } from './app.ts';
import { readEnv } from './config/env.ts';
import { InvalidInputError } from './config/problems.ts';
import { createLogger } from './logger.ts';

async function main(): Promise<number> {
  const envResult = readEnv(process.env);
  if (!envResult.ok) {
    process.stderr.write(`scalebot cannot start: the environment is incomplete.\n${envResult.problems.map((p) => `  - ${p}`).join('\n')}\nSee README.md, "Configuration".\n`);
    return 2;
  }
  const env = envResult.env;
  const log = createLogger(env.LOG_LEVEL);
  let config;
  try {
    config = loadConfiguration(env.SCALEBOT_CONFIG);
  } catch (error) {
    const detail = error instanceof InvalidInputError ? error.message : (error as Error).message;
    process.stderr.write(`scalebot cannot start: the catalog or a runbook is invalid.\n${detail}\n`);
    return 2;
  }
  let bot;
  try {
    const leaseTtlMs = process.env.SCALEBOT_LEASE_MS ? Number(process.env.SCALEBOT_LEASE_MS) : undefined;
    bot = await createScalebot(env, config, log, { redisPrefix: process.env.SCALEBOT_REDIS_PREFIX || undefined, leaseTtlMs });
    await bot.start();
  } catch (error) {
    process.stderr.write(`scalebot cannot start: ${(error as Error).message}\n`);
    return 1;
  }
  log.info({ mode: env.SLACK_APP_TOKEN ? 'socket' : 'http', port: env.PORT, services: Object.keys(config.catalog.services) }, 'scalebot started');
  // A malformed request can make a library reject a promise nobody awaits (Bolt's HTTP receiver on a
  // body of `null`); Node would end the process and, with in-process state, every active run. Log it
  // and keep serving: run state lives in the stores and every change is compare-and-set.
  process.on('unhandledRejection', (reason) => {
    log.error({ err: reason instanceof Error ? reason.message : String(reason) }, 'unhandled rejection: one request was dropped; the bot keeps running');
  });
  const shutdown = (signal: string) => {
    // The deadline first: nothing below (not even a log write to a closed stdout) may keep the
    // process past a pod's grace period.
    setTimeout(() => process.exit(0), 25_000).unref();
    const say = (fn: () => void) => {
      try {
        fn();
      } catch {
        // logging must never block shutdown
      }
    };
    say(() => log.info({ signal }, 'shutting down: no new work, finishing what is in flight, releasing leases'));
    void bot.stop().then(
      () => {
        say(() => log.info('stopped'));
        process.exit(0);
      },
      (error) => {
        say(() => log.error({ err: (error as Error).message }, 'error while stopping'));
        process.exit(1);
      },
    );
  };
  // A closed stdout (the supervisor went away) must not turn every log line into a crash or a hang.
  process.stdout.on('error', () => undefined);
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  return 0;
}

main().then(
  (code) => {
    if (code !== 0) process.exit(code);
  },
  (error) => {
    process.stderr.write(`scalebot crashed during start-up: ${(error as Error).stack ?? error}\n`);
    process.exit(1);
  },
);
