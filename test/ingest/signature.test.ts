import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIGNATURE_TOLERANCE_SECONDS, secretKey, verifySignature } from '../../src/ingest/signature.js';
import { postWebhook, storedSnapshot, startApp, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

/** What a real sender does: the standardwebhooks package signs "id.timestamp.body". */
function signedHeaders(secret: string, id: string, body: string, at: Date = new Date()): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, at, body),
  };
}

describe('verifySignature', () => {
  const secret = newSecret();
  const keys = [secretKey(secret)];
  const body = '{"customer":{"external_id":"sig_unit","name":"Zoë"}}';
  const now = 1_800_000_000;
  const at = new Date(now * 1000);
  const headersFor = (h: Record<string, string>) => ({
    id: h['webhook-id'],
    timestamp: h['webhook-timestamp'],
    signature: h['webhook-signature'],
  });
  const good = headersFor(signedHeaders(secret, 'msg_1', body, at));

  it('accepts what the standardwebhooks package signs, over the raw UTF-8 bytes', () => {
    expect(verifySignature(keys, good, Buffer.from(body), now)).toEqual({ ok: true });
  });

  it('agrees with the package verifier on the same input', () => {
    // The package checks against the real clock; sign "now" for it.
    const h = signedHeaders(secret, 'msg_pkg', body);
    expect(() => new Webhook(secret).verify(body, h)).not.toThrow();
    expect(verifySignature(keys, headersFor(h), Buffer.from(body))).toEqual({ ok: true });
  });

  it('takes the secret with or without the whsec_ prefix', () => {
    expect(verifySignature([secretKey(secret.slice('whsec_'.length))], good, Buffer.from(body), now).ok).toBe(true);
  });

  it('accepts when any one of several space-separated signatures matches', () => {
    const other = new Webhook(newSecret()).sign('msg_1', at, body);
    const signature = `v1,${randomBytes(32).toString('base64')} v2,whatever ${other} ${good.signature}`;
    expect(verifySignature(keys, { ...good, signature }, Buffer.from(body), now).ok).toBe(true);
  });

  it('accepts when any one of several keys signed it (rotation)', () => {
    const rotated = [secretKey(newSecret()), ...keys, secretKey(newSecret())];
    expect(verifySignature(rotated, good, Buffer.from(body), now).ok).toBe(true);
  });

  it('refuses another secret', () => {
    expect(verifySignature([secretKey(newSecret())], good, Buffer.from(body), now).ok).toBe(false);
  });

  it('refuses a body changed by one byte, or by whitespace only', () => {
    const oneByte = Buffer.from(body);
    const at = oneByte.length - 3;
    oneByte.writeUInt8(oneByte.readUInt8(at) ^ 1, at);
    expect(verifySignature(keys, good, oneByte, now).ok).toBe(false);
    expect(verifySignature(keys, good, Buffer.from(JSON.stringify(JSON.parse(body), null, 1)), now).ok).toBe(false);
    expect(verifySignature(keys, good, Buffer.from(`${body}\n`), now).ok).toBe(false);
  });

  it('refuses a changed id or timestamp (both are signed)', () => {
    expect(verifySignature(keys, { ...good, id: 'msg_2' }, Buffer.from(body), now).ok).toBe(false);
    const ts = String(now + 1);
    expect(verifySignature(keys, { ...good, timestamp: ts }, Buffer.from(body), now).ok).toBe(false);
  });

  it('refuses timestamps more than 5 minutes off, either way, and takes them up to the limit', () => {
    const tol = SIGNATURE_TOLERANCE_SECONDS;
    expect(tol).toBe(300);
    for (const [offset, ok] of [
      [-tol, true],
      [tol, true],
      [-tol - 1, false],
      [tol + 1, false],
      [-3600, false],
      [86_400, false],
    ] as const) {
      const signedAt = new Date((now + offset) * 1000);
      const h = headersFor(signedHeaders(secret, 'msg_t', body, signedAt));
      const check = verifySignature(keys, h, Buffer.from(body), now);
      expect(check.ok, `offset ${offset}`).toBe(ok);
      if (!check.ok) expect(check.reason).toMatch(/timestamp/);
    }
  });

  it('refuses missing headers, naming them', () => {
    for (const missing of ['id', 'timestamp', 'signature'] as const) {
      const check = verifySignature(keys, { ...good, [missing]: undefined }, Buffer.from(body), now);
      expect(check.ok).toBe(false);
      if (!check.ok) expect(check.reason).toContain(`webhook-${missing}`);
      expect(verifySignature(keys, { ...good, [missing]: '' }, Buffer.from(body), now).ok).toBe(false);
    }
  });

  it('refuses a timestamp that is not Unix seconds', () => {
    for (const timestamp of [`${now}abc`, `${now}.5`, `-${now}`, new Date(now * 1000).toISOString(), `${now * 1000}`]) {
      expect(verifySignature(keys, { ...good, timestamp }, Buffer.from(body), now).ok, timestamp).toBe(false);
    }
  });

  it('refuses signatures of another version or without a version', () => {
    const bare = (good.signature as string).slice('v1,'.length);
    for (const signature of [bare, `v2,${bare}`, `v1a,${bare}`, `V1,${bare}`, `,${bare}`, 'v1,']) {
      expect(verifySignature(keys, { ...good, signature }, Buffer.from(body), now).ok, signature).toBe(false);
    }
  });

  it('compares the signature exactly, as the package does: no lenient base64', () => {
    const sig = (good.signature as string).slice('v1,'.length);
    const variants = [`${sig}AAAA`, `${sig}=junk`, `${sig.slice(0, 10)}!${sig.slice(10)}`, sig.replace(/=+$/, '')];
    for (const v of variants) {
      expect(verifySignature(keys, { ...good, signature: `v1,${v}` }, Buffer.from(body), now).ok, v).toBe(false);
    }
  });

  it('with no keys, nothing verifies', () => {
    expect(verifySignature([], good, Buffer.from(body), now).ok).toBe(false);
  });
});

