// The runbook vocabulary: a runbook is data (YAML in workflows/), validated by this schema at load.
// The engine interprets it; adding a step kind means adding it here and in the engine, never a
// special case for one service.
import { z } from 'zod';
import { parseDuration } from './duration.ts';

const stepId = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,47}$/, 'a step id: lower-case letters, digits and dashes, starting with a letter (max 48)');

/** A duration with a ceiling: "never expires" is not a policy, and timers past it are pointless. */
const duration = (fallback: string, max: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
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

/** Probes the engine can name. `request.*` are evaluated by the engine itself; the rest by the target adapter. */
export const CHECK_PROBES = [
  'request.limits',
  'kubernetes.replicas',
  'kubernetes.hpa',
  'kubernetes.pending-pods',
  'kubernetes.node-capacity',
] as const;
export const VERIFY_PROBES = ['kubernetes.rollout'] as const;
export const ACTION_OPERATIONS = ['scale'] as const;

const base = { id: stepId, title: z.string().min(1).max(150) };

export const checkStepSchema = z.strictObject({
  ...base,
  kind: z.literal('check'),
  probe: z.enum(CHECK_PROBES),
  severity: z.enum(['block', 'warn']).default('block'),
});

export const manualStepSchema = z.strictObject({
  ...base,
  kind: z.literal('manual'),
  /** Who may tick it (user or user-group IDs); anyone when absent. */
  who: z.array(z.string().regex(/^[US][A-Z0-9]{2,}$/, 'a Slack user ID (U…) or user-group ID (S…)')).optional(),
});

export const approvalStepSchema = z.strictObject({
  ...base,
  kind: z.literal('approval'),
  /** Defaults come from the service's `approvals` in the catalog; these override them. */
  required: z.number().int().min(1).max(5).optional(),
  expires: duration('30m', '7d'),
});

export const actionStepSchema = z.strictObject({
  ...base,
  kind: z.literal('action'),
  operation: z.enum(ACTION_OPERATIONS),
});

export const verifyStepSchema = z.strictObject({
  ...base,
  kind: z.literal('verify'),
  probe: z.enum(VERIFY_PROBES),
  timeout: duration('10m', '24h'),
  'on-failure': z.enum(['offer-rollback', 'stop']).default('offer-rollback'),
});

export const stepSchema = z.discriminatedUnion('kind', [
  checkStepSchema,
  manualStepSchema,
  approvalStepSchema,
  actionStepSchema,
  verifyStepSchema,
]);

/** Which step kinds each phase may hold. */
export const PHASE_KINDS = {
  'pre-scale': ['check', 'manual'],
  approve: ['approval'],
  execute: ['action'],
  verify: ['verify'],
} as const satisfies Record<string, readonly Step['kind'][]>;
export type PhaseName = keyof typeof PHASE_KINDS;
export const PHASES = Object.keys(PHASE_KINDS) as PhaseName[];

export const runbookSchema = z
  .strictObject({
    name: z.string().regex(/^[a-z][a-z0-9-]{0,47}$/, 'a runbook name: lower-case letters, digits and dashes, starting with a letter (max 48)'),
    description: z.string().max(500).optional(),
    direction: z.enum(['up', 'down', 'any']).default('any'),
    phases: z.strictObject({
      'pre-scale': z.array(stepSchema).max(40).default([]),
      approve: z.array(stepSchema).length(1, 'the approve phase holds exactly one approval step'),
      execute: z.array(stepSchema).min(1, 'the execute phase needs at least one action step').max(10),
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
        if (seen.has(step.id)) {
          ctx.addIssue({ code: 'custom', path: ['phases', phase, index, 'id'], message: `duplicate step id "${step.id}"` });
        }
        seen.add(step.id);
      });
    }
  });

export type Runbook = z.output<typeof runbookSchema>;
export type Step = z.output<typeof stepSchema>;
export type CheckStep = z.output<typeof checkStepSchema>;
export type ManualStep = z.output<typeof manualStepSchema>;
export type ApprovalStep = z.output<typeof approvalStepSchema>;
export type ActionStep = z.output<typeof actionStepSchema>;
export type VerifyStep = z.output<typeof verifyStepSchema>;
export type CheckProbe = (typeof CHECK_PROBES)[number];
export type VerifyProbe = (typeof VERIFY_PROBES)[number];
