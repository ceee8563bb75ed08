// A few lines of RESP for what a real Redis cannot be made to do from a test: answer INFO with
// chosen numbers and refuse CONFIG, as managed Redis services (ElastiCache, Azure Cache) do.
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface FakeRedis {
  url: string;
  commands: string[][];
  close(): Promise<void>;
}

/** Parses complete RESP arrays of bulk strings off the front of `buffer`; returns them and the rest. */
function parseCommands(buffer: string): { commands: string[][]; rest: string } {
  const commands: string[][] = [];
  let at = 0;
  for (;;) {
    const header = /^\*(\d+)\r\n/.exec(buffer.slice(at));
    if (!header) break;
    let cursor = at + header[0].length;
    const args: string[] = [];
    for (let i = 0; i < Number(header[1]); i++) {
      const bulk = /^\$(\d+)\r\n/.exec(buffer.slice(cursor));
      if (!bulk) return { commands, rest: buffer.slice(at) };
      const start = cursor + bulk[0].length;
      const end = start + Number(bulk[1]);
      if (buffer.length < end + 2) return { commands, rest: buffer.slice(at) };
      args.push(buffer.slice(start, end));
      cursor = end + 2;
    }
    commands.push(args);
    at = cursor;
  }
  return { commands, rest: buffer.slice(at) };
}

/** Answers INFO with `info` (field -> value), refuses CONFIG, says OK to the rest. */
export async function startFakeRedis(info: Record<string, string | number>): Promise<FakeRedis> {
  const commands: string[][] = [];
  const sockets = new Set<Socket>();
  const infoText = `# Server\r\nredis_version:7.2.4\r\nloading:0\r\n${Object.entries(info).map(([k, v]) => `${k}:${v}`).join('\r\n')}\r\n`;
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending = '';
    socket.on('data', (chunk) => {
      const parsed = parseCommands(pending + chunk.toString('utf8'));
      pending = parsed.rest;
      for (const args of parsed.commands) {
        commands.push(args);
        const name = args[0]?.toUpperCase();
        if (name === 'INFO') socket.write(`$${Buffer.byteLength(infoText)}\r\n${infoText}\r\n`);
        else if (name === 'CONFIG') socket.write("-ERR unknown command 'CONFIG', with args beginning with: 'GET' 'maxclients'\r\n");
        else if (name === 'QUIT') socket.end('+OK\r\n');
        else socket.write('+OK\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    commands,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
