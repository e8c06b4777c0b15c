import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import { Type } from 'typebox';
import type { Config } from '../../config.js';
import { ApiError } from '../../errors.js';
import { hubspotEventKey, verifyHubspotSignature, type HubspotEvent } from '../../ingest/hubspot-webhook.js';
import { INBOX_ROUTES } from '../../ingest/inbox-handlers.js';
import type { EventOutcome, InboxProcessor } from '../../ingest/inbox-processing.js';
import { FormFieldError, MAILCHIMP_TYPES, mailchimpDeliveryKey, parseMailchimpForm, type FormObject } from '../../ingest/mailchimp-webhook.js';
import { nullable, problemResponses } from '../schemas/common.js';
import { WriteResultItem } from '../schemas/records.js';
import { encodedBodyRefusal } from '../plugins/raw-json-body.js';
import { headerText, inboxHeaders } from '../request-headers.js';

export interface ProviderWebhookRoutesOptions {
  config: Config;
  processor: InboxProcessor;
}

/**
 * The URIs HubSpot may have signed for this request: it signs the URL it
 * called, which a TLS-terminating proxy turns into http:// and maybe another
 * host. X-Forwarded-Proto/Host are tried first; trying more candidates only
 * widens what we compute, never what an attacker can forge without the secret.
 */
function candidateUris(req: FastifyRequest): string[] {
  const first = (v: string | undefined) => v?.split(',')[0]?.trim() || undefined;
  const hosts = [first(headerText(req, 'x-forwarded-host')), headerText(req, 'host')].filter((h): h is string => !!h);
  const protos = [first(headerText(req, 'x-forwarded-proto')), 'https', 'http'].filter((p): p is string => !!p);
  const out = new Set<string>();
  for (const host of hosts) for (const proto of protos) out.add(`${proto}://${host}${req.url}`);
  return [...out];
}

const digest = (s: string) => createHash('sha256').update(s).digest();

const HubspotEventSchema = Type.Object(
  {
    eventId: Type.Integer({ minimum: 0 }),
    subscriptionId: Type.Optional(Type.Integer({ minimum: 0 })),
    portalId: Type.Integer({ minimum: 0 }),
    occurredAt: Type.Integer({ minimum: 0, description: 'Unix ms' }),
    subscriptionType: Type.String({ minLength: 1, maxLength: 200, examples: ['contact.propertyChange'] }),
    attemptNumber: Type.Optional(Type.Integer({ minimum: 0 })),
    objectId: Type.Optional(Type.Integer({ minimum: 0 })),
    propertyName: Type.Optional(Type.String({ maxLength: 1000 })),
    propertyValue: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: true },
);

const EXAMPLE_EVENT = {
  eventId: 100,
  subscriptionId: 2401,
  portalId: 62515,
  occurredAt: 1767225600000,
  subscriptionType: 'contact.propertyChange',
  attemptNumber: 0,
  objectId: 123,
  propertyName: 'firstname',
  propertyValue: 'Ann',
  changeSource: 'CRM',
};

const Outcome = {
  inbox_id: Type.Integer({ description: 'The row in the webhook inbox (GET /webhooks/events)' }),
  status: Type.Enum(['processed', 'failed', 'duplicate'], {
    description: 'failed: kept as a dead letter, replayable; duplicate: seen before, points at the first copy',
  }),
  duplicate_of: nullable(Type.Integer()),
  records: Type.Array(WriteResultItem),
  error: nullable(Type.String()),
};

const HubspotAnswer = Type.Object({
  status: Type.Literal('received'),
  events: Type.Array(Type.Object({ event_id: Type.Integer(), ...Outcome })),
});
const MailchimpAnswer = Type.Object({
  status: Type.Literal('received'),
  events: Type.Array(Type.Object({ type: Type.String(), ...Outcome })),
});
const SecretParams = Type.Object({ secret: Type.String({ minLength: 1, maxLength: 512, description: 'MAILCHIMP_WEBHOOK_SECRET' }) });

/**
 * Provider webhooks beside the generic route: HubSpot (v3 signatures, one
 * inbox row per event, de-duplicated on eventId) and Mailchimp (a secret in
 * the URL, form-encoded bodies). Every accepted event is stored raw first,
 * then processed; one that fails becomes a dead letter (GET /webhooks/events).
 */
