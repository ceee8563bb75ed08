// Checks the engine answers itself from the request and the catalog, with no I/O.
import type { CheckProbe } from '../workflows/runbook-schema.ts';
import type { ProbeResult, Run } from './run.ts';

export function evaluateRequestProbe(probe: CheckProbe, run: Pick<Run, 'request' | 'service'>, now: number): ProbeResult | undefined {
  if (probe !== 'request.limits') return undefined;
  const { min, max } = run.service.limits;
  const replicas = run.request.replicas;
  const ok = replicas >= min && replicas <= max;
  return {
    ok,
    summary: ok ? `${replicas} is within the limits ${min}..${max}` : `${replicas} is outside the limits ${min}..${max}`,
    value: replicas,
    threshold: `${min}..${max}`,
    source: 'service catalog',
    at: now,
  };
}
