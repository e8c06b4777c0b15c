import type { Logger } from 'pino';

interface Window {
  start: number;
  failures: number;
  /** Requests refused with 429 in this window. */
  refused: number;
}

/** Addresses followed at once; past it the oldest window is closed early (a spread-out attack cannot grow memory without end). */
const MAX_ADDRESSES = 100_000;

/**
 * AUTH_FAILURE_LIMIT: failed API key checks per client address in a fixed
 * window. Past the limit every request of that address is refused until its
 * window ends, a right key included: otherwise a guesser would still learn
 * which guess was right. Failures are logged at warn once per address and
 * window, with their count, when the window closes.
 */
export class AuthFailureThrottle {
  private readonly windows = new Map<string, Window>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly limit: { readonly max: number; readonly windowMs: number },
    private readonly log: Pick<Logger, 'warn'>,
    private readonly now: () => number = Date.now,
  ) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(limit.windowMs, 10_000));
    this.sweeper.unref();
  }

  /** Seconds this address must wait when it is over the limit (the request is refused), else null. */
  refusal(address: string): number | null {
    const w = this.current(address);
    if (!w || w.failures < this.limit.max) return null;
    w.refused++;
    return Math.max(1, Math.ceil((w.start + this.limit.windowMs - this.now()) / 1000));
  }

  /** A failed key check from this address. */
  failed(address: string): void {
    let w = this.current(address);
    if (!w) {
      if (this.windows.size >= MAX_ADDRESSES) this.sweep();
      const oldest = this.windows.size >= MAX_ADDRESSES ? this.windows.keys().next().value : undefined;
      if (oldest !== undefined) this.close(oldest);
      w = { start: this.now(), failures: 0, refused: 0 };
      this.windows.set(address, w);
    }
    w.failures++;
  }

  /** Logs every open window and stops the sweeper. */
  stop(): void {
    clearInterval(this.sweeper);
    for (const address of [...this.windows.keys()]) this.close(address);
  }

  /** The address's window if it is still open; a closed one is logged and dropped. */
  private current(address: string): Window | undefined {
    const w = this.windows.get(address);
    if (w && this.now() >= w.start + this.limit.windowMs) {
      this.close(address);
      return undefined;
    }
    return w;
  }

  private sweep(): void {
    const now = this.now();
    for (const [address, w] of this.windows) if (now >= w.start + this.limit.windowMs) this.close(address);
  }

  private close(address: string): void {
    const w = this.windows.get(address);
    if (!w) return;
    this.windows.delete(address);
    this.log.warn(
      { address, failures: w.failures, refused: w.refused, window_ms: this.limit.windowMs, throttled: w.failures >= this.limit.max },
      'failed API key checks from one address',
    );
  }
}
