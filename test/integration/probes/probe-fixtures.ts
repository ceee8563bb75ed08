// Shared by the probe tests: a catalog with one service whose sources the test names, a fixed
// clock, and sockets that refuse or never answer.
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { catalogSchema, type Catalog } from '../../../src/config/catalog.ts';
import { createProbes, type ProbeOptions } from '../../../src/adapters/probes/index.ts';
import type { Clock } from '../../../src/ports/clock.port.ts';
import type { Probes } from '../../../src/ports/probe.port.ts';

export const SERVICE = 'api';

/** A catalog with service "api" (limits 1..50) holding these sources and params. */
export function catalogWith(sources: Record<string, unknown>, params: Record<string, number> = {}): Catalog {
  return catalogSchema.parse({
    channel: '#infrastructure',
    services: { [SERVICE]: { target: { kind: 'kubernetes', deployment: 'api' }, limits: { min: 1, max: 50 }, params, sources } },
  });
}

export const fixedClock = (now = Date.parse('2026-11-23T14:00:00Z')): Clock => ({ now: () => now, at: () => () => undefined });

export function probesFor(sources: Record<string, unknown>, params: Record<string, number> = {}, opts: Partial<ProbeOptions> = {}): Probes {
  return createProbes(catalogWith(sources, params), { clock: fixedClock(), env: {}, ...opts });
}

/** A port on 127.0.0.1 where nothing listens (connections are refused at once). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A listener that accepts connections and never says a word: a hung server or a wrong port. */
export async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The rejection of a promise expected to fail (fails the test when it resolves). */
export async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`rejected with a non-Error: ${String(error)}`);
  }
  throw new Error('expected a rejection, but it resolved');
}
