import { pino } from 'pino';
import { recordFromPayload } from '../../src/domain/records.js';
import { Type, type Static } from 'typebox';
import type { SourceConnector, SyncContext, SyncPage } from '../../src/sources/connector.js';
import { sendJson, startUpstream, urlOf } from './upstream.js';

export interface PagedUpstream {
  url: string;
  /** Every request received, with when it arrived and whether it was cut off. */
  log: Array<{ at: number; after: number; aborted: boolean }>;
  /** ms each page takes to answer. */
  latencyMs: number;
  total: number;
  close(): Promise<void>;
}

/** A minimal paged JSON API on the loopback upstream: GET /items?after=N&limit=L. */
export async function startPagedUpstream(total: number, latencyMs = 0): Promise<PagedUpstream> {
  const state: PagedUpstream = { url: '', log: [], latencyMs, total, close: async () => {} };
  const upstream = await startUpstream((req, res) => {
    const u = urlOf(req);
    const after = Number(u.searchParams.get('after') ?? 0);
    const limit = Number(u.searchParams.get('limit') ?? 100);
    const entry = { at: Date.now(), after, aborted: false };
    state.log.push(entry);
    res.on('close', () => {
      if (!res.writableFinished) entry.aborted = true;
    });
    setTimeout(() => {
      if (res.destroyed) return;
      const end = Math.min(state.total, after + limit);
      const items = [];
      for (let i = after; i < end; i++) items.push({ id: `item-${i}`, name: `Item ${i}`, email: `item${i}@example.com` });
      sendJson(res, 200, { items, total: state.total, next: end < state.total ? end : null });
    }, state.latencyMs);
  });
  state.url = upstream.url;
  state.close = () => upstream.close();
  return state;
}

export const pagedCheckpointSchema = Type.Object({ after: Type.Integer({ minimum: 0 }) });
export type PagedCheckpoint = Static<typeof pagedCheckpointSchema>;

/** A connector over that API: checkpoint `{after}`, one page per request. */
export function pagedConnector(name: string, upstream: PagedUpstream, pageSize = 100): SourceConnector<PagedCheckpoint> {
  return {
    name,
    recordType: 'customer',
    checkpointSchema: pagedCheckpointSchema,
    missingConfiguration: () => null,
    async *pages(ctx: SyncContext<PagedCheckpoint>): AsyncIterable<SyncPage<PagedCheckpoint>> {
      let after = ctx.checkpoint?.after ?? 0;
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
