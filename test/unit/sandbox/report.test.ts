import { describe, expect, it } from 'vitest';
import { renderReport } from '../../../sandbox/demo/report.ts';

describe('demo report', () => {
  const html = renderReport({
    title: 'Demo <v2>',
    samples: [
      { t: 0, release: 'v2', phase: 'Progressing', weight: 0 },
      { t: 5, release: 'v2', phase: 'Paused', weight: 20, successRate: 100, p99Ms: 80 },
      { t: 10, release: 'v3', phase: 'Paused', weight: 20, successRate: 91.5, p99Ms: 90 },
      { t: 12, release: 'v3', phase: 'Degraded', weight: 0 },
    ],
    moments: [{ t: 12, label: 'v3 rolled back: success-rate 91.5 < 99', kind: 'rollback' }],
    thresholds: { successRateMin: 99, p99MaxMs: 500 },
    summary: ['v3 rolled back & v2 kept'],
  });

  it('draws weight, success rate and p99 with the gates’ thresholds and the rollback moment', () => {
    expect(html.match(/<svg /g)).toHaveLength(3);
    expect(html).toContain('gate: ≥ 99%');
    expect(html).toContain('gate: ≤ 500 ms');
    expect(html.match(/class="moment rollback"/g)).toHaveLength(3);
    expect(html).toContain('<li class="rollback"><b>12s</b> v3 rolled back: success-rate 91.5 &lt; 99</li>');
  });

  it('leaves gaps where there was no measurement, and escapes text', () => {
    const successPath = /Canary success rate[\s\S]*?class="line" d="([^"]*)"/.exec(html)?.[1] ?? '';
    expect(successPath.match(/[ML]/g)).toHaveLength(2);
    expect(html).toContain('<title>Demo &lt;v2&gt;</title>');
    expect(html).toContain('v3 rolled back &amp; v2 kept');
  });
});
