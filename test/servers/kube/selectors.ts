/**
 * Label and field selectors, as accepted in the `labelSelector` / `fieldSelector` query parameters.
 *
 * Label selectors support the full string syntax: `a=b`, `a==b`, `a!=b`, `a in (x,y)`,
 * `a notin (x,y)`, `a` (exists) and `!a` (does not exist), comma-separated (ANDed).
 * Field selectors support `f=v`, `f==v` and `f!=v`, comma-separated; each resource type declares
 * which field labels it supports (unknown labels are a 400, like the real API server).
 */
import { badRequest } from './errors.ts';
import type { LabelSelector } from './types.ts';

export type LabelOp = '=' | '!=' | 'in' | 'notin' | 'exists' | '!exists';
export interface LabelRequirement { key: string; op: LabelOp; values: string[] }

export type FieldOp = '=' | '!=';
export interface FieldRequirement { field: string; op: FieldOp; value: string }

/** Split on commas that are not inside parentheses. */
function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  out.push(cur);
  return out.map((t) => t.trim()).filter((t) => t.length > 0);
}

const LABEL_KEY = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?\/)?[a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?$/;
const LABEL_VALUE = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?)?$/;

function checkKey(key: string, whole: string): void {
  if (!LABEL_KEY.test(key)) throw badRequest(`unable to parse requirement: invalid label key "${key}" in selector "${whole}"`);
}
function checkValue(v: string, whole: string): void {
  if (!LABEL_VALUE.test(v)) throw badRequest(`unable to parse requirement: invalid label value: "${v}" in selector "${whole}"`);
}

/** Parse a label selector string; throws a 400 {@link ApiError} on syntax errors. */
export function parseLabelSelector(selector: string | undefined): LabelRequirement[] {
  if (!selector || !selector.trim()) return [];
  const reqs: LabelRequirement[] = [];
  for (const term of splitTopLevel(selector)) {
    let m: RegExpExecArray | null;
    if ((m = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(term))) {
      const key = m[1] ?? '';
      checkKey(key, selector);
      const values = (m[3] ?? '').split(',').map((v) => v.trim()).filter((v) => v.length > 0);
      values.forEach((v) => checkValue(v, selector));
      reqs.push({ key, op: m[2] === 'in' ? 'in' : 'notin', values });
    } else if ((m = /^([^=!\s]+)\s*(==|!=|=)\s*(.*)$/.exec(term))) {
      const key = m[1] ?? '';
      const value = (m[3] ?? '').trim();
      checkKey(key, selector);
      checkValue(value, selector);
      reqs.push({ key, op: m[2] === '!=' ? '!=' : '=', values: [value] });
    } else if ((m = /^!\s*(\S+)$/.exec(term))) {
      checkKey(m[1] ?? '', selector);
      reqs.push({ key: m[1] ?? '', op: '!exists', values: [] });
    } else if (LABEL_KEY.test(term)) {
      reqs.push({ key: term, op: 'exists', values: [] });
    } else {
      throw badRequest(`unable to parse requirement: found '${term}', expected: key, !key, key=value, key!=value, key in (...), key notin (...)`);
    }
  }
  return reqs;
}

export function matchesLabels(reqs: LabelRequirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return reqs.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case '=': return has && v === r.values[0];
      case '!=': return !has || v !== r.values[0];
      case 'in': return has && v !== undefined && r.values.includes(v);
      case 'notin': return !has || v === undefined || !r.values.includes(v);
      case 'exists': return has;
      case '!exists': return !has;
    }
  });
}

/**
 * A `metav1.LabelSelector` object as requirements: `{}` matches everything, an absent selector
 * (`undefined`) matches nothing, as for a policy/v1 PodDisruptionBudget.
 */
export function fromLabelSelector(sel: LabelSelector | undefined): LabelRequirement[] | undefined {
  if (!sel) return undefined;
  const ops = { In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: '!exists' } as const;
  return [
    ...Object.entries(sel.matchLabels ?? {}).map(([key, v]) => ({ key, op: '=' as const, values: [v] })),
    ...(sel.matchExpressions ?? []).map((e) => ({ key: e.key, op: ops[e.operator], values: e.values ?? [] })),
  ];
}

/** Selector `matchLabels` map → equality selector string, e.g. `{app:"web"}` → `"app=web"`. */
export function labelsToSelectorString(labels: Record<string, string>): string {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
}

/**
 * Parse a field selector; `supported` lists the field labels this resource type accepts
 * (the real API server rejects others with `field label not supported: X`).
 */
export function parseFieldSelector(selector: string | undefined, supported: readonly string[]): FieldRequirement[] {
  if (!selector || !selector.trim()) return [];
  const reqs: FieldRequirement[] = [];
  for (const term of splitTopLevel(selector)) {
    const m = /^([^=!]+?)\s*(==|!=|=)\s*(.*)$/.exec(term);
    if (!m) throw badRequest(`invalid selector: '${selector}'; can't understand '${term}'`);
    const field = (m[1] ?? '').trim();
    if (!supported.includes(field)) throw badRequest(`field label not supported: ${field}`);
    reqs.push({ field, op: m[2] === '!=' ? '!=' : '=', value: (m[3] ?? '').trim() });
  }
  return reqs;
}

/** Read a dotted path (`status.phase`) from an object; missing values read as "". */
export function fieldValue(obj: unknown, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[part];
  }
  if (cur === undefined || cur === null) return '';
  return typeof cur === 'string' ? cur : String(cur);
}

export function matchesFields(reqs: FieldRequirement[], obj: unknown): boolean {
  return reqs.every((r) => {
    const v = fieldValue(obj, r.field);
    return r.op === '=' ? v === r.value : v !== r.value;
  });
}
