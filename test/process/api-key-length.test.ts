import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-key-length-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs src/server.ts with `env` and waits for it to exit (it must: the key is refused). */
function refusedStart(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        LOG_LEVEL: 'silent',
        PORT: '0',
        DATABASE_URL: `sqlite:${path.join(dir, 'x.db')}`,
        ...env,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('server did not exit'));
    }, 30_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe('API_KEY shorter than 16 characters stops the start with one line', () => {
  for (const [what, value, secret] of [
    ['a one-letter key', 'a', null],
    ['a 15-character key', 'fifteen-chars-x', 'fifteen-chars-x'],
    ['one short key in a list of good ones', 'first-key-0123456789, shortkey9, third-key-0123456789', 'shortkey9'],
  ] as const) {
    it(
      what,
      async () => {
        const res = await refusedStart({ API_KEY: value });
        const lines = res.stderr.split('\n').filter((l) => l.trim() !== '');
        expect(lines, res.stderr).toHaveLength(1);
        expect(lines[0]).toContain('API_KEY');
        expect(lines[0]).toContain('16 characters');
        // The key is a secret: the refusal never quotes it.
        if (secret !== null) expect(lines[0]).not.toContain(secret);
        expect(res.code, res.stderr).toBe(2);
      },
      40_000,
    );
  }

  it('16 characters and more are taken', () => {
    expect(loadConfig({ API_KEY: 'sixteen-chars-xx' }).apiKeys).toEqual(['sixteen-chars-xx']);
    expect(() => loadConfig({ API_KEY: 'fifteen-chars-x' })).toThrow(/API_KEY/);
  });
});
