// The audit record on a Redis Stream (`audit`), shared by every replica and trimmed to about the
// last 100,000 entries. Stream order is append order, which is what "oldest first" means here.
//
// `since` narrows the XRANGE by stream id (Redis's clock at append time, in ms) and then filters on
// the entry's own `at` (the appending replica's clock). The range starts CLOCK_SKEW_MS early so an
// entry is not missed when the two clocks disagree by less than that.
// An XADD that ioredis re-sends after a dropped connection can append an entry twice: the audit
// record is at-least-once.
import type { Redis } from 'ioredis';
import type { AuditEntry, AuditLog } from '../../ports/audit-log.port.ts';
import { type AuditFilter, matchesAuditFilter } from '../memory/memory-audit-log.ts';
import { DEFAULT_KEY_PREFIX } from './redis-connection.ts';

export interface RedisAuditLogOptions {
  /** Prepended to the stream's key (default `scalebot:`). */
  prefix?: string;
  /** Approximate number of entries kept (default 100,000). */
  maxLen?: number;
}

const CLOCK_SKEW_MS = 5 * 60 * 1000;
const PAGE = 500;

export class RedisAuditLog implements AuditLog {
  private readonly key: string;
  private readonly maxLen: number;

  constructor(
    private readonly redis: Redis,
    opts: RedisAuditLogOptions = {},
  ) {
    this.key = `${opts.prefix ?? DEFAULT_KEY_PREFIX}audit`;
    this.maxLen = opts.maxLen ?? 100_000;
  }

  async append(entry: AuditEntry): Promise<void> {
    await this.redis.xadd(this.key, 'MAXLEN', '~', this.maxLen, '*', 'entry', JSON.stringify(entry));
  }

  async read(filter: AuditFilter = {}): Promise<AuditEntry[]> {
    const limit = filter.limit ?? Number.POSITIVE_INFINITY;
    const found: AuditEntry[] = [];
    let start = filter.since === undefined ? '-' : String(Math.max(0, Math.floor(filter.since) - CLOCK_SKEW_MS));
    while (found.length < limit) {
      const page = await this.redis.xrange(this.key, start, '+', 'COUNT', PAGE);
      for (const [id, fields] of page) {
        const entry = parseEntry(id, fields);
        if (matchesAuditFilter(entry, filter)) found.push(entry);
        if (found.length >= limit) break;
      }
      const last = page.at(-1);
      if (!last || page.length < PAGE) break;
      start = `(${last[0]}`;
    }
    return found;
  }
}

function parseEntry(id: string, fields: string[]): AuditEntry {
  const at = fields.indexOf('entry');
  const json = at >= 0 && at % 2 === 0 ? fields[at + 1] : undefined;
  const value: unknown = json === undefined ? undefined : JSON.parse(json);
  if (typeof value !== 'object' || value === null || typeof (value as AuditEntry).at !== 'number') {
    throw new Error(`audit stream entry ${id} is not an audit entry`);
  }
  return value as AuditEntry;
}
