// A Docker Compose service as a scale target (seed 004): the runbook's
// `docker compose up -d --scale <service>=<n> --no-recreate`, run through the docker CLI with an
// argument array (never a shell), plus `--no-deps` so the services it depends on are left alone,
// and the service named so no other service is converged. The state is read with
// `docker compose ps --all --format json <service>`: the service's containers, whatever their
// state (Compose counts exited containers towards the scale too). Compose has no compare-and-set:
// `apply` reads the count just before it acts and refuses when it moved since the plan.
import { resolve as resolvePath } from 'node:path';
import type { Plan, ProbeResult, TargetOperation, TargetState } from '../../engine/run.ts';
import { systemClock, type Clock } from '../../ports/clock.port.ts';
import type { ApplyResult, RolloutExpectation, ScaleTarget } from '../../ports/scale-target.port.ts';
import { formatDuration } from '../../workflows/duration.ts';
import { countContainers, describeContainer, isReady, parsePs, problemSummary, type ComposeContainer } from './compose-ps.ts';
import { commandLine, runDocker, DockerStoppedError } from './docker-cli.ts';

/** The catalog's `target` for a Compose service (see dockerComposeTargetSchema). */
export interface ComposeTargetConfig {
  'project-dir': string;
  file?: string;
  service: string;
}

export interface ComposeTargetOptions {
  clock?: Clock;
  /** The docker executable: a name looked up on PATH, or a path. Default: $SCALEBOT_DOCKER, else "docker". */
  docker?: string;
  /** The environment docker runs with (PATH, DOCKER_HOST, …). Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** A relative project-dir is taken from here. Default: the working directory. */
  baseDir?: string;
  /** `docker compose ps` may take this long. Default 30 s. */
  psTimeoutMs?: number;
  /** `docker compose up` may take this long (it may pull an image). Default 5 min. */
  upTimeoutMs?: number;
  /** At most this much on stdout per command. Default 4 MiB. */
  maxOutputBytes?: number;
  /** While following a rollout, `ps` runs this often. Default 2 s. */
  pollMs?: number;
}

/** The probes this adapter answers (a runbook's `probe:` for a Compose service's target). */
export const COMPOSE_PROBES = ['compose.containers'] as const;

const SERVICE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;
const DEFAULTS = { psTimeoutMs: 30_000, upTimeoutMs: 300_000, maxOutputBytes: 4 * 1024 * 1024, pollMs: 2_000 };
/** After the deadline, the last look (what is stuck) may take this long. */
const DIAGNOSE_TIMEOUT_MS = 5_000;

/** A path or name that goes into docker's argument list: never empty, never an option, one line. */
function checkArgument(what: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw new Error(`${what} must be a non-empty string`);
  if (/[\0\r\n]/.test(value)) throw new Error(`${what} ${JSON.stringify(value)} must not contain NUL or line breaks`);
  if (value.startsWith('-')) throw new Error(`${what} ${JSON.stringify(value)} must not start with "-" (docker would read it as an option)`);
  return value;
}

export class ComposeTarget implements ScaleTarget {
  readonly service: string;
  /** Absolute: the command does not depend on the bot's working directory. */
  readonly projectDir: string;
  /** Absolute, taken from the project directory when relative. */
  readonly file?: string;
  readonly docker: string;
  private readonly clock: Clock;
  private readonly env: NodeJS.ProcessEnv;
  private readonly limits: typeof DEFAULTS;
  private readonly label: string;
  private readonly source: string;

