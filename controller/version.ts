/**
 * Which Sluice this is. The bundles (bin/bundle.mjs, release/build.ts) stamp the version and git
 * commit in as constants; run from source there is no build to ask, so package.json's version
 * stands in with `-dev`, which tells a person the code may be anything since that release.
 */
import { readFileSync } from 'node:fs';

declare const __SLUICE_VERSION__: string | undefined;
declare const __SLUICE_REVISION__: string | undefined;

/** package.json's version: the one place a version is written down. */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version?: string;
  };
  return pkg.version ?? '0.0.0';
}

// `typeof` because an undefined global is a ReferenceError when read directly.
export const VERSION: string =
  typeof __SLUICE_VERSION__ === 'string' ? __SLUICE_VERSION__ : `${packageVersion()}-dev`;

/** The git commit the bundle was built from; unknown when running from source. */
export const REVISION: string | undefined =
  typeof __SLUICE_REVISION__ === 'string' ? __SLUICE_REVISION__ : undefined;
