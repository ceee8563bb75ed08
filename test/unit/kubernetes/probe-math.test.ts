// The pure arithmetic behind the Kubernetes probes: PDB selectors and floors, usage shares, selectors as query strings.
import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { floorOf, resolveIntOrPercent, selectorMatches } from '../../../src/adapters/kubernetes/disruption-budget.ts';
import { selectorString } from '../../../src/adapters/kubernetes/kubernetes-target.ts';
import { podUsage, shareLine, type PodMetric } from '../../../src/adapters/kubernetes/pod-usage.ts';

describe('selectorMatches (metav1.LabelSelector)', () => {
  const labels = { app: 'web', tier: 'front' };
  it.each([
    ['absent selects nothing', undefined, false],
    ['{} selects everything', {}, true],
    ['matchLabels', { matchLabels: { app: 'web' } }, true],
    ['matchLabels, other value', { matchLabels: { app: 'api' } }, false],
    ['In', { matchExpressions: [{ key: 'tier', operator: 'In', values: ['front', 'edge'] }] }, true],
    ['In, missing key', { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }, false],
    ['NotIn', { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['back'] }] }, true],
    ['NotIn, missing key', { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, true],
    ['Exists', { matchExpressions: [{ key: 'app', operator: 'Exists' }] }, true],
    ['DoesNotExist', { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, false],
    ['labels AND expressions', { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['back'] }] }, false],
    ['an unknown operator', { matchExpressions: [{ key: 'app', operator: 'Gt', values: ['1'] }] }, false],
  ] as [string, k8s.V1LabelSelector | undefined, boolean][])('%s', (_label, selector, expected) => {
    expect(selectorMatches(selector, labels)).toBe(expected);
  });
});

describe('resolveIntOrPercent and floorOf', () => {
  it('rounds percentages up, as the disruption controller does', () => {
    expect(resolveIntOrPercent('50%', 5)).toBe(3);
    expect(resolveIntOrPercent('30%', 5)).toBe(2);
    expect(resolveIntOrPercent('50%', 4)).toBe(2);
    expect(resolveIntOrPercent('0%', 7)).toBe(0);
    expect(resolveIntOrPercent('100%', 7)).toBe(7);
    expect(resolveIntOrPercent(2, 7)).toBe(2);
    expect(() => resolveIntOrPercent('two', 7)).toThrow('"two" is neither a number nor a percentage');
  });

  const pdb = (spec: k8s.V1PodDisruptionBudgetSpec): k8s.V1PodDisruptionBudget => ({ metadata: { name: 'web' }, spec });
  it('turns either field into both numbers', () => {
    expect(floorOf(pdb({ minAvailable: 2 }), 5)).toEqual({ name: 'web', rule: 'minAvailable 2', minAvailable: 2, maxUnavailable: 3 });
    expect(floorOf(pdb({ minAvailable: '50%' }), 5)).toEqual({ name: 'web', rule: 'minAvailable 50%', minAvailable: 3, maxUnavailable: 2 });
    expect(floorOf(pdb({ maxUnavailable: '30%' }), 5)).toEqual({ name: 'web', rule: 'maxUnavailable 30%', minAvailable: 3, maxUnavailable: 2 });
    expect(floorOf(pdb({ maxUnavailable: 1 }), 5)).toEqual({ name: 'web', rule: 'maxUnavailable 1', minAvailable: 4, maxUnavailable: 1 });
    expect(floorOf(pdb({ minAvailable: 7 }), 5)).toMatchObject({ minAvailable: 7, maxUnavailable: 0 });
    expect(floorOf(pdb({ maxUnavailable: 9 }), 5)).toMatchObject({ minAvailable: 0, maxUnavailable: 9 });
    expect(floorOf(pdb({}), 5)).toMatchObject({ rule: 'neither minAvailable nor maxUnavailable', minAvailable: 0, maxUnavailable: 5 });
  });
});

