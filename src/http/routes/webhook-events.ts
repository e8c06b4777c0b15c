import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import { ApiError } from '../../errors.js';
import type { InboxCatalog } from '../../ingest/inbox-catalog.js';
import type { InboxReplayer } from '../../ingest/replay.js';
import type { Store } from '../../store/open-store.js';
import { getInboxRow, INBOX_STATUSES, listInboxRows, type InboxRow, type InboxStatus } from '../../store/webhook-inbox.js';
import { ignoreBodies } from '../plugins/ignored-body.js';
import { documented, iso, nullable, problemResponses } from '../schemas/common.js';
import { SEED_CUSTOMER, WriteResultItem } from '../schemas/records.js';
import { WRITE_RESULT_EXAMPLE } from '../schemas/examples.js';

export interface WebhookEventRoutesOptions {
  store: Store;
  replayer: InboxReplayer;
  catalog: InboxCatalog;
  /** PAGE_MAX_BYTES: a listing page stops early past this many stored bytes. */
  pageMaxBytes: number;
}

const InboxItem = Type.Object({
  id: Type.Integer(),
  received_at: Type.String({ format: 'date-time' }),
  source: Type.String({ description: 'generic (POST /webhook) or the provider whose webhook route received it' }),
  route: Type.String(),
  status: Type.Enum([...INBOX_STATUSES], {
    description:
      'received: stored, not processed yet; processed; failed: a dead letter (see error), replayable; duplicate: its key was seen before (see duplicate_of)',
  }),
  idempotency_key: nullable(Type.String({ description: "webhook-id / Idempotency-Key, or the provider's event key; null on duplicates" })),
  duplicate_of: nullable(Type.Integer({ description: 'On a duplicate: the id of the first copy' })),
  error: nullable(Type.String()),
  response_status: nullable(Type.Integer()),
  response: Type.Unknown({ description: 'The answer stored for the delivery (what a repeat of its key is answered)' }),
  headers: Type.Record(Type.String(), Type.String()),
  body: nullable(
    Type.String({
      description:
        "The delivery (or one event of a provider delivery) as received. A duplicate keeps no body of its own: it shows its first copy's, or null once that has been deleted",
    }),
  ),
});

const INBOX_EXAMPLE: Static<typeof InboxItem> = {
  id: 42,
  received_at: '2026-12-01T09:30:00.000Z',
  source: 'generic',
  route: '/webhook',
  status: 'processed',
  idempotency_key: 'msg_2b7c9e',
  duplicate_of: null,
  error: null,
  response_status: 200,
  response: { status: 'stored', delivery_id: 'msg_2b7c9e', stored: 1, records: [WRITE_RESULT_EXAMPLE] },
  headers: { 'content-type': 'application/json', 'webhook-id': 'msg_2b7c9e' },
  body: JSON.stringify({ customer: SEED_CUSTOMER }),
};

const toItem = (r: InboxRow, source: string) => ({
  id: r.id,
  received_at: iso(r.receivedAt) as string,
  source,
  route: r.route,
  status: r.status,
  idempotency_key: r.idempotencyKey,
  duplicate_of: r.duplicateOf,
  error: r.error,
  response_status: r.responseStatus,
  response: r.response,
  headers: r.headers,
  body: r.body,
});

const STATUS_LIST = `^(all|(${INBOX_STATUSES.join('|')})(,(${INBOX_STATUSES.join('|')}))*)$`;

const badCursor = () =>
  new ApiError('validation', 'cursor is not one this service issued', { errors: [{ path: '/query/cursor', message: 'is not a valid cursor' }] });

/** Cursors are opaque: base64url of {"b": <id>}, the last id of the page before. */
function decodeCursor(cursor: string): number {
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(cursor)) throw badCursor();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badCursor();
  }
  const b = (parsed as { b?: unknown } | null)?.b;
  if (typeof b !== 'number' || !Number.isSafeInteger(b) || b < 1) throw badCursor();
  return b;
}
const encodeCursor = (id: number) => Buffer.from(JSON.stringify({ b: id })).toString('base64url');

const IdParams = Type.Object({ id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) });

