import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs nothing running; `sandbox` meets the real API server,
// Prometheus and the traffic simulator, which its global setup brings up once per run.
export default defineConfig({
  test: {
    coverage: {
      provider: 'v8',
      include: ['crds/**/*.ts', 'machines/**/*.ts', 'analysis/**/*.ts', 'controller/**/*.ts', 'cli/**/*.ts'],
      reporter: ['text-summary', 'json-summary'],
      // The release logic is the part a bug in which costs an outage: keep it fully exercised.
      thresholds: { 'machines/**': { lines: 95 } },
    },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'sandbox',
          include: ['test/sandbox/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/harness/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
