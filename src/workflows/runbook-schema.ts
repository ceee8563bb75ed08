// The runbook vocabulary: a runbook is data (YAML in workflows/), validated by this schema at load.
// The engine interprets it; adding a step kind means adding it here and in the engine, never a
// special case for one service. README "Writing runbooks" documents it; `npx scalebot schema`
// prints it as JSON Schema for editors.
import { z } from 'zod';
import { parseDuration } from './duration.ts';
import { parseExpression, referencedNames, type Expr } from './expression.ts';
import { PROBE_NAMES, PROBES, probeInfo, scopeName, type ProbeName } from './probe-catalog.ts';
import { PROBE_PARAMS } from '../adapters/probes/params.ts';

const stepId = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,47}$/, 'a step id: lower-case letters, digits and dashes, starting with a letter (max 48)');

/** A duration with a ceiling: "never expires" is not a policy, and timers past it are pointless. */
const duration = (max: string) =>
  z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    const shown = JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
    if (ms === undefined && !/^\s*\d+(ms|s|m|h|d)\s*$/.test(text)) {
      ctx.addIssue({ code: 'custom', message: `${shown} is not a duration; expected a whole number and a unit (ms, s, m, h, d), e.g. 30s, 10m, 2h` });
      return z.NEVER;
    }
    if (ms === undefined || ms > parseDuration(max)!) {
      ctx.addIssue({ code: 'custom', message: `${shown} is too long; at most ${max} is accepted` });
      return z.NEVER;
    }
    return ms;
  });

