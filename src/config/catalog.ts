// The service catalog: one YAML file (SCALEBOT_CONFIG) naming each service, its target, limits and
// approval policy. A catalog as small as PRODUCT.md's example loads as is; everything else defaults.
import { z } from 'zod';
import { InvalidInputError, parseYamlFile, type Problem } from './problems.ts';

const k8sName = z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'a Kubernetes name: lower-case letters, digits, "-" and "."');
const slackId = z.string().regex(/^[US][A-Z0-9]{2,20}$/, 'a Slack user ID (U…) or user-group ID (S…)');
const channel = z.string().regex(/^(C[A-Z0-9]{2,20}|G[A-Z0-9]{2,20}|#[a-z0-9][a-z0-9._-]{0,79})$/, 'a channel ID (C…) or #name');

export const kubernetesTargetSchema = z.strictObject({
  kind: z.literal('kubernetes'),
  namespace: k8sName.default('default'),
  deployment: k8sName,
  /** kubeconfig context; the current one when absent. */
  context: z.string().min(1).optional(),
  /** HPA name; found by its scaleTargetRef when absent. */
  hpa: k8sName.optional(),
});

/** A URL that may name environment variables for its secrets: "postgres://app:${DB_PASSWORD}@db:5432/app". */
const sourceUrl = z.string().min(1).max(2000);
const sourceName = /^[a-z][a-z0-9-]{0,31}$/;

export const prometheusSourceSchema = z.strictObject({
  kind: z.literal('prometheus'),
  url: sourceUrl,
  /** Named PromQL queries the runbook refers to by name (`with: { query: cpu }`). */
  queries: z.record(z.string().regex(/^[a-z][a-z0-9_-]{0,47}$/, 'a query name: lower-case letters, digits, "_" and "-"'), z.string().min(1).max(4000)).default({}),
});
export const postgresSourceSchema = z.strictObject({
  kind: z.literal('postgres'),
  url: sourceUrl,
  /** The database whose connections count (pg_stat_activity.datname); the URL's database when absent. */
  database: z.string().min(1).max(63).optional(),
});
export const redisSourceSchema = z.strictObject({ kind: z.literal('redis'), url: sourceUrl });
export const queueSourceSchema = z.strictObject({
  kind: z.literal('queue'),
  url: sourceUrl,
  /** The queue (BullMQ/Bull queue name, or the Redis list key for `list`). */
  name: z.string().min(1).max(200),
  type: z.enum(['bullmq', 'bull', 'list']).default('bullmq'),
  /** BullMQ/Bull key prefix. */
  prefix: z.string().min(1).max(100).default('bull'),
});
export const httpSourceSchema = z.strictObject({
  kind: z.literal('http'),
  url: sourceUrl,
  headers: z.record(z.string(), z.string()).optional(),
});
export const sourceSchema = z.discriminatedUnion('kind', [prometheusSourceSchema, postgresSourceSchema, redisSourceSchema, queueSourceSchema, httpSourceSchema]);

/** "Do not scale down" windows, in the catalog's time zone: e.g. weekdays 08:00-18:00. */
export const peakWindowSchema = z.strictObject({
  days: z.array(z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'])).min(1).default(['mon', 'tue', 'wed', 'thu', 'fri']),
  from: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day, HH:MM'),
  to: z.string().regex(/^([01]\d|2[0-4]):[0-5]\d$/, 'a time of day, HH:MM'),
  /** IANA time zone, e.g. Europe/Berlin; UTC when absent. */
  tz: z.string().min(1).max(64).default('UTC'),
  reason: z.string().max(200).optional(),
});

export const serviceSchema = z
  .strictObject({
    description: z.string().max(200).optional(),
    target: z.discriminatedUnion('kind', [kubernetesTargetSchema]),
    limits: z.strictObject({
      min: z.number().int().min(0).max(10_000),
      baseline: z.number().int().min(0).max(10_000).optional(),
      max: z.number().int().min(1).max(10_000),
    }),
    approvals: z
      .strictObject({
        required: z.number().int().min(1).max(5).default(1),
        approvers: z.array(slackId).default([]),
      })
      .default({ required: 1, approvers: [] }),
    /** Who may request runs (user or user-group IDs); anyone when absent. */
    requesters: z.array(slackId).optional(),
    channel: channel.optional(),
    runbooks: z.strictObject({ up: z.string().optional(), down: z.string().optional() }).default({}),
    /** Numbers the runbooks' formulas use as `service.<name>`: pool size, RPS per pod, reserve… */
    params: z.record(z.string().regex(/^[a-z][a-z0-9_]{0,47}$/, 'a parameter name: lower-case letters, digits and "_"'), z.number().finite()).default({}),
    /** Where probes measure, by name (a step's `with: { source: <name> }`; the only one of its kind by default). */
    sources: z.record(z.string().regex(sourceName, 'a source name: lower-case letters, digits and dashes'), sourceSchema).default({}),
    /** When scale-downs are refused (peak hours). */
    'peak-windows': z.array(peakWindowSchema).max(20).default([]),
  })
  .superRefine((s, ctx) => {
    const baseline = s.limits.baseline ?? s.limits.min;
    if (s.limits.min > s.limits.max) ctx.addIssue({ code: 'custom', path: ['limits', 'min'], message: `min (${s.limits.min}) is above max (${s.limits.max})` });
    if (s.limits.min <= s.limits.max && (baseline < s.limits.min || baseline > s.limits.max)) {
      ctx.addIssue({ code: 'custom', path: ['limits', 'baseline'], message: `baseline (${baseline}) must be within min..max (${s.limits.min}..${s.limits.max})` });
    }
    if (s.approvals.required > Math.max(1, s.approvals.approvers.length) && !s.approvals.approvers.some((a) => a.startsWith('S'))) {
      const listed = s.approvals.approvers.length;
      ctx.addIssue({ code: 'custom', path: ['approvals', 'required'], message: `${s.approvals.required} approvals are required but only ${listed} approver${listed === 1 ? ' is' : 's are'} listed; list at least ${s.approvals.required} or a user group (S…)` });
    }
  })
  .transform((s) => ({ ...s, limits: { ...s.limits, baseline: s.limits.baseline ?? s.limits.min } }));

const SERVICE_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

export const catalogSchema = z.strictObject({
  channel,
  services: z.record(z.string(), serviceSchema).superRefine((services, ctx) => {
    if (Object.keys(services).length === 0) ctx.addIssue({ code: 'custom', message: 'at least one service is needed' });
    for (const name of Object.keys(services)) {
      if (!SERVICE_NAME.test(name)) {
        ctx.addIssue({ code: 'custom', path: [name], message: `"${name.slice(0, 64)}" is not a valid service name; use lower-case letters, digits and dashes (max 63 characters), as typed in /scale` });
      }
    }
    // Run even when a service's body is invalid, so a bad name is reported alongside.
  }, { when: (payload) => typeof payload.value === 'object' && payload.value !== null }),
});

export type Catalog = z.output<typeof catalogSchema>;
export type ServiceConfig = z.output<typeof serviceSchema>;
export type KubernetesTarget = z.output<typeof kubernetesTargetSchema>;
export type SourceConfig = z.output<typeof sourceSchema>;
export type PeakWindow = z.output<typeof peakWindowSchema>;

export function loadCatalog(file: string): Catalog {
  const parsed = parseYamlFile(file, catalogSchema);
  if (!parsed.ok) throw new InvalidInputError(parsed.problems);
  return parsed.value;
}

/** Cross-checks a catalog against the runbooks it names. */
export function catalogProblems(file: string, catalog: Catalog, runbookNames: Set<string>): Problem[] {
  const problems: Problem[] = [];
  const targets = new Map<string, string>();
  for (const [name, service] of Object.entries(catalog.services)) {
    for (const direction of ['up', 'down'] as const) {
      const named = service.runbooks[direction];
      if (named && !runbookNames.has(named)) {
        problems.push({ file, path: `services.${name}.runbooks.${direction}`, message: `no runbook named "${named}"; known: ${[...runbookNames].sort().join(', ') || 'none'}` });
      }
    }
    const key = targetKey(service);
    const other = targets.get(key);
    if (other) problems.push({ file, path: `services.${name}.target`, message: `the same target as service "${other}"; one target belongs to one service` });
    targets.set(key, name);
  }
  return problems;
}

export function targetKey(service: ServiceConfig): string {
  const t = service.target;
  return `kubernetes/${t.context ?? '(current)'}/${t.namespace}/${t.deployment}`;
}

export function targetLabel(service: ServiceConfig): string {
  const t = service.target;
  return `Deployment ${t.namespace}/${t.deployment}${t.context ? ` (context ${t.context})` : ''}`;
}
