import { describe, expect, it } from 'vitest';
import { breakdown, isWrite, parseAuditLog, requestsBetween } from '../../../bench/scale/audit.ts';
import { niceMax, renderChart } from '../../../bench/scale/chart.ts';
import { argoReconcileMs } from '../../../bench/scale/controllers.ts';
import { cpuSecondsFromStat, rssMbFromStatus } from '../../../bench/scale/process.ts';
import { stepLateness, zeroAfterTraffic } from '../../../bench/scale/timeline.ts';
import { histogramDelta, histogramQuantile, parseHistogram, percentile } from '../../../bench/stats.ts';

describe('percentile', () => {
  it('is nearest-rank over unsorted values, NaN for none', () => {
    const xs = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
    expect(percentile(xs, 50)).toBe(5);
    expect(percentile(xs, 99)).toBe(10);
    expect(percentile(xs, 10)).toBe(1);
    expect(percentile([], 50)).toBeNaN();
  });
});

describe('histograms', () => {
  const text = [
    '# TYPE rollout_reconcile histogram',
    'rollout_reconcile_bucket{name="a",namespace="n",le="0.01"} 3',
    'rollout_reconcile_bucket{name="b",namespace="n",le="0.01"} 1',
    'rollout_reconcile_bucket{name="a",namespace="n",le="0.15"} 8',
    'rollout_reconcile_bucket{name="b",namespace="n",le="0.15"} 2',
    'rollout_reconcile_bucket{name="a",namespace="n",le="+Inf"} 9',
    'rollout_reconcile_bucket{name="b",namespace="n",le="+Inf"} 2',
    'rollout_reconcile_sum{name="a",namespace="n"} 1.2',
    'rollout_reconcile_count{name="a",namespace="n"} 9',
  ].join('\n');

  it('sums buckets over other labels', () => {
    expect(parseHistogram(text, 'rollout_reconcile')).toEqual([
      { le: 0.01, count: 4 },
      { le: 0.15, count: 10 },
      { le: Number.POSITIVE_INFINITY, count: 11 },
    ]);
  });

  it('keeps only the series carrying a label when asked', () => {
    expect(parseHistogram(text, 'rollout_reconcile', 'name="b"')).toEqual([
      { le: 0.01, count: 1 },
      { le: 0.15, count: 2 },
      { le: Number.POSITIVE_INFINITY, count: 2 },
    ]);
  });

  it('interpolates inside a bucket as histogram_quantile does', () => {
    const b = [
      { le: 0.01, count: 50 },
      { le: 0.02, count: 100 },
      { le: Number.POSITIVE_INFINITY, count: 100 },
    ];
    expect(histogramQuantile(b, 0.5)).toBeCloseTo(0.01);
    expect(histogramQuantile(b, 0.75)).toBeCloseTo(0.015);
    expect(histogramQuantile(b, 0.25)).toBeCloseTo(0.005);
    expect(histogramQuantile([], 0.5)).toBeNaN();
  });

  it('answers the highest finite bound for a quantile in +Inf', () => {
    const b = [
      { le: 0.01, count: 1 },
      { le: Number.POSITIVE_INFINITY, count: 10 },
    ];
    expect(histogramQuantile(b, 0.99)).toBe(0.01);
  });

  it('subtracts an earlier snapshot bucket by bucket', () => {
    expect(
      histogramDelta(
        [
          { le: 1, count: 5 },
          { le: 2, count: 9 },
        ],
        [{ le: 1, count: 2 }],
      ),
    ).toEqual([
      { le: 1, count: 3 },
      { le: 2, count: 9 },
    ]);
  });
});

