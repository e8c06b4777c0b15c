import { Type, type Static } from 'typebox';
import { RECORD_TYPES, type StoredRecord } from '../../domain/records.js';
import { iso, NO_NUL_PATTERN, nullable } from './common.js';

const ExternalId = Type.String({
  minLength: 1,
  maxLength: 255,
  pattern: NO_NUL_PATTERN,
  description: "The sender's or provider's id; with the type, the record's key",
});
// The sender's own number: a bigint column on PostgreSQL, and JSON numbers past
// 2^53 have already lost digits; a larger one is refused rather than stored wrong.
const SenderId = Type.Integer({ minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER, description: "The sender's own number" });
const SenderTimestamp = nullable(
  Type.String({ format: 'date-time', description: 'When the sender last changed the record; an older one than stored is ignored' }),
);

export const CustomerInput = Type.Object(
  {
    external_id: ExternalId,
    id: Type.Optional(nullable(SenderId)),
    name: Type.Optional(nullable(Type.String({ maxLength: 1000 }))),
    email: Type.Optional(nullable(Type.String({ format: 'email', maxLength: 320 }))),
    updated_at: Type.Optional(SenderTimestamp),
  },
  { additionalProperties: true, description: 'Fields beyond these are kept in `attributes`' },
);

export const CampaignInput = Type.Object(
  {
    external_id: ExternalId,
    id: Type.Optional(nullable(SenderId)),
    name: Type.Optional(nullable(Type.String({ maxLength: 1000 }))),
    status: Type.Optional(nullable(Type.String({ maxLength: 100 }))),
    budget: Type.Optional(nullable(Type.Number())),
    details: Type.Optional(
      nullable(
        Type.Object(
          {
            discount: Type.Optional(Type.Unknown()),
            start_date: Type.Optional(Type.Unknown()),
            end_date: Type.Optional(Type.Unknown()),
          },
          { additionalProperties: true },
        ),
      ),
    ),
    updated_at: Type.Optional(SenderTimestamp),
  },
  { additionalProperties: true, description: 'Fields beyond these are kept in `attributes`' },
);

const oneOrMany = <T extends typeof CustomerInput | typeof CampaignInput>(item: T) => Type.Union([item, Type.Array(item, { maxItems: 1000 })]);

export const SEED_CUSTOMER = { id: 1, external_id: 'cust_12345', name: 'John Doe', email: 'john.doe@example.com' };
export const SEED_CAMPAIGN = {
  id: 1,
  external_id: 'camp_67890',
  name: 'Winter Sale',
  status: 'active',
  budget: 5000,
  details: { discount: '20%', start_date: '2026-12-01', end_date: '2026-12-31' },
};

export const WebhookBody = Type.Object(
  {
    customer: Type.Optional(oneOrMany(CustomerInput)),
    campaign: Type.Optional(oneOrMany(CampaignInput)),
  },
  {
    additionalProperties: true,
    minProperties: 1,
    description: 'A customer and/or a campaign, each one object or an array; at most 1000 records in all',
    // Named request examples (Swagger UI lists them by summary); `examples` would be numbered example1-3.
    'x-examples': {
      seed_customer: { summary: 'Seed customer', value: { customer: SEED_CUSTOMER } },
      seed_campaign: { summary: 'Seed campaign', value: { campaign: SEED_CAMPAIGN } },
      both: { summary: 'Both, as arrays', value: { customer: [SEED_CUSTOMER], campaign: [SEED_CAMPAIGN] } },
    },
  },
);
export type WebhookBodyT = Static<typeof WebhookBody>;

export const WriteResultItem = Type.Object({
  type: Type.Enum([...RECORD_TYPES]),
  external_id: Type.String(),
  result: Type.Enum(['created', 'updated', 'unchanged', 'stale', 'deleted'], {
    description: 'unchanged: same content as stored; stale: older than the stored version, ignored',
  }),
});

export const WebhookAnswer = Type.Object({
  status: Type.Literal('stored'),
  delivery_id: nullable(Type.String({ description: 'The webhook-id or Idempotency-Key the delivery carried' })),
  stored: Type.Integer({ description: 'Records in the delivery, all committed' }),
  records: Type.Array(WriteResultItem),
});

