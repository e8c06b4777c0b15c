/**
 * The console's addresses and the order of its Finished table, in a real
 * Chromium (as test/ui/console.test.ts): a /ui/ path that names no page says
 * so instead of showing the Overview, and finished syncs are listed by when
 * they ended, newest first, not by when they were asked for.
 *
 * The tasks are written through the store's own statements with chosen
 * times, and no task runner claims them: the order is known, not raced.
 */
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimNextTask, finishTask, insertTask } from '../../src/store/task-statements.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { axeProblems, buildConsole, CHROMIUM } from './browser.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

// The store's engine does not matter to the page: SQLite only.
const engine = ENGINES[0]!;

describe.skipIf(!existsSync(CHROMIUM))('the console in Chromium: addresses and the Finished order', () => {
  let db: ScratchDatabase;
  let t: TestApp;
  let base: string;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  // What the browser's console shows as errors: a missing icon was a 404 there on every load.
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    buildConsole();
    db = await engine.create();
    t = await startApp(db, {}, { runTasks: false });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
    page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await db?.drop();
  });

  it('an unknown /ui/ path shows "Page not found" with a way back, not the Overview', async () => {
    await page.goto(`${base}/ui/no-such-page`);
    await page.getByRole('heading', { level: 1, name: 'Page not found' }).waitFor();
    expect(await page.title()).toBe('Page not found · Tributary console');
    expect(await page.getByText('/ui/no-such-page').count()).toBe(1);
    // No page of the menu claims to be the current one.
    expect(await page.locator('nav a[aria-current="page"]').count()).toBe(0);
    expect(await page.getByRole('heading', { name: 'Records by type and source' }).count()).toBe(0);
    expect(await axeProblems(page)).toEqual([]);

    await page.getByRole('link', { name: 'Go to the Overview' }).click();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/ui/overview');
    // Back returns to the unknown address, and to its view.
    await page.goBack();
    await page.getByRole('heading', { level: 1, name: 'Page not found' }).waitFor();

    // A page's own address and the console's root still show their page.
    for (const [path, title] of [
      ['/ui/', 'Overview'],
      ['/ui/syncs', 'Syncs'],
      ['/ui/records', 'Records'],
    ] as const) {
      await page.goto(`${base}${path}`);
      await page.getByRole('heading', { level: 1, name: title }).waitFor();
    }
    // A deeper path under a page names no page either.
    await page.goto(`${base}/ui/syncs/extra`);
    await page.getByRole('heading', { level: 1, name: 'Page not found' }).waitFor();
    expect(pageErrors).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });

  it('names its own icon, served from /ui/, so the browser does not ask for /favicon.ico', async () => {
    const html = await (await fetch(`${base}/ui/`)).text();
    const href = /<link rel="icon"[^>]* href="([^"]+)"/.exec(html)?.[1];
    expect(href).toBe('/ui/favicon.svg');
    const icon = await fetch(`${base}${href}`);
    expect(icon.status).toBe(200);
    expect(icon.headers.get('content-type')).toContain('image/svg+xml');
  });

  it('lists finished syncs by when they ended, newest first', async () => {
    const t0 = Date.now() - 60 * 60_000;
    const minute = 60_000;
    // Asked for in the order long, short, middle; ended in the order short, middle, long.
    const plan = [
      { id: '00000000-0000-4000-8000-00000000000a', source: 'crm', created: t0, ended: t0 + 30 * minute },
      { id: '00000000-0000-4000-8000-00000000000b', source: 'marketing', created: t0 + minute, ended: t0 + 2 * minute },
      { id: '00000000-0000-4000-8000-00000000000c', source: 'other', created: t0 + 3 * minute, ended: t0 + 10 * minute },
    ];
    for (const p of plan) {
      expect(await insertTask(t.store, { id: p.id, source: p.source, full: false, trigger: 'api', now: p.created })).toBeDefined();
    }
    // Claimed oldest first (the queue's own order), each by an owner named after it.
    for (const p of plan) expect((await claimNextTask(t.store, `owner-${p.id}`, 60_000, p.created))?.id).toBe(p.id);
    for (const p of [...plan].sort((a, b) => a.ended - b.ended)) {
      expect(await finishTask(t.store, p.id, `owner-${p.id}`, 'succeeded', null, p.ended)).toBe(true);
    }

    await page.goto(`${base}/ui/syncs`);
    const rows = page.getByRole('region', { name: 'Finished syncs' }).locator('tr[data-task]');
    await rows.nth(plan.length - 1).waitFor();
    const order = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-task')));
    expect(order).toEqual([plan[0]!.id, plan[2]!.id, plan[1]!.id]);
    expect(pageErrors).toEqual([]);
  });
});
