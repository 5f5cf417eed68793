import { Counter, Gauge, type Registry } from 'prom-client';

export function createAnalysisMetrics(registry: Registry) {
  const measurements = new Counter({
    name: 'sluice_analysis_measurements_total',
    help: 'Measurements taken by analysis runs, by metric name and outcome',
    labelNames: ['metric', 'phase'] as const,
    registers: [registry],
  });
  const lastValue = new Gauge({
    name: 'sluice_analysis_metric_value',
    help: 'Last value measured per metric of a Rollout (single-number results only)',
    labelNames: ['namespace', 'rollout', 'metric'] as const,
    registers: [registry],
  });
  const rollbacks = new Counter({
    name: 'sluice_rollbacks_total',
    help: 'Releases aborted and rolled back, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  return { measurements, lastValue, rollbacks };
}

export type AnalysisMetrics = ReturnType<typeof createAnalysisMetrics>;
