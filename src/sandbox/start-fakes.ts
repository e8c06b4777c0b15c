import { PROVIDERS } from '../providers/index.js';
import type { RunningFake } from '../providers/provider.js';

/** A whole number >= 0 from the environment, or the fallback; a bad value stops the process with one line. */
export function countFromEnv(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text.trim() === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) {
    console.error(`${name} must be a whole number >= 0, got '${text}'`);
    process.exit(2);
  }
  return value;
}

/**
 * Starts the fake of every provider that has one. `<PREFIX>_<RECORDS>` (for
 * example DEMO_CONTACTS, FAKE_CAMPAIGNS) picks how many records each serves.
 */
export async function startFakes(prefix: string, options: { latencyMs?: number; ports?: (name: string) => number } = {}): Promise<RunningFake[]> {
  const running: RunningFake[] = [];
  for (const p of PROVIDERS) {
    if (!p.fake) continue;
    const records = countFromEnv(`${prefix}_${p.fake.records.toUpperCase()}`, p.fake.defaultRecords);
    const more = Object.fromEntries(Object.entries(p.fake.moreRecords ?? {}).map(([name, n]) => [name, countFromEnv(`${prefix}_${name.toUpperCase()}`, n)]));
    running.push(await p.fake.start({ records, port: options.ports?.(p.name) ?? 0, latencyMs: options.latencyMs ?? 0, more }));
  }
  return running;
}

export const fakeEnv = (fakes: readonly RunningFake[]): Record<string, string> => Object.assign({}, ...fakes.map((f) => f.env));
