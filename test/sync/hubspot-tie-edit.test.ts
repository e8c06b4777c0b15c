/**
 * A tie (many contacts sharing one lastmodifieddate, e.g. a bulk edit) used to
 * be paged by offset into "lastmodifieddate GTE S": a contact of the tie edited
 * during the walk left the tie, every later one shifted a place forward, and
 * the one at the page boundary was never returned, nor by the next run (its
 * lookback starts past the tie). The tie is now walked by id.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startFakeHubspot, type FakeHubspot } from '../../src/sandbox/index.js';
import { ENGINES } from '../helpers/databases.js';
import { Harness, allRecords, contactIds, hubspotConnector, runSync } from '../sync/sync-helpers.js';

const SEARCH = '/crm/v3/objects/contacts/search';

for (const engine of ENGINES) {
  describe(`HubSpot tie edited during the walk, on ${engine.name}`, () => {
    const h = new Harness(engine);
    let hs: FakeHubspot | undefined;
    afterEach(async () => {
      await h.reset();
      await hs?.close();
      hs = undefined;
    });
    afterAll(() => h.drop());

    for (const editAtSearch of [2, 3]) {
      it(`a bulk-edited contact is not lost when another contact of the tie is edited before search request #${editAtSearch}`, async () => {
        let clock = Date.now();
        hs = await startFakeHubspot({ contacts: 1_000, now: () => clock });
        const app = await h.boot(new Map([['crm', hubspotConnector(hs)]]));
        expect((await runSync(app, 'crm')).status).toBe('succeeded');

        // A bulk edit: 500 contacts stamped in the same millisecond.
        clock = Date.now() + 60_000;
        const bulk = contactIds(500, 1101);
        for (const id of bulk) hs.state.updateContact(id, { firstname: 'Bulk' });

        // An hour later, while the incremental run pages through the tie, a contact of the
        // tie that was already fetched is edited again.
        const log = hs.state.requests;
        const add = log.add.bind(log);
        let n = 0;
        log.add = (entry) => {
          if (entry.path === SEARCH && ++n === editAtSearch) {
            clock += 3_600_000;
            hs!.state.updateContact('1101', { firstname: 'Bulk', lastname: 'Again' });
          }
          return add(entry);
        };
        const inc = await runSync(app, 'crm');
        expect(inc.status, inc.error ?? '').toBe('succeeded');
        log.add = add;
        // And the next run does not make up for it either.
        expect((await runSync(app, 'crm')).status).toBe('succeeded');

        const byId = new Map((await allRecords(app, 'crm')).map((r) => [r.external_id as string, r]));
        const missed = bulk.filter((id) => (byId.get(id)?.attributes as Record<string, unknown>).firstname !== 'Bulk');
        expect(missed).toEqual([]);
      });
    }
  });
}
