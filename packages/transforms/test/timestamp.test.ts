/**
 * timestamp transform: every accepted format (RFC 3339 with nanoseconds, offsets and Z; epoch
 * seconds as float, ms, µs, ns as integer and as string), the nanosecond side field, field lists and
 * literal dotted keys, and the failure path (tag, ingest time, counter — never dropped).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogEvent, type OptionsInput } from '@tern/core';
import { timestampTransform, DEFAULT_NANOS_FIELD } from '../src/timestamp.ts';
import type { TimestampConfig } from '../src/timestamp.ts';
import { fixtureLine, jsonEvent, origin, run } from './fixtures/context.ts';

type Row = Record<string, unknown>;

async function stamp(doc: Row, cfg: OptionsInput<TimestampConfig> = {}): Promise<{ data: Row; failures: number }> {
  const { out, ctx } = await run(timestampTransform, cfg, [jsonEvent(JSON.stringify(doc))]);
  assert.equal(out.length, 1);
  return { data: out[0]?.data as Row, failures: ctx.telemetry.snapshot().timestamp_failures ?? 0 };
}

function nanos(d: Row): unknown {
  return (d.tern as Row | undefined)?.timestamp_nanos;
}

test('RFC 3339 with nanoseconds and a +02:00 offset → UTC ms, full value in the nanos field', async () => {
  const { data, failures } = await stamp({ time: '2024-11-05T10:57:41.120443520+02:00' });
  assert.equal(data['@timestamp'], '2024-11-05T08:57:41.120Z');
  assert.equal(nanos(data), '2024-11-05T08:57:41.120443520Z');
  assert.equal(failures, 0);
  assert.equal(data.time, '2024-11-05T10:57:41.120443520+02:00'); // the source field is kept
});

test('RFC 3339 with Z, negative offsets, compact offsets, lower-case t/z', async () => {
  const cases: [string, string, string | undefined][] = [
    ['2024-11-05T08:57:41.120443520Z', '2024-11-05T08:57:41.120Z', '2024-11-05T08:57:41.120443520Z'],
    ['2024-11-05T03:27:41.5-05:30', '2024-11-05T08:57:41.500Z', undefined],
    ['2024-11-06T14:03:41.109771420+0000', '2024-11-06T14:03:41.109Z', '2024-11-06T14:03:41.109771420Z'],
    ['2024-11-06t14:03:41z', '2024-11-06T14:03:41.000Z', undefined],
    ['2024-11-06T14:01:55.102334Z', '2024-11-06T14:01:55.102Z', '2024-11-06T14:01:55.102334000Z'],
    ['2024-11-06T00:30:00.000+01:00', '2024-11-05T23:30:00.000Z', undefined], // crosses the date line
    ['2024-02-29T12:00:00Z', '2024-02-29T12:00:00.000Z', undefined],
  ];
  for (const [input, ms, ns] of cases) {
    const { data } = await stamp({ time: input });
    assert.equal(data['@timestamp'], ms, input);
    assert.equal(nanos(data), ns, input);
  }
});

test('epoch seconds as float (Zeek ts) keep their microseconds exactly', async () => {
  const { data } = await stamp({ ts: 1730798062.324118 });
  assert.equal(data['@timestamp'], '2024-11-05T09:14:22.324Z');
  // Float arithmetic would give ...324117899; the decimal digits are used instead.
  assert.equal(nanos(data), '2024-11-05T09:14:22.324118000Z');
  const whole = await stamp({ ts: 1730798062 });
  assert.equal(whole.data['@timestamp'], '2024-11-05T09:14:22.000Z');
  assert.equal(nanos(whole.data), undefined);
});

test('epoch milliseconds and microseconds are detected by magnitude', async () => {
  const ms = await stamp({ time: 1730798062324 });
  assert.equal(ms.data['@timestamp'], '2024-11-05T09:14:22.324Z');
  assert.equal(nanos(ms.data), undefined); // no sub-ms precision
  const us = await stamp({ time: 1730798062324118 });
  assert.equal(us.data['@timestamp'], '2024-11-05T09:14:22.324Z');
  assert.equal(nanos(us.data), '2024-11-05T09:14:22.324118000Z');
});

test('epoch nanoseconds as a string are exact (no Number, no BigInt)', async () => {
  const { data } = await stamp({ time: '1700000000123456789' });
  assert.equal(data['@timestamp'], '2023-11-14T22:13:20.123Z');
  assert.equal(nanos(data), '2023-11-14T22:13:20.123456789Z');
});

test('epoch nanoseconds as a JSON integer: ms is right, the last digits are what JSON.parse kept', async () => {
  // Falco evt.time; JSON.parse turns 1730798065118204377 into 1730798065118204400 (above 2^53).
  const line = '{"output_fields":{"evt.time":1730798065118204377}}';
  const { out } = await run(timestampTransform, {}, [jsonEvent(line)]);
  const data = out[0]?.data as Row;
  assert.equal(data['@timestamp'], '2024-11-05T09:14:25.118Z');
  assert.equal(nanos(data), '2024-11-05T09:14:25.118204400Z');
});

test('Falco output_fields with literal dotted keys are found by the default field list', async () => {
  const ev = jsonEvent(fixtureLine('falco.json', 1));
  const { out } = await run(timestampTransform, { field: 'output_fields.evt.time' }, [ev]);
  assert.equal(out[0]?.data['@timestamp'], '2024-11-05T09:14:25.118Z');
  // The default list tries top-level `time` first (the alert time), which is present here.
  const { out: out2 } = await run(timestampTransform, {}, [jsonEvent(fixtureLine('falco.json', 1))]);
  assert.equal(out2[0]?.data['@timestamp'], '2024-11-05T09:14:25.118Z');
});

test('the sample inputs: Tetragon time, Zeek ts (float and ISO), audit requestReceivedTimestamp', async () => {
  const lines: [string, number, string][] = [
    ['tetragon.log', 1, '2024-11-05T08:57:41.120Z'],
    ['zeek-conn.log', 1, '2024-11-05T09:14:22.324Z'],
    ['zeek-conn.log', 8, '2024-11-06T14:22:00.040Z'],
    ['k8s-audit.log', 1, '2024-11-06T14:01:55.102Z'],
  ];
  for (const [file, n, want] of lines) {
    const { out, ctx } = await run(timestampTransform, {}, [jsonEvent(fixtureLine(file, n))]);
    assert.equal(out[0]?.data['@timestamp'], want, `${file}:${n}`);
    assert.equal(ctx.telemetry.snapshot().timestamp_failures ?? 0, 0);
  }
});

test('garbage → ingest time, tag, counter; the event is kept', async () => {
  const before = Date.now();
  const bad: Row[] = [
    { time: 'yesterday' },
    { time: '2024-02-30T00:00:00Z' },
    { time: '2024-11-05T25:00:00Z' },
    { time: '2024-11-05T09:14:22' }, // no zone: ambiguous, refused
    { time: -5 },
    { time: '1e400' },
    { time: { nested: true } },
    { message: 'no time field at all' },
  ];
  const events = bad.map((d) => jsonEvent(JSON.stringify(d)));
  const { out, ctx } = await run(timestampTransform, {}, events);
  assert.equal(out.length, bad.length);
  assert.equal(ctx.telemetry.snapshot().timestamp_failures, bad.length);
  for (const ev of out) {
    const d = ev.data;
    assert.deepEqual(d.tags, ['_timestamp_failure']);
    const ts = Date.parse(d['@timestamp'] as string);
    assert.ok(ts >= before - 1 && ts <= Date.now() + 1, String(d['@timestamp']));
    assert.equal(ev.modified, true);
  }
});

test('failure tag is appended to existing tags; custom tag, target and nanos_field; null disables nanos', async () => {
  const r = await stamp({ time: 'nope', tags: ['a'] }, { on_error_tag: 'bad_time' });
  assert.deepEqual(r.data.tags, ['a', 'bad_time']);
  const lone = await stamp({ time: 'nope', tags: 'a' });
  assert.deepEqual(lone.data.tags, ['a', '_timestamp_failure']);
  const c = await stamp({ when: '2024-11-05T08:57:41.120443520Z' }, { field: 'when', target: 'event.created', nanos_field: 'event.precise' });
  assert.deepEqual(c.data.event, { created: '2024-11-05T08:57:41.120Z', precise: '2024-11-05T08:57:41.120443520Z' });
  assert.equal(c.data['@timestamp'], undefined);
  const off = await stamp({ time: '2024-11-05T08:57:41.120443520Z' }, { nanos_field: null });
  assert.equal(off.data.tern, undefined);
});

test('the first present field decides; later ones are not a fallback for garbage', async () => {
  const r = await stamp({ time: '2024-11-05T08:57:41Z', ts: 1 }, { field: ['ts', 'time'] });
  assert.equal(r.data['@timestamp'], '1970-01-01T00:00:01.000Z');
  const g = await stamp({ time: 'garbage', ts: 1730798062 });
  assert.deepEqual(g.data.tags, ['_timestamp_failure']);
  const skipNull = await stamp({ time: null, ts: 1730798062 });
  assert.equal(skipNull.data['@timestamp'], '2024-11-05T09:14:22.000Z');
});

test('a line framed as JSON that is not JSON still gets a time and the tag', async () => {
  const ev = new LogEvent(origin('/x.log'), 'not json at all', 'json', undefined);
  const { out, ctx } = await run(timestampTransform, {}, [ev]);
  assert.equal(out[0]?.data.message, 'not json at all');
  assert.ok((out[0]?.data.tags as string[]).includes('_timestamp_failure'));
  assert.equal(ctx.telemetry.snapshot().timestamp_failures, 1);
});

test('definition: closed schema, every option documented with default and examples; validate', () => {
  const schema = timestampTransform.schema as { additionalProperties: boolean; properties: Record<string, Record<string, unknown>> };
  assert.equal(schema.additionalProperties, false);
  for (const [k, p] of Object.entries(schema.properties)) {
    assert.ok(typeof p.description === 'string', k);
    assert.ok('default' in p, k);
    assert.ok(Array.isArray(p.examples), k);
  }
  assert.equal(schema.properties.nanos_field?.default, DEFAULT_NANOS_FIELD);
  assert.equal(timestampTransform.mutates, true);
  const cfg = { field: 'time', target: '@timestamp', format: 'auto', nanos_field: null, on_error_tag: 't' } as const;
  assert.deepEqual(timestampTransform.validate?.({ ...cfg, field: ['a..b'], target: '.x' }), [
    'field.0: invalid field path "a..b" at column 3: empty segment',
    'target: invalid field path ".x" at column 1: empty segment',
  ]);
  assert.equal(timestampTransform.validate?.(cfg), undefined);
});