/** The webhook inbox: listing (dead letters first of all) and replay. Protected by API_KEY like the data routes. */
export const webhookEventRoutes: FastifyPluginAsyncTypebox<WebhookEventRoutesOptions> = async (app, { store, replayer, catalog, pageMaxBytes }) => {
  const decode = store.dialect.decodeJson;

  app.get(
    '/webhooks/events',
    {
      schema: {
        summary: 'Webhook deliveries in the inbox, newest first',
        description:
          'Every delivery the webhook routes accepted, raw, with its status. `status=failed` lists the dead letters; `source` narrows to generic or one provider. Follow `next_cursor` for older pages: a page may hold fewer than `limit` items when its bodies reach PAGE_MAX_BYTES (the first item always comes).',
        tags: ['webhooks'],
        querystring: Type.Object(
          {
            status: Type.Optional(Type.String({ pattern: STATUS_LIST, description: 'Comma-separated statuses, or all (default)' })),
            source: Type.Optional(Type.Enum(catalog.sources)),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
            cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          },
          { additionalProperties: true },
        ),
        response: {
          200: documented(
            Type.Object({ items: Type.Array(InboxItem), limit: Type.Integer(), next_cursor: nullable(Type.String()) }),
            'A page of deliveries, newest first',
            { items: [INBOX_EXAMPLE], limit: 50, next_cursor: null },
          ),
          ...problemResponses(401, 422),
        },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? 50;
      const status = req.query.status ?? 'all';
      const statuses = status === 'all' ? undefined : ([...new Set(status.split(','))] as InboxStatus[]);
      const routes = req.query.source ? [...catalog.routesOf(req.query.source)] : undefined;
      const beforeId = req.query.cursor === undefined ? undefined : decodeCursor(req.query.cursor);
      const { rows, more } = await listInboxRows(store.db, decode, { statuses, routes, beforeId, limit, maxBytes: pageMaxBytes });
      const last = rows[rows.length - 1];
      return { items: rows.map((r) => toItem(r, catalog.sourceOf(r.route))), limit, next_cursor: more && last ? encodeCursor(last.id) : null };
    },
  );

  app.get(
    '/webhooks/events/:id',
    {
      schema: {
        summary: 'One webhook delivery in the inbox',
        tags: ['webhooks'],
        params: IdParams,
        response: { 200: documented(InboxItem, 'The delivery', INBOX_EXAMPLE), ...problemResponses(401, 404, 422) },
      },
    },
    async (req) => {
      const row = await getInboxRow(store.db, decode, req.params.id);
      if (!row) throw new ApiError('not_found', `no webhook delivery ${req.params.id}`);
      return toItem(row, catalog.sourceOf(row.route));
    },
  );

  // Takes no body: one sent along is ignored.
  await app.register(async (plain) => {
    ignoreBodies(plain);
    const scope = plain.withTypeProvider<TypeBoxTypeProvider>();
    scope.post(
      '/webhooks/events/:id/replay',
      {
        schema: {
          summary: 'Process a dead letter again',
          description:
            'Processes a failed delivery (or one left received) again, and answers 200 with the new outcome: processed, or failed with the new error. 404 for an unknown id; 409 for a delivery already processed, or a duplicate (replay its first copy instead).',
          tags: ['webhooks'],
          params: IdParams,
          response: {
            200: documented(
              Type.Object({
                id: Type.Integer(),
                status: Type.Enum(['processed', 'failed']),
                records: Type.Array(WriteResultItem),
                error: nullable(Type.String()),
              }),
              'The new outcome: processed, or failed with the new error',
              { id: 42, status: 'processed', records: [WRITE_RESULT_EXAMPLE], error: null },
            ),
            ...problemResponses(401, 404, 409, 422, 503),
          },
        },
      },
      async (req) => {
        const result = await replayer.replay(req.params.id);
        if (result.kind === 'unknown') throw new ApiError('not_found', `no webhook delivery ${req.params.id}`);
        if (result.kind === 'conflict') {
          const detail =
            result.status === 'duplicate'
              ? `delivery ${req.params.id} is a duplicate of ${result.duplicateOf}; replay that one`
              : `delivery ${req.params.id} is already ${result.status}`;
          throw new ApiError('conflict', detail, { delivery_status: result.status, duplicate_of: result.duplicateOf });
        }
        const o = result.outcome;
        return { id: o.inbox_id ?? req.params.id, status: o.status as 'processed' | 'failed', records: o.records, error: o.error };
      },
    );
  });
};
