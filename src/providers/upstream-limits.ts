import type { UpstreamLimits } from '../config/index.js';
import type { SourceClientOptions } from '../sources/http-client.js';

/** A provider's configured limits as its client takes them. */
export function limitsOf(l: UpstreamLimits): Pick<SourceClientOptions, 'concurrency' | 'rateLimit'> {
  // A null limit ("off") must reach the client as an explicit undefined, so it overrides the connector's default.
  return { concurrency: l.concurrency, rateLimit: l.rateLimit ?? undefined };
}