/** A formula or condition (see expression.ts): parsed at load, so a runbook with a broken one never starts. */
const expression = z
  .string()
  .max(500)
  .transform((text, ctx): Expr => {
    const parsed = parseExpression(text);
    if (!parsed.ok) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text)}: ${parsed.error}` });
      return z.NEVER;
    }
    return parsed.expr;
  });

const slackIds = z.array(z.string().regex(/^[US][A-Z0-9]{2,}$/, 'a Slack user ID (U…) or user-group ID (S…)')).max(20);
const probeName = z.enum(PROBE_NAMES as [ProbeName, ...ProbeName[]]);
/** Probe parameters; each probe checks its own at measurement and says what it accepts. */
const probeParams = z.record(z.string().regex(/^[a-z][a-z0-9_]{0,31}$/, 'a parameter name'), z.union([z.string().max(4000), z.number(), z.boolean()])).optional();
const onFailure = z.enum(['offer-rollback', 'rollback', 'stop']);

const base = { id: stepId, title: z.string().min(1).max(150) };

export const checkStepSchema = z.strictObject({
  ...base,
  kind: z.literal('check'),
  probe: probeName,
  with: probeParams,
  /** A condition on the probe's values (and the run's): "waiting < 100". The probe's own verdict when absent. */
  pass: expression.optional(),
  severity: z.enum(['block', 'warn']).default('block'),
  /** What a source that cannot be measured means: block the run, or only warn. The severity when absent. */
  'if-unmeasured': z.enum(['block', 'warn']).optional(),
});

export const manualStepSchema = z.strictObject({
  ...base,
  kind: z.literal('manual'),
  /** Who may tick it (user or user-group IDs); anyone when absent. */
  who: slackIds.optional(),
});

export const approvalStepSchema = z.strictObject({
  ...base,
  kind: z.literal('approval'),
  /** Defaults come from the service's `approvals` in the catalog; these override them. */
  required: z.number().int().min(1).max(5).optional(),
  expires: duration('7d').default(30 * 60_000),
});

/** What an action step can do. `scale` moves the service to the run's target; the rest change one named thing. */
export const ACTION_OPERATIONS = ['scale', 'hpa-bounds', 'hpa-scale-down', 'database-capacity', 'add-reader', 'remove-reader', 'instance-class'] as const;
export type ActionOperation = (typeof ACTION_OPERATIONS)[number];
const DATABASE_OPERATIONS: readonly ActionOperation[] = ['database-capacity', 'add-reader', 'remove-reader', 'instance-class'];

export const actionStepSchema = z.strictObject({
  ...base,
  kind: z.literal('action'),
  operation: z.enum(ACTION_OPERATIONS),
  /** In a scale-down phase: each round goes halfway from the current replicas to the target. */
  gradual: z.enum(['halve-distance']).optional(),
  /** hpa-bounds (replicas) and database-capacity (ACU): the new floor and ceiling; what is there stays when absent. */
  min: expression.optional(),
  max: expression.optional(),
  /** hpa-scale-down: false disables the HPA's scale-down (behavior.scaleDown.selectPolicy: Disabled) around an event; true restores it. */
  enabled: z.boolean().optional(),
  /** Database operations: one of the service's `databases` in the catalog. */
  database: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'a database name from the service\'s `databases` in the catalog').optional(),
  /** remove-reader and instance-class: the instance; add-reader: the new reader's id (generated when absent). */
  instance: z.string().regex(/^[a-zA-Z][a-zA-Z0-9-]{0,62}$/, 'a DB instance identifier').optional(),
  /** instance-class (and add-reader, default db.serverless): e.g. db.r6g.xlarge. */
  class: z.string().regex(/^db\.[a-z0-9]+(\.[a-z0-9]+)*$/, 'a DB instance class such as db.serverless or db.r6g.large').optional(),
});

export const waitStepSchema = z.strictObject({
  ...base,
  kind: z.literal('wait'),
  /** A fixed wait ("10m"), shown on the card with its countdown. */
  duration: duration('24h').optional(),
  /** Or: until a condition holds, measured every `interval`, for at most `timeout`. */
  until: z.strictObject({ probe: probeName, with: probeParams, pass: expression }).optional(),
  timeout: duration('24h').optional(),
  interval: duration('1h').default(30_000),
  'on-timeout': z.enum(['continue', 'fail']).default('fail'),
});

export const verifyStepSchema = z.strictObject({
  ...base,
  kind: z.literal('verify'),
  probe: probeName,
  with: probeParams,
  pass: expression.optional(),
  /** A stabilisation window: wait this long after the change before the first measurement. */
  settle: duration('24h').default(0),
  /** Measure again every `interval` until it passes, for at most `timeout`. */
  timeout: duration('24h').default(10 * 60_000),
  interval: duration('1h').default(30_000),
  /** block (default): a failure follows on-failure; warn: it is reported and the run goes on. */
  severity: z.enum(['block', 'warn']).default('block'),
  'on-failure': onFailure.optional(),
});

export const notifyStepSchema = z.strictObject({
  ...base,
  kind: z.literal('notify'),
  /** The message; {service}, {replicas}, {current}, {requester}, {run} are filled in. */
  text: z.string().min(1).max(1000),
  to: z.enum(['thread', 'channel']).default('thread'),
  mention: slackIds.optional(),
});

export const stepSchema = z.discriminatedUnion('kind', [
  checkStepSchema,
  manualStepSchema,
  approvalStepSchema,
  actionStepSchema,
  waitStepSchema,
  verifyStepSchema,
  notifyStepSchema,
]);

/** Which step kinds each phase may hold. */
export const PHASE_KINDS = {
  'pre-scale': ['check', 'manual', 'notify'],
  approve: ['approval'],
  execute: ['action', 'wait', 'notify'],
  'scale-down': ['action', 'wait', 'check', 'notify'],
  verify: ['verify', 'wait', 'notify'],
} as const satisfies Record<string, readonly Step['kind'][]>;
export type PhaseName = keyof typeof PHASE_KINDS;
export const PHASES = Object.keys(PHASE_KINDS) as PhaseName[];
/** The phases after approval, in the order they run, one step at a time. */
export const SEQUENTIAL_PHASES = ['execute', 'scale-down', 'verify'] as const;
export type SequentialPhase = (typeof SEQUENTIAL_PHASES)[number];

/** Names every expression may read besides step values. */
const RUN_NAMES: Record<string, readonly string[] | 'any'> = {
  replicas: [],
  current: [],
  limits: ['min', 'max', 'baseline'],
  service: 'any', // the catalog's params; checked against each service that uses the runbook
};

export const runbookSchema = z
  .strictObject({
    name: z.string().regex(/^[a-z][a-z0-9-]{0,47}$/, 'a runbook name: lower-case letters, digits and dashes, starting with a letter (max 48)'),
    description: z.string().max(500).optional(),
    direction: z.enum(['up', 'down', 'any']).default('any'),
    /** How the target replicas are computed when the request gives none: "clamp(ceil(queue.waiting / 50), limits.min, limits.max)". */
    target: expression.optional(),
    /** What a failed verification does, unless the step says otherwise. */
    'on-failure': onFailure.default('offer-rollback'),
    /** Who is mentioned when a run stops and alerts (user or user-group IDs). */
    alert: slackIds.optional(),
    phases: z.strictObject({
      'pre-scale': z.array(stepSchema).max(40).default([]),
      approve: z.array(stepSchema).length(1, 'the approve phase holds exactly one approval step'),
      execute: z.array(stepSchema).max(20).default([]),
      'scale-down': z.array(stepSchema).max(20).default([]),
      verify: z.array(stepSchema).max(20).default([]),
    }),
  })
  .superRefine((runbook, ctx) => {
    const seen = new Set<string>();
    for (const phase of PHASES) {
      const allowed: readonly string[] = PHASE_KINDS[phase];
      runbook.phases[phase].forEach((step, index) => {
        if (!allowed.includes(step.kind)) {
          ctx.addIssue({
            code: 'custom',
            path: ['phases', phase, index, 'kind'],
            message: `${step.kind === 'approval' || step.kind === 'action' ? 'an' : 'a'} ${step.kind} step cannot be in the ${phase} phase; expected one of: ${allowed.join(', ')}`,
          });
        }
        if (seen.has(step.id)) ctx.addIssue({ code: 'custom', path: ['phases', phase, index, 'id'], message: `duplicate step id "${step.id}"` });
        seen.add(step.id);
      });
    }
    shapeProblems(runbook, ctx);
    referenceProblems(runbook, ctx);
  });

type Ctx = z.RefinementCtx;

/** Rules on the runbook's shape that one step alone cannot see. */
function shapeProblems(runbook: Runbook, ctx: Ctx): void {
  const { execute } = runbook.phases;
  const down = runbook.phases['scale-down'];
  const actions = (steps: Step[]) => steps.filter((s) => s.kind === 'action');
  if (down.length === 0 && actions(execute).length === 0) {
    ctx.addIssue({ code: 'custom', path: ['phases', 'execute'], message: 'the execute phase needs at least one action step (or use a scale-down phase for a gradual scale-down)' });
  }
  if (down.length > 0) {
    if (execute.length > 0) ctx.addIssue({ code: 'custom', path: ['phases', 'execute'], message: 'a runbook has either an execute phase or a scale-down phase, not both' });
    if (runbook.direction !== 'down') ctx.addIssue({ code: 'custom', path: ['direction'], message: 'a runbook with a scale-down phase must say direction: down' });
    const gradual = actions(down);
    if (gradual.length !== 1 || gradual[0]!.kind !== 'action' || !gradual[0]!.gradual) {
      ctx.addIssue({ code: 'custom', path: ['phases', 'scale-down'], message: 'the scale-down phase holds exactly one action step, with gradual: halve-distance' });
    }
    const rollbacks = [runbook['on-failure'], ...runbook.phases.verify.map((s) => (s.kind === 'verify' ? s['on-failure'] : undefined))];
    if (rollbacks.some((f) => f === 'rollback' || f === 'offer-rollback')) {
      ctx.addIssue({ code: 'custom', path: ['on-failure'], message: 'a gradual scale-down stops and alerts when something fails (on-failure: stop); undoing it is a scale-up, requested as such' });
    }
  }
  for (const phase of ['execute', 'verify'] as const) {
    runbook.phases[phase].forEach((step, index) => {
      if (step.kind === 'action' && step.gradual) ctx.addIssue({ code: 'custom', path: ['phases', phase, index, 'gradual'], message: 'gradual steps belong in a scale-down phase' });
    });
  }
  for (const phase of PHASES) {
    runbook.phases[phase].forEach((step, index) => {
      const at = ['phases', phase, index];
      if (step.kind === 'action') actionProblems(step, phase, at, ctx);
      if (step.kind === 'wait') {
        if ((step.duration === undefined) === (step.until === undefined)) ctx.addIssue({ code: 'custom', path: at, message: 'a wait step has either a duration ("10m") or an until condition with a timeout' });
        if (step.until && step.timeout === undefined) ctx.addIssue({ code: 'custom', path: [...at, 'timeout'], message: 'a wait with an until condition needs a timeout: what happens if it never holds?' });
      }
      if ((step.kind === 'check' || step.kind === 'verify') && step.pass === undefined && !probeInfo(step.probe)?.verdict) {
        ctx.addIssue({ code: 'custom', path: [...at, 'pass'], message: `the ${step.probe} probe only measures; say what passes, e.g. pass: "${PROBES[step.probe].values[0]} < 80" (values: ${PROBES[step.probe].values.join(', ')})` });
      }
      const probed = step.kind === 'check' || step.kind === 'verify' ? { probe: step.probe, with: step.with, at: [...at, 'with'] } : step.kind === 'wait' && step.until ? { probe: step.until.probe, with: step.until.with, at: [...at, 'until', 'with'] } : undefined;
      if (probed) withProblems(probed.probe, probed.with, probed.at, ctx);
      if (step.kind === 'check' && probeInfo(step.probe)?.verifyOnly) ctx.addIssue({ code: 'custom', path: [...at, 'probe'], message: `${step.probe} waits for a rollout; use it in a verify step` });
    });
  }
}

const AURORA_PARAMS = z.strictObject({ database: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, "a database name from the service's `databases`").optional() });

/** Each operation takes its own fields, and only those. */
function actionProblems(step: ActionStep, phase: PhaseName, at: (string | number)[], ctx: Ctx): void {
  const op = step.operation;
  const fields: Record<ActionOperation, readonly string[]> = {
    scale: ['gradual'],
    'hpa-bounds': ['min', 'max'],
    'hpa-scale-down': ['enabled'],
    'database-capacity': ['database', 'min', 'max'],
    'add-reader': ['database', 'instance', 'class'],
    'remove-reader': ['database', 'instance'],
    'instance-class': ['database', 'instance', 'class'],
  };
  for (const field of ['gradual', 'min', 'max', 'enabled', 'database', 'instance', 'class'] as const) {
    if (step[field] !== undefined && !fields[op].includes(field)) ctx.addIssue({ code: 'custom', path: [...at, field], message: `${field} does not apply to operation ${op}; it takes: ${fields[op].join(', ') || 'nothing more'}` });
  }
  const need = (field: 'min' | 'max' | 'enabled' | 'database' | 'instance' | 'class', why: string) => {
    if (step[field] === undefined) ctx.addIssue({ code: 'custom', path: [...at, field], message: why });
  };
  if (op === 'hpa-bounds' && step.min === undefined && step.max === undefined) ctx.addIssue({ code: 'custom', path: at, message: 'hpa-bounds needs min, max or both (expressions, e.g. max: "replicas * 2")' });
  if (op === 'database-capacity' && (step.min === undefined || step.max === undefined)) ctx.addIssue({ code: 'custom', path: at, message: 'database-capacity needs min and max in ACU (expressions, e.g. min: "service.acu_peak_min")' });
  if (op === 'hpa-scale-down') need('enabled', 'hpa-scale-down needs enabled: false (disable the HPA\'s scale-down) or true (restore it)');
  if (DATABASE_OPERATIONS.includes(op)) need('database', `${op} needs database: <one of the service's databases in the catalog>`);
  if (op === 'remove-reader' || op === 'instance-class') need('instance', `${op} needs instance: <the DB instance identifier>`);
  if (op === 'instance-class') need('class', 'instance-class needs class: e.g. db.r6g.xlarge');
  if (phase === 'scale-down' && op !== 'scale') ctx.addIssue({ code: 'custom', path: [...at, 'operation'], message: 'the scale-down phase walks the replicas (operation: scale, gradual: halve-distance)' });
}

