import { Gauge, type Registry } from 'prom-client';
import { REVISION, VERSION } from './version.ts';

export interface BuildInfo {
  version: string;
  revision: string;
  node: string;
}

const THIS_BUILD: BuildInfo = { version: VERSION, revision: REVISION ?? 'unknown', node: process.version };

/**
 * `sluice_build_info`, always 1: the labels are the point, so a dashboard can join any series on
 * the version a replica runs and see a fleet half-way through an upgrade.
 */
export function registerBuildInfo(registry: Registry, build: BuildInfo = THIS_BUILD): Gauge {
  const gauge = new Gauge({
    name: 'sluice_build_info',
    help: 'Always 1; labels carry the Sluice version, its git commit and the Node.js version',
    labelNames: ['version', 'revision', 'node'] as const,
    registers: [registry],
  });
  gauge.set({ ...build }, 1);
  return gauge;
}
