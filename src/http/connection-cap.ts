import fs from 'node:fs';

/** Descriptors kept free for everything else the process opens: database connections, SQLite's files, logs. */
export const FILE_LIMIT_MARGIN = 128;

/** The process's soft limit on open files (Linux, from /proc/self/limits); null where it cannot be read or is unlimited. */
export function openFileLimit(): number | null {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return null;
  }
  const m = /^Max open files\s+(\d+)\s/m.exec(text);
  return m ? Number(m[1]) : null;
}

/**
 * MAX_CONNECTIONS as applied: past the file limit, accepting a connection
 * fails (EMFILE) and the process can open nothing else either, its database
 * connections included; so the cap stays a margin below it.
 */
export function connectionCap(configured: number, fileLimit: number | null): number {
  if (fileLimit === null) return configured;
  return Math.max(1, Math.min(configured, fileLimit - FILE_LIMIT_MARGIN));
}
