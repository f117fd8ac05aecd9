import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogEvent } from '@tern/core';
import { dedupeTransform } from '../src/dedupe.ts';
import { AUDIT, badEv, build, counters, ev, FALCO, ORIGIN, run, TETRAGON, throwingEv } from './helpers.ts';

test('default identity is the raw line: a file read twice yields each event once', () => {
  const { t, ctx } = build(dedupeTransform, {});
  const first = run(t, TETRAGON.map(ev)).out;
  const second = run(t, TETRAGON.map(ev)).out;
  assert.equal(first.length, TETRAGON.length);
  assert.equal(second.length, 0);
  assert.equal(counters(ctx).events_dropped, TETRAGON.length);
});

test('duplicates inside one batch are dropped too', () => {
  const { t } = build(dedupeTransform, {});
  const line = FALCO[0] as string;
  assert.equal(run(t, [ev(line), ev(line), ev(FALCO[1] as string), ev(line)]).out.length, 2);
});

test('fields: identity from chosen fields (Falco uuid; audit auditID + stage)', () => {
  const { t } = build(dedupeTransform, { fields: ['uuid'] });
  const a = JSON.parse(FALCO[0] as string);
  const retried = LogEvent.fromData(ORIGIN, { ...a, hostname: 'other-host' }); // same alert re-sent
  assert.equal(run(t, [ev(FALCO[0] as string), retried]).out.length, 1);

  const audit = build(dedupeTransform, { fields: ['auditID', 'stage'] }).t;
  const base = JSON.parse(AUDIT[0] as string);
  const stages = ['RequestReceived', 'ResponseComplete', 'ResponseComplete'].map((stage) => LogEvent.fromData(ORIGIN, { ...base, stage }));
  assert.equal(run(audit, stages).out.length, 2);
});

test('a modified event is identified by its JSON', () => {
  const { t } = build(dedupeTransform, {});
  const a = LogEvent.fromData(ORIGIN, { x: 1, y: [1, 2] });
  const b = LogEvent.fromData(ORIGIN, { x: 1, y: [1, 2] });
  const c = LogEvent.fromData(ORIGIN, { x: 2 });
  assert.equal(run(t, [a, b, c]).out.length, 2);
});

test('bounded LRU cache: eviction lets an old identity through again; hits refresh recency', () => {
  const { t } = build(dedupeTransform, { fields: ['id'], cache_size: 3 });
  const e = (id: string) => LogEvent.fromData(ORIGIN, { id });
  assert.equal(run(t, [e('a'), e('b'), e('c')]).out.length, 3);
  assert.equal(run(t, [e('a')]).out.length, 0, 'a is cached (and refreshed)');
  assert.equal(run(t, [e('d')]).out.length, 1, 'd evicts b, the least recently seen');
  assert.equal(run(t, [e('a'), e('c'), e('d')]).out.length, 0);
  assert.equal(run(t, [e('b')]).out.length, 1, 'b was forgotten');
});

test('missing fields count as "missing" (Vector semantics); malformed lines are identified by their raw text', () => {
  const { t } = build(dedupeTransform, { fields: ['uuid'] });
  const noId = () => LogEvent.fromData(ORIGIN, { other: Math.random() });
  assert.equal(run(t, [noId(), noId()]).out.length, 1);
  const raw = build(dedupeTransform, {}).t;
  assert.equal(run(raw, [badEv('not json 1'), badEv('not json 1'), badEv('not json 2')]).out.length, 2);
  const guarded = build(dedupeTransform, { fields: ['uuid'] });
  assert.equal(run(guarded.t, [throwingEv(), throwingEv()]).out.length, 1, 'unreadable events lack the fields like malformed lines');
  assert.equal(counters(guarded.ctx).decode_errors, 2);
});