  constructor(config: ComposeTargetConfig, opts: ComposeTargetOptions = {}) {
    const service = checkArgument('the Compose service name', config.service);
    if (!SERVICE_NAME.test(service)) throw new Error(`the Compose service name ${JSON.stringify(service)} is not a service name (letters, digits, "_", "." and "-", starting with a letter or digit)`);
    this.service = service;
    this.projectDir = resolvePath(opts.baseDir ?? process.cwd(), checkArgument('the Compose project-dir', config['project-dir']));
    if (config.file !== undefined) this.file = resolvePath(this.projectDir, checkArgument('the Compose file', config.file));
    this.env = opts.env ?? process.env;
    this.docker = checkArgument('the docker executable', opts.docker ?? this.env.SCALEBOT_DOCKER ?? 'docker');
    this.clock = opts.clock ?? systemClock;
    this.limits = {
      psTimeoutMs: opts.psTimeoutMs ?? DEFAULTS.psTimeoutMs,
      upTimeoutMs: opts.upTimeoutMs ?? DEFAULTS.upTimeoutMs,
      maxOutputBytes: opts.maxOutputBytes ?? DEFAULTS.maxOutputBytes,
      pollMs: opts.pollMs ?? DEFAULTS.pollMs,
    };
    this.label = `Compose service ${service} (${config['project-dir']})`;
    this.source = `docker compose (${this.projectDir})`;
  }

  private compose(...rest: string[]): string[] {
    return ['compose', '--project-directory', this.projectDir, ...(this.file ? ['-f', this.file] : []), ...rest];
  }

  /** `docker compose … up -d --scale <service>=<n> --no-recreate --no-deps <service>` */
  upArgs(replicas: number): string[] {
    return this.compose('up', '-d', '--scale', `${this.service}=${replicas}`, '--no-recreate', '--no-deps', this.service);
  }

  /** `docker compose … ps --all --format json <service>` */
  psArgs(): string[] {
    return this.compose('ps', '--all', '--format', 'json', this.service);
  }

  /** The service's containers (one-off `run` containers left out). */
  private async ps(signal?: AbortSignal, timeoutMs = this.limits.psTimeoutMs): Promise<ComposeContainer[]> {
    const { stdout } = await runDocker(this.docker, this.psArgs(), { timeoutMs, maxOutputBytes: this.limits.maxOutputBytes, env: this.env, signal });
    return parsePs(stdout, this.service);
  }

  private async state(): Promise<{ containers: ComposeContainer[]; state: TargetState }> {
    const containers = await this.ps();
    return { containers, state: stateOf(containers) };
  }

  private result(partial: Omit<ProbeResult, 'source' | 'at'>): ProbeResult {
    return { ...partial, source: this.source, at: this.clock.now() };
  }

  async plan(replicas: number): Promise<Plan> {
    checkReplicas(replicas);
    const { containers, state: before } = await this.state();
    const current = before.replicas;
    const notes = [
      `--no-deps leaves the services ${this.service} depends on alone; --no-recreate keeps its running containers as they are${replicas < current ? '; Compose chooses which containers to stop and remove' : ''}.`,
    ];
    const problems = problemSummary(containers);
    if (problems) notes.push(`Now: ${problems}.`);
    return {
      summary: `Scale ${this.label} ${current} → ${replicas} container${replicas === 1 ? '' : 's'}`,
      note: notes.join(' '),
      calls: [commandLine(this.docker, this.upArgs(replicas))],
      operation: { type: 'set-replicas', replicas, from: current },
      undo: { type: 'set-replicas', replicas: current, from: replicas },
      before,
      expect: { replicas, atLeast: false },
      undoExpect: { replicas: current, atLeast: false },
      changes: replicas !== current,
    };
  }

  /** HPA bounds and scale-down policies (`hpa-bounds`, `hpa-scale-down`) are Kubernetes things. */
  async planStep(request: { operation: string }): Promise<never> {
    throw new Error(`${this.label} has no autoscaler: ${request.operation} is a Kubernetes operation; a Compose service is scaled by its container count (the scale action)`);
  }

