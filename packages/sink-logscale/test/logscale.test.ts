// The logscale sink against the LogScale emulator: request shape per mode (tags, timestamps,
// attributes, rawstring, event_id), gzip, the error table end to end (503 backlog, non-200 2xx,
// 413 split, refused token), token_file, and the option checks.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LogEvent, withDefaults, type EventOrigin, type OptionsInput } from '@tern/core';
import { assertFilledUpTo, makeEvents, testContext, trackedBatch, waitFor, type TestContext } from '@tern/core/testing';
import { startLogScale, type LogScaleEmulator, type LogScaleOptions } from '@tern/test-kit';
import { createLogScaleSink, fromValue, LogScaleEncoder, logscaleSink, LOGSCALE_MAX_BYTES, LOGSCALE_MAX_EVENTS, schema, validate, type LogScaleConfig } from '../src/index.ts';

/** Options as a pipeline file would give them (the schema's defaults filled in). */
const cfg = (c: OptionsInput<LogScaleConfig>): LogScaleConfig => withDefaults(logscaleSink, c);

const ORIGIN: EventOrigin = { sourceId: 'tetragon', path: '/var/log/tetragon/tetragon.log', host: 'node-a', fileId: 'f1' };
const FAST = { batch: { max_events: 100, timeout_ms: 20 }, request: { retry_initial_ms: 5, retry_max_ms: 50 } } as const;

async function emulator(opts: LogScaleOptions = {}): Promise<LogScaleEmulator> {
  const emu = await startLogScale(opts);
  after(() => emu.close());
  return emu;
}

function sinkFor(emu: LogScaleEmulator, config: OptionsInput<LogScaleConfig> = {}, ctx: TestContext = testContext('ls', 'logscale')) {
  const sink = createLogScaleSink(cfg({ endpoint: emu.url, token: 'test-token', healthcheck: false, ...FAST, ...config }), ctx);
  sink.start();
  after(() => sink.stop(AbortSignal.timeout(300)));
  return { sink, ctx };
}

function ev(obj: Record<string, unknown>, offset = -1, origin: EventOrigin = ORIGIN): LogEvent {
  return new LogEvent(origin, JSON.stringify(obj), 'json', undefined, offset);
}

