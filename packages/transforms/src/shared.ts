/**
 * Small pieces every transform in this package shares: reading an event's fields without letting
 * one event break the batch, a bounded LRU map for keyed state, and a fast string hash.
 *
 * Malformed lines: `LogEvent.data` parses a lazily decoded JSON line on first read; core hands a
 * line that is not a JSON object on as `{ message, error, tags: ['_json_parse_failure'] }`, so the
 * transforms see it as an ordinary event (a condition can select it by its tag). `readData` guards
 * that read: if it throws instead (an event whose line cannot be decoded at all), the transform
 * counts it in `decode_errors` and judges the same tagged shape, so a malformed line is treated
 * alike whichever way it reaches us, and one bad event never fails a batch.
 */
import type { Counter, EventData, LogEvent } from '@tern/core';
import { pathError } from './path.ts';

export const JSON_FAILURE_TAG = '_json_parse_failure';

/** The tagged stand-in for an event whose fields cannot be read (core's shape for a malformed line). */
export function malformedView(ev: LogEvent, err: unknown): EventData {
  return { message: ev.raw ?? '', error: { message: `invalid JSON: ${err instanceof Error ? err.message : String(err)}` }, tags: [JSON_FAILURE_TAG] };
}

/** The event's fields; for an unreadable event the tagged stand-in, counted in `decodeErrors`. */
export function readData(ev: LogEvent, decodeErrors: Counter): EventData {
  try {
    return ev.data;
  } catch (err) {
    decodeErrors.inc();
    return malformedView(ev, err);
  }
}

/**
 * A Map bounded to `max` entries that evicts the least recently used one (approximately).
 * JavaScript Maps iterate in insertion order, so "use" is delete + re-insert and the oldest entry is
 * the first key. Re-inserting on every read is what made a hot key expensive (each delete leaves a
 * hole that V8 compacts by rehashing the table), so a read re-inserts an entry only once it has
 * drifted into the older half of the map: recency is kept to within half the map, and a key read
 * over and over costs a plain lookup. Eviction gives a recently read entry at the front a second
 * chance (it goes to the back), so a hot key is never the one evicted.
 */
export class LruMap<K, V> {
  readonly max: number;
  private readonly map = new Map<K, { v: V; tick: number }>();
  private clock = 0;
  /** Entries evicted so far. */
  evictions = 0;

  constructor(max: number) {
    this.max = Math.max(1, Math.floor(max));
  }

  get size(): number {
    return this.map.size;
  }

  /** Reads and marks as recently used. */
  get(key: K): V | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    const now = ++this.clock;
    if (now - e.tick > this.map.size >> 1) {
      this.map.delete(key);
      this.map.set(key, e);
    }
    e.tick = now;
    return e.v;
  }

  /** Reads without changing recency. */
  peek(key: K): V | undefined {
    return this.map.get(key)?.v;
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  /** Inserts or refreshes; returns the evicted entry, if the map was full. */
  set(key: K, value: V): [K, V] | undefined {
    if (this.map.has(key)) this.map.delete(key);
    this.map.set(key, { v: value, tick: ++this.clock });
    if (this.map.size > this.max) {
      // Second chance: an entry at the front that was read recently (and so not moved) goes to the
      // back instead of out. Each entry moves at most once per half-map of operations.
      const recent = this.map.size >> 1;
      for (let tries = this.map.size; tries > 0; tries--) {
        const first = this.map.entries().next();
        if (first.done) break;
        const [k, e] = first.value;
        this.map.delete(k);
        if (this.clock - e.tick <= recent && tries > 1 && k !== key) {
          this.map.set(k, e);
          continue;
        }
        this.evictions++;
        return [k, e.v];
      }
    }
    return undefined;
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }

  *keys(): IterableIterator<K> {
    yield* this.map.keys();
  }

  *entries(): IterableIterator<[K, V]> {
    for (const [k, e] of this.map) yield [k, e.v];
  }
}

/** 32-bit FNV-1a over UTF-16 code units: fast, allocation-free, well spread for key-based sampling. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Validation messages for a list option of field paths (`fields.1: invalid field path …`). */
export function pathListErrors(option: string, paths: readonly string[] | undefined): string[] {
  const errors: string[] = [];
  (paths ?? []).forEach((f, i) => {
    const e = pathError(f);
    if (e !== undefined) errors.push(`${option}.${i}: ${e}`);
  });
  return errors;
}

/** JSON Schema for a field path option. */
export function pathSchema(description: string, examples: string[]): Record<string, unknown> {
  return { type: 'string', minLength: 1, description, examples };
}
