import { describe, expect, it } from 'vitest';
import { parseRollout } from '../../../controller/parse-cache.ts';
import { revisionOf } from '../../../controller/revision.ts';
import { templateOf } from '../../../crds/spec.ts';
import { canaryApp } from '../../../sandbox/apps.ts';

const rollout = () => canaryApp('shop', { name: 'web' }).find((o) => o.kind === 'Rollout') as object;

describe('parseRollout', () => {
  it('validates an object once and answers the same result for it after', () => {
    const raw = rollout();
    const first = parseRollout(raw);
    expect(first.ok).toBe(true);
    expect(parseRollout(raw)).toBe(first);
  });

  it('validates a new version of the object anew', () => {
    const raw = rollout();
    const next = structuredClone(raw) as { spec: { replicas: number } };
    next.spec.replicas = -1;
    expect(parseRollout(raw).ok).toBe(true);
    const refused = parseRollout(next);
    expect(refused.ok).toBe(false);
    expect(refused.ok ? '' : refused.message).toContain('spec.replicas');
  });

  it('keeps the revision of a parsed template stable and equal to a fresh computation', () => {
    const parsed = parseRollout(rollout());
    if (!parsed.ok) throw new Error(parsed.message);
    const template = templateOf(parsed.value.spec);
    const again = parseRollout(rollout());
    if (!again.ok) throw new Error(again.message);
    expect(revisionOf(template)).toBe(revisionOf(template));
    expect(revisionOf(templateOf(again.value.spec))).toBe(revisionOf(template));
    expect(revisionOf(structuredClone(template))).toBe(revisionOf(template));
  });
});
