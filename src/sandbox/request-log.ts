import type { IncomingHttpHeaders } from 'node:http';
import type { FaultKind } from './faults.js';

/** One request as a fake server saw it. */
export interface RequestLogEntry {
  method: string;
  /** Path without the query string, e.g. `/crm/v3/objects/contacts`. */
  path: string;
  /** Query parameters; a repeated name has its values joined with commas. */
  query: Record<string, string>;
  /** The parsed JSON body; the raw text when it was not JSON; undefined when empty. */
  body: unknown;
  headers: IncomingHttpHeaders;
  /** Arrival time, ms since the epoch. */
  time: number;
  /** Status sent, once the answer started; undefined while pending or when the fault sent none. */
  status?: number;
  /** Set when an injected fault answered this request. */
  fault?: FaultKind;
}

/**
 * What the fake received, for tests to inspect (did the client retry, which
 * cursor did it send) and clear. Bounded so a million-record benchmark does
 * not turn the log into the memory hog: only the newest `limit` entries stay.
 */
export class RequestLog {
  private items: RequestLogEntry[] = [];

  constructor(private readonly limit = 10_000) {}

  /** Record an arrival; the server fills in `status` and `fault` later on the same object. */
  add(entry: RequestLogEntry): RequestLogEntry {
    this.items.push(entry);
    if (this.items.length > this.limit) this.items.splice(0, this.items.length - this.limit);
    return entry;
  }

  /** Every kept entry, oldest first. */
  get entries(): readonly RequestLogEntry[] {
    return this.items;
  }

  /** Entries whose path starts with `pathPrefix` (and whose method matches, when given). */
  matching(pathPrefix: string, method?: string): RequestLogEntry[] {
    return this.items.filter((e) => e.path.startsWith(pathPrefix) && (method === undefined || e.method === method));
  }

  get length(): number {
    return this.items.length;
  }

  clear(): void {
    this.items = [];
  }
}
