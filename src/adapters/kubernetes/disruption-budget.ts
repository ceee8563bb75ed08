// Which PodDisruptionBudgets cover a Deployment's pods, and their floor as numbers. Pure, so the
// arithmetic (percentages, selectors) is tested without a cluster.
import type * as k8s from '@kubernetes/client-node';

/** Whether a metav1.LabelSelector selects these labels. Absent selects nothing; `{}` everything (policy/v1). */
export function selectorMatches(selector: k8s.V1LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return false;
  const has = (key: string) => Object.hasOwn(labels, key);
  const labelsMatch = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  return labelsMatch && (selector.matchExpressions ?? []).every((e) => {
    const values = e.values ?? [];
    switch (e.operator) {
      case 'In':
        return has(e.key) && values.includes(labels[e.key]!);
      case 'NotIn':
        return !has(e.key) || !values.includes(labels[e.key]!);
      case 'Exists':
        return has(e.key);
      case 'DoesNotExist':
        return !has(e.key);
      default:
        return false; // an operator the API server would have refused
    }
  });
}

/** An int-or-percent against a total; percentages round up, as the disruption controller does for both fields. */
export function resolveIntOrPercent(value: number | string, total: number): number {
  if (typeof value === 'number') return value;
  const match = /^(\d+)%$/.exec(value.trim());
  if (!match) throw new Error(`"${value}" is neither a number nor a percentage`);
  return Math.ceil((Number(match[1]) * total) / 100);
}

export interface Floor {
  name: string;
  /** What the PDB says, for people: "minAvailable 50%". */
  rule: string;
  /** Pods that must stay available at `replicas` replicas. */
  minAvailable: number;
  /** Pods that may be unavailable at `replicas` replicas. */
  maxUnavailable: number;
}

/**
 * The floor one PDB sets for a Deployment at `replicas` replicas. minAvailable only: maxUnavailable
 * is what is left above it; maxUnavailable only: minAvailable is what it leaves; neither: no floor.
 */
export function floorOf(pdb: k8s.V1PodDisruptionBudget, replicas: number): Floor {
  const name = pdb.metadata?.name ?? '?';
  const { minAvailable, maxUnavailable } = pdb.spec ?? {};
  if (minAvailable !== undefined && minAvailable !== null) {
    const min = resolveIntOrPercent(minAvailable, replicas);
    return { name, rule: `minAvailable ${minAvailable}`, minAvailable: min, maxUnavailable: Math.max(0, replicas - min) };
  }
  if (maxUnavailable !== undefined && maxUnavailable !== null) {
    const max = resolveIntOrPercent(maxUnavailable, replicas);
    return { name, rule: `maxUnavailable ${maxUnavailable}`, minAvailable: Math.max(0, replicas - max), maxUnavailable: max };
  }
  return { name, rule: 'neither minAvailable nor maxUnavailable', minAvailable: 0, maxUnavailable: replicas };
}
