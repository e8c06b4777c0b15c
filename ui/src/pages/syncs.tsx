import { useEffect, useState } from 'preact/hooks';
import { Scroll } from '../scroll';
import { api, message } from '../api';
import { liveState, rememberTasks, tasks } from '../events';
import { count, duration, taskDuration, time } from '../format';
import type { Source, Task } from '../types';
import { useLoad } from '../use-load';

const ACTIVE = new Set(['queued', 'running']);

/** Sources with their start buttons, running tasks with live progress, and the finished ones. */
export function Syncs() {
  const sources = useLoad(() => api<{ items: Source[] }>('/sources'), []);
  const [notice, setNotice] = useState<string | null>(null);

  // What the stream has not told yet: the tasks of before this page opened.
  useEffect(() => {
    void api<{ items: Task[] }>('/tasks?status=all&limit=50')
      .then((r) => rememberTasks(r.items))
      .catch((err) => setNotice(message(err)));
  }, []);
  // Without the stream (dropped, reconnecting), look again every 2 s so progress still moves.
  useEffect(() => {
    if (liveState.value === 'live') return;
    const timer = setInterval(() => {
      void api<{ items: Task[] }>('/tasks?status=all&limit=50')
        .then((r) => rememberTasks(r.items))
        .catch(() => undefined);
    }, 2000);
    return () => clearInterval(timer);
  }, [liveState.value]);

  const all = [...tasks.value.values()].sort((a, b) => b.created_at.localeCompare(a.created_at));
  const active = all.filter((t) => ACTIVE.has(t.status));
  // Newest finished first: a long sync started before a short one ends after it, and belongs above it.
  const ended = all.filter((t) => !ACTIVE.has(t.status)).sort((a, b) => endedAt(b).localeCompare(endedAt(a)));
  const finished = ended.slice(0, 25);

  const start = async (source: string) => {
    setNotice(null);
    try {
      const accepted = await api<{ task_id: string }>(`/sync/${encodeURIComponent(source)}`, { method: 'POST' });
      rememberTasks([await api<Task>(`/tasks/${encodeURIComponent(accepted.task_id)}`)]);
      setNotice(`${source} sync started.`);
    } catch (err) {
      setNotice(message(err));
    }
  };
  const cancel = async (t: Task) => {
    setNotice(null);
    try {
      rememberTasks([await api<Task>(`/tasks/${encodeURIComponent(t.task_id)}/cancel`, { method: 'POST' })]);
    } catch (err) {
      setNotice(message(err));
    }
  };

  const lastOf = (s: Source): Task | null => ended.find((t) => t.source === s.name) ?? s.last_task;

  return (
    <>
      <p class="notice" role="status">
        {notice}
      </p>
      <section aria-labelledby="sources-title">
        <h2 id="sources-title">Sources</h2>
        {sources.error && <p class="error">Sources could not be read: {sources.error}</p>}
        {sources.data && (
          <Scroll label="Sources">
            <table>
              <thead>
                <tr>
                  <th scope="col">Source</th>
                  <th scope="col">Provider</th>
                  <th scope="col">Schedule</th>
                  <th scope="col">Last run</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {(sources.data?.items ?? []).map((s) => {
                  const last = lastOf(s);
                  const running = active.find((t) => t.source === s.name);
                  return (
                    <tr key={s.name}>
                      <th scope="row">{s.name}</th>
                      <td>{s.provider}</td>
                      <td>{s.schedule ?? 'on demand'}</td>
                      <td>{last ? <StatusWord status={last.status} when={last.finished_at ?? last.created_at} /> : 'never'}</td>
                      <td>
                        {s.configured ? (
                          <button type="button" disabled={running !== undefined} onClick={() => void start(s.name)}>
                            Start {s.name} sync
                          </button>
                        ) : (
                          <span class="muted">set {s.missing ?? 'its configuration'} to sync</span>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </Scroll>
        )}
      </section>

      <section aria-labelledby="running-title">
        <h2 id="running-title">Running</h2>
        {active.length === 0 ? (
          <p class="muted">No sync is running.</p>
        ) : (
          active.map((t) => <Running key={t.task_id} task={t} onCancel={() => void cancel(t)} />)
        )}
      </section>

      <section aria-labelledby="finished-title">
        <h2 id="finished-title">Finished</h2>
        {finished.length === 0 ? (
          <p class="muted">No finished syncs yet.</p>
        ) : (
          <Scroll label="Finished syncs">
            <table>
              <thead>
                <tr>
                  <th scope="col">Source</th>
                  <th scope="col">Status</th>
                  <th scope="col">Finished</th>
                  <th scope="col">Duration</th>
                  <th scope="col" class="num">
                    Fetched
                  </th>
                  <th scope="col" class="num">
                    Written
                  </th>
                  <th scope="col">Error</th>
                </tr>
              </thead>
              <tbody>
                {finished.map((t) => (
                  <tr key={t.task_id} data-task={t.task_id}>
                    <th scope="row">{t.source}</th>
                    <td>
                      <StatusWord status={t.status} />
                    </td>
                    <td>{time(t.finished_at)}</td>
                    <td>{taskDuration(t)}</td>
                    <td class="num">{count(t.progress.records_fetched)}</td>
                    <td class="num">{count(t.progress.records_written)}</td>
                    <td class="error-text">{t.error ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Scroll>
        )}
      </section>
    </>
  );
}

/** When a task ended; one cancelled before it ran may have no finished_at. ISO times in UTC sort as text. */
const endedAt = (t: Task): string => t.finished_at ?? t.created_at;

function StatusWord({ status, when }: { status: Task['status']; when?: string | null }) {
  return (
    <span>
      <span class={`badge badge-${status}`}>{status}</span>
      {when !== undefined && <span class="muted"> {time(when)}</span>}
    </span>
  );
}

/** One running task: its bar, counters, rate and time left, and its cancel button. */
function Running({ task: t, onCancel }: { task: Task; onCancel: () => void }) {
  // Re-render each second so the rate and time left follow the clock between events.
  const [, tick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => tick((n) => n + 1), 1000);
    return () => clearInterval(timer);
  }, []);
  const p = t.progress;
  const total = p.total_estimate;
  const percent = total && total > 0 ? Math.min(100, Math.round((p.records_fetched / total) * 100)) : null;
  const elapsed = t.started_at ? (Date.now() - Date.parse(t.started_at)) / 1000 : 0;
  const rate = elapsed > 0 ? p.records_fetched / elapsed : 0;
  const left = total && rate > 0 ? ((total - p.records_fetched) / rate) * 1000 : null;
  const overall = p.overall && p.overall.runs > 1 ? p.overall : null;
  return (
    <article class="task" aria-label={`${t.source} sync`}>
      <div class="task-head">
        <h3>{t.source}</h3>
        <span class={`badge badge-${t.status}`}>{t.cancel_requested ? 'cancelling' : t.status}</span>
        <button type="button" class="danger" onClick={onCancel}>
          Cancel {t.source} sync
        </button>
      </div>
      <div
        class={`bar${percent === null ? ' indeterminate' : ''}`}
        role="progressbar"
        aria-label={`${t.source} sync progress`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent ?? undefined}
        aria-valuetext={percent === null ? 'total not known yet' : `${percent}%`}
      >
        {/* Set through the CSSOM (allowed by the CSP), not a style attribute. */}
        <div class="fill" style={percent === null ? undefined : { width: `${percent}%` }} />
      </div>
      <dl class="figures">
        <div>
          <dt>Fetched</dt>
          <dd>
            {count(p.records_fetched)}
            {total !== null && <span class="muted"> of {count(total)}</span>}
          </dd>
        </div>
        <div>
          <dt>Written</dt>
          <dd>{count(p.records_written)}</dd>
        </div>
        <div>
          <dt>Rate</dt>
          <dd>{rate > 0 ? `${count(Math.round(rate))} /s` : '—'}</dd>
        </div>
        <div>
          <dt>Time left</dt>
          <dd>{duration(left)}</dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd>{time(t.started_at)}</dd>
        </div>
      </dl>
      {overall && (
        <p class="overall">
          The sync as a whole, across {overall.runs} runs (this one resumed where the others stopped): {count(overall.records_fetched)} fetched,{' '}
          {count(overall.records_written)} written.
        </p>
      )}
    </article>
  );
}
