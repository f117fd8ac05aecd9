// The parseable sink against the Parseable emulator (arrays exploded as v2.9 does): one row per
// event (arrays sent as JSON strings), explode_arrays, the reserved p_timestamp rule, stream
// templates and sanitising, custom X-P-* fields, create_stream, the error table end to end (413
// split, 400 with the server's text, refused credentials), password_file, and the option checks.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LogEvent, withDefaults, type EventOrigin, type OptionsInput } from '@tern/core';
import { assertFilledUpTo, makeEvents, testContext, trackedBatch, waitFor, type TestContext } from '@tern/core/testing';
import { startParseable, type ParseableEmulator, type ParseableOptions } from '@tern/test-kit';
import { createParseableSink, ParseableEncoder, PARSEABLE_MAX_BYTES, parseableSink, sanitizeStream, schema, stringifyArrays, validate, type ParseableConfig } from '../src/index.ts';

/** Options as a pipeline file would give them (the schema's defaults filled in). */
const cfg = (c: OptionsInput<ParseableConfig>): ParseableConfig => withDefaults(parseableSink, c);

const ORIGIN: EventOrigin = { sourceId: 'tetragon', path: '/var/log/tetragon/tetragon.log', host: 'node-a', fileId: 'f1' };
const FAST = { batch: { max_events: 100, timeout_ms: 20 }, request: { retry_initial_ms: 5, retry_max_ms: 50 } } as const;
const KPROBE = {
  process_kprobe: { process: { binary: '/usr/bin/cat', pid: 7 }, function_name: 'security_file_permission', args: [{ file_arg: { path: '/etc/shadow' } }, { int_arg: 4 }], tags: ['secrets', 'fs'] },
  node_name: 'node-a',
  time: '2026-08-21T10:00:00.000000001Z',
};

async function emulator(opts: ParseableOptions = {}): Promise<ParseableEmulator> {
  const emu = await startParseable(opts);
  after(() => emu.close());
  return emu;
}

function sinkFor(emu: ParseableEmulator, config: OptionsInput<ParseableConfig> = {}, ctx: TestContext = testContext('pb', 'parseable')) {
  const sink = createParseableSink(cfg({ endpoint: emu.url, stream: 'tetragon', username: 'admin', password: 'admin', healthcheck: false, ...FAST, ...config }), ctx);
  sink.start();
  after(() => sink.stop(AbortSignal.timeout(300)));
  return { sink, ctx };
}

function ev(obj: Record<string, unknown>): LogEvent {
  return new LogEvent(ORIGIN, JSON.stringify(obj), 'json', undefined, -1);
}

async function deliver(sink: ReturnType<typeof sinkFor>['sink'], events: LogEvent[]): Promise<string> {
  const b = trackedBatch(events);
  sink.accept(b);
  return b.done;
}