describe('podUsage', () => {
  const pod = (name: string, spec: k8s.V1PodSpec): k8s.V1Pod => ({ metadata: { name }, spec });
  const container = (name: string, requests?: Record<string, string>): k8s.V1Container => ({ name, ...(requests ? { resources: { requests } } : {}) });
  const metric = (name: string, containers: Record<string, { cpu: string; memory: string }>): PodMetric =>
    ({ metadata: { name }, containers: Object.entries(containers).map(([n, usage]) => ({ name: n, usage })) });

  it('counts native sidecars (restartable init containers) with their requests', () => {
    const spec: k8s.V1PodSpec = {
      containers: [container('app', { cpu: '500m', memory: '1Gi' })],
      initContainers: [{ ...container('mesh', { cpu: '500m', memory: '1Gi' }), restartPolicy: 'Always' }, container('migrate', { cpu: '2' })],
    };
    const u = podUsage([pod('p1', spec)], [metric('p1', { app: { cpu: '700m', memory: '512Mi' }, mesh: { cpu: '100m', memory: '512Mi' } })]);
    expect(u.pods).toEqual([{ pod: 'p1', cpu: { used: 0.8, requested: 1, pct: 80 }, memory: { used: 2 ** 30, requested: 2 ** 31, pct: 50 } }]);
    expect(u.cpu).toEqual({ avg: 80, max: 80 });
    expect(shareLine(u.pods[0]!)).toBe('p1: CPU 800m of 1 (80%), memory 1Gi of 2Gi (50%)');
  });

  it('lists pods without metrics, and containers without requests', () => {
    const spec = { containers: [container('app', { cpu: '100m' }), container('proxy')] };
    const u = podUsage(
      [pod('a', spec), pod('b', spec), pod('c', spec)],
      [metric('a', { app: { cpu: '30m', memory: '10Mi' }, proxy: { cpu: '5m', memory: '20Mi' } }), metric('b', { app: { cpu: '20m', memory: '10Mi' }, proxy: { cpu: '5m', memory: '20Mi' } })],
    );
    expect(u.withoutMetrics).toEqual(['c']);
    expect(u.noCpuRequest).toEqual(['proxy']);
    expect(u.noMemoryRequest).toEqual(['app', 'proxy']);
    expect(u.cpu).toEqual({ avg: 25, max: 30 });
    expect(u.memory).toBeUndefined();
    expect(u.pods.map((p) => p.pod)).toEqual(['a', 'b']);
    expect(shareLine(u.pods[1]!)).toBe('b: CPU 20m of 100m (20%), memory not requested');
  });

  it('leaves out pods that request nothing, and a metric for a container the spec does not name', () => {
    const u = podUsage(
      [pod('a', { containers: [container('app')] }), pod('b', { containers: [container('app', { memory: '100Mi' })] })],
      [metric('a', { app: { cpu: '1', memory: '1Gi' } }), metric('b', { app: { cpu: '1', memory: '33Mi' }, ghost: { cpu: '1', memory: '1Gi' } })],
    );
    expect(u.pods).toHaveLength(1);
    expect(u.memory).toEqual({ avg: 33, max: 33 });
    expect(u.noMemoryRequest).toEqual(['app', 'ghost']);
  });

  it('averages per pod (one decimal) and takes the highest', () => {
    const spec = { containers: [container('app', { cpu: '300m' })] };
    const u = podUsage(['a', 'b', 'c'].map((n) => pod(n, spec)), [
      metric('a', { app: { cpu: '100m', memory: '1Mi' } }),
      metric('b', { app: { cpu: '100m', memory: '1Mi' } }),
      metric('c', { app: { cpu: '200m', memory: '1Mi' } }),
    ]);
    expect(u.cpu).toEqual({ avg: 44.4, max: 66.7 });
    expect(u.pods[0]?.pod).toBe('c');
  });
});

describe('selectorString', () => {
  it('writes matchLabels and matchExpressions as a labelSelector query', () => {
    expect(selectorString({ matchLabels: { app: 'web', tier: 'front' } })).toBe('app=web,tier=front');
    expect(selectorString({
      matchLabels: { app: 'web' },
      matchExpressions: [
        { key: 'track', operator: 'In', values: ['stable', 'canary'] },
        { key: 'zone', operator: 'NotIn', values: ['a'] },
        { key: 'managed', operator: 'Exists' },
        { key: 'legacy', operator: 'DoesNotExist' },
      ],
    })).toBe('app=web,track in (stable,canary),zone notin (a),managed,!legacy');
    expect(selectorString(undefined)).toBe('');
  });
});
