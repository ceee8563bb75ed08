// One scale target per catalog service, by platform: Kubernetes Deployments (kubeconfig contexts),
// Docker Compose services, Azure Container Apps. The composition root asks here; the runner sees
// only the ScaleTarget port.
import type * as k8s from '@kubernetes/client-node';
import type { Catalog } from '../config/catalog.ts';
import type { Clock } from '../ports/clock.port.ts';
import type { ScaleTarget, TargetResolver } from '../ports/scale-target.port.ts';
import { composeTarget } from './compose/index.ts';
import { kubernetesTargets } from './kubernetes/kubernetes-targets.ts';

export interface TargetFactories {
  /** Azure Container Apps (its SDK is loaded only when the catalog has such services). */
  azure?: (service: string, target: Extract<Catalog['services'][string]['target'], { kind: 'azure-container-app' }>) => ScaleTarget;
}

export function catalogTargets(catalog: Catalog, kubeconfig: () => k8s.KubeConfig, clock: Clock, hooks: { onError?: (platform: string, code: number | string) => void } = {}, factories: TargetFactories = {}): TargetResolver {
  const services = Object.entries(catalog.services);
  // The kubeconfig is read only when the catalog has Kubernetes services.
  const kube = services.some(([, s]) => s.target.kind === 'kubernetes') ? kubernetesTargets(catalog, kubeconfig(), clock, { onError: (code) => hooks.onError?.('kubernetes', code) }) : undefined;
  const others = new Map<string, ScaleTarget>();
  for (const [name, service] of services) {
    const t = service.target;
    if (t.kind === 'docker-compose') others.set(name, composeTarget(t, { clock }));
    if (t.kind === 'azure-container-app' && factories.azure) others.set(name, factories.azure(name, t));
  }
  return (service) => {
    const kind = catalog.services[service]?.target.kind;
    if (kind === 'kubernetes' && kube) return kube(service);
    const target = others.get(service);
    if (target) return target;
    throw new Error(kind ? `service "${service}" runs on ${kind}, and this bot has no ${kind} adapter configured` : `no target for service "${service}"`);
  };
}
