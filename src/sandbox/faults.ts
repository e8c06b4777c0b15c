/**
 * Fault injection for the fake upstream servers, shared by both providers.
 *
 * Tests queue faults at run time; each request that reaches a fake (after
 * authentication, so a refused request never uses one up) takes the first
 * queued fault whose path prefix matches. A fault answers `times` requests,
 * optionally after letting `skip` matching requests through untouched, then
 * leaves the queue. Latency is not queued: it is a standing setting applied to
 * every matching request, for benchmarks that want realistic round trips.
 *
 * This module only decides *which* fault applies; `fake-server.ts` carries it
 * out, and each provider renders its own error bodies.
 */

/** Fields every fault shares. */
export interface FaultScope {
  /** Only requests whose path starts with this are affected (the whole path, e.g. `/3.0/campaigns`). */
  pathPrefix?: string;
  /** How many matching requests this fault answers before it is spent (default 1; `Infinity` for all). */
  times?: number;
  /** Let this many matching requests through untouched first (default 0): "fail on the third page". */
  skip?: number;
}

/** Answer with an HTTP error status in the provider's error shape. */
export interface StatusFault extends FaultScope {
  kind: 'status';
  status: number;
  /** `Retry-After` header value in seconds; omitted when undefined. */
  retryAfterSeconds?: number;
  /** Which limit was hit, for a fake whose 429 body names it (others ignore it). */
  policyName?: string;
  /** Replace the provider's error body: a string is sent raw (e.g. an HTML gateway page), anything else as JSON. */
  body?: unknown;
  /** Extra response headers. */
  headers?: Record<string, string>;
}

/** Never answer (or answer the headers and then nothing). The client must give up on its own. */
export interface HangFault extends FaultScope {
  kind: 'hang';
  /** Send the status line and headers first, then stall the body forever. */
  afterHeaders?: boolean;
}

/** Send the headers at once, then trickle the real body out in slow chunks. */
export interface SlowFault extends FaultScope {
  kind: 'slow';
  /** Pause before each chunk, in ms (default 100). */
  chunkDelayMs?: number;
  /** How many pieces the body is cut into (default 10). */
  chunks?: number;
}

/** Answer 200 with a body a careful client must reject. */
export interface MalformedFault extends FaultScope {
  kind: 'malformed';
  /**
   * - `invalid-json`: the real page cut off halfway.
   * - `missing-collection`: valid JSON without the record array (the provider's `collectionKey`).
   * - `empty-body`: 200 with a zero-length body.
   */
  variant: MalformedVariant;
}

/** Drop the TCP connection without answering (ECONNRESET / "socket hang up" on the client). */
export interface ResetFault extends FaultScope {
  kind: 'reset';
}

export type FaultSpec = StatusFault | HangFault | SlowFault | MalformedFault | ResetFault;
export type FaultKind = FaultSpec['kind'];
export type MalformedVariant = 'invalid-json' | 'missing-collection' | 'empty-body';

/** Options of the convenience methods: the spec without its `kind` (and its required fields as arguments). */
export type StatusFaultOptions = Omit<StatusFault, 'kind' | 'status'>;
export type RateLimitOptions = Omit<StatusFault, 'kind' | 'status' | 'retryAfterSeconds'> & {
  /** `Retry-After` in seconds (default 1); `null` sends no header. */
  retryAfterSeconds?: number | null;
};

/** A queued fault as seen by the test that queued it. */
export interface InjectedFault {
  readonly spec: Readonly<FaultSpec>;
  /** Requests this fault has answered so far. */
  readonly hits: number;
  /** Answers left before it is spent. */
  readonly remaining: number;
  /** Take it out of the queue now. */
  cancel(): void;
}

class QueuedFault implements InjectedFault {
  hits = 0;
  private skipped = 0;
  cancelled = false;

  constructor(
    readonly spec: Readonly<FaultSpec>,
    private readonly owner: FaultInjector,
  ) {}

  get remaining(): number {
    return this.cancelled ? 0 : Math.max(0, (this.spec.times ?? 1) - this.hits);
  }

