import { afterAll, afterEach, beforeAll } from 'vitest';
import { startApp, type TestApp } from './app.js';
import type { Engine, ScratchDatabase } from './databases.js';
import { pagedConnector, startPagedUpstream, type PagedUpstream } from './paged-upstream.js';

export interface PagedAppFixture {
  readonly db: ScratchDatabase;
  readonly upstream: PagedUpstream;
  /** The app of the running test: boot it first. */
  readonly t: TestApp;
  /** Starts the app (closing one still open) with the paged upstream as source `items`; it is closed after the test. */
  boot(options?: { env?: Record<string, string>; latencyMs?: number; runTasks?: boolean }): Promise<TestApp>;
}

/**
 * The scaffolding of a test file that syncs a paged loopback upstream of
 * `total` items into a scratch database: one upstream for the file, the app
 * closed after each test, and one database for the file or (`freshDatabase`)
 * a new one a test.
 */
export function usePagedApp(engine: Engine, options: { total: number; env: Record<string, string>; freshDatabase?: boolean }): PagedAppFixture {
  let db: ScratchDatabase | undefined;
  let upstream: PagedUpstream | undefined;
  let t: TestApp | undefined;
  const fresh = options.freshDatabase === true;
  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`the fixture's ${what} is not there yet`);
    return value;
  };

  beforeAll(async () => {
    upstream = await startPagedUpstream(options.total);
    if (!fresh) db = await engine.create();
  });
  afterEach(async () => {
    await t?.close();
    t = undefined;
    if (fresh) {
      await db?.drop();
      db = undefined;
    }
  });
  afterAll(async () => {
    await upstream?.close();
    await db?.drop();
  });

  return {
    get db() {
      return ready(db, 'database');
    },
    get upstream() {
      return ready(upstream, 'upstream');
    },
    get t() {
      return ready(t, 'app');
    },
    async boot({ env = {}, latencyMs = 0, runTasks } = {}) {
      const items = ready(upstream, 'upstream');
      items.latencyMs = latencyMs;
      await t?.close();
      if (fresh) {
        await db?.drop();
        db = await engine.create();
      }
      t = await startApp(ready(db, 'database'), { ...options.env, ...env }, { connectors: new Map([['items', pagedConnector('items', items)]]), runTasks });
      return t;
    },
  };
}
