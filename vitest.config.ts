import { configDefaults, defineConfig } from 'vitest/config';

// `unit` needs nothing running; `sandbox` and `chaos` meet the real API server, Prometheus
// and the traffic simulator, which their global setup brings up once per run.

// Argo CD's suite needs Argo CD built from source (a cold build longer than CI's whole run on
// 2 cores: see sandbox/README.md), so it is its own project, defined only for
// `npm run test:argocd` (SLUICE_ARGOCD=1) and never part of `npm test`. Argo CD's own Go tests of
// our Lua (resource_customizations/) compile Argo CD's util/lua but need no sandbox: a second
// project without the sandbox's global setup, run by the same script.
const ARGOCD_LUA_TEST = 'test/sandbox/argocd-upstream-lua.test.ts';
const ARGOCD_TESTS = [
  'test/sandbox/gitops-argocd.test.ts',
  'test/sandbox/gitops-argocd-write-back.test.ts',
  'test/sandbox/demo-argocd.test.ts',
  ARGOCD_LUA_TEST,
];
const argocdProject =
  process.env.SLUICE_ARGOCD === '1'
    ? [
        {
          test: {
            name: 'argocd',
            include: ARGOCD_TESTS.filter((t) => t !== ARGOCD_LUA_TEST),
            environment: 'node',
            globalSetup: ['test/harness/global-setup-argocd.ts'],
            testTimeout: 300_000,
            // Building Argo CD the first time happens here, in the global setup.
            hookTimeout: 3_600_000,
            fileParallelism: false,
            // After argocd-lua: its Go compile would otherwise share the 2 cores with Argo CD's.
            sequence: { groupOrder: 1 },
          },
        },
        {
          test: {
            name: 'argocd-lua',
            include: [ARGOCD_LUA_TEST],
            environment: 'node',
            // A cold run compiles Argo CD's util/lua and what it imports: see docs/argocd.md.
            testTimeout: 3_600_000,
            sequence: { groupOrder: 0 },
          },
        },
      ]
    : [];

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
          // First, and said: left unset, vitest 5 ran it after chaos.
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'sandbox',
          include: ['test/sandbox/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...ARGOCD_TESTS],
          environment: 'node',
          globalSetup: ['test/harness/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 600_000,
          fileParallelism: false,
          // After unit, before chaos. Said explicitly: vitest 5 runs a one-file-at-a-time project
          // left at group 0 after every numbered group, which put chaos first.
          sequence: { groupOrder: 1 },
        },
      },
      {
        // Fault injection on the real sandbox: SLUICE_CHAOS_PROFILE=full (`npm run chaos`) for
        // the long run, the short CI profile otherwise. Same sandbox as `sandbox`, one file at a time.
        test: {
          name: 'chaos',
          include: ['test/chaos/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/harness/global-setup.ts'],
          testTimeout: process.env.SLUICE_CHAOS_PROFILE === 'full' ? 3_600_000 : 600_000,
          hookTimeout: 600_000,
          fileParallelism: false,
          // After the other projects: its faults (API server restarts, Prometheus stopped) must
          // not land in the middle of someone else's test.
          sequence: { groupOrder: 2 },
        },
      },
      ...argocdProject,
    ],
  },
});
