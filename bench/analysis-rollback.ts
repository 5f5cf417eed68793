// Rollback latency: from the failing measurement being recorded (its finishedAt in the
// AnalysisRun's status) to the VirtualService showing canary weight 0, as a watch in this
// process sees it (so watch delivery is included: an upper bound).
//   npx tsx bench/analysis-rollback.ts [rollouts=10] [rounds=3]
import { badReleases, percentile, setUp } from './analysis-common.ts';

const rollouts = Number(process.argv[2] ?? 10);
const rounds = Number(process.argv[3] ?? 3);

const b = await setUp({
  prefix: 'bench-rb',
  rollouts,
  rps: 40,
  weight: 50,
  // Fails at the first measurement: half the canary's answers are errors.
  analysis: { interval: '2s', initialDelay: '4s', inconclusiveLimit: 3, successRate: { min: 95 } },
});
try {
  const releases = await badReleases(b, rounds, 0.5);
  const latency = releases.map((r) => r.zeroAt - r.failedAt);
  const toWatch = releases.map((r) => r.runSeenAt - r.failedAt);
  const afterRun = releases.map((r) => r.zeroAt - r.runSeenAt);
  const serviceBack = releases.map((r) => r.canaryServiceBackAt - r.failedAt);
  const fmt = (n: number) => `${n.toFixed(0)} ms`;
  console.log(
    JSON.stringify(
      {
        samples: latency.length,
        p50: fmt(percentile(latency, 50)),
        p90: fmt(percentile(latency, 90)),
        p99: fmt(percentile(latency, 99)),
        max: fmt(Math.max(...latency)),
        min: fmt(Math.min(...latency)),
        measurementToRunStatusSeen: { p50: fmt(percentile(toWatch, 50)), p99: fmt(percentile(toWatch, 99)) },
        measurementToCanaryServiceOnStable: {
          p50: fmt(percentile(serviceBack, 50)),
          p99: fmt(percentile(serviceBack, 99)),
        },
        runStatusSeenToWeight0Seen: {
          p50: fmt(percentile(afterRun, 50)),
          p99: fmt(percentile(afterRun, 99)),
        },
      },
      null,
      2,
    ),
  );
} finally {
  await b.cleanup();
}
process.exit(0);
