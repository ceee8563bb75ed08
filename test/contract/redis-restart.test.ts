// What the Redis clients do when Redis itself goes away: this file runs its OWN throwaway
// redis-server (no persistence) on a free port, kills and restarts it under connected clients, and
// checks that they come back on their own. Data is lost by the restart; the point is the client.
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BullmqScheduler } from '../../src/adapters/redis/bullmq-scheduler.ts';
import { closeRedis, connectRedis } from '../../src/adapters/redis/redis-connection.ts';
import { RedisCoordination } from '../../src/adapters/redis/redis-coordination.ts';
import { RedisRunStore } from '../../src/adapters/redis/redis-run-store.ts';
import type { TimerJob } from '../../src/ports/scheduler.port.ts';
import { makeRun } from './run-store.contract.ts';
import { sleep, waitFor } from './scheduler.contract.ts';

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** True once something on the port answers PING with PONG. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setTimeout(500);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

class ThrowawayRedis {
  private child: ChildProcess | undefined;
  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], {
      stdio: 'ignore',
    });
    this.child = child;
    let failure: Error | undefined;
    child.once('error', (error) => {
      failure = new Error(`could not start redis-server (is it installed?): ${error.message}`);
    });
    const deadline = Date.now() + 10_000;
    while (!failure && child.exitCode === null && !(await answersPing(this.port))) {
      if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not answer within 10 s`);
      await sleep(20);
    }
    if (failure) throw failure;
    if (child.exitCode !== null) throw new Error(`redis-server on port ${this.port} exited with ${child.exitCode}`);
  }

  /** SIGKILL, like a crash: no shutdown, no goodbye to clients. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}

let redis: ThrowawayRedis;

beforeAll(async () => {
  redis = new ThrowawayRedis(await freePort());
  await redis.start();
});

afterAll(async () => {
  await redis?.kill();
});

describe('a Redis restart under connected clients', () => {
  let client: Redis | undefined;
  afterAll(async () => {
    if (client) await closeRedis(client);
  });

  it('the same client reconnects on its own; a command issued while Redis was down runs once it is back', async () => {
    client = await connectRedis(redis.url, { role: 'restart-test' });
    const store = new RedisRunStore(client, { prefix: 'restart:' });
    await store.create(makeRun('run-a'));
    expect(await store.compareAndSet({ ...makeRun('run-a'), status: 'awaiting' }, 1)).toBe(true);

    await redis.kill();
    const c = client;
    await waitFor('the client to notice', () => c.status !== 'ready');
    // Issued while Redis is down: waits in ioredis's offline queue.
    let settled = false;
    const pending = store.create(makeRun('run-b')).finally(() => {
      settled = true;
    });
    await sleep(300);
    expect(settled).toBe(false);

    await redis.start();
    await expect(pending).resolves.toBeUndefined();
    expect(client.status).toBe('ready');
    // The restarted Redis kept nothing (no persistence) but has what was queued.
    expect(await store.get('run-a')).toBeUndefined();
    expect(await store.get('run-b')).toMatchObject({ id: 'run-b', version: 1 });
    // The restarted Redis had forgotten the Lua scripts too: the queued create (and the first use of
    // each script below) got NOSCRIPT from EVALSHA and fell back to EVAL.
    expect(await store.compareAndSet({ ...makeRun('run-b'), status: 'awaiting' }, 1)).toBe(true);
    expect(await store.claimTarget('k8s/prod/api', 'run-b')).toEqual({ claimed: true });
    const coordination = new RedisCoordination(client, { prefix: 'restart:' });
    expect(await coordination.beginEffect('run-b/execute/1', 'replica-1', 1)).toBe(true);
  });

  it('a command queued while Redis stays down fails after maxRetriesPerRequest attempts; the client recovers later', async () => {
    const impatient = await connectRedis(redis.url, { role: 'restart-test-impatient', maxRetriesPerRequest: 1 });
    try {
      await redis.kill();
      await waitFor('the client to notice', () => impatient.status !== 'ready');
      const started = Date.now();
      await expect(impatient.get('anything')).rejects.toThrow(/max retries per request/i);
      expect(Date.now() - started).toBeLessThan(5_000);
      await redis.start();
      await waitFor('the client to reconnect', () => impatient.status === 'ready', 10_000);
      expect(await impatient.set('k', 'v')).toBe('OK');
    } finally {
      await closeRedis(impatient);
    }
  });

  it('a started BullMQ scheduler keeps delivering after Redis restarts', async () => {
    const scheduler = new BullmqScheduler({ url: redis.url, prefix: 'restart:', backoffMs: 100 });
    const fired: TimerJob[] = [];
    try {
      await scheduler.start(async (job) => {
        fired.push(job);
      });
      await scheduler.schedule({ runId: 'run-a', name: 'before', at: Date.now() + 50 });
      await waitFor('the job before the restart', () => fired.length === 1);

      await redis.kill();
      await sleep(300);
      await redis.start();

      await scheduler.schedule({ runId: 'run-a', name: 'after', at: Date.now() + 100 });
      await waitFor('the job after the restart', () => fired.length === 2, 15_000);
      expect(fired.map((j) => j.name)).toEqual(['before', 'after']);
    } finally {
      await scheduler.stop();
    }
  });
});

/**
 * A TCP proxy in front of the throwaway Redis that can lose a reply: the command reaches Redis and
 * runs, but the connection drops before the client reads the answer (a network blip, a failover).
 */
class ReplyLosingProxy {
  private loseNext = false;
  private readonly sockets = new Set<net.Socket>();
  private readonly server = net.createServer((client) => {
    const upstream = net.connect(this.target, '127.0.0.1');
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => {
      if (this.loseNext) {
        this.loseNext = false;
        client.destroy();
        return;
      }
      client.write(chunk);
    });
  });

  constructor(private readonly target: number) {}

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  /** The next reply from Redis is lost and the client's connection dropped. */
  loseNextReply(): void {
    this.loseNext = true;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('a reply lost with the connection (the command ran, the client never heard)', () => {
  let proxy: ReplyLosingProxy;
  let client: Redis;
  beforeAll(async () => {
    proxy = new ReplyLosingProxy(redis.port);
    const port = await proxy.listen();
    client = await connectRedis(`redis://127.0.0.1:${port}`, { role: 'lossy' });
  });
  afterAll(async () => {
    await closeRedis(client);
    await proxy.close();
  });

  it('ioredis re-sends the command after reconnecting, so Redis runs it twice', async () => {
    await client.del('lossy:counter');
    proxy.loseNextReply();
    expect(await client.incr('lossy:counter')).toBe(2);
    expect(await client.get('lossy:counter')).toBe('2');
  });

  it('the adapters\' writes recognise their own re-sent copy instead of reporting a conflict', async () => {
    const store = new RedisRunStore(client, { prefix: 'lossy:' });
    const coordination = new RedisCoordination(client, { prefix: 'lossy:' });
    // Use every script once first: otherwise the lost reply would be EVALSHA's NOSCRIPT (Redis
    // restarted above), which runs nothing.
    await store.create(makeRun('run-warm'));
    await store.compareAndSet(makeRun('run-warm'), 1);
    await store.claimTarget('k8s/prod/warm', 'run-warm');
    await coordination.beginEffect('warm', 'replica-1', 1);
    await coordination.acquireLease('run-warm', 'replica-1', 60_000);

    proxy.loseNextReply();
    await expect(store.create(makeRun('run-a'))).resolves.toBeUndefined();
    proxy.loseNextReply();
    expect(await store.compareAndSet({ ...makeRun('run-a'), status: 'awaiting' }, 1)).toBe(true);
    expect(await store.get('run-a')).toMatchObject({ version: 2, status: 'awaiting' });
    proxy.loseNextReply();
    expect(await store.claimTarget('k8s/prod/api', 'run-a')).toEqual({ claimed: true });

    proxy.loseNextReply();
    expect(await coordination.beginEffect('run-a/execute/1', 'replica-1', 1)).toBe(true);
    expect(await coordination.beginEffect('run-a/execute/1', 'replica-2', 2)).toBe(false);
    proxy.loseNextReply();
    expect(await coordination.firstSeen('envelope-1', 60_000)).toBe(true);
    const lease = await coordination.acquireLease('run-a', 'replica-1', 60_000);
    proxy.loseNextReply();
    expect(await coordination.acquireLease('run-a', 'replica-1', 60_000)).toEqual(lease);
  });
});