describe('structured mode', () => {
  it('groups events by rendered tags, keeps the event as attributes and its time as @timestamp', async () => {
    const emu = await emulator();
    const { sink } = sinkFor(emu, { tags: { source: '{{@source}}', node: '{{@host}}', kind: '{{process.kind}}', cluster: 'prod-eu1' } });
    const events = [
      ev({ process: { kind: 'exec' }, time: '2026-08-21T10:00:00.123456789Z' }),
      ev({ process: { kind: 'exit' }, '@timestamp': '2026-08-21T10:00:01+02:00' }),
      ev({ process: { kind: 'exec' }, time: 1787306400456 }),
      ev({ process: {}, time: 1787306400 }),
      ev({ other: 1 }, -1, { ...ORIGIN, host: 'node-b' }),
    ];
    const before = Date.now();
    const b = trackedBatch(events);
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    const stored = emu.events('sandbox');
    assert.equal(stored.length, 5);
    const ingest = emu.requests.filter((r) => r.path === '/api/v1/ingest/humio-structured');
    assert.equal(ingest.length, 4, 'one request per distinct tag set (exec, exit, unknown@a, unknown@b)');
    assert.ok(ingest.every((r) => r.headers['content-encoding'] === 'gzip' && r.headers['content-type'] === 'application/json' && r.headers.authorization === 'Bearer test-token'));
    const byKind = (k: string) => stored.filter((e) => e['#kind'] === k);
    assert.equal(byKind('exec').length, 2);
    assert.equal(byKind('exit').length, 1);
    assert.equal(byKind('unknown').length, 2, 'a missing field renders as unknown');
    for (const e of stored) {
      assert.equal(e['#source'], 'tetragon');
      assert.equal(e['#cluster'], 'prod-eu1');
    }
    assert.deepEqual(byKind('exec').map((e) => e['@timestamp']), [Date.UTC(2026, 7, 21, 10, 0, 0, 123), 1787306400456]);
    assert.equal(byKind('exit')[0]?.['@timestamp'], Date.UTC(2026, 7, 21, 8, 0, 1));
    const unknown = byKind('unknown');
    assert.equal(unknown.find((e) => e['#node'] === 'node-a')?.['@timestamp'], 1787306400000, 'epoch seconds become ms');
    const noTime = unknown.find((e) => e['#node'] === 'node-b');
    assert.ok(noTime && noTime['@timestamp'] >= before && noTime['@timestamp'] <= Date.now(), 'no time field: ingest time');
    assert.deepEqual(byKind('exit')[0]?.attributes, { process: { kind: 'exit' }, '@timestamp': '2026-08-21T10:00:01+02:00' });
  });

  it('origin-only tags ({{@host}}, {{@path}}) are rendered once per origin and still told apart', async () => {
    const emu = await emulator();
    const { sink } = sinkFor(emu, { tags: { node: '{{@host}}', file: '{{@path}}' } });
    const other: EventOrigin = { ...ORIGIN, host: 'node-b', path: '/other.log' };
    const b = trackedBatch([ev({ n: 1 }), ev({ n: 2 }, -1, other), ev({ n: 3 })]);
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    const stored = emu.events();
    assert.deepEqual(stored.filter((e) => e['#node'] === 'node-a').map((e) => [e.attributes.n, e['#file']]), [[1, ORIGIN.path], [3, ORIGIN.path]]);
    assert.deepEqual(stored.filter((e) => e['#node'] === 'node-b').map((e) => [e.attributes.n, e['#file']]), [[2, '/other.log']]);
  });

  it('sends the original line unchanged (no re-serialisation) and @rawstring defaults to it', async () => {
    const emu = await emulator();
    const { sink } = sinkFor(emu, { compression: 'none' });
    const events = makeEvents(3);
    const b = trackedBatch(events);
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    const body = emu.requests.find((r) => r.path === '/api/v1/ingest/humio-structured')?.body.toString('utf8') ?? '';
    for (const e of events) assert.ok(body.includes(`"attributes":${e.raw}`));
    assert.ok(body.startsWith('[{"tags":{"source":"test_source"},"events":[{"timestamp":"2026-08-21T10:00:00.000Z"'), body.slice(0, 120));
  });

  it('rawstring sends the line as @rawstring; event_id is stable per file position and keeps an event’s own id', async () => {
    const emu = await emulator();
    const { sink } = sinkFor(emu, { rawstring: true, event_id: true });
    const line = '{"a":1,"time":"2026-08-21T10:00:00Z"}';
    const first = [new LogEvent(ORIGIN, line, 'json', undefined, 100), new LogEvent(ORIGIN, line, 'json', undefined, 200), ev({ event_id: 'mine', b: 2 }, 300)];
    const b1 = trackedBatch(first);
    sink.accept(b1);
    assert.equal(await b1.done, 'delivered');
    // The same position read again (a replay after a restart) gets the same id.
    const b2 = trackedBatch([new LogEvent(ORIGIN, line, 'json', undefined, 100)]);
    sink.accept(b2);
    assert.equal(await b2.done, 'delivered');
    const stored = emu.events();
    assert.equal(stored.length, 4);
    assert.equal(stored[0]?.['@rawstring'], line);
    const ids = stored.map((e) => e.attributes.event_id);
    assert.match(String(ids[0]), /^[A-Za-z0-9_-]{27}$/);
    assert.notEqual(ids[0], ids[1], 'same line at another offset is another event');
    assert.equal(ids[2], 'mine');
    assert.equal(ids[3], ids[0]);
    assert.equal(stored[0]?.attributes.a, 1);
  });
});

