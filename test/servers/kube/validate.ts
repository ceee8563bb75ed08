/**
 * Validation and normalisation of client-written objects (PUT bodies and PATCH results).
 *
 * Incoming bodies are `unknown` JSON; these functions check the fields the simulation relies on,
 * apply the API server's defaulting, and produce typed objects or throw 400/422 {@link ApiError}s
 * worded like the real API server's.
 */
import { badRequest, invalid } from './errors.ts';
import { isPlainObject, deepEqual } from './patch.ts';
import { isQuantity } from './quantity.ts';
import type { Deployment, HorizontalPodAutoscaler, LabelSelector, ObjectMeta, PodDisruptionBudget } from './types.ts';

function isStringMap(v: unknown): v is Record<string, string> {
  return isPlainObject(v) && Object.values(v).every((x) => typeof x === 'string');
}

function isNonNegativeInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 2 ** 31 - 1;
}

/**
 * Checks `metadata.name`/`namespace` against the URL and returns the metadata to store: identity
 * and server-managed fields from `current`, labels/annotations from the body.
 */
function mergeMeta(body: Record<string, unknown>, current: ObjectMeta): ObjectMeta {
  const meta = body.metadata;
  if (meta !== undefined && !isPlainObject(meta)) throw badRequest('metadata must be an object');
  const m = meta ?? {};
  if (m.name !== undefined && m.name !== current.name) {
    throw badRequest(`the name of the object (${String(m.name)}) does not match the name on the URL (${current.name})`);
  }
  if (m.namespace !== undefined && m.namespace !== current.namespace) {
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }
  const out: ObjectMeta = { ...current };
  delete out.labels;
  delete out.annotations;
  if (m.labels !== undefined && m.labels !== null) {
    if (!isStringMap(m.labels)) throw badRequest('metadata.labels must be a map of strings');
    out.labels = m.labels;
  }
  if (m.annotations !== undefined && m.annotations !== null) {
    if (!isStringMap(m.annotations)) throw badRequest('metadata.annotations must be a map of strings');
    out.annotations = m.annotations;
  }
  return out;
}

/** `metadata.resourceVersion` of a body, used as an optimistic-concurrency precondition. */
export function preconditionVersion(body: unknown): string | undefined {
  if (!isPlainObject(body) || !isPlainObject(body.metadata)) return undefined;
  const rv = body.metadata.resourceVersion;
  return typeof rv === 'string' && rv !== '' ? rv : undefined;
}

/**
 * Validate a Deployment written by a client. Status is ignored (it belongs to the controller);
 * `spec.replicas` defaults to 1; the selector is immutable; template labels must match it.
 */
