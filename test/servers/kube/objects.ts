/**
 * Small helpers over the wire objects, shared by the simulated controllers: conditions,
 * pod-template hashes, pod resource requests and readiness.
 */
import { createHash } from 'node:crypto';
import { cpuToMillis, quantityToInt } from './quantity.ts';
import { nowIso } from './store.ts';
import type { LabelRequirement } from './selectors.ts';
import type { Condition, Deployment, DeploymentStatus, KubeObject, Pod, PodTemplateSpec } from './types.ts';

export type ConditionStyle = 'deployment' | 'pod' | 'plain';

/** Insert/replace a condition, keeping timestamps when nothing about it changed; `now` is the cluster's time. */
export function upsertCondition(list: Condition[] | undefined, c: Condition, style: ConditionStyle, now = nowIso()): Condition[] {
  const out = [...(list ?? [])];
  const i = out.findIndex((x) => x.type === c.type);
  const prev = i >= 0 ? out[i] : undefined;
  if (prev && prev.status === c.status && prev.reason === c.reason && prev.message === c.message) return out;
  const next: Condition = { type: c.type, status: c.status };
  if (style === 'pod') next.lastProbeTime = null;
  if (style === 'deployment') next.lastUpdateTime = now;
  next.lastTransitionTime = !prev || prev.status !== c.status ? now : (prev.lastTransitionTime ?? now);
  if (c.reason) next.reason = c.reason;
  if (c.message) next.message = c.message;
  if (i >= 0) out[i] = next;
  else out.push(next);
  return out;
}

export const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
export function safeEncode(bytes: Uint8Array, len: number): string {
  return Array.from(bytes.subarray(0, len), (b) => SAFE_ALPHABET[b % SAFE_ALPHABET.length]).join('');
}

/** Stable `pod-template-hash` for a pod template (10 chars, Kubernetes' "safe" alphabet). */
export function templateHash(t: PodTemplateSpec): string {
  return safeEncode(createHash('sha256').update(JSON.stringify(t)).digest(), 10);
}

export function podRequests(p: Pod): { cpu: number; mem: number } {
  let cpu = 0;
  let mem = 0;
  for (const c of p.spec.containers) {
    cpu += cpuToMillis(c.resources?.requests?.cpu ?? 0);
    mem += quantityToInt(c.resources?.requests?.memory ?? 0);
  }
  return { cpu, mem };
}

export const isReady = (p: Pod): boolean => p.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True');
export const isTerminal = (p: Pod): boolean => p.status.phase === 'Succeeded' || p.status.phase === 'Failed';
export const key = (o: KubeObject): string => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

export function selectorOf(d: Deployment): LabelRequirement[] {
  return Object.entries(d.spec.selector.matchLabels).map(([k, v]) => ({ key: k, op: '=' as const, values: [v] }));
}

/** Drop zero counters like the API server's `omitempty`. */
export function compactStatus(s: DeploymentStatus): DeploymentStatus {
  const out: DeploymentStatus = {};
  for (const k of ['observedGeneration', 'replicas', 'updatedReplicas', 'readyReplicas', 'availableReplicas', 'unavailableReplicas'] as const) {
    const v = s[k];
    if (v) out[k] = v;
  }
  if (s.conditions?.length) out.conditions = s.conditions;
  return out;
}
