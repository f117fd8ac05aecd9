/**
 * Alert hygiene: at most one message per key per interval. A chatty rule firing on every `cat` in
 * a crash-looping pod would otherwise bury a channel (and hit Slack's 1 message/s limit, §4.2).
 *
 * The window of a key starts with a message that was let through; repeats inside it are
 * suppressed and counted, and the first event after it goes through carrying that count, so the
 * message can say "(N similar alerts suppressed)". Keys live in core's bounded LRU map (`LruMap`,
 * with its hot-key care: a key seen on every event is never the one forgotten), so a storm of
 * distinct keys costs memory up to `max_keys`, never more; a forgotten key simply sends again.
 * Key fields read events as the sink's templates do (`fieldTemplate` with `ALERT_TEMPLATE`).
 *
 * The decision is taken when the sink accepts a batch, not in `encode` (which must stay pure and
 * may run again for retries and splits): a suppressed event never enters delivery.
 */
import { fieldTemplate, LruMap, type Template } from '@tern/core';
import { describe } from './describe.ts';
import { ALERT_TEMPLATE, type RateLimitOptions } from './schema.ts';

interface Entry {
  /** When the window started (the last message let through). */
  at: number;
  /** Repeats suppressed since then. */
  suppressed: number;
}

/** Verdict for one event: `send` with the count suppressed before it, or `suppress`. */
export type Verdict = { readonly send: true; readonly suppressed: number } | { readonly send: false };

export class RateLimiter {
  private readonly fields: readonly Template[];
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly keys: LruMap<string, Entry>;

  constructor(opts: RateLimitOptions, now: () => number) {
    this.fields = opts.key_fields.map((f) => fieldTemplate(f, ALERT_TEMPLATE));
    this.intervalMs = opts.interval_ms;
    this.keys = new LruMap(opts.max_keys);
    this.now = now;
  }

  /** Keys forgotten to stay under `max_keys` (for a counter). */
  get evicted(): number {
    return this.keys.evictions;
  }

  /** The key of an event's data (values of the key fields, JSON-joined so `a|b` and `a`,`|b` differ). */
  key(data: unknown): string {
    const input = { data, derived: () => describe(data) };
    return JSON.stringify(this.fields.map((f) => f.render(input)));
  }

  /** Decides for one event and updates the key's window. */
  check(data: unknown): Verdict {
    const key = this.key(data);
    const t = this.now();
    const e = this.keys.get(key);
    if (e !== undefined) {
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
    return { send: true, suppressed: 0 };
  }

  get size(): number {
    return this.keys.size;
  }
}
