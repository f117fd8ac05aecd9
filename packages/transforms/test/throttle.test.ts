import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogEvent, withDefaults } from '@tern/core';
import { createThrottle, throttleTransform } from '../src/throttle.ts';
import { badEv, build, counters, ORIGIN, run, testCtx, throwingEv } from './helpers.ts';

/** A fake clock the test moves by hand. */
function clock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

const alerts = (rule: string, n: number) => Array.from({ length: n }, (_, i) => LogEvent.fromData(ORIGIN, { rule, priority: 'Warning', seq: i }));

test('global budget: threshold per window, excess dropped and counted, new window refills', () => {
  const c = clock();
  const ctx = testCtx();
  const t = createThrottle(withDefaults(throttleTransform, { threshold: 5, window_ms: 1000 }), ctx, c.now);
  assert.equal(run(t, alerts('r', 3)).out.length, 3);
  assert.equal(run(t, alerts('r', 4)).out.length, 2);
  c.advance(999);
  assert.equal(run(t, alerts('r', 2)).out.length, 0, 'same window until window_ms elapsed');
  assert.equal(counters(ctx).events_dropped, 4);
  c.advance(1);
  assert.equal(run(t, alerts('r', 7)).out.length, 5, 'a new window starts');
  assert.equal(counters(ctx).events_dropped, 6);
  assert.equal(t.droppedByKey(''), 6);
});

test('per key: each key has its own budget and its own drop count', () => {
  const c = clock();
  const ctx = testCtx();
  const t = createThrottle(withDefaults(throttleTransform, { threshold: 2, window_ms: 60_000, key_field: 'rule' }), ctx, c.now);
  const batch = [...alerts('Terminal shell in container', 5), ...alerts('Read sensitive file untrusted', 3), ...alerts('Launch Privileged Container', 1)];
  const out = run(t, batch).out;
  assert.equal(out.length, 5);
  assert.equal(t.droppedByKey('Terminal shell in container'), 3);
  assert.equal(t.droppedByKey('Read sensitive file untrusted'), 1);
  assert.equal(t.droppedByKey('Launch Privileged Container'), 0);
  assert.equal(counters(ctx).events_dropped, 4);
  c.advance(30_000);
  assert.equal(run(t, alerts('Launch Privileged Container', 3)).out.length, 1, 'the key kept its window');
  c.advance(30_000);
  assert.equal(run(t, alerts('Terminal shell in container', 3)).out.length, 2, 'window over for this key');
  assert.equal(t.droppedByKey('Terminal shell in container'), 4, 'per-key count is cumulative');
});

test('max_keys bounds memory: the least recently seen key is evicted and starts fresh', () => {
  const c = clock();
  const ctx = testCtx();
  const t = createThrottle(withDefaults(throttleTransform, { threshold: 1, window_ms: 60_000, key_field: 'rule', max_keys: 2 }), ctx, c.now);
  run(t, [...alerts('a', 1), ...alerts('b', 1)]);
  assert.equal(run(t, alerts('a', 1)).out.length, 0, 'a is throttled (and now most recent)');
  run(t, alerts('c', 1)); // evicts b
  assert.equal(t.trackedKeys, 2);
  assert.equal(counters(ctx).keys_evicted, 1);
  assert.equal(run(t, alerts('a', 1)).out.length, 0, 'a survived');
  assert.equal(run(t, alerts('b', 1)).out.length, 1, 'b was forgotten: fresh window');
});

test('events without the key share the "" budget; malformed lines too', () => {
  const c = clock();
  const ctx = testCtx();
  const t = createThrottle(withDefaults(throttleTransform, { threshold: 2, key_field: 'rule' }), ctx, c.now);
  const noKey = Array.from({ length: 2 }, () => LogEvent.fromData(ORIGIN, { other: 1 }));
  assert.equal(run(t, [...noKey, badEv(), throwingEv()]).out.length, 2);
  assert.equal(t.droppedByKey(''), 2);
  assert.equal(counters(ctx).decode_errors, 1);
});

test('exclude: matching events bypass the throttle and do not use the budget', () => {
  const c = clock();
  const t = createThrottle(withDefaults(throttleTransform, { threshold: 1, exclude: 'event.priority == "Critical"' }), testCtx(), c.now);
  const crit = Array.from({ length: 3 }, () => LogEvent.fromData(ORIGIN, { rule: 'x', priority: 'Critical' }));
  assert.equal(run(t, [...crit, ...alerts('x', 3)]).out.length, 4);
});

test('threshold 0 drops everything not excluded', () => {
  const t = createThrottle(withDefaults(throttleTransform, { threshold: 0 }), testCtx(), clock().now);
  assert.equal(run(t, alerts('x', 3)).out.length, 0);
});

test('the definition builds with the real clock and validates its options', () => {
  const { t } = build(throttleTransform, { threshold: 3 });
  assert.equal(run(t, alerts('x', 5)).out.length, 3);
  assert.deepEqual(throttleTransform.validate?.({ threshold: 1, window_ms: 1000, max_keys: 10, key_field: '', exclude: '1 +' })?.map((m) => m.split(':')[0]), ['key_field', 'exclude']);
});
