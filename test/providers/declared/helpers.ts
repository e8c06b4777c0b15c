import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { expect } from 'vitest';
import type { App } from '../../../src/app.js';
import type { RecordWrite } from '../../../src/domain/records.js';
import type { SyncPage } from '../../../src/sources/connector.js';
import { DeclaredSource, type DeclaredCheckpoint } from '../../../src/providers/declared/connector.js';
import { readableCheckpoint } from '../../../src/tasks/checkpoint-check.js';
import { parseSourcesText } from '../../../src/providers/declared/load-sources-file.js';
import { waitFor } from '../../helpers/wait.js';
export { waitFor } from '../../helpers/wait.js';

export const silent = pino({ level: 'silent' });

/** Short backoff: a retry costs milliseconds. */
export const FAST_CLIENT = { baseDelayMs: 10, maxDelayMs: 50, timeoutMs: 5_000 };

/** A connector from one source's declaration, as the file would give it. */
export function declaredSource(name: string, spec: Record<string, unknown>, env: Record<string, string> = {}): DeclaredSource {
  const [config] = parseSourcesText(JSON.stringify({ sources: { [name]: spec } }), `${name}.json`, env);
  if (!config) throw new Error('no source parsed');
  return new DeclaredSource(config, { client: FAST_CLIENT });
}

export interface Walk {
  pages: SyncPage[];
  records: RecordWrite[];
  checkpoint: unknown;
}

/** Runs a connector's pages to the end (or `maxPages`), as the runner would, from `checkpoint`. */
export async function walk(source: DeclaredSource, checkpoint: unknown = null, maxPages = Infinity): Promise<Walk> {
  const pages: SyncPage[] = [];
  const ctrl = new AbortController();
  // As the task runner does: a stored checkpoint the connector cannot read starts a first load.
  const readable = readableCheckpoint(source, checkpoint, silent) as DeclaredCheckpoint | null;
  for await (const page of source.pages({ signal: ctrl.signal, checkpoint: readable, full: readable === null, log: silent })) {
    pages.push(page);
    if (pages.length >= maxPages) break;
  }
  // As the task runner does: a request still out for a page nobody will take is stopped.
  ctrl.abort();
  const last = pages[pages.length - 1];
  return { pages, records: pages.flatMap((p) => p.records), checkpoint: last ? last.checkpoint : checkpoint };
}

/** Every id exactly once, and these ones. */
export function expectEachOnce(records: readonly RecordWrite[], ids: readonly string[]): void {
  const got = records.map((r) => r.external_id);
  expect(new Set(got).size, `duplicates in ${got.join(',')}`).toBe(got.length);
  expect([...got].sort()).toEqual([...ids].sort());
}

/** A scratch folder for sources files; removed by the returned function. */
export function scratchDir(): { dir: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-declared-'));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Writes a sources file: YAML unless the name ends in .json. */
export function writeSourcesFile(dir: string, name: string, doc: unknown): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, name.endsWith('.json') ? JSON.stringify(doc, null, 2) : stringify(doc));
  return file;
}

export interface TaskView {
  task_id: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  progress: { pages: number; records_fetched: number; records_written: number; total_estimate: number | null };
  error: string | null;
}

export async function getTask(app: App, id: string): Promise<TaskView> {
  const res = await app.inject(`/tasks/${id}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as TaskView;
}

export async function startSync(app: App, source: string, query = ''): Promise<string> {
  const res = await app.inject({ method: 'POST', url: `/sync/${source}${query}` });
  expect(res.statusCode, res.body).toBe(202);
  return (res.json() as { task_id: string }).task_id;
}

/** POST /sync/{source} and wait for the task to end. */
export async function runSync(app: App, source: string, query = ''): Promise<TaskView> {
  const id = await startSync(app, source, query);
  return waitFor(async () => {
    const t = await getTask(app, id);
    return ['succeeded', 'failed', 'cancelled'].includes(t.status) ? t : undefined;
  }, `task ${id} to end`);
}

export async function dataTotal(app: App, source: string): Promise<number> {
  const res = await app.inject(`/data?source=${source}&limit=1`);
  expect(res.statusCode, res.body).toBe(200);
  return (res.json() as { total: number }).total;
}
