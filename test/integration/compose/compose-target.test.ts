/**
 * The Docker Compose target driven for real: the adapter spawns `docker` found on PATH, which here
 * is the fake in test/fakes/docker (a Node script over a JSON state file that records every argv).
 * Plan, apply, rollback, reconcile, the rollout with containers that start and turn healthy over
 * time (or do not), failures and timeouts, and that arguments never become options or shell code.
 */
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { composeTarget, type ComposeTargetOptions } from '../../../src/adapters/compose/index.ts';
import { containers, FAKE_DOCKER_DIR, startFakeDocker, type FakeDocker, type FakeDockerState } from '../../fakes/docker/fake-docker.ts';

const DIR = '/srv/up-schedule-generator';
const SERVICE = 'pdf-worker';
const PS = ['compose', '--project-directory', DIR, 'ps', '--all', '--format', 'json', SERVICE];
const up = (n: number) => ['compose', '--project-directory', DIR, 'up', '-d', '--scale', `${SERVICE}=${n}`, '--no-recreate', '--no-deps', SERVICE];

const fakes: FakeDocker[] = [];
afterEach(() => {
  for (const f of fakes.splice(0)) f.cleanup();
});

function setup(state: Partial<FakeDockerState> = {}, opts: ComposeTargetOptions = {}, config: { 'project-dir'?: string; file?: string; service?: string } = {}) {
  const fake = startFakeDocker({
    projectDir: DIR,
    project: 'up',
    services: { [SERVICE]: { healthcheck: true }, backend: {} },
    containers: containers(SERVICE, 3),
    ...state,
  });
  fakes.push(fake);
  const target = composeTarget({ kind: 'docker-compose', 'project-dir': DIR, service: SERVICE, ...config }, { env: fake.env, pollMs: 25, ...opts });
  return { fake, target };
}

const count = (fake: FakeDocker, service = SERVICE) => fake.state().containers.filter((c) => c.service === service && !c.oneoff).length;
const inSeconds = (s: number) => Date.now() + s * 1000;
const never = () => new AbortController().signal;

describe('plan', () => {
  it('reads the containers with ps and shows the exact up command; changes only when the count differs', async () => {
    const { fake, target } = setup();
    const plan = await target.plan(10);
    expect(plan).toMatchObject({
      summary: `Scale Compose service pdf-worker (${DIR}) 3 → 10 containers`,
      calls: [`docker compose --project-directory ${DIR} up -d --scale pdf-worker=10 --no-recreate --no-deps pdf-worker`],
      operation: { type: 'set-replicas', replicas: 10, from: 3 },
      undo: { type: 'set-replicas', replicas: 3, from: 10 },
      before: { replicas: 3, readyReplicas: 3 },
      expect: { replicas: 10, atLeast: false },
      undoExpect: { replicas: 3, atLeast: false },
      changes: true,
    });
    expect(plan.note).toContain('--no-deps');
    expect(fake.calls()).toEqual([PS]);
    expect((await target.plan(3)).changes).toBe(false);
    expect(count(fake)).toBe(3);
  });

  it('passes the compose file as -f, made absolute against the project directory', async () => {
    const { fake, target } = setup({ file: `${DIR}/docker-compose.prod.yml` }, {}, { file: 'docker-compose.prod.yml' });
    const plan = await target.plan(5);
    expect(plan.calls).toEqual([`docker compose --project-directory ${DIR} -f ${DIR}/docker-compose.prod.yml up -d --scale pdf-worker=5 --no-recreate --no-deps pdf-worker`]);
    expect(fake.calls()).toEqual([['compose', '--project-directory', DIR, '-f', `${DIR}/docker-compose.prod.yml`, 'ps', '--all', '--format', 'json', SERVICE]]);
  });

  it('counts exited containers (Compose does) and says so; leaves one-off `run` containers out', async () => {
    const { target } = setup({
      services: { [SERVICE]: { healthcheck: true, exit: { '2': 137 } } },
      containers: [...containers(SERVICE, 3), { service: SERVICE, number: 9, createdAt: 0, oneoff: true }],
    });
    const plan = await target.plan(5);
    expect(plan.before).toEqual({ replicas: 3, readyReplicas: 2 });
    expect(plan.note).toContain('1 exited (up-pdf-worker-2 exit code 137)');
  });

  it('reads the JSON array older Compose versions print', async () => {
    const { target } = setup({ format: 'array' });
    expect((await target.plan(4)).before).toEqual({ replicas: 3, readyReplicas: 3 });
  });

  it('refuses a count that is not a whole number of 0 or more, before running anything', async () => {
    const { fake, target } = setup();
    await expect(target.plan(-1)).rejects.toThrow(/whole number/);
    await expect(target.plan(2.5)).rejects.toThrow(/whole number/);
    expect(fake.calls()).toEqual([]);
  });
});

