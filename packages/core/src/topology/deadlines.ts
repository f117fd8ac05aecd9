/**
 * The run's deadlines: `drain` ends the waiting for sources, workers and sinks; `hard` ends
 * everything, the last checkpoints included. `shutdown_timeout_ms` is the moment the process has
 * exited, not the moment it starts to: `hard` fires an exit reserve of min(500 ms, a tenth) before it,
 * so closing handles and the process's own exit fit inside the deadline, and the drain ends a
 * checkpoint reserve of min(2 s, a quarter) before `hard`, so the checkpoints have time. Every wait of
 * the shutdown races one of them; the CLI's backstop ends the process at the deadline itself.
 *
 * After inputs finished on their own (a backfill, `--once`), a long drain is legitimate, so instead of
 * a fixed deadline a stall watch applies: nothing settled anywhere for `shutdown_timeout_ms` ends the
 * drain. A stop request during that drain arms the fixed deadline too.
 */

export interface StallWatch {
  /** A number that moves whenever events settle anywhere. */
  readonly progress: () => number;
  /** True when nothing is waiting to be delivered (then standing still is not a stall). */
  readonly idle: () => boolean;
  /** Called once when the drain stalled. */
  readonly onStall: (stalledMs: number) => void;
}

export class Deadlines {
  readonly drain = new AbortController();
  readonly hard = new AbortController();
  private readonly timers: NodeJS.Timeout[] = [];
  private stall: NodeJS.Timeout | undefined;
  private readonly timeoutMs: () => number;

  constructor(timeoutMs: () => number) {
    this.timeoutMs = timeoutMs;
  }

  private get reserve(): number {
    return Math.min(2000, Math.floor(this.timeoutMs() / 4));
  }

  /** Left between `hard` and `shutdown_timeout_ms` for closing handles and exiting. */
  static exitReserve(timeoutMs: number): number {
    return Math.min(500, Math.floor(timeoutMs / 10));
  }

  /** Starts the fixed deadline, counted from `since` (the stop request; idempotent). */
  arm(since = Date.now()): void {
    if (this.hard.signal.aborted || this.timers.length > 0) return;
    const hardAt = this.timeoutMs() - Deadlines.exitReserve(this.timeoutMs()) - (Date.now() - since);
    this.timers.push(
      setTimeout(() => this.drain.abort(), Math.max(0, hardAt - this.reserve)),
      setTimeout(() => this.hard.abort(), Math.max(0, hardAt)),
    );
  }

  /** Ends the drain when nothing settles for `shutdown_timeout_ms` (idempotent). */
  watchStall(w: StallWatch): void {
    if (this.stall !== undefined) return;
    const timeout = this.timeoutMs();
    let seen = w.progress();
    let still = Date.now();
    this.stall = setInterval(
      () => {
        const now = w.progress();
        if (now !== seen || w.idle()) {
          seen = now;
          still = Date.now();
        } else if (Date.now() - still >= timeout) {
          clearInterval(this.stall);
          w.onStall(Date.now() - still);
          this.drain.abort();
          this.timers.push(setTimeout(() => this.hard.abort(), this.reserve));
        }
      },
      Math.min(1000, Math.max(10, timeout / 4)),
    ).unref();
  }

  dispose(): void {
    for (const t of this.timers) clearTimeout(t);
    if (this.stall !== undefined) clearInterval(this.stall);
  }
}

/** Resolves when `p` settles or `signal` aborts, whichever first. */
export function until(p: Promise<unknown>, signal: AbortSignal): Promise<unknown> {
  return signal.aborted ? Promise.resolve() : Promise.race([p, new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }))]);
}
