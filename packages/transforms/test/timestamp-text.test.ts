/**
 * The timestamp stage appends its fields to the line's text instead of having the whole event
 * re-serialised (LogEvent.appendFields). This holds it to the object path it replaced, line by line:
 * for every line of the Tetragon sample, of generated bench data and of edge cases (escapes,
 * unicode, odd or missing fields, non-object bodies, dotted labels, 1e21, duplicate keys, invalid
 * JSON), under several options, `JSON.parse` of what the stage emits equals the old result (parse,
 * then `setPath` on the parsed object), and so does the `ecs` tetragon document built after it
 * (timestamp then mapTetragon then JSON.stringify). It also checks that ordinary lines did take the
 * text path, so the comparison cannot pass by both sides being the same code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIsoMs, formatIsoNanos, getPath, getPathDotted, LogEvent, parsePath, parseTime, setPath, type EventData, type OptionsInput } from '@tern/core';
import { tetragonLog } from '@tern/test-kit/e2e';
import { timestampTransform, DEFAULT_TIMESTAMP_FIELDS, type TimestampConfig } from '../src/timestamp.ts';
import { ecsTransform } from '../src/ecs/index.ts';
import { addTag } from '../src/shared.ts';
import { fixtureLines, origin, run } from './fixtures/context.ts';

const T = '2024-11-05T08:57:41.120443918Z';
/** Stands for the clock's time given to events without a usable one (a valid time, as the real one is). */
const INGEST = '2000-01-01T00:00:00.000Z';
const proc = (extra = ''): string => `{"exec_id":"ZXhlYw==","pid":40388,"uid":0,"cwd":"/","binary":"/usr/bin/curl","arguments":"-s http://x","start_time":"${T}"${extra}}`;

/** Lines the generator does not write: each is a shape the text path must get right or leave alone. */
const EDGE_CASES: readonly string[] = [
  `{"process_exec":{"process":${proc(',"flags":"a\\"b\\\\c\\n\\t\\u0000\\u001f"')}},"node_name":"n\\u00e9\\"1","time":"${T}"}`,
  `{"process_exec":{"process":${proc(',"docker":"🚀 \\ud83d\\ude80 \\u2028 日本"')}},"time":"${T}"}`,
  `{"process_exec":{"process":{"binary":"/bin/sh"}},"node_name":"n"}`, // no time: ingest time and the failure tag
  `{"process_exec":{"process":{"binary":"/bin/sh"}},"time":"yesterday"}`, // unreadable time
  `{"process_exec":{"process":{"binary":"/bin/sh"}},"time":1730797061.120443}`, // epoch seconds
  `{"process_exec":{"process":"not an object","parent":"nor this"},"time":"${T}"}`,
  `{"process_exec":"x","time":"${T}"}`,
  `{"process_exec":[1,2],"process_exit":null,"time":"${T}"}`,
  `{"process_exec":{"process":${proc(',"pod":{"name":"p","namespace":"ns","pod_labels":{"app.kubernetes.io/name":"a","app_kubernetes_io/name":"b","x":"y"}}')}},"node_labels":{"a.b":"1","a_b":"2"},"time":"${T}"}`,
  `{"process_exit":{"process":${proc(',"pid":1e21,"big":12345678901234567890,"neg":-0,"small":1.5e-7')},"status":1e21},"time":"${T}"}`,
  `{"time":"2020-01-01T00:00:00Z","process_exec":{"process":${proc()}},"time":"${T}","node_name":"a","node_name":"b"}`, // duplicate keys
  `{"process_exec":{"process":{"binary":"/a"}},"process_exec":{"process":{"binary":"/b"}},"time":"${T}"}`,
  `{"1":"integer-like key","process_exec":{"process":${proc()}},"__proto__":{"polluted":true},"time":"${T}"}`,
  `{"process_exec":{"process":${proc()}},"@timestamp":"2020-01-01T00:00:00Z","time":"${T}"}`, // target already there
  `{"process_exec":{"process":${proc()}},"tern":{"kept":1},"tags":["t"],"time":"${T}"}`, // nanos root already there
  `{"process_exec":{"process":${proc()}},"tern":"scalar","tags":"one","time":"${T}"}`,
  `  { "process_exec" : { "process" : ${proc()} } , "time" : "${T}" }  `, // blanks everywhere
  `{"time":"${T}"}`,
  `{"time":"2024-11-05T08:57:41Z"}`, // no sub-millisecond part: no nanos field
  '{}',
  '{ }',
  '{"time":"x",', // invalid JSON
  '[1,2]',
  '"just a string"',
  '42',
  'null',
];

const LINES: readonly string[] = [...fixtureLines('tetragon.log'), ...tetragonLog(3000, 7), ...EDGE_CASES];

