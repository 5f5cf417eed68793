import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { createMetrics } from './metrics.ts';

/** The process-wide metrics and their setters; `metrics` is the Registry `/metrics` serves. */
export const sluiceMetrics = createMetrics();
export const metrics: Registry = sluiceMetrics.registry;

export interface ReadyState {
  ready: boolean;
  /** Why not, for the /readyz body (e.g. which informers have not synced). */
  reasons?: string[];
}

export interface ServerOptions {
  /** `:8090` (all interfaces), `127.0.0.1:0` (ephemeral port), `[::1]:8080`. */
  addr: string;
  /** Serve `/metrics` from this registry. */
  registry?: Registry;
  /**
   * Serve `/healthz` and `/readyz`. Readiness means "can serve": informers synced. It must
   * not depend on leadership, or followers would be taken out of the Service and a standby
   * would never be ready to take over.
   */
  health?: { ready: () => ReadyState; live?: () => boolean };
}

export interface RunningServer {
  host: string;
  port: number;
  close(): Promise<void>;
}

export function parseAddr(addr: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*))?:(\d+)$/.exec(addr.trim());
  if (!m) throw new Error(`invalid listen address ${JSON.stringify(addr)}; expected host:port or :port`);
  const host = m[1] ?? (m[2] || undefined);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`invalid port in ${JSON.stringify(addr)}`);
  return { host, port };
}

/** Readiness from informers: ready once every one of them has listed at least once. */
export function informersReady(informers: { name: string; hasSynced(): boolean }[]): () => ReadyState {
  return () => {
    const waiting = informers.filter((i) => !i.hasSynced()).map((i) => `informer ${i.name} not synced`);
    return { ready: waiting.length === 0, reasons: waiting };
  };
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const { host, port } = parseAddr(opts.addr);
  const server = createServer((req, res) => {
    handle(opts, req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(`internal error: ${err instanceof Error ? err.message : String(err)}\n`);
    });
  });
  await listen(server, port, host);
  const bound = server.address() as AddressInfo;
  return {
    host: bound.address,
    port: bound.port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Scrapers keep connections alive; without this close() waits for them to time out.
        server.closeAllConnections();
      }),
  };
}

function listen(server: Server, port: number, host: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function handle(opts: ServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('method not allowed\n');
    return;
  }
  if (path === '/metrics' && opts.registry) {
    const body = await opts.registry.metrics();
    res.writeHead(200, { 'Content-Type': opts.registry.contentType }).end(body);
    return;
  }
  if (path === '/healthz' && opts.health) {
    const live = opts.health.live?.() ?? true;
    text(res, live ? 200 : 503, live ? 'ok' : 'not live');
    return;
  }
  if (path === '/readyz' && opts.health) {
    const state = opts.health.ready();
    text(
      res,
      state.ready ? 200 : 503,
      state.ready ? 'ok' : ['not ready', ...(state.reasons ?? [])].join('\n'),
    );
    return;
  }
  text(res, 404, 'not found');
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${body}\n`);
}
