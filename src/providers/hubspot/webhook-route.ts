import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ApiError } from '../../errors.js';
import { documented, problemResponses } from '../../http/schemas/common.js';
import { WebhookEventOutcome as Outcome } from '../../http/schemas/webhook-outcome.js';
import { headerText, inboxHeaders } from '../../http/request-headers.js';
import { prepareDelivery } from '../../ingest/delivery.js';
import type { WebhookRouteOptions } from '../provider.js';
import { hubspotSettings } from './config.js';
import { HUBSPOT_INBOX_ROUTE, hubspotEventKey, hubspotHandlerFor, hubspotSignedUri, verifyHubspotSignature, type HubspotEvent } from './webhook.js';

/**
 * The URIs HubSpot may have signed for this request. With PUBLIC_URL, the
 * one URL it called: that origin plus the request path. Without, a guess: it signs the URL it
 * called, which a TLS-terminating proxy turns into http:// and maybe another
 * host. X-Forwarded-Proto/Host are tried first; trying more candidates only
 * widens what we compute, never what an attacker can forge without the secret.
 */
function candidateUris(req: FastifyRequest, publicUrl: string | null): string[] {
  if (publicUrl !== null) return [`${publicUrl}${req.url}`];
  const first = (v: string | undefined) => v?.split(',')[0]?.trim() || undefined;
  const hosts = [first(headerText(req, 'x-forwarded-host')), headerText(req, 'host')].filter((h): h is string => !!h);
  const protos = [first(headerText(req, 'x-forwarded-proto')), 'https', 'http'].filter((p): p is string => !!p);
  const out = new Set<string>();
  for (const host of hosts) for (const proto of protos) out.add(`${proto}://${host}${req.url}`);
  return [...out];
}

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

const HubspotAnswer = Type.Object({
  status: Type.Literal('received'),
  events: Type.Array(Type.Object({ event_id: Type.Integer(), ...Outcome })),
});

/**
 * POST /webhooks/hubspot: v3 signatures, one inbox row per event,
 * de-duplicated on the event key. Every accepted event is stored raw first,
 * then processed; one that fails becomes a dead letter (GET /webhooks/events).
 */
export const hubspotWebhookRoutes: FastifyPluginAsync<WebhookRouteOptions> = async (app, { config, pipeline, metrics }) => {
  const { clientSecrets: hubspotSecrets, portalId } = hubspotSettings(config);
  const handler = hubspotHandlerFor(portalId);
  if (hubspotSecrets.length === 0) app.log.warn('HUBSPOT_CLIENT_SECRET is not set: unsigned HubSpot webhooks are accepted');

  app.post(
    '/webhooks/hubspot',
    {
      schema: {
        summary: 'Receive HubSpot webhook events',
        description:
          'HubSpot posts a JSON array of up to 100 events. With HUBSPOT_CLIENT_SECRET set, X-HubSpot-Signature-v3 must verify (HMAC-SHA256 of method + URI + body + timestamp, timestamp at most 5 minutes old; the URI is PUBLIC_URL plus the request path when PUBLIC_URL is set). Each event is stored raw as its own inbox row, then processed: contact.creation, contact.propertyChange, contact.deletion, contact.privacyDeletion and contact.restore update the customer whose external_id is the contact id (source crm); contact.merge tombstones each merged-away id with attributes.merged_into set to the surviving id, which lists them in attributes.merged_ids (object.* events of contacts, objectTypeId 0-1, likewise); a repeated eventId is recorded as a duplicate; an event from another portal than HUBSPOT_PORTAL_ID (or else the portal of the token) and any other event are kept as dead letters. Answers 200 once every event is processed or kept.',
        tags: ['webhooks'],
        headers: Type.Object(
          {
            'x-hubspot-signature-v3': Type.Optional(Type.String()),
            'x-hubspot-request-timestamp': Type.Optional(Type.String({ description: 'Unix ms' })),
          },
          { additionalProperties: true },
        ),
        body: Type.Array(HubspotEventSchema, { minItems: 1, maxItems: 1000, examples: [[EXAMPLE_EVENT]] }),
        response: {
          200: documented(HubspotAnswer, 'Every event is stored and processed, or kept as a dead letter', {
            status: 'received',
            events: [
              {
                event_id: 100,
                inbox_id: 43,
                status: 'processed',
                duplicate_of: null,
                records: [{ type: 'customer', external_id: '123', result: 'updated' }],
                error: null,
              },
            ],
          }),
          ...problemResponses(400, 401, 413, 415, 422, 429, 503),
        },
      },
      preValidation: async (req) => {
        if (!/^application\/json\s*(;|$)/i.test(headerText(req, 'content-type') ?? '')) {
          throw new ApiError('unsupported_media_type', 'send the body as application/json');
        }
        if (hubspotSecrets.length === 0) return;
        const uris = candidateUris(req, config.publicUrl);
        const check = verifyHubspotSignature(hubspotSecrets, {
          method: req.method,
          uris,
          body: req.rawBody ?? Buffer.alloc(0),
          timestamp: headerText(req, 'x-hubspot-request-timestamp'),
          signature: headerText(req, 'x-hubspot-signature-v3'),
        });
        if (!check.ok) {
          // HubSpot does not retry a 401: without this line and count, its events would be lost unseen.
          metrics?.webhookSignatureFailures.inc({ route: HUBSPOT_INBOX_ROUTE });
          req.log.warn(
            { route: HUBSPOT_INBOX_ROUTE, signedUris: uris.map(hubspotSignedUri), publicUrl: config.publicUrl, reason: check.reason },
            'HubSpot webhook refused: signature check failed (set PUBLIC_URL to the origin HubSpot calls when behind a proxy)',
          );
          throw new ApiError('invalid_signature', check.reason);
        }
      },
    },
    async (req) => {
      const events = req.body as HubspotEvent[];
      const outcomes = await pipeline.submit({
        route: HUBSPOT_INBOX_ROUTE,
        headers: inboxHeaders(req),
        receivedAt: Date.now(),
        // Each event is kept as its own inbox row, and replayed alone.
        events: events.map((e) => ({ key: hubspotEventKey(e), body: JSON.stringify(e), prepared: prepareDelivery(handler, e) })),
        weight: events.length,
        rowIds: true,
      });
      return {
        status: 'received' as const,
        events: outcomes.map((o, i) => ({ event_id: (events[i] as HubspotEvent).eventId, ...o })),
      };
    },
  );
};
