/**
 * A generic paged JSON REST API on loopback for the declared-source suites.
 * GET /v1/items serves `records` sorted by id, and understands every paging
 * style at once: `cursor` (opaque), else `page` + `per_page`, else `offset`;
 * the size comes from `limit`, `per_page` or `page_size`. Each answer carries
 * `meta.total`, `meta.total_pages`, `meta.next_cursor`, `meta.has_more`, an
 * absolute `meta.next` URL and a relative Link header (rel="next").
 * `updated_since` (ISO) and `modified_after` (epoch seconds) filter by
 * `updated_at` inclusively, as many APIs do. Next links leave filters out, so
 * the connector must add them back. It runs on the shared loopback upstream.
 */
import type http from 'node:http';
import { sendJson, startUpstream } from '../../helpers/upstream.js';

export interface FakeRecord {
  id: string;
  [k: string]: unknown;
}

export interface FakeRequest {
  url: URL;
  headers: http.IncomingHttpHeaders;
  aborted: boolean;
}

export interface FakeApi {
  url: string;
  records: FakeRecord[];
  requests: FakeRequest[];
  latencyMs: number;
  /** When set, a request without it answers 401. */
  requireHeader: { name: string; value: string } | null;
  requireQuery: { name: string; value: string } | null;
  /** Pages never hold more than this, whatever is asked (as many APIs cap it). */
  maxPageSize: number;
  /** The number of the first page (1, or 0 for zero-based APIs). */
  firstPage: number;
  /** Origin the body's `meta.next` URLs use (default: this server's). */
  nextUrlBase: string | null;
  /** Called as each request arrives, before its page is cut: to change the records mid-walk. */
  onRequest: ((req: FakeRequest) => void) | null;
  close(): Promise<void>;
}

const encodeCursor = (offset: number) => Buffer.from(`o:${offset}`).toString('base64url');
const decodeCursor = (c: string) => Number(Buffer.from(c, 'base64url').toString().slice(2));

export async function startFakeApi(records: FakeRecord[] = []): Promise<FakeApi> {
  const api: FakeApi = {
    url: '',
    records,
    requests: [],
    latencyMs: 0,
    requireHeader: null,
    requireQuery: null,
    maxPageSize: 1000,
    firstPage: 1,
    nextUrlBase: null,
    onRequest: null,
    close: async () => {},
  };
  const upstream = await startUpstream((req, res) => {
    const url = new URL(req.url ?? '/', api.url);
    const entry: FakeRequest = { url, headers: req.headers, aborted: false };
    api.requests.push(entry);
    res.on('close', () => {
      if (!res.writableFinished) entry.aborted = true;
    });
    const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      setTimeout(() => sendJson(res, status, body, headers), api.latencyMs);
    };

    if (url.pathname !== '/v1/items') return send(404, { error: 'not found' });
    if (api.requireHeader && req.headers[api.requireHeader.name.toLowerCase()] !== api.requireHeader.value) return send(401, { error: 'bad credentials' });
    if (api.requireQuery && url.searchParams.get(api.requireQuery.name) !== api.requireQuery.value) return send(401, { error: 'bad key' });

    api.onRequest?.(entry);
    const q = url.searchParams;
    let matching = [...api.records].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const since = q.get('updated_since');
    if (since) matching = matching.filter((r) => Date.parse(String(r.updated_at)) >= Date.parse(since));
    const after = q.get('modified_after');
    if (after) matching = matching.filter((r) => Number(r.modified) >= Number(after));

    const size = Math.min(api.maxPageSize, Number(q.get('limit') ?? q.get('per_page') ?? q.get('page_size') ?? 10));
    const offset = q.get('cursor')
      ? decodeCursor(q.get('cursor') as string)
      : q.get('page')
        ? (Number(q.get('page')) - api.firstPage) * size
        : Number(q.get('offset') ?? 0);
    const items = matching.slice(offset, offset + size);
    const end = offset + items.length;
    const more = end < matching.length;
    const page = Math.floor(offset / size) + api.firstPage;
    const headers: Record<string, string> = {};
    const last = Math.ceil(matching.length / size) - 1 + api.firstPage;
    if (more) headers.link = `</v1/items?page=${page + 1}&per_page=${size}>; rel="next", </v1/items?page=${last}&per_page=${size}>; rel="last"`;
    send(
      200,
      {
        data: { items },
        meta: {
          total: matching.length,
          total_pages: Math.ceil(matching.length / size),
          next_cursor: more ? encodeCursor(end) : null,
          has_more: more,
          next: more ? `${api.nextUrlBase ?? api.url}/v1/items?cursor=${encodeCursor(end)}&limit=${size}` : null,
        },
      },
      headers,
    );
  });
  api.url = upstream.url;
  api.close = () => upstream.close();
  return api;
}

/** `n` customers c001…, with names, emails, an extra nested field and ISO updated_at in 2024. */
export function customers(n: number, from = 1, day = '2024-03-01'): FakeRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const k = from + i;
    const id = `c${String(k).padStart(3, '0')}`;
    return {
      id,
      number: k,
      properties: { first_name: `First${k}`, last_name: `Last${k}`, email: `user${k}@example.com`, phone: `+1-555-${String(k).padStart(4, '0')}` },
      tags: ['a', 'b'],
      updated_at: new Date(Date.parse(`${day}T00:00:00Z`) + k * 60_000).toISOString(),
    };
  });
}
