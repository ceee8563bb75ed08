// The in-process run store: the default when REDIS_URL is not set. Correct for one bot process
// only — runs are lost on restart and a second replica would not see them (start-up says so).
import type { Run } from '../../engine/run.ts';
import { isActive } from '../../engine/run.ts';
import type { ClaimResult, RunStore } from '../../ports/run-store.port.ts';

export class MemoryRunStore implements RunStore {
  private readonly runs = new Map<string, Run>();
  private readonly holders = new Map<string, string>();

  async create(run: Run): Promise<void> {
    if (this.runs.has(run.id)) throw new Error(`run ${run.id} already exists`);
    this.runs.set(run.id, structuredClone({ ...run, version: 1 }));
  }

  async get(id: string): Promise<Run | undefined> {
    const run = this.runs.get(id);
    return run ? structuredClone(run) : undefined;
  }

  async compareAndSet(run: Run, expectedVersion: number): Promise<boolean> {
    const stored = this.runs.get(run.id);
    if (!stored || stored.version !== expectedVersion) return false;
    this.runs.set(run.id, structuredClone({ ...run, version: expectedVersion + 1 }));
    return true;
  }

  async list(filter: { active?: boolean; service?: string; limit?: number } = {}): Promise<Run[]> {
    const runs = [...this.runs.values()]
      .filter((r) => filter.active === undefined || isActive(r) === filter.active)
      .filter((r) => filter.service === undefined || r.service.name === filter.service)
      .sort((a, b) => b.createdAt - a.createdAt);
    return structuredClone(runs.slice(0, filter.limit ?? runs.length));
  }

  async claimTarget(targetKey: string, runId: string): Promise<ClaimResult> {
    const holder = this.holders.get(targetKey);
    // A holder whose run has finished (its release was lost) is replaced.
    const held = holder ? this.runs.get(holder) : undefined;
    if (holder && holder !== runId && !(held && !isActive(held))) return { claimed: false, holder };
    this.holders.set(targetKey, runId);
    return { claimed: true };
  }

  async releaseTarget(targetKey: string, runId: string): Promise<void> {
    if (this.holders.get(targetKey) === runId) this.holders.delete(targetKey);
  }
}
