import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, SEED_CUSTOMER, startApp, storedSnapshot, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

/** The contract: a wrong content type is a 415 on every JSON route, and its detail says what to send. */

const MAILCHIMP_SECRET = 'form-route-secret';
const JSON_ROUTES = ['/webhook', '/receive_webhook', '/tasks/cancel', '/webhooks/hubspot'];
const JSON_BODY = JSON.stringify({ customer: SEED_CUSTOMER, task_id: 'x' });

for (const engine of ENGINES) {
  describe(`request content types on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;

    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db, { MAILCHIMP_WEBHOOK_SECRET: MAILCHIMP_SECRET });
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    for (const url of JSON_ROUTES) {
      for (const type of ['text/plain', 'text/plain; charset=utf-8', 'application/xml', 'application/x-www-form-urlencoded']) {
        it(`POST ${url} with content-type ${type} -> 415 naming application/json`, async () => {
          const before = await storedSnapshot(t.store);
          const res = await t.app.inject({ method: 'POST', url, headers: { 'content-type': type }, payload: JSON_BODY });
          const p = expectProblem(res, 415);
          expect(p.type).toBe('/problems/unsupported-media-type');
          expect(p.detail).toContain(type.split(';')[0]);
          expect(p.detail).toContain('content-type: application/json');
          expect(await storedSnapshot(t.store)).toBe(before);
        });
      }

      it(`POST ${url} with a body and no content-type -> 415 naming application/json`, async () => {
        const res = await t.app.inject({ method: 'POST', url, payload: Buffer.from(JSON_BODY) });
        expect(expectProblem(res, 415).detail).toContain('content-type: application/json');
      });
    }

    it('POST /tasks/cancel with the seed body as text/plain is a 415, not a 422 (the body is not read as a string)', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/tasks/cancel', headers: { 'content-type': 'text/plain' }, payload: '{"task_id": "nope"}' });
      expect(res.statusCode).toBe(415);
    });

    it("the form route's 415 names the form type it takes", async () => {
      const res = await t.app.inject({
        method: 'POST',
        url: `/webhooks/mailchimp/${MAILCHIMP_SECRET}`,
        headers: { 'content-type': 'text/plain' },
        payload: 'type=subscribe',
      });
      expect(expectProblem(res, 415).detail).toContain('application/x-www-form-urlencoded');
    });

    it('a route that takes no body still reads one only up to BODY_LIMIT', async () => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/sync/nosuchsource',
        headers: { 'content-type': 'text/plain' },
        payload: 'x'.repeat(t.config.bodyLimitBytes + 1),
      });
      expectProblem(res, 413);
    });

    describe('routes that take no body ignore one sent along', () => {
      const bodies: Array<{ name: string; headers: Record<string, string>; payload: string }> = [
        { name: 'text/plain', headers: { 'content-type': 'text/plain' }, payload: 'hello' },
        { name: 'broken JSON', headers: { 'content-type': 'application/json' }, payload: '{"task_id": ' },
        { name: 'no content-type', headers: {}, payload: 'anything' },
        { name: 'a gzip coding', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, payload: '{}' },
      ];
      for (const body of bodies) {
        it(`POST /sync/{source} with ${body.name} answers as without it`, async () => {
          const bare = await t.app.inject({ method: 'POST', url: '/sync/nosuchsource' });
          const res = await t.app.inject({ method: 'POST', url: '/sync/nosuchsource', headers: body.headers, payload: body.payload });
          expect(bare.statusCode).toBe(404);
          expect(res.statusCode).toBe(bare.statusCode);
          expect(JSON.parse(res.body)).toEqual(JSON.parse(bare.body));
        });

        it(`POST /webhooks/events/{id}/replay with ${body.name} answers as without it`, async () => {
          const res = await t.app.inject({ method: 'POST', url: '/webhooks/events/987654/replay', headers: body.headers, payload: body.payload });
          expect(expectProblem(res, 404).detail).toContain('987654');
        });
      }
    });
  });
}
