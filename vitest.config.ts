import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores here: more workers only make the database-heavy files fight.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