describe('timestamps', () => {
  it('fromValue: core\'s time rules; RFC 3339 strings kept to be sent as they are, epoch s/ms/µs/ns as ms, anything else undefined', () => {
    const at10 = Date.UTC(2026, 7, 21, 10);
    assert.deepEqual(fromValue('2026-08-21T10:00:00.123456789Z'), { ms: at10 + 123, iso: '2026-08-21T10:00:00.123456789Z' });
    assert.deepEqual(fromValue('2026-08-21T12:00:00+02:00'), { ms: at10, iso: '2026-08-21T12:00:00+02:00' });
    assert.deepEqual(fromValue('2026-08-21T10:00:00,5Z'), { ms: at10 + 500 }, 'comma decimal: sent as ms');
    assert.deepEqual(fromValue('2026-08-21 10:00:00Z'), { ms: at10 }, 'a space for T: sent as ms');
    const ms = Date.UTC(2026, 7, 21, 10, 0, 0, 123);
    assert.deepEqual(fromValue(ms / 1000), { ms });
    assert.deepEqual(fromValue(ms), { ms });
    assert.deepEqual(fromValue(ms * 1000), { ms });
    assert.deepEqual(fromValue(ms * 1e6), { ms });
    assert.deepEqual(fromValue(String(ms)), { ms }, 'digits as a string');
    // `Date.parse` strings are not times any more (changelog); 0 is the epoch.
    for (const v of ['Fri, 21 Aug 2026 10:00:00 GMT', 'soon', '', -5, null, {}, true]) assert.equal(fromValue(v), undefined, String(v));
    assert.deepEqual(fromValue(0), { ms: 0 });
  });

  it('the first configured field present wins; HEC gets epoch seconds', () => {
    const enc = new LogScaleEncoder(cfg({ endpoint: 'http://x', mode: 'hec', tags: {}, timestamp_fields: ['ts', 'time'] }), () => 42_000);
    const body = enc.encode([ev({ time: '2026-08-21T10:00:00Z', ts: 1787306401 }), ev({ time: '2026-08-21T10:00:00,5Z' }), ev({ x: 1 })], '{}').body;
    assert.equal(body, '{"event":{"time":"2026-08-21T10:00:00Z","ts":1787306401},"time":1787306401}{"event":{"time":"2026-08-21T10:00:00,5Z"},"time":1787306400.5}{"event":{"x":1},"time":42}');
  });

  it('an event a stage replaced with JSON text (replaceJson) takes its time from that text, not from the line as read', () => {
    const enc = new LogScaleEncoder(cfg({ endpoint: 'http://x', mode: 'hec', tags: {}, timestamp_fields: ['ts', 'time'] }), () => 42_000);
    const e = new LogEvent({ sourceId: 's', path: '-', host: 'h' }, '{"time":"2026-08-21T10:00:00Z"}', 'json', undefined);
    e.replaceJson('{"mapped":true,"time":"2026-08-21T10:00:01Z"}');
    assert.equal(enc.encode([e], '{}').body, '{"event":{"mapped":true,"time":"2026-08-21T10:00:01Z"},"time":1787306401}');
  });
});

describe('unstructured and hec modes', () => {
  it('unstructured sends the original lines as messages under the tags', async () => {
    const emu = await emulator({ tokens: { 'test-token': { repository: 'raw', parser: 'json' } } });
    const { sink } = sinkFor(emu, { mode: 'unstructured', tags: { source: 'tetragon' } });
    const events = makeEvents(5);
    const b = trackedBatch(events);
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    const stored = emu.events('raw');
    assert.deepEqual(stored.map((e) => e['@rawstring']), events.map((e) => e.raw));
    assert.ok(stored.every((e) => e['#source'] === 'tetragon' && e['#type'] === 'json'));
    assert.ok(emu.requests.some((r) => r.path === '/api/v1/ingest/humio-unstructured'));
  });

  it('hec sends concatenated objects, tags as #fields, time in epoch seconds, event_id as a field', async () => {
    const emu = await emulator();
    const { sink } = sinkFor(emu, { mode: 'hec', tags: { cluster: 'prod' }, event_id: true, healthcheck: true });
    const events = makeEvents(4);
    const b = trackedBatch(events);
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    assert.ok(emu.requests.some((r) => r.path === '/services/collector/health/1.0' && r.status === 200), 'health path checked first');
    const req = emu.requests.find((r) => r.path === '/services/collector/event');
    assert.ok(req?.headers['x-splunk-request-channel']);
    const stored = emu.events();
    assert.equal(stored.length, 4);
    assert.deepEqual(stored.map((e) => e['@timestamp']), events.map((_, i) => Date.UTC(2026, 7, 21, 10, 0, 0) + i));
    assert.ok(stored.every((e) => e['#cluster'] === 'prod' && typeof e.attributes.event_id === 'string'));
    assert.equal(stored[2]?.attributes.seq, 2);
  });
});

