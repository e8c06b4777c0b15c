/**
 * README, Configuration: "a bad value stops the start with one line naming
 * the variable (exit code 2)". A SQLite DATABASE_URL that cannot be opened
 * did, but a PostgreSQL URL naming a database that does not exist ended with
 * "tributary failed to start: database migration failed: …", exit code 1,
 * and no mention of DATABASE_URL.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const admin = process.env.TEST_DATABASE_URL;

describe.skipIf(!admin)('DATABASE_URL naming a PostgreSQL database that does not exist', () => {
  it('stops the start with one line naming DATABASE_URL, exit code 2', async () => {
    const url = new URL(admin!);
    url.pathname = '/tributary_no_such_database';
    const res = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'silent', PORT: '0', DATABASE_URL: url.toString() },
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
    const lines = res.stderr.split('\n').filter((l) => l.trim() !== '');
    expect(lines, res.stderr).toHaveLength(1);
    expect(lines[0]).toContain('DATABASE_URL');
    expect(res.code, res.stderr).toBe(2);
  }, 40_000);
});
