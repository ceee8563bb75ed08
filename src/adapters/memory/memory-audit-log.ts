// The audit record kept in process: the default when REDIS_URL is not set (lost on restart).
import type { AuditEntry, AuditLog } from '../../ports/audit-log.port.ts';

/**
 * What `read` selects (the port's filter). `since`: entries whose `at` is at or after it (epoch ms).
 * `limit`: at most this many, the OLDEST that match (reading forward, like paging through the log).
 * Shared with the Redis log so both select the same way.
 */
export type AuditFilter = NonNullable<Parameters<AuditLog['read']>[0]>;

export function matchesAuditFilter(entry: AuditEntry, filter: AuditFilter): boolean {
  return (filter.runId === undefined || entry.runId === filter.runId)
    && (filter.service === undefined || entry.service === filter.service)
    && (filter.since === undefined || entry.at >= filter.since);
}

export class MemoryAuditLog implements AuditLog {
  private readonly entries: AuditEntry[] = [];

  async append(entry: AuditEntry): Promise<void> {
    this.entries.push(structuredClone(entry));
  }

  async read(filter: AuditFilter = {}): Promise<AuditEntry[]> {
    const limit = filter.limit ?? Number.POSITIVE_INFINITY;
    const found: AuditEntry[] = [];
    for (const entry of this.entries) {
      if (found.length >= limit) break;
      if (matchesAuditFilter(entry, filter)) found.push(structuredClone(entry));
    }
    return found;
  }
}
