import { createHmac, timingSafeEqual } from 'node:crypto';

/** Standard Webhooks: a signed delivery's timestamp may be this far off our clock. */
export const SIGNATURE_TOLERANCE_SECONDS = 5 * 60;

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

export interface SignedHeaders {
  id: string | undefined;
  timestamp: string | undefined;
  signature: string | undefined;
}

/** `whsec_<base64>` (or bare base64) -> key bytes. */
export function secretKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
}

/**
 * Verifies a Standard Webhooks signature over the raw body bytes, as
 * received (never over re-serialized JSON). Any of several keys may match
 * (rotation), and any of several space-separated `v1,` signatures. Built on
 * node:crypto rather than the `standardwebhooks` package because that one
 * signs the body decoded to a string and parses the JSON a second time; the
 * tests sign with the package to prove the two agree.
 */
export function verifySignature(
  keys: readonly Buffer[],
  headers: SignedHeaders,
  rawBody: Buffer,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): SignatureCheck {
  const { id, timestamp, signature } = headers;
  if (!id || !timestamp || !signature) {
    return { ok: false, reason: 'webhook-id, webhook-timestamp and webhook-signature headers are required' };
  }
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'webhook-timestamp is not a Unix time in seconds' };
  const ts = Number(timestamp);
  if (Math.abs(nowSeconds - ts) > SIGNATURE_TOLERANCE_SECONDS) {
    return { ok: false, reason: 'webhook-timestamp is more than 5 minutes away from the server clock' };
  }
  // Compared as the exact base64 text, as the reference implementation does:
  // Node's base64 decoder skips junk and stops at '=', so decoding first would
  // let many different strings pass for one signature.
  const offered: Buffer[] = [];
  for (const part of signature.split(' ')) {
    const comma = part.indexOf(',');
    if (comma < 0 || part.slice(0, comma) !== 'v1') continue;
    offered.push(Buffer.from(part.slice(comma + 1), 'latin1'));
  }
  if (offered.length === 0) return { ok: false, reason: 'webhook-signature has no v1 signature' };
  const prefix = Buffer.from(`${id}.${timestamp}.`);
  for (const key of keys) {
    const expected = Buffer.from(createHmac('sha256', key).update(prefix).update(rawBody).digest('base64'), 'latin1');
    for (const candidate of offered) {
      if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) return { ok: true };
    }
  }
  return { ok: false, reason: 'no signature matches' };
}