for (const engine of ENGINES) {
  describe(`signed webhooks on ${engine.name}`, () => {
    const oldSecret = newSecret();
    const newer = newSecret();
    let db: ScratchDatabase;
    let t: TestApp;

    beforeAll(async () => {
      db = await engine.create();
      // Two secrets configured: a rotation in progress.
      t = await startApp(db, { WEBHOOK_SECRET: `${oldSecret} ${newer}` });
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    const bodyFor = (externalId: string) => JSON.stringify({ customer: { external_id: externalId, name: 'Signed' } });

    async function expectRefused(body: string, headers: Record<string, string>, reason?: RegExp) {
      const before = await storedSnapshot(t.store);
      const res = await postWebhook(t.app, body, headers);
      expect(res.statusCode).toBe(401);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      const problem = res.json();
      expect(problem).toMatchObject({ status: 401, type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
      if (reason) expect(problem.detail).toMatch(reason);
      expect(JSON.stringify(problem)).not.toMatch(/whsec_|\bat .*\.ts:\d+/);
      expect(await storedSnapshot(t.store)).toBe(before);
    }

    it('a delivery signed by the standardwebhooks package is stored', async () => {
      const body = bodyFor('signed_1');
      const res = await postWebhook(t.app, body, signedHeaders(newer, 'msg_signed_1', body));
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ status: 'stored', delivery_id: 'msg_signed_1', stored: 1 });
      expect((await t.app.inject('/customers/signed_1')).statusCode).toBe(200);
    });

    it('both the old and the new secret verify during a rotation, on either route', async () => {
      const a = bodyFor('rot_old');
      expect((await postWebhook(t.app, a, signedHeaders(oldSecret, 'msg_rot_old', a))).statusCode).toBe(200);
      const b = bodyFor('rot_new');
      expect((await postWebhook(t.app, b, signedHeaders(newer, 'msg_rot_new', b), '/receive_webhook')).statusCode).toBe(200);
    });

    it('several signatures, space-separated, one of them valid', async () => {
      const body = bodyFor('multi_sig');
      const h = signedHeaders(newer, 'msg_multi', body);
      const wrong = new Webhook(newSecret()).sign('msg_multi', new Date(), body);
      h['webhook-signature'] = `${wrong} v1,${randomBytes(32).toString('base64')} ${h['webhook-signature']}`;
      expect((await postWebhook(t.app, body, h)).statusCode).toBe(200);
    });

    it('the signature covers the raw bytes: odd spacing and non-ASCII text verify as sent', async () => {
      const body = '{ "customer" : {"external_id":"raw_bytes",   "name":"Zoë Ñandú 🚀"} }\n';
      const res = await postWebhook(t.app, body, signedHeaders(oldSecret, 'msg_raw', body));
      expect(res.statusCode).toBe(200);
      expect((await t.app.inject('/customers/raw_bytes')).json().name).toBe('Zoë Ñandú 🚀');
    });

    it('an unsigned delivery is refused', async () => {
      await expectRefused(bodyFor('unsigned'), {});
      await expectRefused(bodyFor('unsigned'), { 'idempotency-key': 'unsigned-key' });
    });

    it('a delivery signed with another secret is refused', async () => {
      const body = bodyFor('wrong_secret');
      await expectRefused(body, signedHeaders(newSecret(), 'msg_wrong', body));
    });

    it('a tampered body is refused: one byte changed', async () => {
      const body = bodyFor('tampered');
      const h = signedHeaders(newer, 'msg_tampered', body);
      await expectRefused(body.replace('Signed', 'Signet'), h);
    });

    it('a tampered body is refused: whitespace changed only', async () => {
      const body = bodyFor('spaced');
      const h = signedHeaders(newer, 'msg_spaced', body);
      await expectRefused(JSON.stringify(JSON.parse(body), null, 2), h);
      await expectRefused(`${body} `, h);
    });

    it('a stale timestamp (over 5 minutes old) is refused, though correctly signed', async () => {
      const body = bodyFor('stale');
      await expectRefused(body, signedHeaders(newer, 'msg_stale', body, new Date(Date.now() - 6 * 60_000)), /timestamp/);
      await expectRefused(body, signedHeaders(newer, 'msg_stale', body, new Date(Date.now() - 24 * 3600_000)), /timestamp/);
    });

    it('a future timestamp (over 5 minutes ahead) is refused, though correctly signed', async () => {
      const body = bodyFor('future');
      await expectRefused(body, signedHeaders(newer, 'msg_future', body, new Date(Date.now() + 6 * 60_000)), /timestamp/);
    });

    it('each missing header is refused', async () => {
      const body = bodyFor('missing');
      const full = signedHeaders(newer, 'msg_missing', body);
      for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
        const h = { ...full };
        delete h[name];
        await expectRefused(body, h, new RegExp(name));
      }
    });

    it('a refused delivery does not use up its webhook-id: the genuine one is then stored', async () => {
      const body = bodyFor('after_forgery');
      const forged = signedHeaders(newSecret(), 'msg_after_forgery', body);
      await expectRefused(body, forged);
      const res = await postWebhook(t.app, body, signedHeaders(newer, 'msg_after_forgery', body));
      expect(res.statusCode).toBe(200);
      expect(res.headers['idempotent-replayed']).toBeUndefined();
      expect(res.json().stored).toBe(1);
    });

    it('a replayed signed delivery gets the first answer and writes nothing', async () => {
      const body = bodyFor('replayed');
      const h = signedHeaders(newer, 'msg_replayed', body);
      const first = await postWebhook(t.app, body, h);
      expect(first.statusCode).toBe(200);
      const before = await storedSnapshot(t.store);
      const again = await postWebhook(t.app, body, h);
      expect(again.statusCode).toBe(200);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.json()).toEqual(first.json());
      expect(await storedSnapshot(t.store)).toBe(before);
    });

    it('the signature is checked before the body shape: a signed-wrong body of the wrong shape is 401, not 422', async () => {
      const body = JSON.stringify({ customer: { name: 'no external id' } });
      await expectRefused(body, signedHeaders(newSecret(), 'msg_shape', body));
    });
  });
}
