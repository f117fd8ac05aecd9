import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogEvent } from '@tern/core';
import { keepKey, sampleTransform } from '../src/sample.ts';
import { badEv, build, counters, ev, ORIGIN, run, TETRAGON, throwingEv } from './helpers.ts';

const synth = (n: number, key: (i: number) => unknown = (i) => i) =>
  Array.from({ length: n }, (_, i) => LogEvent.fromData(ORIGIN, { seq: i, conn: { uid: key(i) } }));

test('rate N keeps exactly 1 in N (first, then every Nth), across batches', () => {
  const { t, ctx } = build(sampleTransform, { rate: 10 });
  let kept = 0;
  const seqs: number[] = [];
  for (let b = 0; b < 10; b++) {
    const out = run(t, synth(37).map((e, i) => (e.mutate().seq = b * 37 + i, e))).out;
    kept += out.length;
    seqs.push(...out.map((e) => e.data.seq as number));
  }
  assert.equal(kept, 37);
  assert.deepEqual(seqs.slice(0, 4), [0, 10, 20, 30]);
  assert.equal(counters(ctx).events_dropped, 370 - 37);
});

test('rate 1 keeps everything', () => {
  const { t, ctx } = build(sampleTransform, { rate: 1 });
  assert.equal(run(t, TETRAGON.map(ev)).out.length, TETRAGON.length);
  assert.equal(counters(ctx).events_dropped ?? 0, 0);
});

test('key_field: the same key is always kept or always dropped, across batches and instances', () => {
  const keys = Array.from({ length: 2000 }, (_, i) => `C${i.toString(36)}x`);
  const events = synth(4000, (i) => keys[i % keys.length]);
  const a = build(sampleTransform, { rate: 4, key_field: 'conn.uid' }).t;
  const b = build(sampleTransform, { rate: 4, key_field: 'conn.uid' }).t;
  const keptA = new Set(run(a, events.slice(0, 2000)).out.map((e) => (e.data.conn as { uid: string }).uid));
  const keptA2 = new Set(run(a, events.slice(2000)).out.map((e) => (e.data.conn as { uid: string }).uid));
  const keptB = new Set(run(b, [...events].reverse()).out.map((e) => (e.data.conn as { uid: string }).uid));
  assert.deepEqual([...keptA].sort(), [...keptA2].sort());
  assert.deepEqual([...keptA].sort(), [...keptB].sort());
  for (const k of keptA) assert.equal(keepKey(k, 4), true);
  // roughly a quarter of the keys (hash spread)
  assert.ok(keptA.size > 400 && keptA.size < 600, `kept ${keptA.size} of 2000 keys`);
});

test('key_field with Tetragon exec ids keeps whole process lifecycles together', () => {
  const { t } = build(sampleTransform, { rate: 2, key_field: 'process_exec.process.exec_id' });
  const execs = TETRAGON.filter((l) => l.startsWith('{"process_exec"')).map(ev);
  const once = run(t, execs).out.map((e) => e.raw);
  const again = run(t, execs).out.map((e) => e.raw);
  assert.deepEqual(once, again);
});

test('events without the key (and malformed lines) fall back to the counter', () => {
  const { t, ctx } = build(sampleTransform, { rate: 2, key_field: 'conn.uid' });
  const r = run(t, [badEv(), badEv(), throwingEv(), throwingEv()]);
  assert.equal(r.out.length, 2);
  assert.equal(counters(ctx).decode_errors, 2);
});

test('exclude keeps matching events and does not advance the counter', () => {
  const { t, ctx } = build(sampleTransform, { rate: 1000, exclude: 'has(event.process_exec)' });
  const r = run(t, TETRAGON.map(ev));
  // all 13 exec events, plus the first other event (the counter starts by keeping one)
  assert.equal(r.out.length, 14);
  assert.equal(counters(ctx).events_dropped, TETRAGON.length - 14);
});

test('validate checks key_field and exclude', () => {
  assert.deepEqual(
    sampleTransform.validate?.({ rate: 2, key_field: 'a..b', exclude: 'event.x ==' })?.map((m) => m.split(':')[0]),
    ['key_field', 'exclude'],
  );
  assert.equal(sampleTransform.validate?.({ rate: 2, key_field: 'uid' }), undefined);
});
