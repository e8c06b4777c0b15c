import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeHubspot, type FakeHubspot } from '../../src/providers/fakes.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { waitFor } from '../helpers/wait.js';

interface TaskJson {
  created_at?: string;
  task_id: string;
  status: string;
  attempts: number;
  progress: { pages: number; records_fetched: number };
}

async function json<T>(res: Promise<Response>): Promise<{ status: number; body: T }> {
  const r = await res;
  return { status: r.status, body: (await r.json()) as T };
}

const CONTACTS = 1_500;

for (const engine of ENGINES) {
  describe(`sync across processes on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let hubspot: FakeHubspot;
    const servers: ServerProcess[] = [];

    const env = () => ({
      DATABASE_URL: db.url,
      HUBSPOT_BASE_URL: hubspot.url,
      HUBSPOT_ACCESS_TOKEN: hubspot.token,
      TASK_LEASE: '2s',
      TASK_HEARTBEAT: '200ms',
      TASK_POLL: '200ms',
    });
    const start = async () => {
      const s = await startServerProcess(env());
      servers.push(s);
      return s;
    };
    const task = (s: ServerProcess, id: string) => json<TaskJson>(fetch(`${s.base}/tasks/${id}`)).then((r) => r.body);

    beforeAll(async () => {
      db = await engine.create();
      hubspot = await startFakeHubspot({ contacts: CONTACTS });
    });
    afterAll(async () => {
      await Promise.all(servers.map((s) => s.stop('SIGKILL')));
      await hubspot?.close();
      await db?.drop();
    });

    it('a sync whose process is killed with SIGKILL is not left running: a restart recovers and finishes it', async () => {
      hubspot.faults.setLatency(150);
      const a = await start();
      const started = await json<{ task_id: string }>(fetch(`${a.base}/sync/crm`, { method: 'POST' }));
      expect(started.status).toBe(202);
      const id = started.body.task_id;
      await waitFor(async () => ((await task(a, id)).progress.pages >= 2 ? true : undefined), 'two committed pages');
      await a.stop('SIGKILL');

      hubspot.faults.setLatency(0);
      const b = await start();
      const done = await waitFor(async () => {
        const t = await task(b, id);
        return t.status === 'succeeded' || t.status === 'failed' ? t : undefined;
      }, 'the killed task to be recovered and finished');
      expect(done.status).toBe('succeeded');
      expect(done.attempts).toBe(2);
      const running = await json<{ items: TaskJson[] }>(fetch(`${b.base}/tasks?status=running`));
      expect(running.body.items).toHaveLength(0);
      const total = await json<{ total: number }>(fetch(`${b.base}/data?source=crm&limit=1`));
      expect(total.body.total).toBe(CONTACTS);
      await b.stop();
    });

    it.skipIf(engine.name !== 'postgres')('two service processes on one database, the same source triggered on both: exactly one run', async () => {
      const [a, b] = await Promise.all([start(), start()]);
      hubspot.faults.setLatency(50);
      hubspot.state.requests.clear();
      const triggeredAt = Date.now() - 1000;
      const [ra, rb] = await Promise.all([
        json<{ task_id: string }>(fetch(`${a!.base}/sync/crm?full=true`, { method: 'POST' })),
        json<{ task_id: string }>(fetch(`${b!.base}/sync/crm?full=true`, { method: 'POST' })),
      ]);
      expect([ra.status, rb.status].sort()).toEqual([202, 409]);
      expect(ra.body.task_id).toBe(rb.body.task_id);
      const id = ra.body.task_id;
      const done = await waitFor(async () => {
        const t = await task(a!, id);
        return t.status === 'succeeded' || t.status === 'failed' ? t : undefined;
      }, 'the one run to finish');
      expect(done.status).toBe('succeeded');
      hubspot.faults.setLatency(0);
      // Every list page was fetched once: no second runner walked the same source.
      const listCalls = hubspot.state.requests.matching('/crm/v3/objects/contacts', 'GET').filter((e) => e.query.archived !== 'true');
      expect(listCalls).toHaveLength(Math.ceil(CONTACTS / 100));
      const all = await json<{ items: Array<TaskJson & { created_at: string }> }>(fetch(`${a!.base}/tasks?status=all`));
      expect(all.body.items.filter((t) => Date.parse(t.created_at) >= triggeredAt)).toHaveLength(1);
      expect(done.attempts).toBe(1);
      await Promise.all([a!.stop(), b!.stop()]);
    });
  });
}
