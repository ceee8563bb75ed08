// The read-only probe `aws.aurora`: an Aurora cluster's capacity range, its writers and readers,
// and whether the cluster and every member are available. Reads only (DescribeDBClusters and
// DescribeDBInstances); a cluster it cannot read is "could not measure", with the reason.
import type { DatabaseState } from '../../ports/database-target.port.ts';
import { Unmeasurable, type Measurement } from '../../ports/probe.port.ts';
import { formatRange } from './capacity.ts';

/** A database target that can say where it measures (the Aurora target can). */
export interface ProbedDatabase {
  readonly source?: string;
  read(signal?: AbortSignal): Promise<DatabaseState>;
}

export const AURORA_PROBE = 'aws.aurora';
export const AURORA_PROBE_VALUES = ['min_acu', 'max_acu', 'readers', 'writers', 'available'] as const;

export async function auroraProbe(target: ProbedDatabase, opts: { signal?: AbortSignal; now?: () => number } = {}): Promise<Measurement> {
  const source = target.source ?? 'Amazon RDS';
  let state: DatabaseState;
  try {
    state = await target.read(opts.signal);
  } catch (error) {
    throw new Unmeasurable(error instanceof Error ? error.message : String(error));
  }
  const writers = state.members.filter((m) => m.role === 'writer');
  const readers = state.members.filter((m) => m.role === 'reader');
  const busy = state.members.filter((m) => m.status !== 'available');
  const available = state.status === 'available' && busy.length === 0 ? 1 : 0;
  const statusText = [state.status === 'available' ? undefined : state.status, ...busy.map((m) => `${m.id} ${m.status}`)].filter(Boolean).join(', ');
  return {
    values: {
      min_acu: state.capacity?.min ?? 0,
      max_acu: state.capacity?.max ?? 0,
      readers: readers.length,
      writers: writers.length,
      available,
    },
    summary: `cluster ${state.id} ${available ? 'available' : `not available (${statusText})`}: ${formatRange(state.capacity)}${state.capacity ? '' : ' (min_acu and max_acu read 0)'}, ${writers.length} writer${writers.length === 1 ? '' : 's'}, ${readers.length} reader${readers.length === 1 ? '' : 's'}`,
    source,
    at: (opts.now ?? Date.now)(),
    details: state.members.map((m) => `${m.role} ${m.id}: ${m.instanceClass}, ${m.status}`),
    ok: available === 1,
    threshold: 'the cluster and every member available',
  };
}
