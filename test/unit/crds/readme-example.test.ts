import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseRollout } from '../../../controller/parse-cache.ts';

// The README's one example is the first thing a reader copies: it must be a Rollout Sluice reads.
describe("the README's Rollout", () => {
  it('is accepted by the schema', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const yaml = /```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(yaml).toBeDefined();
    const parsed = parseRollout(parse(yaml ?? ''));
    expect(parsed.ok ? 'ok' : parsed.message).toBe('ok');
  });
});
