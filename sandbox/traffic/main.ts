// The traffic simulator process: polls the cluster, ticks the pure simulator on a wall
// clock, and serves Istio-style metrics for Prometheus. Started by `sandbox/cli.ts up`.
import { createServer } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { Simulator } from './engine.ts';
import { ClusterReader } from './kube.ts';

const port = Number(process.env.SIMULATOR_PORT ?? 19091);
const host = process.env.SIMULATOR_HOST ?? '127.0.0.1';
const seed = Number(process.env.SIMULATOR_SEED ?? 1);
const tickMs = Number(process.env.SIMULATOR_TICK_MS ?? 250);
const minPollMs = Number(process.env.SIMULATOR_POLL_MS ?? 1000);
const maxBackoffMs = 5000;

const log = (msg: string, extra: Record<string, unknown> = {}) =>
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), msg, ...extra })}\n`);

const kc = new KubeConfig();
kc.loadFromDefault();
const reader = new ClusterReader(kc);
const sim = new Simulator({ seed });

let synced = false;
let lastProblems = '';
let lastError = '';
let lastSyncAt = 0;
let lastFingerprint = '';

async function pollLoop(): Promise<void> {
  for (;;) {
    const started = Date.now();
    try {
      const snap = await reader.read();
      // Recompiling routing for 1,000 hosts costs ~100 ms; most polls change nothing.
      if (snap.fingerprint !== lastFingerprint) sim.setWorld(snap.world);
      lastFingerprint = snap.fingerprint;
      synced = true;
      lastSyncAt = Date.now();
      lastError = '';
      const problems = snap.problems.join('\n');
      if (problems !== lastProblems) {
        lastProblems = problems;
        if (problems) log('ignoring invalid ConfigMap entries', { problems: snap.problems });
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (message !== lastError) log('cluster read failed; keeping the last known world', { error: message });
      lastError = message;
    }
    // Back off when lists get slow so a big cluster is not hammered by the simulator, but not
    // for long: one list that hung through an API server outage must not leave the world stale
    // for minutes afterwards (chaos scenarios found 100 s of routing to nothing).
    const elapsed = Date.now() - started;
    await new Promise((r) => setTimeout(r, Math.max(minPollMs, Math.min(elapsed * 5, maxBackoffMs))));
  }
}

// Ticks are counted against the wall clock, each with the nominal length, so rates stay
// true when the event loop lags and a seeded run stays a deterministic sequence of ticks.
const start = Date.now();
let ticksDone = 0;
setInterval(() => {
  const due = Math.floor((Date.now() - start) / tickMs);
  for (; ticksDone < due; ticksDone++) sim.tick(tickMs / 1000);
}, tickMs).unref();

const server = createServer((req, res) => {
  const url = req.url ?? '/';
  if (url === '/metrics') {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(sim.metrics.render());
  } else if (url === '/healthz' || url === '/readyz') {
    res.writeHead(synced ? 200 : 503, { 'content-type': 'text/plain' });
    res.end(synced ? 'ok\n' : `not synced yet${lastError ? `: ${lastError}` : ''}\n`);
  } else if (url === '/debug/plans') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify(
        {
          lastSyncAt: new Date(lastSyncAt).toISOString(),
          lastError,
          problems: lastProblems ? lastProblems.split('\n') : [],
          plans: sim.currentPlans().map((p) => ({
            load: p.load,
            via: p.via,
            outcomes: p.outcomes.map((o) => ({
              share: o.share,
              ...o.labels,
              ...(o.kind === 'fixed' ? { code: o.code } : { errorRate: o.errorRate }),
            })),
            ...(p.mirrors && { mirrors: p.mirrors.map((o) => ({ share: o.share, ...o.labels })) }),
          })),
        },
        null,
        2,
      ),
    );
  } else if (url === '/debug/sessions') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ sessions: sim.currentSessions() }, null, 2));
  } else {
    res.writeHead(404);
    res.end('try /metrics, /healthz, /debug/plans or /debug/sessions\n');
  }
});
server.listen(port, host, () => log('traffic simulator listening', { host, port, seed, tickMs }));

const stop = () => {
  log('stopping');
  server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
void pollLoop();
