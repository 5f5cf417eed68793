#!/usr/bin/env node
// `npm run build`: the `sluice` binary as one plain-JavaScript file, dist/sluice.mjs. Running
// through tsx (bin/sluice.js) is right for development, but it costs a controller ~150 MB of
// resident memory for nothing: tsx's loader thread, and the source and source maps of every
// module it transpiled. The bundle runs the same code in ~95 MB (bench/RESULTS.md, "Scale").
// release/build.ts bundles the kubectl plugin through the same function.
import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The two programs Sluice ships, by the module whose `main(argv)` each runs. */
export const ENTRIES = {
  sluice: './controller/command-line.ts',
  'kubectl-sluice': './cli/kubectl-sluice-main.ts',
};

function packageVersion() {
  return JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
}

function gitRevision() {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' }).trim();
  } catch {
    return undefined; // the image build copies sources without .git: SLUICE_REVISION says it there
  }
}

/**
 * Bundles one entry into `outfile`. The version and revision become constants the code reads
 * (controller/version.ts); SLUICE_VERSION and SLUICE_REVISION in the environment are the image
 * build's arguments and stand in for options not given.
 */
export async function bundle({ entry = 'sluice', outfile, version, revision } = {}) {
  const source = ENTRIES[entry];
  if (source === undefined)
    throw new Error(`no entry "${entry}" (known: ${Object.keys(ENTRIES).join(', ')})`);
  const stamp = {
    version: version ?? (process.env.SLUICE_VERSION || packageVersion()),
    revision: revision ?? (process.env.SLUICE_REVISION || gitRevision()),
  };
  await build({
    stdin: {
      contents: `import { main } from '${source}';\nprocess.exitCode = await main(process.argv.slice(2));\n`,
      resolveDir: ROOT,
      sourcefile: `${entry}-bundle-entry.ts`,
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    outfile: outfile ?? `${ROOT}dist/${entry}.mjs`,
    // client-node's node-fetch 2 reaches tr46, which requires Node's own punycode module: Node 22+
    // then warns (DEP0040) on every run of a file outside node_modules, as the bundles are. The
    // npm package of the same code, which tr46's later versions require, is bundled instead.
    alias: { punycode: 'punycode/punycode.js' },
    define: {
      __SLUICE_VERSION__: JSON.stringify(stamp.version),
      ...(stamp.revision ? { __SLUICE_REVISION__: JSON.stringify(stamp.revision) } : {}),
    },
    // The shebang lets the plugin bundle be put on the PATH as `kubectl-sluice`. CommonJS
    // dependencies (pino, js-yaml…) call require(); an ES module has none of its own.
    banner: {
      js: "#!/usr/bin/env node\nimport { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    logLevel: 'warning',
  });
  return stamp;
}

// Run as a program, not imported: `node bin/bundle.mjs [outfile]` writes the controller there
// (the test that runs the bundle alone does).
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await bundle({ outfile: process.argv[2] });
}
