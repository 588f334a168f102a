import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['./test/support/yield-between-tests.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Kernel tests build their own network namespaces; keep the file-level
    // parallelism at the core count so probes are not starved.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
