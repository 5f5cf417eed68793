import { createServer, type Socket } from 'node:net';
import { onTestFinished } from 'vitest';

/**
 * A loopback address that accepts connections and never answers: the only deterministic way
 * to make a client's timeout fire. (A real server can beat any timeout, however short: a 1 ms
 * timeout against the sandbox's Prometheus passed once in a while and failed CI.)
 * Closed, with every connection it holds, when the test finishes.
 */
export async function silentServer(): Promise<{ url: string; connections: () => number }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, connections: () => accepted };
}
