/**
 * The operator console in a real browser: Debian's Chromium driven by
 * playwright-core (Playwright's own browser download is not reachable from
 * these machines), against the real app listening on loopback, with the
 * fake HubSpot behind the crm source. Each page is scanned with axe, and
 * photographed into docs/images/ for the docs.
 *
 * Without /usr/bin/chromium the file is skipped, except in CI (CI=true),
 * where .ci/run installs it and a missing browser is a failure.
 */
import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeHubspot, type FakeHubspot } from '../../src/providers/hubspot/fake/server.js';
import { insertInboxRow } from '../../src/store/webhook-inbox.js';
import { inWriteTransaction } from '../../src/store/write-transaction.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { axeProblems, buildConsole, CHROMIUM } from './browser.js';
import { waitFor } from '../helpers/wait.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { FAST_TASKS } from '../helpers/sync.js';

const HAVE_CHROMIUM = existsSync(CHROMIUM);
const IMAGES = fileURLToPath(new URL('../../docs/images/', import.meta.url));
const KEY = 'console-key-0123456789';
const CONTACTS = 20_000;

describe('the browser for the console tests', () => {
  it.runIf(process.env.CI)('is installed in CI (.ci/run installs the chromium package)', () => {
    expect(HAVE_CHROMIUM, `${CHROMIUM} is missing`).toBe(true);
  });
});

/** Polls a locator's attribute until `ok` holds; gives the value. */
async function attributeUntil(locator: Locator, name: string, ok: (v: string | null) => boolean, limitMs: number): Promise<string | null> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const v = await locator.getAttribute(name, { timeout: limitMs });
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${name} stayed ${v}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

