// Test side of the fake `docker` (the executable next to this file): writes its state file, gives
// the environment that puts it first on PATH, and reads back every argv it received.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder holding the fake `docker` executable. */
export const FAKE_DOCKER_DIR = dirname(fileURLToPath(import.meta.url));

export type FakeFailure = 'no-such-service' | 'daemon' | { code: number; stderr: string };

export interface FakeService {
  healthcheck?: boolean;
  /** created → running after this long. */
  startMs?: number;
  /** With a healthcheck: starting → healthy this long after it runs. */
  healthyMs?: number;
  /** Container numbers whose health ends "unhealthy". */
  unhealthy?: number[];
  /** Container number → exit code: exited once started. */
  exit?: Record<string, number>;
  image?: string;
}

export interface FakeContainer {
  service: string;
  number: number;
  createdAt: number;
  oneoff?: boolean;
}

export interface FakeDockerState {
  /** When set, --project-directory must be exactly this. */
  projectDir?: string;
  /** When set, -f must be exactly this (and is required). */
  file?: string;
  project: string;
  /** JSON Lines (Compose ≥ 2.21) or one JSON array (before). */
  format?: 'lines' | 'array';
  services: Record<string, FakeService>;
  containers: FakeContainer[];
  daemon?: 'down';
  fail?: { up?: FakeFailure; ps?: FakeFailure };
  hang?: ('up' | 'ps')[];
  /** A hanging command ignores SIGTERM (only SIGKILL stops it). */
  ignoreTerm?: boolean;
  upDelayMs?: number;
  /** `ps` prints this many bytes of garbage. */
  psFloodBytes?: number;
}

export interface FakeDocker {
  dir: string;
  statePath: string;
  /** The environment for the adapter: the fake first on PATH, its state file named. */
  env: NodeJS.ProcessEnv;
  state(): FakeDockerState;
  setState(state: FakeDockerState): void;
  update(fn: (state: FakeDockerState) => void): void;
  /** Every argv the fake received, in order. */
  calls(): string[][];
  cleanup(): void;
}

/** `n` running containers of `service`, numbered 1..n, created long ago (started and healthy). */
export function containers(service: string, n: number, createdAt = 0): FakeContainer[] {
  return Array.from({ length: n }, (_, k) => ({ service, number: k + 1, createdAt }));
}

export function startFakeDocker(initial: FakeDockerState): FakeDocker {
  const dir = mkdtempSync(join(tmpdir(), 'fake-docker-'));
  const statePath = join(dir, 'state.json');
  const callsPath = join(dir, 'calls.jsonl');
  const write = (s: FakeDockerState) => writeFileSync(statePath, JSON.stringify(s, null, 2));
  write(initial);
  const state = () => JSON.parse(readFileSync(statePath, 'utf8')) as FakeDockerState;
  return {
    dir,
    statePath,
    env: { ...process.env, PATH: `${FAKE_DOCKER_DIR}:${process.env.PATH ?? ''}`, FAKE_DOCKER_STATE: statePath, FAKE_DOCKER_CALLS: callsPath, SCALEBOT_DOCKER: undefined },
    state,
    setState: write,
    update(fn) {
      const s = state();
      fn(s);
      write(s);
    },
    calls: () => (existsSync(callsPath) ? readFileSync(callsPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as string[]) : []),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
