// Runs the docker CLI: an argument array handed to the executable directly (never a shell), bounded
// in time and in output. A failure names the command line, the exit code and the last lines docker
// printed on stderr; the environment is never printed, and values of secret-looking variables are
// scrubbed from what is quoted.
import { spawn } from 'node:child_process';
import { formatDuration } from '../../workflows/duration.ts';

export interface DockerRunOptions {
  /** The command is stopped (SIGTERM to its process group, SIGKILL after a grace) after this long. */
  timeoutMs: number;
  /** More than this on stdout stops the command. Only the tail of stderr is kept. */
  maxOutputBytes: number;
  env?: NodeJS.ProcessEnv;
  /** Aborting stops the command; the promise rejects with a DockerStoppedError. */
  signal?: AbortSignal;
}

export interface DockerOutput {
  stdout: string;
  stderr: string;
}

/** docker ran and said no (non-zero exit), or could not be run. */
export class DockerCommandError extends Error {
  constructor(
    message: string,
    readonly commandLine: string,
    readonly exitCode?: number,
  ) {
    super(message);
  }
}

/** The command was stopped: by its timeout (`timedOut`) or because the caller aborted. */
export class DockerStoppedError extends DockerCommandError {
  constructor(message: string, commandLine: string, readonly timedOut: boolean) {
    super(message, commandLine);
  }
}

/** After SIGTERM, a command that is still running this long later is killed. */
const KILL_GRACE_MS = 3_000;
/** How much of stderr is kept (its tail), whatever it prints. */
const STDERR_TAIL_BYTES = 64 * 1024;
/** Lines of stderr quoted in an error, and how long each may be. */
const ERROR_LINES = 5;
const ERROR_LINE_CHARS = 300;

/** Quotes one argument for display as a POSIX shell would need it (the command never goes through one). */
function quoteArg(arg: string): string {
  if (arg !== '' && /^[\w@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** The command line people read (and could paste into a shell): `docker compose … up -d …`. */
export function commandLine(bin: string, args: readonly string[]): string {
  return [bin, ...args].map(quoteArg).join(' ');
}

const SECRET_NAME = /SECRET|TOKEN|PASSW(OR)?D|PASS$|API_?KEY|PRIVATE|CREDENTIAL|AUTH/i;
const MIN_SECRET_CHARS = 6;

/** Replaces values of secret-looking environment variables (SLACK_BOT_TOKEN, DB_PASSWORD, …). */
export function scrubSecrets(text: string, env: NodeJS.ProcessEnv): string {
  let out = text;
  for (const [name, value] of Object.entries(env)) {
    if (value && value.length >= MIN_SECRET_CHARS && SECRET_NAME.test(name)) out = out.replaceAll(value, '***');
  }
  return out;
}

/** The last meaningful lines of stderr, without terminal colours, one line each. */
export function lastLines(stderr: string, env: NodeJS.ProcessEnv = {}): string[] {
  // eslint-disable-next-line no-control-regex
  const plain = stderr.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '\n');
  return scrubSecrets(plain, env)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .slice(-ERROR_LINES)
    .map((l) => (l.length > ERROR_LINE_CHARS ? `${l.slice(0, ERROR_LINE_CHARS)}…` : l));
}

/**
 * Runs `bin args…` and resolves with its output when it exits 0. Rejects with a DockerCommandError:
 * "<bin> is not installed or not on PATH" when the executable is not found, the exit code and the
 * last lines of stderr when it fails, a DockerStoppedError when it ran out of time or was aborted.
 */
export function runDocker(bin: string, args: readonly string[], opts: DockerRunOptions): Promise<DockerOutput> {
  const shown = commandLine(bin, args);
  const env = opts.env ?? process.env;
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new DockerStoppedError(`\`${shown}\` was not started: stopped before it ran`, shown, false));
      return;
    }
    // Its own process group, so a stop reaches the compose plugin docker runs as a child as well.
    const child = spawn(bin, [...args], { env, shell: false, stdio: ['ignore', 'pipe', 'pipe'], detached: true, windowsHide: true });
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderrTail = Buffer.alloc(0);
    let stopped: { reason: 'timeout' | 'output' | 'abort' } | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let settled = false;

    const signalGroup = (sig: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        try {
          child.kill(sig);
        } catch {
          // already gone
        }
      }
    };
    const stop = (reason: 'timeout' | 'output' | 'abort') => {
      if (stopped || settled) return;
      stopped = { reason };
      signalGroup('SIGTERM');
      killTimer = setTimeout(() => signalGroup('SIGKILL'), KILL_GRACE_MS);
    };
    const timer = setTimeout(() => stop('timeout'), opts.timeoutMs);
    const onAbort = () => stop('abort');
    opts.signal?.addEventListener('abort', onAbort);

    const done = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      fn();
    };

    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > opts.maxOutputBytes) {
        stop('output');
        return;
      }
      stdout.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderrTail = Buffer.concat([stderrTail, chunk]);
      if (stderrTail.length > STDERR_TAIL_BYTES) stderrTail = stderrTail.subarray(stderrTail.length - STDERR_TAIL_BYTES);
    });

    child.on('error', (error: NodeJS.ErrnoException) => {
      done(() => {
        if (error.code === 'ENOENT') reject(new DockerCommandError(`${bin} is not installed or not on PATH`, shown));
        else if (error.code === 'EACCES') reject(new DockerCommandError(`${bin} cannot be run (permission denied)`, shown));
        else reject(new DockerCommandError(`\`${shown}\` could not be started: ${error.message}`, shown));
      });
    });

    child.on('close', (code, sig) => {
      done(() => {
        const stderr = stderrTail.toString('utf8');
        const tail = lastLines(stderr, env);
        const said = tail.length ? `: ${tail.join(' | ')}` : '';
        if (stopped?.reason === 'timeout') {
          reject(new DockerStoppedError(`\`${shown}\` did not finish within ${formatDuration(opts.timeoutMs)} and was stopped${said}`, shown, true));
        } else if (stopped?.reason === 'abort') {
          reject(new DockerStoppedError(`\`${shown}\` was stopped before it finished`, shown, false));
        } else if (stopped?.reason === 'output') {
          reject(new DockerCommandError(`\`${shown}\` printed more than ${opts.maxOutputBytes} bytes and was stopped`, shown));
        } else if (code !== 0) {
          const how = code === null ? `was killed by ${sig ?? 'a signal'}` : `exited with code ${code}`;
          reject(new DockerCommandError(`\`${shown}\` ${how}${said || ' (nothing on stderr)'}`, shown, code ?? undefined));
        } else {
          resolve({ stdout: Buffer.concat(stdout).toString('utf8'), stderr });
        }
      });
    });
  });
}