for (const engine of ENGINES) {
  describe.skipIf(!HAVE_CHROMIUM)(`the console in Chromium on ${engine.name}`, () => {
    // Photographs once: the pages look the same on both engines.
    const photograph = engine === ENGINES[0];
    let db: ScratchDatabase;
    let hs: FakeHubspot;
    let t: TestApp;
    let base: string;
    let browser: Browser;
    let context: BrowserContext;
    let page: Page;
    const requested: string[] = [];

    const shot = async (name: string) => {
      if (photograph) await page.screenshot({ path: `${IMAGES}${name}.png`, fullPage: false });
    };
    const go = async (title: string) => {
      await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: title }).click();
      await page.getByRole('heading', { level: 1, name: title }).waitFor();
    };

    beforeAll(async () => {
      buildConsole();
      mkdirSync(IMAGES, { recursive: true });
      db = await engine.create();
      hs = await startFakeHubspot({ contacts: CONTACTS });
      t = await startApp(db, {
        API_KEY: KEY,
        HUBSPOT_BASE_URL: hs.url,
        HUBSPOT_ACCESS_TOKEN: hs.token,
        // 20,000 contacts in pages of 100 at 10 pages a second: a sync of about 20 s, long enough to watch and cancel.
        HUBSPOT_RATE_LIMIT: '10/1s',
        ...FAST_TASKS,
      });
      await t.app.listen({ host: '127.0.0.1', port: 0 });
      base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
      });
      context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
      page = await context.newPage();
      page.on('request', (r) => requested.push(r.url()));
      // The page's own errors, in the test's output.
      page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
    }, 120_000);
    afterAll(async () => {
      await browser?.close();
      await t?.close();
      await hs?.close();
      await db?.drop();
    });

    it('/ leads to the console, which asks for the API key and keeps it in sessionStorage only', async () => {
      const res = await page.goto(`${base}/`);
      expect(page.url()).toBe(`${base}/ui/`);
      expect(res?.headers()['content-security-policy']).toContain("default-src 'self'");
      const keyField = page.getByLabel('API key');
      await keyField.waitFor();
      expect(await keyField.getAttribute('type')).toBe('password');
      expect(await axeProblems(page)).toEqual([]);
      await shot('console-sign-in');

      await keyField.fill('not-the-key-0123456789');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').filter({ hasText: 'refused' }).waitFor();

      await keyField.fill(KEY);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
      expect(await page.evaluate<string | null>("sessionStorage.getItem('tributary.apiKey')")).toBe(KEY);
      expect(await page.evaluate<number>('localStorage.length')).toBe(0);
      expect(requested.filter((u) => u.includes(KEY))).toEqual([]);

      // Signing out forgets the key and ends the live stream opened with it; signing in opens a new one.
      await waitFor(async () => (t!.app.feed.size === 1 ? true : undefined), 'the live stream to open', 15_000);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await keyField.waitFor();
      expect(await page.evaluate<string | null>("sessionStorage.getItem('tributary.apiKey')")).toBeNull();
      await waitFor(async () => (t!.app.feed.size === 0 ? true : undefined), 'the stream of the old key to end', 15_000);
      await keyField.fill(KEY);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
      await waitFor(async () => (t!.app.feed.size === 1 ? true : undefined), 'a new stream', 30_000);
    });

    it('Syncs: start a crm sync of 20,000 contacts, watch the bar move, cancel it, then run it to success', async () => {
      await go('Syncs');
      const start = page.getByRole('button', { name: 'Start crm sync' });
      await start.click();
      const bar = page.getByRole('progressbar', { name: 'crm sync progress' });
      const first = Number(await attributeUntil(bar, 'aria-valuenow', (v) => v !== null && Number(v) > 0, 30_000));
      const later = Number(await attributeUntil(bar, 'aria-valuenow', (v) => v !== null && Number(v) > first, 30_000));
      expect(later).toBeGreaterThan(first);
      expect(later).toBeLessThan(100);
      expect(await page.getByText(/of 20,000/).count()).toBeGreaterThan(0);
      expect(await axeProblems(page)).toEqual([]);
      await shot('console-syncs');

      const clicked = Date.now();
      await page.getByRole('button', { name: 'Cancel crm sync' }).click();
      const cancelled = page.locator('tr[data-task]').filter({ hasText: 'cancelled' }).first();
      await cancelled.waitFor({ timeout: 10_000 });
      // The promise: a cancel shows `cancelled` within 2 seconds.
      expect(Date.now() - clicked).toBeLessThanOrEqual(2_000);
      const stopped = await t.app.inject({ url: '/tasks?status=cancelled', headers: { authorization: `Bearer ${KEY}` } });
      const stoppedTask = (stopped.json() as { items: Array<{ progress: { records_written: number } }> }).items[0];
      expect(stoppedTask?.progress.records_written).toBeGreaterThan(0);
      expect(stoppedTask?.progress.records_written).toBeLessThan(CONTACTS);

      await start.click();
      // The run resumes from the cancelled one's checkpoint: the sync as a whole (both runs) is shown beside the run's own counters.
      await page.getByText(/The sync as a whole, across 2 runs/).waitFor({ timeout: 30_000 });
      await page.locator('tr[data-task]').filter({ hasText: 'succeeded' }).first().waitFor({ timeout: 120_000 });
      const row = page.locator('tr[data-task]').filter({ hasText: 'succeeded' }).first();
      expect(await row.textContent()).toMatch(/crm/);
      const count = (await t.app.inject({ url: '/customers?limit=1', headers: { authorization: `Bearer ${KEY}` } })).json() as { total: number };
      expect(count.total).toBe(CONTACTS);
      expect(await axeProblems(page)).toEqual([]);
    }, 240_000);

    it('Webhooks: a dead letter shows its raw delivery and is replayed from the page', async () => {
      const body = JSON.stringify({ customer: { external_id: 'console_dead_1', name: 'Dee Letter', email: 'dee.letter@example.com' } });
      // Kept as a dead letter the way the inbox keeps one (its counters too), as if the store had refused the write.
      const id = await inWriteTransaction(t.store, (tx) =>
        insertInboxRow(tx, {
          receivedAt: Date.now(),
          route: '/webhook',
          idempotencyKey: 'console-dead-1',
          headers: { 'content-type': 'application/json', 'webhook-id': 'console-dead-1' },
          body,
          status: 'failed',
          error: 'the store refused the write (kept for this test)',
        }),
      );

      await go('Webhooks');
      await page.getByLabel('Status').selectOption('failed');
      const row = page.locator(`tr[data-delivery="${id}"]`);
      await row.waitFor();
      expect(await row.textContent()).toContain('console-dead-1');
      await row.getByRole('button', { name: `details of delivery ${id}` }).click();
      await page.getByText('"external_id": "console_dead_1"').waitFor();
      await page.getByText('webhook-id: console-dead-1').waitFor();
      expect(await axeProblems(page)).toEqual([]);
      await shot('console-webhooks');

      await row.getByRole('button', { name: 'Replay' }).click();
      await page
        .getByRole('status')
        .filter({ hasText: `Delivery ${id} replayed: processed.` })
        .waitFor();
      const after = (await t.app.inject({ url: `/webhooks/events/${id}`, headers: { authorization: `Bearer ${KEY}` } })).json() as { status: string };
      expect(after.status).toBe('processed');
      expect((await t.app.inject({ url: '/customers/console_dead_1', headers: { authorization: `Bearer ${KEY}` } })).statusCode).toBe(200);
    });

    it('Records: a record found by email, with every column and its attributes as JSON', async () => {
      const some = (await t.app.inject({ url: '/customers?source=crm&limit=1&offset=1234', headers: { authorization: `Bearer ${KEY}` } })).json() as {
        items: Array<{ external_id: string; email: string }>;
      };
      const target = some.items[0];
      expect(target?.email).toMatch(/@/);
      await go('Records');
      const search = page.getByRole('searchbox', { name: 'Search' });
      await search.fill((target?.email as string).toUpperCase());
      const asked = page.waitForRequest((r) => r.url().includes('/data?') && r.url().includes('email='));
      await search.press('Enter');
      await asked;
      const rows = page.locator('tr[data-record]');
      await page.locator(`tr[data-record="${target?.external_id}"]`).waitFor();
      await page.waitForFunction("document.querySelectorAll('tr[data-record]').length === 1", undefined, { timeout: 10_000 });
      expect(await rows.count()).toBe(1);
      await rows
        .first()
        .getByRole('button', { name: target?.external_id as string })
        .click();
      await page.getByText('attributes', { exact: true }).waitFor();
      const detail = await page.locator('tr.detail').textContent();
      for (const column of ['external_id', 'source', 'email', 'created_at', 'updated_at', 'deleted_at']) expect(detail).toContain(column);
      expect(detail).toContain(target?.email as string);
      expect(await axeProblems(page)).toEqual([]);
      await shot('console-records');
    });

    it('Overview: records by type and source, the two charts, tasks and dead letters', async () => {
      await go('Overview');
      await page.getByRole('heading', { name: 'Records by type and source' }).waitFor({ timeout: 10_000 });
      // uPlot draws its canvas in an effect after the figures arrive: wait for both, then count.
      await page.locator('figure.chart canvas').nth(1).waitFor({ timeout: 10_000 });
      expect(await page.locator('figure.chart canvas').count()).toBe(2);
      // The one dead letter was replayed: none waits.
      expect(await page.locator('.card').filter({ hasText: 'dead letters waiting' }).locator('.card-n').textContent()).toBe('0');
      expect(await page.locator('table').first().textContent()).toContain('crm');
      expect(await axeProblems(page)).toEqual([]);
      await shot('console-overview');
    });

    it('keyboard only: the skip link, the page links and the search reached with Tab', async () => {
      await page.goto(`${base}/ui/overview`);
      await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
      await page.keyboard.press('Tab');
      expect(await page.evaluate<string | undefined>('document.activeElement?.textContent')).toBe('Skip to content');
      let reached = false;
      for (let i = 0; i < 8 && !reached; i++) {
        await page.keyboard.press('Tab');
        reached = (await page.evaluate<string | undefined>('document.activeElement?.textContent')) === 'Records';
      }
      expect(reached).toBe(true);
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { level: 1, name: 'Records' }).waitFor();
      expect(page.url()).toBe(`${base}/ui/records`);
    });

    it('dark and phone width: readable, no sideways scrolling, no serious violation', async () => {
      await page.emulateMedia({ colorScheme: 'dark' });
      await page.setViewportSize({ width: 390, height: 844 });
      for (const title of ['Overview', 'Syncs', 'Webhooks', 'Records']) {
        await go(title);
        await page.waitForTimeout(300);
        const width = await page.evaluate<number>('document.documentElement.scrollWidth');
        if (width > 390)
          console.log(
            await page.evaluate(
              "[...document.querySelectorAll('*')].filter((e) => e.getBoundingClientRect().right > 390).slice(0, 8).map((e) => e.tagName + '.' + e.className)",
            ),
          );
        expect(width, title).toBeLessThanOrEqual(390);
        expect(await axeProblems(page), title).toEqual([]);
      }
      await go('Syncs');
      await shot('console-syncs-phone-dark');
    });
  });
}