describe('connectRedis at start', () => {
  it('fails within a few seconds, naming the URL without its password, when nothing listens', async () => {
    const port = await freePort();
    const started = Date.now();
    const error = await connectRedis(`redis://scalebot:hunter2@127.0.0.1:${port}/0`).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toBe(`Redis at redis://scalebot:***@127.0.0.1:${port}/0 is not reachable (connect ECONNREFUSED): check REDIS_URL`);
    expect(message).not.toContain('hunter2');
  });

  it('the BullMQ scheduler fails to start (or schedule) with the same message, and can try again', async () => {
    const port = await freePort();
    const scheduler = new BullmqScheduler({ url: `redis://:hunter2@127.0.0.1:${port}` });
    const message = `Redis at redis://:***@127.0.0.1:${port} is not reachable (connect ECONNREFUSED): check REDIS_URL`;
    await expect(scheduler.start(async () => undefined)).rejects.toThrow(message);
    await expect(scheduler.schedule({ runId: 'run-a', name: 'approval-expiry', at: Date.now() })).rejects.toThrow(message);
    await expect(scheduler.schedule({ runId: 'run-a', name: 'approval-expiry', at: Date.now() })).rejects.toThrow(message);
    await scheduler.stop();
  });

  it('fails when something accepts connections but never answers', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    try {
      const started = Date.now();
      await expect(connectRedis(`redis://127.0.0.1:${port}`, { connectTimeoutMs: 300 })).rejects.toThrow(
        `Redis at redis://127.0.0.1:${port} is not reachable (no answer within 600 ms): check REDIS_URL`,
      );
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('says the credentials were refused, not that Redis is unreachable', async () => {
    const probe = await connectRedis(redis.url, { role: 'acl-setup' });
    try {
      await probe.call('ACL', 'SETUSER', 'scalebot', 'on', '>right', '~*', '+@all');
      await expect(connectRedis(`redis://scalebot:wrong@127.0.0.1:${redis.port}`)).rejects.toThrow(
        `Redis at redis://scalebot:***@127.0.0.1:${redis.port} refused the credentials (WRONGPASS): check the user and password in REDIS_URL`,
      );
      const ok = await connectRedis(`redis://scalebot:right@127.0.0.1:${redis.port}`);
      expect(await ok.ping()).toBe('PONG');
      await closeRedis(ok);
    } finally {
      await closeRedis(probe);
    }
  });

  it('rejects a REDIS_URL that is not a redis URL, without echoing it', async () => {
    await expect(connectRedis('http://user:secret@example.invalid')).rejects.toThrow(
      'REDIS_URL is not a redis:// or rediss:// URL (got http://user:***@example.invalid/): check REDIS_URL',
    );
    await expect(connectRedis('not a url at all')).rejects.toThrow('(got (unparseable URL))');
  });
});
