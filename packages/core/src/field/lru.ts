/**
 * The one bounded cache of tern: a Map bounded to `max` entries that evicts the least recently
 * used one (approximately), for keyed state that must not grow with its input — throttle and
 * dedupe keys, tetragon_filter's pid set, user-agent results, webhook rate-limit windows, the
 * sinks' per-name caches.
 *
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

  clear(): void {
    this.map.clear();
  }

  *keys(): IterableIterator<K> {
    yield* this.map.keys();
  }

  *entries(): IterableIterator<[K, V]> {
    for (const [k, e] of this.map) yield [k, e.v];
  }
}
