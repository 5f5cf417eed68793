import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { packageChart } from '../../../release/chart.ts';
import { composeKustomization, render, setControllerFlag } from '../../../release/manifests.ts';

function dir(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'sluice-manifests-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(root, name, '..'), { recursive: true });
    writeFileSync(join(root, name), text);
  }
  return root;
}

describe('composeKustomization', () => {
  it('refuses a kustomization field it does not implement, so the release cannot drift from deploy/', () => {
    const root = dir({
      'kustomization.yaml': 'resources: [a.yaml]\nimages: [{name: x, newTag: "1"}]\n',
      'a.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n',
    });
    expect(() => composeKustomization(root)).toThrow(/composes only resources and namespace, not images/);
  });

  it('follows directories, applies the outer namespace and skips empty documents', () => {
    const root = dir({
      'kustomization.yaml': 'namespace: ns1\nresources: [inner, b.yaml]\n',
      'inner/kustomization.yaml': 'resources: [a.yaml]\n',
      'inner/a.yaml':
        '---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: elsewhere}\n---\n',
      'b.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata: {name: ns1}\n',
    });
    const docs = composeKustomization(root);
    expect(docs.map((d) => d.toJS())).toEqual([
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', namespace: 'ns1' } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns1' } },
    ]);
    // One separator between documents, never two.
    expect(render(docs).match(/^---$/gm)).toHaveLength(1);
  });

  it('replaces a controller flag given as two arguments', () => {
    const root = dir({
      'kustomization.yaml': 'resources: [d.yaml]\n',
      'd.yaml': `apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec: {template: {spec: {containers: [{name: c, image: "ghcr.io/sluice-dev/sluice:0.1.0", args: [controller, --namespace, old, --workers=2]}]}}}
`,
    });
    const docs = composeKustomization(root);
    setControllerFlag(docs, 'namespace', 'new');
    const [parsed] = parseAllDocuments(render(docs)) as unknown as { toJS(): { spec: unknown } }[];
    expect(parsed?.toJS().spec).toEqual({
      template: {
        spec: {
          containers: [
            {
              name: 'c',
              image: 'ghcr.io/sluice-dev/sluice:0.1.0',
              args: ['controller', '--workers=2', '--namespace=new'],
            },
          ],
        },
      },
    });
  });
});

describe('packageChart', () => {
  it('copies the chart with its version and appVersion set, keeping the rest', () => {
    const chart = dir({
      'Chart.yaml': '# the chart\napiVersion: v2\nname: sluice\nversion: 0.0.1\nappVersion: "0.0.1"\n',
      'templates/deployment.yaml': 'kind: Deployment\n',
    });
    const out = mkdtempSync(join(tmpdir(), 'sluice-chart-out-'));
    expect(packageChart(chart, out, '0.2.0')).toMatch(/version 0\.2\.0/);
    const written = readFileSync(join(out, 'charts/sluice/Chart.yaml'), 'utf8');
    expect(written).toContain('# the chart');
    expect(written).toMatch(/^version: 0\.2\.0$/m);
    expect(written).toMatch(/^appVersion: "?0\.2\.0"?$/m);
    expect(written).toMatch(/^name: sluice$/m);
    expect(readFileSync(join(out, 'charts/sluice/templates/deployment.yaml'), 'utf8')).toBe(
      'kind: Deployment\n',
    );
  });

  it('skips, saying so, when there is no chart', () => {
    const out = mkdtempSync(join(tmpdir(), 'sluice-chart-out-'));
    expect(packageChart(join(out, 'charts', 'sluice'), out, '0.2.0')).toMatch(/^no chart at .*: skipped$/);
  });
});
