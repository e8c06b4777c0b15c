/**
 * `npm run demo` shows HubSpot's custom properties: the real demo process
 * prints a curl line for one contact, and after POST /sync/crm that contact
 * carries the fake portal's custom properties (and its record link) in its
 * attributes. On every engine: the demo takes DATABASE_URL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { customPropertyName } from '../../../src/providers/hubspot/fake/properties.js';
import { HUBSPOT_DEMO_CONTACT, SANDBOX_CUSTOM_PROPERTIES } from '../../../src/providers/hubspot/sandbox.js';
import { ENGINES, type ScratchDatabase } from '../../helpers/databases.js';
import { freePort } from '../../helpers/server-process.js';

const DEMO = path.resolve(import.meta.dirname, '../../../src/sandbox/demo.ts');
// Absolute, since the demo runs in a scratch folder where 'tsx' does not resolve.
const TSX = import.meta.resolve('tsx');

interface Demo {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

function runDemo(cwd: string, port: number, databaseUrl: string): Demo {
  const child = spawn(process.execPath, ['--import', TSX, DEMO], {
    cwd,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      LOG_LEVEL: 'warn',
      DEMO_CONTACTS: '20',
      DEMO_CAMPAIGNS: '5',
      DATABASE_URL: databaseUrl,
      PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function until<T>(what: string, demo: Demo, check: () => Promise<T | undefined>, limitMs = 60_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    if (demo.child.exitCode !== null) throw new Error(`demo exited (${demo.child.exitCode}):\n${demo.stdout()}\n${demo.stderr()}`);
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`no ${what}:\n${demo.stdout()}\n${demo.stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

for (const engine of ENGINES) {
  describe(`npm run demo shows HubSpot custom properties on ${engine.name}`, () => {
    let cwd: string;
    let db: ScratchDatabase;
    let demo: Demo | undefined;

    beforeAll(async () => {
      cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-demo-hs-'));
      db = await engine.create();
    });
    afterEach(async () => {
      if (demo && demo.child.exitCode === null) demo.child.kill('SIGTERM');
      await demo?.exited;
      demo = undefined;
    });
    afterAll(async () => {
      await db.drop();
      fs.rmSync(cwd, { recursive: true, force: true });
    });

    it('prints a curl line for one contact; after the crm sync it carries the custom properties and its record link', async () => {
      const port = await freePort();
      const d = runDemo(cwd, port, db.url);
      demo = d;
      await until('Try: lines', d, async () => (d.stdout().includes('Try:') ? true : undefined));
      expect(d.stdout()).toContain(`curl -s localhost:${port}/customers/${HUBSPOT_DEMO_CONTACT}`);
      expect(d.stdout()).toContain(`${SANDBOX_CUSTOM_PROPERTIES} custom properties`);

      const base = `http://127.0.0.1:${port}`;
      const started = await fetch(`${base}/sync/crm`, { method: 'POST' });
      expect(started.status).toBe(202);
      const { task_id } = (await started.json()) as { task_id: string };
      const task = await until('finished crm task', d, async () => {
        const t = (await (await fetch(`${base}/tasks/${task_id}`)).json()) as { status: string; error: string | null };
        return t.status === 'queued' || t.status === 'running' ? undefined : t;
      });
      expect(task).toMatchObject({ status: 'succeeded', error: null });

      const res = await fetch(`${base}/customers/${HUBSPOT_DEMO_CONTACT}`);
      expect(res.status).toBe(200);
      const { attributes } = (await res.json()) as { attributes: Record<string, unknown> };
      const custom = Object.keys(attributes).filter((k) => k.startsWith('custom_imported_field_'));
      // Every custom property is there (asked for with HUBSPOT_PROPERTIES=all), about a third with a value.
      expect(custom).toHaveLength(SANDBOX_CUSTOM_PROPERTIES);
      expect(custom).toContain(customPropertyName(SANDBOX_CUSTOM_PROPERTIES - 1));
      const set = custom.filter((k) => typeof attributes[k] === 'string');
      expect(set.length).toBeGreaterThan(SANDBOX_CUSTOM_PROPERTIES / 6);
      expect(set.length).toBeLessThan(SANDBOX_CUSTOM_PROPERTIES / 2);
      for (const k of set) expect(attributes[k]).toMatch(new RegExp(`^value \\d+ of ${HUBSPOT_DEMO_CONTACT}$`));
      expect(attributes.recordUrl).toMatch(new RegExp(`^https://app\\.hubspot\\.com/contacts/\\d+/record/0-1/${HUBSPOT_DEMO_CONTACT}$`));
    }, 180_000);
  });
}