describe('rows', () => {
  it('one event stays one row: arrays (of objects, of scalars, nested) go as JSON strings', async () => {
    const emu = await emulator();
    const { sink } = sinkFor(emu);
    assert.equal(await deliver(sink, [ev(KPROBE), ev({ a: { b: [1, 2, 3] }, empty: [], time: 'x' })]), 'delivered');
    const rows = emu.rows('tetragon');
    assert.equal(rows.length, 2);
    assert.equal(rows[0]?.process_kprobe_args, JSON.stringify(KPROBE.process_kprobe.args));
    assert.equal(rows[0]?.process_kprobe_tags, '["secrets","fs"]');
    assert.equal(rows[0]?.process_kprobe_process_binary, '/usr/bin/cat', 'objects are still flattened by the server');
    assert.equal(rows[1]?.a_b, '[1,2,3]');
    assert.equal(rows[1]?.empty, '[]');
    assert.equal(emu.schema('tetragon').process_kprobe_args, 'Utf8');
  });

  it('explode_arrays: true leaves arrays to Parseable (one row per element, cartesian product)', async () => {
    const emu = await emulator();
    const { sink } = sinkFor(emu, { explode_arrays: true });
    assert.equal(await deliver(sink, [ev(KPROBE)]), 'delivered');
    assert.equal(emu.rows('tetragon').length, 4, '2 args × 2 tags');
  });

  it('events without arrays go as their original lines, joined into one JSON array', async () => {
    const emu = await emulator();
    const { sink } = sinkFor(emu, { compression: 'none' });
    const events = makeEvents(3);
    assert.equal(await deliver(sink, events), 'delivered');
    const req = emu.requests.find((r) => r.path === '/api/v1/ingest');
    assert.equal(req?.body.toString('utf8'), `[${events.map((e) => e.raw).join(',')}]`);
    assert.equal(req?.headers['content-type'], 'application/json');
    assert.equal(req?.headers['x-p-stream'], 'tetragon');
    assert.match(String(req?.headers.authorization), /^Basic /);
    assert.equal(emu.rows('tetragon')[2]?.seq, 2);
  });

  it('gzip by default', async () => {
    const emu = await emulator();
    const { sink } = sinkFor(emu);
    assert.equal(await deliver(sink, makeEvents(5)), 'delivered');
    assert.equal(emu.requests.find((r) => r.path === '/api/v1/ingest')?.headers['content-encoding'], 'gzip');
  });

  it('a reserved p_timestamp is renamed _p_timestamp instead of failing the whole request', async () => {
    const emu = await emulator();
    const { sink } = sinkFor(emu);
    const events = [ev({ p_timestamp: '2026-01-01T00:00:00Z', a: 1 }), ev({ p_timestamp: 'x', _p_timestamp: 'kept', a: 2 }), ev({ nested: { p_timestamp: 'fine' }, a: 3 })];
    assert.equal(await deliver(sink, events), 'delivered');
    const rows = emu.rows('tetragon');
    assert.equal(rows.length, 3);
    assert.equal(rows[0]?._p_timestamp, '2026-01-01T00:00:00Z');
    assert.equal(rows[1]?._p_timestamp, 'kept');
    assert.equal(rows[2]?.nested_p_timestamp, 'fine');
  });

  it('stringifyArrays shares subtrees without arrays', () => {
    const o = { a: { b: 1 }, c: [1] };
    const s = stringifyArrays(o) as typeof o;
    assert.notEqual(s, o);
    assert.equal(s.a, o.a);
    assert.equal(stringifyArrays(o.a), o.a);
    // `[` inside a string: parsed, nothing to change, the original line is kept.
    const line = '{"msg":"a [bracket]"}';
    assert.equal(new ParseableEncoder({ stream: 's', explode_arrays: false }).line(new LogEvent(ORIGIN, line, 'json', undefined)), line);
  });
});

describe('streams and fields', () => {
  it('templated streams: one request per stream, names sanitised to Parseable’s charset', async () => {
    const emu = await emulator();
    const { sink } = sinkFor(emu, { stream: '{{kind}}' });
    const events = [ev({ kind: 'falco.alerts', n: 1 }), ev({ kind: 'k8s audit', n: 2 }), ev({ kind: 'select', n: 3 }), ev({ n: 4 }), ev({ kind: 'falco.alerts', n: 5 })];
    assert.equal(await deliver(sink, events), 'delivered');
    assert.deepEqual(emu.streams().sort(), ['falco_alerts', 'k8s_audit', 'select_', 'unknown']);
    assert.deepEqual(emu.rows('falco_alerts').map((r) => r.n), [1, 5]);
    assert.equal(sanitizeStream(''), 'unknown');
  });

  it('an origin-only stream template ({{@host}}) is rendered once per origin, sanitised', async () => {
    const emu = await emulator();
    const { sink } = sinkFor(emu, { stream: 'node-{{@host}}' });
    const other = new LogEvent({ ...ORIGIN, host: 'ip-10-0-0-1.ec2.internal' }, '{"n":2}', 'json', undefined);
    assert.equal(await deliver(sink, [ev({ n: 1 }), other, ev({ n: 3 })]), 'delivered');
    assert.deepEqual(emu.streams().sort(), ['node-ip-10-0-0-1_ec2_internal', 'node-node-a']);
    assert.deepEqual(emu.rows('node-node-a').map((r) => r.n), [1, 3]);
  });

  it('custom_fields become columns through X-P-* headers', async () => {
    const emu = await emulator();
    const { sink } = sinkFor(emu, { custom_fields: { cluster: 'prod-eu1', Shipper: 'tern' } });
    assert.equal(await deliver(sink, makeEvents(2)), 'delivered');
    const row = emu.rows('tetragon')[0];
    assert.equal(row?.cluster, 'prod-eu1');
    assert.equal(row?.shipper, 'tern');
    assert.ok(row?.p_user_agent !== undefined && row.p_src_ip === '127.0.0.1');
  });

  it('create_stream creates the stream at start; "already exists" is fine', async () => {
    const emu = await emulator();
    const first = sinkFor(emu, { create_stream: true, healthcheck: true });
    await waitFor(() => first.ctx.records.some((r) => r.stream_status === 'created'), 5000, 'created');
    assert.deepEqual(emu.streams(), ['tetragon']);
    const second = sinkFor(emu, { create_stream: true, healthcheck: true });
    await waitFor(() => second.ctx.records.some((r) => r.stream_status === 'exists'), 5000, 'exists');
    assert.equal(await deliver(second.sink, makeEvents(3)), 'delivered');
    assert.equal(emu.rows('tetragon').length, 3);
    assert.ok(emu.requests.some((r) => r.method === 'GET' && r.path === '/api/v1/readiness'));
  });
});

