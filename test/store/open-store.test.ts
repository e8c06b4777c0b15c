import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/open-store.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

/**
 * Processes starting at once on one fresh database all run the migrations
 * (openStore). All of them must come up. On SQLite, Kysely migrates without
 * a lock or a transaction, so two migrators ran 001 together and one died on
 * `table "records" already exists`; and two switching a fresh file to WAL at
 * once could deadlock, which SQLite reports at once as `database is locked`.
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function openInChild(dir: string, at: number, rounds: number, spacing: number): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/open-store-child.ts', dir, String(at), String(rounds), String(spacing)], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    child.once('close', () => resolve(out.trim()));
  });
}

describe('three processes starting together on one fresh SQLite file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-start-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('all open the store, in every round', async () => {
    // Many rounds from one spawn each: a collision is rare (switching to WAL
    // failed in about one round in fifty), and spawning costs seconds.
    const rounds = 40;
    const spacing = 250;
    // Far enough ahead for each child to have loaded tsx and the store.
    const at = Date.now() + 3_000;
    const outputs = await Promise.all([0, 1, 2].map(() => openInChild(dir, at, rounds, spacing)));
    const lines = outputs.map((o) => o.split('\n'));
    for (let round = 0; round < rounds; round++) {
      expect(
        lines.map((l) => l[round]),
        `round ${round}`,
      ).toEqual(['ok', 'ok', 'ok']);
    }
  }, 60_000);
});

for (const engine of ENGINES.filter((e) => e.name === 'postgres')) {
  describe(`concurrent first start on ${engine.name}`, () => {
    const dbs: ScratchDatabase[] = [];
    const stores: Store[] = [];
    afterAll(async () => {
      for (const s of stores) await s.close();
      for (const d of dbs) await d.drop();
    });

    it('three openStore() calls on one fresh database all succeed', async () => {
      for (let round = 0; round < 3; round++) {
        const db = await engine.create();
        dbs.push(db);
        const results = await Promise.allSettled([openStore(db.config), openStore(db.config), openStore(db.config)]);
        for (const r of results) if (r.status === 'fulfilled') stores.push(r.value);
        const errors = results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason));
        expect(errors, `round ${round}`).toEqual([]);
      }
    }, 120_000);
  });
}

describe('a PostgreSQL server that never answers', () => {
  /** A host that accepts TCP and never says a word: a dead database behind a proxy or a load balancer. */
  let blackHole: net.Server;
  const sockets = new Set<net.Socket>();
  beforeAll(async () => {
    blackHole = net.createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => blackHole.close(() => r()));
  });

  it('opening a PostgreSQL store on a server that never answers fails after the connect timeout instead of hanging', async () => {
    const { port } = blackHole.address() as AddressInfo;
    const started = Date.now();
    const opening = openStore({ kind: 'postgres', url: `postgres://postgres@127.0.0.1:${port}/tributary` }, { connectTimeoutMs: 300 }).then(
      () => 'opened',
      (err: unknown) => (err instanceof Error ? err.message : String(err)),
    );
    const outcome = await Promise.race([opening, new Promise((r) => setTimeout(r, 5_000, 'still waiting after 5 s'))]);
    expect(outcome).toMatch(/timeout/i);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