export function validateDeployment(body: unknown, current: Deployment): Deployment {
  const name = current.metadata.name;
  const kind = 'Deployment.apps';
  if (!isPlainObject(body)) throw badRequest('the body of the request must be a JSON object');
  const spec = body.spec;
  if (!isPlainObject(spec)) throw invalid(kind, name, 'spec', spec ?? null, 'spec is required');
  const replicas = spec.replicas ?? 1;
  if (!isNonNegativeInt(replicas)) {
    throw invalid(kind, name, 'spec.replicas', replicas, 'must be greater than or equal to 0');
  }
  if (!deepEqual(spec.selector, current.spec.selector)) {
    throw invalid(kind, name, 'spec.selector', spec.selector ?? null, 'field is immutable');
  }
  const template = spec.template;
  if (!isPlainObject(template) || !isPlainObject(template.metadata) || !isPlainObject(template.spec)) {
    throw invalid(kind, name, 'spec.template', template ?? null, 'template is required');
  }
  const labels = template.metadata.labels;
  const match = current.spec.selector.matchLabels;
  if (!isStringMap(labels) || !Object.entries(match).every(([k, v]) => labels[k] === v)) {
    throw invalid(kind, name, 'spec.template.metadata.labels', labels ?? null, '`selector` does not match template `labels`');
  }
  const containers = template.spec.containers;
  if (!Array.isArray(containers) || containers.length === 0) {
    throw invalid(kind, name, 'spec.template.spec.containers', containers ?? null, 'Required value');
  }
  containers.forEach((c: unknown, i) => {
    const f = `spec.template.spec.containers[${i}]`;
    if (!isPlainObject(c) || typeof c.name !== 'string' || !c.name) throw invalid(kind, name, `${f}.name`, null, 'Required value');
    if (typeof c.image !== 'string' || !c.image) throw invalid(kind, name, `${f}.image`, null, 'Required value');
    const res = c.resources;
    if (res === undefined || res === null) return;
    if (!isPlainObject(res)) throw invalid(kind, name, `${f}.resources`, res, 'must be an object');
    for (const section of ['requests', 'limits'] as const) {
      const list = res[section];
      if (list === undefined || list === null) continue;
      if (!isPlainObject(list)) throw invalid(kind, name, `${f}.resources.${section}`, list, 'must be a map');
      for (const [rname, q] of Object.entries(list)) {
        if (typeof q !== 'string' && typeof q !== 'number') throw invalid(kind, name, `${f}.resources.${section}[${rname}]`, q, 'must be a quantity');
        if (typeof q === 'string' && !isQuantity(q)) {
          throw invalid(kind, name, `${f}.resources.${section}[${rname}]`, q, "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
        }
        if (typeof q === 'number') list[rname] = String(q);
      }
    }
  });
  const strategy = spec.strategy ?? current.spec.strategy;
  if (!isPlainObject(strategy) || (strategy.type !== 'RollingUpdate' && strategy.type !== 'Recreate')) {
    throw invalid(kind, name, 'spec.strategy.type', isPlainObject(strategy) ? strategy.type ?? null : null, 'supported values: "Recreate", "RollingUpdate"');
  }
  const next = { ...body, spec: { ...spec, replicas, strategy } } as unknown as Deployment;
  next.apiVersion = current.apiVersion;
  next.kind = current.kind;
  next.metadata = mergeMeta(body, current.metadata);
  next.status = current.status;
  return next;
}

/** Validate an autoscaling/v2 HorizontalPodAutoscaler written by a client. */
export function validateHpa(body: unknown, current: HorizontalPodAutoscaler): HorizontalPodAutoscaler {
  const name = current.metadata.name;
  const kind = 'HorizontalPodAutoscaler.autoscaling';
  if (!isPlainObject(body)) throw badRequest('the body of the request must be a JSON object');
  const spec = body.spec;
  if (!isPlainObject(spec)) throw invalid(kind, name, 'spec', spec ?? null, 'spec is required');
  const minReplicas = spec.minReplicas ?? 1;
  const maxReplicas = spec.maxReplicas;
  if (!isNonNegativeInt(minReplicas) || minReplicas < 1) {
    throw invalid(kind, name, 'spec.minReplicas', minReplicas, 'must be greater than or equal to 1');
  }
  if (!isNonNegativeInt(maxReplicas) || maxReplicas < 1) {
    throw invalid(kind, name, 'spec.maxReplicas', maxReplicas ?? null, 'must be greater than 0');
  }
  if (maxReplicas < minReplicas) {
    throw invalid(kind, name, 'spec.maxReplicas', maxReplicas, 'must be greater than or equal to `minReplicas`');
  }
  const ref = spec.scaleTargetRef;
  if (!isPlainObject(ref) || typeof ref.kind !== 'string' || typeof ref.name !== 'string' || !ref.name) {
    throw invalid(kind, name, 'spec.scaleTargetRef', ref ?? null, 'Required value');
  }
  if (spec.metrics !== undefined && !Array.isArray(spec.metrics)) {
    throw invalid(kind, name, 'spec.metrics', spec.metrics, 'must be a list');
  }
  const next = { ...body, spec: { ...spec, minReplicas, maxReplicas } } as unknown as HorizontalPodAutoscaler;
  next.apiVersion = current.apiVersion;
  next.kind = current.kind;
  next.metadata = mergeMeta(body, current.metadata);
  next.status = current.status;
  return next;
}

const NAME_RE = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const SELECTOR_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

/** An int-or-string that must be a non-negative integer or a percentage up to 100%. */
function checkIntOrPercent(kind: string, name: string, field: string, v: unknown): void {
  if (v === undefined || v === null) return;
  if (typeof v === 'number') {
    if (!isNonNegativeInt(v)) throw invalid(kind, name, field, v, 'must be greater than or equal to 0');
    return;
  }
  const m = typeof v === 'string' ? /^(\d+)%$/.exec(v) : null;
  if (!m) throw invalid(kind, name, field, v ?? null, "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')");
  if (Number(m[1]) > 100) throw invalid(kind, name, field, v, 'must not be greater than 100%');
}

function checkLabelSelector(kind: string, name: string, field: string, sel: unknown): LabelSelector | undefined {
  if (sel === undefined || sel === null) return undefined;
  if (!isPlainObject(sel)) throw invalid(kind, name, field, sel, 'must be an object');
  if (sel.matchLabels !== undefined && !isStringMap(sel.matchLabels)) throw invalid(kind, name, `${field}.matchLabels`, sel.matchLabels, 'must be a map of strings');
  const exprs = sel.matchExpressions;
  if (exprs !== undefined) {
    if (!Array.isArray(exprs)) throw invalid(kind, name, `${field}.matchExpressions`, exprs, 'must be a list');
    exprs.forEach((e: unknown, i) => {
      const f = `${field}.matchExpressions[${i}]`;
      if (!isPlainObject(e) || typeof e.key !== 'string' || !e.key) throw invalid(kind, name, `${f}.key`, null, 'Required value');
      if (typeof e.operator !== 'string' || !SELECTOR_OPERATORS.includes(e.operator)) throw invalid(kind, name, `${f}.operator`, e.operator ?? null, 'not a valid selector operator');
      const values = e.values;
      if (values !== undefined && (!Array.isArray(values) || !values.every((x) => typeof x === 'string'))) throw invalid(kind, name, `${f}.values`, values, 'must be a list of strings');
      const needsValues = e.operator === 'In' || e.operator === 'NotIn';
      if (needsValues !== (Array.isArray(values) && values.length > 0)) {
        throw invalid(kind, name, `${f}.values`, values ?? null, needsValues ? 'must be specified when `operator` is \'In\' or \'NotIn\'' : 'may not be specified when `operator` is \'Exists\' or \'DoesNotExist\'');
      }
    });
  }
  return sel as LabelSelector;
}

/**
 * Validate a policy/v1 PodDisruptionBudget written by a client: on create (`current` undefined)
 * the name comes from the body; status always belongs to the disruption controller.
 */
export function validatePdb(body: unknown, ns: string, current?: PodDisruptionBudget): PodDisruptionBudget {
  const kind = 'PodDisruptionBudget.policy';
  if (!isPlainObject(body)) throw badRequest('the body of the request must be a JSON object');
  let meta: ObjectMeta;
  if (current) {
    meta = mergeMeta(body, current.metadata);
  } else {
    const m = isPlainObject(body.metadata) ? body.metadata : {};
    const name = m.name;
    if (typeof name !== 'string' || !name) throw invalid(kind, '', 'metadata.name', null, 'name or generateName is required');
    if (!NAME_RE.test(name)) throw invalid(kind, name, 'metadata.name', name, "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'");
    meta = mergeMeta(body, { name, namespace: ns, uid: '', resourceVersion: '', creationTimestamp: '', generation: 1 });
  }
  const name = meta.name;
  const spec = body.spec ?? {};
  if (!isPlainObject(spec)) throw invalid(kind, name, 'spec', spec, 'must be an object');
  checkIntOrPercent(kind, name, 'spec.minAvailable', spec.minAvailable);
  checkIntOrPercent(kind, name, 'spec.maxUnavailable', spec.maxUnavailable);
  if (spec.minAvailable != null && spec.maxUnavailable != null) {
    throw invalid(kind, name, 'spec', spec, 'minAvailable and maxUnavailable cannot be both set');
  }
  checkLabelSelector(kind, name, 'spec.selector', spec.selector);
  const next = { ...body, spec } as unknown as PodDisruptionBudget;
  next.apiVersion = 'policy/v1';
  next.kind = 'PodDisruptionBudget';
  next.metadata = meta;
  if (current && !deepEqual(spec, current.spec)) meta.generation = (current.metadata.generation ?? 1) + 1;
  next.status = current?.status ?? { currentHealthy: 0, desiredHealthy: 0, disruptionsAllowed: 0, expectedPods: 0 };
  return next;
}

/** `spec.replicas` of a Scale body (absent means 0, since ScaleSpec.replicas is `omitempty`). */
export function scaleReplicas(body: unknown, name: string): number {
  if (!isPlainObject(body)) throw badRequest('the body of the request must be a JSON object');
  const spec = body.spec ?? {};
  if (!isPlainObject(spec)) throw invalid('Scale.autoscaling', name, 'spec', spec, 'must be an object');
  const replicas = spec.replicas ?? 0;
  if (!isNonNegativeInt(replicas)) {
    throw invalid('Scale.autoscaling', name, 'spec.replicas', replicas, 'must be greater than or equal to 0');
  }
  return replicas;
}
