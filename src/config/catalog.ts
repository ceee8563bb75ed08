// The service catalog: one YAML file (SCALEBOT_CONFIG) naming each service, its target, limits and
// approval policy. A catalog as small as PRODUCT.md's example loads as is; everything else defaults.
import { z } from 'zod';
import { InvalidInputError, parseYamlFile, type Problem } from './problems.ts';
import { referencedNames, type Expr } from '../workflows/expression.ts';
import type { Runbook, Step } from '../workflows/runbook-schema.ts';

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

/** Azure Container Apps (seed 000): min/max replicas of an app's template. Adapter: platforms issue. */
export const azureContainerAppTargetSchema = z.strictObject({
  kind: z.literal('azure-container-app'),
  subscription: z.string().min(1).max(100),
  'resource-group': z.string().regex(/^[-\w._()]{1,90}$/, 'an Azure resource group name'),
  app: z.string().regex(/^[a-z][a-z0-9-]{0,30}[a-z0-9]$/, 'a Container App name: lower-case letters, digits and dashes'),
});

/** Docker Compose (seed 004): `docker compose up -d --scale <service>=<n> --no-recreate`. Adapter: platforms issue. */
export const dockerComposeTargetSchema = z.strictObject({
  kind: z.literal('docker-compose'),
  'project-dir': z.string().min(1).max(500),
  file: z.string().min(1).max(500).optional(),
  service: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, 'a Compose service name'),
});

