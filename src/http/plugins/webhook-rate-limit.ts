import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import { ApiError } from '../../errors.js';

export interface WebhookRateLimit {
  max: number;
  windowMs: number;
}

/**
 * WEBHOOK_RATE_LIMIT over every route of this scope (the webhook routes): at
 * most `max` requests per client (its IP address) in each `windowMs`, counted
 * together, checked before the body is read. Over it: 429 problem JSON with
 * Retry-After. Nothing happens when the limit is off.
 */
export async function webhookRateLimit(scope: FastifyInstance, limit: WebhookRateLimit | null): Promise<void> {
  if (!limit) return;
  await scope.register(rateLimit, {
    global: false,
    keyGenerator: (req) => req.ip,
    errorResponseBuilder: (_req, ctx) =>
      new ApiError('rate_limited', `too many webhook requests from this client: at most ${ctx.max} per ${limit.windowMs} ms; retry in ${ctx.after}`),
  });
  // One limiter (one counter per client) shared by every route of the scope.
  scope.addHook('onRequest', scope.rateLimit({ max: limit.max, timeWindow: limit.windowMs }) as unknown as onRequestHookHandler);
}
