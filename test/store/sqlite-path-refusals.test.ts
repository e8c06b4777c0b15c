import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config.js';
import { openStore } from '../../src/store/open-store.js';

/**
 * A SQLite path that cannot be used is the DATABASE_URL's fault: the start
 * must say so in its one line (a ConfigError naming the variable, exit 2),
 * not "tributary failed to start: EEXIST: file already exists, mkdir …".
 */
describe('a SQLite DATABASE_URL that cannot be used', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-sqlite-path-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function refusal(file: string): Promise<unknown> {
    try {
      const store = await openStore({ kind: 'sqlite', path: file }, { checkpointThread: false });
      await store.close();
    } catch (err) {
      return err;
    }
    throw new Error(`${file} was opened`);
  }

  it('under a regular file (its folder cannot be made) names DATABASE_URL', async () => {
    const plain = path.join(dir, 'plain.txt');
    fs.writeFileSync(plain, 'not a folder');
    const err = await refusal(path.join(plain, 'warehouse.db'));
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toMatch(/^invalid configuration: DATABASE_URL names a SQLite file whose folder cannot be made \(.*plain\.txt/);
  });

  it('naming a file that is not a SQLite database names DATABASE_URL, and leaves the file as it was', async () => {
    const notes = path.join(dir, 'notes.txt');
    const text = 'these are notes, not a database\n'.repeat(200);
    fs.writeFileSync(notes, text);
    const err = await refusal(notes);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toBe(`invalid configuration: DATABASE_URL names a file that is not a SQLite database (${notes})`);
    expect(fs.readFileSync(notes, 'utf8')).toBe(text);
  });
});
