/**
 * The in-flight budget: the one bound on memory for a whole pipeline.
 *
 * A source takes budget for a batch before dispatching it, and gets it back when the batch's
 * `AckGroup` completes (every sink delivered or rejected it). When the budget is spent, `acquire`
 * makes the source wait, which is the backpressure: a sink ten times slower than its input holds at
 * most `max_events` / `max_bytes` of events and its sources read at its pace. Waiters are served in
 * FIFO order so one busy source cannot starve another. A batch larger than the whole budget is let
 * through when nothing else is in flight, so a too-small budget slows things down but never
 * deadlocks.
 */

interface Waiter {
  events: number;
  bytes: number;
  resolve: () => void;
}

/** The error an aborted `acquire` rejects with: no budget was taken, the caller dispatched nothing. */
export class BudgetAbortError extends Error {
  constructor(reason: unknown) {
    super(reason instanceof Error ? reason.message : 'in-flight budget wait aborted', { cause: reason });
    this.name = 'AbortError';
  }
}

export class InFlightBudget {
  maxEvents: number;
  maxBytes: number;
  events = 0;
  bytes = 0;
  /** Events returned so far (acknowledged): a drain that stops moving this is stalled. */
  released = 0;
  private readonly waiters: Waiter[] = [];
  private idleWaiters: Array<() => void> = [];

  constructor(maxEvents: number, maxBytes: number) {
    this.maxEvents = maxEvents;
    this.maxBytes = maxBytes;
  }

  private fits(events: number, bytes: number): boolean {
    if (this.events === 0 && this.bytes === 0) return true;
    return this.events + events <= this.maxEvents && this.bytes + bytes <= this.maxBytes;
  }

  /**
   * Takes budget; returns undefined when granted at once (no promise on the fast path). A wait ends
   * when budget returns, or when `signal` aborts: the promise then rejects with `BudgetAbortError`
   * and no budget is held, so a source blocked here can always honour a stop deadline.
   */
  acquire(events: number, bytes: number, signal?: AbortSignal): Promise<void> | undefined {
    if (this.waiters.length === 0 && this.fits(events, bytes)) {
      this.events += events;
      this.bytes += bytes;
      return undefined;
    }
    if (signal?.aborted) return Promise.reject(new BudgetAbortError(signal.reason));
    return new Promise((resolve, reject) => {
      const w: Waiter = { events, bytes, resolve };
      if (signal !== undefined) {
        const onAbort = (): void => {
          const i = this.waiters.indexOf(w);
          if (i < 0) return; // granted meanwhile
          this.waiters.splice(i, 1);
          reject(new BudgetAbortError(signal.reason));
          // The head may have been the one blocking smaller waiters behind it.
          this.grant();
        };
        signal.addEventListener('abort', onAbort, { once: true });
        w.resolve = () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
      }
      this.waiters.push(w);
    });
  }

  /** A reload changed `in_flight`: new limits apply from now on (waiters that fit now are served). */
  resize(maxEvents: number, maxBytes: number): void {
    this.maxEvents = maxEvents;
    this.maxBytes = maxBytes;
    this.grant();
  }

  /** Waiters still queued for budget. */
  get waiting(): number {
    return this.waiters.length;
  }

  release(events: number, bytes: number): void {
    this.released += events;
    this.events -= events;
    this.bytes -= bytes;
    this.grant();
    if (this.events === 0 && this.idleWaiters.length) {
      const ws = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of ws) w();
    }
  }

  private grant(): void {
    while (this.waiters.length > 0) {
      const w = this.waiters[0] as Waiter;
      if (!this.fits(w.events, w.bytes)) break;
      this.waiters.shift();
      this.events += w.events;
      this.bytes += w.bytes;
      w.resolve();
    }
  }

  /** Resolves when nothing is in flight. */
  idle(): Promise<void> {
    if (this.events === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
