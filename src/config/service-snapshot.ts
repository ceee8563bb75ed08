// The part of the catalog a run carries with it.
import type { ServiceSnapshot } from '../engine/run.ts';
import { targetKey, targetLabel, type Catalog } from './catalog.ts';
import { parseDuration } from '../workflows/duration.ts';

export function serviceSnapshot(catalog: Catalog, name: string): ServiceSnapshot | undefined {
  const service = catalog.services[name];
  if (!service) return undefined;
  return {
    name,
    description: service.description,
    targetKey: targetKey(service),
    targetLabel: targetLabel(service),
    namespace: service.target.kind === 'kubernetes' ? service.target.namespace : undefined,
    limits: service.limits,
    approvals: { required: service.approvals.required, approvers: service.approvals.approvers },
    channel: service.channel ?? catalog.channel,
    params: { ...service.params },
    databases: Object.keys(service.databases),
    scaleDownAfterMs: parseDuration(service['scale-down-after']),
    peakWindows: service['peak-windows'].map((w) => ({ ...w, days: [...w.days] })),
  };
}