describe('error table against the emulator', () => {
  it('503 ingest backlog: retried until accepted, every event arrives', async () => {
    const emu = await emulator();
    emu.fault({ match: { path: '/api/v1/ingest/humio-structured' }, times: 3, action: { status: 503 } });
    const { sink, ctx } = sinkFor(emu);
    const b = trackedBatch(makeEvents(250));
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    assert.equal(emu.count(), 250);
    assert.equal(emu.stats().byStatus[503], 3);
    assert.equal(ctx.telemetry.snapshot().retries, 3);
  });

  it('204 is not a commit: resent, and the reason says why', async () => {
    const emu = await emulator();
    emu.fault({ match: { path: '/api/v1/ingest/humio-structured' }, times: 1, action: { status: 204 } });
    const { sink, ctx } = sinkFor(emu);
    const b = trackedBatch(makeEvents(10));
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    assert.equal(emu.count(), 10);
    assert.ok(ctx.records.some((r) => /every answer but 200/.test(String(r.reason))));
  });

  it('413 over the request limit: split until the halves fit', async () => {
    const emu = await emulator({ maxRequestBytes: 40_000 });
    const { sink, ctx } = sinkFor(emu, { batch: { max_events: 1000, max_bytes: 1_000_000, timeout_ms: 20 } });
    const b = trackedBatch(makeEvents(1000));
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    assert.equal(emu.count(), 1000);
    assert.ok((emu.stats().byStatus[413] ?? 0) >= 1);
    assert.equal(ctx.telemetry.snapshot().events_delivered, 1000);
  });

  it('json_lazy: a malformed unparsed line does not cost its batch (400, found, resent as its tagged event)', async () => {
    const emu = await emulator();
    const { sink, ctx } = sinkFor(emu);
    const lazy = (line: string) => new LogEvent(ORIGIN, line, 'json', undefined, -1);
    const b = trackedBatch([lazy('{"a":1,"time":"2026-08-21T10:00:00Z"}'), lazy('{"a":2,"b":'), lazy('{"a":3}')]);
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    assert.equal(emu.stats().byStatus[400], 1);
    const stored = emu.events();
    assert.deepEqual(stored.map((e) => e.attributes.a), [1, undefined, 3]);
    assert.equal(stored[1]?.attributes.message, '{"a":2,"b":');
    assert.deepEqual(stored[1]?.attributes.tags, ['_json_parse_failure']);
    assert.ok(ctx.records.some((r) => /refused lines that are not JSON/.test(r.msg)));
    assert.equal(lazy('{"a":2,"b":').toJson(), '{"a":2,"b":', 'the shared event itself is never changed');
  });

  it('400 is permanent: not retried; the request is split until each refused event stands alone', async () => {
    const emu = await emulator();
    emu.fault({ match: { path: '/api/v1/ingest/humio-structured' }, times: 1000, action: { status: 400 } });
    const { sink, ctx } = sinkFor(emu);
    const b = trackedBatch(makeEvents(5));
    sink.accept(b);
    assert.equal(await b.done, 'rejected');
    const c = ctx.telemetry.snapshot();
    assert.equal(c.events_rejected, 5);
    assert.equal(c.retries ?? 0, 0);
    assert.equal(c.requests, 9, 'a tree of halves: 5 → 2+3 → 1+1+1+2 → 1+1');
  });

  it('a one-off 400 for a request costs none of its events: the halves are sent again and stored', async () => {
    const emu = await emulator();
    emu.fault({ match: { path: '/api/v1/ingest/humio-structured' }, times: 1, action: { status: 400 } });
    const { sink } = sinkFor(emu);
    const b = trackedBatch(makeEvents(5));
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    assert.equal(emu.count(), 5);
  });

  it('a refused token pauses the sink loudly once, keeps the events, and resumes when accepted', async () => {
    const emu = await emulator();
    emu.fault({ match: { path: '/api/v1/ingest/humio-structured' }, times: 3, action: { status: 403 } });
    const { sink, ctx } = sinkFor(emu);
    const b = trackedBatch(makeEvents(20));
    sink.accept(b);
    assert.equal(await b.done, 'delivered', 'kept through the pause, then delivered');
    assert.equal(emu.count(), 20);
    assert.equal(ctx.records.filter((r) => r.code === 'TERN_ERR_SINK_AUTH' && r.level === 50).length, 1, 'one error line for the whole pause');
    assert.ok(ctx.records.some((r) => /resumed/.test(r.msg)));
    assert.ok(!JSON.stringify(ctx.records).includes('test-token'), 'token never logged');
  });

  it('healthcheck: an unknown token is TERN_ERR_SINK_AUTH and nothing is sent', async () => {
    const emu = await emulator();
    const { sink, ctx } = sinkFor(emu, { token: 'wrong', healthcheck: true });
    sink.accept(trackedBatch(makeEvents(3)));
    await waitFor(() => ctx.records.some((r) => r.code === 'TERN_ERR_SINK_AUTH'), 5000, 'healthcheck auth error');
    assert.equal(emu.count(), 0);
    assert.ok(emu.requests.every((r) => r.body.toString() === '[]'), 'only the empty healthcheck ingest');
  });
});

