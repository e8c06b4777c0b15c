/**
 * The worked example of docs/adding-a-provider.md: a small helpdesk whose
 * people become customers of the `helpdesk` source, by sync and by webhook.
 * The walkthrough quotes this file and walkthrough.test.ts runs it, so the
 * doc's code is code that works.
 */
import { Type, type Static } from 'typebox';
import { recordFromPayload, type RecordWrite } from '../../../src/domain/records.js';
import { prepareDelivery, DeliveryRejected, type DeliveryHandler } from '../../../src/ingest/delivery.js';
import { inboxHeaders } from '../../../src/http/request-headers.js';
import type { Provider, WebhookIntake } from '../../../src/providers/provider.js';
import { limitsOf } from '../../../src/providers/upstream-limits.js';
import type { SourceConnector, SyncContext, SyncPage } from '../../../src/sources/connector.js';
import { createSourceClient, type SourceClient } from '../../../src/sources/http-client.js';
import { rateLimit, readSection, section, text, url, variable, type Env } from '../../../src/config/variables.js';
import type { UpstreamLimits } from '../../../src/config/index.js';

// Step 1: the settings, one declarative section (the docs table is made from it).
export const helpdeskSection = section('Helpdesk: the `helpdesk` source and `POST /webhooks/helpdesk`', {
  token: variable('HELPDESK_TOKEN', text({ format: 'an API token' }), {
    unset: undefined,
    means: '`POST /sync/helpdesk` answers 422 naming it',
    description: 'the token the `helpdesk` source calls the API with',
  }),
  baseUrl: variable('HELPDESK_BASE_URL', url(), { default: 'https://api.helpdesk.example', description: "the helpdesk API's base URL" }),
  rateLimit: variable('HELPDESK_RATE_LIMIT', rateLimit(), { default: '10/1s', description: 'requests per window to the helpdesk' }),
});

export interface HelpdeskSettings extends UpstreamLimits {
  readonly token: string | undefined;
  readonly baseUrl: string;
}

export function readHelpdeskSettings(env: Env): HelpdeskSettings {
  const v = readSection(helpdeskSection, env);
  return Object.freeze({ token: v.token, baseUrl: v.baseUrl, rateLimit: v.rateLimit, concurrency: 2 });
}

// Step 2: the mapping, pure: one upstream person to one record write.
export interface Person {
  id: number;
  name: string;
  email: string;
  updated_at: string;
  [other: string]: unknown;
}

export const HELPDESK_SOURCE = 'helpdesk';

export function personToWrite(p: Person): RecordWrite {
  return recordFromPayload('customer', { ...p, external_id: String(p.id) }, HELPDESK_SOURCE);
}

// Step 3: the connector: pages in order, each with the checkpoint to resume after it.
// The runner checks a stored checkpoint against this schema: one it cannot read starts a first load.
export const helpdeskCheckpointSchema = Type.Object({ cursor: Type.Union([Type.String(), Type.Null()]) });
export type HelpdeskCheckpoint = Static<typeof helpdeskCheckpointSchema>;

interface PeoplePage {
  people: Person[];
  next_cursor: string | null;
}

export class HelpdeskSource implements SourceConnector<HelpdeskCheckpoint> {
  readonly name = HELPDESK_SOURCE;
  readonly recordType = 'customer' as const;
  readonly checkpointSchema = helpdeskCheckpointSchema;
  private client: SourceClient | null = null;

  constructor(private readonly settings: HelpdeskSettings) {}

  missingConfiguration(): string | null {
    return this.settings.token ? null : 'HELPDESK_TOKEN';
  }

  async *pages(ctx: SyncContext<HelpdeskCheckpoint>): AsyncIterable<SyncPage<HelpdeskCheckpoint>> {
    this.client ??= createSourceClient({
      name: this.name,
      baseUrl: this.settings.baseUrl,
      headers: { authorization: `Bearer ${this.settings.token ?? ''}` },
      secrets: [this.settings.token ?? ''],
      ...limitsOf(this.settings),
    });
    let cursor = ctx.checkpoint?.cursor ?? null;
    for (;;) {
      const res = await this.client.request<PeoplePage>({ path: '/v1/people', query: { cursor: cursor ?? undefined }, signal: ctx.signal });
      const next = res.body.next_cursor;
      // At the end the cursor of the last page is kept: the next run asks from there for what is new.
      yield { records: res.body.people.map(personToWrite), checkpoint: { cursor: next ?? cursor }, requests: 1 };
      if (next === null) return;
      cursor = next;
    }
  }

  async close(): Promise<void> {
    await this.client?.close();
  }
}

// Step 4: the webhook: one handler that runs on arrival and on replay.
export interface PersonEvent {
  id: string;
  type: string;
  person: Person;
}

export const helpdeskHandler: DeliveryHandler<PersonEvent> = {
  parse: (raw) => JSON.parse(raw) as unknown,
  prepare(parsed) {
    const e = parsed as Partial<PersonEvent>;
    if (e.type !== 'person.updated' || typeof e.person?.id !== 'number') throw new DeliveryRejected(`event type ${String(e.type)} is not handled`);
    return e as PersonEvent;
  },
  // Plain record writes: the pipeline batches them with other deliveries.
  apply: () => Promise.reject(new Error('plain deliveries are applied by the pipeline')),
  plain: {
    writes: (e) => [personToWrite(e.person)],
    answer: (e, records) => ({ status: 200, body: { status: 'processed', event: e.id, records } }),
  },
};

export const HELPDESK_INBOX_ROUTE = '/webhooks/helpdesk';

export const helpdeskWebhook: WebhookIntake = {
  inboxRoute: HELPDESK_INBOX_ROUTE,
  keyPrefix: 'helpdesk:',
  handler: helpdeskHandler as DeliveryHandler<unknown>,
  routes: async (app, { pipeline }) => {
    app.post('/webhooks/helpdesk', async (req) => {
      const event = req.body as PersonEvent;
      const [outcome] = await pipeline.submit({
        route: HELPDESK_INBOX_ROUTE,
        headers: inboxHeaders(req),
        receivedAt: Date.now(),
        events: [{ key: `helpdesk:${String(event.id)}`, body: JSON.stringify(event), prepared: prepareDelivery(helpdeskHandler, event) }],
        weight: 1,
        rowIds: true,
      });
      return outcome;
    });
  },
};

// Step 5: the descriptor, the only thing the rest of the service sees.
export function helpdeskProvider(settings: HelpdeskSettings): Provider {
  return {
    name: 'helpdesk',
    title: `${HELPDESK_SOURCE} (helpdesk people)`,
    sourceNames: [HELPDESK_SOURCE],
    settings: { section: helpdeskSection, read: (env) => readHelpdeskSettings(env) },
    connectors: () => [new HelpdeskSource(settings)],
    webhook: helpdeskWebhook,
  };
}
