import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Host-firewall files of knockc go to a scratch directory in every test process.
    setupFiles: ['test/setup-env.ts'],
    testTimeout: 20_000,
    hookTimeout: 300_000,
    // Lab tests share one Docker engine; keep files in separate workers but bounded.
    maxWorkers: 2,
    minWorkers: 1,
    reporters: ['default'],
  },
});
