/**
 * HubSpot's archived list is walked on full runs and at most once per
 * HUBSPOT_ARCHIVED_INTERVAL by incremental ones; contact.deletion webhooks
 * carry deletions in between. The time of the last walk is in the checkpoint.
 */
import { pino } from 'pino';
import { Value } from 'typebox/value';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type FakeHubspot, startFakeHubspot } from '../../../src/providers/fakes.js';
import { type HubspotCheckpoint, hubspotCheckpointSchema } from '../../../src/providers/hubspot/connector.js';
import { archivedWalkDue } from '../../../src/providers/hubspot/archived-walk.js';
import { ENGINES } from '../../helpers/databases.js';
import { hsEvent, HUBSPOT_SECRET, postHubspot } from '../../helpers/webhooks.js';
import { dataTotal, Harness, hubspotConnector, runSync, since, sleep } from '../../helpers/sync.js';

const CONTACTS = '/crm/v3/objects/contacts';

describe('archivedWalkDue', () => {
  it('is due when never walked, once the interval has passed, and when the clock went back past it', () => {
    const now = 1_000_000;
    expect(archivedWalkDue(undefined, now, 60_000)).toBe(true);
    expect(archivedWalkDue(now - 59_999, now, 60_000)).toBe(false);
    expect(archivedWalkDue(now - 60_000, now, 60_000)).toBe(true);
    expect(archivedWalkDue(now + 1_000, now, 60_000)).toBe(false);
    expect(archivedWalkDue(now + 60_001, now, 60_000)).toBe(true);
    expect(archivedWalkDue(now, now, 0)).toBe(true);
  });
});

describe('a checkpoint from before the archived walk time was kept', () => {
  let hs: FakeHubspot | undefined;
  afterEach(async () => {
    await hs?.close();
    hs = undefined;
  });

  it('is still valid, and its next run walks the archived list and then keeps the time', async () => {
    const old = { phase: 'idle', since: Date.UTC(2023, 0, 1) };
    expect(Value.Check(hubspotCheckpointSchema, old)).toBe(true);
    expect(Value.Check(hubspotCheckpointSchema, { ...old, archivedWalkAt: 5 })).toBe(true);
    expect(Value.Check(hubspotCheckpointSchema, { ...old, archivedWalkAt: 'yesterday' })).toBe(false);

    hs = await startFakeHubspot({ contacts: 10 });
    hs.state.archiveContact('1004');
    const src = hubspotConnector(hs);
    const before = Date.now();
    let last: HubspotCheckpoint | null = null;
    const deleted: string[] = [];
    try {
      for await (const page of src.pages({
        signal: new AbortController().signal,
        checkpoint: old as HubspotCheckpoint,
        full: false,
        log: pino({ level: 'silent' }),
      })) {
        last = page.checkpoint;
        deleted.push(...page.records.filter((r) => r.deleted).map((r) => r.external_id));
      }
    } finally {
      await src.close();
    }
    expect(deleted).toEqual(['1004']);
    expect(hs.state.requests.entries.filter((e) => e.path === CONTACTS && e.query.archived === 'true')).toHaveLength(1);
    expect(last).toMatchObject({ phase: 'idle', archivedWalkAt: expect.any(Number) });
    expect((last as { archivedWalkAt: number }).archivedWalkAt).toBeGreaterThanOrEqual(before);
  });
});

for (const engine of ENGINES) {
  describe(`HubSpot archived walk on ${engine.name}`, () => {
    const h = new Harness(engine);
    let hs: FakeHubspot | undefined;

    afterEach(async () => {
      await h.reset();
      await hs?.close();
      hs = undefined;
    });
    afterAll(() => h.drop());

    const archivedGets = (from: number) => since(hs!.state.requests.entries, from).filter((e) => e.path === CONTACTS && e.query.archived === 'true');
    const boot = (fake: FakeHubspot, archivedIntervalMs?: number) =>
      h.boot(new Map([['crm', hubspotConnector(fake, {}, archivedIntervalMs === undefined ? {} : { archivedIntervalMs })]]), {
        HUBSPOT_CLIENT_SECRET: HUBSPOT_SECRET,
      });

    it('by default an incremental run leaves the archived list alone; the deletion webhook tombstones the contact', async () => {
      hs = await startFakeHubspot({ contacts: 40 });
      const app = await boot(hs);
      expect((await runSync(app, 'crm')).status).toBe('succeeded');
      expect(archivedGets(0)).toHaveLength(1);

      hs.state.archiveContact('1011');
      hs.state.updateContact('1012', { firstname: 'Edited' });
      const mark = hs.state.requests.length;
      const inc = await runSync(app, 'crm');
      expect(inc.status, inc.error ?? '').toBe('succeeded');
      expect(archivedGets(mark)).toHaveLength(0);
      // Only the search: the change is in, the deletion is not (yet).
      expect(hs.state.requests.length - mark).toBe(1);
      expect(await dataTotal(app, 'crm')).toBe(40);

      const res = await postHubspot(app, [hsEvent({ eventId: 1, subscriptionType: 'contact.deletion', objectId: 1011, occurredAt: Date.now() })]);
      expect(res.statusCode, res.body).toBe(200);
      expect(await dataTotal(app, 'crm')).toBe(39);

      // A full run walks it whatever the interval.
      const fullMark = hs.state.requests.length;
      const full = await runSync(app, 'crm', '?full=true');
      expect(full.status, full.error ?? '').toBe('succeeded');
      expect(archivedGets(fullMark)).toHaveLength(1);
      expect(await dataTotal(app, 'crm')).toBe(39);
    });

    it('an incremental run walks the archived list once the interval has passed, and not again before the next', async () => {
      hs = await startFakeHubspot({ contacts: 40 });
      const app = await boot(hs, 1_500);
      expect((await runSync(app, 'crm')).status).toBe('succeeded');
      hs.state.archiveContact('1020');

      let mark = hs.state.requests.length;
      expect((await runSync(app, 'crm')).status).toBe('succeeded');
      expect(archivedGets(mark)).toHaveLength(0);
      expect(await dataTotal(app, 'crm')).toBe(40);

      await sleep(1_600);
      mark = hs.state.requests.length;
      const due = await runSync(app, 'crm');
      expect(due.status, due.error ?? '').toBe('succeeded');
      expect(archivedGets(mark)).toHaveLength(1);
      expect(await dataTotal(app, 'crm')).toBe(39);
      expect(await dataTotal(app, 'crm', true)).toBe(40);

      mark = hs.state.requests.length;
      expect((await runSync(app, 'crm')).status).toBe('succeeded');
      expect(archivedGets(mark)).toHaveLength(0);
    });
  });
}
