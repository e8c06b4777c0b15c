/**
 * HubSpot list paging has no guard against a `paging.next.after` that does not
 * move (a proxy cache, an upstream bug): the run loops on the same page forever,
 * re-writing the same contacts. Declared cursor sources refuse this
 * ("refusing to loop"); the HubSpot list walk does not.
 */
import { pino } from 'pino';
import { afterEach, expect, it } from 'vitest';
import { HubspotSource } from '../../src/providers/hubspot/connector.js';
import { sendJson, startUpstream, type Upstream } from '../sources/upstream-server.js';

const ups: Upstream[] = [];
afterEach(async () => {
  await Promise.all(ups.splice(0).map((u) => u.close()));
});

it('a list page whose next cursor is the one just sent ends the walk with an error, not an endless loop', async () => {
  const u = await startUpstream((_req, res) =>
    sendJson(res, 200, { results: [{ id: '1', properties: { email: 'a@example.com' } }], paging: { next: { after: 'same' } } }),
  );
  ups.push(u);
  const src = new HubspotSource({ name: 'crm', accessToken: 't', baseUrl: u.url, client: { timeoutMs: 2_000, rateLimit: undefined } });
  let pages = 0;
  let error: unknown = null;
  try {
    for await (const _ of src.pages({ signal: new AbortController().signal, checkpoint: null, full: true, log: pino({ level: 'silent' }) })) {
      if (++pages >= 50) break; // the guard of this test
    }
  } catch (e) {
    error = e;
  } finally {
    await src.close();
  }
  expect({ pages, requests: u.requests.length, threw: error !== null }).toMatchObject({ threw: true });
}, 20_000);
