import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/server-process.js';

/** `npm run demo` as a newcomer runs it: the real demo process, its fakes and its server. */

const DEMO = path.resolve(import.meta.dirname, '../../src/sandbox/demo.ts');
// Absolute, since the demo runs in a scratch folder where 'tsx' does not resolve.
const TSX = import.meta.resolve('tsx');

interface Demo {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

function runDemo(cwd: string, port: number, env: Record<string, string> = {}): Demo {
  const child = spawn(process.execPath, ['--import', TSX, DEMO], {
    cwd,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      LOG_LEVEL: 'warn',
      DEMO_CONTACTS: '20',
      DEMO_CAMPAIGNS: '5',
      ...env,
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

/** Waits for the "Try:" lines; the demo must still be running. */
async function untilTry(demo: Demo, limitMs = 45_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!demo.stdout().includes('Try:')) {
    if (demo.child.exitCode !== null) throw new Error(`demo exited (${demo.child.exitCode}):\n${demo.stdout()}\n${demo.stderr()}`);
    if (Date.now() > deadline) throw new Error(`no Try: lines:\n${demo.stdout()}\n${demo.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stop(demo: Demo): Promise<void> {
  if (demo.child.exitCode === null) demo.child.kill('SIGTERM');
  await demo.exited;
}

describe('npm run demo', () => {
  let cwd: string;
  const running: Demo[] = [];

  beforeAll(() => {
    cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-demo-'));
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map(stop));
  });
  afterAll(() => fs.rmSync(cwd, { recursive: true, force: true }));

  it('prints the Try: lines once its server listens, starts fresh by default, and keeps the data only with DEMO_KEEP_DATA=1', async () => {
    const total = async (port: number) => ((await (await fetch(`http://127.0.0.1:${port}/data?limit=1`)).json()) as { total: number }).total;

    let port = await freePort();
    let demo = runDemo(cwd, port);
    running.push(demo);
    await untilTry(demo);
    // The port is the server's when the lines appear: answered at once, with no retry.
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect(demo.stdout()).toContain(`curl -s -X POST localhost:${port}/sync/`);
    expect(demo.stdout()).toContain(`localhost:${port}/tasks/<task_id>/cancel`);
    expect(demo.stdout()).toContain(`the console is at http://localhost:${port}/ui/`);
    expect((await fetch(`http://127.0.0.1:${port}/ui/`)).status).toBe(200);
    expect(demo.stdout()).toContain('a fresh database; DEMO_KEEP_DATA=1 keeps the last one');
    const sent = await fetch(`http://127.0.0.1:${port}/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ customer: { external_id: 'demo-left-over' } }),
    });
    expect(sent.status).toBe(200);
    expect(await total(port)).toBe(1);
    await stop(running.pop() as Demo);

    port = await freePort();
    demo = runDemo(cwd, port, { DEMO_KEEP_DATA: '1' });
    running.push(demo);
    await untilTry(demo);
    expect(demo.stdout()).toContain('kept from the last demo');
    expect(await total(port)).toBe(1);
    await stop(running.pop() as Demo);

    port = await freePort();
    demo = runDemo(cwd, port);
    running.push(demo);
    await untilTry(demo);
    expect(demo.stdout()).toContain('a fresh database');
    expect(await total(port)).toBe(0);
  }, 180_000);

  it('on a taken port: one line saying how to choose another, exit 2, and no Try: lines', async () => {
    // Something that answers every request, /healthz included, already holds the port.
    const squatter = http.createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const port = (squatter.address() as { port: number }).port;
    try {
      const demo = runDemo(cwd, port);
      running.push(demo);
      const code = await Promise.race([demo.exited, new Promise<string>((r) => setTimeout(() => r('still running'), 45_000))]);
      expect(code).toBe(2);
      expect(demo.stdout()).not.toContain('Try:');
      const lines = demo.stderr().trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`${port} is taken`);
      expect(lines[0]).toMatch(/PORT=\d+/);
    } finally {
      await new Promise((r) => squatter.close(r));
    }
  });
});
