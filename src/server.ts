import v8 from 'node:v8';
import { ConfigError, loadConfig, type Config } from './config.js';
import { LISTENING_MESSAGE, type ListeningMessage } from './server-messages.js';

// V8 lets the heap grow to about four times what survives a full collection
// before it collects again. A sync allocates fast and keeps little (about
// 35 MB live), so a 1M-record sync peaked at 260+ MB RSS; growing by at most
// 2.5x keeps it near 200 MB for a few percent of its speed (300k records:
// 263 MiB at 62k records/s by default, 207 MiB at 57k/s with 150).
v8.setFlagsFromString('--heap-growing-percent=150');

function describeDatabase(config: Config): string {
  if (config.database.kind === 'sqlite') return `sqlite:${config.database.path}`;
  const url = new URL(config.database.url);
  if (url.password) url.password = '***';
  return url.toString();
}

/** Process concerns only: configuration, logger, store, listen, graceful close. */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  // Loaded only once the configuration is good: a bad value is reported at
  // once, without first loading the whole HTTP stack and database drivers.
  const [{ pino }, { buildApp }, { openStore }] = await Promise.all([import('pino'), import('./app.js'), import('./store/open-store.js')]);
  const logger = pino({ level: config.logLevel, base: { service: 'tributary' } });
  if (config.apiKeys.length === 0) logger.warn('API_KEY is not set: every route is open to anyone who can reach this port');
  if (config.webhookSecrets.length === 0) logger.warn('WEBHOOK_SECRET is not set: unsigned webhooks are accepted');

  const store = await openStore(config.database, { log: logger, lockWaitMs: config.storeLockWaitMs });
  const app = await buildApp({ config, store, logger });

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests and flushing the writer');
    const force = setTimeout(() => {
      logger.error('shutdown took over 10 s; exiting');
      process.exit(1);
    }, 10_000);
    force.unref();
    // A keep-alive connection whose request was in flight goes idle only after
    // its answer, and would then hold server.close() (and the writer flush
    // after it) until its keep-alive timeout: close such connections as they idle.
    const reapIdle = setInterval(() => app.server.closeIdleConnections(), 50);
    reapIdle.unref();
    app
      .close()
      .then(() => store.close())
      .then(() => {
        logger.info('shut down cleanly');
        process.exit(0);
      })
      .catch((err: unknown) => {
        logger.error({ err }, 'error during shutdown');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // Started by the demo with an IPC channel: a parent that is gone (killed) takes the server with it.
  if (process.send) process.once('disconnect', () => shutdown('disconnect'));

  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new ConfigError('PORT', `${config.port} is taken on ${config.host} by another process: stop it, or choose another port (PORT=8001)`);
    }
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EADDRNOTAVAIL') {
      throw new ConfigError('HOST', `cannot be listened on ("${config.host}": ${describeError(err)})`);
    }
    throw err;
  }
  // The bound port, not the asked one: PORT=0 takes any free port.
  const bound = app.server.address();
  const port = typeof bound === 'object' && bound !== null ? bound.port : config.port;
  logger.info({ host: config.host, port, database: describeDatabase(config) }, 'tributary listening');
  const listening: ListeningMessage = { type: LISTENING_MESSAGE, host: config.host, port };
  process.send?.(listening);
}

/** One line for a start-up failure: AggregateError (every address of a host refused) has an empty message of its own. */
function describeError(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    const inner = [...new Set(err.errors.map(describeError))].join('; ');
    return err.message ? `${err.message}: ${inner}` : inner;
  }
  if (err instanceof Error) return (err.message || err.name).replace(/\s*\n\s*/g, ' ');
  return String(err);
}

main().catch((err: unknown) => {
  // Found after loadConfig (a schedule naming no source, a HOST or SQLite file that cannot be used): still one line naming the variable.
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`tributary failed to start: ${describeError(err)}\n`);
  process.exit(1);
});