const Time = Type.String({ format: 'date-time' });

export const RecordItem = Type.Object(
  {
    type: Type.Enum([...RECORD_TYPES]),
    external_id: Type.String(),
    source: Type.String({ description: 'crm, marketing, webhook or a declared source' }),
    id: Type.Optional(nullable(Type.Integer())),
    name: Type.Optional(nullable(Type.String())),
    email: Type.Optional(nullable(Type.String())),
    status: Type.Optional(nullable(Type.String())),
    budget: Type.Optional(nullable(Type.Number())),
    details: Type.Optional(nullable(Type.Object({}, { additionalProperties: true }))),
    attributes: Type.Object({}, { additionalProperties: true, description: 'Every other field the record arrived with' }),
    created_at: Time,
    updated_at: { ...Time, description: 'When Tributary last stored a real change: the change-feed clock' } as typeof Time,
    source_updated_at: nullable(Type.String({ format: 'date-time', description: "The sender's own updated_at, if it gave one" })),
    deleted_at: nullable(Type.String({ format: 'date-time', description: 'Set on tombstones of records deleted upstream' })),
  },
  { additionalProperties: false },
);
export type RecordItemT = Static<typeof RecordItem>;

export function toItem(r: StoredRecord): RecordItemT {
  const base = {
    type: r.type,
    external_id: r.external_id,
    source: r.source,
    id: r.fields.sender_id,
    name: r.fields.name,
  };
  const typed = r.type === 'customer' ? { email: r.fields.email } : { status: r.fields.status, budget: r.fields.budget, details: r.fields.details };
  return {
    ...base,
    ...typed,
    attributes: r.attributes,
    created_at: iso(r.createdAt) as string,
    updated_at: iso(r.updatedAt) as string,
    source_updated_at: iso(r.sourceUpdatedAt),
    deleted_at: iso(r.deletedAt),
  };
}

export const PageQuery = Type.Object(
  {
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000_000, default: 0, description: 'Rows to skip; prefer `cursor` past the first pages' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
    cursor: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: '`next_cursor` of the previous page (keyset: constant cost at any depth)' }),
    ),
    source: Type.Optional(Type.String({ minLength: 1, maxLength: 100, pattern: NO_NUL_PATTERN })),
    updated_since: Type.Optional(
      Type.String({ format: 'date-time', description: 'Only records changed at or after this time, in (updated_at, id) order: a change feed' }),
    ),
    include_deleted: Type.Optional(Type.Boolean({ default: false, description: 'Include tombstones of records deleted upstream' })),
    email: Type.Optional(
      Type.String({
        format: 'email',
        maxLength: 320,
        description: 'Only records with this email, case-insensitive (exact, not a prefix). With q, both must match. Not with updated_since',
      }),
    ),
    q: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        pattern: NO_NUL_PATTERN,
        description:
          'Only records whose external_id, email or name starts with this text, case-insensitive (on SQLite only ASCII letters fold). Row order, paged by cursor; `total` stops counting past 1000 (see `total_at_least`). Not with updated_since',
      }),
    ),
  },
  { additionalProperties: true },
);

export const DataQuery = Type.Object({ ...PageQuery.properties, type: Type.Optional(Type.Enum([...RECORD_TYPES])) }, { additionalProperties: true });
export type DataQueryT = Static<typeof DataQuery>;

export const PageResponse = Type.Object({
  items: Type.Array(RecordItem),
  total: nullable(Type.Integer({ description: 'Matching records; null on continuation pages of an updated_since feed, where counting would cost a scan' })),
  total_at_least: Type.Optional(
    Type.Boolean({ description: 'Given with q or email: true when more than 1000 records match, and `total` is then 1000, a lower bound' }),
  ),
  offset: Type.Integer(),
  limit: Type.Integer(),
  next_cursor: nullable(
    Type.String({
      description:
        'Pass as `cursor` for the next page. Null at the end of a listing in row order; in change order (updated_since) every non-empty page has one, to keep as a bookmark, and only an empty page answers null',
    }),
  ),
});

export const RecordParams = Type.Object({ external_id: ExternalId });
