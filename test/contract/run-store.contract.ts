// The RunStore contract: what every implementation (memory, Redis) must do, run against each by
// memory.contract.test.ts and redis.contract.test.ts. `open` returns a fresh, empty store.
import { describe, expect, it } from 'vitest';
import type { Run, RunStatus } from '../../src/engine/run.ts';
import { createRun } from '../../src/engine/transition.ts';
import type { RunStore } from '../../src/ports/run-store.port.ts';
import type { Runbook } from '../../src/workflows/runbook-schema.ts';
import { scaleUpRunbook, service } from '../support/engine-fixtures.ts';

let runbook: Runbook | undefined;

/** A real run (as the engine creates it) at version 1. */
export function makeRun(id: string, opts: { createdAt?: number; service?: string; status?: RunStatus } = {}): Run {
  runbook ??= scaleUpRunbook();
  const name = opts.service ?? 'api-gateway';
  const { run } = createRun({
    id,
    now: opts.createdAt ?? Date.UTC(2026, 10, 23, 12, 0, 0),
    service: service({ name, targetKey: `kubernetes/(current)/prod/${name}` }),
    runbook,
    request: { replicas: 10, reason: 'campaign', dryRun: false, requester: 'U0ALICE', originChannel: 'C0INFRA' },
  });
  return { ...run, version: 1, status: opts.status ?? run.status };
}

