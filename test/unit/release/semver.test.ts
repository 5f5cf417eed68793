import { describe, expect, it } from 'vitest';
import { checkReleaseVersion, ReleaseError } from '../../../release/semver.ts';

describe('checkReleaseVersion', () => {
  it('takes semantic versions, pre-releases included', () => {
    for (const v of [
      '0.2.0',
      '1.0.0',
      '10.20.30',
      '1.0.0-rc.1',
      '1.0.0-alpha-a.b-c',
      '1.0.0-0.3.7',
      '1.0.0-x.7.z.92',
    ]) {
      expect(checkReleaseVersion(v)).toBe(v);
    }
  });

  it('refuses anything else, saying why', () => {
    const refusals: [string, RegExp][] = [
      ['v0.2.0', /starts with "v"/],
      ['1.0.0+20130313', /build metadata/],
      ['0.2', /not a semantic version/],
      ['01.2.3', /not a semantic version/],
      ['1.2.3-01', /not a semantic version/],
      ['1.2.3-', /not a semantic version/],
      ['1.2.3-a..b', /not a semantic version/],
      ['', /not a semantic version/],
      ['1.2.3 ', /not a semantic version/],
      [`1.2.3-${'a'.repeat(60)}`, /longer than 63 characters/],
    ];
    for (const [version, why] of refusals) {
      expect(() => checkReleaseVersion(version), version).toThrow(ReleaseError);
      expect(() => checkReleaseVersion(version), version).toThrow(why);
    }
  });
});
