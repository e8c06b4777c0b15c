import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiError } from '../../errors.js';

/**
 * Where `npm run build` puts the console (vite's outDir). The same relative
 * path works from src/http/routes (npm run dev) and dist/http/routes (npm start).
 */
export const UI_ROOT = fileURLToPath(new URL('../../../dist/ui/', import.meta.url));

/** Only the service's own origin: no CDN, no inline script or style, no framing. */
export const UI_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

// Shown when the console has not been built: the service still runs, and says what to do.
const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Tributary console</title></head>
<body><h1>The console is not built</h1><p>Run <code>npm run build</code>, then reload this page.</p></body></html>`;

export interface UiRoutesOptions {
  /** The built console's folder (default UI_ROOT). */
  root?: string;
}

const isFile = (path: string): boolean => {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
};

/** A relative path inside the console's folder, or null for anything that could step out of it or name a hidden file. */
function safeRelative(wildcard: string): string | null {
  if (wildcard.length > 300 || /[\0\\]/.test(wildcard)) return null;
  const segments = wildcard.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..' || s.startsWith('.') || /%/.test(s))) return null;
  return segments.join('/');
}

/**
 * The operator console: static files at /ui/, with the page itself for every
 * other /ui/ path (the console routes in the browser), and / sent there.
 * Public: the page holds no data; every call it makes wants the API key.
 * Kept out of the OpenAPI document (not API routes).
 */
export const uiRoutes: FastifyPluginAsync<UiRoutesOptions> = async (app, options) => {
  const root = options.root ?? UI_ROOT;
  await app.register(fastifyStatic, { root, serve: false, index: false, dotfiles: 'deny', wildcard: false });

  app.addHook('onSend', async (req, reply, payload) => {
    if (req.url.startsWith('/ui')) {
      reply.header('content-security-policy', UI_CSP);
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'no-referrer');
      reply.header('x-frame-options', 'DENY');
    }
    return payload;
  });

  const page = (reply: FastifyReply): FastifyReply => {
    // The page is small and names hashed assets: always revalidate it.
    reply.header('cache-control', 'no-cache');
    if (!isFile(join(root, 'index.html'))) return reply.type('text/html; charset=utf-8').send(NOT_BUILT);
    return reply.sendFile('index.html', root, { cacheControl: false });
  };

  const hidden = { schema: { hide: true } };
  // The service's root is the console's front door (CONTRACT: `/` redirects there); the API is at /docs.
  app.get('/', hidden, async (_req, reply) => reply.redirect('/ui/', 302));
  app.get('/ui', hidden, async (_req, reply) => reply.redirect('/ui/', 302));
  app.get('/ui/', hidden, async (_req, reply) => page(reply));
  app.get<{ Params: { '*': string } }>('/ui/*', hidden, async (req, reply) => {
    const rel = safeRelative(req.params['*']);
    if (rel === null) throw new ApiError('not_found', 'no such file in the console');
    if (isFile(join(root, rel))) {
      // Vite names assets by content hash: they never change.
      if (rel.startsWith('assets/')) return reply.sendFile(rel, root, { maxAge: '365d', immutable: true });
      return reply.sendFile(rel, root);
    }
    // A missing file (a name with an extension) is a 404; any other path is a page of the console.
    if (/\.[A-Za-z0-9]+$/.test(rel)) throw new ApiError('not_found', 'no such file in the console');
    return page(reply);
  });
};
