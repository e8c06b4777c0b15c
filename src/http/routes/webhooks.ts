import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../../config/index.js';
import { ApiError } from '../../errors.js';
import { prepareDelivery } from '../../ingest/delivery.js';
import { genericDeliveryHandler } from '../../ingest/generic-delivery.js';
import type { DeliveryPipeline } from '../../ingest/pipeline.js';
import { GENERIC_INTAKE } from '../../ingest/inbox-catalog.js';
import { secretKey, verifySignature } from '../../ingest/signature.js';
import { checkRecordCount } from '../../ingest/webhook-payload.js';
import { Type } from 'typebox';
import { documented, problemResponses } from '../schemas/common.js';
import { WRITE_RESULT_EXAMPLE } from '../schemas/examples.js';
import { WebhookAnswer, WebhookBody } from '../schemas/records.js';
import { headerText, inboxHeaders } from '../request-headers.js';

/** The store refused the records: the delivery is kept raw as a dead letter, to replay. */
const DeadLetterAnswer = Type.Object(
  {
    status: Type.Literal('failed'),
    delivery_id: Type.Union([Type.String(), Type.Null()]),
    inbox_id: Type.Integer({ description: 'See GET /webhooks/events/{id}; POST /webhooks/events/{id}/replay processes it again' }),
    detail: Type.String(),
  },
  { description: 'Accepted and kept, but not applied: a dead letter' },
);

export interface WebhookRoutesOptions {
  config: Config;
  pipeline: DeliveryPipeline;
  /** Keys the provider routes write into the inbox's key column: a generic delivery may not use them. */
  reservedKeyPrefixes: readonly string[];
}

function idempotencyKey(req: FastifyRequest, reservedPrefixes: readonly string[]): string | null {
  // An empty webhook-id names no delivery: the Idempotency-Key, if any, still does.
  for (const header of ['webhook-id', 'idempotency-key']) {
    const key = headerText(req, header);
    if (key === undefined || key === '') continue;
    if (key.length > 255) {
      throw new ApiError('validation', 'the idempotency key is too long', {
        errors: [{ path: `/header/${header}`, message: 'must be at most 255 characters' }],
      });
    }
    // Provider deliveries keep their keys in the same column: a generic
    // delivery wearing one would answer for (and silently drop) the real one.
    const reserved = reservedPrefixes.find((prefix) => key.startsWith(prefix));
    if (reserved !== undefined) {
      throw new ApiError('validation', 'the idempotency key uses a reserved prefix', {
        errors: [{ path: `/header/${header}`, message: `must not start with "${reserved}"` }],
      });
    }
    return key;
  }
  return null;
}

/** POST /webhook and its seed alias: verify, store with the inbox copy, then answer. */
export const webhookRoutes: FastifyPluginAsyncTypebox<WebhookRoutesOptions> = async (app, { config, pipeline, reservedKeyPrefixes }) => {
  const keys = config.webhookSecrets.map(secretKey);

  for (const url of GENERIC_INTAKE.routes) {
    app.post(
      url,
      {
        schema: {
          summary: url === '/webhook' ? 'Receive a webhook delivery' : 'Receive a webhook delivery (seed-compatible alias of /webhook)',
          description:
            'Answers 200 only after the records and the raw delivery are committed. A repeated `webhook-id` (or `Idempotency-Key`) gets the first answer and writes nothing. With WEBHOOK_SECRET set, a valid Standard Webhooks signature is required.',
          tags: ['webhooks'],
          headers: Type.Object(
            {
              'webhook-id': Type.Optional(Type.String({ description: 'Delivery id (Standard Webhooks); also the idempotency key' })),
              'webhook-timestamp': Type.Optional(Type.String({ description: 'Unix seconds; at most 5 minutes off' })),
              'webhook-signature': Type.Optional(Type.String({ description: 'v1,<base64 HMAC-SHA256 of "id.timestamp.body">; several space-separated' })),
              'idempotency-key': Type.Optional(Type.String({ description: 'Idempotency key for senders without webhook-id' })),
            },
            { additionalProperties: true },
          ),
          body: WebhookBody,
          response: {
            200: documented(WebhookAnswer, 'Stored: every record and the raw delivery are committed', {
              status: 'stored',
              delivery_id: 'msg_2b7c9e',
              stored: 1,
              records: [WRITE_RESULT_EXAMPLE],
            }),
            202: documented(DeadLetterAnswer, 'Accepted and kept, but not applied: a dead letter', {
              status: 'failed',
              delivery_id: 'msg_2b7c9e',
              inbox_id: 42,
              detail: 'the store refused the records; kept as a dead letter',
            }),
            ...problemResponses(400, 401, 413, 415, 422, 503),
          },
        },
        preValidation: async (req) => {
          const type = headerText(req, 'content-type') ?? '';
          if (!/^application\/json\s*(;|$)/i.test(type)) {
            throw new ApiError('unsupported_media_type', 'send the body as application/json');
          }
          if (keys.length === 0) return;
          const check = verifySignature(
            keys,
            {
              id: headerText(req, 'webhook-id'),
              timestamp: headerText(req, 'webhook-timestamp'),
              signature: headerText(req, 'webhook-signature'),
            },
            req.rawBody ?? Buffer.alloc(0),
          );
          if (!check.ok) throw new ApiError('invalid_signature', check.reason);
        },
      },
      async (req, reply) => {
        checkRecordCount(req.body, config.maxRecordsPerDelivery);
        // The handler a replay runs too; what it refuses here is the sender's 422, and nothing is stored.
        const prepared = prepareDelivery(genericDeliveryHandler, req.body);
        if (prepared.rejected !== undefined) throw prepared.refusal ?? new ApiError('validation', prepared.rejected);
        const deliveryId = idempotencyKey(req, reservedKeyPrefixes);
        const [outcome] = await pipeline.submit({
          route: url,
          headers: inboxHeaders(req),
          receivedAt: Date.now(),
          events: [{ key: deliveryId, body: (req.rawBody ?? Buffer.alloc(0)).toString('utf8'), prepared }],
          weight: prepared.writes?.length ?? 1,
          rowIds: false,
        });
        const answer = outcome?.answer ?? { status: 500, body: null };
        if (outcome?.status === 'duplicate') reply.header('idempotent-replayed', 'true');
        return reply.code(answer.status as 200).send(answer.body as never);
      },
    );
  }
};
