import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../src/metrics.js';

describe('metrics', () => {
  it('lists every tributary metric in the operations guide', async () => {
    const metrics = createMetrics();
    const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name).filter((n) => n.startsWith('tributary_'));
    const guide = readFileSync(new URL('../docs/operations.md', import.meta.url), 'utf8');
    expect(names.length).toBeGreaterThan(5);
    const missing = names.filter((n) => !guide.includes(`\`${n}`));
    expect(missing).toEqual([]);
  });
});
