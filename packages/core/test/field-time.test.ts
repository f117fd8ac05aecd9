/**
 * Event times (field/time.ts), table-driven. The rows are the values on which the three parsers
 * this one replaced disagreed: the Elasticsearch sink read any `Date.parse` string and epoch numbers
 * as seconds or milliseconds only (a µs or ns number came out thousands of years ahead); LogScale
 * read s/ms/µs/ns numbers but `Date.parse` strings; the transforms read RFC 3339 and epoch values
 * of every unit, exactly. The last-key reader was copied twice, and only one copy looked for
 * escaped quotes.
 */
import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import { formatEpochMsIso, formatIsoMs, formatIsoNanos, lastKeyString, parseTime, timeMs, type TimestampFormat } from '../src/field/index.ts';

const T = Date.UTC(2024, 10, 5, 9, 14, 22, 324); // 2024-11-05T09:14:22.324Z

describe('timeMs: one set of rules for strings and numbers', () => {
  // [value, epoch ms or undefined]
  const rows: Array<[unknown, number | undefined]> = [
    ['2024-11-05T09:14:22.324Z', T],
    ['2024-11-05T09:14:22.324118270Z', T],
    ['2024-11-05T11:14:22.324+02:00', T],
    ['2024-11-05 09:14:22.324z', T],
    ['2024-11-05T09:14:22,324Z', T],
    [1730798062.324118, T], // Zeek `ts`: epoch seconds with a fraction
    [1730798062324, T], // ms
    [1730798062324118, T], // µs (ES read this as ms: year 56,800)
    ['1730798062324118270', T], // ns as digits (exact)
    ['1730798062.324', T],
    [1730798062, T - 324],
    [0, 0],
    [-5, undefined],
    ['Tue, 05 Nov 2024 09:14:22 GMT', undefined], // Date.parse read this (ES, LogScale); not a time here
    ['2024-11-05T09:14:22', undefined], // no zone: local time in Date.parse, refused here
    ['2024-02-30T00:00:00Z', undefined],
    ['soon', undefined],
    [true, undefined],
    [null, undefined],
    [Number.NaN, undefined],
  ];
  for (const [v, want] of rows) it(JSON.stringify(v) ?? String(v), () => assert.equal(timeMs(v), want));

  it('a named unit overrides the guess', () => {
    assert.equal(timeMs(1730798062, 'epoch_ms'), 1730798062);
    assert.equal(timeMs('2024-11-05T09:14:22Z', 'epoch_s'), undefined);
  });
});

describe('lastKeyString: a top-level last key read without a parse', () => {
  const rows: Array<[string, string | undefined]> = [
    ['{"a":1,"time":"2024-11-05T09:14:22Z"}', '2024-11-05T09:14:22Z'],
    ['{"time":"x"}', 'x'],
    ['{"a":1,"time":"x"}  ', 'x'],
    ['{"a":1,"time":"x","b":2}', undefined], // not last: parse
    ['{"a":{"time":"x"}}', undefined], // nested
    ['{"a":{"b":1,"time":"x"}}', undefined],
    ['{"a":1,"time":"x\\"}"}', undefined], // an escaped quote (only LogScale's copy checked)
    ['{"a":1,"time":"C:\\\\"}', undefined], // any escape is left to the parser
    ['{"a":"time","b":1}', undefined],
    ['{"a":1,"time": "x"}', undefined], // a blank after the colon: parse
    ['{"a":1,"time":5}', undefined], // not a string
    ['{"a":"\\"time\\":\\"y\\"}"}', undefined], // the key text inside a string value
  ];
  for (const [raw, want] of rows) it(raw, () => assert.equal(lastKeyString(raw, '"time"'), want));
});

