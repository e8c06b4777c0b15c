import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import { ApiError } from '../../errors.js';

/** The routes senders call; the limit is one budget per client across all of them. */
export const WEBHOOK_ROUTE_URLS: ReadonlySet<string> = new Set(['/webhook', '/receive_webhook', '/webhooks/hubspot', '/webhooks/mailchimp/:secret']);

export interface WebhookRateLimit {
  max: number;
  windowMs: number;
}

/**
 * WEBHOOK_RATE_LIMIT: at most `max` requests per client (its IP address) in
 * each `windowMs`, counted together over the webhook routes, checked before
 * the body is read. Over it: 429 problem JSON with Retry-After. Call before
 * the webhook routes are registered; nothing happens when the limit is off.
 */
export async function webhookRateLimit(app: FastifyInstance, limit: WebhookRateLimit | null): Promise<void> {
  if (!limit) return;
  await app.register(rateLimit, {
    global: false,
    keyGenerator: (req) => req.ip,
    errorResponseBuilder: (_req, ctx) =>
      new ApiError('rate_limited', `too many webhook requests from this client: at most ${ctx.max} per ${limit.windowMs} ms; retry in ${ctx.after}`),
  });
  // One limiter (one counter per client) shared by every webhook route.
  const limiter = app.rateLimit({ max: limit.max, timeWindow: limit.windowMs }) as unknown as onRequestHookHandler;
  app.addHook('onRoute', (route) => {
    if (!WEBHOOK_ROUTE_URLS.has(route.url)) return;
    const own = route.onRequest === undefined ? [] : [route.onRequest].flat();
    route.onRequest = [limiter, ...own];
  });
}
