import { setImmediate as nextTurn } from 'node:timers/promises';

interface Out<T> {
  key: string;
  response: Promise<T>;
  stop: AbortController;
  settled: boolean;
}

/**
 * The requests a connector keeps out ahead of the page it hands on, so that
 * upstream's time overlaps ours: mapping the page, and the runner committing
 * it. Each connector says how many (`inFlight`): as many as its upstream
 * allows and its walk can predict (a keyset walk knows only the next one).
 *
 * Requests are made for positions (an offset, a cursor, a saved checkpoint).
 * A position asked for ahead is answered by that request; when the walk goes
 * elsewhere (a deletion upstream shifted the offsets), the requests asked
 * ahead for the old path are aborted and the new position is asked anew.
 *
 * With `follow`, a response that arrives while the walk is busy (the runner
 * committing the page before) leads on to the next request at once, from
 * the position it names: a walk whose next position is known only from the
 * page before (a cursor, a link) keeps upstream busy all the same. At most
 * one page waits answered beyond those in flight.
 */
export class RequestsAhead<P, T> {
  private readonly out: Array<Out<T>> = [];

  constructor(
    private readonly inFlight: number,
    private readonly fetch: (position: P, signal: AbortSignal) => Promise<T>,
    private readonly signal: AbortSignal,
    private readonly keyOf: (position: P) => string = (p) => JSON.stringify(p),
    private readonly follow?: (response: T) => P | null,
  ) {
    if (!Number.isSafeInteger(inFlight) || inFlight < 1) throw new RangeError(`requests in flight must be a whole number from 1, not ${inFlight}`);
  }

  /** The response at `position`: the request asked ahead for it, or one asked now. */
  take(position: P): Promise<T> {
    const key = this.keyOf(position);
    const first = this.out[0];
    if (first?.key === key) {
      this.out.shift();
      return first.response;
    }
    this.drop();
    return this.start(position, key).response;
  }

  /**
   * Asks for the walk's next positions, in order, keeping at most `inFlight`
   * out (those asked already for the same positions stay out), then gives
   * the event loop one turn, so they are on the wire before the caller works
   * on the page it holds.
   */
  async ahead(next: readonly P[]): Promise<void> {
    const wanted = next.slice(0, this.inFlight);
    const keys = wanted.map((p) => this.keyOf(p));
    const kept = this.out.findIndex((o, i) => o.key !== keys[i]);
    if (kept >= 0) this.drop(kept);
    for (let i = this.out.length; i < wanted.length; i++) this.out.push(this.start(wanted[i] as P, keys[i] as string));
    await nextTurn();
  }

  /** Aborts the requests still out from the `from`-th on (all: the walk is over). */
  drop(from = 0): void {
    for (const o of this.out.splice(from)) o.stop.abort();
  }

  private start(position: P, key: string): Out<T> {
    this.signal.throwIfAborted();
    const stop = new AbortController();
    const response = this.fetch(position, AbortSignal.any([this.signal, stop.signal]));
    const out: Out<T> = { key, response, stop, settled: false };
    response.then(
      (value) => {
        out.settled = true;
        this.followOn(out, value);
      },
      // Awaited in turn, or dropped; until then a rejection (an abort) is not unhandled.
      () => void (out.settled = true),
    );
    return out;
  }

  /** A response arrived: asks for the position it leads to, if it is the last asked and there is room. */
  private followOn(out: Out<T>, value: T): void {
    if (!this.follow || out.stop.signal.aborted || this.signal.aborted) return;
    // Taken already (the walk asks ahead itself), or something was asked after it.
    if (this.out.at(-1) !== out) return;
    if (this.out.length > this.inFlight || this.out.filter((o) => !o.settled).length >= this.inFlight) return;
    const next = this.follow(value);
    if (next !== null) this.out.push(this.start(next, this.keyOf(next)));
  }
}
