import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Scroll } from '../scroll';
import { api, message } from '../api';
import { count, time } from '../format';
import type { RecordPage, Source, StoredRecord } from '../types';

interface Filters {
  type: '' | 'customer' | 'campaign';
  source: string;
  includeDeleted: boolean;
  search: string;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** The query for GET /data: an address is looked up exactly (email=), any other text as a prefix (q=). */
export function recordQuery(f: Filters, cursor: string | undefined): string {
  const q = new URLSearchParams({ limit: '25' });
  if (f.type) q.set('type', f.type);
  if (f.source) q.set('source', f.source);
  if (f.includeDeleted) q.set('include_deleted', 'true');
  const search = f.search.trim();
  if (search) q.set(EMAIL.test(search) ? 'email' : 'q', search);
  if (cursor) q.set('cursor', cursor);
  return `/data?${q}`;
}

/** Customers and campaigns: filters, search, pages by cursor, and every column of one record. */
export function Records() {
  const [draft, setDraft] = useState<Filters>({ type: '', source: '', includeDeleted: false, search: '' });
  const [filters, setFilters] = useState<Filters>(draft);
  const [cursors, setCursors] = useState<string[]>([]);
  const [page, setPage] = useState<RecordPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [sources, setSources] = useState<string[]>(['webhook']);
  const cursor = cursors[cursors.length - 1];

  useEffect(() => {
    void api<{ items: Source[] }>('/sources')
      .then((r) => setSources([...new Set([...r.items.map((s) => s.name), 'webhook'])]))
      .catch(() => undefined);
  }, []);
  useEffect(() => {
    let stale = false;
    api<RecordPage>(recordQuery(filters, cursor))
      .then((p) => {
        if (stale) return;
        setPage(p);
        setError(null);
      })
      .catch((err) => !stale && setError(message(err)));
    return () => {
      stale = true;
    };
  }, [filters, cursor]);

  const apply = (e: Event) => {
    e.preventDefault();
    setFilters({ ...draft });
    setCursors([]);
    setOpen(null);
  };
  const key = (r: StoredRecord) => `${r.type}/${r.source}/${r.external_id}`;

  return (
    <>
      <form class="filters" onSubmit={apply} role="search" aria-label="Records">
        <label>
          Type
          <select value={draft.type} onChange={(e) => setDraft({ ...draft, type: e.currentTarget.value as Filters['type'] })}>
            <option value="">customers and campaigns</option>
            <option value="customer">customers</option>
            <option value="campaign">campaigns</option>
          </select>
        </label>
        <label>
          Source
          <select value={draft.source} onChange={(e) => setDraft({ ...draft, source: e.currentTarget.value })}>
            <option value="">any</option>
            {sources.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label class="check">
          <input type="checkbox" checked={draft.includeDeleted} onChange={(e) => setDraft({ ...draft, includeDeleted: e.currentTarget.checked })} />
          Include deleted
        </label>
        <label class="grow">
          Search
          <input
            type="search"
            placeholder="external id, email or name"
            value={draft.search}
            maxLength={200}
            onInput={(e) => setDraft({ ...draft, search: e.currentTarget.value })}
          />
        </label>
        <button type="submit">Apply</button>
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {page && (
        <p class="muted" role="status">
          {page.total === null ? '' : `${count(page.total)}${page.total_at_least ? ' or more' : ''} matching.`}
        </p>
      )}
      {page && page.items.length > 0 && (
        <Scroll label="Records found">
          <table>
            <thead>
              <tr>
                <th scope="col">External id</th>
                <th scope="col">Type</th>
                <th scope="col">Name</th>
                <th scope="col">Email or status</th>
                <th scope="col">Source</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((r) => (
                <Fragment key={key(r)}>
                  <tr data-record={r.external_id}>
                    <td>
                      <button type="button" class="link mono" aria-expanded={open === key(r)} onClick={() => setOpen(open === key(r) ? null : key(r))}>
                        {r.external_id}
                      </button>
                    </td>
                    <td>{r.type}</td>
                    <td>{r.name ?? ''}</td>
                    <td>{r.type === 'customer' ? (r.email ?? '') : (r.status ?? '')}</td>
                    <td>{r.source}</td>
                    <td>
                      {time(r.updated_at)}
                      {r.deleted_at && <span class="badge badge-failed"> deleted</span>}
                    </td>
                  </tr>
                  {open === key(r) && (
                    <tr class="detail">
                      <td colSpan={6}>
                        <RecordDetail record={r} />
                      </td>
                    </tr>
                  )}
                </Fragment>
              ))}
            </tbody>
          </table>
        </Scroll>
      )}
      {page && page.items.length === 0 && <p class="muted">No records match.</p>}
      <div class="pager">
        {cursors.length > 0 && (
          <button type="button" onClick={() => setCursors([])}>
            First page
          </button>
        )}
        {page?.next_cursor && (
          <button type="button" onClick={() => setCursors([...cursors, page.next_cursor as string])}>
            Next page
          </button>
        )}
      </div>
    </>
  );
}

function RecordDetail({ record }: { record: StoredRecord }) {
  const { attributes, details, ...columns } = record;
  return (
    <div class="detail-body">
      <dl class="columns">
        {Object.entries(columns).map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd class="mono">{v === null || v === undefined ? 'null' : String(v)}</dd>
          </div>
        ))}
      </dl>
      {details !== undefined && (
        <>
          <h3>details</h3>
          <pre tabIndex={0}>{JSON.stringify(details, null, 2)}</pre>
        </>
      )}
      <h3>attributes</h3>
      <pre tabIndex={0}>{JSON.stringify(attributes, null, 2)}</pre>
    </div>
  );
}
