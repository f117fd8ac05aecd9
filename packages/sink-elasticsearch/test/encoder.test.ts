// NDJSON encoding: action lines, untouched documents, @timestamp splicing, targets from templates,
// deterministic ids; plus the option schema and cross-field validation.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { compileTemplate, LogEvent, templateError, withDefaults, type OptionsInput } from '@tern/core';
import { makeEvents, TEST_ORIGIN } from '@tern/core/testing';
import { BulkEncoder, effectiveMode, elasticsearchSink, schema, TARGET_TEMPLATE, validate, type ElasticsearchConfig } from '../src/index.ts';

const base = { mode: 'data_stream' as const, index: 'tern-%Y.%m.%d', data_stream: { type: 'logs', dataset: 'cilium_tetragon.log', namespace: 'default' }, id: 'content_hash' as const, timestamp_field: 'time' };
const NOW = () => Date.UTC(2026, 0, 2, 3);
/** Options as the schema completes them, for `validate` (which the loader calls after defaults). */
const cfg = (c: OptionsInput<ElasticsearchConfig>): ElasticsearchConfig => withDefaults(elasticsearchSink, c);
const line = (s: string, offset = 0) => new LogEvent(TEST_ORIGIN, s, 'json', undefined, offset);

function lines(body: string): unknown[] {
  assert.ok(body.endsWith('\n'), 'the body ends with a newline');
  return body.slice(0, -1).split('\n').map((l) => JSON.parse(l) as unknown);
}

