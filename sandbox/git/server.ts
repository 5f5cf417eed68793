// A git server on loopback for Flux and for write-back: git's own smart-HTTP CGI
// (`git http-backend`) behind a small Node server, so clone, fetch and push use the same
// protocol as GitHub or Gitea, with optional basic auth.
import { spawn } from 'node:child_process';
import { timingSafeEqual } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GitServerOptions {
  /** Directory holding bare repositories (`<name>.git`). */
  root: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** When set, every request needs these credentials (basic auth); a token as password works. */
  auth?: { username: string; password: string };
}

export interface GitServer {
  url: string;
  port: number;
  /** The clone URL of a repository under root, without credentials. */
  repoUrl(name: string): string;
  close(): Promise<void>;
}

export async function startGitServer(opts: GitServerOptions): Promise<GitServer> {
  mkdirSync(opts.root, { recursive: true });
  const host = opts.host ?? '127.0.0.1';
  const server = createServer((req, res) => {
    if (opts.auth && !authorized(req, opts.auth)) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="sluice-sandbox-git"' }).end();
      return;
    }
    if (req.url === '/healthz') {
      res.writeHead(200).end('ok');
      return;
    }
    serveCgi(req, res, opts.root, opts.auth?.username);
  });
  await listen(server, opts.port ?? 0, host);
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host}:${port}`;
  return {
    url,
    port,
    repoUrl: (name) => `${url}/${name}.git`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function authorized(req: IncomingMessage, auth: { username: string; password: string }): boolean {
  const header = req.headers.authorization ?? '';
  if (!header.startsWith('Basic ')) return false;
  const given = Buffer.from(header.slice(6), 'base64');
  const expected = Buffer.from(`${auth.username}:${auth.password}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function serveCgi(req: IncomingMessage, res: ServerResponse, root: string, user: string | undefined): void {
  const url = new URL(req.url ?? '/', 'http://git.invalid');
  const child = spawn('git', ['http-backend'], {
    env: {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: '1',
      // http-backend refuses pushes from anonymous users unless the repository enables
      // http.receivepack; a REMOTE_USER counts as authenticated.
      REMOTE_USER: user ?? 'sandbox',
      REMOTE_ADDR: req.socket.remoteAddress ?? '',
      REQUEST_METHOD: req.method ?? 'GET',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
      GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  req.pipe(child.stdin);
  child.stdin.on('error', () => {}); // the backend may answer before reading the whole body
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  let head = Buffer.alloc(0);
  let headersSent = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (headersSent) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    const { status, headers } = parseCgiHeaders(head.subarray(0, end).toString('latin1'));
    res.writeHead(status, headers);
    headersSent = true;
    res.write(head.subarray(end + 4));
  });
  child.on('close', (code) => {
    if (!headersSent) {
      res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`git http-backend exited ${code}: ${stderr}`);
      return;
    }
    res.end();
  });
}

/** CGI output starts with header lines; `Status: 404 Not Found` sets the response status. */
export function parseCgiHeaders(text: string): { status: number; headers: Record<string, string> } {
  let status = 200;
  const headers: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10) || 500;
    else headers[name] = value;
  }
  return { status, headers };
}
