/** The one bounded LRU map (field/lru.ts): throttle, dedupe, tetragon_filter's pid set, user-agent results, webhook rate-limit windows. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LruMap } from '../src/field/lru.ts';

describe('LruMap', () => {
  it('never evicts a key that is read between every insertion', () => {
    const m = new LruMap<string, number>(100);
    m.set('hot', 1);
    for (let i = 0; i < 20_000; i++) {
      assert.equal(m.get('hot'), 1, `hot key lost after ${i} insertions`);
      m.set(`k${i}`, i);
    }
    assert.equal(m.size, 100);
    assert.equal(m.evictions, 20_000 - 99);
  });

  it('evicts the least recently used entry of a small map', () => {
    const m = new LruMap<string, number>(3);
    m.set('a', 1);
    m.set('b', 2);
    m.set('c', 3);
    m.get('a');
    assert.deepEqual(m.set('d', 4), ['b', 2]);
    assert.deepEqual([...m.keys()].sort(), ['a', 'c', 'd']);
  });
});
