import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Scroll } from '../scroll';
import { api, message } from '../api';
import { webhookActivity } from '../events';
import { pretty, time } from '../format';
import type { Delivery, ReplayOutcome } from '../types';

const STATUSES = ['all', 'failed', 'processed', 'duplicate', 'received'] as const;

interface Page {
  items: Delivery[];
  next_cursor: string | null;
}

/** The webhook inbox: newest first, a status filter, raw headers and body, replay of dead letters. */
export function Webhooks() {
  const [status, setStatus] = useState<(typeof STATUSES)[number]>('all');
  const [cursors, setCursors] = useState<string[]>([]);
  const [page, setPage] = useState<Page | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState<number | null>(null);
  const [outcome, setOutcome] = useState<string | null>(null);
  const cursor = cursors[cursors.length - 1];

  const load = async () => {
    const q = new URLSearchParams({ status, limit: '25' });
    if (cursor) q.set('cursor', cursor);
    try {
      setPage(await api<Page>(`/webhooks/events?${q}`));
      setError(null);
    } catch (err) {
      setError(message(err));
    }
  };
  useEffect(() => {
    void load();
  }, [status, cursor]);
  // New deliveries or dead letters: the first page shows them at once.
  useEffect(() => {
    if (webhookActivity.value > 0 && cursors.length === 0) void load();
  }, [webhookActivity.value]);

  const replay = async (d: Delivery) => {
    setOutcome(`Replaying delivery ${d.id}…`);
    try {
      const r = await api<ReplayOutcome>(`/webhooks/events/${d.id}/replay`, { method: 'POST' });
      setOutcome(
        r.status === 'processed' ? `Delivery ${d.id} replayed: processed.` : `Delivery ${d.id} replayed: failed again: ${r.error ?? 'no error given'}`,
      );
    } catch (err) {
      setOutcome(`Replay of delivery ${d.id} refused: ${message(err)}`);
    }
    await load();
  };

  return (
    <>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Status
          <select
            value={status}
            onChange={(e) => {
              setStatus(e.currentTarget.value as (typeof STATUSES)[number]);
              setCursors([]);
            }}
          >
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s === 'failed' ? 'failed (dead letters)' : s}
              </option>
            ))}
          </select>
        </label>
      </form>
      <p class="notice" role="status">
        {outcome}
      </p>
      {error && <p class="error">{error}</p>}
      {page && page.items.length === 0 && <p class="muted">No deliveries.</p>}
      {page && page.items.length > 0 && (
        <Scroll label="Deliveries">
          <table>
            <thead>
              <tr>
                <th scope="col">Received</th>
                <th scope="col">Route</th>
                <th scope="col">Key</th>
                <th scope="col">Status</th>
                <th scope="col">Error</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((d) => (
                <Fragment key={d.id}>
                  <tr data-delivery={d.id}>
                    <td>
                      <button type="button" class="link" aria-expanded={open === d.id} onClick={() => setOpen(open === d.id ? null : d.id)}>
                        {time(d.received_at)}
                        <span class="sr-only"> details of delivery {d.id}</span>
                      </button>
                    </td>
                    <td>{d.route}</td>
                    <td class="mono">{d.idempotency_key ?? '—'}</td>
                    <td>
                      <span class={`badge badge-${d.status}`}>{d.status}</span>
                    </td>
                    <td class="error-text">{d.error ?? ''}</td>
                    <td>
                      {(d.status === 'failed' || d.status === 'received') && (
                        <button type="button" onClick={() => void replay(d)} aria-describedby={`delivery-${d.id}`}>
                          Replay
                        </button>
                      )}
                      <span id={`delivery-${d.id}`} class="sr-only">
                        delivery {d.id}
                      </span>
                    </td>
                  </tr>
                  {open === d.id && (
                    <tr class="detail">
                      <td colSpan={6}>
                        <DeliveryDetail delivery={d} />
                      </td>
                    </tr>
                  )}
                </Fragment>
              ))}
            </tbody>
          </table>
        </Scroll>
      )}
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

function DeliveryDetail({ delivery: d }: { delivery: Delivery }) {
  return (
    <div class="detail-body">
      <p>
        Delivery {d.id} from {d.source}
        {d.duplicate_of !== null && `, a duplicate of ${d.duplicate_of}`}
        {d.response_status !== null && `, answered ${d.response_status}`}.
      </p>
      <h3>Headers</h3>
      <pre tabIndex={0}>
        {Object.entries(d.headers)
          .map(([k, v]) => `${k}: ${v}`)
          .join('\n')}
      </pre>
      <h3>Body</h3>
      <pre tabIndex={0}>{pretty(d.body)}</pre>
    </div>
  );
}
