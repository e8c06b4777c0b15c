import { hashContent, storableWrite, type HashedContent, type RecordFields, type RecordType, type RecordWrite } from './records.js';

/**
 * A write made storable and hashed, in a form that crosses to another thread
 * cheaply: its JSON parts only as the canonical texts the hash was made from
 * (the texts the store writes), not as objects to copy field by field.
 */
export interface PreparedWrite {
  type: RecordType;
  external_id: string;
  source: string;
  fields: Omit<RecordFields, 'details'>;
  sourceUpdatedAt: number | null;
  deleted: boolean;
  content: HashedContent;
}

/** What the runner does to every sync write before its transaction: storableWrite, then hashContent. */
export function prepareWrite(write: RecordWrite): PreparedWrite {
  const w = storableWrite(write);
  const { sender_id, name, email, status, budget } = w.fields;
  return {
    type: w.type,
    external_id: w.external_id,
    source: w.source,
    fields: { sender_id, name, email, status, budget },
    sourceUpdatedAt: w.sourceUpdatedAt,
    deleted: w.deleted,
    content: hashContent(w),
  };
}

/**
 * The write back, with `attributes` and `fields.details` parsed from their
 * texts only if something reads them: the store uses `content` and never
 * does, so a sync page costs no parse here.
 */
export function writeFromPrepared(p: PreparedWrite): RecordWrite {
  let attributes: Record<string, unknown> | undefined;
  let details: Record<string, unknown> | null | undefined;
  const fields = { ...p.fields } as RecordFields;
  Object.defineProperty(fields, 'details', {
    enumerable: true,
    get: () => (details ??= p.content.details === null ? null : (JSON.parse(p.content.details) as Record<string, unknown>)),
  });
  const write = { type: p.type, external_id: p.external_id, source: p.source, fields, sourceUpdatedAt: p.sourceUpdatedAt, deleted: p.deleted } as RecordWrite;
  Object.defineProperty(write, 'attributes', {
    enumerable: true,
    get: () => (attributes ??= JSON.parse(p.content.attributes) as Record<string, unknown>),
  });
  return write;
}