describe('apply and rollback', () => {
  it('scales up with the exact argument array, reads back before and after', async () => {
    const { fake, target } = setup();
    const plan = await target.plan(10);
    const result = await target.apply(plan.operation);
    expect(result.before).toEqual({ replicas: 3, readyReplicas: 3 });
    expect(result.after.replicas).toBe(10);
    expect(count(fake)).toBe(10);
    expect(fake.calls()).toEqual([PS, PS, up(10), PS]);
  });

  it('rolls back with the plan’s undo: back to 3 containers', async () => {
    const { fake, target } = setup();
    const plan = await target.plan(10);
    await target.apply(plan.operation);
    const back = await target.apply(plan.undo);
    expect(back.before.replicas).toBe(10);
    expect(back.after.replicas).toBe(3);
    expect(fake.state().containers.map((c) => c.number).sort()).toEqual([1, 2, 3]);
    expect(fake.calls().filter((c) => c.includes('up'))).toEqual([up(10), up(3)]);
  });

  it('counts a service already at the count as applied, and runs no up', async () => {
    const { fake, target } = setup();
    const result = await target.apply({ type: 'set-replicas', replicas: 3, from: 2 });
    expect(result).toEqual({ before: { replicas: 2, readyReplicas: 3 }, after: { replicas: 3, readyReplicas: 3 } });
    expect(fake.calls()).toEqual([PS]);
  });

  it('refuses when the service changed since the plan, and changes nothing', async () => {
    const { fake, target } = setup();
    const plan = await target.plan(10);
    fake.update((s) => s.containers.push({ service: SERVICE, number: 4, createdAt: 0 }));
    await expect(target.apply(plan.operation)).rejects.toThrow(/changed since the plan was made: it has 4 containers, the plan expected 3\. Nothing was changed/);
    expect(count(fake)).toBe(4);
    expect(fake.calls().some((c) => c.includes('up'))).toBe(false);
  });

  it('refuses operations Compose has no notion of', async () => {
    const { fake, target } = setup();
    await expect(target.apply({ type: 'set-hpa-bounds', hpa: 'x', minReplicas: 3 })).rejects.toThrow(/no autoscaler bounds/);
    await expect(target.planStep({ operation: 'hpa-bounds' })).rejects.toThrow(/no autoscaler/);
    expect(fake.calls()).toEqual([]);
  });
});

describe('reconcile (after a crash) only reads', () => {
  it('applied, not-applied, diverged', async () => {
    const { fake, target } = setup();
    const op = { type: 'set-replicas' as const, replicas: 6, from: 3 };
    expect(await target.reconcile(op)).toEqual({ status: 'not-applied', state: { replicas: 3, readyReplicas: 3 } });
    fake.update((s) => (s.containers = containers(SERVICE, 6)));
    expect(await target.reconcile(op)).toMatchObject({ status: 'applied', state: { replicas: 6 } });
    fake.update((s) => (s.containers = containers(SERVICE, 5)));
    expect(await target.reconcile(op)).toEqual({ status: 'diverged', detail: `Compose service pdf-worker (${DIR}) has 5 containers: neither the 3 it had before nor the 6 requested` });
    expect(fake.calls()).toEqual([PS, PS, PS]);
  });
});

