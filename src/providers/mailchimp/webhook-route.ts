import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import { Type } from 'typebox';
import { ApiError } from '../../errors.js';
import { encodedBodyRefusal } from '../../http/plugins/raw-json-body.js';
import { documented, problemResponses } from '../../http/schemas/common.js';
import { WebhookEventOutcome as Outcome } from '../../http/schemas/webhook-outcome.js';
import { headerText, inboxHeaders } from '../../http/request-headers.js';
import { prepareDelivery } from '../../ingest/delivery.js';
import type { WebhookRouteOptions } from '../provider.js';
import { mailchimpSettings } from './config.js';
import {
  FormFieldError,
  MAILCHIMP_INBOX_ROUTE,
  mailchimpDeliveryHandler,
  MAILCHIMP_TYPES,
  mailchimpDeliveryKey,
  parseMailchimpForm,
  type FormObject,
} from './webhook.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

const MailchimpAnswer = Type.Object({
  status: Type.Literal('received'),
  events: Type.Array(Type.Object({ type: Type.String(), ...Outcome })),
});
const SecretParams = Type.Object({ secret: Type.String({ minLength: 1, maxLength: 512, description: 'MAILCHIMP_WEBHOOK_SECRET' }) });

/**
 * /webhooks/mailchimp/{secret}: a secret in the URL, form-encoded bodies.
 * Each delivery is stored raw first, then processed; one that fails becomes
 * a dead letter (GET /webhooks/events).
 */
export const mailchimpWebhookRoutes: FastifyPluginAsync<WebhookRouteOptions> = async (app, { config, pipeline }) => {
  const mailchimpSecret = mailchimpSettings(config).webhookSecret;

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
      preParsing: checkSecret,
      schema: {
        summary: "Mailchimp's check of the webhook URL",
        description:
          'Mailchimp calls the URL with GET when the webhook is saved and wants a 200. 404 while MAILCHIMP_WEBHOOK_SECRET is unset; 401 for another secret.',
        tags: ['webhooks'],
        params: SecretParams,
        response: { 200: documented(Type.Object({ status: Type.Literal('ok') }), 'The URL is right', { status: 'ok' }), ...problemResponses(401, 404, 429) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.post(
    '/webhooks/mailchimp/:secret',
    {
      preParsing: checkSecret,
      schema: {
        summary: 'Receive a Mailchimp list webhook',
        description: `Form-encoded (application/x-www-form-urlencoded) as Mailchimp sends it: \`type\` (${MAILCHIMP_TYPES.join(', ')}), \`fired_at\`, \`data[...]\`. Subscribers become customers keyed \`<data[list_id]>:<MD5 of the lower-case email>\` (the members sync's \`<list_id>:<member id>\`, one row per audience), campaigns update the campaign with data[id]; source marketing. Stored raw in the inbox, then processed; an unknown type is kept as a dead letter.`,
        tags: ['webhooks'],
        params: SecretParams,
        response: {
          200: documented(MailchimpAnswer, 'The event is stored and processed, or kept as a dead letter', {
            status: 'received',
            events: [
              {
                type: 'subscribe',
                inbox_id: 44,
                status: 'processed',
                duplicate_of: null,
                records: [{ type: 'customer', external_id: 'a6b5da1054:b58996c504c5638798eb6b511e6f49af', result: 'created' }],
                error: null,
              },
            ],
          }),
          ...problemResponses(400, 401, 404, 413, 415, 422, 429, 503),
        },
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
      const outcomes = await pipeline.submit({
        route: MAILCHIMP_INBOX_ROUTE,
        headers: inboxHeaders(req),
        receivedAt: Date.now(),
        events: [{ key: mailchimpDeliveryKey(raw), body: raw, prepared: prepareDelivery(mailchimpDeliveryHandler, form) }],
        weight: 1,
        rowIds: true,
      });
      return { status: 'received' as const, events: outcomes.map((o) => ({ type, ...o })) };
    },
  );
};
