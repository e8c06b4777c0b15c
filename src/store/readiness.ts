import type { Store } from './open-store.js';
import { isTransientStoreError } from './store-errors.js';

/** Webhook writes failing in a row (for a passing reason) that make the service not ready. */
const FAILED_WRITES_NOT_READY = 3;
/** Failed writes older than this no longer count: with no traffic, the probe alone decides. */
const FAILED_WRITES_FORGET_MS = 30_000;
/** A probe answering later than this counts as a store that does not answer. */
const PROBE_TIMEOUT_MS = 1_500;

/** Not ready because of the last writes, or of the probe. */
export type Readiness = { ready: true } | { ready: false; by: 'writes' | 'probe'; reason: string };

export interface ReadinessOptions {
  failedWrites?: number;
  forgetMs?: number;
  probeTimeoutMs?: number;
}

/**
 * Whether the store takes writes, answered within the probe's timeout
 * whatever the store does: not ready after several webhook writes in a row
 * failed for a passing reason (a full disk answers `select 1` but refuses
 * every write), or when `select 1` fails or takes longer than 1.5 s (a
 * frozen server never answers). One probe at a time: while one hangs, later
 * checks are told so at once instead of piling more queries on the store.
 */
export class StoreReadiness {
  private failedInRow = 0;
  private lastFailureAt = 0;
  private probe: Promise<void> | null = null;
  private probeStartedAt = 0;
  private readonly failedWrites: number;
  private readonly forgetMs: number;
  private readonly probeTimeoutMs: number;

  constructor(
    private readonly store: Store,
    options: ReadinessOptions = {},
  ) {
    this.failedWrites = options.failedWrites ?? FAILED_WRITES_NOT_READY;
    this.forgetMs = options.forgetMs ?? FAILED_WRITES_FORGET_MS;
    this.probeTimeoutMs = options.probeTimeoutMs ?? PROBE_TIMEOUT_MS;
  }

  /** A webhook write committed: the store takes writes. */
  writeSucceeded(): void {
    this.failedInRow = 0;
  }

  /** A webhook write failed; only a passing failure (busy, full, unreachable) says anything about readiness. */
  writeFailed(err: unknown): void {
    if (!isTransientStoreError(err)) return;
    this.failedInRow++;
    this.lastFailureAt = Date.now();
  }

  async check(): Promise<Readiness> {
    if (this.failedInRow >= this.failedWrites) {
      if (Date.now() - this.lastFailureAt < this.forgetMs) {
        return { ready: false, by: 'writes', reason: `the last ${this.failedInRow} webhook writes failed` };
      }
      this.failedInRow = 0;
    }
    // Checks that come together share one probe; one that hangs past the
    // timeout answers later checks at once instead of piling up queries.
    let probe = this.probe;
    if (probe && Date.now() - this.probeStartedAt >= this.probeTimeoutMs) {
      return { ready: false, by: 'probe', reason: `the store has not answered a probe within ${this.probeTimeoutMs} ms` };
    }
    if (!probe) {
      const started = this.store.dialect.ping(this.store.db);
      probe = started;
      this.probe = started;
      this.probeStartedAt = Date.now();
      // The probe is cleared when it settles, however late: at most one is ever in flight.
      started.then(
        () => this.clearProbe(started),
        () => this.clearProbe(started),
      );
    }
    const waitMs = this.probeTimeoutMs - (Date.now() - this.probeStartedAt);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), waitMs);
    });
    try {
      const outcome = await Promise.race([probe.then(() => 'ok' as const), timeout]);
      if (outcome === 'timeout') return { ready: false, by: 'probe', reason: `the store did not answer a probe within ${this.probeTimeoutMs} ms` };
      return { ready: true };
    } catch {
      // The store's own error stays out of a public answer; outages are logged where writes fail.
      return { ready: false, by: 'probe', reason: 'the store refused a probe' };
    } finally {
      clearTimeout(timer);
    }
  }

  private clearProbe(probe: Promise<void>): void {
    if (this.probe === probe) this.probe = null;
  }
}
