/**
 * The Dockerfile, checked without a Docker engine: it is parsed into stages and instructions and
 * the properties that matter in production are asserted (base image, non-root user, production
 * dependencies only, the msgpackr stub before `npm ci`, node started directly under an init, every
 * file the runtime needs copied). Also .dockerignore, and that deploy/kubernetes/deployment.yaml
 * fits the image (user id, port, a writable /tmp for tsx's cache under a read-only root filesystem).
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join, posix } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

interface Instruction {
  keyword: string;
  /** The rest of the line, continuations joined. */
  args: string;
  line: number;
}
interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** Dockerfile → stages. Handles comments, `\` continuations and parser directives. */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  let buffer = '';
  let startLine = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const trimmed = raw.trim();
    if (!buffer && (trimmed === '' || trimmed.startsWith('#'))) continue;
    if (buffer && trimmed.startsWith('#')) continue; // comment lines inside a continuation
    if (!buffer) startLine = i + 1;
    if (trimmed.endsWith('\\')) {
      buffer += `${trimmed.slice(0, -1)} `;
      continue;
    }
    const full = (buffer + trimmed).trim();
    buffer = '';
    const m = /^(\S+)\s*(.*)$/.exec(full)!;
    const instruction = { keyword: m[1]!.toUpperCase(), args: m[2]!, line: startLine };
    if (instruction.keyword === 'FROM') {
      const parts = instruction.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      stages.push({ from: parts[0]!, name: /^as$/i.test(parts[1] ?? '') ? parts[2] : undefined, instructions: [] });
    } else {
      if (!stages.length) {
        if (instruction.keyword === 'ARG') continue;
        throw new Error(`line ${startLine}: ${instruction.keyword} before the first FROM`);
      }
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return stages;
}

/** `["a", "b"]` → argv; shell form → undefined. */
function execForm(args: string): string[] | undefined {
  if (!args.trim().startsWith('[')) return undefined;
  return JSON.parse(args) as string[];
}

interface Copy {
  from?: string;
  sources: string[];
  dest: string;
  line: number;
}
function copies(stage: Stage): Copy[] {
  return stage.instructions
    .filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')
    .map((i) => {
      const words = execForm(i.args) ?? i.args.split(/\s+/).filter(Boolean);
      const flags = words.filter((w) => w.startsWith('--'));
      const paths = words.filter((w) => !w.startsWith('--'));
      const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
      return { from, sources: paths.slice(0, -1), dest: paths.at(-1)!, line: i.line };
    });
}

function workdirAt(stage: Stage, line: number): string {
  let dir = '/';
  for (const i of stage.instructions) {
    if (i.line > line) break;
    if (i.keyword === 'WORKDIR') dir = posix.resolve(dir, i.args.trim());
  }
  return dir;
}

/** Expands `package*.json`-style globs against the repository root. */
function expandContextSource(source: string): string[] {
  const clean = source.replace(/^\.\//, '').replace(/\/+$/, '');
  if (!clean.includes('*')) return [clean];
  const re = new RegExp(`^${clean.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
  return readdirSync(ROOT).filter((f) => re.test(f));
}

/**
 * Absolute paths in the image that a stage's COPY instructions create (top level of each copy).
 * Docker semantics: a directory source copies its CONTENT into dest (so `COPY src/ ./` would flatten
 * it into the workdir and create no `src`); a file source goes into dest/ when dest ends with `/` or
 * there are several sources, else becomes dest.
 */
function copiedPaths(stage: Stage): Map<string, Copy> {
  const out = new Map<string, Copy>();
  for (const c of copies(stage)) {
    const workdir = workdirAt(stage, c.line);
    const destDir = posix.resolve(workdir, c.dest);
    const destIsDir = c.dest.endsWith('/') || c.dest === '.' || c.sources.length > 1;
    for (const source of c.sources) {
      for (const s of c.from ? [source.replace(/\/+$/, '')] : expandContextSource(source)) {
        const isDir = c.from ? !/\.[a-z]+$/i.test(s) : existsSync(join(ROOT, s)) && statSync(join(ROOT, s)).isDirectory();
        out.set(isDir ? destDir : destIsDir ? posix.join(destDir, basename(s)) : destDir, c);
      }
    }
  }
  return out;
}

