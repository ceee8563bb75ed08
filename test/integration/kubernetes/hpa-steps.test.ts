/**
 * HPA steps of their own (seed 003's event pre-scale: raise maxReplicas, disable HPA scale-down),
 * planned and applied by the real adapter against the simulated API server, and undone.
 */
import * as k8s from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { KubernetesTarget } from '../../../src/adapters/kubernetes/kubernetes-target.ts';
import { systemClock } from '../../../src/ports/clock.port.ts';
import { startKubeApiServer, type KubeApiServer } from '../../servers/kube-api-server.ts';

const NS = 'prod';
const servers: KubeApiServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function setup() {
  const server = await startKubeApiServer({ tickMs: 10 });
  servers.push(server);
  server.addNode({ name: 'node-1', cpu: '8', memory: '32Gi' });
  server.addDeployment({ namespace: NS, name: 'api', replicas: 3, cpuRequest: '250m', memoryRequest: '256Mi' });
  server.addHpa({ namespace: NS, name: 'api', target: 'api', minReplicas: 3, maxReplicas: 10 });
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(server.kubeconfigPath);
  return { server, target: new KubernetesTarget(kc, { namespace: NS, deployment: 'api' }, systemClock) };
}

type Behavior = { scaleDown?: { selectPolicy?: string } } | undefined;

describe('HPA steps', () => {
  it('hpa-bounds: plans from the real bounds, applies only the HPA, and undoes', async () => {
    const { server, target } = await setup();
    const plan = await target.planStep({ kind: 'target', operation: 'hpa-bounds', max: 20 });
    expect(plan.summary).toBe('Set HPA prod/api bounds 3..10 → 3..20');
    expect(plan.calls[0]).toContain('"maxReplicas":20');
    expect(plan.change.kind).toBe('target');
    if (plan.change.kind !== 'target') return;
    const done = await target.apply(plan.change.operation);
    expect(done.after.hpa).toMatchObject({ minReplicas: 3, maxReplicas: 20 });
    expect(server.getHpa(NS, 'api')!.spec.maxReplicas).toBe(20);
    await target.apply(plan.change.undo!);
    expect(server.getHpa(NS, 'api')!.spec.maxReplicas).toBe(10);
  });

  it('hpa-scale-down: disabled around an event (selectPolicy Disabled), then restored to what it was', async () => {
    const { server, target } = await setup();
    const plan = await target.planStep({ kind: 'target', operation: 'hpa-scale-down', enabled: false });
    expect(plan.summary).toContain('Disable scale-down of HPA prod/api');
    if (plan.change.kind !== 'target') throw new Error('expected a target change');
    const done = await target.apply(plan.change.operation);
    expect(done.after.hpa?.scaleDownDisabled).toBe(true);
    expect((server.getHpa(NS, 'api')!.spec.behavior as Behavior)?.scaleDown?.selectPolicy).toBe('Disabled');
    // Applying again changes nothing; reconcile says applied.
    expect((await target.reconcile(plan.change.operation)).status).toBe('applied');
    await target.apply(plan.change.undo!);
    expect((server.getHpa(NS, 'api')!.spec.behavior as Behavior)?.scaleDown?.selectPolicy).toBeUndefined();
    // Re-enabling when it is not disabled has nothing to change.
    expect((await target.planStep({ kind: 'target', operation: 'hpa-scale-down', enabled: true })).changes).toBe(false);
  });

  it('refuses when the HPA changed since the plan, and when there is no HPA', async () => {
    const { server, target } = await setup();
    const plan = await target.planStep({ kind: 'target', operation: 'hpa-bounds', min: 5 });
    if (plan.change.kind !== 'target') throw new Error('expected a target change');
    const other = await target.planStep({ kind: 'target', operation: 'hpa-bounds', max: 12 });
    if (other.change.kind !== 'target') throw new Error('expected a target change');
    await target.apply(other.change.operation);
    await expect(target.apply(plan.change.operation)).rejects.toThrow(/changed since the plan was made/);
    server.addDeployment({ namespace: NS, name: 'solo', replicas: 1 });
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(server.kubeconfigPath);
    const solo = new KubernetesTarget(kc, { namespace: NS, deployment: 'solo' }, systemClock);
    await expect(solo.planStep({ kind: 'target', operation: 'hpa-bounds', max: 5 })).rejects.toThrow(/no HPA manages Deployment prod\/solo/);
  });
});
