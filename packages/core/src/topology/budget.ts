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
 *
 * That rule is a last resort, not a way to take large batches: under steady load (a file source
 * catching up keeps the budget in use) "nothing else in flight" may never last long enough, and a
 * batch needing most of the budget blocks every waiter behind it meanwhile. A batch a source cannot
 * size itself (a pushed request body, up to the http_server's `max_body_bytes`) is therefore taken
 * in shares (`budgetShares`), each waiting in the FIFO like any other batch.
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

/**
 * One share of the budget at most: 1/32 of `max_events` and of `max_bytes` (312 events, 256 KiB by
 * default). Small enough that a share fits beside what a busy pipeline holds, so it waits about as long
 * as any small batch; large enough that a 10 MiB body is some 40 dispatches, not thousands.
 */
export const BUDGET_SHARE_DIVISOR = 32;

/** A part of a batch and the bytes it counts for. */
export interface BudgetShare<T> {
  readonly items: T[];
  readonly bytes: number;
}

/**
 * Splits a batch into shares of at most `max_events / 32` items and about `max_bytes / 32` bytes
 * (a single item larger than that is a share of its own). `bytes` (the batch's size as the source
 * counts it, e.g. a request body's length) is spread over the items in proportion to `size(item)`, so
 * the shares add up to `bytes` exactly and the budget is returned as it was taken.
 */
export function budgetShares<T>(items: T[], bytes: number, size: (item: T) => number, limits: { readonly max_events: number; readonly max_bytes: number }): Array<BudgetShare<T>> {
  const maxItems = Math.max(1, Math.floor(limits.max_events / BUDGET_SHARE_DIVISOR));
  const maxBytes = Math.max(1, Math.floor(limits.max_bytes / BUDGET_SHARE_DIVISOR));
  let total = 0;
  for (const it of items) total += size(it);
  if (items.length <= maxItems && bytes <= maxBytes) return [{ items, bytes }];
  // Bytes per unit of `size`: the shares are cut on the caller's byte count, not the estimate's.
  const scale = total > 0 ? bytes / total : 0;
  const shares: Array<BudgetShare<T>> = [];
  let start = 0;
  let acc = 0; // scaled size of items[start, i)
  let given = 0; // bytes handed out in earlier shares
  let seen = 0; // scaled size of items[0, i)
  const cut = (end: number, last: boolean): void => {
    const b = last ? bytes - given : Math.round(seen) - given;
    shares.push({ items: items.slice(start, end), bytes: b });
    given += b;
    start = end;
    acc = 0;
  };
  for (let i = 0; i < items.length; i++) {
    const w = size(items[i] as T) * scale;
    if (i > start && (i - start >= maxItems || acc + w > maxBytes)) cut(i, false);
    acc += w;
    seen += w;
  }
  cut(items.length, true);
  return shares;
}
