import type { FastifyRequest } from 'fastify';

// Kept out of the inbox copy of a delivery's headers: credentials, not content.
const SECRET_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

/** One header's value as text; the first when it came more than once. */
export function headerText(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A delivery's headers as the inbox keeps them: repeated ones joined, credentials left out. */
export function inboxHeaders(req: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || SECRET_HEADERS.has(k)) continue;
    out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}
