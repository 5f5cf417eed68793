#!/usr/bin/env node
// `npm run build`: the `sluice` binary as one plain-JavaScript file, dist/sluice.mjs. Running
// through tsx (bin/sluice.js) is right for development, but it costs a controller ~150 MB of
// resident memory for nothing: tsx's loader thread, and the source and source maps of every
// module it transpiled. The bundle runs the same code in ~95 MB (bench/RESULTS.md, "Scale").
import { build } from 'esbuild';

await build({
  stdin: {
    contents:
      "import { main } from './controller/command-line.ts';\nprocess.exitCode = await main(process.argv.slice(2));\n",
    resolveDir: new URL('..', import.meta.url).pathname,
    sourcefile: 'sluice-bundle-entry.ts',
    loader: 'ts',
  },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // `node bin/bundle.mjs <outfile>` writes elsewhere (the test that runs the bundle alone does).
  outfile: process.argv[2] ?? new URL('../dist/sluice.mjs', import.meta.url).pathname,
  // CommonJS dependencies (pino, js-yaml…) call require(); an ES module has none of its own.
  banner: {
    js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