  /**
   * Reads the count, refuses if it moved since the plan (`from`), runs `up --scale`, reads again.
   * A service already at the requested count counts as applied: nothing runs.
   */
  async apply(operation: TargetOperation): Promise<ApplyResult> {
    if (operation.type !== 'set-replicas') throw new Error(`${this.label} has no autoscaler bounds (${operation.type}): a Compose service is scaled by its container count only`);
    checkReplicas(operation.replicas);
    const { state: now } = await this.state();
    const before = { replicas: operation.from ?? now.replicas, readyReplicas: now.readyReplicas };
    if (now.replicas === operation.replicas) return { before, after: now };
    if (operation.from !== undefined && now.replicas !== operation.from) {
      throw new Error(`${this.label} changed since the plan was made: it has ${now.replicas} containers, the plan expected ${operation.from}. Nothing was changed; request again so the checks and approval see the current state`);
    }
    try {
      await runDocker(this.docker, this.upArgs(operation.replicas), { timeoutMs: this.limits.upTimeoutMs, maxOutputBytes: this.limits.maxOutputBytes, env: this.env });
    } catch (error) {
      if (error instanceof DockerStoppedError && error.timedOut) {
        throw new Error(`${error.message}. Compose may have started or removed some containers before it was stopped: \`${commandLine(this.docker, this.psArgs())}\` shows where it got to`);
      }
      throw error;
    }
    // The change is made; a failed read-back must not report it as failed.
    const after = await this.state().then((s) => s.state, () => ({ replicas: operation.replicas, readyReplicas: 0 }));
    return { before, after };
  }

  async reconcile(operation: TargetOperation): ReturnType<ScaleTarget['reconcile']> {
    if (operation.type !== 'set-replicas') return { status: 'diverged', detail: `${this.label} has no autoscaler bounds; ${operation.type} does not apply to it` };
    const { state } = await this.state();
    if (state.replicas === operation.replicas) return { status: 'applied', state };
    if (operation.from === undefined || state.replicas === operation.from) return { status: 'not-applied', state };
    return { status: 'diverged', detail: `${this.label} has ${state.replicas} containers: neither the ${operation.from} it had before nor the ${operation.replicas} requested` };
  }

  /** `compose.containers`: how many containers the service has and how they are doing. No parameters. */
  async probe(probe: string, _replicas: number, params: Record<string, unknown> = {}): Promise<ProbeResult> {
    if (!(COMPOSE_PROBES as readonly string[]).includes(probe)) {
      throw new Error(`unknown probe "${probe}" for ${this.label}; the Compose target answers ${COMPOSE_PROBES.join(', ')}`);
    }
    const given = Object.keys(params ?? {});
    if (given.length) throw new Error(`${probe} takes no parameters (given: ${given.join(', ')})`);
    const containers = await this.ps();
    const counts = countContainers(containers);
    const problems = problemSummary(containers);
    return this.result({
      ok: counts.containers > 0 && counts.healthy === counts.containers,
      value: counts.healthy,
      threshold: counts.containers,
      values: { ...counts },
      summary: counts.containers === 0 ? `${this.service} has no containers` : `${counts.healthy}/${counts.containers} running and healthy${problems ? `; ${problems}` : ''}`,
      details: containers.filter((c) => !isReady(c)).map(describeContainer),
    });
  }