test('forced formats read the unit they are told', () => {
  const iso = (v: unknown, f: TimestampFormat): string | undefined => {
    const t = parseTime(v, f);
    return t && formatIsoMs(t);
  };
  assert.equal(iso(1730798062, 'epoch_ms'), '1970-01-21T00:46:38.062Z');
  assert.equal(iso(1730798062, 'epoch_s'), '2024-11-05T09:14:22.000Z');
  assert.equal(iso('1730798062324', 'epoch_ms'), '2024-11-05T09:14:22.324Z');
  assert.equal(iso(1730798062324118, 'epoch_us'), '2024-11-05T09:14:22.324Z');
  assert.equal(iso('1730798062324118270', 'epoch_ns'), '2024-11-05T09:14:22.324Z');
  assert.equal(iso(1730798062.5, 'epoch_s'), '2024-11-05T09:14:22.500Z');
  assert.equal(iso('2024-11-05T09:14:22Z', 'rfc3339'), '2024-11-05T09:14:22.000Z');
  assert.equal(iso(1730798062, 'rfc3339'), undefined);
  assert.equal(iso('2024-11-05T09:14:22Z', 'epoch_s'), undefined);
  const t = parseTime('0.000000001', 'epoch_s');
  assert.ok(t);
  assert.equal(formatIsoNanos(t), '1970-01-01T00:00:00.000000001Z');
});

test('the minute caches in parse and format never leak between different instants', () => {
  const inputs = [
    '2024-11-05T08:57:41.120Z',
    '2024-11-05T08:57:59.999+01:00',
    '2024-11-05T08:58:00Z',
    '2024-11-05T08:57:61Z', // invalid second after a cached prefix
    '2023-01-01T00:00:00.5Z',
    '2024-11-05T08:57:00-00:30',
  ];
  const want = ['2024-11-05T08:57:41.120Z', '2024-11-05T07:57:59.999Z', '2024-11-05T08:58:00.000Z', undefined, '2023-01-01T00:00:00.500Z', '2024-11-05T09:27:00.000Z'];
  for (let round = 0; round < 3; round++) {
    inputs.forEach((s, i) => {
      const t = parseTime(s);
      assert.equal(t && formatIsoMs(t), want[i], s);
      if (t) assert.equal(formatIsoMs(t), new Date(t.seconds * 1000 + Math.floor(t.nanos / 1e6)).toISOString(), s);
    });
  }
});

test('formatEpochMsIso writes what Date#toISOString writes, around minute and epoch edges and for fractions', () => {
  const cases = [0, 1, 999, 1000, 59_999, 60_000, -1, -1500, -60_001, 1_732_262_400_123, 1_732_262_459_999.9, 253_402_300_799_999, Date.UTC(2024, 1, 29, 23, 59, 59, 7)];
  for (let round = 0; round < 2; round++) for (const ms of cases) assert.equal(formatEpochMsIso(ms), new Date(ms).toISOString(), String(ms));
  let t = 1_732_262_400_000;
  for (let i = 0; i < 5000; i++, t += 37_913) assert.equal(formatEpochMsIso(t), new Date(t).toISOString(), String(t));
  // six-digit years, the edges of Date's range, and out of it (Date throws; so does this)
  for (const ms of [253_402_300_800_000, -62_167_219_200_001, 8.64e15, -8.64e15, 8.64e15 - 1]) assert.equal(formatEpochMsIso(ms), new Date(ms).toISOString(), String(ms));
  for (const bad of [8.64e15 + 500, Number.NaN, Number.POSITIVE_INFINITY]) assert.throws(() => formatEpochMsIso(bad), RangeError, String(bad));
  // the per-minute cache is shared with formatIsoMs: interleaving minutes never mixes them up
  for (let i = 0; i < 50; i++) {
    const a = 1_700_000_000_000 + i * 61_001;
    const b = 1_800_000_000_123 - i * 59_999;
    assert.equal(formatEpochMsIso(a), new Date(a).toISOString());
    assert.equal(formatIsoMs({ seconds: Math.floor(b / 1000), nanos: (b % 1000) * 1e6, subMs: false }), new Date(b).toISOString());
  }
});
