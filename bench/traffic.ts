// Tick cost of the traffic simulator at the scale the sandbox promises: 1,000 virtual
// hosts at 50 requests/s each, every host an 80/20 canary split over two Services.
//   npx tsx bench/traffic.ts [hosts] [rps]
import { Simulator } from '../sandbox/traffic/engine.ts';
import type { Pod, Service, VirtualService, World } from '../sandbox/traffic/types.ts';

const hosts = Number(process.argv[2] ?? 1000);
const rps = Number(process.argv[3] ?? 50);
const tickSeconds = 0.25;
const seconds = 20;

function world(): World {
  const virtualServices: VirtualService[] = [];
  const services: Service[] = [];
  const pods: Pod[] = [];
  for (let h = 0; h < hosts; h++) {
    const ns = `ns${h % 50}`;
    const app = `app${h}`;
    virtualServices.push({
      name: app,
      namespace: ns,
      hosts: [app],
      http: [
        {
          name: 'primary',
          route: [
            { destination: { host: `${app}-stable` }, weight: 80 },
            { destination: { host: `${app}-canary` }, weight: 20 },
          ],
        },
      ],
    });
    for (const track of ['stable', 'canary']) {
      services.push({ name: `${app}-${track}`, namespace: ns, selector: { app, track } });
      for (let p = 0; p < 2; p++) {
        pods.push({
          name: `${app}-${track}-${p}`,
          namespace: ns,
          labels: { app, track, version: track },
          ready: true,
          image: `shop/${app}:${track}`,
          workload: app,
        });
      }
    }
  }
  const profiles = new Map([[`shop/app0:canary`, { errorRate: 0.1, latencyMs: { p50: 40, p99: 400 } }]]);
  const load = virtualServices.map((vs) => ({
    host: `${vs.name}.${vs.namespace}.svc.cluster.local`,
    rps,
    path: '/',
    method: 'GET',
    headers: {},
  }));
  return { virtualServices, services, pods, profiles, load };
}

const w = world();
const sim = new Simulator({ seed: 42 });
let t = performance.now();
sim.setWorld(w);
const compileMs = performance.now() - t;

const tickTimes: number[] = [];
let requests = 0;
const renderTimes: number[] = [];
let bytes = 0;
for (let i = 0; i < seconds / tickSeconds; i++) {
  t = performance.now();
  requests += sim.tick(tickSeconds);
  tickTimes.push(performance.now() - t);
  // Prometheus scrapes once a second.
  if ((i + 1) % Math.round(1 / tickSeconds) === 0) {
    t = performance.now();
    bytes = sim.metrics.render().length;
    renderTimes.push(performance.now() - t);
  }
}

const p = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))] ?? 0;
const tickTotal = tickTimes.reduce((a, b) => a + b, 0);
const renderTotal = renderTimes.reduce((a, b) => a + b, 0);
const cpuPerSimSecond = (tickTotal + renderTotal) / seconds;
console.log(
  [
    `hosts=${hosts} rps/host=${rps} simulated=${seconds}s tick=${tickSeconds * 1000}ms requests=${requests}`,
    `compile (routing plans from world): ${compileMs.toFixed(1)} ms`,
    `tick: median ${p(tickTimes, 0.5).toFixed(2)} ms, p99 ${p(tickTimes, 0.99).toFixed(2)} ms`,
    `render /metrics: median ${p(renderTimes, 0.5).toFixed(1)} ms, ${sim.metrics.size()} series, ${(bytes / 1e6).toFixed(1)} MB`,
    `CPU per simulated second (ticks + one render): ${cpuPerSimSecond.toFixed(1)} ms (${((cpuPerSimSecond / 1000) * 100).toFixed(1)}% of one core)`,
  ].join('\n'),
);
