// CPU and memory of a Deployment's pods as a share of what they request: metrics-server's usage
// per container over the pod spec's requests. Pure, so the arithmetic is tested without a cluster.
import type * as k8s from '@kubernetes/client-node';
import { formatBytes, formatCpu, parseQuantity } from './quantity.ts';

/** One item of a metrics.k8s.io/v1beta1 PodMetricsList (only what is read). */
export interface PodMetric {
  metadata: { name: string };
  containers: { name: string; usage: { cpu?: string; memory?: string } }[];
}

export interface PodShare {
  pod: string;
  /** Usage and request summed over the containers that request the resource; pct undefined when none does. */
  cpu: { used: number; requested: number; pct?: number };
  memory: { used: number; requested: number; pct?: number };
}

export interface UsageSummary {
  /** Pods with metrics and at least one request, highest share first. */
  pods: PodShare[];
  cpu?: { avg: number; max: number };
  memory?: { avg: number; max: number };
  /** Running pods metrics-server has no numbers for yet. */
  withoutMetrics: string[];
  /** Containers (by name) left out of a share because they request nothing of it. */
  noCpuRequest: string[];
  noMemoryRequest: string[];
}

/** Containers that run beside the app: spec.containers and native sidecars (restartable init containers). */
function runningContainers(spec: k8s.V1PodSpec | undefined): k8s.V1Container[] {
  return [...(spec?.containers ?? []), ...(spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always')];
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

export function podUsage(pods: k8s.V1Pod[], metrics: PodMetric[]): UsageSummary {
  const byName = new Map(metrics.map((m) => [m.metadata.name, m]));
  const noCpu = new Set<string>();
  const noMemory = new Set<string>();
  const withoutMetrics: string[] = [];
  const shares: PodShare[] = [];
  for (const pod of pods) {
    const name = pod.metadata?.name ?? '?';
    const metric = byName.get(name);
    if (!metric) {
      withoutMetrics.push(name);
      continue;
    }
    const specs = new Map(runningContainers(pod.spec).map((c) => [c.name, c]));
    const cpu = { used: 0, requested: 0 };
    const memory = { used: 0, requested: 0 };
    for (const c of metric.containers) {
      const requests = specs.get(c.name)?.resources?.requests ?? {};
      const cpuRequest = parseQuantity(requests.cpu);
      const memoryRequest = parseQuantity(requests.memory);
      if (cpuRequest > 0) {
        cpu.requested += cpuRequest;
        cpu.used += parseQuantity(c.usage.cpu);
      } else {
        noCpu.add(c.name);
      }
      if (memoryRequest > 0) {
        memory.requested += memoryRequest;
        memory.used += parseQuantity(c.usage.memory);
      } else {
        noMemory.add(c.name);
      }
    }
    if (cpu.requested === 0 && memory.requested === 0) continue;
    shares.push({
      pod: name,
      cpu: { ...cpu, ...(cpu.requested > 0 ? { pct: round1((100 * cpu.used) / cpu.requested) } : {}) },
      memory: { ...memory, ...(memory.requested > 0 ? { pct: round1((100 * memory.used) / memory.requested) } : {}) },
    });
  }
  const stats = (values: number[]) =>
    values.length ? { avg: round1(values.reduce((a, b) => a + b, 0) / values.length), max: Math.max(...values) } : undefined;
  const cpuPcts = shares.flatMap((s) => (s.cpu.pct === undefined ? [] : [s.cpu.pct]));
  const memoryPcts = shares.flatMap((s) => (s.memory.pct === undefined ? [] : [s.memory.pct]));
  const peak = (s: PodShare) => Math.max(s.cpu.pct ?? 0, s.memory.pct ?? 0);
  shares.sort((a, b) => peak(b) - peak(a) || a.pod.localeCompare(b.pod));
  return {
    pods: shares,
    cpu: stats(cpuPcts),
    memory: stats(memoryPcts),
    withoutMetrics,
    noCpuRequest: [...noCpu].sort(),
    noMemoryRequest: [...noMemory].sort(),
  };
}

export function shareLine(s: PodShare): string {
  const part = (label: string, r: PodShare['cpu'], fmt: (x: number) => string) =>
    r.pct === undefined ? `${label} not requested` : `${label} ${fmt(r.used)} of ${fmt(r.requested)} (${r.pct}%)`;
  return `${s.pod}: ${part('CPU', s.cpu, formatCpu)}, ${part('memory', s.memory, formatBytes)}`;
}
