import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-review-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Runs src/server.ts with `env` and waits for it to exit (it must: the configuration is bad). */
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

describe('a bad value stops the start with one line naming the variable, exit code 2 (README, Configuration)', () => {
  for (const [variable, env] of [
    ['SYNC_INTERVAL_NOSUCH', { SYNC_INTERVAL_NOSUCH: '15m' }],
    ['BODY_LIMIT', { BODY_LIMIT: '9'.repeat(400) }],
    ['HOST', { HOST: 'no such host' }],
    ['DATABASE_URL', { DATABASE_URL: 'sqlite:///' }],
    // A PostgreSQL database that does not exist was exit code 1 and a migration error, naming no variable.
    ...(process.env.TEST_DATABASE_URL
      ? [['DATABASE_URL', { DATABASE_URL: withDatabase(process.env.TEST_DATABASE_URL, 'tributary_no_such_database') }] as const]
      : []),
  ] as const) {
    it(`${variable}=${String(Object.values(env)[0]).slice(0, 60)}`, async () => {
      const res = await refusedStart(env);
      const lines = res.stderr.split('\n').filter((l) => l.trim() !== '');
      expect(lines, res.stderr).toHaveLength(1);
      expect(lines[0]).toContain(variable);
      expect(res.code, res.stderr).toBe(2);
    }, 40_000);
  }
});
