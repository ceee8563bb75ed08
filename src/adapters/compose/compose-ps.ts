// Reading `docker compose ps --all --format json`. Compose v2 before 2.21 prints one JSON array;
// from 2.21 on it prints one JSON object per line (JSON Lines), and nothing at all when no
// container matches. Both are read. Fields used: Name, Service, State, Health, ExitCode, Labels.
// `--all` lists one-off containers (`docker compose run`) too; they are not part of the service's
// scale and are left out (label com.docker.compose.oneoff=True, or a "-run-<id>" name).

/** One container of the service, as `ps` reported it. */
export interface ComposeContainer {
  name: string;
  service: string;
  /** created | running | paused | restarting | removing | exited | dead */
  state: string;
  /** '' when the service has no healthcheck; else starting | healthy | unhealthy. */
  health: string;
  exitCode: number;
}

/** The counts a runbook reads from `compose.containers` and the rollout. */
export interface ContainerCounts {
  containers: number;
  running: number;
  /** Running and healthy, or running without a healthcheck: serving. */
  healthy: number;
  unhealthy: number;
  exited: number;
}

type Row = Record<string, unknown>;

function rowsOf(stdout: string): Row[] {
  const text = stdout.trim();
  if (text === '') return [];
  if (text.startsWith('[')) {
    const parsed: unknown = JSON.parse(text);
    if (!Array.isArray(parsed)) throw new Error('expected a JSON array');
    return parsed as Row[];
  }
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as Row);
}

function isOneOff(row: Row, name: string): boolean {
  const labels = row.Labels;
  if (typeof labels === 'string' && /(^|,)com\.docker\.compose\.oneoff=True(,|$)/.test(labels)) return true;
  if (labels && typeof labels === 'object' && (labels as Record<string, unknown>)['com.docker.compose.oneoff'] === 'True') return true;
  return /-run-[0-9a-f]{12}$/.test(name);
}

/** The containers of `service` in `ps` output (either format), one-off containers left out, sorted by name. */
export function parsePs(stdout: string, service: string): ComposeContainer[] {
  let rows: Row[];
  try {
    rows = rowsOf(stdout);
  } catch (error) {
    throw new Error(`could not read the output of docker compose ps as JSON (${(error as Error).message}); it began: ${JSON.stringify(stdout.trim().slice(0, 80))}`);
  }
  const containers: ComposeContainer[] = [];
  for (const row of rows) {
    if (!row || typeof row !== 'object') throw new Error('could not read the output of docker compose ps: an entry is not an object');
    const name = typeof row.Name === 'string' ? row.Name : Array.isArray(row.Names) && typeof row.Names[0] === 'string' ? row.Names[0] : typeof row.ID === 'string' ? row.ID.slice(0, 12) : '?';
    if (typeof row.State !== 'string') throw new Error(`could not read the output of docker compose ps: container ${name} has no State`);
    if (typeof row.Service === 'string' && row.Service !== service) continue;
    if (isOneOff(row, name)) continue;
    const health = typeof row.Health === 'string' && row.Health !== 'none' ? row.Health : '';
    containers.push({ name, service, state: row.State.toLowerCase(), health: health.toLowerCase(), exitCode: typeof row.ExitCode === 'number' ? row.ExitCode : Number(row.ExitCode ?? 0) || 0 });
  }
  return containers.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
}

/** Serving: running, and healthy when it has a healthcheck. */
export function isReady(c: ComposeContainer): boolean {
  return c.state === 'running' && (c.health === '' || c.health === 'healthy');
}

export function isExited(c: ComposeContainer): boolean {
  return c.state === 'exited' || c.state === 'dead';
}

export function countContainers(containers: readonly ComposeContainer[]): ContainerCounts {
  return {
    containers: containers.length,
    running: containers.filter((c) => c.state === 'running').length,
    healthy: containers.filter(isReady).length,
    unhealthy: containers.filter((c) => c.state === 'running' && c.health === 'unhealthy').length,
    exited: containers.filter(isExited).length,
  };
}

/** How one container is doing, for people: "running, unhealthy", "exited (exit code 1)". */
export function describeContainer(c: ComposeContainer): string {
  if (isExited(c)) return `${c.name}: ${c.state} (exit code ${c.exitCode})`;
  if (c.state === 'running') return `${c.name}: running, ${c.health === '' ? 'no healthcheck' : c.health === 'starting' ? 'health starting' : c.health}`;
  return `${c.name}: ${c.state}`;
}

/** At most this many containers are named per kind in a summary line; the details list them all. */
const NAMED = 5;

function named(list: readonly ComposeContainer[], show: (c: ComposeContainer) => string): string {
  const shown = list.slice(0, NAMED).map(show).join(', ');
  return list.length > NAMED ? `${shown} and ${list.length - NAMED} more` : shown;
}

/** "2 unhealthy (app-web-3, app-web-4), 1 exited (app-web-5 exit code 1), 1 starting (app-web-6)". */
export function problemSummary(containers: readonly ComposeContainer[]): string {
  const unhealthy = containers.filter((c) => c.state === 'running' && c.health === 'unhealthy');
  const exited = containers.filter(isExited);
  const starting = containers.filter((c) => c.state === 'running' && c.health === 'starting');
  const other = containers.filter((c) => c.state !== 'running' && !isExited(c));
  const parts: string[] = [];
  if (unhealthy.length) parts.push(`${unhealthy.length} unhealthy (${named(unhealthy, (c) => c.name)})`);
  if (exited.length) parts.push(`${exited.length} exited (${named(exited, (c) => `${c.name} exit code ${c.exitCode}`)})`);
  if (starting.length) parts.push(`${starting.length} starting (${named(starting, (c) => c.name)})`);
  if (other.length) parts.push(`${other.length} not running (${named(other, (c) => `${c.name} ${c.state}`)})`);
  return parts.join(', ');
}
