/**
 * Access tokens of a HubSpot OAuth app: got from `POST /oauth/v1/token`
 * (form-encoded, grant_type=refresh_token) and refreshed by the clock before
 * `expires_in` runs out; HubSpot says a 401 is not a reliable sign of an
 * expired token, so a 401 only triggers one refresh as a fallback. A refresh
 * token HubSpot rotates is kept in the provider's state, so a restart uses
 * the newest one. No token ever reaches an error message or a log.
 */
import { createHash } from 'node:crypto';
import { request as undiciRequest } from 'undici';
import { backoffDelay, sleep } from '../../sources/backoff.js';
import type { SourceAuth } from '../../sources/http-client.js';
import type { ProviderState } from '../../store/provider-state.js';
import type { HubspotOAuthApp } from './config.js';

export const TOKEN_PATH = '/oauth/v1/token';
/** The provider-state key of the newest refresh token. */
export const REFRESH_TOKEN_KEY = 'oauth_refresh_token';
/** Refreshed this long before expiry at most (HubSpot's tokens live 30 minutes)... */
const MAX_MARGIN_MS = 5 * 60_000;
/** ...and at least this share of the token's life before it (for short-lived ones). */
const MARGIN_SHARE = 0.2;
const ATTEMPTS = 4;
const TIMEOUT_MS = 30_000;

/** HubSpot refused the refresh token: it was revoked or the app uninstalled; no retry helps. */
export class RefreshTokenRefused extends Error {
  constructor(status: number, code: string | null) {
    super(
      `HubSpot refused HUBSPOT_REFRESH_TOKEN (${status}${code ? ` ${code}` : ''}): the app was uninstalled or the token revoked; install the app again and set HUBSPOT_REFRESH_TOKEN to its new refresh token`,
    );
    this.name = 'RefreshTokenRefused';
  }
}

/** What is kept: the newest refresh token, and which configured one it descends from. */
interface KeptRefreshToken {
  configured: string;
  token: string;
}

interface AccessToken {
  value: string;
  /** Refresh once the clock passes this (epoch ms). */
  refreshAt: number;
}

const fingerprint = (secret: string): string => createHash('sha256').update(secret).digest('hex');

export interface OAuthTokensOptions {
  app: HubspotOAuthApp;
  baseUrl: string;
  /** Where a rotated refresh token is kept; without it, only in memory. */
  state?: ProviderState;
  now?: () => number;
  /** Backoff base between tries of a failed refresh (500 ms). */
  baseDelayMs?: number;
}

/** The access tokens an OAuth app's requests carry, as the HTTP client asks for them. */
export class OAuthTokens implements SourceAuth {
  private access: AccessToken | null = null;
  private refreshToken: string | null = null;
  private inflight: Promise<AccessToken> | null = null;
  private readonly now: () => number;

  constructor(private readonly options: OAuthTokensOptions) {
    this.now = options.now ?? Date.now;
  }

  async headers(signal?: AbortSignal): Promise<Record<string, string>> {
    const token = this.access !== null && this.now() < this.access.refreshAt ? this.access : await this.refresh(signal);
    return { authorization: `Bearer ${token.value}` };
  }

  async refused(sent: Record<string, string>, signal?: AbortSignal): Promise<boolean> {
    // Another request may have refreshed meanwhile: then the new token is tried, no second refresh.
    if (this.access !== null && sent.authorization === `Bearer ${this.access.value}`) this.access = null;
    await this.headers(signal);
    return true;
  }

  secrets(): readonly string[] {
    return [this.options.app.refreshToken, this.options.app.clientSecret, this.refreshToken, this.access?.value].filter(
      (s): s is string => typeof s === 'string',
    );
  }

