import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  values: number[];
  color: string;
}

const css = (name: string, fallback: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;

/**
 * A per-minute line chart (uPlot draws on a canvas). The figure's caption
 * names it; `summary` says in words what it shows, for screen readers.
 */
export function MinuteChart({ title, minutes, series, summary }: { title: string; minutes: number[]; series: Series[]; summary: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = series.map((s) => s.label).join('\n');

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const fg = css('--fg', '#222');
    const grid = css('--grid', '#8884');
    const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const width = () => Math.max(260, el.clientWidth);
    const u = new uPlot(
      {
        width: width(),
        height: 220,
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        // Room for the widest count label ("20,000").
        axes: [axis, { ...axis, size: 64 }],
        legend: { live: false },
        cursor: { drag: { x: false, y: false } },
        series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, points: { show: false } }))],
      },
      [minutes, ...series.map((s) => s.values)],
      el,
    );
    plot.current = u;
    const resize = new ResizeObserver(() => u.setSize({ width: width(), height: 220 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
    // A new set of series builds a new chart; new values only update it (below).
  }, [shape]);

  useEffect(() => {
    plot.current?.setData([minutes, ...series.map((s) => s.values)]);
  }, [minutes, series]);

  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} role="img" aria-label={summary} />
    </figure>
  );
}
