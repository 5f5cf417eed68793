import { createServer, type Socket } from 'node:net';
import { onTestFinished } from 'vitest';

export interface SilentServer {
  url: string;
  /** Connections accepted in all. */
  connections: () => number;
  /** Connections held now. */
  open: () => number;
  /** The most connections held at once. */
  mostOpen: () => number;
}

/**
 * A loopback address that accepts connections and never answers: the only deterministic way
 * to make a client's timeout fire (a real server can beat any timeout, however short: a 1 ms
 * timeout against the sandbox's Prometheus passed once in a while and failed CI), and a way to
 * see how many workers a hostile address holds at once. Closed, with every connection it
 * holds, when the test finishes.
 */
export async function silentServer(): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  let most = 0;
  const server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    most = Math.max(most, sockets.size);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => accepted,
    open: () => sockets.size,
    mostOpen: () => most,
  };
}
