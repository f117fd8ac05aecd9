/**
 * LogEvent.appendFields: an unchanged JSON line gets the fields appended to its text (no
 * re-serialisation), and `JSON.parse` of that text always equals `data`; every case where the text
 * cannot be trusted (a key already there, a malformed or text line, a later mutate) falls back to
 * serialising the fields object.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogEvent, type EventOrigin } from '@tern/core';

const origin: EventOrigin = { sourceId: 'src', path: '/var/log/a.log', host: 'h' };
const line = (raw: string, format: 'json' | 'text' = 'json'): LogEvent => new LogEvent(origin, raw, format, undefined);

/** The invariant: the text is the JSON of the fields (as JSON.stringify would write them). */
function same(ev: LogEvent): string {
  const text = ev.toJson();
  assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(ev.data)));
  return text;
}

test('an unchanged line keeps its bytes and gets the fields before its closing brace', () => {
  const raw = '{"b":1, "a" : "x\\"y"}  ';
  const ev = line(raw);
  ev.appendFields({ '@timestamp': '2024-11-05T08:57:41.120Z', tern: { timestamp_nanos: '2024-11-05T08:57:41.120443918Z' } });
  assert.equal(same(ev), '{"b":1, "a" : "x\\"y","@timestamp":"2024-11-05T08:57:41.120Z","tern":{"timestamp_nanos":"2024-11-05T08:57:41.120443918Z"}}  ');
  assert.equal(ev.raw, raw, 'raw stays the line as read');
  assert.equal(ev.modified, true);
  assert.equal(ev.version, 1);
  assert.equal(ev.data['@timestamp'], '2024-11-05T08:57:41.120Z');
});

test('empty objects take the fields without a comma; undefined values are left out as JSON.stringify does', () => {
  for (const raw of ['{}', '{ }', ' {\n}\n']) {
    const ev = line(raw);
    ev.appendFields({ a: 1, gone: undefined, b: [1, 'two'] });
    assert.deepEqual(JSON.parse(same(ev)), { a: 1, b: [1, 'two'] });
  }
});

test('two appends in a row both reach the text', () => {
  const ev = line('{"x":1}');
  ev.appendFields({ a: 1 });
  ev.appendFields({ b: { c: 2 } });
  assert.equal(same(ev), '{"x":1,"a":1,"b":{"c":2}}');
});

test('a key already in the event: set like mutate() would, and serialised', () => {
  const ev = line('{"a":1,"b":2}');
  ev.appendFields({ a: 3, c: 4 });
  assert.equal(same(ev), '{"a":3,"b":2,"c":4}');
});

test('after mutate() the shortcut is gone and later changes show', () => {
  const ev = line('{"a":1}');
  ev.appendFields({ t: { x: 1 } });
  assert.equal(same(ev), '{"a":1,"t":{"x":1}}');
  const d = ev.mutate();
  (d.t as Record<string, unknown>).y = 2;
  assert.equal(same(ev), '{"a":1,"t":{"x":1,"y":2}}');
  ev.appendFields({ z: 0 }); // changed before: no text to append to
  assert.equal(same(ev), '{"a":1,"t":{"x":1,"y":2},"z":0}');
});

test('malformed JSON lines, non-object JSON and text lines are serialised from their fields', () => {
  for (const [raw, format] of [['{"a":', 'json'], ['[1,2]', 'json'], ['"s"', 'json'], ['plain {text}', 'text']] as const) {
    const ev = line(raw, format);
    ev.appendFields({ '@timestamp': 't' });
    const text = same(ev);
    assert.equal(JSON.parse(text)['@timestamp'], 't', raw);
    assert.equal(typeof JSON.parse(text).message, 'string', raw);
  }
});

test('replace() and replaceSerialized() drop the appended fields; clone() copies the document', () => {
  const a = line('{"a":1}');
  a.appendFields({ b: 2 });
  const copy = a.clone();
  assert.deepEqual(JSON.parse(copy.toJson()), { a: 1, b: 2 });
  a.replace({ c: 3 });
  assert.equal(same(a), '{"c":3}');
  const b = line('{"a":1}');
  b.appendFields({ b: 2 });
  b.replaceSerialized('{"d":4}');
  assert.equal(b.toJson(), '{"d":4}');
  assert.deepEqual(b.data, { d: 4 });
});

test('replaceJson: the text is what sinks get, fields are parsed from it on demand, raw stays the line', () => {
  const ev = line('{"time":"t","x":1}');
  void ev.data;
  ev.replaceJson('{"@timestamp":"t","mapped":{"x":1}}');
  assert.equal(ev.modified, true);
  assert.equal(ev.parsed, false);
  assert.equal(ev.raw, '{"time":"t","x":1}');
  assert.equal(ev.toJson(), '{"@timestamp":"t","mapped":{"x":1}}');
  const copy = ev.clone();
  assert.deepEqual(ev.data, { '@timestamp': 't', mapped: { x: 1 } });
  assert.equal(ev.toJson(), '{"@timestamp":"t","mapped":{"x":1}}', 'reading does not change the text');
  assert.deepEqual(copy.data, ev.data);
  ev.appendFields({ y: 2 });
  assert.equal(same(ev), '{"@timestamp":"t","mapped":{"x":1},"y":2}');
  (ev.mutate().mapped as Record<string, unknown>).z = 3;
  assert.equal(same(ev), '{"@timestamp":"t","mapped":{"x":1,"z":3},"y":2}');
});
