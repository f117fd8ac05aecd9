/**
 * Rate-limited logging for failure paths that can repeat thousands of times a second (a mapping
 * conflict on every event of a busy stream). The first occurrence of a key logs at once; later ones
 * within the interval are only counted, and the next line that gets through says how many were
 * suppressed. Counters, not logs, carry the exact numbers.
 */
import type { Logger } from 'pino';

export class LogLimiter {
  private readonly last = new Map<string, { at: number; suppressed: number }>();
  private readonly logger: Logger;
  private readonly intervalMs: number;
  private readonly now: () => number;

  constructor(logger: Logger, intervalMs = 10_000, now: () => number = Date.now) {
    this.logger = logger;
    this.intervalMs = intervalMs;
    this.now = now;
  }

  /** Logs `msg` with `fields` at `level` unless `key` logged less than the interval ago. Returns whether it logged. */
  log(level: 'warn' | 'error' | 'info', key: string, fields: Record<string, unknown>, msg: string): boolean {
    const t = this.now();
    const e = this.last.get(key);
    if (e !== undefined && t - e.at < this.intervalMs) {
      e.suppressed++;
      return false;
    }
    const suppressed = e?.suppressed ?? 0;
    // Bounded: keys are a few failure classes per sink, but a careless caller could pass reasons.
    if (this.last.size > 1000) this.last.clear();
    this.last.set(key, { at: t, suppressed: 0 });
    this.logger[level](suppressed > 0 ? { ...fields, suppressed } : fields, msg);
    return true;
  }
}