describe('error table against the emulator', () => {
  it('413 over the payload limit: split until the halves fit', async () => {
    const emu = await emulator({ maxPayloadBytes: 30_000 });
    const { sink, ctx } = sinkFor(emu, { batch: { max_events: 1000, max_bytes: 1_000_000, timeout_ms: 20 } });
    assert.equal(await deliver(sink, makeEvents(1000)), 'delivered');
    assert.equal(emu.rows('tetragon').length, 1000);
    assert.ok((emu.stats().byStatus[413] ?? 0) >= 1);
    assert.equal(ctx.telemetry.snapshot().events_rejected ?? 0, 0);
  });

  it('400 too many fields: permanent, logged with the server’s message', async () => {
    const emu = await emulator({ maxFields: 5 });
    const { sink, ctx } = sinkFor(emu);
    assert.equal(await deliver(sink, makeEvents(3)), 'rejected');
    assert.equal(ctx.telemetry.snapshot().events_rejected, 3);
    assert.equal(ctx.telemetry.snapshot().retries ?? 0, 0);
    assert.ok(ctx.records.some((r) => /exceeds the permissible limit of 5/.test(String(r.reason))));
  });

  it('json_lazy: a malformed unparsed line does not cost its batch (400, found, resent as its tagged event)', async () => {
    const emu = await emulator();
    const { sink } = sinkFor(emu);
    const lazy = (line: string) => new LogEvent(ORIGIN, line, 'json', undefined, -1);
    assert.equal(await deliver(sink, [lazy('{"a":1}'), lazy('{"a":2,"b":'), lazy('{"a":3,"p_timestamp":"x"}')]), 'delivered');
    assert.equal(emu.stats().byStatus[400], 1);
    const rows = emu.rows('tetragon');
    assert.deepEqual(rows.map((r) => r.a), [1, undefined, 3]);
    assert.equal(rows[1]?.message, '{"a":2,"b":');
    assert.equal(rows[1]?.tags, '["_json_parse_failure"]', 'its tags array stringified too');
    assert.equal(rows[2]?._p_timestamp, 'x', 'unparsed lines are still checked for p_timestamp');
  });

  it('a line Parseable’s strict parser refuses (duplicate keys) is resent re-serialised, not rejected', async () => {
    const emu = await emulator();
    const { sink } = sinkFor(emu);
    const line = '{"a":1,"a":2,"b":3}';
    const parsed = new LogEvent(ORIGIN, line, 'json', JSON.parse(line) as Record<string, unknown>, -1);
    assert.equal(await deliver(sink, [ev({ a: 0 }), parsed]), 'delivered');
    assert.equal(emu.stats().byStatus[400], 1);
    assert.deepEqual(emu.rows('tetragon').map((r) => [r.a, r.b]), [[0, undefined], [2, 3]]);
  });

  it('a 400 that is not a malformed lazy line stays permanent: each event is refused alone, never retried', async () => {
    const emu = await emulator();
    emu.fault({ match: { path: '/api/v1/ingest' }, times: 1000, action: { status: 400 } });
    const { sink, ctx } = sinkFor(emu);
    const lazy = (line: string) => new LogEvent(ORIGIN, line, 'json', undefined, -1);
    assert.equal(await deliver(sink, [lazy('{"a":1}'), lazy('{"a":2}')]), 'rejected');
    assert.equal(ctx.telemetry.snapshot().retries ?? 0, 0);
    assert.equal(ctx.telemetry.snapshot().events_rejected, 2);
    assert.equal(ctx.telemetry.snapshot().requests, 3);
  });

  it('503 shutting down: retried until stored', async () => {
    const emu = await emulator();
    emu.fault({ match: { path: '/api/v1/ingest' }, times: 2, action: { status: 503 } });
    const { sink } = sinkFor(emu);
    assert.equal(await deliver(sink, makeEvents(10)), 'delivered');
    assert.equal(emu.rows('tetragon').length, 10);
  });

  it('a wrong password (403) pauses the sink once, keeps the events, never logs the password', async () => {
    const emu = await emulator();
    const { sink, ctx } = sinkFor(emu, { password: 'not-the-password' });
    const b = trackedBatch(makeEvents(4));
    sink.accept(b);
    await waitFor(() => ctx.records.some((r) => r.code === 'TERN_ERR_SINK_AUTH'), 5000, 'auth pause');
    assert.equal(b.status(), undefined, 'kept, not rejected');
    assert.equal(emu.stats().byStatus[403] !== undefined, true);
    assert.ok(!JSON.stringify(ctx.records).includes('not-the-password'));
  });
});

