import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, revisionOf } from '../../../controller/revision.ts';

const template = {
  metadata: { labels: { app: 'checkout' } },
  spec: { containers: [{ name: 'app', image: 'shop/checkout:1.0.0' }] },
};

describe('revision hash', () => {
  it('ignores key order, so git formatting does not start a release', () => {
    const reordered = {
      spec: { containers: [{ image: 'shop/checkout:1.0.0', name: 'app' }] },
      metadata: { labels: { app: 'checkout' } },
    };
    expect(revisionOf(reordered)).toBe(revisionOf(template));
  });

  it('changes with the image', () => {
    const v2 = { ...template, spec: { containers: [{ name: 'app', image: 'shop/checkout:2.0.0' }] } };
    expect(revisionOf(v2)).not.toBe(revisionOf(template));
  });

  it('is a valid label value and name suffix', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const rev = revisionOf({ spec: { containers: [{ name: 'x', image: JSON.stringify(value) }] } });
        expect(rev).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]{1,10}$/);
      }),
    );
  });

  it('canonical JSON round-trips values and drops undefined members', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
    expect(canonicalJson({ b: 1, a: undefined, c: [2, { z: 1, y: 2 }] })).toBe(
      '{"b":1,"c":[2,{"y":2,"z":1}]}',
    );
  });
});
