// Coordination for one process: leases, the effect journal and seen-keys in maps. The default when
// REDIS_URL is not set; a second replica would not see any of it. `now` is injected so tests can
// expire leases and seen-keys without sleeping.
import type { Coordination, EffectRecord, Lease } from '../../ports/coordination.port.ts';

export interface MemoryCoordinationOptions {
  /** Current time in epoch ms (default `Date.now`). */
  now?: () => number;
}

interface HeldLease extends Lease {
  expiresAt: number;
}

export class MemoryCoordination implements Coordination {
  private readonly now: () => number;
  private readonly leases = new Map<string, HeldLease>();
  private readonly tokens = new Map<string, number>();
  private readonly effects = new Map<string, EffectRecord>();
  private readonly seen = new Map<string, number>();

  constructor(opts: MemoryCoordinationOptions = {}) {
    this.now = opts.now ?? Date.now;
  }

  private live(runId: string): HeldLease | undefined {
    const lease = this.leases.get(runId);
    if (lease && lease.expiresAt > this.now()) return lease;
    if (lease) this.leases.delete(runId);
    return undefined;
  }

  private grant(runId: string, owner: string, ttlMs: number): Lease {
    const token = (this.tokens.get(runId) ?? 0) + 1;
    this.tokens.set(runId, token);
    this.leases.set(runId, { owner, token, expiresAt: this.now() + ttlMs });
    return { owner, token };
  }

  async acquireLease(runId: string, owner: string, ttlMs: number): Promise<Lease | undefined> {
    const held = this.live(runId);
    if (!held) return this.grant(runId, owner, ttlMs);
    if (held.owner !== owner) return undefined;
    held.expiresAt = this.now() + ttlMs;
    return { owner, token: held.token };
  }

  async takeLease(runId: string, owner: string, ttlMs: number): Promise<Lease> {
    return this.grant(runId, owner, ttlMs);
  }

  async renewLease(runId: string, lease: Lease, ttlMs: number): Promise<boolean> {
    const held = this.live(runId);
    if (!held || held.owner !== lease.owner || held.token !== lease.token) return false;
    held.expiresAt = this.now() + ttlMs;
    return true;
  }

  async releaseLease(runId: string, lease: Lease): Promise<void> {
    const held = this.live(runId);
    if (held && held.owner === lease.owner && held.token === lease.token) this.leases.delete(runId);
  }

  async leaseOf(runId: string): Promise<Lease | undefined> {
    const held = this.live(runId);
    return held ? { owner: held.owner, token: held.token } : undefined;
  }

  async beginEffect(key: string, owner: string, at: number): Promise<boolean> {
    if (this.effects.has(key)) return false;
    this.effects.set(key, { state: 'started', owner, at });
    return true;
  }

  async completeEffect(key: string, owner: string, at: number, result: string): Promise<void> {
    if (this.effects.get(key)?.state === 'done') return;
    this.effects.set(key, { state: 'done', owner, at, result });
  }

  async effectRecord(key: string): Promise<EffectRecord | undefined> {
    const record = this.effects.get(key);
    return record ? { ...record } : undefined;
  }

  async firstSeen(key: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    const until = this.seen.get(key);
    if (until !== undefined && until > now) return false;
    this.seen.set(key, now + ttlMs);
    if (this.seen.size > 10_000) {
      for (const [k, expiresAt] of this.seen) if (expiresAt <= now) this.seen.delete(k);
    }
    return true;
  }
}
