import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { RecordType } from '../../domain/records.js';
import { parseRfc3339 } from '../../domain/time.js';
import { ApiError } from '../../errors.js';
import type { Store } from '../../store/open-store.js';
import { countRecords, findRecord, readPage, type PagePosition, type RecordFilter } from '../../store/record-queries.js';
import { findMatches, nextMatchIds, type RecordSearch } from '../../store/record-search.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { documented, problemResponses } from '../schemas/common.js';
import { CAMPAIGN_EXAMPLE, CUSTOMER_EXAMPLE } from '../schemas/examples.js';
import { DataQuery, PageQuery, PageResponse, RecordItem, RecordParams, toItem, type DataQueryT } from '../schemas/records.js';
import { Type } from 'typebox';

/** `updated_since` -> epoch ms, or a 422 naming the parameter. */
function parseSince(text: string): number {
  const ms = parseRfc3339(text);
  if (ms === null) {
    throw new ApiError('validation', 'updated_since is not an RFC 3339 date-time', {
      errors: [{ path: '/query/updated_since', message: 'must match format "date-time"' }],
    });
  }
  return ms;
}

export interface DataRoutesOptions {
  store: Store;
  /** PAGE_MAX_BYTES: a page stops early past this many stored bytes. */
  pageMaxBytes: number;
}

/** GET /data and the typed views: keyset or offset pages over the unified store. */
const EXAMPLES = { customer: CUSTOMER_EXAMPLE, campaign: CAMPAIGN_EXAMPLE } as const;

export const dataRoutes: FastifyPluginAsyncTypebox<DataRoutesOptions> = async (app, { store, pageMaxBytes }) => {
  async function page(query: DataQueryT, type: RecordType | undefined) {
    const limit = query.limit ?? 50;
    const offset = query.offset ?? 0;
    let after: PagePosition | undefined;
    if (query.cursor !== undefined) {
      if (offset > 0) {
        throw new ApiError('validation', 'give either offset or cursor, not both', {
          errors: [{ path: '/query/offset', message: 'must be 0 when cursor is given' }],
        });
      }
      after = decodeCursor(query.cursor);
    }
    const updatedSince = query.updated_since === undefined ? undefined : parseSince(query.updated_since);
    const order = updatedSince !== undefined || after?.kind === 'change' ? 'change' : 'row';
    if (after && after.kind !== order) {
      throw new ApiError('validation', 'this cursor belongs to a listing in another order', {
        errors: [{ path: '/query/cursor', message: 'was issued for a listing without updated_since (or with it)' }],
      });
    }
    const filter = { type, source: query.source, updatedSince, includeDeleted: query.include_deleted ?? false };
    if (query.email !== undefined || query.q !== undefined) return searchPage({ email: query.email, q: query.q }, filter, { limit, offset, after });
    const result = await readPage(store, { ...filter, limit, offset, after, order, maxBytes: pageMaxBytes });
    // A change-feed continuation page skips the count: it would scan every change since updated_since.
    const total = order === 'change' && after ? null : await countRecords(store, filter);
    return {
      items: result.records.map(toItem),
      total,
      offset,
      limit,
      next_cursor: result.next ? encodeCursor(result.next) : null,
    };
  }

  /**
   * A page of a search, in row order. With at most SEARCH_TOTAL_CAP matches
   * the page is read from their row ids (found through the indexes); with
   * more, from the next limit + 1 matches after the cursor (nextMatchIds).
   */
  async function searchPage(search: RecordSearch, filter: RecordFilter, at: { limit: number; offset: number; after: PagePosition | undefined }) {
    if (filter.updatedSince !== undefined) {
      throw new ApiError('validation', 'updated_since cannot be combined with q or email', {
        errors: [{ path: '/query/updated_since', message: 'cannot be combined with q or email' }],
      });
    }
    if (at.after?.kind === 'change') {
      throw new ApiError('validation', 'this cursor belongs to a listing in another order', {
        errors: [{ path: '/query/cursor', message: 'was issued for a listing with updated_since' }],
      });
    }
    const matches = await findMatches(store, search, filter);
    let rowIds = matches.rowIds;
    // Over the cap, a page's candidates are the next limit + 1 matches (an offset page filters rows in order instead).
    if (rowIds === null && at.offset === 0) rowIds = await nextMatchIds(store, search, filter, at.after?.rowId ?? 0, at.limit + 1);
    const result = await readPage(store, { ...filter, ...at, order: 'row', maxBytes: pageMaxBytes, search: { search, rowIds } });
    return {
      items: result.records.map(toItem),
      total: matches.total,
      total_at_least: matches.atLeast,
      offset: at.offset,
      limit: at.limit,
      next_cursor: result.next ? encodeCursor(result.next) : null,
    };
  }

  app.get(
    '/data',
    {
      schema: {
        summary: 'Stored records of both types, paged',
        description:
          'Stable order (insertion) by default. With `updated_since`, records come in (updated_at, id) order, a change feed: every page with items gives a `next_cursor` after its last item, even the last page, and an empty page gives null. Keep the last non-null `next_cursor` as a bookmark and poll with it to see every later change at least once; continuation pages of the feed answer `total: null`. A page holds fewer than `limit` items when their stored size reaches PAGE_MAX_BYTES (the first item always comes): follow `next_cursor`. `email` and `q` search (case-insensitive, served by indexes): the same order and cursors, `total` counted up to 1000 (`total_at_least: true` past it).',
        tags: ['data'],
        querystring: DataQuery,
        response: {
          200: documented(PageResponse, 'A page of records, both types', {
            items: [CUSTOMER_EXAMPLE],
            total: 2,
            offset: 0,
            limit: 1,
            next_cursor: 'eyJyIjoxfQ',
          }),
          ...problemResponses(401, 422),
        },
      },
    },
    async (req) => page(req.query, req.query.type),
  );

  for (const [plural, type] of [
    ['customers', 'customer'],
    ['campaigns', 'campaign'],
  ] as const) {
    app.get(
      `/${plural}`,
      {
        schema: {
          summary: `Stored ${plural}, paged`,
          tags: ['data'],
          querystring: PageQuery,
          response: {
            200: documented(PageResponse, `A page of ${plural}`, { items: [EXAMPLES[type]], total: 1, offset: 0, limit: 50, next_cursor: null }),
            ...problemResponses(401, 422),
          },
        },
      },
      async (req) => page(req.query, type),
    );
    app.get(
      `/${plural}/:external_id`,
      {
        schema: {
          summary: `One ${type} by its external id`,
          tags: ['data'],
          params: RecordParams,
          querystring: Type.Object({ include_deleted: Type.Optional(Type.Boolean({ default: false })) }, { additionalProperties: true }),
          response: { 200: documented(RecordItem, `The ${type}`, EXAMPLES[type]), ...problemResponses(401, 404, 422) },
        },
      },
      async (req) => {
        const record = await findRecord(store, type, req.params.external_id);
        if (!record || (record.deletedAt !== null && !req.query.include_deleted)) {
          throw new ApiError('not_found', `no ${type} with external_id "${req.params.external_id}"`);
        }
        return toItem(record);
      },
    );
  }
};
