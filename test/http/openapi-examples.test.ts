import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED_CAMPAIGN, SEED_CUSTOMER, startApp, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

/** What Swagger UI shows: every success described, with a real example that fits its schema. */

interface Media {
  schema?: object;
  example?: unknown;
  examples?: Record<string, { summary?: string; description?: string; value: unknown }>;
}
interface Operation {
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, { description?: string; content?: Record<string, Media> }>;
}
type Doc = { paths: Record<string, Record<string, Operation>> };

const ajv = addFormats.default(new Ajv({ strict: false, allErrors: true }));

/** Every example a media type shows, by name. */
function examplesOf(media: Media): Array<[string, unknown]> {
  const named = Object.entries(media.examples ?? {}).map(([name, e]): [string, unknown] => [name, e.value]);
  return media.example === undefined ? named : [['example', media.example], ...named];
}

function operations(doc: Doc): Array<[string, Operation]> {
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]): [string, Operation] => [`${method.toUpperCase()} ${path}`, op]),
  );
}

describe('the OpenAPI examples', () => {
  let db: ScratchDatabase;
  let t: TestApp;
  let doc: Doc;

  beforeAll(async () => {
    db = await ENGINES[0]!.create();
    t = await startApp(db);
    doc = (await t.app.inject('/openapi.json')).json<Doc>();
  });
  afterAll(async () => {
    await t?.close();
    await db?.drop();
  });

  it('describes no response as "Default Response"', () => {
    const defaults = operations(doc).flatMap(([name, op]) =>
      Object.entries(op.responses)
        .filter(([, r]) => !r.description || r.description === 'Default Response')
        .map(([status]) => `${name} ${status}`),
    );
    expect(defaults).toEqual([]);
  });

  it('gives every success a description and an example that validates against its schema', () => {
    let checked = 0;
    for (const [name, op] of operations(doc)) {
      for (const [status, response] of Object.entries(op.responses)) {
        if (!status.startsWith('2')) continue;
        expect(response.description, `${name} ${status}`).toMatch(/\w/);
        const media = Object.entries(response.content ?? {});
        expect(media.length, `${name} ${status} has content`).toBeGreaterThan(0);
        for (const [type, m] of media) {
          const examples = examplesOf(m);
          expect(examples.length, `${name} ${status} ${type} has an example`).toBeGreaterThan(0);
          const validate = ajv.compile(m.schema ?? {});
          for (const [exampleName, value] of examples) {
            expect(validate(value), `${name} ${status} ${exampleName}: ${ajv.errorsText(validate.errors)}`).toBe(true);
            // A one-item example: a listing shows one real item, not an empty list.
            const items = (value as { items?: unknown[] } | null)?.items;
            if (Array.isArray(items)) expect(items, `${name} ${status}`).toHaveLength(1);
          }
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(20);
  });

  it('names the webhook request examples: seed customer, seed campaign, both', () => {
    for (const path of ['/webhook', '/receive_webhook']) {
      const media = doc.paths[path]?.post?.requestBody?.content['application/json'];
      expect(media, path).toBeDefined();
      const examples = media?.examples ?? {};
      expect(Object.keys(examples)).toEqual(['seed_customer', 'seed_campaign', 'both']);
      expect(Object.values(examples).map((e) => e.summary)).toEqual(['Seed customer', 'Seed campaign', 'Both, as arrays']);
      expect(examples.seed_customer?.value).toEqual({ customer: SEED_CUSTOMER });
      expect(examples.seed_campaign?.value).toEqual({ campaign: SEED_CAMPAIGN });
      expect(examples.both?.value).toEqual({ customer: [SEED_CUSTOMER], campaign: [SEED_CAMPAIGN] });
      const validate = ajv.compile(media?.schema ?? {});
      for (const [name, e] of Object.entries(examples)) expect(validate(e.value), `${path} ${name}`).toBe(true);
    }
  });

  it('shows a well-formed task id in the cancel example, and says it is an example', async () => {
    const media = doc.paths['/tasks/cancel']?.post?.requestBody?.content['application/json'];
    const examples = Object.values(media?.examples ?? {});
    expect(examples).toHaveLength(1);
    const example = examples[0];
    expect(example?.description).toMatch(/example/i);
    const taskId = (example?.value as { task_id: string }).task_id;
    expect(taskId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    // Sent as it stands, it is taken (no 422) and names no task, as its description says.
    const res = await t.app.inject({ method: 'POST', url: '/tasks/cancel', payload: example?.value as object });
    expect(res.statusCode).toBe(404);
  });
});
