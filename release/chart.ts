import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';

/**
 * Copies the Helm chart into the release with its `version` and `appVersion` set to the
 * release's, so chart and image never disagree. The chart is optional (charts/ may not exist
 * yet): returns the line to print either way.
 */
export function packageChart(chartDir: string, outDir: string, version: string): string {
  if (!existsSync(join(chartDir, 'Chart.yaml'))) return `no chart at ${chartDir}: skipped`;
  const target = join(outDir, 'charts', 'sluice');
  cpSync(chartDir, target, { recursive: true });
  const chartFile = join(target, 'Chart.yaml');
  const chart = parseDocument(readFileSync(chartFile, 'utf8'));
  chart.set('version', version);
  chart.set('appVersion', version);
  writeFileSync(chartFile, chart.toString());
  return `chart ${chartDir} → ${target} (version ${version})`;
}
