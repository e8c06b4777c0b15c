import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { recordFromPayload } from '../../src/domain/records.js';
import type { SourceConnector, SyncPage } from '../../src/sources/connector.js';

export interface PagedUpstream {
  url: string;
  /** Every request received, with when it arrived and whether it was cut off. */
  log: Array<{ at: number; after: number; aborted: boolean }>;
  /** ms each page takes to answer. */
  latencyMs: number;
  total: number;
  close(): Promise<void>;
}

/** A minimal paged JSON API on loopback: GET /items?after=N&limit=L. */
export async function startPagedUpstream(total: number, latencyMs = 0): Promise<PagedUpstream> {
  const sockets = new Set<import('node:net').Socket>();
  const state: PagedUpstream = { url: '', log: [], latencyMs, total, close: async () => {} };
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const after = Number(u.searchParams.get('after') ?? 0);
    const limit = Number(u.searchParams.get('limit') ?? 100);
    const entry = { at: Date.now(), after, aborted: false };
    state.log.push(entry);
    req.on('close', () => {
      if (!res.writableEnded) entry.aborted = true;
    });
    setTimeout(() => {
      if (res.destroyed) return;
      const end = Math.min(state.total, after + limit);
      const items = [];
      for (let i = after; i < end; i++) items.push({ id: `item-${i}`, name: `Item ${i}`, email: `item${i}@example.com` });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ items, total: state.total, next: end < state.total ? end : null }));
    }, state.latencyMs);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return state;
}

/** A connector over that API: checkpoint `{after}`, one page per request. */
export function pagedConnector(name: string, upstream: PagedUpstream, pageSize = 100): SourceConnector {
  return {
    name,
    recordType: 'customer',
    missingConfiguration: () => null,
    async *pages(ctx): AsyncIterable<SyncPage> {
      let after = (ctx.checkpoint as { after?: number } | null)?.after ?? 0;
      for (;;) {
        const res = await fetch(`${upstream.url}/items?after=${after}&limit=${pageSize}`, { signal: ctx.signal });
        const body = (await res.json()) as { items: Array<{ id: string; name: string; email: string }>; total: number; next: number | null };
        const records = body.items.map((it) => recordFromPayload('customer', { external_id: it.id, name: it.name, email: it.email }, name));
        after = body.next ?? after + body.items.length;
        yield { records, checkpoint: { after }, totalEstimate: body.total };
        if (body.next === null) return;
      }
    },
  };
}

export const silentLogger = pino({ level: 'silent' });

/** Counts the walks (connector.pages) running at once through the connectors it wraps: now, and the most seen. */
export interface WalkCounter {
  active: number;
  maxActive: number;
  wrap(inner: SourceConnector): SourceConnector;
}

export function walkCounter(): WalkCounter {
  const counter: WalkCounter = {
    active: 0,
    maxActive: 0,
    wrap: (inner) => ({
      ...inner,
      async *pages(ctx): AsyncIterable<SyncPage> {
        counter.active++;
        counter.maxActive = Math.max(counter.maxActive, counter.active);
        try {
          yield* inner.pages(ctx);
        } finally {
          counter.active--;
        }
      },
    }),
  };
  return counter;
}