describe('batching by bytes', () => {
  // A constant stream is the conformance suite's scenario; a templated one partitions the batch.
  it('fills requests up to batch.max_bytes without going over, with a templated stream', async () => {
    const emu = await emulator();
    const { sink, ctx } = sinkFor(emu, { compression: 'none', batch: { max_events: 5000, max_bytes: 20_000, timeout_ms: 20 }, stream: '{{@source}}' });
    const b = trackedBatch(makeEvents(2000));
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    const sizes = emu.requests.filter((r) => r.path === '/api/v1/ingest').map((r) => r.wireBytes);
    assertFilledUpTo(sizes, 20_000);
    assert.equal(ctx.telemetry.snapshot().requests, sizes.length);
  });
});

describe('options', () => {
  it('password_file is read once at build, trailing newline ignored', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tern-pb-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'pw'), 's3cret\n');
    const emu = await emulator({ username: 'tern', password: 's3cret' });
    const { sink } = sinkFor(emu, { username: 'tern', password: undefined, password_file: 'pw' }, testContext('pb', 'parseable', { configDir: dir }));
    assert.equal(await deliver(sink, makeEvents(2)), 'delivered');
  });

  it('validate: password xor password_file, literal stream names, create_stream, custom fields', () => {
    const base = { endpoint: 'http://x', stream: 'tetragon', username: 'u' };
    assert.deepEqual(validate(cfg({ ...base, password: 'p' })), []);
    assert.deepEqual(validate(cfg(base)), ['password (or password_file) is required']);
    assert.deepEqual(validate(cfg({ ...base, password: 'p', password_file: 'f' })), ['set password or password_file, not both']);
    assert.deepEqual(validate(cfg({ ...base, password: 'p', stream: 'falco.alerts' })), ['stream: "falco.alerts" contains ".": Parseable allows letters, digits, - and _ (try "falco_alerts")']);
    assert.deepEqual(validate(cfg({ ...base, password: 'p', stream: 'select' })), ['stream: "select" is an SQL keyword']);
    assert.deepEqual(validate(cfg({ ...base, password: 'p', stream: '{{kind}}' })), []);
    assert.equal(validate(cfg({ ...base, password: 'p', stream: '{{kind}}', create_stream: true })).length, 1);
    assert.equal(validate(cfg({ ...base, password: 'p', custom_fields: { stream: 'x', ok: 'a\nb' } })).length, 2);
  });

  it('schema: batch defaults 1,000 events / 4 MiB / 1 s; max_bytes bounded by the 10 MiB payload limit', () => {
    const batch = (schema.properties as unknown as Record<string, { properties: Record<string, { default: number; maximum: number }> }>).batch?.properties;
    assert.equal(batch?.max_events?.default, 1000);
    assert.equal(batch?.max_bytes?.default, 4 * 1024 * 1024);
    assert.equal(batch?.max_bytes?.maximum, PARSEABLE_MAX_BYTES);
  });
});
