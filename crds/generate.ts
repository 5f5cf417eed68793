// `npm run crds`: writes crds/<plural>.yaml from the zod schemas, and the Helm chart's copies
// of what deploy/ says (the CRDs, the RBAC rules, the egress policy), so the chart and
// `kubectl apply -k deploy/` install the same thing from one source. `--check` fails on drift.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderCrds } from './render.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const CHART_COPY =
  '# Copied by `npm run crds` from deploy/ (the one source), for the chart to read. Do not edit.\n';
const fromDeploy = (file: string) => CHART_COPY + readFileSync(`${root}deploy/${file}`, 'utf8');

const outputs = [
  ...renderCrds().flatMap(({ file, yaml }) => [
    { path: `crds/${file}`, text: yaml },
    { path: `charts/sluice/crds/${file}`, text: yaml },
  ]),
  ...['rbac.yaml', 'rbac-people.yaml', 'networkpolicy.yaml', 'monitoring/prometheusrule.yaml'].map(
    (file) => ({
      path: `charts/sluice/files/${file.replace('monitoring/', '')}`,
      text: fromDeploy(file),
    }),
  ),
];

const check = process.argv.includes('--check');
let drift = 0;
for (const { path, text } of outputs) {
  const full = `${root}${path}`;
  if (check) {
    let current = '';
    try {
      current = readFileSync(full, 'utf8');
    } catch {}
    if (current !== text) {
      console.error(`${path} differs from its source: run npm run crds`);
      drift++;
    }
  } else {
    writeFileSync(full, text);
    console.log(`wrote ${path}`);
  }
}
process.exitCode = drift ? 1 : 0;
