import { Counter, Gauge, type Registry } from 'prom-client';

export function createAnalysisMetrics(registry: Registry) {
  const measurements = new Counter({
    name: 'sluice_analysis_measurements_total',
    help: "Measurements taken by a Rollout's analysis runs, by metric name and outcome",
    labelNames: ['namespace', 'name', 'metric', 'phase'] as const,
    registers: [registry],
  });
  const lastValue = new Gauge({
    name: 'sluice_analysis_metric_value',
    help: 'Last value measured per metric of a Rollout (single-number results only)',
    labelNames: ['namespace', 'name', 'metric'] as const,
    registers: [registry],
  });
  const rollbacks = new Counter({
    name: 'sluice_rollbacks_total',
    help: "A Rollout's releases aborted and rolled back, by reason",
    labelNames: ['namespace', 'name', 'reason'] as const,
    registers: [registry],
  });
  return { measurements, lastValue, rollbacks };
}

export type AnalysisMetrics = ReturnType<typeof createAnalysisMetrics>;
