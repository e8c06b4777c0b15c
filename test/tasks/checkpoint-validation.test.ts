/**
 * The runner checks a stored checkpoint against its connector's schema
 * before a run: one the connector can read is resumed from; one it cannot
 * (a wrong shape, saved by another release or damaged) starts a first load,
 * with one warning naming the source. Every connector, through the real
 * runner, against its real fake upstream.
 */
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeHubspot, startFakeMailchimp, type FakeHubspot, type FakeMailchimp } from '../../src/providers/fakes.js';
import type { SourceConnector, SyncContext } from '../../src/sources/connector.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { inWriteTransaction } from '../../src/store/write-transaction.js';
import { TaskRunner } from '../../src/tasks/runner.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/tasks/sync-state.js';
import { TaskStore } from '../../src/tasks/task-store.js';
import { customers, startFakeApi, type FakeApi } from '../providers/declared/fake-api.js';
import { declaredSource } from '../providers/declared/helpers.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { pagedConnector, startPagedUpstream, type PagedUpstream } from '../helpers/paged-upstream.js';
import { sendJson, startUpstream, urlOf, type Upstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';
import { hubspotConnector, mailchimpConnector } from '../helpers/sync.js';
import { HelpdeskSource, readHelpdeskSettings, type Person } from '../providers/example/provider.js';

const HOUR = 3_600_000;

interface Case {
  /** The source's connector, over its fake upstream. */
  connector(): SourceConnector;
  /** A checkpoint the connector saved, from which a run resumes. */
  good: unknown;
  /** Checkpoints it cannot read. */
  bad: Array<[what: string, checkpoint: unknown]>;
  /** The first request of the run went where a first load starts (true) or a resumed run (false). */
  firstLoad(): boolean;
  /** Forgets the requests seen so far. */
  clearRequests(): void;
}

/** Lines the runner logged at warn and above, parsed. */
function capturingLogger(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}

/** The connector, noting the context each run's walk was given. */
function noting(inner: SourceConnector, contexts: SyncContext[]): SourceConnector {
  const wrapped = Object.create(inner) as SourceConnector;
  return Object.assign(wrapped, {
    pages: (ctx: SyncContext) => {
      contexts.push(ctx);
      return inner.pages(ctx);
    },
  });
}

const helpdeskPeople: Person[] = [1, 2, 3, 4, 5].map((id) => ({ id, name: `P ${id}`, email: `p${id}@example.com`, updated_at: '2026-01-01T00:00:00Z' }));

for (const engine of ENGINES) {
  describe(`stored checkpoints checked by the runner, on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let store: Store;
    let hs: FakeHubspot;
    let mc: FakeMailchimp;
    let api: FakeApi;
    let paged: PagedUpstream;
    let pagedAfter: number[];
    let helpdesk: Upstream;
    let helpdeskCursors: Array<string | null>;
    const cases = new Map<string, Case>();

    beforeAll(async () => {
      db = await engine.create();
      store = await openStore(db.config);
      [hs, mc, api, paged] = await Promise.all([
        startFakeHubspot({ contacts: 150 }),
        startFakeMailchimp({ campaigns: 30 }),
        startFakeApi(customers(12)),
        startPagedUpstream(250),
      ]);
      helpdeskCursors = [];
      helpdesk = await startUpstream((req, res) => {
        const cursor = urlOf(req).searchParams.get('cursor');
        helpdeskCursors.push(cursor);
        const at = Number(cursor ?? 0);
        sendJson(res, 200, { people: helpdeskPeople.slice(at, at + 2), next_cursor: at + 2 < helpdeskPeople.length ? String(at + 2) : null });
      });
      // The paged upstream keeps no log: its connector's first request is read off the first page's checkpoint.
      pagedAfter = [];

      const now = Date.now();
      cases.set('crm', {
        connector: () => hubspotConnector(hs, { rateLimit: undefined }),
        good: { phase: 'idle', since: now - HOUR },
        bad: [
          ['an unknown phase', { phase: 'replay', since: 1 }],
          ['a field of the wrong type', { phase: 'search', since: '1', after: 0, maxSeen: 1, startedAt: 1 }],
          ['a missing field', { phase: 'idle' }],
          ['not an object', ['idle']],
        ],
        // A first load lists contacts; a resumed run searches them.
        firstLoad: () => hs.state.requests.entries[0]?.method === 'GET',
        clearRequests: () => hs.state.requests.clear(),
      });
      cases.set('marketing', {
        connector: () => mailchimpConnector(mc),
        good: { phase: 'idle', newestCreated: new Date(now - HOUR).toISOString(), lastStartedAt: new Date(now - HOUR).toISOString() },
        bad: [
          // Read as a listing before, it walked at offset NaN.
          ['a list phase without a numeric offset', { phase: 'list', since: null, newestCreated: null }],
          ['an offset of the wrong type', { phase: 'list', since: null, offset: '1000', newestCreated: null }],
          ['a sent phase without its start', { phase: 'sent', offset: 0, newestCreated: null, startedAt: new Date(now).toISOString() }],
          ['an unknown phase', { phase: 'paused', newestCreated: null }],
        ],
        // A first load lists every campaign from offset 0; a resumed run lists those created since a time.
        firstLoad: () => {
          const q = mc.state.requests.entries[0]?.query ?? {};
          expect(q.offset).toBe('0');
          return q.since_create_time === undefined;
        },
        clearRequests: () => mc.state.requests.clear(),
      });
      cases.set('acme', {
        connector: () =>
          declaredSource('acme', {
            type: 'customer',
            base_url: `${api.url}/v1`,
            path: '/items',
            records: 'data.items',
            pagination: { kind: 'offset', limit: 5, total: 'meta.total' },
            mapping: { external_id: 'id', name: 'name', email: 'email', updated_at: 'updated_at' },
            incremental: { field: 'updated_at', param: 'updated_since', format: 'iso' },
          }),
        good: { phase: 'idle', since: Date.parse('2024-03-01T00:00:00Z') },
        bad: [
          ['a since of the wrong type', { phase: 'idle', since: '2024-03-01' }],
          ['a walk whose position has no offset', { phase: 'walk', since: null, startedAt: now, maxSeen: null, position: { kind: 'offset' } }],
          ['a walk without its start', { phase: 'walk', since: null, maxSeen: null, position: { kind: 'offset', offset: 5 } }],
        ],
        firstLoad: () => !(api.requests[0]?.url.searchParams.has('updated_since') ?? true),
        clearRequests: () => void api.requests.splice(0),
      });
      cases.set('helpdesk', {
        connector: () => new HelpdeskSource(readHelpdeskSettings({ HELPDESK_TOKEN: 't', HELPDESK_BASE_URL: helpdesk.url, HELPDESK_RATE_LIMIT: 'off' })),
        good: { cursor: '2' },
        bad: [
          ['a cursor of the wrong type', { cursor: 2 }],
          ['no cursor', {}],
        ],
        firstLoad: () => helpdeskCursors[0] === null,
        clearRequests: () => void helpdeskCursors.splice(0),
      });
      cases.set('paged', {
        connector: () => {
          const inner = pagedConnector('paged', paged, 100);
          return {
            ...inner,
            async *pages(ctx: SyncContext) {
              for await (const page of inner.pages(ctx as Parameters<typeof inner.pages>[0])) {
                pagedAfter.push(page.checkpoint.after);
                yield page;
              }
            },
          };
        },
        good: { after: 200 },
        bad: [
          ['a negative position', { after: -100 }],
          ['a position of the wrong type', { after: '200' }],
        ],
        // A first load's first page ends at 100; a run resumed at 200 ends at 250.
        firstLoad: () => pagedAfter[0] === 100,
        clearRequests: () => void pagedAfter.splice(0),
      });
    });

    afterAll(async () => {
      await Promise.all([hs?.close(), mc?.close(), api?.close(), paged?.close(), helpdesk?.close()]);
      await store?.close();
      await db?.drop();
    });

    /** Stores `checkpoint` for the source, runs one incremental sync through a real runner, and reports what it saw. */
    async function runFrom(source: string, checkpoint: unknown) {
      const c = cases.get(source)!;
      await inWriteTransaction(store, (tx) => saveCheckpoint(tx, source, checkpoint));
      c.clearRequests();
      const contexts: SyncContext[] = [];
      const connector = noting(c.connector(), contexts);
      const { log, lines } = capturingLogger();
      const tasks = new TaskStore(store);
      const { task } = (await tasks.enqueue(source, { full: false, trigger: 'api' })) as { task: { id: string } };
      const runner = new TaskRunner(
        store,
        tasks,
        new Map([[source, connector]]),
        { owner: 'checkpoints', leaseMs: 5_000, heartbeatMs: 200, pollMs: 50, maxConcurrent: 1, maxAttempts: 3 },
        log,
      );
      runner.start();
      try {
        const done = await waitFor(async () => {
          const row = await tasks.get(task.id);
          return row && ['succeeded', 'failed', 'cancelled'].includes(row.status) ? row : undefined;
        }, `the ${source} sync to end`);
        expect(done.status, done.error ?? '').toBe('succeeded');
      } finally {
        await runner.stop();
        await connector.close?.();
      }
      const warnings = lines.filter((l) => (l.level as number) >= 40);
      return { ctx: contexts[0], warnings, firstLoad: c.firstLoad(), saved: await loadCheckpoint(store, source) };
    }

    for (const source of ['crm', 'marketing', 'acme', 'helpdesk', 'paged']) {
      it(`${source}: a checkpoint it saved is resumed from, without a warning`, async () => {
        const c = cases.get(source)!;
        const run = await runFrom(source, c.good);
        expect(run.ctx?.checkpoint).toEqual(c.good);
        expect(run.ctx?.full).toBe(false);
        expect(run.firstLoad).toBe(false);
        expect(run.warnings).toEqual([]);
      }, 30_000);

      it(`${source}: a checkpoint of the wrong shape starts a first load, with one warning naming the source`, async () => {
        const c = cases.get(source)!;
        for (const [what, checkpoint] of c.bad) {
          const run = await runFrom(source, checkpoint);
          expect(run.ctx?.checkpoint, what).toBeNull();
          expect(run.ctx?.full, what).toBe(true);
          expect(run.firstLoad, what).toBe(true);
          expect(run.warnings, what).toHaveLength(1);
          expect(run.warnings[0], what).toMatchObject({ source, msg: expect.stringContaining(`"${source}"`) as unknown });
          // The first load saved a checkpoint of the right shape in its place.
          expect(run.saved, what).not.toEqual(checkpoint);
        }
      }, 60_000);
    }
  });
}
