// Builds one KubernetesTarget per catalog service, each with its kubeconfig context.
import * as k8s from '@kubernetes/client-node';
import type { Catalog } from '../../config/catalog.ts';
import type { Clock } from '../../ports/clock.port.ts';
import type { ScaleTarget, TargetResolver } from '../../ports/scale-target.port.ts';
import { KubernetesTarget } from './kubernetes-target.ts';

/** Standard loading: KUBECONFIG (or ~/.kube/config), or in-cluster config when running in a pod. */
export function loadKubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromDefault();
  return kc;
}

export function kubernetesTargets(catalog: Catalog, base: k8s.KubeConfig, clock: Clock, hooks: { onError?: (code: number | string) => void } = {}): TargetResolver {
  const targets = new Map<string, ScaleTarget>();
  for (const [name, service] of Object.entries(catalog.services)) {
    const t = service.target;
    if (t.kind !== 'kubernetes') continue;
    let kc = base;
    if (t.context) {
      if (!base.getContextObject(t.context)) {
        throw new Error(`service ${name}: kubeconfig has no context "${t.context}" (known: ${base.getContexts().map((c) => c.name).join(', ') || 'none'})`);
      }
      kc = new k8s.KubeConfig();
      kc.loadFromString(base.exportConfig());
      kc.setCurrentContext(t.context);
    }
    targets.set(name, new KubernetesTarget(kc, { namespace: t.namespace, deployment: t.deployment, hpa: t.hpa, context: t.context }, clock, hooks.onError));
  }
  return (service) => {
    const target = targets.get(service);
    if (!target) throw new Error(`service "${service}" is not a Kubernetes service in the catalog`);
    return target;
  };
}
