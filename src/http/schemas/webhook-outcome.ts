import { Type } from 'typebox';
import { nullable } from './common.js';
import { WriteResultItem } from './records.js';

/** What became of one provider event, as the sender is told (see EventOutcome). */
export const WebhookEventOutcome = {
  inbox_id: Type.Integer({ description: 'The row in the webhook inbox (GET /webhooks/events)' }),
  status: Type.Enum(['processed', 'failed', 'duplicate'], {
    description: 'failed: kept as a dead letter, replayable; duplicate: seen before, points at the first copy',
  }),
  duplicate_of: nullable(Type.Integer()),
  records: Type.Array(WriteResultItem),
  error: nullable(Type.String()),
};
