/**
 * Rate-limited logging for paths that can repeat thousands of times a second (a mapping conflict on
 * every event of a busy stream, a file of garbage lines). The first occurrence of a key logs at
 * once, with its sample; later ones within the interval are only counted, and when the interval
 * ends a summary line says how many more there were (`suppressed`), so nothing is hidden, only
 * folded. Counters, not logs, carry the exact numbers. This is the one rate limiter of tern: sources,
 * transforms and sinks all use it.
 */
import type { Logger } from 'pino';
import { backgroundClock, type Clock } from '../time/clock.ts';

type Level = 'warn' | 'error' | 'info';

interface Entry {
  at: number;
  suppressed: number;
  level: Level;
  msg: string;
  fields: Record<string, unknown>;
  timer: unknown;
}

/** Keys tracked at once; a careless caller passing unbounded keys cannot grow memory past this. */
const MAX_KEYS = 1000;

export class LogLimiter {
  private readonly last = new Map<string, Entry>();
  private readonly logger: Logger;
  private readonly intervalMs: number;
  private readonly clock: Clock;

  constructor(logger: Logger, intervalMs = 10_000, clock: Clock | (() => number) = backgroundClock) {
    this.logger = logger;
    this.intervalMs = intervalMs;
    this.clock = typeof clock === 'function' ? { ...backgroundClock, now: clock } : clock;
  }

  /**
   * Logs `msg` with `fields` at `level` unless `key` logged less than the interval ago; then it is
   * counted, and reported in one summary line when the interval ends. Returns whether it logged now.
   */
  log(level: Level, key: string, fields: Record<string, unknown>, msg: string): boolean {
    const t = this.clock.now();
    const e = this.last.get(key);
    if (e !== undefined && t - e.at < this.intervalMs) {
      e.suppressed++;
      e.level = level;
      e.msg = msg;
      e.fields = fields;
      if (e.timer === undefined) {
        e.timer = this.clock.setTimeout(() => this.summarise(key), e.at + this.intervalMs - t);
        // A summary never keeps the process alive on its own.
        (e.timer as { unref?: () => void } | undefined)?.unref?.();
      }
      return false;
    }
    if (e !== undefined) this.summarise(key);
    if (this.last.size >= MAX_KEYS) this.flush();
    this.last.set(key, { at: t, suppressed: 0, level, msg, fields, timer: undefined });
    this.logger[level](fields, msg);
    return true;
  }

  /** Logs the pending summary of `key` (how many more occurrences the interval folded). */
  private summarise(key: string): void {
    const e = this.last.get(key);
    if (e === undefined) return;
    if (e.timer !== undefined) this.clock.clearTimeout(e.timer);
    e.timer = undefined;
    if (e.suppressed === 0) return;
    const n = e.suppressed;
    e.suppressed = 0;
    this.logger[e.level]({ ...e.fields, suppressed: n, interval_ms: this.intervalMs }, `${e.msg} (${n} more like this in the last ${Math.round(this.intervalMs / 1000)} s)`);
  }

  /** Logs every pending summary now (at shutdown, so the last interval is not lost) and forgets all keys. */
  flush(): void {
    for (const key of [...this.last.keys()]) this.summarise(key);
    this.last.clear();
  }
}
