import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/server-process.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Starts the real server with better-sqlite3's addon failing to load; its exit code and output. */
async function startWithForeignAddon(mode: 'version' | 'garbage'): Promise<{ code: number | null; out: string; err: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-addon-'));
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', './test/helpers/foreign-addon.ts', 'src/server.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      FOREIGN_ADDON: mode,
      DATABASE_URL: `sqlite:${path.join(dir, 'warehouse.db')}`,
      PORT: String(await freePort()),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  fs.rmSync(dir, { recursive: true, force: true });
  return { code, out: out + err, err };
}

describe('better-sqlite3 built for another Node.js', () => {
  it('stops the start with one line naming the ABI mismatch and npm rebuild, not the file', async () => {
    const { code, out, err } = await startWithForeignAddon('version');
    expect(code).toBe(1);
    expect(err.trim().split('\n')).toHaveLength(1);
    const line = err.trim();
    expect(line).toContain('built for another Node.js version');
    expect(line).toContain(`NODE_MODULE_VERSION 108; Node.js ${process.version} needs ${process.versions.modules}`);
    expect(line).toContain('npm rebuild better-sqlite3');
    expect(out).not.toContain('cannot be opened');
    expect(out).not.toMatch(/\n\s+at /);
  });

  it('says the same fix when the addon is no loadable library at all', async () => {
    const { code, out } = await startWithForeignAddon('garbage');
    expect(code).toBe(1);
    expect(out).toContain("better-sqlite3's native module cannot be loaded");
    expect(out).toContain('npm rebuild better-sqlite3');
    expect(out).not.toContain('cannot be opened');
  });
});
