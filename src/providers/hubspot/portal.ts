/**
 * The portal (Hub id) whose webhook events this service applies: the
 * configured HUBSPOT_PORTAL_ID, or else the portal of the token, read once
 * from HubSpot's account details and kept in the provider's state.
 */
import { createHash } from 'node:crypto';
import type { SourceClient, SourceLogger, SourceResponse } from '../../sources/http-client.js';
import { UpstreamHttpError } from '../../sources/upstream-errors.js';
import { readProviderState, type ProviderState } from '../../store/provider-state.js';
import type { WriteTx } from '../../store/write-transaction.js';

export const ACCOUNT_DETAILS = '/account-info/v3/details';
/** The provider-state key of the token's portal. */
export const PORTAL_KEY = 'portal';
export const HUBSPOT_PROVIDER = 'hubspot';

interface KeptPortal {
  portalId: number;
  /** A fingerprint of the credentials it was read with: other credentials may belong to another portal. */
  credentials: string;
}

/** A fingerprint of the configured credentials (a token or a refresh token), fit to store. */
export function credentialsFingerprint(secret: string): string {
  return createHash('sha256').update(`portal:${secret}`).digest('hex');
}

function decode(raw: string | null): KeptPortal | null {
  if (raw === null) return null;
  try {
    const v = JSON.parse(raw) as Partial<KeptPortal>;
    return typeof v.portalId === 'number' && typeof v.credentials === 'string' ? { portalId: v.portalId, credentials: v.credentials } : null;
  } catch {
    return null;
  }
}

/** Reads the token's portal from HubSpot once per credentials, and keeps it. */
export async function rememberPortal(
  client: SourceClient,
  portal: { state: ProviderState; credentials: string },
  signal: AbortSignal,
  log: SourceLogger,
): Promise<void> {
  const kept = decode(await portal.state.get(PORTAL_KEY));
  if (kept?.credentials === portal.credentials) return;
  let res: SourceResponse<{ portalId?: unknown } | null>;
  try {
    res = await client.request<{ portalId?: unknown } | null>({ path: ACCOUNT_DETAILS, signal });
  } catch (err) {
    // A token without the scope for account details still syncs; only the portal check waits.
    if (err instanceof UpstreamHttpError && err.status === 403) {
      log.warn({ status: 403 }, `HubSpot refused ${ACCOUNT_DETAILS}: set HUBSPOT_PORTAL_ID so webhook events of other portals are refused`);
      return;
    }
    throw err;
  }
  const portalId = res.body?.portalId;
  if (typeof portalId !== 'number' || !Number.isSafeInteger(portalId)) throw new Error(`HubSpot ${ACCOUNT_DETAILS} answered without a portalId`);
  await portal.state.set(PORTAL_KEY, JSON.stringify({ portalId, credentials: portal.credentials } satisfies KeptPortal));
}

/** The kept portal of the token, read inside a webhook's write transaction; null before the first sync read it. */
export async function keptPortal(tx: WriteTx): Promise<number | null> {
  return decode(await readProviderState(tx.trx, HUBSPOT_PROVIDER, PORTAL_KEY))?.portalId ?? null;
}
