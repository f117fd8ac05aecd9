/**
 * Checks the conformance suite makes that a sink's own tests make too: a promise settled within a
 * time limit, and request bodies filled up to `batch.max_bytes` (for encodings the suite does not use).
 */
import assert from 'node:assert/strict';

/** `p`, or a rejection naming `what` after `ms`. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Request bodies (bytes, in order) as `batch.max_bytes` asks: none over it, and all but the last
 * close to it (over 80%): a batch cut late and split in halves before sending would average half.
 * For a sink's own tests of encodings the conformance scenario does not use.
 */
export function assertFilledUpTo(sizes: readonly number[], maxBytes: number): void {
  assert.ok(sizes.length > 1, `${sizes.length} request: too few to judge how full they are`);
  assert.ok(sizes.every((n) => n <= maxBytes), `a body over max_bytes: ${Math.max(...sizes)} of ${maxBytes}`);
  const full = sizes.slice(0, -1);
  const avg = full.reduce((a, n) => a + n, 0) / full.length;
  assert.ok(avg > 0.8 * maxBytes, `average body ${avg.toFixed(0)} bytes of ${maxBytes} over ${sizes.length} requests`);
}