export function runStoreContract(implementation: string, open: () => Promise<RunStore>): void {
  describe(`RunStore contract: ${implementation}`, () => {
    it('a target held by a finished run (its release was lost) can be claimed; one held by an active run cannot', async () => {
      const store = await open();
      const holder = makeRun('run-holder', { status: 'awaiting' });
      await store.create(holder);
      expect(await store.claimTarget('kubernetes/x', 'run-holder')).toEqual({ claimed: true });
      expect(await store.claimTarget('kubernetes/x', 'run-next')).toEqual({ claimed: false, holder: 'run-holder' });
      const stored = (await store.get('run-holder'))!;
      expect(await store.compareAndSet({ ...stored, status: 'succeeded' }, stored.version)).toBe(true);
      expect(await store.claimTarget('kubernetes/x', 'run-next')).toEqual({ claimed: true });
      expect(await store.claimTarget('kubernetes/x', 'run-third')).toEqual({ claimed: false, holder: 'run-next' });
    });

    it('creates a run at version 1 and reads back an equal copy', async () => {
      const store = await open();
      const run = { ...makeRun('run-a'), version: 7 };
      await store.create(run);
      expect(await store.get('run-a')).toEqual({ ...run, version: 1 });
      expect(await store.get('run-unknown')).toBeUndefined();
    });

    it('refuses to create a run whose id exists, and keeps the first', async () => {
      const store = await open();
      await store.create(makeRun('run-a', { status: 'awaiting' }));
      await expect(store.create(makeRun('run-a', { status: 'checking' }))).rejects.toThrow(/already exists/);
      expect((await store.get('run-a'))?.status).toBe('awaiting');
    });

    it('hands out copies: changing a returned run changes nothing stored', async () => {
      const store = await open();
      await store.create(makeRun('run-a'));
      const got = await store.get('run-a');
      if (!got) throw new Error('missing');
      got.status = 'failed';
      got.approvals.push({ user: 'U0X', at: 1, evidenceRev: 1 });
      const again = await store.get('run-a');
      expect(again?.status).toBe('checking');
      expect(again?.approvals).toEqual([]);
    });

    it('compareAndSet bumps the version by one per write and stores the new state', async () => {
      const store = await open();
      await store.create(makeRun('run-a'));
      let run = (await store.get('run-a'))!;
      for (const status of ['awaiting', 'executing', 'verifying', 'succeeded'] as const) {
        expect(await store.compareAndSet({ ...run, status }, run.version)).toBe(true);
        const stored = (await store.get('run-a'))!;
        expect(stored.version).toBe(run.version + 1);
        expect(stored.status).toBe(status);
        run = stored;
      }
      expect(run.version).toBe(5);
    });

    it('compareAndSet with a stale version returns false and changes nothing', async () => {
      const store = await open();
      await store.create(makeRun('run-a'));
      expect(await store.compareAndSet({ ...makeRun('run-a'), status: 'awaiting' }, 1)).toBe(true);
      expect(await store.compareAndSet({ ...makeRun('run-a'), status: 'cancelled' }, 1)).toBe(false);
      expect(await store.compareAndSet({ ...makeRun('run-a'), status: 'cancelled' }, 3)).toBe(false);
      const stored = await store.get('run-a');
      expect(stored?.status).toBe('awaiting');
      expect(stored?.version).toBe(2);
    });

    it('compareAndSet of a run that does not exist is false and creates nothing', async () => {
      const store = await open();
      expect(await store.compareAndSet(makeRun('run-ghost'), 1)).toBe(false);
      expect(await store.get('run-ghost')).toBeUndefined();
      expect(await store.list()).toEqual([]);
    });

    it("two writers with the same expected version: exactly one wins and the stored state is the winner's", async () => {
      const store = await open();
      await store.create(makeRun('run-a'));
      const read = (await store.get('run-a'))!;
      const results = await Promise.all([
        store.compareAndSet({ ...read, status: 'cancelled' }, read.version),
        store.compareAndSet({ ...read, status: 'executing' }, read.version),
      ]);
      expect(results.filter(Boolean)).toHaveLength(1);
      const stored = (await store.get('run-a'))!;
      expect(stored.version).toBe(2);
      expect(stored.status).toBe(results[0] ? 'cancelled' : 'executing');
    });

    it('50 concurrent compareAndSet attempts on one version: exactly one succeeds', async () => {
      const store = await open();
      await store.create(makeRun('run-a'));
      const read = (await store.get('run-a'))!;
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => store.compareAndSet({ ...read, updatedAt: i, failure: `writer ${i}` }, read.version)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results.indexOf(true);
      const stored = (await store.get('run-a'))!;
      expect(stored).toMatchObject({ version: 2, updatedAt: winner, failure: `writer ${winner}` });
    });

    it('list: newest first, with service, active and limit filters', async () => {
      const store = await open();
      const t = Date.UTC(2026, 0, 1);
      await store.create(makeRun('r1', { createdAt: t + 1, service: 'api', status: 'succeeded' }));
      await store.create(makeRun('r2', { createdAt: t + 2, service: 'web', status: 'awaiting' }));
      await store.create(makeRun('r3', { createdAt: t + 3, service: 'api', status: 'executing' }));
      await store.create(makeRun('r4', { createdAt: t + 4, service: 'api', status: 'cancelled' }));
      await store.create(makeRun('r5', { createdAt: t + 5, service: 'web', status: 'dry-run-complete' }));
      const ids = (runs: Run[]) => runs.map((r) => r.id);
      expect(ids(await store.list())).toEqual(['r5', 'r4', 'r3', 'r2', 'r1']);
      expect(ids(await store.list({ limit: 2 }))).toEqual(['r5', 'r4']);
      expect(ids(await store.list({ limit: 0 }))).toEqual([]);
      expect(ids(await store.list({ service: 'api' }))).toEqual(['r4', 'r3', 'r1']);
      expect(ids(await store.list({ service: 'nope' }))).toEqual([]);
      expect(ids(await store.list({ active: true }))).toEqual(['r3', 'r2']);
      expect(ids(await store.list({ active: false }))).toEqual(['r5', 'r4', 'r1']);
      expect(ids(await store.list({ active: true, service: 'api' }))).toEqual(['r3']);
      expect(ids(await store.list({ active: false, service: 'api', limit: 1 }))).toEqual(['r4']);
      expect(ids(await store.list({ active: false, service: 'web', limit: 5 }))).toEqual(['r5']);
      // Full runs, not just ids.
      expect((await store.list({ service: 'web', limit: 1 }))[0]).toEqual(await store.get('r5'));
    });

    it('list pages through more runs than one read', async () => {
      const store = await open();
      const t = Date.UTC(2026, 0, 1);
      for (let i = 0; i < 230; i++) {
        await store.create(makeRun(`r${String(i).padStart(3, '0')}`, { createdAt: t + i, status: i % 2 ? 'succeeded' : 'awaiting' }));
      }
      const all = await store.list();
      expect(all).toHaveLength(230);
      expect(all[0]?.id).toBe('r229');
      expect(all.at(-1)?.id).toBe('r000');
      const inactive = await store.list({ active: false, limit: 110 });
      expect(inactive).toHaveLength(110);
      expect(inactive.every((r) => r.status === 'succeeded')).toBe(true);
      expect(inactive.at(-1)?.id).toBe('r011');
      expect(await store.list({ active: true })).toHaveLength(115);
    });

    it('the active filter follows the status through compareAndSet', async () => {
      const store = await open();
      await store.create(makeRun('run-a', { status: 'checking' }));
      expect((await store.list({ active: true })).map((r) => r.id)).toEqual(['run-a']);
      const read = (await store.get('run-a'))!;
      expect(await store.compareAndSet({ ...read, status: 'succeeded' }, 1)).toBe(true);
      expect(await store.list({ active: true })).toEqual([]);
      expect((await store.list({ active: false })).map((r) => r.id)).toEqual(['run-a']);
      // A losing write does not move it back.
      expect(await store.compareAndSet({ ...read, status: 'executing' }, 1)).toBe(false);
      expect(await store.list({ active: true })).toEqual([]);
      // verify-failed still holds the target: active.
      expect(await store.compareAndSet({ ...read, status: 'verify-failed' }, 2)).toBe(true);
      expect((await store.list({ active: true, service: 'api-gateway' })).map((r) => r.id)).toEqual(['run-a']);
    });

    it('claimTarget: one run holds a target; the holder may claim again; others learn the holder', async () => {
      const store = await open();
      expect(await store.claimTarget('k8s/prod/api', 'run-a')).toEqual({ claimed: true });
      expect(await store.claimTarget('k8s/prod/api', 'run-a')).toEqual({ claimed: true });
      expect(await store.claimTarget('k8s/prod/api', 'run-b')).toEqual({ claimed: false, holder: 'run-a' });
      expect(await store.claimTarget('k8s/prod/web', 'run-b')).toEqual({ claimed: true });
    });

    it('releaseTarget by a non-holder does nothing; by the holder frees the target', async () => {
      const store = await open();
      await store.claimTarget('k8s/prod/api', 'run-a');
      await store.releaseTarget('k8s/prod/api', 'run-b');
      expect(await store.claimTarget('k8s/prod/api', 'run-c')).toEqual({ claimed: false, holder: 'run-a' });
      await store.releaseTarget('k8s/prod/api', 'run-a');
      expect(await store.claimTarget('k8s/prod/api', 'run-c')).toEqual({ claimed: true });
      await store.releaseTarget('k8s/prod/unclaimed', 'run-a'); // nothing to release: no error
    });

    it('50 concurrent claims of one target: exactly one run gets it', async () => {
      const store = await open();
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => store.claimTarget('k8s/prod/api', `run-${i}`)));
      const winners = results.flatMap((r, i) => (r.claimed ? [`run-${i}`] : []));
      expect(winners).toHaveLength(1);
      for (const r of results) if (!r.claimed) expect(r.holder).toBe(winners[0]);
    });
  });
}
