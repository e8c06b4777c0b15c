/**
 * The ways a declared source walks its pages. Each paginator says what the
 * next request adds to the query (or which URL it fetches), and reads from a
 * response where the walk goes next. Positions are plain JSON: they are saved
 * in the checkpoint with every page, so an interrupted walk resumes where it was.
 */
import { Type, type Static } from 'typebox';
import type { QueryValue, ResponseHeaders } from '../../sources/http-client.js';
import { getPath } from './field-mapping.js';
import type { PaginationSpec } from './schema.js';

/**
 * - offset: `total` is upstream's count at the last page, to notice deletions that shift later records forward;
 * - page: `limit` is the page size the number counts in (a position saved before a change of `limit` starts over).
 */
export const pagePositionSchema = Type.Union([
  Type.Object({ kind: Type.Literal('none') }),
  Type.Object({ kind: Type.Literal('offset'), offset: Type.Integer(), total: Type.Optional(Type.Number()) }),
  Type.Object({ kind: Type.Literal('page'), page: Type.Integer(), fetched: Type.Integer(), limit: Type.Optional(Type.Number()) }),
  Type.Object({ kind: Type.Literal('cursor'), cursor: Type.Union([Type.String(), Type.Null()]) }),
  Type.Object({ kind: Type.Union([Type.Literal('link_header'), Type.Literal('next_url')]), next: Type.Union([Type.String(), Type.Null()]) }),
]);
export type PagePosition = Static<typeof pagePositionSchema>;

export interface PageRequest {
  /** An absolute URL to fetch instead of the source's path (a next link). */
  url: string | null;
  /** Paging parameters for this request. */
  params: Record<string, QueryValue>;
}

export interface FetchedPage {
  body: unknown;
  headers: ResponseHeaders;
  /** Records in the page. */
  count: number;
  /** The URL just fetched (for relative next links). */
  url: string;
}

export interface Advance {
  /** Where the next request goes; null when the walk is over. */
  next: PagePosition | null;
  /** Upstream's count of the records of this walk, when it gives one. */
  total: number | null;
}

export interface Paginator {
  readonly kind: PagePosition['kind'];
  start(): PagePosition;
  /** Whether a saved position belongs to this paginator (a changed file starts the walk over). */
  accepts(position: unknown): position is PagePosition;
  request(position: PagePosition): PageRequest;
  advance(position: PagePosition, page: FetchedPage): Advance;
}

export const DEFAULT_PAGE_SIZE = 100;

function numberAt(body: unknown, path: string | undefined): number | null {
  if (path === undefined) return null;
  const v = getPath(body, path);
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
  return Number.isFinite(n) ? n : null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/**
 * The rel="next" target of a Link header (RFC 8288), or null. Several Link
 * headers, several links in one, and rel lists ("next last") are understood.
 */
export function nextLink(header: string | string[] | undefined): string | null {
  if (header === undefined) return null;
  const text = Array.isArray(header) ? header.join(', ') : header;
  const re = /<([^>]*)>((?:\s*;\s*[^;,=\s]+\s*(?:=\s*(?:"[^"]*"|[^;,"\s]*))?)*)/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const params = m[2] ?? '';
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^;,\s]+))/i.exec(params);
    const rels = (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/);
    if (rels.includes('next')) return m[1] ?? null;
  }
  return null;
}

/** `url` without the query parameter `name` (an API key), so it can be saved. */
export function withoutParam(url: string, name: string | undefined): string {
  if (name === undefined) return url;
  const u = new URL(url);
  if (!u.searchParams.has(name)) return url;
  // Taken out as text: searchParams.delete would write the whole query back
  // form-encoded (%20 as +, `flag` as `flag=`), and not every API reads that alike.
  const kept = u.search
    .slice(1)
    .split('&')
    .filter((pair) => {
      const raw = (pair.split('=')[0] ?? '').replace(/\+/g, ' ');
      try {
        return decodeURIComponent(raw) !== name;
      } catch {
        return raw !== name;
      }
    });
  u.search = kept.length > 0 ? `?${kept.join('&')}` : '';
  return u.href;
}

