// How a measurement names where it measured: "PostgreSQL db.internal:5432/app". Built from the
// parsed URL's host, port and path only, so no userinfo or query string can slip in.
import type { SourceConfig } from '../../config/catalog.ts';
import { parseSourceUrl, safeUrl } from './redact.ts';

/** The database whose connections count: the source's `database`, else the one the URL connects to. */
export function postgresDatabase(source: Extract<SourceConfig, { kind: 'postgres' }>, url: URL): string {
  return source.database ?? (decodeURIComponent(url.pathname.slice(1)) || decodeURIComponent(url.username) || 'postgres');
}

function hostPort(url: URL, defaultPort: number): string {
  return `${url.hostname || 'localhost'}:${url.port || defaultPort}`;
}

/** `path` is http.health's `with: { path }`. Throws (without echoing the URL) when the URL does not parse. */
export function sourceLabel(source: SourceConfig, path?: string): string {
  const url = parseSourceUrl(source.url);
  const redisDb = url.pathname.length > 1 ? url.pathname : '';
  switch (source.kind) {
    case 'prometheus':
      return `Prometheus ${safeUrl(url)}`;
    case 'postgres':
      return `PostgreSQL ${hostPort(url, 5432)}/${postgresDatabase(source, url)}`;
    case 'redis':
      return `Redis ${hostPort(url, 6379)}${redisDb}`;
    case 'queue':
      return `${source.type === 'list' ? 'list' : source.type === 'bullmq' ? 'BullMQ queue' : 'Bull queue'} ${source.name} on Redis ${hostPort(url, 6379)}${redisDb}`;
    case 'http':
      return `HTTP ${safeUrl(path ? new URL(path, url) : url)}`;
  }
}
