/**
 * The fake HubSpot's OAuth app: `POST /oauth/v1/token` (form-encoded,
 * grant_type=refresh_token) answers access tokens that expire in seconds
 * (configurable), and may rotate the refresh token on every use, the old one
 * then refused as HubSpot refuses a revoked one (400 BAD_REFRESH_TOKEN).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { FakeResponse } from '../../../sandbox/fake-server.js';

export interface FakeOAuthOptions {
  clientId: string;
  clientSecret: string;
  /** The refresh token the app was installed with. */
  refreshToken: string;
  /** Lifetime of an access token, seconds (HubSpot: 1800). Fractions allowed. */
  expiresInSeconds?: number;
  /** Hand out a new refresh token on every refresh and refuse the one used (default false). */
  rotate?: boolean;
}

export class FakeOAuthApp {
  private readonly access = new Map<string, number>();
  private readonly refreshTokens = new Set<string>();
  /** Refreshes answered with a token. */
  refreshes = 0;
  /** Every access and refresh token handed out, for tests that look for them where they must not be. */
  readonly issued: string[] = [];

  constructor(
    readonly options: FakeOAuthOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.refreshTokens.add(options.refreshToken);
  }

  /** The refresh tokens that work now (the newest one when rotating). */
  validRefreshTokens(): string[] {
    return [...this.refreshTokens];
  }

  /** The app is uninstalled: every refresh token is refused from now on. */
  revoke(): void {
    this.refreshTokens.clear();
  }

  /** Every access token handed out stops working now, as if HubSpot had ended them early. */
  expireAccessTokens(): void {
    for (const token of this.access.keys()) this.access.set(token, 0);
  }

  /** null when `token` is a live access token; else why not. */
  check(token: string): 'expired' | 'unknown' | null {
    const expiresAt = this.access.get(token);
    if (expiresAt === undefined) return 'unknown';
    return this.now() < expiresAt ? null : 'expired';
  }

  /** The token endpoint. */
  token(contentType: string | undefined, rawBody: string): FakeResponse {
    if (!/^application\/x-www-form-urlencoded/i.test(contentType ?? '')) {
      return refusal(415, 'error', 'Content-Type must be application/x-www-form-urlencoded');
    }
    const form = new URLSearchParams(rawBody);
    if (form.get('grant_type') !== 'refresh_token') return refusal(400, 'BAD_GRANT_TYPE', 'grant_type must be refresh_token');
    if (form.get('client_id') !== this.options.clientId) return refusal(400, 'BAD_CLIENT_ID', 'missing or invalid client id');
    if (form.get('client_secret') !== this.options.clientSecret) return refusal(400, 'BAD_CLIENT_SECRET', 'missing or invalid client secret');
    const used = form.get('refresh_token') ?? '';
    if (!this.refreshTokens.has(used)) return refusal(400, 'BAD_REFRESH_TOKEN', 'missing or invalid refresh token');
    let refreshToken = used;
    if (this.options.rotate) {
      this.refreshTokens.delete(used);
      refreshToken = `fake-refresh-${randomBytes(12).toString('hex')}`;
      this.refreshTokens.add(refreshToken);
    }
    const expiresIn = this.options.expiresInSeconds ?? 1800;
    const accessToken = `fake-access-${randomBytes(16).toString('hex')}`;
    this.access.set(accessToken, this.now() + expiresIn * 1000);
    this.refreshes += 1;
    this.issued.push(accessToken, refreshToken);
    return { status: 200, json: { token_type: 'bearer', refresh_token: refreshToken, access_token: accessToken, expires_in: expiresIn } };
  }
}

function refusal(status: number, code: string, message: string): FakeResponse {
  return { status, json: { status: code, message, correlationId: randomUUID() } };
}
