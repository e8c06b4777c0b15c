/**
 * better-sqlite3 is a native module, built for one Node.js ABI at install.
 * Switching Node.js after `npm ci` makes its first use fail with a dlopen
 * error that names NODE_MODULE_VERSION; without this it read as "a SQLite
 * file that cannot be opened", which sends one looking at the file.
 */

/** The native module could not be loaded: says why and what fixes it. */
export class SqliteAddonError extends Error {
  constructor(
    detail: string,
    override readonly cause: unknown,
  ) {
    super(detail);
    this.name = 'SqliteAddonError';
  }
}

const FIX = 'run `npm rebuild better-sqlite3` (or `npm ci`) with the Node.js that runs Tributary';

/** A SqliteAddonError for a failure to load better-sqlite3's native module (found on err or its causes), else null. */
export function sqliteAddonError(err: unknown): SqliteAddonError | null {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    const versions = [...e.message.matchAll(/NODE_MODULE_VERSION (\d+)/g)].map((m) => m[1]);
    if (versions.length > 0) {
      const built = versions[0];
      return new SqliteAddonError(
        `better-sqlite3's native module was built for another Node.js version (NODE_MODULE_VERSION ${built}; Node.js ${process.version} needs ${process.versions.modules}): ${FIX}`,
        err,
      );
    }
    if (code === 'ERR_DLOPEN_FAILED') {
      const reason = e.message.replace(/\s*\n\s*/g, ' ');
      return new SqliteAddonError(`better-sqlite3's native module cannot be loaded (${reason}): ${FIX}`, err);
    }
  }
  return null;
}