/** A probe's `with:` parameters, checked at load against what the probe accepts. */
function withProblems(probe: ProbeName, params: Record<string, unknown> | undefined, at: (string | number)[], ctx: Ctx): void {
  const schema = probe === 'aws.aurora' ? AURORA_PARAMS : Object.hasOwn(PROBE_PARAMS, probe) ? PROBE_PARAMS[probe as keyof typeof PROBE_PARAMS] : undefined;
  if (!schema) {
    if (params && Object.keys(params).length) ctx.addIssue({ code: 'custom', path: at, message: `the ${probe} probe takes no parameters` });
    return;
  }
  const parsed = schema.safeParse(params ?? {});
  if (parsed.success) return;
  for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', path: [...at, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))], message: issue.message });
}

/** Every name an expression reads must exist by the time it is evaluated. */
function referenceProblems(runbook: Runbook, ctx: Ctx): void {
  // Values of checks measured before: pre-scale checks everywhere; scale-down checks after them.
  const known = new Map<string, readonly string[]>();
  const checks = (steps: Step[]) => steps.flatMap((s) => (s.kind === 'check' ? [[scopeName(s.id), PROBES[s.probe].values] as const] : []));
  for (const [name, values] of checks(runbook.phases['pre-scale'])) known.set(name, values);
  const check = (expr: Expr | undefined, path: (string | number)[], own?: readonly string[], scope = known) => {
    if (!expr) return;
    for (const name of referencedNames(expr)) {
      const problem = nameProblem(name, scope, own);
      if (problem) ctx.addIssue({ code: 'custom', path, message: `${JSON.stringify(expr.text)}: ${problem}` });
    }
  };
  if (runbook.target) {
    check(runbook.target, ['target']);
    for (const name of ['replicas', 'current']) {
      if (referencedNames(runbook.target).some((n) => n === name || n.startsWith(`${name}.`))) {
        ctx.addIssue({ code: 'custom', path: ['target'], message: name === 'replicas' ? 'the target formula computes the replicas, so it cannot read them' : 'the target formula runs before the plan reads the current replicas, so it cannot read "current"; measure them with a check (kubernetes.replicas) and read that check\'s value' });
      }
    }
  }
  // Pre-scale checks run side by side, so one cannot read another's values — except the target
  // formula's inputs, which are measured before everything else.
  const inputs = new Set(runbook.target ? referencedNames(runbook.target).map((n) => n.split('.')[0]!) : []);
  const first = new Map([...known].filter(([name]) => inputs.has(name)));
  for (const phase of PHASES) {
    const scope = phase === 'pre-scale' ? first : new Map(known);
    runbook.phases[phase].forEach((step, index) => {
      const at = ['phases', phase, index];
      const input = phase === 'pre-scale' && inputs.has(scopeName(step.id));
      const own = input ? new Map<string, readonly string[]>() : scope;
      if (input && step.kind === 'check' && step.pass && referencedNames(step.pass).some((n) => ['replicas', 'current'].includes(n.split('.')[0]!))) {
        ctx.addIssue({ code: 'custom', path: [...at, 'pass'], message: `"${step.id}" feeds the target formula, so it is measured before the target and the current replicas are known; its pass condition cannot read replicas or current` });
      }
      if (step.kind === 'check' || step.kind === 'verify') check(step.pass, [...at, 'pass'], PROBES[step.probe].values, own);
      if (step.kind === 'wait' && step.until) check(step.until.pass, [...at, 'until', 'pass'], PROBES[step.until.probe].values, own);
      if (step.kind === 'action') for (const field of ['min', 'max'] as const) check(step[field], [...at, field], undefined, own);
      if (phase === 'scale-down' && step.kind === 'check') scope.set(scopeName(step.id), PROBES[step.probe].values);
    });
  }
}

