import SqliteDatabase from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { CachedStatementDatabase } from '../../src/store/statement-cache.js';

describe('the SQLite statement cache', () => {
  it('hands back the statement prepared before for the same text, and drops the least recently used past its size', () => {
    const sqlite = new SqliteDatabase(':memory:');
    const db = new CachedStatementDatabase(sqlite, 2);
    try {
      const one = db.prepare('select 1');
      const two = db.prepare('select 2');
      expect(db.prepare('select 1')).toBe(one);
      // 'select 2' is now the least recently used: a third text pushes it out, 'select 1' stays.
      db.prepare('select 3');
      expect(db.prepare('select 1')).toBe(one);
      expect(db.prepare('select 2')).not.toBe(two);
      expect(db.prepare('select 2').get()).toEqual({ 2: 2 });
    } finally {
      db.close();
    }
    expect(sqlite.open).toBe(false);
  });
});