describe('batching by bytes', () => {
  // The default encoding is the conformance suite's scenario; rawstring and event_id add bytes per event.
  it('fills requests up to batch.max_bytes without going over, with rawstring and event_id', async () => {
    const emu = await emulator();
    const { sink, ctx } = sinkFor(emu, { compression: 'none', batch: { max_events: 5000, max_bytes: 20_000, timeout_ms: 20 }, rawstring: true, event_id: true });
    const b = trackedBatch(makeEvents(2000));
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    const sizes = emu.requests.filter((r) => r.path === '/api/v1/ingest/humio-structured').map((r) => r.wireBytes);
    assertFilledUpTo(sizes, 20_000);
    assert.equal(ctx.telemetry.snapshot().requests, sizes.length);
  });
});

describe('options', () => {
  it('token_file is read once at build, trailing newline ignored', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tern-ls-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'token'), 'test-token\n');
    const emu = await emulator();
    const { sink } = sinkFor(emu, { token: undefined, token_file: 'token' }, testContext('ls', 'logscale', { configDir: dir }));
    const b = trackedBatch(makeEvents(2));
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
  });

  it('validate: token xor token_file, mode-specific options, template syntax', () => {
    const base = { endpoint: 'http://x' };
    assert.deepEqual(validate(cfg({ ...base, token: 't' })), []);
    assert.deepEqual(validate(cfg(base)), ['token (or token_file) is required']);
    assert.deepEqual(validate(cfg({ ...base, token: 't', token_file: 'f' })), ['set token or token_file, not both']);
    assert.equal(validate(cfg({ ...base, token: 't', mode: 'unstructured', rawstring: true, event_id: true })).length, 2);
    assert.deepEqual(validate(cfg({ ...base, token: 't', tags: { a: '{{x' } })), ['tags.a: unterminated "{{" at column 1']);
    assert.deepEqual(validate(cfg({ ...base, token: 't', timestamp_fields: ['time', 'a..b'] })), ['timestamp_fields.1: invalid field path "a..b" at column 3: empty segment']);
  });

  it('schema: batch defaults 1,000 events / 1 MB / 1 s, bounded by 5,000 events / 5 MB', () => {
    const batch = (schema.properties as unknown as Record<string, { properties: Record<string, { default: number; maximum: number }> }>).batch?.properties;
    assert.equal(batch?.max_events?.default, 1000);
    assert.equal(batch?.max_bytes?.default, 1_000_000);
    assert.equal(batch?.timeout_ms?.default, 1000);
    assert.equal(batch?.max_events?.maximum, LOGSCALE_MAX_EVENTS);
    assert.equal(batch?.max_bytes?.maximum, LOGSCALE_MAX_BYTES);
  });
});
