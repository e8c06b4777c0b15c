import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * `npm run demo` while another demo already holds the port: it says so in
 * one line, exits 2, and leaves the running demo's database alone (a fresh
 * start deletes data/demo.db, which the other demo is using).
 */

const DEMO = path.resolve(import.meta.dirname, '../../src/sandbox/demo.ts');
const TSX = import.meta.resolve('tsx');

describe('npm run demo on a taken port', () => {
  let cwd: string;
  let squatter: http.Server;
  let port: number;

  beforeAll(async () => {
    cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-demo-taken-'));
    squatter = http.createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    port = (squatter.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((r) => squatter.close(r));
    fs.rmSync(cwd, { recursive: true, force: true });
  });

  it('prints one line naming the port and a free choice, exits 2, and keeps data/demo.db', async () => {
    fs.mkdirSync(path.join(cwd, 'data'));
    const files = ['demo.db', 'demo.db-wal', 'demo.db-shm'].map((f) => path.join(cwd, 'data', f));
    for (const f of files) fs.writeFileSync(f, `the running demo's ${path.basename(f)}`);

    // The default log level, as a newcomer runs it: no start-up warnings may come before the one line.
    const child = spawn(process.execPath, ['--import', TSX, DEMO], {
      cwd,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await Promise.race([
      new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c))),
      new Promise<string>((r) => setTimeout(() => r('still running'), 45_000)),
    ]);
    if (code === 'still running') child.kill('SIGKILL');

    expect(code).toBe(2);
    expect(out).toBe('');
    const lines = err.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`port ${port} is taken`);
    expect(lines[0]).toContain(`PORT=${port + 1} npm run demo`);
    for (const f of files) expect(fs.readFileSync(f, 'utf8')).toBe(`the running demo's ${path.basename(f)}`);
  });
});
