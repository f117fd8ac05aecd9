/**
 * Alert hygiene: at most one message per key per interval. A chatty rule firing on every `cat` in
 * a crash-looping pod would otherwise bury a channel (and hit Slack's 1 message/s limit, §4.2).
 *
 * The window of a key starts with a message that was let through; repeats inside it are
 * suppressed and counted, and the first event after it goes through carrying that count, so the
 * message can say "(N similar alerts suppressed)". Keys live in a bounded map with least-recently-
 * seen eviction (a Map keeps insertion order; touching a key re-inserts it), so a storm of distinct
 * keys costs memory up to `max_keys`, never more; a forgotten key simply sends again.
 *
 * The decision is taken when the sink accepts a batch, not in `encode` (which must stay pure and
 * may run again for retries and splits): a suppressed event never enters delivery.
 */
import { stringify, parsePath, getIn, type Path } from './template.ts';
import { describe } from './describe.ts';

interface Entry {
  /** When the window started (the last message let through). */
  at: number;
  /** Repeats suppressed since then. */
  suppressed: number;
}

export interface RateLimiterOptions {
  readonly keyFields: readonly string[];
  readonly intervalMs: number;
  readonly maxKeys: number;
  readonly now: () => number;
}

/** Verdict for one event: `send` with the count suppressed before it, or `suppress`. */
export type Verdict = { readonly send: true; readonly suppressed: number } | { readonly send: false };

export class RateLimiter {
  private readonly paths: readonly Path[];
  private readonly derived: boolean;
  private readonly intervalMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;
  private readonly keys = new Map<string, Entry>();
  /** Keys forgotten to stay under `maxKeys` (for a counter). */
  evicted = 0;

  constructor(opts: RateLimiterOptions) {
    this.paths = opts.keyFields.map(parsePath);
    this.derived = this.paths.some((p) => p[0] === '_');
    this.intervalMs = opts.intervalMs;
    this.maxKeys = opts.maxKeys;
    this.now = opts.now;
  }

  /** The key of an event's data (values of the key fields, JSON-joined so `a|b` and `a`,`|b` differ). */
  key(data: unknown): string {
    const d = this.derived ? describe(data) : undefined;
    return JSON.stringify(this.paths.map((p) => stringify(p[0] === '_' ? getIn(d, p, 1) : getIn(data, p))));
  }

  /** Decides for one event and updates the key's window. */
  check(data: unknown): Verdict {
    const key = this.key(data);
    const t = this.now();
    const e = this.keys.get(key);
    if (e !== undefined) {
      this.keys.delete(key);
      this.keys.set(key, e); // most recently seen last
      if (t - e.at < this.intervalMs) {
        e.suppressed++;
        return { send: false };
      }
      const suppressed = e.suppressed;
      e.at = t;
      e.suppressed = 0;
      return { send: true, suppressed };
    }
    this.keys.set(key, { at: t, suppressed: 0 });
    if (this.keys.size > this.maxKeys) {
      const oldest = this.keys.keys().next().value as string;
      this.keys.delete(oldest);
      this.evicted++;
    }
    return { send: true, suppressed: 0 };
  }

  get size(): number {
    return this.keys.size;
  }
}
