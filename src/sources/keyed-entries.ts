import type { Logger } from 'pino';

/** An upstream entry the mappings can key: an object with a non-empty string `id`. */
export function hasStringId(entry: unknown): entry is { id: string } {
  return typeof entry === 'object' && entry !== null && typeof (entry as { id?: unknown }).id === 'string' && (entry as { id: string }).id !== '';
}

/**
 * The entries of a page that can be keyed. The others (null, no id) are
 * skipped with a warning: one odd entry must not fail every retry of a run.
 * Paging still counts them, so offsets do not move.
 */
export function keyedEntries<T extends { id: string }>(entries: readonly unknown[], log: Logger, what: string): T[] {
  const keyed = entries.filter(hasStringId) as T[];
  if (keyed.length < entries.length) log.warn({ skipped: entries.length - keyed.length }, `${what} without an id skipped`);
  return keyed;
}
