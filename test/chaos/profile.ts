import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Rng, seededRng } from '../../sandbox/traffic/rng.ts';
import { sandbox } from '../harness/env.ts';

/**
 * `ci` (default, what `npm test` runs) or `full` (`npm run chaos`): the same scenarios, the
 * full profile with more faults and the outage lengths the issue states.
 */
export const PROFILE = process.env.SLUICE_CHAOS_PROFILE === 'full' ? 'full' : 'ci';

export const COUNTS = {
  ci: { controllerKills: 12, leaderKills: 3, prometheusOutageMs: 60_000 },
  full: { controllerKills: 100, leaderKills: 10, prometheusOutageMs: 120_000 },
}[PROFILE];

/** Seeded, so a failing run's kill schedule can be replayed with SLUICE_CHAOS_SEED. */
export const SEED = Number(process.env.SLUICE_CHAOS_SEED ?? Date.now() % 1_000_000);

export const chaosRng = (): Rng => seededRng(SEED);

/** Appends one scenario's figures to .sandbox/logs/chaos-figures.jsonl (for test/RELIABILITY.md). */
export function recordFigures(scenario: string, figures: Record<string, unknown>): void {
  const line = { scenario, profile: PROFILE, seed: SEED, at: new Date().toISOString(), ...figures };
  appendFileSync(join(sandbox().SANDBOX_LOGS, 'chaos-figures.jsonl'), `${JSON.stringify(line)}\n`);
}