describe('waitForRollout', () => {
  it('passes once exactly N containers run and are healthy (new ones start, then turn healthy)', async () => {
    const { fake, target } = setup({ services: { [SERVICE]: { healthcheck: true, startMs: 100, healthyMs: 200 } } });
    const before = Date.now();
    await target.apply({ type: 'set-replicas', replicas: 6, from: 3 });
    const { passed, result } = await target.waitForRollout({ replicas: 6, atLeast: false }, inSeconds(5), never());
    expect(passed).toBe(true);
    // The new containers run after 100 ms and are healthy 200 ms later: not before.
    expect(Date.now() - before).toBeGreaterThanOrEqual(300);
    expect(result).toMatchObject({ ok: true, value: 6, threshold: 6, values: { containers: 6, running: 6, healthy: 6, unhealthy: 0, exited: 0 } });
    expect(result.summary).toMatch(/^6\/6 containers running and healthy after \d+ms$/);
    expect(result.source).toBe(`docker compose (${DIR})`);
    expect(fake.calls().filter((c) => c.includes('ps')).length).toBeGreaterThan(2);
  });

  it('a service without a healthcheck passes once its containers run', async () => {
    const { target } = setup({ services: { [SERVICE]: { startMs: 50 } } });
    await target.apply({ type: 'set-replicas', replicas: 4 });
    expect((await target.waitForRollout({ replicas: 4, atLeast: false }, inSeconds(5), never())).passed).toBe(true);
  });

  it('fails at the deadline naming the unhealthy and exited containers with their health and exit codes', async () => {
    const { target } = setup({ services: { [SERVICE]: { healthcheck: true, healthyMs: 50, unhealthy: [4], exit: { '5': 1 } } } });
    await target.apply({ type: 'set-replicas', replicas: 6, from: 3 });
    const { passed, result } = await target.waitForRollout({ replicas: 6, atLeast: false }, Date.now() + 600, never());
    expect(passed).toBe(false);
    expect(result.ok).toBe(false);
    expect(result.values).toEqual({ containers: 6, running: 5, healthy: 4, unhealthy: 1, exited: 1 });
    expect(result.summary).toMatch(/^stuck after \d+ms: 4\/6 running and healthy; 1 unhealthy \(up-pdf-worker-4\), 1 exited \(up-pdf-worker-5 exit code 1\)$/);
    expect(result.details).toEqual(['up-pdf-worker-4: running, unhealthy', 'up-pdf-worker-5: exited (exit code 1)']);
  });

  it('fails when the count is not the expected one, even if all are healthy', async () => {
    const { target } = setup();
    const { passed, result } = await target.waitForRollout({ replicas: 5, atLeast: false }, Date.now() + 300, never());
    expect(passed).toBe(false);
    expect(result.summary).toMatch(/3\/5 running and healthy, 3 containers where 5 were expected$/);
    expect((await target.waitForRollout({ replicas: 2, atLeast: true }, inSeconds(5), never())).passed).toBe(true);
  });

  it('shows containers still starting at the deadline', async () => {
    const { target } = setup({ services: { [SERVICE]: { healthcheck: true, healthyMs: 60_000 } } });
    await target.apply({ type: 'set-replicas', replicas: 4 });
    const { result } = await target.waitForRollout({ replicas: 4, atLeast: false }, Date.now() + 300, never());
    expect(result.summary).toContain('1 starting (up-pdf-worker-4)');
    expect(result.details).toEqual(['up-pdf-worker-4: running, health starting']);
  });

  it('stops at once when aborted, stopping a ps that hangs; never rejects', async () => {
    const { target } = setup({ hang: ['ps'] });
    const abort = new AbortController();
    const started = Date.now();
    const waiting = target.waitForRollout({ replicas: 3, atLeast: false }, inSeconds(60), abort.signal);
    setTimeout(() => abort.abort(), 200);
    const { passed, result } = await waiting;
    expect(passed).toBe(false);
    expect(result.ok).toBeUndefined();
    expect(result.summary).toBe('verification stopped (the bot is shutting down)');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('a ps that hangs is reported at the deadline, not waited for', async () => {
    const { target } = setup({ hang: ['ps'] }, { psTimeoutMs: 10_000 });
    const started = Date.now();
    const { passed, result } = await target.waitForRollout({ replicas: 3, atLeast: false }, Date.now() + 300, never());
    expect(passed).toBe(false);
    expect(result.summary).toMatch(/^stuck after .*: the containers could not be read \(`docker compose .* ps --all --format json pdf-worker` did not finish within 5s and was stopped\)$/);
    expect(Date.now() - started).toBeLessThan(7000);
  }, 15_000);

  it('keeps polling through failing ps calls and passes once they answer', async () => {
    const { fake, target } = setup({ daemon: 'down' });
    const waiting = target.waitForRollout({ replicas: 3, atLeast: false }, inSeconds(5), never());
    setTimeout(() => fake.update((s) => delete s.daemon), 150);
    expect((await waiting).passed).toBe(true);
  });
});

describe('probe compose.containers', () => {
  it('counts containers, running, healthy, unhealthy, exited', async () => {
    const { target } = setup({ services: { [SERVICE]: { healthcheck: true, unhealthy: [2], exit: { '3': 2 } } } });
    const r = await target.probe('compose.containers', 10);
    expect(r).toMatchObject({
      ok: false,
      value: 1,
      threshold: 3,
      values: { containers: 3, running: 2, healthy: 1, unhealthy: 1, exited: 1 },
      summary: '1/3 running and healthy; 1 unhealthy (up-pdf-worker-2), 1 exited (up-pdf-worker-3 exit code 2)',
      details: ['up-pdf-worker-2: running, unhealthy', 'up-pdf-worker-3: exited (exit code 2)'],
    });
    const healthy = setup();
    expect(await healthy.target.probe('compose.containers', 3)).toMatchObject({ ok: true, summary: '3/3 running and healthy', details: [] });
  });

  it('refuses other probe names and parameters, clearly', async () => {
    const { fake, target } = setup();
    await expect(target.probe('kubernetes.replicas', 3)).rejects.toThrow(`unknown probe "kubernetes.replicas" for Compose service pdf-worker (${DIR}); the Compose target answers compose.containers`);
    await expect(target.probe('compose.containers', 3, { service: 'x' })).rejects.toThrow('compose.containers takes no parameters (given: service)');
    expect(fake.calls()).toEqual([]);
  });
});

describe('failures', () => {
  it('a service Compose does not know: the command, exit code and stderr', async () => {
    const { target } = setup({ services: { backend: {} } });
    await expect(target.plan(4)).rejects.toThrow(`\`docker compose --project-directory ${DIR} ps --all --format json pdf-worker\` exited with code 1: no such service: pdf-worker`);
  });

  it('the daemon is not reachable', async () => {
    const { target } = setup({ fail: { up: 'daemon' } });
    await expect(target.apply({ type: 'set-replicas', replicas: 5, from: 3 })).rejects.toThrow(
      /`docker compose .* up -d --scale pdf-worker=5 --no-recreate --no-deps pdf-worker` exited with code 1: Cannot connect to the Docker daemon at unix:\/\/\/var\/run\/docker\.sock\. Is the docker daemon running\?$/,
    );
  });

  it('quotes only the last lines of stderr, and never a secret from the environment', async () => {
    const lines = Array.from({ length: 12 }, (_, k) => `line ${k + 1}`).join('\n');
    const { fake } = setup({ fail: { up: { code: 17, stderr: `${lines}\nauth failed with token xoxb-very-secret-1234` } } });
    const env = { ...fake.env, SLACK_BOT_TOKEN: 'xoxb-very-secret-1234' };
    const t = composeTarget({ 'project-dir': DIR, service: SERVICE }, { env });
    const error = await t.apply({ type: 'set-replicas', replicas: 5 }).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/exited with code 17: line 9 \| line 10 \| line 11 \| line 12 \| auth failed with token \*\*\*$/);
    expect((error as Error).message).not.toContain('xoxb-very-secret');
    expect((error as Error).message).not.toContain('FAKE_DOCKER_STATE');
  });

  it('docker missing from PATH', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'no-docker-'));
    try {
      const t = composeTarget({ 'project-dir': DIR, service: SERVICE }, { env: { PATH: empty } });
      await expect(t.plan(3)).rejects.toThrow(/^docker is not installed or not on PATH$/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('a hanging up is stopped at its timeout, with a hint that some containers may have changed', async () => {
    const { target } = setup({ hang: ['up'] }, { upTimeoutMs: 300 });
    const started = Date.now();
    await expect(target.apply({ type: 'set-replicas', replicas: 5, from: 3 })).rejects.toThrow(
      /up -d --scale pdf-worker=5 --no-recreate --no-deps pdf-worker` did not finish within 300ms and was stopped\. Compose may have started or removed some containers before it was stopped: `docker compose --project-directory \/srv\/up-schedule-generator ps --all --format json pdf-worker` shows where it got to$/,
    );
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('a command that ignores SIGTERM is killed after the grace period', async () => {
    // The timeout leaves the fake time to start and set up its SIGTERM handler.
    const { target } = setup({ hang: ['ps'], ignoreTerm: true }, { psTimeoutMs: 2000 });
    const started = Date.now();
    await expect(target.plan(5)).rejects.toThrow(/did not finish within 2s and was stopped/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000 + 3000);
  }, 15_000);

  it('output beyond the limit stops the command', async () => {
    const { target } = setup({ psFloodBytes: 200_000 }, { maxOutputBytes: 64 * 1024 });
    await expect(target.plan(5)).rejects.toThrow(/printed more than 65536 bytes and was stopped/);
  });

  it('output that is not JSON is reported, not guessed at', async () => {
    const { target } = setup({ psFloodBytes: 100 });
    await expect(target.plan(5)).rejects.toThrow(/could not read the output of docker compose ps as JSON/);
  });
});

describe('argument safety', () => {
  it.each([
    ['x;rm -rf /', /is not a service name/],
    ['-p', /must not start with "-"/],
    ['--project-name=evil', /must not start with "-"/],
    ['web\nup', /must not contain NUL or line breaks/],
    ['$(touch pwned)', /is not a service name/],
  ])('refuses the service name %j before running anything', (service, message) => {
    const { fake } = setup();
    expect(() => composeTarget({ 'project-dir': DIR, service }, { env: fake.env })).toThrow(message);
    expect(fake.calls()).toEqual([]);
  });

  it.each([
    [{ 'project-dir': '--help' }, /project-dir "--help" must not start with "-"/],
    [{ 'project-dir': '/srv/a\u0000b' }, /must not contain NUL or line breaks/],
    [{ file: '-f' }, /Compose file "-f" must not start with "-"/],
    [{ file: 'prod.yml\n--dry-run' }, /must not contain NUL or line breaks/],
    [{ 'project-dir': '' }, /must be a non-empty string/],
  ])('refuses the paths %j', (config, message) => {
    const { fake } = setup();
    expect(() => composeTarget({ 'project-dir': DIR, service: SERVICE, ...config }, { env: fake.env })).toThrow(message);
    expect(fake.calls()).toEqual([]);
  });

  it('refuses a docker executable that would be an option', () => {
    expect(() => composeTarget({ 'project-dir': DIR, service: SERVICE }, { docker: '--host=tcp://evil' })).toThrow(/docker executable "--host=tcp:\/\/evil" must not start with "-"/);
  });

  it('hands shell metacharacters in a path to docker as one argument, uninterpreted', async () => {
    const work = mkdtempSync(join(tmpdir(), 'compose-safety-'));
    const dir = join(work, "it's $(touch pwned) ; `touch pwned2` && echo");
    try {
      const { fake } = setup({ projectDir: dir });
      const t = composeTarget({ 'project-dir': dir, service: SERVICE }, { env: fake.env, baseDir: work });
      const plan = await t.plan(4);
      await t.apply(plan.operation);
      expect(fake.calls()[0]).toEqual(['compose', '--project-directory', dir, 'ps', '--all', '--format', 'json', SERVICE]);
      expect(fake.calls()[2]).toEqual(['compose', '--project-directory', dir, 'up', '-d', '--scale', 'pdf-worker=4', '--no-recreate', '--no-deps', SERVICE]);
      expect(plan.calls[0]).toBe(`docker compose --project-directory '${dir.replace("'", `'\\''`)}' up -d --scale pdf-worker=4 --no-recreate --no-deps pdf-worker`);
      for (const f of ['pwned', 'pwned2']) {
        expect(existsSync(join(work, f))).toBe(false);
        expect(existsSync(join(process.cwd(), f))).toBe(false);
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('the docker executable', () => {
  it('comes from SCALEBOT_DOCKER when set; the option wins over it', async () => {
    const { fake } = setup();
    // A PATH with node (the fake is a Node script) and no docker at all.
    const bin = mkdtempSync(join(tmpdir(), 'node-only-'));
    symlinkSync(process.execPath, join(bin, 'node'));
    try {
      const env = { ...fake.env, PATH: bin };
      await expect(composeTarget({ 'project-dir': DIR, service: SERVICE }, { env }).plan(3)).rejects.toThrow('docker is not installed or not on PATH');
      const viaEnv = composeTarget({ 'project-dir': DIR, service: SERVICE }, { env: { ...env, SCALEBOT_DOCKER: join(FAKE_DOCKER_DIR, 'docker') } });
      expect((await viaEnv.plan(3)).calls[0]).toBe(`${join(FAKE_DOCKER_DIR, 'docker')} compose --project-directory ${DIR} up -d --scale pdf-worker=3 --no-recreate --no-deps pdf-worker`);
      const viaOption = composeTarget({ 'project-dir': DIR, service: SERVICE }, { env: { ...env, SCALEBOT_DOCKER: '/nonexistent/docker' }, docker: join(FAKE_DOCKER_DIR, 'docker') });
      expect((await viaOption.plan(3)).before.replicas).toBe(3);
      const missing = composeTarget({ 'project-dir': DIR, service: SERVICE }, { env: { ...env, SCALEBOT_DOCKER: '/nonexistent/docker' } });
      await expect(missing.plan(3)).rejects.toThrow('/nonexistent/docker is not installed or not on PATH');
      expect(fake.calls()).toEqual([PS, PS]);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