function originOf(url: string): string | null {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

/**
 * Builds the paginator of a source. `origin` is base_url's, the only one next
 * links may point at; `secretParam` (an API key sent in the query) is taken
 * out of next links before they are saved, and added back to each request.
 */
export function createPaginator(spec: PaginationSpec, source: string, origin: string, secretParam?: string): Paginator {
  switch (spec.kind) {
    case 'none':
      return {
        kind: 'none',
        start: () => ({ kind: 'none' }),
        accepts: (p): p is PagePosition => isObject(p) && p.kind === 'none',
        request: () => ({ url: null, params: {} }),
        advance: () => ({ next: null, total: null }),
      };

    case 'offset': {
      const offsetParam = spec.offset_param ?? 'offset';
      const limitParam = spec.limit_param ?? 'limit';
      const limit = spec.limit ?? DEFAULT_PAGE_SIZE;
      return {
        kind: 'offset',
        start: () => ({ kind: 'offset', offset: 0 }),
        accepts: (p): p is PagePosition =>
          isObject(p) && p.kind === 'offset' && Number.isSafeInteger(p.offset) && (p.total === undefined || Number.isFinite(p.total)),
        request: (p) => ({ url: null, params: { [offsetParam]: (p as { offset: number }).offset, [limitParam]: limit } }),
        advance(p, page) {
          const at = p as { offset: number; total?: number };
          const total = numberAt(page.body, spec.total);
          // The total fell: records were deleted since the last page, and as many
          // behind this page slid forward past its start, unseen. Step back over
          // them (the overlap comes again and is written as unchanged).
          const dropped = total !== null && at.total !== undefined && total < at.total ? at.total - total : 0;
          const offset = dropped > 0 ? Math.max(0, at.offset - dropped) : at.offset + page.count;
          // With a total, a short page only means upstream caps the page size lower than asked.
          const done = dropped === 0 && (page.count === 0 || (total !== null ? offset >= total : page.count < limit));
          return { next: done ? null : { kind: 'offset', offset, ...(total !== null ? { total } : {}) }, total };
        },
      };
    }

    case 'page': {
      const pageParam = spec.page_param ?? 'page';
      const limitParam = spec.limit_param ?? 'per_page';
      const limit = spec.limit ?? DEFAULT_PAGE_SIZE;
      const first = spec.first_page ?? 1;
      return {
        kind: 'page',
        start: () => ({ kind: 'page', page: first, fetched: 0, limit }),
        // Page numbers counted in another page size would skip records (a larger one) or repeat them.
        accepts: (p): p is PagePosition =>
          isObject(p) && p.kind === 'page' && Number.isSafeInteger(p.page) && Number.isSafeInteger(p.fetched) && (p.limit === undefined || p.limit === limit),
        request: (p) => ({ url: null, params: { [pageParam]: (p as { page: number }).page, [limitParam]: limit } }),
        advance(p, page) {
          const { page: n, fetched } = p as { page: number; fetched: number };
          const seen = fetched + page.count;
          const total = numberAt(page.body, spec.total);
          const totalPages = numberAt(page.body, spec.total_pages);
          let done: boolean;
          if (page.count === 0) done = true;
          else if (totalPages !== null) done = n - first + 1 >= totalPages;
          else if (total !== null) done = seen >= total;
          else done = page.count < limit;
          return { next: done ? null : { kind: 'page', page: n + 1, fetched: seen, limit }, total };
        },
      };
    }

    case 'cursor': {
      const cursorParam = spec.cursor_param ?? 'cursor';
      const sizeParams = spec.limit_param ? { [spec.limit_param]: spec.limit ?? DEFAULT_PAGE_SIZE } : {};
      return {
        kind: 'cursor',
        start: () => ({ kind: 'cursor', cursor: null }),
        accepts: (p): p is PagePosition => isObject(p) && p.kind === 'cursor' && (p.cursor === null || typeof p.cursor === 'string'),
        request: (p) => ({ url: null, params: { ...sizeParams, [cursorParam]: (p as { cursor: string | null }).cursor ?? undefined } }),
        advance(p, page) {
          const raw = getPath(page.body, spec.cursor_path);
          const cursor = typeof raw === 'string' ? raw : typeof raw === 'number' && Number.isFinite(raw) ? String(raw) : '';
          const more = spec.has_more === undefined ? true : getPath(page.body, spec.has_more) === true;
          const total = numberAt(page.body, spec.total);
          if (!more) return { next: null, total };
          if (cursor === '') {
            // Upstream says there is more but gives no way to it: ending here would pass for a complete walk.
            if (spec.has_more !== undefined)
              throw new Error(`${source}: "${spec.has_more}" says there are more pages, but there is no cursor at "${spec.cursor_path}"`);
            return { next: null, total };
          }
          if (cursor === (p as { cursor: string | null }).cursor) {
            // Some change feeds answer their end with an empty page and the same cursor (to poll again later).
            if (page.count === 0) return { next: null, total };
            throw new Error(`${source}: the next cursor at "${spec.cursor_path}" is the one just sent; refusing to loop`);
          }
          return { next: { kind: 'cursor', cursor }, total };
        },
      };
    }

    case 'link_header':
    case 'next_url': {
      const kind = spec.kind;
      const sizeParams = spec.limit_param ? { [spec.limit_param]: spec.limit ?? DEFAULT_PAGE_SIZE } : {};
      const found = (page: FetchedPage): unknown =>
        kind === 'link_header' ? nextLink(page.headers.link) : getPath(page.body, (spec as { next_path: string }).next_path);
      return {
        kind,
        start: () => ({ kind, next: null }),
        // A link saved before base_url moved to another origin would be refused on every run: start over instead.
        accepts: (p): p is PagePosition => isObject(p) && p.kind === kind && (p.next === null || (typeof p.next === 'string' && originOf(p.next) === origin)),
        request: (p) => ({ url: (p as { next: string | null }).next, params: sizeParams }),
        advance(p, page) {
          const raw = found(page);
          const total = numberAt(page.body, spec.total);
          if (typeof raw !== 'string' || raw.trim() === '') return { next: null, total };
          let next: URL;
          try {
            next = new URL(raw.trim(), page.url);
          } catch {
            throw new Error(`${source}: the next page link ${JSON.stringify(raw).slice(0, 200)} is not a URL`);
          }
          // The client refuses other origins too; refusing here keeps such a link out of the checkpoint.
          if (next.origin !== origin) {
            throw new Error(`${source}: the next page link points at ${next.origin}, outside base_url's origin ${origin}`);
          }
          // A fragment is never sent, and parameters appended after it would not be either.
          next.hash = '';
          const href = withoutParam(next.href, secretParam);
          if (href === withoutParam(page.url, secretParam) || href === (p as { next: string | null }).next) {
            // An empty last page that links to itself is the end, not a loop.
            if (page.count === 0) return { next: null, total };
            throw new Error(`${source}: the next page link is the page just fetched; refusing to loop`);
          }
          return { next: { kind, next: href }, total };
        },
      };
    }
  }
}
