// The in-process twins against the port contracts.
import { MemoryAuditLog } from '../../src/adapters/memory/memory-audit-log.ts';
import { MemoryCoordination } from '../../src/adapters/memory/memory-coordination.ts';
import { MemoryRunStore } from '../../src/adapters/memory/memory-run-store.ts';
import { MemoryScheduler } from '../../src/adapters/memory/memory-scheduler.ts';
import { systemClock } from '../../src/ports/clock.port.ts';
import { auditLogContract } from './audit-log.contract.ts';
import { coordinationContract } from './coordination.contract.ts';
import { runStoreContract } from './run-store.contract.ts';
import { schedulerContract } from './scheduler.contract.ts';

runStoreContract('memory', async () => new MemoryRunStore());

coordinationContract('memory', async () => {
  // Time only moves when the test says so: leases expire without sleeping.
  let now = Date.UTC(2026, 10, 23, 12, 0, 0);
  return {
    coordination: new MemoryCoordination({ now: () => now }),
    elapse: async (ms) => {
      now += ms;
    },
  };
});

auditLogContract('memory', async () => new MemoryAuditLog());

schedulerContract('memory', {
  world: () => ({ open: async () => new MemoryScheduler(systemClock, { backoffMs: 50 }) }),
  durable: false,
});
