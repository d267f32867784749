import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 300_000,
    // Lab tests share one Docker engine; keep files in separate workers but bounded.
    maxWorkers: 2,
    minWorkers: 1,
    reporters: ['default'],
  },
});