describe('BulkEncoder', () => {
  it('writes a create action per event and the original line untouched', () => {
    const evs = makeEvents(3);
    const enc = new BulkEncoder(base, NOW);
    const r = enc.encode(evs);
    assert.equal(r.count, 3);
    const ls = r.body.toString().split('\n');
    assert.equal(ls[1], evs[0]?.raw, 'the document is the original line, byte for byte');
    const action = JSON.parse(ls[0] as string) as { create: { _index: string; _id: string } };
    assert.equal(action.create._index, 'logs-cilium_tetragon.log-default');
    assert.match(action.create._id, /^[A-Za-z0-9_-]{27}$/);
    assert.equal(ls.length, 7);
  });

  it('splices @timestamp from timestamp_field when the event has none (Tetragon lines)', () => {
    const enc = new BulkEncoder(base, NOW);
    const tetragon = '{"process_exec":{"process":{"binary":"/bin/sh","start_time":"2024-11-22T05:19:56.272534327Z"}},"node_name":"kind","time":"2024-11-22T05:20:00.001222152Z"}';
    const [, doc] = lines(enc.encode([line(tetragon)]).body.toString()) as [unknown, Record<string, unknown>];
    assert.equal(doc['@timestamp'], '2024-11-22T05:20:00.001Z');
    assert.equal(doc.time, '2024-11-22T05:20:00.001222152Z', 'the rest is kept');
    // a nested or non-final "time" is found by parsing
    const nested = '{"time":"2025-01-01T00:00:00Z","a":{"time":"1999-01-01T00:00:00Z"}}';
    const [, doc2] = lines(enc.encode([line(nested)]).body.toString()) as [unknown, Record<string, unknown>];
    assert.equal(doc2['@timestamp'], '2025-01-01T00:00:00.000Z');
    // no time at all: now
    const [, doc3] = lines(enc.encode([line('{"msg":"x"}')]).body.toString()) as [unknown, Record<string, unknown>];
    assert.equal(doc3['@timestamp'], '2026-01-02T03:00:00.000Z');
    const [, doc4] = lines(enc.encode([line('{}')]).body.toString()) as [unknown, Record<string, unknown>];
    assert.deepEqual(doc4, { '@timestamp': '2026-01-02T03:00:00.000Z' });
    // exact bytes where the line is not parsed: a key that only starts like @timestamp, a \v after `{`
    const docLine = (l: string) => enc.encode([line(l)]).body.toString().split('\n')[1];
    assert.equal(docLine('{"@timestamp_x":1,,"time":"2024-11-22T05:20:00Z"}'), '{"@timestamp":"2024-11-22T05:20:00.000Z","@timestamp_x":1,,"time":"2024-11-22T05:20:00Z"}');
    assert.equal(docLine('{\u000b"x":1,"time":"2024-11-22T05:20:00Z"}'), '{"@timestamp":"2024-11-22T05:20:00.000Z","x":1,"time":"2024-11-22T05:20:00Z"}');
    assert.equal(docLine('{"a":"@timestamp\\"","time":"2024-11-22T05:20:00Z"}'), '{"@timestamp":"2024-11-22T05:20:00.000Z","a":"@timestamp\\"","time":"2024-11-22T05:20:00Z"}');
    // blanks around the braces (JSON allows them): still one valid document per line
    for (const padded of ['{ }', ' {}  ', '{\t"msg" : "y" }', '  { "a":1}']) {
      const [, d] = lines(enc.encode([line(padded)]).body.toString()) as [unknown, Record<string, unknown>];
      assert.equal(d['@timestamp'], '2026-01-02T03:00:00.000Z', padded);
      assert.deepEqual({ ...d, '@timestamp': undefined }, { ...(JSON.parse(padded) as object), '@timestamp': undefined }, padded);
    }
    // present: unchanged
    const has = '{"@timestamp":"2020-01-01T00:00:00Z","x":1}';
    assert.equal(enc.encode([line(has)]).body.toString().split('\n')[1], has);
  });

  it('keeps the content hash stable whether or not @timestamp was spliced, and ids deterministic', () => {
    const l = '{"a":1,"time":"2024-11-22T05:20:00Z"}';
    const ds = new BulkEncoder(base, NOW).encode([line(l)]).body.toString().split('\n')[0];
    const ix = new BulkEncoder({ ...base, mode: 'index', index: 'x' }, NOW).encode([line(l)]).body.toString().split('\n')[0];
    const id = (s: string | undefined) => (JSON.parse(s ?? '{}') as { create: { _id: string } }).create._id;
    assert.equal(id(ds), id(ix));
    assert.notEqual(id(ds), id(new BulkEncoder(base, NOW).encode([line('{"a":2}')]).body.toString().split('\n')[0]));
  });

  it('source_offset ids come from host + file identity + offset', () => {
    const enc = new BulkEncoder({ ...base, id: 'source_offset' }, NOW);
    const id = (ev: LogEvent) => (JSON.parse(enc.encode([ev]).body.toString().split('\n')[0] as string) as { create: { _id: string } }).create._id;
    assert.equal(id(line('{"a":1}', 100)), id(line('{"b":2}', 100)), 'same position → same id');
    assert.notEqual(id(line('{"a":1}', 100)), id(line('{"a":1}', 200)));
    const other = new LogEvent({ ...TEST_ORIGIN, fileId: 'f2' }, '{"a":1}', 'json', undefined, 100);
    assert.notEqual(id(line('{"a":1}', 100)), id(other));
    assert.equal(id(line('{"a":1}', -1)), id(line('{"a":1}', -1)), 'no offset → content hash');
  });

  it('id none writes no _id; index mode takes a template', () => {
    const enc = new BulkEncoder({ ...base, mode: 'index', index: 'Tetragon-{{node_name}}-%Y.%m.%d', id: 'none' }, NOW);
    const [action, doc] = lines(enc.encode([line('{"node_name":"Kind-Worker","time":"2024-11-22T05:20:00Z"}')]).body.toString()) as [{ create: Record<string, unknown> }, Record<string, unknown>];
    assert.deepEqual(action, { create: { _index: 'tetragon-kind-worker-2024.11.22' } });
    assert.equal(doc['@timestamp'], undefined, 'index mode does not add @timestamp');
  });

  it('renders templated data stream parts per event', () => {
    const enc = new BulkEncoder({ ...base, data_stream: { type: 'logs', dataset: 'k8s.audit', namespace: '{{objectRef.namespace}}' } }, NOW);
    const body = enc.encode([line('{"objectRef":{"namespace":"kube-system"}}'), line('{"x":1}')]).body;
    const targets = body.toString().split('\n').filter((_, i) => i % 2 === 0 && _ !== '').map((l) => (JSON.parse(l) as { create: { _index: string } }).create._index);
    assert.deepEqual(targets, ['logs-k8s.audit-kube-system', 'logs-k8s.audit-unknown']);
  });

  it('never fails on a malformed lazily decoded line: in data-stream mode it is stored as the tagged event', () => {
    const enc = new BulkEncoder({ ...base, id: 'content_hash' }, NOW);
    const bad = line('{"process_exec":{"truncated');
    const good = line('  {"a":1,"time":"2024-11-22T05:20:00Z"}');
    const out = lines(enc.encode([bad, good]).body.toString()) as Array<Record<string, unknown>>;
    const badDoc = out[1] as { message: string; tags: string[]; '@timestamp': string };
    assert.equal(badDoc.message, '{"process_exec":{"truncated');
    assert.deepEqual(badDoc.tags, ['_json_parse_failure']);
    assert.equal(badDoc['@timestamp'], '2026-01-02T03:00:00.000Z');
    assert.deepEqual(out[3], { '@timestamp': '2024-11-22T05:20:00.000Z', a: 1, time: '2024-11-22T05:20:00Z' }, 'leading blanks before { are fine');
    // encoding again (a retry) gives the same body
    assert.deepEqual(enc.encode([bad, good]).body, enc.encode([bad, good]).body);
  });

  it('encodes modified and text events', () => {
    const ev = line('{"a":1}');
    ev.mutate().b = 2;
    const text = new LogEvent(TEST_ORIGIN, 'plain text', 'text', undefined, 0);
    const enc = new BulkEncoder({ ...base, mode: 'index', index: 'x' }, NOW);
    const docs = enc.encode([ev, text]).body.toString().split('\n').filter((_, i) => i % 2 === 1);
    assert.deepEqual(docs.map((d) => JSON.parse(d) as unknown), [{ a: 1, b: 2 }, { message: 'plain text' }]);
  });
});