describe('audit log', () => {
  const line = (user: string, verb: string, at: string, resource = 'rollouts', sub?: string) =>
    JSON.stringify({
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: 'Metadata',
      stage: 'ResponseComplete',
      verb,
      user: { username: user },
      userAgent: 'node',
      objectRef: { resource, subresource: sub },
      responseStatus: { code: 200 },
      requestReceivedTimestamp: at,
      // The server took 12.5 ms on every request here; Date.parse reads it to the millisecond.
      stageTimestamp: new Date(Date.parse(at) + 12.5).toISOString().replace('Z', '500Z'),
    });
  const sluice = 'system:serviceaccount:sluice-system:sluice';
  const log = [
    line(sluice, 'list', '2026-11-27T05:00:00.000000Z'),
    line(sluice, 'patch', '2026-11-27T05:00:01.500000Z', 'virtualservices'),
    line(sluice, 'update', '2026-11-27T05:00:02.000000Z', 'rollouts', 'status'),
    line('admin', 'patch', '2026-11-27T05:00:02.000000Z'),
    JSON.stringify({ kind: 'Event', stage: 'ResponseStarted', verb: 'watch', user: { username: sluice } }),
    '{"kind":"Event","verb":"get","requestRecei', // torn last line while the server writes
  ].join('\n');

  it('reads complete events only, with user, verb, resource and time', () => {
    const reqs = parseAuditLog(log);
    expect(reqs).toHaveLength(4);
    expect(reqs[1]).toMatchObject({ user: sluice, verb: 'patch', resource: 'virtualservices', code: 200 });
    expect(reqs[2]?.resource).toBe('rollouts/status');
    expect(reqs[1]?.at).toBe(Date.parse('2026-11-27T05:00:01.500Z'));
    expect(reqs[1]?.ms).toBe(12);
  });

  it('counts one user in a window, writes apart, largest first', () => {
    const reqs = parseAuditLog(log);
    const from = Date.parse('2026-11-27T05:00:01Z');
    const to = Date.parse('2026-11-27T05:00:03Z');
    const mine = requestsBetween(reqs, sluice, from, to);
    expect(mine.map((r) => r.verb)).toEqual(['patch', 'update']);
    expect(mine.filter(isWrite)).toHaveLength(2);
    expect(requestsBetween(reqs, sluice, 0, from).filter(isWrite)).toHaveLength(0);
    expect(breakdown(requestsBetween(reqs, sluice, 0, to))[0]).toEqual(['list rollouts', 1]);
  });
});

describe('/proc readings', () => {
  it('takes utime + stime after the command name, even one with spaces and parentheses', () => {
    const rest = Array.from({ length: 40 }, (_, i) => String(i + 3));
    rest[11] = '250'; // utime (field 14)
    rest[12] = '50'; // stime (field 15)
    expect(cpuSecondsFromStat(`42 (node (a b)) ${rest.join(' ')}`)).toBe(3);
  });

  it('reads VmRSS in MB', () => {
    expect(rssMbFromStatus('Name:\tnode\nVmRSS:\t  102400 kB\nVmSwap:\t0 kB\n')).toBe(100);
    expect(rssMbFromStatus('Name:\tzombie\n')).toBeNaN();
  });
});

describe('weight timelines', () => {
  const tl: [number, number][] = [
    [1_000, 0],
    [2_000, 25],
    [12_300, 50],
    [22_400, 0], // promoted
    [40_000, 25],
    [45_000, 0], // aborted
  ];

  it('measures each step from the weight seen plus the pause to the next weight', () => {
    expect(stepLateness(tl, 1_500, 10_000, 25, 2)).toEqual([300, 100]);
  });

  it('has no lateness for a release that never reached its first weight', () => {
    expect(stepLateness(tl, 46_000, 10_000, 25, 2)).toEqual([]);
  });

  it('finds when traffic went back to 0 after the canary had some', () => {
    expect(zeroAfterTraffic(tl, 30_000)).toBe(45_000);
    expect(zeroAfterTraffic(tl, 0)).toBe(22_400);
    expect(zeroAfterTraffic([[5, 0]], 0)).toBeUndefined();
  });
});

describe('Argo Rollouts reconcile times', () => {
  it('reads time_ms from "Reconciliation completed" lines only', () => {
    const log = [
      '{"level":"info","msg":"Reconciliation completed","time_ms":12.5,"rollout":"a"}',
      '{"level":"info","msg":"Started syncing rollout","rollout":"a"}',
      'I1127 05:00:00 klog line Reconciliation completed',
      '{"level":"info","msg":"Reconciliation completed","time_ms":3,"rollout":"b"}',
    ].join('\n');
    expect(argoReconcileMs(log)).toEqual([12.5, 3]);
  });
});

describe('chart', () => {
  it('rounds axes up to 1, 2 or 5 times a power of ten', () => {
    expect(niceMax(0.7)).toBeCloseTo(1);
    expect(niceMax(130)).toBe(200);
    expect(niceMax(420)).toBe(500);
    expect(niceMax(0)).toBe(1);
  });

  it('draws one line per series with points, skips unmeasured values, escapes text', () => {
    const svg = renderChart([
      {
        title: 'Memory <RSS>',
        unit: 'MB',
        series: [
          {
            name: 'Sluice',
            color: '#00f',
            points: [
              [100, 80],
              [500, 120],
              [1000, Number.NaN],
            ],
          },
          {
            name: 'Argo & co',
            color: '#f00',
            points: [
              [100, 150],
              [500, 400],
            ],
          },
        ],
      },
    ]);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<path /g)).toHaveLength(2);
    expect(svg.match(/<circle /g)).toHaveLength(4);
    expect(svg).toContain('Memory &lt;RSS&gt;');
    expect(svg).toContain('Argo &amp; co');
    expect(svg).not.toContain('NaN');
  });
});
