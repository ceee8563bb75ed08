import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { validatePaths } from '../../src/cli/validate.ts';
import { BUILTIN_WORKFLOWS } from '../../src/config/paths.ts';
import { formatProblem, parseYamlText, type Problem } from '../../src/config/problems.ts';
import { runbookSchema } from '../../src/workflows/runbook-schema.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = join(ROOT, 'test/fixtures');
const fixture = (...parts: string[]) => join(FIXTURES, ...parts);

/** For each bad fixture: the dotted path of one problem it must give, and a fragment of its message. */
const EXPECTED: Record<string, Record<string, [path: string, message: string]>> = {
  'catalogs/malformed': {
    'min-above-max.yml': ['services.api-gateway.limits.min', 'min (60) is above max (50)'],
    'baseline-outside-limits.yml': ['services.api-gateway.limits.baseline', 'baseline (80) must be within min..max (3..50)'],
    'unknown-field.yml': ['services.api-gateway.limit', 'unknown field "limit"; expected one of: description, target, limits,'],
    'replicas-as-strings.yml': ['services.api-gateway.limits.min', 'expected a number, got "3"'],
    'bad-channel.yml': ['channel', '"infrastructure" is not accepted; expected a channel ID (C…) or #name'],
    'uppercase-service-name.yml': ['services.Api-Gateway', 'service name'],
    'too-few-approvers.yml': ['services.api-gateway.approvals.required', '3 approvals are required but only 1 approver is listed'],
    'unknown-runbook.yml': ['services.api-gateway.runbooks.up', 'no runbook named "scale-sideways"; known: scale-down, scale-up'],
    'shared-target.yml': ['services.gateway-copy.target', 'the same target as service "api-gateway"'],
    'not-yaml.yml': ['', 'not valid YAML'],
    'empty.yml': ['', 'the file is empty: neither a catalog (has `services`) nor a runbook (has `phases`)'],
  },
  'catalogs/evil': {
    'alias-bomb.yml': ['', 'aliases (*name) expand into too much data'],
    'huge.yml': ['', 'at most 1048576 are accepted'],
    'deeply-nested.yml': ['', 'at most 32 levels are accepted'],
    'proto-keys.yml': ['services.__proto__', '"__proto__" is not accepted as a key'],
    'huge-number.yml': ['services.api-gateway.limits.max', 'expected a number, got a number too large to represent'],
  },
  'runbooks/malformed': {
    'unknown-step-kind.yml': ['phases.pre-scale.0.kind', '"prayer" is not accepted; expected one of: check, manual, approval, action, wait, verify, notify'],
    'wrong-phase.yml': ['phases.pre-scale.0.kind', 'an action step cannot be in the pre-scale phase; expected one of: check, manual'],
    'duplicate-step-ids.yml': ['phases.pre-scale.1.id', 'duplicate step id "check"'],
    'two-approvals.yml': ['phases.approve', 'exactly one approval step'],
    'no-execute.yml': ['phases.execute', 'the execute phase needs at least one action step'],
    'bad-duration.yml': ['phases.approve.0.expires', '"10 minutes" is not a duration; expected a whole number and a unit'],
    'unknown-probe.yml': ['phases.pre-scale.0.probe', '"kubernetes.vibes" is not accepted; expected one of: request.limits,'],
    'missing-title.yml': ['phases.approve.0.title', 'missing; expected a string'],
    'forward-reference.yml': ['phases.pre-scale.0.pass', 'unknown name "recheck.cpu_max_pct": not a value of this probe, a run value or a check measured before this step'],
    'sibling-reference.yml': ['phases.pre-scale.1.pass', 'unknown name "queue.waiting"'],
    'unreachable-scale-down.yml': ['direction', 'a runbook with a scale-down phase must say direction: down'],
    'wait-forever.yml': ['phases.execute.1.timeout', 'a wait with an until condition needs a timeout'],
    'misspelt-value.yml': ['phases.pre-scale.0.pass', 'unknown name "wating"'],
    'wrong-types.yml': ['phases.execute.0.gradual', 'true is not accepted; expected "halve-distance"'],
  },
  'runbooks/evil': {
    'alias-bomb.yml': ['', 'aliases (*name) expand into too much data'],
    'huge.yml': ['', 'at most 1048576 are accepted'],
    'expires-overflow.yml': ['phases.approve.0.expires', '"99999999d" is too long; at most 7d is accepted'],
    'long-title.yml': ['phases.approve.0.title', 'too long (10000 characters); at most 150 accepted'],
    'proto-step.yml': ['phases.approve.0.__proto__', '"__proto__" is not accepted as a key'],
    'expression-injection.yml': ['phases.pre-scale.0.pass', 'is not allowed; allowed functions: ceil, floor, round, abs, min, max, clamp, pow, sqrt, log'],
    'target-require.yml': ['target', 'is not allowed; allowed functions'],
    'prototype-name.yml': ['phases.pre-scale.0.pass', 'unknown name "queue.__proto__"'],
  },
};

