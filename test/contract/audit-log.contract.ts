// The AuditLog contract, run against every implementation. `open` returns a fresh, empty log.
// Times are near the real clock: the Redis log narrows `since` by stream ids, which are Redis's time.
import { describe, expect, it } from 'vitest';
import type { AuditEntry, AuditLog } from '../../src/ports/audit-log.port.ts';

export function auditLogContract(implementation: string, open: () => Promise<AuditLog>): void {
  describe(`AuditLog contract: ${implementation}`, () => {
    const t0 = Date.now();
    const entries: AuditEntry[] = [
      { at: t0, type: 'request', runId: 'run-a', service: 'api', user: 'U0ALICE', detail: 'api to 10 replicas' },
      { at: t0 + 10, type: 'tick', runId: 'run-a', service: 'api', user: 'U0BOB', detail: 'dashboards' },
      { at: t0 + 20, type: 'request', runId: 'run-b', service: 'web', user: 'U0CAROL' },
      {
        at: t0 + 30, type: 'action-done', runId: 'run-a', service: 'api', key: 'run-a/execute/1',
        before: { replicas: 5, hpa: { min: 3, max: 10 } }, after: { replicas: 10, hpa: null }, detail: 'scaled',
      },
      { at: t0 + 40, type: 'outcome', runId: 'run-b', service: 'web', detail: 'unchanged' },
      { at: t0 + 50, type: 'outcome', runId: 'run-a', service: 'api', detail: 'succeeded' },
    ];

    async function filled(): Promise<AuditLog> {
      const log = await open();
      for (const entry of entries) await log.append(entry);
      return log;
    }

    it('reads back every entry, field for field, oldest first', async () => {
      const log = await filled();
      expect(await log.read()).toEqual(entries);
      expect(await (await open()).read()).toEqual([]);
    });

    it('keeps append order (not `at` order) for entries appended out of time order', async () => {
      const log = await open();
      await log.append({ at: t0 + 5, type: 'tick', runId: 'run-a', service: 'api' });
      await log.append({ at: t0 + 1, type: 'untick', runId: 'run-a', service: 'api' });
      expect((await log.read()).map((e) => e.type)).toEqual(['tick', 'untick']);
    });

    it('filters by run, by service and by time (at or after `since`)', async () => {
      const log = await filled();
      expect(await log.read({ runId: 'run-a' })).toEqual(entries.filter((e) => e.runId === 'run-a'));
      expect(await log.read({ service: 'web' })).toEqual(entries.filter((e) => e.service === 'web'));
      expect(await log.read({ since: t0 + 30 })).toEqual(entries.slice(3));
      expect(await log.read({ since: t0 + 31 })).toEqual(entries.slice(4));
      expect(await log.read({ runId: 'run-a', since: t0 + 5 })).toEqual([entries[1], entries[3], entries[5]]);
      expect(await log.read({ runId: 'run-zzz' })).toEqual([]);
      expect(await log.read({ since: t0 + 60_000 })).toEqual([]);
    });

    it('limit keeps the oldest matching entries', async () => {
      const log = await filled();
      expect(await log.read({ limit: 2 })).toEqual(entries.slice(0, 2));
      expect(await log.read({ runId: 'run-b', limit: 1 })).toEqual([entries[2]]);
      expect(await log.read({ service: 'api', since: t0 + 10, limit: 2 })).toEqual([entries[1], entries[3]]);
      expect(await log.read({ limit: 0 })).toEqual([]);
    });

    it('keeps every entry of concurrent appends, and pages through a long log', async () => {
      const log = await open();
      await Promise.all(Array.from({ length: 1200 }, (_, i) => log.append({ at: t0 + i, type: 'tick', runId: `run-${i % 3}`, service: 'api', detail: String(i) })));
      const all = await log.read();
      expect(all).toHaveLength(1200);
      expect(new Set(all.map((e) => e.detail)).size).toBe(1200);
      const ofRun = await log.read({ runId: 'run-2', limit: 450 });
      expect(ofRun).toHaveLength(400);
      expect(ofRun.every((e) => e.runId === 'run-2')).toBe(true);
    });

    it('hands out copies: changing a read entry changes nothing stored', async () => {
      const log = await filled();
      const [first] = await log.read({ limit: 1 });
      first!.detail = 'tampered';
      expect((await log.read({ limit: 1 }))[0]?.detail).toBe('api to 10 replicas');
    });
  });
}