export const providerWebhookRoutes: FastifyPluginAsyncTypebox<ProviderWebhookRoutesOptions> = async (app, { config, processor }) => {
  const hubspotSecrets = config.hubspotClientSecrets;
  const mailchimpSecret = config.mailchimpWebhookSecret;
  if (hubspotSecrets.length === 0) app.log.warn('HUBSPOT_CLIENT_SECRET is not set: unsigned HubSpot webhooks are accepted');

  // Mailchimp posts forms. Parsed only in this plugin's routes (the JSON routes
  // keep answering 415 to a form), within the same body limit.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer', bodyLimit: config.bodyLimitBytes }, (req, body, done) => {
    const refused = encodedBodyRefusal(req);
    if (refused) {
      done(refused, undefined);
      return;
    }
    const raw = body as Buffer;
    req.rawBody = raw;
    // A raw NUL byte is no form encoding (it would be %00), and PostgreSQL cannot keep it in the inbox's text column.
    if (raw.includes(0)) {
      done(new ApiError('bad_request', 'the form body holds a raw NUL byte; form values encode it as %00'), undefined);
      return;
    }
    try {
      done(null, parseMailchimpForm(raw.toString('utf8')));
    } catch (err) {
      done(err instanceof FormFieldError ? new ApiError('bad_request', err.message) : (err as Error), undefined);
    }
  });

  app.post(
    '/webhooks/hubspot',
    {
      config: { public: true },
      schema: {
        summary: 'Receive HubSpot webhook events',
        description:
          'HubSpot posts a JSON array of up to 100 events. With HUBSPOT_CLIENT_SECRET set, X-HubSpot-Signature-v3 must verify (HMAC-SHA256 of method + URI + body + timestamp, timestamp at most 5 minutes old). Each event is stored raw as its own inbox row, then processed: contact.creation, contact.propertyChange, contact.deletion, contact.privacyDeletion and contact.restore update the customer whose external_id is the contact id (source crm); a repeated eventId is recorded as a duplicate; any other event is kept as a dead letter. Answers 200 once every event is processed or kept.',
        tags: ['webhooks'],
        headers: Type.Object(
          {
            'x-hubspot-signature-v3': Type.Optional(Type.String()),
            'x-hubspot-request-timestamp': Type.Optional(Type.String({ description: 'Unix ms' })),
          },
          { additionalProperties: true },
        ),
        body: Type.Array(HubspotEventSchema, { minItems: 1, maxItems: 1000, examples: [[EXAMPLE_EVENT]] }),
        response: { 200: HubspotAnswer, ...problemResponses(400, 401, 413, 415, 422, 429) },
      },
      preValidation: async (req) => {
        if (!/^application\/json\s*(;|$)/i.test(headerText(req, 'content-type') ?? '')) {
          throw new ApiError('unsupported_media_type', 'send the body as application/json');
        }
        if (hubspotSecrets.length === 0) return;
        const check = verifyHubspotSignature(hubspotSecrets, {
          method: req.method,
          uris: candidateUris(req),
          body: req.rawBody ?? Buffer.alloc(0),
          timestamp: headerText(req, 'x-hubspot-request-timestamp'),
          signature: headerText(req, 'x-hubspot-signature-v3'),
        });
        if (!check.ok) throw new ApiError('invalid_signature', check.reason);
      },
    },
    async (req) => {
      const events = req.body as HubspotEvent[];
      const outcomes = await processor.receive(
        INBOX_ROUTES.hubspot[0],
        inboxHeaders(req),
        events.map((e) => ({ key: hubspotEventKey(e), body: JSON.stringify(e) })),
      );
      return {
        status: 'received' as const,
        events: outcomes.map((o: EventOutcome, i) => ({ event_id: (events[i] as HubspotEvent).eventId, ...o })),
      };
    },
  );

  /** Before the body is read: the secret in the URL must be the configured one. */
  const checkSecret = async (req: FastifyRequest) => {
    if (!mailchimpSecret) {
      throw new ApiError('not_found', 'Mailchimp webhooks are off: set MAILCHIMP_WEBHOOK_SECRET and give Mailchimp the URL /webhooks/mailchimp/<that secret>');
    }
    const offered = (req.params as { secret?: string }).secret ?? '';
    if (!timingSafeEqual(digest(offered), digest(mailchimpSecret))) {
      throw new ApiError('unauthorized', 'the secret in the webhook URL is not MAILCHIMP_WEBHOOK_SECRET');
    }
  };

  app.get(
    '/webhooks/mailchimp/:secret',
    {
      config: { public: true },
      preParsing: checkSecret,
      schema: {
        summary: "Mailchimp's check of the webhook URL",
        description: 'Mailchimp calls the URL with GET when the webhook is saved and wants a 200. 404 while MAILCHIMP_WEBHOOK_SECRET is unset; 401 for another secret.',
        tags: ['webhooks'],
        params: SecretParams,
        response: { 200: Type.Object({ status: Type.Literal('ok') }), ...problemResponses(401, 404, 429) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.post(
    '/webhooks/mailchimp/:secret',
    {
      config: { public: true },
      preParsing: checkSecret,
      schema: {
        summary: 'Receive a Mailchimp list webhook',
        description: `Form-encoded (application/x-www-form-urlencoded) as Mailchimp sends it: \`type\` (${MAILCHIMP_TYPES.join(', ')}), \`fired_at\`, \`data[...]\`. Subscribers become customers keyed by Mailchimp's member id (MD5 of the lower-case email), campaigns update the campaign with data[id]; source marketing. Stored raw in the inbox, then processed; an unknown type is kept as a dead letter.`,
        tags: ['webhooks'],
        params: SecretParams,
        response: { 200: MailchimpAnswer, ...problemResponses(400, 401, 404, 413, 415, 422, 429) },
      },
      preValidation: async (req) => {
        if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(headerText(req, 'content-type') ?? '')) {
          throw new ApiError('unsupported_media_type', 'Mailchimp webhooks are application/x-www-form-urlencoded');
        }
      },
    },
    async (req) => {
      const form = (req.body ?? {}) as FormObject;
      const type = typeof form.type === 'string' ? form.type.trim() : '';
      if (type === '') {
        throw new ApiError('validation', 'a Mailchimp webhook names its event type', { errors: [{ path: '/body/type', message: 'is required' }] });
      }
      const raw = (req.rawBody ?? Buffer.alloc(0)).toString('utf8');
      const [outcome] = await processor.receive(INBOX_ROUTES.mailchimp[0], inboxHeaders(req), [{ key: mailchimpDeliveryKey(raw), body: raw }]);
      return { status: 'received' as const, events: [{ type, ...(outcome as EventOutcome) }] };
    },
  );
};