const dockerfileText = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const stages = parseDockerfile(dockerfileText);
const final = stages.at(-1)!;
const finalOf = (keyword: string) => final.instructions.filter((i) => i.keyword === keyword);
const npmInstalls = (stage: Stage) =>
  stage.instructions.filter((i) => i.keyword === 'RUN' && /\bnpm\s+(ci|install|i|add)\b/.test(i.args));

describe('Dockerfile', () => {
  it('is multi-stage, and the final stage is node:20-slim', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(final.from).toMatch(/^node:20-slim(@sha256:[0-9a-f]{64})?$/);
    for (const s of stages) expect(s.from, 'every stage on the same Node 20 bookworm base').toMatch(/^node:20-slim(@sha256:[0-9a-f]{64})?$/);
  });

  it('runs as a non-root, numeric user in the final stage', () => {
    const users = finalOf('USER');
    expect(users.length).toBeGreaterThan(0);
    const user = users.at(-1)!.args.trim();
    const [uid, gid] = user.split(':');
    expect(uid).not.toMatch(/^(root|0)$/);
    if (gid !== undefined) expect(gid).not.toMatch(/^(root|0)$/);
    // Kubernetes' runAsNonRoot can only verify a numeric user.
    expect(uid).toMatch(/^\d+$/);
    // Nothing runs after USER that would need root (package installs, chown).
    const userLine = users.at(-1)!.line;
    expect(final.instructions.filter((i) => i.keyword === 'RUN' && i.line > userLine)).toEqual([]);
  });

  it('installs production dependencies only, from the lockfile', () => {
    const installs = stages.flatMap((s) => npmInstalls(s).map((i) => ({ stage: s.name ?? s.from, ...i })));
    expect(installs.length).toBeGreaterThan(0);
    for (const i of installs) {
      expect(i.args, `line ${i.line}: npm ci, not npm install`).toMatch(/\bnpm\s+ci\b/);
      expect(i.args, `line ${i.line}`).toMatch(/--omit=dev\b/);
    }
    // The final stage gets node_modules only from a stage that installed with --omit=dev.
    const nodeModules = copies(final).filter((c) => c.sources.some((s) => /node_modules/.test(s)));
    expect(nodeModules.length).toBe(1);
    const source = stages.find((s) => s.name === nodeModules[0]!.from);
    expect(source, 'node_modules is copied from a named build stage, never from the build context').toBeDefined();
    expect(npmInstalls(source!).length).toBeGreaterThan(0);
    for (const i of npmInstalls(source!)) expect(i.args).toMatch(/--omit=dev\b/);
    for (const s of [source!, final]) {
      const env = s.instructions.filter((i) => i.keyword === 'ENV').map((i) => i.args).join(' ');
      expect(env).not.toMatch(/NODE_ENV=(development|dev|test)/);
    }
  });

  it('copies package.json, package-lock.json and vendor/ before npm ci (the msgpackr-extract override needs the stub)', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { overrides?: Record<string, string> };
    const fileOverrides = Object.values(pkg.overrides ?? {}).filter((v) => v.startsWith('file:'));
    expect(fileOverrides).toContain('file:./vendor/msgpackr-extract-stub');
    for (const stage of stages) {
      for (const install of npmInstalls(stage)) {
        const before = new Set([...copiedPaths({ ...stage, instructions: stage.instructions.filter((i) => i.line < install.line) }).keys()]);
        const workdir = workdirAt(stage, install.line);
        for (const needed of ['package.json', 'package-lock.json', 'vendor']) {
          expect(before.has(posix.join(workdir, needed)), `${needed} is copied to ${workdir} before line ${install.line}`).toBe(true);
        }
      }
    }
  });

  it('copies every file the runtime needs into the final stage, in its WORKDIR', () => {
    const workdir = workdirAt(final, Number.MAX_SAFE_INTEGER);
    const present = copiedPaths(final);
    // vendor/ too: node_modules/msgpackr-extract is a symlink to ../vendor/msgpackr-extract-stub.
    for (const needed of ['src', 'commands', 'workflows', 'package.json', 'package-lock.json', 'vendor', 'tsconfig.json', 'node_modules']) {
      expect(present.has(posix.join(workdir, needed)), `${needed} in ${workdir}; copied: ${[...present.keys()].join(', ')}`).toBe(true);
      if (needed !== 'node_modules') expect(existsSync(join(ROOT, needed)), `${needed} exists in the repository`).toBe(true);
    }
    // package.json's "type": "module" is what makes the .ts sources ESM.
    expect((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { type?: string }).type).toBe('module');
    // Never tests, git history or a host node_modules.
    for (const p of present.keys()) expect(p).not.toMatch(/\/(test|\.git)(\/|$)/);
  });

  it('starts node directly with --import tsx src/main.ts, under an init that forwards SIGTERM', () => {
    const entrypoint = finalOf('ENTRYPOINT').at(-1);
    const cmd = finalOf('CMD').at(-1);
    expect(cmd).toBeDefined();
    // Exec form only: a shell form would make /bin/sh PID 1, and sh does not pass SIGTERM on.
    const entryArgv = entrypoint ? execForm(entrypoint.args) : [];
    const cmdArgv = execForm(cmd!.args);
    expect(entryArgv, 'ENTRYPOINT in exec form').toBeDefined();
    expect(cmdArgv, 'CMD in exec form').toBeDefined();
    const argv = [...entryArgv!, ...cmdArgv!];
    const node = argv.indexOf('node');
    expect(node).toBeGreaterThanOrEqual(0);
    expect(argv.slice(node)).toEqual(['node', '--import', 'tsx', 'src/main.ts']);
    expect(argv).not.toContain('npm');
    // What comes before node is an init (tini or dumb-init), installed in the final stage.
    const init = argv.slice(0, node);
    expect(init[0]).toMatch(/(^|\/)(tini|dumb-init)$/);
    const initName = basename(init[0]!);
    const installed = final.instructions.some((i) => i.keyword === 'RUN' && new RegExp(`apt-get install[^&;]*\\b${initName}\\b`).test(i.args))
      || copies(final).some((c) => c.sources.some((s) => s.includes(initName)));
    expect(installed, `${initName} is installed in the final stage`).toBe(true);
    // tsx must be a production dependency for `--import tsx` to resolve with --omit=dev.
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(pkg.dependencies.tsx).toBeDefined();
    expect(existsSync(join(ROOT, 'src', 'main.ts'))).toBe(true);
  });

  it('exposes port 3000 and does not bake in configuration or credentials', () => {
    expect(finalOf('EXPOSE').map((i) => i.args.trim())).toContain('3000');
    const env = stages.flatMap((s) => s.instructions.filter((i) => i.keyword === 'ENV' || i.keyword === 'ARG')).map((i) => i.args).join(' ');
    expect(env).not.toMatch(/KUBECONFIG|SLACK_|REDIS_URL|TOKEN|SECRET/);
  });

  it('has a parseable HEALTHCHECK on /healthz, if any', () => {
    for (const h of finalOf('HEALTHCHECK')) {
      const argv = execForm(h.args.replace(/^(--\S+\s+)*CMD\s+/, ''));
      expect(argv, 'HEALTHCHECK CMD in exec form').toBeDefined();
      expect(argv!.join(' ')).toContain('/healthz');
    }
  });
});

