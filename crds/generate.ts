// `npm run crds`: writes crds/<plural>.yaml from the zod schemas. `--check` fails on drift.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderCrds } from './render.ts';

const dir = fileURLToPath(new URL('.', import.meta.url));
const check = process.argv.includes('--check');
let drift = 0;
for (const { file, yaml } of renderCrds()) {
  const path = `${dir}${file}`;
  if (check) {
    let current = '';
    try {
      current = readFileSync(path, 'utf8');
    } catch {}
    if (current !== yaml) {
      console.error(`${path} differs from the schemas: run npm run crds`);
      drift++;
    }
  } else {
    writeFileSync(path, yaml);
    console.log(`wrote ${path}`);
  }
}
process.exitCode = drift ? 1 : 0;