function nameProblem(name: string, steps: Map<string, readonly string[]>, own: readonly string[] | undefined): string | undefined {
  const [root, member, ...rest] = name.split('.');
  if (own && member === undefined && own.includes(root!)) return undefined;
  const run = Object.hasOwn(RUN_NAMES, root!) ? RUN_NAMES[root!] : undefined;
  if (run !== undefined) {
    if (run === 'any') return member !== undefined && rest.length === 0 ? undefined : `"${name}": write ${root}.<name>`;
    if (run.length === 0) return member === undefined ? undefined : `"${root}" is a number; it has no "${member}"`;
    return member !== undefined && run.includes(member) && rest.length === 0 ? undefined : `unknown name "${name}"; ${root} has: ${run.join(', ')}`;
  }
  const values = steps.get(root!);
  if (values) {
    return member !== undefined && values.includes(member) && rest.length === 0 ? undefined : `unknown name "${name}"; ${root} has: ${values.join(', ')}`;
  }
  const names = [...new Set([...(own ?? []), ...Object.keys(RUN_NAMES), ...steps.keys()])];
  return `unknown name "${name}": not a value of this probe, a run value or a check measured before this step (pre-scale checks run side by side; step ids are written with "_" for "-"); known: ${names.join(', ')}`;
}

export type Runbook = z.output<typeof runbookSchema>;
export type Step = z.output<typeof stepSchema>;
export type CheckStep = z.output<typeof checkStepSchema>;
export type ManualStep = z.output<typeof manualStepSchema>;
export type ApprovalStep = z.output<typeof approvalStepSchema>;
export type ActionStep = z.output<typeof actionStepSchema>;
export type WaitStep = z.output<typeof waitStepSchema>;
export type VerifyStep = z.output<typeof verifyStepSchema>;
export type NotifyStep = z.output<typeof notifyStepSchema>;
export type OnFailure = z.output<typeof onFailure>;