// ---------------------------------------------------------------------------------------------

/** .dockerignore semantics, enough for the patterns used there (`**`, `*`, `!`). */
function dockerignored(patterns: string[], path: string): boolean {
  let ignored = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const p = posix.normalize((negate ? raw.slice(1) : raw).replace(/^\/+/, '')).replace(/\/+$/, '');
    const re = new RegExp(`^${p.split('/').map((seg) => (seg === '**' ? '(?:.*)' : seg.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]'))).join('/').replace('(?:.*)/', '(?:.*/)?')}(?:/.*)?$`);
    if (re.test(path)) ignored = !negate;
  }
  return ignored;
}

describe('.dockerignore', () => {
  const patterns = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  it('keeps node_modules, .git, tests and local secrets out of the build context', () => {
    for (const path of ['node_modules', 'node_modules/yaml/package.json', 'vendor/msgpackr-extract-stub/node_modules/x', '.git', '.git/HEAD', 'test', 'test/fixtures/catalogs/evil/catalog.yml', 'test/servers/kube-api-server.ts', '.env', 'coverage', 'dist']) {
      expect(dockerignored(patterns, path), path).toBe(true);
    }
  });

  it('sends everything the Dockerfile copies', () => {
    const sources = stages.flatMap((s) => copies(s).filter((c) => !c.from).flatMap((c) => c.sources.flatMap(expandContextSource)));
    expect(sources.length).toBeGreaterThan(0);
    for (const s of sources) {
      expect(dockerignored(patterns, s), `${s} is excluded by .dockerignore`).toBe(false);
    }
    for (const path of ['src/main.ts', 'commands/index.ts', 'workflows/scale-up.yml', 'vendor/msgpackr-extract-stub/index.js', 'vendor/msgpackr-extract-stub/package.json']) {
      expect(dockerignored(patterns, path), path).toBe(false);
    }
  });
});