/** The stage's object path as it was before the text shortcut: fields read, then set on the parsed object. */
function objectPath(line: string, cfg: TimestampConfig): EventData {
  const doc = new LogEvent(origin('/var/log/t.log'), line, 'json', undefined).mutate();
  const fields = (typeof cfg.field === 'string' ? [cfg.field] : cfg.field).map(parsePath);
  let parsed;
  for (const f of fields) {
    const v = getPathDotted(doc, f);
    if (v === undefined || v === null) continue;
    parsed = parseTime(v, cfg.format);
    break;
  }
  if (parsed !== undefined) {
    setPath(doc, parsePath(cfg.target), formatIsoMs(parsed));
    if (cfg.nanos_field !== null && parsed.subMs) setPath(doc, parsePath(cfg.nanos_field), formatIsoNanos(parsed));
  } else {
    setPath(doc, parsePath(cfg.target), INGEST);
    addTag(doc, cfg.on_error_tag);
  }
  return doc;
}

/**
 * What a consumer reads from a document's text. The text path keeps the input's spelling of numbers
 * (`1e21`, `-0`, 20 digits) where JSON.stringify rewrites them; they parse to the same values except
 * that `-0` stays negative, which is the same JSON number for every consumer, so it is read as 0.
 */
const read = (text: string): unknown => JSON.parse(text, (_k, v: unknown) => (Object.is(v, -0) ? 0 : v));

/** A value with every string equal to `from` replaced by `to`. */
function replaceDeep(v: unknown, from: unknown, to: string): unknown {
  if (from === undefined) return v;
  if (v === from) return to;
  if (Array.isArray(v)) return v.map((x) => replaceDeep(x, from, to));
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, replaceDeep(x, from, to)]));
  return v;
}

/** The ingest time of an event without a usable time is the clock's: compared as a placeholder. */
function withoutIngest(doc: unknown, cfg: TimestampConfig, failed: boolean): unknown {
  if (!failed || doc === null || typeof doc !== 'object') return doc;
  const d = structuredClone(doc) as EventData;
  setPath(d, parsePath(cfg.target), INGEST);
  return d;
}

const CONFIGS: ReadonlyArray<OptionsInput<TimestampConfig>> = [{}, { nanos_field: null }, { target: 'event.created' }, { target: 'time' }, { target: 'meta.ms', nanos_field: 'meta.ns' }];

for (const options of CONFIGS) {
  test(`timestamp ${JSON.stringify(options)}: the emitted text parses to the object path's document, with ecs after it too`, async () => {
    const withDefaultsCfg = { field: [...DEFAULT_TIMESTAMP_FIELDS], target: '@timestamp', format: 'auto', nanos_field: 'tern.timestamp_nanos', on_error_tag: '_timestamp_failure', ...options } as TimestampConfig;
    const events = LINES.map((l) => new LogEvent(origin('/var/log/t.log'), l, 'json', undefined));
    const { out } = await run(timestampTransform, options, events);
    assert.equal(out.length, LINES.length);
    const stamped = out.map((ev) => ev.toJson());
    let viaText = 0;
    for (const [i, line] of LINES.entries()) {
      const want = objectPath(line, withDefaultsCfg);
      const failed = Array.isArray(want.tags) && want.tags.includes('_timestamp_failure');
      assert.deepEqual(withoutIngest(read(stamped[i] as string), withDefaultsCfg, failed), withoutIngest(read(JSON.stringify(want)), withDefaultsCfg, failed), `line ${i}: ${line.slice(0, 120)}`);
      const head = line.slice(0, line.lastIndexOf('}'));
      if (head.length > 2 && (stamped[i] as string).startsWith(head)) viaText++;
    }
    // Every valid line whose target and nanos roots are new took the text path.
    if (options.target === undefined || options.target === 'event.created') assert.ok(viaText >= 3000, `only ${viaText} lines went through the text path`);

    // The ecs tetragon document after it: the same as the object path's mapped with the stage unchanged.
    const ecsOut = (await run(ecsTransform, { profile: 'tetragon' }, out)).out.map((ev) => ev.toJson());
    const refIn = LINES.map((l) => LogEvent.fromData(origin('/var/log/t.log'), objectPath(l, withDefaultsCfg)));
    const ecsRef = (await run(ecsTransform, { profile: 'tetragon' }, refIn)).out.map((ev) => ev.toJson());
    for (const [i, line] of LINES.entries()) {
      // An event without a usable time carries the clock's time: the stage's value on each side stands for it.
      const ingest = (text: string): unknown => (text.includes('_timestamp_failure') ? getPath(read(text) as EventData, parsePath(withDefaultsCfg.target)) : undefined);
      const got = replaceDeep(read(ecsOut[i] as string), ingest(stamped[i] as string), INGEST);
      const want = read(ecsRef[i] as string);
      assert.deepEqual(got, want, `ecs line ${i}: ${line.slice(0, 120)}`);
    }
  });
}