  /** One refresh at a time: concurrent requests wait for the same one. */
  private refresh(signal?: AbortSignal): Promise<AccessToken> {
    this.inflight ??= this.fetchToken(signal).finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  /** The newest refresh token: the kept one, unless HUBSPOT_REFRESH_TOKEN was changed since. */
  private async currentRefreshToken(): Promise<string> {
    if (this.refreshToken !== null) return this.refreshToken;
    const configured = this.options.app.refreshToken;
    const raw = await this.options.state?.get(REFRESH_TOKEN_KEY);
    let kept: Partial<KeptRefreshToken> | null = null;
    try {
      kept = raw ? (JSON.parse(raw) as Partial<KeptRefreshToken>) : null;
    } catch {
      kept = null;
    }
    this.refreshToken = kept?.configured === fingerprint(configured) && typeof kept.token === 'string' ? kept.token : configured;
    return this.refreshToken;
  }

  private async fetchToken(signal?: AbortSignal): Promise<AccessToken> {
    const refreshToken = await this.currentRefreshToken();
    const { clientId, clientSecret } = this.options.app;
    const form = new URLSearchParams({ grant_type: 'refresh_token', client_id: clientId, client_secret: clientSecret, refresh_token: refreshToken });
    let lastFailure = '';
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      if (attempt > 1) await sleep(backoffDelay(attempt - 1, this.options.baseDelayMs ?? 500, 10_000), signal);
      signal?.throwIfAborted();
      let status: number;
      let text: string;
      // The token's life counts from the request, not the answer: it may have been made long before it arrived.
      const sentAt = this.now();
      try {
        const deadline = AbortSignal.timeout(TIMEOUT_MS);
        const res = await undiciRequest(`${this.options.baseUrl.replace(/\/+$/, '')}${TOKEN_PATH}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', 'user-agent': 'tributary' },
          body: form.toString(),
          signal: signal ? AbortSignal.any([signal, deadline]) : deadline,
        });
        status = res.statusCode;
        text = await res.body.text();
      } catch (err) {
        signal?.throwIfAborted();
        // The error of a connection, never of the form: it names no token.
        lastFailure = err instanceof Error ? `${(err as { code?: string }).code ?? err.name}` : 'network error';
        continue;
      }
      if (status === 400 || status === 401 || status === 403) throw new RefreshTokenRefused(status, errorCode(text));
      if (status < 200 || status >= 300) {
        lastFailure = `answered ${status}`;
        continue;
      }
      const body = parse(text);
      const value = body?.access_token;
      const expiresIn = body?.expires_in;
      if (typeof value !== 'string' || value === '' || typeof expiresIn !== 'number' || !(expiresIn > 0)) {
        lastFailure = 'answered without access_token and expires_in';
        continue;
      }
      const lifeMs = expiresIn * 1000;
      const token = { value, refreshAt: sentAt + lifeMs - Math.min(MAX_MARGIN_MS, lifeMs * MARGIN_SHARE) };
      const rotated = body?.refresh_token;
      if (typeof rotated === 'string' && rotated !== '' && rotated !== refreshToken) await this.keep(rotated);
      this.access = token;
      return token;
    }
    throw new Error(`could not refresh the HubSpot access token (POST ${TOKEN_PATH} ${lastFailure}, ${ATTEMPTS} tries)`);
  }

  /** A rotated refresh token: the old one may stop working, so it is kept before it is used. */
  private async keep(token: string): Promise<void> {
    this.refreshToken = token;
    const kept: KeptRefreshToken = { configured: fingerprint(this.options.app.refreshToken), token };
    await this.options.state?.set(REFRESH_TOKEN_KEY, JSON.stringify(kept));
  }
}

function parse(text: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** HubSpot's word for a refusal (`BAD_REFRESH_TOKEN`, `invalid_grant`); only a bare word is quoted, never free text. */
function errorCode(text: string): string | null {
  const body = parse(text);
  for (const key of ['status', 'error', 'category']) {
    const v = body?.[key];
    if (typeof v === 'string' && /^[A-Za-z_]{1,40}$/.test(v) && v !== 'error') return v;
  }
  return null;
}