/** An Aurora Serverless v2 cluster whose capacity and readers a runbook may change (seed 003). */
export const auroraDatabaseSchema = z.strictObject({
  kind: z.literal('aurora'),
  cluster: z.string().regex(/^[a-zA-Z][a-zA-Z0-9-]{0,62}$/, 'a DB cluster identifier'),
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region such as eu-west-1'),
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
    target: z.discriminatedUnion('kind', [kubernetesTargetSchema, azureContainerAppTargetSchema, dockerComposeTargetSchema]),
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
    /** How long after a verified scale-up a scheduled scale-down opens ("Schedule scale-down" on the card). */
    'scale-down-after': z.string().regex(/^\d{1,5}(m|h|d)$/, 'a duration such as 30m, 2h or 1d').default('2h'),
    /** Databases the runbooks may change (database-capacity, add-reader…), by name. */
    databases: z.record(z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'a database name: lower-case letters, digits and dashes'), z.discriminatedUnion('kind', [auroraDatabaseSchema])).default({}),
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

/** The source kind each probe measures through. */
const PROBE_SOURCE: Record<string, SourceConfig['kind']> = {
  prometheus: 'prometheus',
  'postgres.connections': 'postgres',
  'redis.info': 'redis',
  'queue.depth': 'queue',
  'http.health': 'http',
};

/** Every probe a runbook uses, with its parameters and where it is. */
function probesOf(runbook: Runbook): { probe: string; params: Record<string, unknown>; at: string }[] {
  const out: { probe: string; params: Record<string, unknown>; at: string }[] = [];
  for (const [phase, steps] of Object.entries(runbook.phases)) {
    steps.forEach((step: Step) => {
      if (step.kind === 'check' || step.kind === 'verify') out.push({ probe: step.probe, params: step.with ?? {}, at: `${phase}.${step.id}` });
      if (step.kind === 'wait' && step.until) out.push({ probe: step.until.probe, params: step.until.with ?? {}, at: `${phase}.${step.id}` });
    });
  }
  return out;
}

function expressionsOf(runbook: Runbook): Expr[] {
  const out: Expr[] = runbook.target ? [runbook.target] : [];
  for (const step of Object.values(runbook.phases).flat() as Step[]) {
    if ((step.kind === 'check' || step.kind === 'verify') && step.pass) out.push(step.pass);
    if (step.kind === 'wait' && step.until) out.push(step.until.pass);
    if (step.kind === 'action') for (const e of [step.min, step.max]) if (e) out.push(e);
  }
  return out;
}

/** The platform a probe or operation needs, when it needs one. */
function platformOf(name: string): ServiceConfig['target']['kind'] | undefined {
  if (name.startsWith('kubernetes.') || name.startsWith('hpa-')) return 'kubernetes';
  if (name.startsWith('azure.')) return 'azure-container-app';
  if (name.startsWith('compose.')) return 'docker-compose';
  return undefined;
}

/** What a service lacks for a runbook it uses: params its formulas read, sources its probes measure. */
function serviceRunbookProblems(file: string, name: string, service: ServiceConfig, direction: string, runbook: Runbook): Problem[] {
  const problems: Problem[] = [];
  const where = `services.${name}`;
  const params = new Set(Object.keys(service.params));
  const missing = new Set<string>();
  for (const expr of expressionsOf(runbook)) {
    for (const ref of referencedNames(expr)) {
      const [root, member] = ref.split('.');
      if (root === 'service' && member && !params.has(member)) missing.add(member);
    }
  }
  for (const param of missing) {
    problems.push({ file, path: `${where}.params`, message: `the ${direction} runbook "${runbook.name}" reads service.${param}; add params: { ${param}: <number> } (known: ${[...params].join(', ') || 'none'})` });
  }
  for (const [phase, steps] of Object.entries(runbook.phases)) {
    for (const step of steps as Step[]) {
      if (step.kind !== 'action') continue;
      const platform = platformOf(step.operation);
      if (platform && platform !== service.target.kind) problems.push({ file, path: `${where}.runbooks.${direction}`, message: `runbook "${runbook.name}" (${phase}.${step.id}) uses operation ${step.operation}, but ${name} runs on ${service.target.kind}` });
      if (step.database && !Object.hasOwn(service.databases, step.database)) {
        problems.push({ file, path: `${where}.databases`, message: `runbook "${runbook.name}" (${phase}.${step.id}) changes database "${step.database}", which ${name} does not declare (known: ${Object.keys(service.databases).join(', ') || 'none'})` });
      }
    }
  }
  for (const { probe, params: withParams, at } of probesOf(runbook)) {
    const platform = platformOf(probe);
    if (platform && platform !== service.target.kind) {
      problems.push({ file, path: `${where}.runbooks.${direction}`, message: `runbook "${runbook.name}" (${at}) uses ${probe}, but ${name} runs on ${service.target.kind}; use a runbook written for that platform` });
      continue;
    }
    if (probe === 'aws.aurora') {
      const named = typeof withParams.database === 'string' ? withParams.database : undefined;
      const dbs = Object.keys(service.databases);
      if (named ? !dbs.includes(named) : dbs.length !== 1) problems.push({ file, path: `${where}.databases`, message: `runbook "${runbook.name}" (${at}) reads ${named ? `database "${named}"` : 'the service\'s database'}; declare it under databases (known: ${dbs.join(', ') || 'none'})${named ? '' : ' or name one with with: { database }'}` });
      continue;
    }
    const kind = PROBE_SOURCE[probe];
    if (!kind) continue;
    const named = typeof withParams.source === 'string' ? withParams.source : undefined;
    const sources = Object.entries(service.sources);
    if (named) {
      const source = service.sources[named];
      if (!source) problems.push({ file, path: `${where}.sources`, message: `runbook "${runbook.name}" (${at}) measures source "${named}", which ${name} does not declare (known: ${sources.map(([n]) => n).join(', ') || 'none'})` });
      else if (source.kind !== kind) problems.push({ file, path: `${where}.sources.${named}`, message: `runbook "${runbook.name}" (${at}) measures ${probe} through "${named}", a ${source.kind} source; it needs a ${kind} source` });
      continue;
    }
    const ofKind = sources.filter(([, s]) => s.kind === kind);
    if (ofKind.length === 0) problems.push({ file, path: `${where}.sources`, message: `runbook "${runbook.name}" (${at}) uses ${probe}, so ${name} needs a ${kind} source, e.g. sources: { ${kind}: { kind: ${kind}, url: … } }` });
    if (ofKind.length > 1) problems.push({ file, path: `${where}.sources`, message: `runbook "${runbook.name}" (${at}) uses ${probe} without naming a source, and ${name} has ${ofKind.length} ${kind} sources (${ofKind.map(([n]) => n).join(', ')}); add with: { source: <name> } to the step` });
  }
  return problems;
}

/** Cross-checks a catalog against the runbooks it names (by name; given the runbooks, also what each service must provide them). */
export function catalogProblems(file: string, catalog: Catalog, runbooks: Set<string> | Map<string, Runbook>): Problem[] {
  const runbookNames = new Set(runbooks.keys());
  const problems: Problem[] = [];
  const targets = new Map<string, string>();
  for (const [name, service] of Object.entries(catalog.services)) {
    for (const direction of ['up', 'down'] as const) {
      const named = service.runbooks[direction];
      if (named && !runbookNames.has(named)) {
        problems.push({ file, path: `services.${name}.runbooks.${direction}`, message: `no runbook named "${named}"; known: ${[...runbookNames].sort().join(', ') || 'none'}` });
      }
      const runbook = runbooks instanceof Map ? runbooks.get(named ?? (direction === 'up' ? 'scale-up' : 'scale-down')) : undefined;
      // The built-in defaults are written for Kubernetes; a service elsewhere must name its own.
      if (runbook && (named || service.target.kind === 'kubernetes')) problems.push(...serviceRunbookProblems(file, name, service, direction, runbook));
      if (runbook && !named && service.target.kind !== 'kubernetes' && direction === 'up') {
        problems.push({ file, path: `services.${name}.runbooks`, message: `${name} runs on ${service.target.kind}; name its runbooks (runbooks: { up: …, down: … }): the built-in ones are written for Kubernetes` });
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
  switch (t.kind) {
    case 'kubernetes':
      return `kubernetes/${t.context ?? '(current)'}/${t.namespace}/${t.deployment}`;
    case 'azure-container-app':
      return `azure/${t.subscription}/${t['resource-group']}/${t.app}`;
    case 'docker-compose':
      return `compose/${t['project-dir']}/${t.file ?? 'compose.yaml'}/${t.service}`;
  }
}

export function targetLabel(service: ServiceConfig): string {
  const t = service.target;
  switch (t.kind) {
    case 'kubernetes':
      return `Deployment ${t.namespace}/${t.deployment}${t.context ? ` (context ${t.context})` : ''}`;
    case 'azure-container-app':
      return `Container App ${t['resource-group']}/${t.app}`;
    case 'docker-compose':
      return `Compose service ${t.service} (${t['project-dir']})`;
  }
}
