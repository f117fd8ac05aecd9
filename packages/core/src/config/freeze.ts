/**
 * Read-only options: every validated configuration (the loader's, `withDefaults`', the delivery
 * kit's, a worker thread's copy) is frozen all the way down, so no component can change its own
 * options or another's. Its own module so a worker thread can use it without loading ajv.
 */

/** Freezes a validated value all the way down (options are read-only once validated). */
export function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v as Record<string, unknown>)) deepFreeze(x);
  }
  return v;
}
