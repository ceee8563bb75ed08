// An example catalog (examples/<system>/catalog.yml) as the end-to-end tests run it: as it is,
// with its workflows/ copied beside it, except that runs are posted in one channel and every probe
// source points at a local server (real PostgreSQL and Redis on this machine, the Prometheus and
// HTTP test servers). `edit` may change more; each call says why.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';

const ROOT = join(import.meta.dirname, '../..');
/** Real servers on this machine (trust auth, no password). */
export const PG_URL = 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = 'redis://127.0.0.1:6379/0';

export interface SourceDoc {
  kind: string;
  url: string;
  queries?: Record<string, string>;
  prefix?: string;
  name?: string;
  type?: string;
}
export type ServiceDoc = Record<string, unknown> & {
  approvals: { approvers: string[] };
  params?: Record<string, number>;
  sources?: Record<string, SourceDoc>;
  runbooks?: { up?: string; down?: string };
  channel?: string;
};
export interface CatalogDoc {
  channel: string;
  services: Record<string, ServiceDoc>;
}

/** Where the probes measure in a test: every source URL is replaced by a local one. */
export interface LocalSources {
  prometheus?: string;
  /** Base URL of the instances behind a balancer; the example's path is kept. */
  http?: string;
  /** BullMQ/Bull key prefix (and plain lists' key prefix), unique per test, so queues never meet another test's. */
  queuePrefix?: string;
}

export function exampleCatalog(system: string, local: LocalSources, opts: { channel?: string; edit?: (doc: CatalogDoc) => void } = {}): { file: string; dir: string; doc: CatalogDoc } {
  const example = join(ROOT, 'examples', system);
  const doc = parse(readFileSync(join(example, 'catalog.yml'), 'utf8')) as CatalogDoc;
  doc.channel = opts.channel ?? 'C0INFRA';
  for (const service of Object.values(doc.services)) {
    delete service.channel;
    for (const source of Object.values(service.sources ?? {})) {
      if (source.kind === 'prometheus') source.url = local.prometheus ?? 'http://127.0.0.1:9';
      if (source.kind === 'postgres') source.url = PG_URL;
      if (source.kind === 'redis') source.url = REDIS_URL;
      if (source.kind === 'queue') {
        source.url = REDIS_URL;
        // A plain list's name is its Redis key: prefixed too, so it is this test's alone.
        if (local.queuePrefix && source.type === 'list') source.name = `${local.queuePrefix}:${source.name}`;
        else if (local.queuePrefix) source.prefix = local.queuePrefix;
      }
      if (source.kind === 'http') source.url = `${local.http ?? 'http://127.0.0.1:9'}${new URL(source.url.replace(/\$\{[^}]*\}/g, 'x')).pathname}`;
    }
  }
  opts.edit?.(doc);
  const dir = mkdtempSync(join(tmpdir(), `scalebot-example-${system}-`));
  writeFileSync(join(dir, 'catalog.yml'), stringify(doc));
  cpSync(join(example, 'workflows'), join(dir, 'workflows'), { recursive: true });
  return { file: join(dir, 'catalog.yml'), dir, doc };
}

/** The first user (not group) among a service's approvers: the peer who approves in these tests. */
export function peerOf(doc: CatalogDoc, service: string): string {
  const peer = doc.services[service]?.approvals.approvers.find((a) => a.startsWith('U'));
  if (!peer) throw new Error(`no user approver for ${service}`);
  return peer;
}