// ---------------------------------------------------------------------------------------------

interface Container {
  name: string;
  ports?: { containerPort: number }[];
  env?: { name: string; value?: string }[];
  securityContext?: { readOnlyRootFilesystem?: boolean; runAsNonRoot?: boolean; allowPrivilegeEscalation?: boolean; capabilities?: { drop?: string[] } };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  readinessProbe?: { httpGet?: { path: string } };
  livenessProbe?: { httpGet?: { path: string } };
  command?: string[];
  args?: string[];
}
interface PodSpec {
  securityContext?: { runAsUser?: number; runAsNonRoot?: boolean };
  containers: Container[];
  volumes?: { name: string; emptyDir?: object; configMap?: { name: string; items?: { key: string; path: string }[] } }[];
}

describe('deploy/kubernetes/deployment.yaml runs this image as built', () => {
  const docs = parseAllDocuments(readFileSync(join(ROOT, 'deploy', 'kubernetes', 'deployment.yaml'), 'utf8')).map((d) => d.toJS() as { kind: string; spec: { template: { spec: PodSpec } } });
  const pod = docs.find((d) => d.kind === 'Deployment')!.spec.template.spec;
  const container = pod.containers[0]!;

  it('uses the image user, port and entrypoint', () => {
    const uid = Number(finalOf('USER').at(-1)!.args.trim().split(':')[0]);
    expect(pod.securityContext?.runAsUser).toBe(uid);
    expect(container.ports?.map((p) => p.containerPort)).toContain(3000);
    // The image's ENTRYPOINT/CMD (tini → node) must not be overridden by something that drops signals.
    expect(container.command).toBeUndefined();
    expect(container.args).toBeUndefined();
  });

  it('gives tsx a writable /tmp on the read-only root filesystem (tsx exits with EACCES/EROFS without its cache dir)', () => {
    expect(container.securityContext?.readOnlyRootFilesystem).toBe(true);
    const tmp = container.volumeMounts?.find((m) => m.mountPath === '/tmp');
    expect(tmp).toBeDefined();
    expect(pod.volumes?.find((v) => v.name === tmp!.name)?.emptyDir).toBeDefined();
  });

  it('points SCALEBOT_CONFIG at the mounted catalog and leaves KUBECONFIG unset (in-cluster config)', () => {
    const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]));
    expect(env).not.toHaveProperty('KUBECONFIG');
    const path = env.SCALEBOT_CONFIG!;
    const mount = container.volumeMounts!.find((m) => path.startsWith(`${m.mountPath}/`))!;
    expect(mount).toBeDefined();
    const volume = pod.volumes!.find((v) => v.name === mount.name)!;
    const key = path.slice(mount.mountPath.length + 1);
    expect(volume.configMap?.items?.some((i) => i.path === key) ?? true).toBe(true);
  });
});
