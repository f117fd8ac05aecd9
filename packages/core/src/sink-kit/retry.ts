/**
 * Retry timing: exponential backoff with full jitter, and the `Retry-After` parser.
 *
 * Full jitter (delay = random × min(cap, base × 2^attempt)) spreads the retries of many tern pods
 * that were all refused at the same moment, which is exactly what happens when an Elasticsearch
 * cluster answers 429 to a whole DaemonSet. `Retry-After` is the server's explicit word and wins
 * over the jittered delay when it asks for longer; it is capped so a wrong header cannot park a
 * sink for a day.
 */

/** Longest wait a `Retry-After` header can impose (5 minutes). */
export const RETRY_AFTER_CAP_MS = 300_000;

export interface BackoffPolicy {
  /** Base delay of the first retry. */
  readonly initialMs: number;
  /** Cap of the exponential growth (before jitter). */
  readonly maxMs: number;
}

/**
 * Delay before retry number `attempt` (0 for the first retry): full jitter over the capped
 * exponential, then raised to `retryAfterMs` (capped at `RETRY_AFTER_CAP_MS`) when the server gave one.
 */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random, retryAfterMs?: number): number {
  // 2^attempt overflows to Infinity after ~1000 attempts; Math.min keeps the cap.
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 52));
  const jittered = Math.floor(random() * ceiling);
  if (retryAfterMs !== undefined && retryAfterMs > jittered) return Math.min(retryAfterMs, RETRY_AFTER_CAP_MS);
  return jittered;
}

/**
 * Parses an HTTP `Retry-After` value (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.
 * Returns milliseconds to wait (0 for a date in the past), or undefined when absent or unreadable.
 * Accepts the header as undici and node:http hand it over (string, or an array when repeated).
 */
export function parseRetryAfter(value: string | readonly string[] | null | undefined, now: number = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (s === '') return undefined;
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  // Fractional seconds are not in the RFC, but some proxies send them; reading them is harmless.
  if (/^\d+\.\d+$/.test(s)) return Math.round(Number(s) * 1000);
  // Date.parse reads IMF-fixdate and the obsolete RFC 850 / asctime forms the RFC asks us to accept.
  // An HTTP-date starts with the day name; anything else (`-5`, `soon`) is unreadable.
  if (!/^[A-Za-z]{3}/.test(s)) return undefined;
  const t = Date.parse(s);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - now);
}
