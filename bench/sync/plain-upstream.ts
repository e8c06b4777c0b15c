/**
 * A minimal fast upstream for a declared source (offset paging, bearer auth):
 * GET /v1/contacts?offset=&limit= answers `{"data": [...], "total": N}` with
 * contacts computed from their index and written as JSON text directly, so the
 * upstream costs as little as possible and the measured sync is the service's
 * own work. Used when the sandbox fakes' page generation is the bottleneck.
 * A record looks like a HubSpot contact, flattened (about 250 bytes of JSON).
 * `latencyMs` is the time from a request to its answer, the page's generation
 * included, so a sync that only waits for upstream takes pages × latency.
 * It runs on the tests' loopback upstream, with its request log off.
 */
import { performance } from 'node:perf_hooks';
import { sendJsonText, startUpstream, urlOf } from '../../test/helpers/upstream.js';

export interface PlainUpstream {
  url: string;
  token: string;
  close(): Promise<void>;
}

const FIRST = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Margaret', 'Dennis'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Thompson', 'Hamilton', 'Ritchie'];
const COMPANIES = ['Acme Corp', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Tyrell', 'Cyberdyne', 'Soylent'];
const STAGES = ['subscriber', 'lead', 'marketingqualifiedlead', 'salesqualifiedlead', 'opportunity', 'customer'];
const START = Date.UTC(2023, 0, 1);

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));
/** `2023-01-01T00:00:00.000Z` + i minutes, with the date part cached per day (toISOString costs more than the rest of a record). */
let dayCache = { day: -1, prefix: '' };
function stampAt(i: number): string {
  const day = Math.floor(i / 1440);
  if (day !== dayCache.day) dayCache = { day, prefix: new Date(START + day * 86_400_000).toISOString().slice(0, 11) };
  const minute = i % 1440;
  return `${dayCache.prefix}${pad2(Math.floor(minute / 60))}:${pad2(minute % 60)}:00.000Z`;
}

/** Contact `i` as JSON text, written directly (no object, no JSON.stringify). */
function contactJson(i: number): string {
  const id = 1001 + i;
  const h = Math.imul(i + 1, 0x9e3779b1) >>> 0;
  const first = FIRST[h % FIRST.length] as string;
  const last = LAST[(h >>> 8) % LAST.length] as string;
  const at = stampAt(i);
  const phone = 1000 + (h % 9000);
  return (
    `{"id":"${id}","email":"${first}.${last}.${id}@example.com","firstname":"${first}","lastname":"${last}",` +
    `"company":"${COMPANIES[(h >>> 16) % COMPANIES.length] as string}","phone":"+1-555-${phone}",` +
    `"lifecyclestage":"${STAGES[(h >>> 4) % STAGES.length] as string}","createdate":"${at}","updated_at":"${at}"}`
  );
}

export async function startPlainUpstream(opts: { records: number; latencyMs: number; pageSize: number; token?: string }): Promise<PlainUpstream> {
  const token = opts.token ?? 'plain-bench-token';
  const timers = new Set<NodeJS.Timeout>();
  const upstream = await startUpstream(
    (req, res) => {
      const arrived = performance.now();
      const url = urlOf(req);
      // The latency is the time from the request to the answer, page generation included.
      const answer = (status: number, body: string) => {
        const wait = opts.latencyMs - (performance.now() - arrived);
        if (wait <= 0) return sendJsonText(res, status, body);
        const t = setTimeout(() => {
          timers.delete(t);
          sendJsonText(res, status, body);
        }, wait);
        timers.add(t);
      };
      if (url.pathname !== '/v1/contacts') return answer(404, '{"error":"not found"}');
      if (req.headers.authorization !== `Bearer ${token}`) return answer(401, '{"error":"bad credentials"}');
      const offset = Math.max(0, Number(url.searchParams.get('offset') ?? 0) || 0);
      const limit = Math.min(opts.pageSize, Math.max(1, Number(url.searchParams.get('limit') ?? opts.pageSize) || opts.pageSize));
      const end = Math.min(opts.records, offset + limit);
      const parts: string[] = [];
      for (let i = offset; i < end; i++) parts.push(contactJson(i));
      answer(200, `{"data":[${parts.join(',')}],"total":${opts.records}}`);
    },
    { record: false },
  );
  return {
    url: upstream.url,
    token,
    close: () => {
      for (const t of timers) clearTimeout(t);
      return upstream.close();
    },
  };
}

/** The SOURCES_FILE declaration (JSON) that syncs this upstream as source `name`. */
export function plainSourceDeclaration(name: string, url: string, pageSize: number, tokenEnv: string): unknown {
  return {
    version: 1,
    sources: {
      [name]: {
        type: 'customer',
        base_url: url,
        path: '/v1/contacts',
        auth: { kind: 'bearer', token_env: tokenEnv },
        records: 'data',
        pagination: { kind: 'offset', offset_param: 'offset', limit_param: 'limit', limit: pageSize, total: 'total' },
        mapping: { external_id: 'id', email: 'email', name: ['firstname', 'lastname'], updated_at: 'updated_at' },
        concurrency: 2,
        timeout_seconds: 60,
      },
    },
  };
}