const yamlFiles = (dir: string) => readdirSync(fixture(dir)).filter((f) => /\.ya?ml$/.test(f)).sort();

describe('validatePaths: valid fixtures', () => {
  for (const dir of ['catalogs/valid', 'runbooks/valid']) {
    for (const name of yamlFiles(dir)) {
      it(`${dir}/${name} has no problems`, () => {
        const file = fixture(dir, name);
        const { checked, problems } = validatePaths([file]);
        expect(problems.map(formatProblem)).toEqual([]);
        expect(checked).toContain(file);
      });
    }
  }

  it('the valid folders together, with the built-in runbooks, have no problems', () => {
    const { checked, problems } = validatePaths([fixture('catalogs/valid'), fixture('runbooks/valid')]);
    expect(problems.map(formatProblem)).toEqual([]);
    expect(checked.length).toBeGreaterThanOrEqual(4);
  });
});

describe('validatePaths: malformed and evil fixtures', () => {
  for (const [dir, expected] of Object.entries(EXPECTED)) {
    it(`${dir}: every fixture has an expectation`, () => {
      expect(yamlFiles(dir)).toEqual(Object.keys(expected).sort());
    });
    for (const [name, [path, fragment]] of Object.entries(expected)) {
      it(`${dir}/${name}: ${path || '(top level)'}: …${fragment}…`, () => {
        const file = fixture(dir, name);
        let result: { problems: Problem[] } | undefined;
        expect(() => (result = validatePaths([file]))).not.toThrow();
        const problems = result!.problems;
        expect(problems.length).toBeGreaterThan(0);
        for (const problem of problems) {
          expect(problem.file).toBe(file);
          // A problem inside the document points at its line.
          if (problem.path) expect(problem.line, formatProblem(problem)).toBeTypeOf('number');
        }
        const match = problems.find((p) => p.path === path && p.message.includes(fragment));
        expect(match, `wanted ${path}: …${fragment}… in\n${problems.map(formatProblem).join('\n')}`).toBeDefined();
      });
    }
  }

  it('__proto__ keys neither pollute prototypes nor vanish silently', () => {
    const { problems } = validatePaths([fixture('catalogs/evil/proto-keys.yml')]);
    expect(problems.map((p) => p.path).sort()).toEqual(['__proto__', 'services.__proto__', 'services.api-gateway.__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });

  it('a whole malformed folder: one or more problems per file, in file order', () => {
    const { checked, problems } = validatePaths([fixture('catalogs/malformed')]);
    const files = yamlFiles('catalogs/malformed').map((f) => fixture('catalogs/malformed', f));
    for (const file of files) expect(checked).toContain(file);
    expect(new Set(problems.map((p) => p.file))).toEqual(new Set(files));
    const order = problems.map((p) => checked.indexOf(p.file));
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });
});

describe('validatePaths: paths and cross-checks', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'scalebot-validate-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const file = join(tmp, name);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    return file;
  };
  const catalogNaming = (runbook: string) => `channel: C0INFRA
services:
  api-gateway:
    target: { kind: kubernetes, namespace: prod, deployment: api-gateway }
    limits: { min: 3, max: 50 }
    runbooks: { up: ${runbook} }
`;

  it('a path that does not exist is a problem, not a crash', () => {
    const missing = join(tmp, 'does-not-exist');
    const { checked, problems } = validatePaths([missing]);
    expect(checked).toEqual([]);
    expect(problems).toEqual([{ file: missing, path: '', message: expect.stringContaining('no such file or folder') }]);
  });

  it('a folder without YAML files is a problem', () => {
    mkdirSync(join(tmp, 'empty-folder'));
    const { problems } = validatePaths([join(tmp, 'empty-folder')]);
    expect(problems[0]?.message).toContain('no .yml or .yaml files');
  });

  it('a file that is neither a catalog nor a runbook says so', () => {
    const file = write('other.yaml', 'jobs: { build: { runs-on: ubuntu-latest } }\n');
    const { problems } = validatePaths([file]);
    expect(problems).toEqual([expect.objectContaining({ file, path: '', message: 'neither a catalog (has `services`) nor a runbook (has `phases`)' })]);
  });

  it('a catalog may name a runbook given among the paths', () => {
    const catalog = write('named/catalog.yml', catalogNaming('minimal'));
    expect(validatePaths([catalog]).problems.map((p) => p.path)).toEqual(['services.api-gateway.runbooks.up']);
    expect(validatePaths([catalog, fixture('runbooks/valid/minimal.yml')]).problems).toEqual([]);
  });

  it('a catalog loads a workflows/ folder beside it, and its problems are reported', () => {
    const catalog = write('beside/catalog.yml', catalogNaming('custom'));
    const custom = write('beside/workflows/custom.yml', '# A custom runbook.\n' + readFixture('runbooks/valid/minimal.yml').replace('name: minimal', 'name: custom'));
    const first = validatePaths([catalog]);
    expect(first.problems).toEqual([]);
    expect(first.checked).toContain(custom);
    expect(first.checked).toContain(join(BUILTIN_WORKFLOWS, 'scale-up.yml').replace(`${process.cwd()}/`, ''));
    const broken = write('beside/workflows/broken.yml', 'name: broken\nphases: {}\n');
    const withBroken = validatePaths([catalog]).problems;
    expect(withBroken.every((p) => p.file === broken)).toBe(true);
    expect(withBroken).toContainEqual(expect.objectContaining({ path: 'phases.approve', message: 'missing; expected a list' }));
    rmSync(broken);
    const clash = write('beside/workflows/clash.yml', readFixture('runbooks/valid/minimal.yml').replace('name: minimal', 'name: scale-up'));
    expect(validatePaths([catalog]).problems).toEqual([
      expect.objectContaining({ file: clash, path: 'name', line: 2, message: expect.stringContaining('a runbook named "scale-up" is already defined in') }),
    ]);
  });

  it('a folder of catalog folders (examples/): each catalog is checked against its own workflows/ only', () => {
    const custom = readFixture('runbooks/valid/minimal.yml').replace('name: minimal', 'name: custom');
    write('many/a/catalog.yml', catalogNaming('custom'));
    write('many/a/workflows/custom.yml', custom);
    const b = write('many/b/catalog.yml', catalogNaming('custom'));
    write('many/b/workflows/custom.yml', custom);
    // Two folders may use the same runbook name, as two bots with these catalogs would.
    expect(validatePaths([join(tmp, 'many')]).problems).toEqual([]);
    // A catalog cannot lean on another folder's runbook: the bot would not load it.
    rmSync(join(tmp, 'many/b/workflows'), { recursive: true });
    expect(validatePaths([join(tmp, 'many')]).problems).toEqual([
      expect.objectContaining({ file: b, path: 'services.api-gateway.runbooks.up', message: expect.stringContaining('no runbook named "custom"') }),
    ]);
  });

  it('two runbooks with the same name among the paths are a problem', () => {
    const { problems } = validatePaths([fixture('runbooks/valid'), BUILTIN_WORKFLOWS]);
    expect(problems).toEqual([
      expect.objectContaining({ path: 'name', message: `a runbook named "scale-up" is already defined in ${fixture('runbooks/valid/scale-up.yml')}; names must be unique` }),
    ]);
  });

  it('nesting is bounded even where the YAML reader copes', () => {
    const text = `name: deep\ndescription: ${'['.repeat(40)}${']'.repeat(40)}\nphases: {}\n`;
    const parsed = parseYamlText('deep.yml', text, runbookSchema);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.problems).toEqual([expect.objectContaining({ line: 2, message: 'nested more than 32 levels deep; at most 32 are accepted' })]);
  });

  it('durations have a ceiling per field', () => {
    const runbook = (approval: string, verify: string) =>
      readFixture('runbooks/valid/minimal.yml').replace('kind: approval }', `kind: approval, expires: ${approval} }`) +
      `  verify:\n    - { id: rollout, title: Rollout, kind: verify, probe: kubernetes.rollout, timeout: ${verify} }\n`;
    expect(parseYamlText('ok.yml', runbook('7d', '24h'), runbookSchema).ok).toBe(true);
    const parsed = parseYamlText('long.yml', runbook('8d', '1441m'), runbookSchema);
    expect(parsed.ok ? [] : parsed.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      'phases.approve.0.expires: "8d" is too long; at most 7d is accepted',
      'phases.verify.0.timeout: "1441m" is too long; at most 24h is accepted',
    ]);
  });
});

