import { ApiError } from '../errors.js';
import type { PagePosition } from '../store/record-queries.js';

/** Cursors are opaque to clients: base64url of a small JSON position. */
export function encodeCursor(p: PagePosition): string {
  const raw = p.kind === 'row' ? { r: p.rowId } : { u: p.updatedAt, r: p.rowId };
  return Buffer.from(JSON.stringify(raw)).toString('base64url');
}

export function decodeCursor(cursor: string): PagePosition {
  const bad = () =>
    new ApiError('validation', 'cursor is not one this service issued', { errors: [{ path: '/query/cursor', message: 'is not a valid cursor' }] });
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw bad();
  const { r, u } = parsed as { r?: unknown; u?: unknown };
  const isId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (!isId(r)) throw bad();
  if (u === undefined) return { kind: 'row', rowId: r };
  if (!isId(u)) throw bad();
  return { kind: 'change', updatedAt: u, rowId: r };
}