  matches(path: string): boolean {
    return this.spec.pathPrefix === undefined || path.startsWith(this.spec.pathPrefix);
  }

  /** True when this request is to be answered by the fault; false when it is one of the skipped ones. */
  consume(): boolean {
    if (this.skipped < (this.spec.skip ?? 0)) {
      this.skipped += 1;
      return false;
    }
    this.hits += 1;
    return true;
  }

  cancel(): void {
    this.cancelled = true;
    this.owner.forget(this);
  }
}

interface LatencySetting {
  ms: number;
  pathPrefix?: string;
}

export class FaultInjector {
  private queue: QueuedFault[] = [];
  private latency: LatencySetting = { ms: 0 };

  constructor(latencyMs = 0) {
    this.setLatency(latencyMs);
  }

  /** Queue any fault. */
  add(spec: FaultSpec): InjectedFault {
    const times = spec.times ?? 1;
    if (!(times >= 1)) throw new RangeError(`fault times must be at least 1, got ${times}`);
    if ((spec.skip ?? 0) < 0) throw new RangeError('fault skip must not be negative');
    const fault = new QueuedFault({ ...spec }, this);
    this.queue.push(fault);
    return fault;
  }

  /** Answer with `status` (e.g. a burst of 500/502/503) in the provider's error shape. */
  status(status: number, options: StatusFaultOptions = {}): InjectedFault {
    return this.add({ ...options, kind: 'status', status });
  }

  /** 429 with `Retry-After` (default 1 s); a fake whose body names the limit shows `policyName`. */
  rateLimit(options: RateLimitOptions = {}): InjectedFault {
    const { retryAfterSeconds = 1, ...rest } = options;
    return this.add({
      policyName: 'TEN_SECONDLY_ROLLING',
      ...rest,
      kind: 'status',
      status: 429,
      ...(retryAfterSeconds === null ? {} : { retryAfterSeconds }),
    });
  }

  hang(options: Omit<HangFault, 'kind'> = {}): InjectedFault {
    return this.add({ ...options, kind: 'hang' });
  }

  slow(options: Omit<SlowFault, 'kind'> = {}): InjectedFault {
    return this.add({ ...options, kind: 'slow' });
  }

  malformed(variant: MalformedVariant, options: Omit<MalformedFault, 'kind' | 'variant'> = {}): InjectedFault {
    return this.add({ ...options, kind: 'malformed', variant });
  }

  reset(options: Omit<ResetFault, 'kind'> = {}): InjectedFault {
    return this.add({ ...options, kind: 'reset' });
  }

  /**
   * The time from a matching request to its answer, the answer's making
   * included (an injected fault waits it out first); 0 turns it off.
   * Replaces any earlier setting.
   */
  setLatency(ms: number, options: { pathPrefix?: string } = {}): void {
    if (!(ms >= 0) || !Number.isFinite(ms)) throw new RangeError(`latency must be a finite number of ms >= 0, got ${ms}`);
    this.latency = { ms, ...(options.pathPrefix === undefined ? {} : { pathPrefix: options.pathPrefix }) };
  }

  /** The delay a request to `path` gets. */
  latencyFor(path: string): number {
    const { ms, pathPrefix } = this.latency;
    return pathPrefix === undefined || path.startsWith(pathPrefix) ? ms : 0;
  }

  /** Faults still queued. */
  get pending(): number {
    return this.queue.length;
  }

  /** Drop every queued fault and turn latency off. */
  clear(): void {
    for (const fault of this.queue) fault.cancelled = true;
    this.queue = [];
    this.latency = { ms: 0 };
  }

  /**
   * The fault that answers this request, if any, using one of its answers up.
   * Called by the fake server once per authenticated request.
   */
  take(path: string): Readonly<FaultSpec> | undefined {
    for (const fault of this.queue) {
      if (!fault.matches(path)) continue;
      if (!fault.consume()) return undefined; // a skipped request goes through untouched
      if (fault.remaining === 0) this.forget(fault);
      return fault.spec;
    }
    return undefined;
  }

  /** @internal */
  forget(fault: QueuedFault): void {
    this.queue = this.queue.filter((f) => f !== fault);
  }
}