function readFixture(name: string): string {
  return readFileSync(fixture(name), 'utf8');
}

describe('the scalebot CLI', () => {
  const run = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
      execFile(process.execPath, [join(ROOT, 'bin/scalebot.js'), ...args], { cwd: ROOT, timeout: 15_000 }, (error, stdout, stderr) => {
        done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
      });
    });

  it('validate on valid catalogs and the built-in runbooks exits 0', async () => {
    const { code, stdout, stderr } = await run('validate', 'test/fixtures/catalogs/valid', 'workflows');
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toBe('4 files checked, 0 problems\n');
  });

  it('validate on a malformed folder exits 1 and lists file:line: path: message', async () => {
    const { code, stdout } = await run('validate', 'test/fixtures/catalogs/malformed');
    expect(code).toBe(1);
    const lines = stdout.trim().split('\n');
    expect(lines).toContain('test/fixtures/catalogs/malformed/min-above-max.yml:5: services.api-gateway.limits.min: min (60) is above max (50)');
    expect(lines).toContain(
      'test/fixtures/catalogs/malformed/unknown-field.yml:5: services.api-gateway.limit: unknown field "limit"; expected one of: description, target, limits, approvals, requesters, channel, runbooks, params, sources, scale-down-after, databases, peak-windows',
    );
    for (const line of lines.slice(0, -1)) expect(line).toMatch(/^test\/fixtures\/catalogs\/malformed\/[a-z-]+\.yml(:\d+)?: (\(top level\)|\S+): .+/);
    // The eleven fixtures, and the built-in scale-up runbook the catalogs are checked against.
    expect(lines.at(-1)).toMatch(/^13 files checked, \d+ problems$/);
  });

  it('validate on a path that does not exist exits 1 and says so', async () => {
    const { code, stdout } = await run('validate', 'does-not-exist');
    expect(code).toBe(1);
    expect(stdout).toContain('does-not-exist: (top level): no such file or folder');
    expect(stdout).toContain('0 files checked, 1 problem');
  });

  it('an unknown command exits 2 with the usage on stderr', async () => {
    const { code, stdout, stderr } = await run('frobnicate');
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('unknown command "frobnicate"');
    expect(stderr).toContain('Usage:');
    expect(stderr).toContain('scalebot validate <file-or-dir>');
  });

  it('help prints the usage and exits 0', async () => {
    const { code, stdout } = await run('--help');
    expect(code).toBe(0);
    expect(stdout).toContain('scalebot validate <file-or-dir>');
  });
});
