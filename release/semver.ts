/** A version the release refuses, with the reason a person can act on. */
export class ReleaseError extends Error {
  override name = 'ReleaseError';
}

const NUMBER = '(?:0|[1-9][0-9]*)';
// A pre-release identifier: a number without leading zeros, or anything with a letter or hyphen.
const IDENTIFIER = `(?:${NUMBER}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)`;
const RELEASE = new RegExp(`^${NUMBER}\\.${NUMBER}\\.${NUMBER}(?:-${IDENTIFIER}(?:\\.${IDENTIFIER})*)?$`);

/** A label value holds at most 63 characters. */
const MAX_LENGTH = 63;

/**
 * Returns `version` if it can name a release, throws ReleaseError otherwise. Semantic Versioning
 * 2.0 without build metadata: the version becomes an image tag and a label value, and neither
 * may hold a `+`.
 */
export function checkReleaseVersion(version: string): string {
  const hint = (why: string) =>
    new ReleaseError(`--version "${version}" ${why}; expected MAJOR.MINOR.PATCH[-PRERELEASE], e.g. 0.2.0`);
  if (/^v[0-9]/.test(version)) throw hint('starts with "v"');
  if (version.includes('+')) throw hint('has build metadata, which an image tag and a label cannot hold');
  if (!RELEASE.test(version)) throw hint('is not a semantic version');
  if (version.length > MAX_LENGTH) throw hint(`is longer than ${MAX_LENGTH} characters (a label value)`);
  return version;
}
