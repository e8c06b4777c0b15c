import { useEffect, useMemo } from 'preact/hooks';
import { Scroll } from '../scroll';
import { api } from '../api';
import { taskActivity, webhookActivity } from '../events';
import { MinuteChart, type Series } from '../chart';
import { count, time } from '../format';
import { navigate } from '../router';
import type { Stats } from '../types';
import { useLoad } from '../use-load';

const OUTCOMES = [
  { key: 'processed', color: '#2e8540' },
  { key: 'duplicate', color: '#6b7bd6' },
  { key: 'failed', color: '#d6452e' },
  { key: 'received', color: '#c58a00' },
] as const;
const SOURCE_COLORS = ['#1f77b4', '#e377c2', '#17becf', '#bcbd22', '#8c564b', '#9467bd', '#ff7f0e'];

/** GET /stats: records by type and source, the two per-minute charts, tasks and dead letters. */
export function Overview() {
  const stats = useLoad(() => api<Stats>('/stats'), []);
  // Figures follow the stream, at most every 2 s, and the clock every 30 s.
  useEffect(() => {
    const timer = setTimeout(() => void stats.reload(), 2000);
    return () => clearTimeout(timer);
  }, [taskActivity.value, webhookActivity.value]);
  useEffect(() => {
    const timer = setInterval(() => void stats.reload(), 30_000);
    return () => clearInterval(timer);
  }, []);

  const s = stats.data;
  const deliveries = useMemo(() => {
    if (!s) return null;
    const minutes = s.deliveries_per_minute.map((m) => Date.parse(m.minute) / 1000);
    const series: Series[] = OUTCOMES.map((o) => ({ label: o.key, color: o.color, values: s.deliveries_per_minute.map((m) => m[o.key]) }));
    const total = (k: (typeof OUTCOMES)[number]['key']) => s.deliveries_per_minute.reduce((a, m) => a + m[k], 0);
    const summary = `Webhook deliveries in the last hour: ${OUTCOMES.map((o) => `${count(total(o.key))} ${o.key}`).join(', ')}.`;
    return { minutes, series, summary };
  }, [s]);
  const writes = useMemo(() => {
    if (!s) return null;
    const minuteSet = [...new Set(s.writes_per_minute.map((w) => w.minute))].sort();
    const sources = [...new Set(s.writes_per_minute.map((w) => w.source))].sort();
    // Charted against the same hour as the deliveries when the server sends no row for a quiet minute.
    const axis = minuteSet.length > 0 ? minuteSet : s.deliveries_per_minute.map((m) => m.minute);
    const byKey = new Map(s.writes_per_minute.map((w) => [`${w.minute}|${w.source}`, w.count]));
    const series: Series[] = sources.map((src, i) => ({
      label: src,
      color: SOURCE_COLORS[i % SOURCE_COLORS.length] as string,
      values: axis.map((m) => byKey.get(`${m}|${src}`) ?? 0),
    }));
    const summary =
      sources.length === 0
        ? 'No records written in the last hour.'
        : `Records written in the last hour: ${sources.map((src) => `${count(s.writes_per_minute.filter((w) => w.source === src).reduce((a, w) => a + w.count, 0))} from ${src}`).join(', ')}.`;
    return { minutes: axis.map((m) => Date.parse(m) / 1000), series, summary };
  }, [s]);

  if (stats.error && !s) return <p class="error">The figures could not be read: {stats.error}</p>;
  if (!s) return <p class="muted">Loading…</p>;
  return (
    <>
      <section aria-labelledby="now-title" class="cards">
        <h2 id="now-title" class="sr-only">
          Now
        </h2>
        <div class="card">
          <span class="card-n">{count(s.tasks.running)}</span>
          <span>running tasks</span>
        </div>
        <div class="card">
          <span class="card-n">{count(s.tasks.queued)}</span>
          <span>queued tasks</span>
        </div>
        <div class="card">
          <span class="card-n">{count(s.tasks.failed_last_24h)}</span>
          <span>failed tasks, last 24 h</span>
        </div>
        <div class="card">
          <span class="card-n">{count(s.dead_letters)}</span>
          <span>
            dead letters waiting ·{' '}
            <a
              href="/ui/webhooks"
              onClick={(e) => {
                e.preventDefault();
                navigate('webhooks');
              }}
            >
              see the inbox
            </a>
          </span>
        </div>
      </section>
      <section aria-labelledby="records-title">
        <h2 id="records-title">Records by type and source</h2>
        {s.records.length === 0 ? (
          <p class="muted">No records stored yet.</p>
        ) : (
          <Scroll label="Records by type and source">
            <table>
              <thead>
                <tr>
                  <th scope="col">Type</th>
                  <th scope="col">Source</th>
                  <th scope="col" class="num">
                    Records
                  </th>
                  <th scope="col" class="num">
                    Deleted
                  </th>
                </tr>
              </thead>
              <tbody>
                {s.records.map((r) => (
                  <tr key={`${r.type}/${r.source}`}>
                    <td>{r.type}</td>
                    <td>{r.source}</td>
                    <td class="num">{count(r.count)}</td>
                    <td class="num">{count(r.deleted)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Scroll>
        )}
      </section>
      <section aria-labelledby="charts-title" class="charts">
        <h2 id="charts-title">The last hour</h2>
        {deliveries && <MinuteChart title="Webhook deliveries per minute, by outcome" {...deliveries} />}
        {writes && <MinuteChart title="Records written per minute, by source" {...writes} />}
      </section>
      <p class="muted">As of {time(s.time)}.</p>
    </>
  );
}
