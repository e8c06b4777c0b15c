/** Numbers and times as the console shows them. */

const numberFormat = new Intl.NumberFormat('en');
export const count = (n: number | null | undefined): string => (n === null || n === undefined ? '—' : numberFormat.format(n));

export function time(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleString('en-GB', { year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function duration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms) || ms < 0) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function taskDuration(t: { started_at: string | null; finished_at: string | null }): string {
  if (!t.started_at) return '—';
  const end = t.finished_at ? Date.parse(t.finished_at) : Date.now();
  return duration(end - Date.parse(t.started_at));
}

/** JSON text indented when it parses, as is when not. */
export function pretty(text: string | null): string {
  if (text === null) return '(none)';
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