  /**
   * Runs `ps` every pollMs until the service has exactly the expected number of containers (at
   * least, with `atLeast`), all running and healthy (running, without a healthcheck), or the
   * deadline passes: then one last look says which containers are unhealthy, exited or starting.
   * Resolves, never rejects; stops early (and stops a running `ps`) when `signal` aborts.
   */
  waitForRollout(expect: RolloutExpectation, deadline: number, signal: AbortSignal): Promise<{ passed: boolean; result: ProbeResult }> {
    const startedAt = this.clock.now();
    const want = `${expect.atLeast ? '≥' : ''}${expect.replicas}`;
    return new Promise((resolve) => {
      let settled = false;
      let ending = false;
      let pollTimer: NodeJS.Timeout | undefined;
      let inflight: AbortController | undefined;
      let lastError: string | undefined;

      const finish = (passed: boolean, result: ProbeResult) => {
        if (settled) return;
        settled = true;
        cancelDeadline();
        if (pollTimer) clearTimeout(pollTimer);
        inflight?.abort();
        signal.removeEventListener('abort', onAbort);
        resolve({ passed, result });
      };

      const passedWith = (containers: ComposeContainer[]) => {
        const counts = countContainers(containers);
        finish(true, this.result({
          ok: true,
          value: counts.healthy,
          threshold: expect.replicas,
          values: { ...counts },
          summary: `${counts.healthy}/${want} containers running and healthy after ${formatDuration(this.clock.now() - startedAt)}`,
        }));
      };

      const poll = async () => {
        pollTimer = undefined;
        if (settled || ending) return;
        inflight = new AbortController();
        try {
          const containers = await this.ps(inflight.signal);
          lastError = undefined;
          if (!settled && !ending && rolledOut(containers, expect)) return passedWith(containers);
        } catch (error) {
          lastError = (error as Error).message;
        } finally {
          inflight = undefined;
        }
        if (!settled && !ending) pollTimer = setTimeout(() => void poll(), this.limits.pollMs);
      };

      const onTimeout = async () => {
        if (settled || ending) return;
        ending = true;
        if (pollTimer) clearTimeout(pollTimer);
        inflight?.abort();
        const look = new AbortController();
        const stopLook = () => look.abort();
        signal.addEventListener('abort', stopLook);
        const containers = await this.ps(look.signal, DIAGNOSE_TIMEOUT_MS).catch((error: Error) => {
          lastError = error.message;
          return undefined;
        });
        signal.removeEventListener('abort', stopLook);
        if (settled) return;
        if (containers && rolledOut(containers, expect)) return passedWith(containers);
        const elapsed = formatDuration(this.clock.now() - startedAt);
        if (!containers) {
          finish(false, this.result({ ok: false, threshold: expect.replicas, summary: `stuck after ${elapsed}: the containers could not be read (${lastError ?? 'no answer'})` }));
          return;
        }
        const counts = countContainers(containers);
        const problems = problemSummary(containers);
        const count = expect.atLeast ? counts.containers >= expect.replicas : counts.containers === expect.replicas;
        finish(false, this.result({
          ok: false,
          value: counts.healthy,
          threshold: expect.replicas,
          values: { ...counts },
          summary: `stuck after ${elapsed}: ${counts.healthy}/${want} running and healthy${count ? '' : `, ${counts.containers} container${counts.containers === 1 ? '' : 's'} where ${want} ${expect.replicas === 1 && !expect.atLeast ? 'was' : 'were'} expected`}${problems ? `; ${problems}` : ''}`,
          details: containers.filter((c) => !isReady(c)).map(describeContainer),
        }));
      };

      const onAbort = () => finish(false, this.result({ ok: undefined, summary: 'verification stopped (the bot is shutting down)' }));
      if (signal.aborted) {
        resolve({ passed: false, result: this.result({ ok: undefined, summary: 'verification stopped (the bot is shutting down)' }) });
        return;
      }
      signal.addEventListener('abort', onAbort);
      const cancelDeadline = this.clock.at(deadline, () => void onTimeout());
      void poll();
    });
  }
}

function checkReplicas(replicas: number): void {
  if (!Number.isSafeInteger(replicas) || replicas < 0) throw new Error(`a container count must be a whole number of 0 or more (got ${replicas})`);
}

/** Replicas are the service's containers, whatever their state; ready ones are running and healthy. */
function stateOf(containers: readonly ComposeContainer[]): TargetState {
  return { replicas: containers.length, readyReplicas: containers.filter(isReady).length };
}

function rolledOut(containers: readonly ComposeContainer[], expect: RolloutExpectation): boolean {
  const n = containers.length;
  const count = expect.atLeast ? n >= expect.replicas : n === expect.replicas;
  return count && containers.every(isReady);
}