describe('target templates (core templates with TARGET_TEMPLATE)', () => {
  it('compile once; constants need no event', () => {
    assert.equal(compileTemplate('Logs-Static', TARGET_TEMPLATE).constant, 'logs-static');
    const t = compileTemplate('tern-%Y.%m.%d-%H', TARGET_TEMPLATE);
    assert.equal(t.constant, undefined);
    assert.equal(t.render(line('{}'), Date.UTC(2026, 10, 2, 7)), 'tern-2026.11.02-07');
  });
  it('report syntax errors', () => {
    assert.equal(templateError('ok-{{a.b}}-%Y', TARGET_TEMPLATE), undefined);
    assert.match(templateError('bad-{{a', TARGET_TEMPLATE) ?? '', /unterminated/);
    assert.match(templateError('bad-%q', TARGET_TEMPLATE) ?? '', /unknown date directive %q/);
  });
  it('event times follow core\'s rules: epoch µs and ns numbers, digit strings; a time only Date.parse knew falls back to @timestamp, then now', () => {
    const enc = new BulkEncoder({ ...base, mode: 'index', index: 'x-%Y.%m.%d' }, NOW);
    const target = (l: string) => enc.targetOf(line(l));
    assert.equal(target('{"time":1732252800123456}'), 'x-2024.11.22', 'µs (read as ms before: year 56,800)');
    assert.equal(target('{"time":"1732252800123456789"}'), 'x-2024.11.22');
    assert.equal(target('{"time":1732252800}'), 'x-2024.11.22');
    assert.equal(target('{"@timestamp":"2023-05-06T00:00:00Z","time":"Fri, 22 Nov 2024 05:20:00 GMT"}'), 'x-2023.05.06');
    assert.equal(target('{"time":"yesterday"}'), 'x-2026.01.02');
    assert.equal(target('{"a":1,"time":"2024-11-22T05:20:00\\u005a"}'), 'x-2024.11.22', 'an escape in the last key: parsed, not scanned');
  });
});

