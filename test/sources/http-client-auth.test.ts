/**
 * The HTTP client with credentials that change while it lives (SourceAuth):
 * asked for before each attempt, one renewal and one more try on a 401, and
 * the current credentials masked in quoted error bodies.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createSourceClient, type SourceAuth, type SourceClient } from '../../src/sources/http-client.js';
import { UpstreamHttpError } from '../../src/sources/upstream-errors.js';
import { sendJson, startUpstream, type Handler, type Upstream } from '../helpers/upstream.js';

const upstreams: Upstream[] = [];
const clients: SourceClient[] = [];

afterEach(async () => {
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

/** Tokens token-1, token-2, …: `renewals` counts the 401s that asked for a new one. */
class CountingAuth implements SourceAuth {
  n = 1;
  renewals = 0;
  async headers(): Promise<Record<string, string>> {
    return { Authorization: `Bearer token-${this.n}` };
  }
  async refused(): Promise<boolean> {
    this.renewals += 1;
    this.n += 1;
    return true;
  }
  secrets(): readonly string[] {
    return [`token-${this.n}`];
  }
}

async function setUp(handler: Handler, auth: SourceAuth): Promise<{ up: Upstream; client: SourceClient }> {
  const up = await startUpstream(handler);
  upstreams.push(up);
  const client = createSourceClient({ name: 'crm', baseUrl: up.url, auth, baseDelayMs: 5, maxDelayMs: 10 });
  clients.push(client);
  return { up, client };
}

const bearer = (up: Upstream) => up.requests.map((r) => r.headers.authorization);

describe('source client with SourceAuth', () => {
  it('sends the credentials of the moment with each attempt, retries included', async () => {
    let asked = 0;
    const auth: SourceAuth = { headers: async () => ({ authorization: `Bearer token-${++asked}` }), refused: async () => false, secrets: () => [] };
    let calls = 0;
    const { up, client } = await setUp((_req, res) => (++calls === 1 ? sendJson(res, 503, {}) : sendJson(res, 200, { ok: true })), auth);
    await client.request({ path: '/x' });
    expect(bearer(up)).toEqual(['Bearer token-1', 'Bearer token-2']);
  });

  it('on a 401 asks for new credentials once and tries again with them', async () => {
    const auth = new CountingAuth();
    const { up, client } = await setUp(
      (req, res) => (req.headers.authorization === 'Bearer token-2' ? sendJson(res, 200, { ok: 1 }) : sendJson(res, 401, { message: 'expired' })),
      auth,
    );
    const res = await client.request<{ ok: number }>({ path: '/x' });
    expect(res.body).toEqual({ ok: 1 });
    expect(auth.renewals).toBe(1);
    expect(bearer(up)).toEqual(['Bearer token-1', 'Bearer token-2']);
  });

  it('a second 401 with the new credentials fails the request, with the credentials masked in the quoted body', async () => {
    const auth = new CountingAuth();
    // An upstream that echoes the header it refused.
    const { up, client } = await setUp((req, res) => sendJson(res, 401, { message: `refused ${String(req.headers.authorization)}` }), auth);
    const err = await client.request({ path: '/x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamHttpError);
    expect((err as UpstreamHttpError).status).toBe(401);
    expect(auth.renewals).toBe(1);
    expect(up.requests).toHaveLength(2);
    expect((err as Error).message).not.toContain('token-2');
    expect((err as Error).message).toContain('[redacted]');
  });

  it('a 401 with credentials that cannot be renewed fails at once', async () => {
    const auth = new CountingAuth();
    auth.refused = async () => false;
    const { up, client } = await setUp((_req, res) => sendJson(res, 401, {}), auth);
    await expect(client.request({ path: '/x' })).rejects.toBeInstanceOf(UpstreamHttpError);
    expect(up.requests).toHaveLength(1);
  });
});
