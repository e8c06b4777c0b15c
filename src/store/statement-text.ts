/** Pieces the hand-written bulk statements (record-statements, inbox-statements) are built from. */

/** `items` in runs of at most `size`, in order: one statement per run. */
export function chunked<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** A scalar as a JSON value inside a row object for json_to_recordset; null and undefined alike as null. */
export const jsonText = (v: unknown): string => (v === null || v === undefined ? 'null' : JSON.stringify(v));
