// The Coordination contract (leases, effect journal, first-seen keys), run against every
// implementation. `open` returns a fresh instance and a way to let time pass: the memory one moves
// its injected clock, the Redis one really waits (its TTLs are Redis's), so the TTLs here are short.
import { describe, expect, it } from 'vitest';
import type { Coordination } from '../../src/ports/coordination.port.ts';

export interface CoordinationUnderTest {
  coordination: Coordination;
  /** Lets `ms` pass for TTLs. */
  elapse(ms: number): Promise<void>;
}

export function coordinationContract(implementation: string, open: () => Promise<CoordinationUnderTest>): void {
  describe(`Coordination contract: ${implementation}`, () => {
    describe('leases', () => {
      it('a free lease is acquired with a positive token and reported by leaseOf', async () => {
        const { coordination: c } = await open();
        expect(await c.leaseOf('run-a')).toBeUndefined();
        const lease = await c.acquireLease('run-a', 'replica-1', 10_000);
        expect(lease).toEqual({ owner: 'replica-1', token: expect.any(Number) });
        expect(lease!.token).toBeGreaterThan(0);
        expect(await c.leaseOf('run-a')).toEqual(lease);
        expect(await c.leaseOf('run-b')).toBeUndefined();
      });

      it('a held lease is refused to another owner and renewed (same token) for its owner', async () => {
        const { coordination: c } = await open();
        const lease = await c.acquireLease('run-a', 'replica-1', 10_000);
        expect(await c.acquireLease('run-a', 'replica-2', 10_000)).toBeUndefined();
        expect(await c.acquireLease('run-a', 'replica-1', 10_000)).toEqual(lease);
        expect(await c.leaseOf('run-a')).toEqual(lease);
      });

      it('an expired lease is free: another owner takes it over with a higher token', async () => {
        const { coordination: c, elapse } = await open();
        const first = (await c.acquireLease('run-a', 'replica-1', 100))!;
        await elapse(200);
        expect(await c.leaseOf('run-a')).toBeUndefined();
        const second = (await c.acquireLease('run-a', 'replica-2', 10_000))!;
        expect(second.owner).toBe('replica-2');
        expect(second.token).toBeGreaterThan(first.token);
        expect(await c.leaseOf('run-a')).toEqual(second);
      });

      it('a stale owner can neither renew nor release the lease someone took over', async () => {
        const { coordination: c, elapse } = await open();
        const stale = (await c.acquireLease('run-a', 'replica-1', 100))!;
        await elapse(200);
        const current = (await c.acquireLease('run-a', 'replica-2', 10_000))!;
        expect(await c.renewLease('run-a', stale, 10_000)).toBe(false);
        await c.releaseLease('run-a', stale);
        expect(await c.leaseOf('run-a')).toEqual(current);
      });

      it('the same owner with an old token is stale too (fencing is by token, not by name)', async () => {
        const { coordination: c, elapse } = await open();
        const old = (await c.acquireLease('run-a', 'replica-1', 100))!;
        await elapse(200);
        const fresh = (await c.acquireLease('run-a', 'replica-1', 10_000))!;
        expect(fresh.token).toBeGreaterThan(old.token);
        expect(await c.renewLease('run-a', old, 10_000)).toBe(false);
        await c.releaseLease('run-a', old);
        expect(await c.leaseOf('run-a')).toEqual(fresh);
        expect(await c.renewLease('run-a', fresh, 10_000)).toBe(true);
      });

      it('an expired lease cannot be renewed, even by its owner when nobody took it', async () => {
        const { coordination: c, elapse } = await open();
        const lease = (await c.acquireLease('run-a', 'replica-1', 100))!;
        await elapse(200);
        expect(await c.renewLease('run-a', lease, 10_000)).toBe(false);
        expect(await c.leaseOf('run-a')).toBeUndefined();
      });

      it('renewing extends the lease past its first expiry', async () => {
        const { coordination: c, elapse } = await open();
        const lease = (await c.acquireLease('run-a', 'replica-1', 600))!;
        await elapse(400);
        expect(await c.renewLease('run-a', lease, 600)).toBe(true);
        await elapse(400); // 800 ms after acquiring: past the first TTL, within the renewed one
        expect(await c.leaseOf('run-a')).toEqual(lease);
        expect(await c.acquireLease('run-a', 'replica-2', 600)).toBeUndefined();
      });

      it('release frees the lease for the next owner, whose token is higher', async () => {
        const { coordination: c } = await open();
        const first = (await c.acquireLease('run-a', 'replica-1', 10_000))!;
        await c.releaseLease('run-a', first);
        expect(await c.leaseOf('run-a')).toBeUndefined();
        const second = (await c.acquireLease('run-a', 'replica-2', 10_000))!;
        expect(second.token).toBeGreaterThan(first.token);
      });

      it('takeLease takes a held lease with a higher token; the previous holder is fenced off', async () => {
        const { coordination: c } = await open();
        const held = (await c.acquireLease('run-a', 'replica-1', 10_000))!;
        const taken = await c.takeLease('run-a', 'replica-2', 10_000);
        expect(taken.owner).toBe('replica-2');
        expect(taken.token).toBeGreaterThan(held.token);
        expect(await c.leaseOf('run-a')).toEqual(taken);
        expect(await c.renewLease('run-a', held, 10_000)).toBe(false);
        // Taking again, even by the same owner, issues a new token.
        const again = await c.takeLease('run-a', 'replica-2', 10_000);
        expect(again.token).toBeGreaterThan(taken.token);
        expect(await c.renewLease('run-a', taken, 10_000)).toBe(false);
      });

      it('tokens are per run and strictly increase across all acquisitions', async () => {
        const { coordination: c } = await open();
        const tokens: number[] = [];
        for (let i = 0; i < 5; i++) {
          const lease = i % 2 ? await c.takeLease('run-a', `replica-${i}`, 10_000) : (await c.acquireLease('run-a', `replica-${i}`, 10_000))!;
          tokens.push(lease.token);
          await c.releaseLease('run-a', lease);
        }
        expect(tokens).toEqual([...tokens].sort((a, b) => a - b));
        expect(new Set(tokens).size).toBe(5);
        expect(await c.acquireLease('run-b', 'replica-1', 10_000)).toBeDefined();
      });

      it('50 replicas racing for a free lease: exactly one gets it', async () => {
        const { coordination: c } = await open();
        const results = await Promise.all(Array.from({ length: 50 }, (_, i) => c.acquireLease('run-a', `replica-${i}`, 10_000)));
        const winners = results.filter((r) => r !== undefined);
        expect(winners).toHaveLength(1);
        expect(await c.leaseOf('run-a')).toEqual(winners[0]);
      });
    });

    describe('effect outcomes', () => {
      it('the first outcome recorded stands: a late executor cannot overwrite a reconciled result', async () => {
        const { coordination: c } = await open();
        expect(await c.beginEffect('run-z/scale', 'replica-1', 1)).toBe(true);
        await c.completeEffect('run-z/scale', 'replica-2', 2, 'reconciled: applied');
        await c.completeEffect('run-z/scale', 'replica-1', 3, 'late: failed');
        expect(await c.effectRecord('run-z/scale')).toMatchObject({ state: 'done', owner: 'replica-2', result: 'reconciled: applied' });
      });
    });

    describe('effect journal', () => {
      it('records started, then done with the result', async () => {
        const { coordination: c } = await open();
        expect(await c.effectRecord('run-a/execute/1')).toBeUndefined();
        expect(await c.beginEffect('run-a/execute/1', 'replica-1', 1000)).toBe(true);
        expect(await c.effectRecord('run-a/execute/1')).toEqual({ state: 'started', owner: 'replica-1', at: 1000 });
        await c.completeEffect('run-a/execute/1', 'replica-1', 2000, '{"type":"action-done"}');
        expect(await c.effectRecord('run-a/execute/1')).toEqual({ state: 'done', owner: 'replica-1', at: 2000, result: '{"type":"action-done"}' });
      });

      it('begins an effect once per key, ever: not again by anyone, not after it is done', async () => {
        const { coordination: c } = await open();
        expect(await c.beginEffect('k', 'replica-1', 1)).toBe(true);
        expect(await c.beginEffect('k', 'replica-1', 2)).toBe(false);
        expect(await c.beginEffect('k', 'replica-2', 3)).toBe(false);
        await c.completeEffect('k', 'replica-1', 4, 'ok');
        expect(await c.beginEffect('k', 'replica-2', 5)).toBe(false);
        expect(await c.effectRecord('k')).toEqual({ state: 'done', owner: 'replica-1', at: 4, result: 'ok' });
        expect(await c.beginEffect('other-key', 'replica-2', 6)).toBe(true);
      });

      it('50 concurrent callers begin one effect: exactly one succeeds and the record names it', async () => {
        const { coordination: c } = await open();
        const results = await Promise.all(Array.from({ length: 50 }, (_, i) => c.beginEffect('run-a/execute/1', `replica-${i}`, i)));
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = results.indexOf(true);
        expect(await c.effectRecord('run-a/execute/1')).toEqual({ state: 'started', owner: `replica-${winner}`, at: winner });
      });
    });

    describe('first seen', () => {
      it('is true once per key within the TTL, and again after it', async () => {
        const { coordination: c, elapse } = await open();
        expect(await c.firstSeen('envelope-1', 100)).toBe(true);
        expect(await c.firstSeen('envelope-1', 100)).toBe(false);
        expect(await c.firstSeen('envelope-2', 100)).toBe(true);
        await elapse(200);
        expect(await c.firstSeen('envelope-1', 100)).toBe(true);
        expect(await c.firstSeen('envelope-1', 100)).toBe(false);
      });

      it('50 concurrent deliveries of one envelope: exactly one is first', async () => {
        const { coordination: c } = await open();
        const results = await Promise.all(Array.from({ length: 50 }, () => c.firstSeen('envelope-1', 60_000)));
        expect(results.filter(Boolean)).toHaveLength(1);
      });
    });
  });
}
