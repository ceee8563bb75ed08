// Which of a service's catalog sources a probe measures: the one `with: { source: … }` names, or
// else the only one of the kind the probe needs. Anything else is a configuration problem, told
// with the names that exist and what to write.
import type { ServiceConfig, SourceConfig } from '../../config/catalog.ts';
import { Unmeasurable } from '../../ports/probe.port.ts';

export type SourceKind = SourceConfig['kind'];
export type SourceOfKind<K extends SourceKind> = Extract<SourceConfig, { kind: K }>;

export interface ResolvedSource<K extends SourceKind> {
  name: string;
  source: SourceOfKind<K>;
}

function isKind<K extends SourceKind>(source: SourceConfig, kind: K): source is SourceOfKind<K> {
  return source.kind === kind;
}

function listSources(entries: [string, SourceConfig][]): string {
  return entries.length ? entries.map(([name, s]) => `${name} (${s.kind})`).join(', ') : 'none';
}

export function resolveSource<K extends SourceKind>(
  serviceName: string,
  service: ServiceConfig,
  probe: string,
  kind: K,
  named: string | undefined,
): ResolvedSource<K> {
  const entries = Object.entries(service.sources);
  if (named !== undefined) {
    const source = Object.hasOwn(service.sources, named) ? service.sources[named] : undefined;
    if (!source) {
      throw new Unmeasurable(`service "${serviceName}" has no source named "${named}" (its sources: ${listSources(entries)}); fix the step's with: { source: … } or add it under services.${serviceName}.sources in the catalog`);
    }
    if (!isKind(source, kind)) {
      throw new Unmeasurable(`source "${named}" of service "${serviceName}" is a ${source.kind} source, but ${probe} needs a ${kind} source`);
    }
    return { name: named, source };
  }
  const candidates = entries.filter((entry): entry is [string, SourceOfKind<K>] => isKind(entry[1], kind));
  const [only, ...others] = candidates;
  if (!only) {
    throw new Unmeasurable(`service "${serviceName}" has no ${kind} source for ${probe} (its sources: ${listSources(entries)}); add one under services.${serviceName}.sources in the catalog, e.g. { kind: ${kind}, url: … }`);
  }
  if (others.length) {
    const names = candidates.map(([name]) => name);
    throw new Unmeasurable(`service "${serviceName}" has ${names.length} ${kind} sources (${names.join(', ')}); say which one the step measures, e.g. with: { source: ${names[0]} }`);
  }
  return { name: only[0], source: only[1] };
}
