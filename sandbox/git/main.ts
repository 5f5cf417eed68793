// The sandbox's git server as a process of its own (started by `sandbox:up --with-flux`).
import { startGitServer } from './server.ts';

const root = process.env.GIT_ROOT;
if (!root) throw new Error('GIT_ROOT is not set');
const server = await startGitServer({
  root,
  host: process.env.GIT_HOST ?? '127.0.0.1',
  port: Number(process.env.GIT_PORT ?? 19092),
});
process.stdout.write(`git server on ${server.url}, repositories in ${root}\n`);
const stop = () => void server.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
