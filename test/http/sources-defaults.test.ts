import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

for (const engine of ENGINES) {
  describe(`GET /sources with the built-in providers on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;
    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db, {});
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    it('names every type each source writes, and the variable an unconfigured one needs', async () => {
      const res = await t.app.inject('/sources');
      expect(res.statusCode, res.body).toBe(200);
      const items = res.json<{ items: Array<{ name: string; provider: string; configured: boolean; missing: string | null; record_types: string[] }> }>().items;
      const byName = new Map(items.map((i) => [i.name, i]));
      expect(byName.get('crm')).toMatchObject({ provider: 'hubspot', configured: false, missing: 'HUBSPOT_ACCESS_TOKEN', record_types: ['customer'] });
      expect(byName.get('marketing')).toMatchObject({ provider: 'mailchimp', configured: false, missing: 'MAILCHIMP_API_KEY' });
      expect([...byName.get('marketing')!.record_types].sort()).toEqual(['campaign', 'customer']);
    });
  });
}
