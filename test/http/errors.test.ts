import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS, problem, type ErrorCode } from '../../src/errors.js';
import { errorPaths, expectProblem, postWebhook, SEED_CAMPAIGN, SEED_CUSTOMER, startApp, storedSnapshot, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

/** The "Errors" table of the contract, row by row, plus the shape every error shares. */

const JSON_TYPE = { 'content-type': 'application/json' };
const MiB = 1024 * 1024;

/** A customer delivery whose JSON text is exactly `bytes` long. */
function bodyOfSize(bytes: number, externalId: string): string {
  const empty = JSON.stringify({ customer: { external_id: externalId, padding: '' } });
  return JSON.stringify({ customer: { external_id: externalId, padding: 'p'.repeat(bytes - empty.length) } });
}

describe('the problem registry', () => {
  it('every code builds a problem with a /problems/ type, its title and its status', () => {
    for (const code of Object.keys(ERRORS) as ErrorCode[]) {
      const p = problem(code, 'what happened');
      expect(p.type).toBe(`/problems/${code.replace(/_/g, '-')}`);
      expect(p).toMatchObject({ title: ERRORS[code].title, status: ERRORS[code].status, detail: 'what happened' });
    }
  });
});

for (const engine of ENGINES) {
  describe(`error contract on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;

    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db);
      expect((await postWebhook(t.app, { customer: SEED_CUSTOMER, campaign: SEED_CAMPAIGN })).statusCode).toBe(200);
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    for (const url of ['/webhook', '/receive_webhook']) {
      it(`body that is not JSON -> 400 on ${url}`, async () => {
        const res = await t.app.inject({ method: 'POST', url, headers: JSON_TYPE, payload: '{"customer": ' });
        const p = expectProblem(res, 400);
        expect(p).toMatchObject({ type: '/problems/invalid-json', title: 'Body is not valid JSON', instance: url });
        expect(p.detail).toMatch(/^the body is not valid JSON: .*JSON/);
        expect(p.errors).toBeUndefined();
      });

      it(`body with a __proto__ key -> 400 naming the key on ${url}`, async () => {
        const payload = '{"customer": {"external_id": "p", "__proto__": {"polluted": true}}}';
        const res = await t.app.inject({ method: 'POST', url, headers: JSON_TYPE, payload });
        const p = expectProblem(res, 400);
        expect(p).toMatchObject({ type: '/problems/invalid-json', instance: url });
        expect(p.detail).toContain('"__proto__"');
        expect(p.detail).not.toContain('not valid JSON');
      });

      it(`wrong content type -> 415 on ${url}`, async () => {
        const res = await t.app.inject({
          method: 'POST',
          url,
          headers: { 'content-type': 'text/plain' },
          payload: JSON.stringify({ customer: SEED_CUSTOMER }),
        });
        expect(expectProblem(res, 415)).toMatchObject({ type: '/problems/unsupported-media-type', title: 'Unsupported media type' });
      });

      it(`JSON declared in a charset other than UTF-8 -> 415, nothing stored, on ${url}`, async () => {
        const externalId = `utf16_${url.slice(1)}`;
        const body = Buffer.from(JSON.stringify({ customer: { external_id: externalId, name: 'Zoë' } }), 'utf16le');
        const res = await t.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json; charset=utf-16' }, payload: body });
        expect(expectProblem(res, 415).detail).toContain('utf-16');
        expect((await t.app.inject(`/customers/${externalId}`)).statusCode).toBe(404);
        // UTF-8 named in any of its usual spellings is taken.
        for (const charset of ['utf-8', 'UTF8', '"utf-8"']) {
          const ok = await t.app.inject({
            method: 'POST',
            url,
            headers: { 'content-type': `application/json; charset=${charset}` },
            payload: JSON.stringify({ customer: SEED_CUSTOMER }),
          });
          expect(ok.statusCode, charset).toBe(200);
        }
      });

      it(`body over the limit (2 MiB against the default 1 MiB) -> 413 on ${url}`, async () => {
        const res = await t.app.inject({ method: 'POST', url, headers: JSON_TYPE, payload: bodyOfSize(2 * MiB, 'too_big') });
        expect(expectProblem(res, 413)).toMatchObject({ type: '/problems/payload-too-large', title: 'Body too large' });
        expect((await t.app.inject('/customers/too_big')).statusCode).toBe(404);
      });
    }

    it('the limit is 1 MiB exactly: 1 MiB is taken, one byte more is 413', async () => {
      const exact = bodyOfSize(MiB, 'exactly_1mib');
      expect(Buffer.byteLength(exact)).toBe(MiB);
      expect((await t.app.inject({ method: 'POST', url: '/webhook', headers: JSON_TYPE, payload: exact })).statusCode).toBe(200);
      const over = bodyOfSize(MiB + 1, 'over_1mib');
      expectProblem(await t.app.inject({ method: 'POST', url: '/webhook', headers: JSON_TYPE, payload: over }), 413);
    });

    it('JSON of the wrong shape -> 422 naming the field', async () => {
      const p = expectProblem(await postWebhook(t.app, { customer: 'John Doe' }), 422);
      expect(p).toMatchObject({ type: '/problems/validation', title: 'Validation failed', instance: '/webhook' });
      // One entry for "one object or an array of them", not one per branch.
      expect(p.errors).toEqual([{ path: '/body/customer', message: 'must be object or array' }]);
      expect(p.detail).toContain('/body/customer');
    });

    it('bad email -> 422 naming the field', async () => {
      const p = expectProblem(await postWebhook(t.app, { customer: { ...SEED_CUSTOMER, email: 'john.doe.example.com' } }), 422);
      expect(p.errors).toEqual([{ path: '/body/customer/email', message: 'must match format "email"' }]);
    });

    it('missing external_id -> 422 naming the field', async () => {
      const p = expectProblem(await postWebhook(t.app, { campaign: { name: 'No key' } }), 422);
      expect(p.errors).toEqual([{ path: '/body/campaign/external_id', message: 'is required' }]);
    });

    it('wrong types name the expected type plainly', async () => {
      const p = expectProblem(await postWebhook(t.app, { campaign: { external_id: 'k', budget: '5000', details: [] } }), 422);
      expect(p.errors).toEqual([
        { path: '/body/campaign/budget', message: 'must be number or null' },
        { path: '/body/campaign/details', message: 'must be object or null' },
      ]);
    });

    it('every bad field of a request is named, each once', async () => {
      const res = await postWebhook(t.app, {
        customer: [{ external_id: 'ok', email: 'bad' }, { name: 'no key' }, { external_id: 7 }],
        campaign: { external_id: 'k', budget: 'lots' },
      });
      const p = expectProblem(res, 422);
      expect(errorPaths(p)).toEqual(['/body/campaign/budget', '/body/customer/0/email', '/body/customer/1/external_id', '/body/customer/2/external_id']);
      expect(new Set(p.errors?.map((e) => `${e.path} ${e.message}`)).size).toBe(p.errors?.length);
    });

    for (const [query, path] of [
      ['offset=-1', '/query/offset'],
      ['offset=ten', '/query/offset'],
      ['limit=0', '/query/limit'],
      ['limit=1001', '/query/limit'],
      ['limit=many', '/query/limit'],
    ] as const) {
      it(`bad offset/limit (${query}) -> 422 naming ${path} on every listing`, async () => {
        for (const route of ['/data', '/customers', '/campaigns']) {
          const p = expectProblem(await t.app.inject(`${route}?${query}`), 422);
          expect(p.errors?.map((e) => e.path)).toEqual([path]);
          expect(p.instance).toBe(`${route}?${query}`);
        }
      });
    }

    it('a hostile body full of bad fields gets a short answer: at most 50 listed', async () => {
      // About 85,000 bad records in 1 MiB: each would be two field errors.
      const bad = '{"email":1},';
      const n = Math.floor((MiB - 20) / bad.length);
      const payload = `{"customer":[${bad.repeat(n).slice(0, -1)}]}`;
      expect(payload.length).toBeLessThanOrEqual(MiB);
      const res = await t.app.inject({ method: 'POST', url: '/webhook', headers: JSON_TYPE, payload });
      const p = expectProblem(res, 422);
      expect(p.errors).toHaveLength(50);
      expect(p.detail).toMatch(/ and more$/);
      expect(res.body.length).toBeLessThan(16 * 1024);
    });

    it('unknown route -> 404', async () => {
      const p = expectProblem(await t.app.inject('/no/such/route'), 404);
      expect(p).toMatchObject({ type: '/problems/not-found', title: 'Not found', instance: '/no/such/route' });
    });

    it('unknown record -> 404 naming it', async () => {
      const p = expectProblem(await t.app.inject('/customers/nobody'), 404);
      expect(p.detail).toContain('nobody');
      expectProblem(await t.app.inject('/campaigns/cust_12345'), 404);
    });

    for (const [method, url, allow] of [
      ['PUT', '/webhook', 'POST'],
      ['DELETE', '/data', 'GET'],
      ['POST', '/customers', 'GET'],
      ['PATCH', '/campaigns/camp_67890', 'GET'],
      ['POST', '/healthz', 'GET'],
    ] as const) {
      it(`known path, wrong method (${method} ${url}) -> 405 with Allow: ${allow}`, async () => {
        const res = await t.app.inject({ method, url });
        expect(expectProblem(res, 405)).toMatchObject({ type: '/problems/method-not-allowed', title: 'Method not allowed' });
        expect(res.headers.allow).toBe(allow);
      });
    }

    it('a URL that is not valid percent-encoding -> 400 problem JSON', async () => {
      expect(expectProblem(await t.app.inject('/customers/%zz%E0%A4'), 400).type).toBe('/problems/bad-request');
    });

    it('an over-long path parameter -> 414 problem JSON', async () => {
      expect(expectProblem(await t.app.inject(`/campaigns/${'c'.repeat(10_000)}`), 414).type).toBe('/problems/uri-too-long');
    });

    it('the longest external_id (255 characters, even multi-byte) can be written and read back', async () => {
      for (const id of ['L'.repeat(255), '\u00e9'.repeat(255), '\u4e2d'.repeat(255)]) {
        expect((await postWebhook(t.app, { customer: { external_id: id, name: 'Long' } })).statusCode).toBe(200);
        const res = await t.app.inject(`/customers/${encodeURIComponent(id)}`);
        expect(res.statusCode).toBe(200);
        expect(res.json().external_id).toBe(id);
      }
    });

    it('a sender id past 2^53 is refused rather than stored with lost digits', async () => {
      const before = await storedSnapshot(t.store);
      const res = await t.app.inject({
        method: 'POST',
        url: '/webhook',
        headers: JSON_TYPE,
        payload: '{"customer": {"external_id": "big_id", "id": 9007199254740993}}',
      });
      expect(errorPaths(expectProblem(res, 422))).toEqual(['/body/customer/id']);
      expect(await storedSnapshot(t.store)).toBe(before);
      const ok = await postWebhook(t.app, { customer: { external_id: 'max_id', id: Number.MAX_SAFE_INTEGER } });
      expect(ok.statusCode).toBe(200);
      expect((await t.app.inject('/customers/max_id')).json().id).toBe(Number.MAX_SAFE_INTEGER);
    });

    it('text PostgreSQL cannot hold (U+0000, lone surrogates) is refused on every engine alike', async () => {
      const before = await storedSnapshot(t.store);
      for (const payload of [
        '{"customer": {"external_id": "nul", "name": "a\\u0000b"}}',
        '{"customer": {"external_id": "sur", "note": "\\udc00"}}',
        '{"campaign": {"external_id": "det", "details": {"discount": "\\u0000"}}}',
      ]) {
        expectProblem(await t.app.inject({ method: 'POST', url: '/webhook', headers: JSON_TYPE, payload }), 422);
      }
      expectProblem(await t.app.inject('/customers/a%00b'), 422);
      expectProblem(await t.app.inject('/data?source=web%00hook'), 422);
      expect(await storedSnapshot(t.store)).toBe(before);
      // A well-formed pair (an emoji) is fine.
      expect((await postWebhook(t.app, { customer: { external_id: 'emoji', name: 'Party \u{1F389}' } })).statusCode).toBe(200);
      expect((await t.app.inject('/customers/emoji')).json().name).toBe('Party \u{1F389}');
    });

    it('a failure inside the store -> 500 problem JSON that leaks nothing', async () => {
      await t.store.db.schema.dropTable('records').execute();
      const res = await t.app.inject('/data');
      const p = expectProblem(res, 500);
      expect(p.type).toBe('/problems/internal');
      expect(res.body).not.toMatch(/records|sql|table|relation/i);
    });
  });

  describe(`error contract with API_KEY and WEBHOOK_SECRET on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;
    const secret = `whsec_${Buffer.from('a test secret of 32 bytes, fine!').toString('base64')}`;

    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db, { API_KEY: 'key-one-0123456789 key-two-0123456789', WEBHOOK_SECRET: secret });
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    for (const [name, headers] of [
      ['missing API key', {}],
      ['wrong API key', { authorization: 'Bearer key-three' }],
      ['not a bearer token', { authorization: 'Basic a2V5LW9uZQ==' }],
    ] as const) {
      it(`${name} -> 401`, async () => {
        const res = await t.app.inject({ method: 'GET', url: '/data', headers });
        expect(expectProblem(res, 401)).toMatchObject({ type: '/problems/unauthorized', title: 'Unauthorized' });
      });
    }

    it('a right API key passes; validation still names fields behind it', async () => {
      expect((await t.app.inject({ method: 'GET', url: '/data', headers: { authorization: 'Bearer key-two-0123456789' } })).statusCode).toBe(200);
      const p = expectProblem(await t.app.inject({ method: 'GET', url: '/data?limit=0', headers: { authorization: 'Bearer key-one-0123456789' } }), 422);
      expect(errorPaths(p)).toEqual(['/query/limit']);
    });

    const body = JSON.stringify({ customer: { external_id: 'signed_1' } });
    const signed = (at: Date, payload = body) => ({
      'content-type': 'application/json',
      'webhook-id': `msg_${at.getTime()}`,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(secret).sign(`msg_${at.getTime()}`, at, payload),
    });

    for (const [name, headers] of [
      ['missing signature', () => ({ 'content-type': 'application/json' })],
      ['bad signature', () => ({ ...signed(new Date()), 'webhook-signature': 'v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' })],
      ['signature over another body', () => signed(new Date(), JSON.stringify({ customer: { external_id: 'other' } }))],
      ['stale signature (10 minutes old)', () => signed(new Date(Date.now() - 10 * 60_000))],
    ] as const) {
      it(`${name} -> 401, nothing stored`, async () => {
        const before = await storedSnapshot(t.store);
        const res = await t.app.inject({ method: 'POST', url: '/webhook', headers: headers(), payload: body });
        expect(expectProblem(res, 401)).toMatchObject({ type: '/problems/invalid-signature' });
        expect(await storedSnapshot(t.store)).toBe(before);
      });
    }

    it('a valid signature is stored; webhooks need no API key', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/webhook', headers: signed(new Date()), payload: body });
      expect(res.statusCode).toBe(200);
    });
  });

  describe(`BODY_LIMIT on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;

    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db, { BODY_LIMIT: '2kb' });
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    it('a configured limit is the one enforced', async () => {
      const at = (n: number) => t.app.inject({ method: 'POST', url: '/webhook', headers: JSON_TYPE, payload: bodyOfSize(n, `size_${n}`) });
      expect((await at(2048)).statusCode).toBe(200);
      expectProblem(await at(2049), 413);
    });
  });
}
