import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores here: more workers only make the database-heavy files fight.
    maxWorkers: 2,
    reporters: ['default'],
    projects: [
      { extends: true, test: { name: 'service', include: ['test/**/*.test.ts'], exclude: ['test/ui/**'] } },
      // The browser tests time a sync and a cancel: they run after the rest, on their own, not beside a database-heavy file.
      { extends: true, test: { name: 'browser', include: ['test/ui/**/*.test.ts'], maxWorkers: 1, sequence: { groupOrder: 1 } } },
    ],
  },
});