describe('schema and validate', () => {
  const ajv = new Ajv2020({ allErrors: true, useDefaults: true, strict: false });
  const check = ajv.compile(schema);

  it('fills Elasticsearch defaults', () => {
    const c: Record<string, unknown> = { endpoints: ['http://localhost:9200'] };
    assert.ok(check(c), JSON.stringify(check.errors));
    // mode and index have no static default: unset, the mode follows from whether index is set.
    assert.equal(c.mode, undefined);
    assert.equal(effectiveMode(c), 'data_stream');
    assert.equal(c.id, 'content_hash');
    assert.deepEqual(c.data_stream, { type: 'logs', dataset: 'generic', namespace: 'default' });
    assert.deepEqual(c.batch, { max_events: 1000, max_bytes: 5_000_000, timeout_ms: 1000 });
    assert.equal(c.compression, 'gzip');
    assert.deepEqual(validate(c as unknown as ElasticsearchConfig), []);
  });

  it('rejects unknown keys and bad values', () => {
    assert.equal(check({ endpoints: ['http://x'], modes: 'index' }), false);
    assert.equal(check({ endpoints: ['ftp://x'] }), false);
    assert.equal(check({ endpoints: ['http://x'], id: 'uuid' }), false);
  });

  it('cross-field rules name the option', () => {
    assert.deepEqual(validate(cfg({})), ['endpoints (or cloud_id) is required']);
    assert.deepEqual(validate(cfg({ endpoints: ['http://x'], cloud_id: 'a:b' })), ['endpoints and cloud_id are exclusive: set one']);
    assert.deepEqual(validate(cfg({ cloud_id: 'a:b', index: 'x-{{a' })), ['index: unterminated "{{" at column 3']);
    assert.deepEqual(validate(cfg({ cloud_id: 'a:b', timestamp_field: 'a..b' })), ['timestamp_field: invalid field path "a..b" at column 3: empty segment']);
    assert.deepEqual(validate(cfg({ endpoints: ['http://x'], auth: { strategy: 'basic', user: 'elastic' } })), ['auth: strategy basic needs password or password_file']);
  });

  it('the data-stream trap: a target option the mode would ignore is an error, and index alone selects it', () => {
    const e = ['http://x'];
    // index without mode: the target is index (mode index), so nothing goes to logs-generic-default.
    assert.equal(effectiveMode({ index: 'logs-cilium_tetragon.log-default' }), 'index');
    assert.deepEqual(validate(cfg({ endpoints: e, index: 'logs-cilium_tetragon.log-default' })), []);
    const [ds] = validate(cfg({ endpoints: e, mode: 'data_stream', index: 'logs-cilium_tetragon.log-default' }));
    assert.match(ds ?? '', /^index: "logs-cilium_tetragon\.log-default" is not used in mode data_stream/);
    const [both] = validate(cfg({ endpoints: e, index: 'tetragon', data_stream: { dataset: 'x' } }));
    assert.match(both ?? '', /^data_stream: is not used when writing to the target named by index/);
    assert.deepEqual(validate(cfg({ endpoints: e, mode: 'index', data_stream: {} })), [], 'an empty block (the schema default) is fine');
  });

  it('a target named like a data stream gets @timestamp in mode index too (else every document is refused)', () => {
    const enc = new BulkEncoder({ ...base, mode: 'index', index: 'logs-cilium_tetragon.log-default' }, NOW);
    const [action, doc] = lines(enc.encode([line('{"a":1,"time":"2024-11-22T05:20:00Z"}')]).body.toString()) as [{ create: { _index: string } }, Record<string, unknown>];
    assert.equal(action.create._index, 'logs-cilium_tetragon.log-default');
    assert.equal(doc['@timestamp'], '2024-11-22T05:20:00.000Z');
    const plain = new BulkEncoder({ ...base, mode: 'index', index: 'tetragon-%Y' }, NOW);
    const [, doc2] = lines(plain.encode([line('{"a":1,"time":"2024-11-22T05:20:00Z"}')]).body.toString()) as [unknown, Record<string, unknown>];
    assert.equal(doc2['@timestamp'], undefined, 'an ordinary index gets the line as it is');
    // The stock patterns are globs (logs-*-*): a dash inside the dataset or namespace is still a data stream.
    for (const index of ['logs-my-app-default', 'logs-tetragon-%Y.%m.%d', 'metrics-a-b-c']) {
      const e = new BulkEncoder({ ...base, mode: 'index', index }, NOW);
      const [, d] = lines(e.encode([line('{"a":1,"time":"2024-11-22T05:20:00Z"}')]).body.toString()) as [unknown, Record<string, unknown>];
      assert.equal(d['@timestamp'], '2024-11-22T05:20:00.000Z', index);
    }
    for (const index of ['logs-tetragon', 'logstash-2024.11.22', 'mylogs-a-b']) {
      const e = new BulkEncoder({ ...base, mode: 'index', index }, NOW);
      const [, d] = lines(e.encode([line('{"a":1,"time":"2024-11-22T05:20:00Z"}')]).body.toString()) as [unknown, Record<string, unknown>];
      assert.equal(d['@timestamp'], undefined, `${index} is not a data-stream name`);
    }
  });

  it('every option documents description and examples (defaults where one applies)', () => {
    const props = (schema as { properties: Record<string, Record<string, unknown>> }).properties;
    for (const [k, v] of Object.entries(props)) {
      assert.ok(typeof v.description === 'string', `${k}.description`);
      assert.ok('examples' in v, `${k}.examples`);
    }
    for (const k of ['data_stream', 'id', 'timestamp_field', 'compression', 'healthcheck', 'batch', 'request', 'tls']) assert.ok('default' in (props[k] ?? {}), `${k}.default`);
  });
});
