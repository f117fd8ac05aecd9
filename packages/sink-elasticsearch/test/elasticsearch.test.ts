// The elasticsearch sink against the test-kit emulator, through the official client over real HTTP:
// per-item retries, mapping conflicts, replays after a lost answer, Retry-After, credentials,
// unsupported servers, splitting on 413, and the wire format (headers, gzip, ids, pipeline).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { LogEvent, withDefaults, type ComponentContext, type OptionsInput } from '@tern/core';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { makeEvents, testContext, trackedBatch, TEST_ORIGIN, waitFor, type TestContext } from '@tern/core/testing';
import { sampleLines, startElasticsearch, type ElasticsearchEmulator, type ElasticsearchOptions, TEST_TLS_CERT, TEST_TLS_KEY, writeTestTls } from '@tern/test-kit';
import { createElasticsearchSink, elasticsearchSink, type ElasticsearchConfig } from '../src/index.ts';

/** The sink from options as a pipeline file would give them (the schema's defaults filled in). */
const sinkFor = (c: OptionsInput<ElasticsearchConfig>, ctx: ComponentContext) => createElasticsearchSink(withDefaults(elasticsearchSink, c), ctx);

const FAST = { retry_initial_ms: 5, retry_max_ms: 50, concurrency: 1, timeout_ms: 5000 };

async function setup(emuOpts: ElasticsearchOptions = {}, config: OptionsInput<ElasticsearchConfig> = {}, ctxOver: Partial<ComponentContext> = {}) {
  const emu = await startElasticsearch(emuOpts);
  const ctx: TestContext = testContext('es_out', 'elasticsearch', ctxOver);
  const sink = sinkFor(
    { endpoints: [emu.url], healthcheck: false, compression: 'none', data_stream: { dataset: 'cilium_tetragon.log' }, ...config, batch: { max_events: 10, timeout_ms: 20, ...config.batch }, request: { ...FAST, ...config.request } },
    ctx,
  );
  sink.start();
  after(async () => {
    await sink.stop(AbortSignal.timeout(200)); // paused scenarios keep events: do not wait long for them
    await emu.close();
  });
  return { emu, ctx, sink };
}

const bulks = (emu: ElasticsearchEmulator) => emu.requests.filter((r) => r.path.endsWith('/_bulk'));
const docCount = (body: Buffer) => body.toString('utf8').split('\n').filter((l) => l !== '').length / 2;
const DS = 'logs-cilium_tetragon.log-default';

describe('index_template.install: templates before the first document', () => {
  const FALCO_DS = 'logs-falco.alerts-default';
  const put = (emu: ElasticsearchEmulator) => emu.requests.filter((r) => r.method === 'PUT' && /_(index|component)_template\//.test(r.path));
  const alert = (of: Record<string, unknown>, seq: number) =>
    new LogEvent(TEST_ORIGIN, JSON.stringify({ '@timestamp': '2024-11-05T09:14:25.118Z', seq, falco: { output_fields: of } }), 'json', undefined, seq);

  it('installs the component and index templates first; Elastic\'s nested vendor shapes then index as flattened', async () => {
    const { emu, sink } = await setup({ dynamicMapping: true }, { data_stream: { dataset: 'falco.alerts' }, index_template: { install: true } });
    // ka.uri as a value in one alert and an object path in the next: refused without the template.
    const b = trackedBatch([alert({ ka: { uri: '/version' } }, 1), alert({ ka: { uri: { param: { command: 'sh' } } } }, 2), alert({ proc: { tty: 'pts/0' } }, 3), alert({ proc: { tty: 34816 } }, 4)]);
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    assert.equal(emu.count(FALCO_DS), 4);
    assert.deepEqual(Object.keys(emu.indexTemplates()), ['tern-logs-falco.alerts-default']);
    assert.deepEqual(Object.keys(emu.componentTemplates()), ['tern-logs-falco.alerts-default@mappings']);
    const t = emu.indexTemplates()['tern-logs-falco.alerts-default'] as Record<string, unknown>;
    assert.deepEqual(t.index_patterns, [FALCO_DS]);
    assert.equal(t.priority, 151, 'a literal target');
    assert.deepEqual(t.data_stream, {});
    assert.deepEqual(t.composed_of, ['logs@mappings', 'logs@settings', 'tern-logs-falco.alerts-default@mappings', 'ecs@mappings']);
    assert.equal(emu.mappingSource(FALCO_DS), 'tern-logs-falco.alerts-default');
    assert.equal(emu.mapping(FALCO_DS)['falco.output_fields'], 'flattened');
    const first = emu.requests.findIndex((r) => r.path.endsWith('/_bulk'));
    assert.ok(first > emu.requests.findIndex((r) => r.method === 'PUT' && r.path.startsWith('/_index_template/')), 'templates before the first bulk');
  });

  it('is idempotent: an up-to-date template is not written again; someone else\'s is kept unless overwrite', async () => {
    const { emu, ctx, sink } = await setup({ dynamicMapping: true }, { data_stream: { dataset: 'falco.alerts' }, index_template: { install: true }, healthcheck: true });
    const b = trackedBatch([alert({ a: 1 }, 1)]);
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    assert.equal(put(emu).length, 2);
    // A second sink (a restart) finds them up to date.
    const again = sinkFor({ endpoints: [emu.url], compression: 'none', data_stream: { dataset: 'falco.alerts' }, index_template: { install: true }, batch: { max_events: 10, timeout_ms: 20 }, request: FAST }, testContext('es_again', 'elasticsearch'));
    again.start();
    const b2 = trackedBatch([alert({ a: 2 }, 2)]);
    again.accept(b2);
    assert.equal(await b2.done, 'delivered');
    await again.stop(AbortSignal.timeout(500));
    assert.equal(put(emu).length, 2, 'nothing written the second time');
    // A template of that name that tern did not install is left alone, and that is said.
    const foreign = await fetch(`${emu.url}/_index_template/mine`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ index_patterns: ['logs-x-*'], priority: 300 }) });
    assert.equal(foreign.status, 200);
    const c3 = testContext('es_mine', 'elasticsearch');
    const mine = sinkFor({ endpoints: [emu.url], compression: 'none', data_stream: { dataset: 'x' }, index_template: { install: true, name: 'mine' }, batch: { max_events: 10, timeout_ms: 20 }, request: FAST }, c3);
    mine.start();
    const b3 = trackedBatch([alert({ a: 3 }, 3)]);
    mine.accept(b3);
    assert.equal(await b3.done, 'delivered');
    await mine.stop(AbortSignal.timeout(500));
    assert.equal((emu.indexTemplates()['mine'] as Record<string, unknown>).priority, 300, 'kept as it was');
    assert.ok(c3.records.some((r) => /not installed by tern: left as it is/.test(r.msg ?? '')));
    assert.ok(ctx.records.some((r) => r.msg === 'index template installed'));
  });

  it('two sinks of one pipeline, a templated and a literal target, both install (equal priorities would clash on Elasticsearch)', { timeout: 10_000 }, async () => {
    // examples/zeek-per-pod writes logs-{{event.dataset}}-default; beside it a Falco sink writes logs-falco.alerts-default.
    // Elasticsearch refuses a second template of the same priority whose patterns overlap the first's.
    const { emu, sink: every } = await setup({ dynamicMapping: true }, { data_stream: { dataset: '{{event.dataset}}' }, index_template: { install: true } });
    const falcoCtx = testContext('falco_es', 'elasticsearch');
    const falco = sinkFor({ endpoints: [emu.url], healthcheck: false, compression: 'none', data_stream: { dataset: 'falco.alerts' }, index_template: { install: true }, batch: { max_events: 10, timeout_ms: 20 }, request: FAST }, falcoCtx);
    falco.start();
    after(() => falco.stop(AbortSignal.timeout(200)));
    const conn = new LogEvent(TEST_ORIGIN, JSON.stringify({ '@timestamp': '2024-11-05T09:14:25.118Z', event: { dataset: 'zeek.connection' }, zeek: { session_id: 'C1' } }), 'json', undefined, 1);
    const b1 = trackedBatch([conn]);
    every.accept(b1);
    assert.equal(await b1.done, 'delivered');
    const b2 = trackedBatch([alert({ ka: { uri: '/version' } }, 2)]);
    falco.accept(b2);
    assert.equal(await b2.done, 'delivered');
    const prio = (n: string) => (emu.indexTemplates()[n] as Record<string, unknown>).priority;
    assert.deepEqual([prio('tern-logs-default'), prio('tern-logs-falco.alerts-default')], [150, 151]);
    assert.equal(emu.mappingSource('logs-zeek.connection-default'), 'tern-logs-default');
    assert.equal(emu.mappingSource(FALCO_DS), 'tern-logs-falco.alerts-default', 'the specific template wins for its data stream');
    assert.ok(!falcoCtx.records.some((r) => r.code === 'TERN_ERR_SINK_UNSUPPORTED'));
  });

  it('a clash Elasticsearch reports (equal priorities set by hand) is named, with the way out; nothing is sent meanwhile', async () => {
    const { emu } = await setup({ dynamicMapping: true }, { data_stream: { dataset: '{{event.dataset}}' }, index_template: { install: true, priority: 160 } });
    const put = await fetch(`${emu.url}/_index_template/tern-logs-default`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ index_patterns: ['logs-*-default'], priority: 160, data_stream: {}, _meta: { managed_by: 'tern' } }) });
    assert.equal(put.status, 200);
    const ctx = testContext('falco_es', 'elasticsearch');
    const falco = sinkFor({ endpoints: [emu.url], healthcheck: false, compression: 'none', data_stream: { dataset: 'falco.alerts' }, index_template: { install: true, priority: 160 }, batch: { max_events: 10, timeout_ms: 20 }, request: { ...FAST, retry_max_ms: 50 } }, ctx);
    falco.start();
    after(() => falco.stop(AbortSignal.timeout(200)));
    falco.accept(trackedBatch([alert({ a: 1 }, 1)]));
    await waitFor(() => ctx.records.some((r) => r.code === 'TERN_ERR_SINK_UNSUPPORTED'), 5000, 'template clash reported');
    const msg = ctx.records.find((r) => r.code === 'TERN_ERR_SINK_UNSUPPORTED')?.msg ?? '';
    assert.match(msg, /another index template of the same priority matches some of the same names/);
    assert.match(msg, /set index_template\.priority/);
    assert.equal(bulks(emu).length, 0, 'no document before the template');
  });

  it('no privilege to install: the sink says so once, pauses, and keeps the events', async () => {
    const { emu, ctx, sink } = await setup({ dynamicMapping: true }, { data_stream: { dataset: 'falco.alerts' }, index_template: { install: true }, request: { retry_max_ms: 50 } });
    emu.fault({ match: { method: 'PUT', path: /^\/_component_template\// }, times: Infinity, action: { status: 403 } });
    const b = trackedBatch([alert({ a: 1 }, 1)]);
    sink.accept(b);
    await waitFor(() => ctx.records.some((r) => r.code === 'TERN_ERR_SINK_AUTH'), 5000, 'template error');
    assert.match(ctx.records.find((r) => r.code === 'TERN_ERR_SINK_AUTH')?.msg ?? '', /manage_index_templates/);
    assert.equal(bulks(emu).length, 0, 'no document before the template');
    assert.equal(b.status(), undefined);
    emu.clearFaults();
    assert.equal(await b.done, 'delivered');
    assert.equal(emu.mapping(FALCO_DS)['falco.output_fields'], 'flattened');
  });
});

describe('elasticsearch sink against the emulator', () => {
  it('writes to the data stream with create actions, ids, the original lines and @timestamp', async () => {
    const { emu, ctx, sink } = await setup({}, { compression: 'gzip', pipeline: 'tetragon-enrich' });
    const b = trackedBatch(makeEvents(10));
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    assert.deepEqual(emu.targets(), [DS]);
    assert.equal(emu.count(DS), 10);
    const [req] = bulks(emu);
    assert.ok(req);
    assert.equal(req.headers['content-encoding'], 'gzip');
    assert.match(String(req.headers['content-type']), /^application\/vnd\.elasticsearch\+x-ndjson; compatible-with=8/);
    assert.equal(req.query.get('pipeline'), 'tetragon-enrich');
    assert.ok(req.wireBytes < req.body.length, 'gzip on the wire');
    const lines = req.body.toString('utf8').split('\n');
    assert.match(lines[0] ?? '', /^\{"create":\{"_index":"logs-cilium_tetragon\.log-default","_id":"[\w-]{27}"\}\}$/);
    assert.equal(lines[1], b.events[0]?.raw);
    const stored = emu.docs(DS).map((d) => d._source.seq).sort((x, y) => Number(x) - Number(y));
    assert.deepEqual(stored, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(ctx.telemetry.snapshot().events_delivered, 10);
  });

  it('index: logs-cilium_tetragon.log-default without mode writes to that data stream, with @timestamp (never to logs-generic-default)', async () => {
    const { emu, ctx, sink } = await setup({}, { data_stream: {}, index: DS });
    const b = trackedBatch(makeEvents(5));
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    assert.deepEqual(emu.targets(), [DS]);
    assert.equal(emu.count(DS), 5);
    assert.ok(emu.docs(DS).every((d) => typeof d._source['@timestamp'] === 'string'));
    assert.equal(ctx.telemetry.snapshot().events_rejected ?? 0, 0);
  });

  it('raw Tetragon lines (no @timestamp) to index: logs-cilium_tetragon.log-default or logs-my-app-default (a dash in the dataset) get @timestamp; nothing refused', async () => {
    // The stock template's pattern is the glob logs-*-*, so the cluster makes both names data streams;
    // written as a plain index, every document would be refused for its missing @timestamp.
    for (const target of [DS, 'logs-my-app-default']) {
      const { emu, ctx, sink } = await setup({}, { data_stream: {}, index: target });
      const tetragon = sampleLines('tetragon.log').slice(0, 5).map((l, i) => new LogEvent(TEST_ORIGIN, l, 'json', undefined, i));
      assert.ok(tetragon.every((e) => e.data['@timestamp'] === undefined));
      const b = trackedBatch(tetragon);
      sink.accept(b);
      assert.equal(await b.done, 'delivered', target);
      assert.deepEqual(emu.targets(), [target]);
      assert.equal(emu.count(target), 5, target);
      assert.deepEqual(emu.docs(target).map((d) => d._source['@timestamp']), tetragon.map((e) => new Date(e.data.time as string).toISOString()), target);
      assert.equal(ctx.telemetry.snapshot().events_rejected ?? 0, 0, target);
    }
  });

  it('resends per-item 429s alone, in a smaller request', async () => {
    const { emu, ctx, sink } = await setup();
    emu.itemFault({ positions: [3, 7], status: 429, error: { type: 'es_rejected_execution_exception', reason: 'rejected execution of coordinating operation' } });
    const b = trackedBatch(makeEvents(10));
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    const reqs = bulks(emu);
    assert.deepEqual(reqs.map((r) => docCount(r.body)), [10, 2]);
    const resent = reqs[1]?.body.toString('utf8').split('\n').filter((_, i) => i % 2 === 1 && _ !== '').map((l) => (JSON.parse(l) as { seq: number }).seq);
    assert.deepEqual(resent, [3, 7]);
    assert.equal(emu.count(DS), 10);
    const c = ctx.telemetry.snapshot();
    assert.equal(c.events_delivered, 10);
    assert.equal(c.retries, 1);
    assert.equal(c.requests, 2);
  });

  it('counts a mapping-conflict 400 as rejected with its reason, and delivers the rest', async () => {
    const { emu, ctx, sink } = await setup();
    emu.mappingConflict({ field: 'n', type: 'long' });
    const mk = (i: number, n: unknown) => new LogEvent(TEST_ORIGIN, JSON.stringify({ '@timestamp': '2026-08-21T10:00:00Z', i, n }), 'json', undefined, i * 100);
    const b = trackedBatch([mk(0, 1), mk(1, 'five'), mk(2, 3), mk(3, 'six')]);
    sink.accept(b);
    assert.equal(await b.done, 'rejected');
    assert.equal(emu.count(DS), 2);
    const c = ctx.telemetry.snapshot();
    assert.equal(c.events_rejected, 2);
    assert.equal(c.events_delivered, 2);
    assert.equal(c.retries ?? 0, 0, 'a 400 item is never retried');
    const warn = ctx.records.find((r) => r.msg.includes('refused events for good'));
    assert.ok(warn, 'the rejection is logged');
    assert.equal(warn.events, 2);
    assert.match(String(warn.reason), /^item status 400: document_parsing_exception: .*\[n\]/);
    assert.equal(ctx.records.filter((r) => r.msg.includes('refused events for good')).length, 1, 'rate-limited: one line, not one per event');
  });

  it('replays a request whose answer was lost without storing twice (409 = already stored)', async () => {
    const { emu, ctx, sink } = await setup({}, { id: 'source_offset' });
    emu.fault({ match: { path: /\/_bulk$/ }, action: { reset: 'after' } });
    const b = trackedBatch(makeEvents(10));
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    assert.equal(bulks(emu).length, 2);
    assert.equal(emu.count(DS), 10, 'no duplicates');
    assert.equal(emu.stats().conflicts, 10);
    const c = ctx.telemetry.snapshot();
    assert.equal(c.events_duplicate, 10);
    assert.equal(c.events_delivered, 10);
    assert.equal(c.events_rejected ?? 0, 0);
  });

  it('retries a request that outlives request.timeout_ms; the late commit is not stored twice', async () => {
    const { emu, ctx, sink } = await setup({}, { request: { timeout_ms: 200 } });
    emu.fault({ match: { path: /\/_bulk$/ }, action: { delayMs: 600 } });
    const b = trackedBatch(makeEvents(10));
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    assert.ok(bulks(emu).length >= 2);
    assert.equal(emu.count(DS), 10);
    // The emulator stored the first request before delaying its answer: the retry met 409s.
    assert.equal(emu.stats().conflicts, 10);
    assert.equal(ctx.telemetry.snapshot().events_duplicate, 10);
    assert.match(String(ctx.records.find((r) => r.msg === 'request failed; retrying')?.reason), /timed out after 200 ms/);
  });

  it('waits out Retry-After on whole-request 429 and 503', async () => {
    const { emu, sink } = await setup();
    emu.fault(
      { match: { path: /\/_bulk$/ }, action: { status: 429, headers: { 'retry-after': '1' } } },
      { match: { path: /\/_bulk$/ }, action: { status: 503, headers: { 'retry-after': '1' } } },
    );
    const b = trackedBatch(makeEvents(5));
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    const at = bulks(emu).map((r) => r.at);
    assert.equal(at.length, 3);
    assert.ok((at[1] as number) - (at[0] as number) >= 999, `429 → ${(at[1] as number) - (at[0] as number)} ms`);
    assert.ok((at[2] as number) - (at[1] as number) >= 999, `503 → ${(at[2] as number) - (at[1] as number)} ms`);
    assert.equal(emu.count(DS), 5);
  });

  it('wrong password: one clear error naming the sink, paused, nothing dropped or acked', async () => {
    const { emu, ctx, sink } = await setup({ auth: { basic: [{ username: 'elastic', password: 'right' }] } }, { healthcheck: false, auth: { strategy: 'basic', user: 'elastic', password: 'wrong' }, request: { retry_max_ms: 50 } });
    const b = trackedBatch(makeEvents(10));
    sink.accept(b);
    await waitFor(() => bulks(emu).length >= 3, 5000, 'probes while paused');
    const errors = ctx.records.filter((r) => r.level === 50);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.code, 'TERN_ERR_SINK_AUTH');
    assert.equal(errors[0]?.status, 401);
    assert.match(errors[0]?.msg ?? '', /sink es_out paused: credentials refused \(HTTP 401\)/);
    assert.equal(sink.state.paused, true);
    assert.equal(b.status(), undefined, 'not acked');
    assert.equal(ctx.telemetry.snapshot().events_rejected ?? 0, 0, 'not dropped');
    assert.equal(sink.state.outstanding, 10, 'kept');
    await sink.stop(AbortSignal.timeout(100));
    assert.equal(b.status(), undefined, 'still not acked after the stop deadline: re-read after restart');
  });

  it('healthcheck with a wrong password says so and buffers', async () => {
    const { emu, ctx, sink } = await setup({ auth: { basic: [{ username: 'elastic', password: 'right' }] } }, { healthcheck: true, auth: { strategy: 'basic', user: 'elastic', password: 'wrong' }, request: { retry_max_ms: 50 } });
    sink.accept(trackedBatch(makeEvents(3)));
    await waitFor(() => ctx.records.some((r) => r.code === 'TERN_ERR_SINK_AUTH'), 5000, 'auth error');
    assert.equal(bulks(emu).length, 0, 'nothing sent before the healthcheck passes');
    assert.equal(sink.state.healthy, false);
  });

  it('resumes after credentials are accepted again, delivering everything kept', async () => {
    const { emu, ctx, sink } = await setup({}, { request: { retry_max_ms: 30 } });
    emu.fault({ match: { path: /\/_bulk$/ }, times: 3, action: { status: 403 } });
    const b = trackedBatch(makeEvents(25));
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    assert.equal(emu.count(DS), 25);
    assert.equal(ctx.records.filter((r) => r.code === 'TERN_ERR_SINK_AUTH' && r.level === 50).length, 1);
    assert.ok(ctx.records.some((r) => r.msg === 'sink es_out resumed'));
  });

  for (const [what, opts] of [
    ['OpenSearch', { flavor: 'opensearch' as const }],
    ['Elasticsearch 7', { version: '7.17.9' }],
  ] as const) {
    it(`healthcheck against ${what}: TERN_ERR_SINK_UNSUPPORTED, events buffered`, async () => {
      const { emu, ctx, sink } = await setup(opts, { healthcheck: true });
      const b = trackedBatch(makeEvents(3));
      sink.accept(b);
      await waitFor(() => ctx.records.some((r) => r.code === 'TERN_ERR_SINK_UNSUPPORTED'), 5000, 'unsupported error');
      const e = ctx.records.find((r) => r.code === 'TERN_ERR_SINK_UNSUPPORTED');
      assert.equal(e?.level, 50);
      assert.equal(bulks(emu).length, 0);
      assert.equal(b.status(), undefined);
    });
  }

  it('bulk against OpenSearch without a healthcheck pauses instead of rejecting', async () => {
    const { ctx, sink } = await setup({ flavor: 'opensearch' }, { request: { retry_max_ms: 50 } });
    const b = trackedBatch(makeEvents(3));
    sink.accept(b);
    await waitFor(() => sink.state.paused, 5000, 'pause');
    assert.ok(ctx.records.some((r) => r.code === 'TERN_ERR_SINK_UNSUPPORTED'));
    assert.equal(ctx.telemetry.snapshot().events_rejected ?? 0, 0);
  });

  it('works with an Elasticsearch 9 server (compatible-with=8) and api_key auth', async () => {
    const key = Buffer.from('id1:secret').toString('base64');
    const { emu, sink } = await setup({ version: '9.1.0', auth: { apiKeys: [key] } }, { healthcheck: true, auth: { strategy: 'api_key', api_key: key } });
    const b = trackedBatch(makeEvents(4));
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    assert.equal(emu.count(DS), 4);
    assert.equal(emu.requests[0]?.path, '/', 'healthcheck first');
  });

  it('authenticates with a bearer token read from token_file', async () => {
    const files = writeTestTls(); // any temp dir will do for the secret file
    writeFileSync(`${files.dir}/token`, 'tok-123\n');
    const { emu, sink } = await setup({ auth: { bearer: ['tok-123'] } }, { healthcheck: true, auth: { strategy: 'bearer', token_file: 'token' } }, { configDir: files.dir });
    const b = trackedBatch(makeEvents(3));
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    assert.equal(emu.requests.at(-1)?.headers.authorization, 'Bearer tok-123');
  });

  it('builds the client from cloud_id (Elastic Cloud)', () => {
    // cloud_id = name:base64(domain$es_uuid$kibana_uuid) → https://<es_uuid>.<domain>; the client's
    // connection pool is the only place that shows the decoded URL (nothing listens there).
    const cloudId = `tern-test:${Buffer.from('eu-west-1.aws.found.io$abc123$def456').toString('base64')}`;
    const ctx = testContext('es_cloud', 'elasticsearch');
    const sink = sinkFor({ cloud_id: cloudId, healthcheck: false, auth: { strategy: 'api_key', api_key: 'k' } }, ctx);
    const urls = (sink as unknown as { protocol: { client: { connectionPool: { connections: Array<{ url: URL }> } } } }).protocol.client.connectionPool.connections.map((c) => c.url.href);
    assert.deepEqual(urls, ['https://abc123.eu-west-1.aws.found.io/']);
    return sink.stop(AbortSignal.timeout(100));
  });

  it('splits on 413 and rejects a single event over the server limit', async () => {
    const big = new LogEvent(TEST_ORIGIN, JSON.stringify({ '@timestamp': '2026-08-21T10:00:00Z', pad: 'x'.repeat(6000) }), 'json', undefined, 1);
    const evs = [...makeEvents(8), big];
    const { emu, ctx, sink } = await setup({ maxBodyBytes: 4000 }, { batch: { max_events: 20 } });
    const b = trackedBatch(evs);
    sink.accept(b);
    assert.equal(await b.done, 'rejected');
    assert.equal(emu.count(DS), 8);
    const c = ctx.telemetry.snapshot();
    assert.equal(c.events_delivered, 8);
    assert.equal(c.events_rejected, 1);
    assert.ok(bulks(emu).some((r) => r.status === 413));
  });

  it('delivers through the live endpoint when another one refuses connections', async () => {
    const dead = await startElasticsearch();
    const deadUrl = dead.url;
    await dead.close(); // nothing listens there any more: connection refused
    const live = await startElasticsearch();
    const ctx = testContext('es_out', 'elasticsearch');
    const sink = sinkFor(
      { endpoints: [deadUrl, live.url], healthcheck: false, compression: 'none', data_stream: { dataset: 'cilium_tetragon.log' }, batch: { max_events: 5, timeout_ms: 20 }, request: FAST },
      ctx,
    );
    after(async () => {
      await sink.stop(AbortSignal.timeout(200));
      await live.close();
    });
    const b = trackedBatch(makeEvents(30));
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    assert.equal(live.count(DS), 30);
    assert.ok((ctx.telemetry.snapshot().retries ?? 0) >= 1, 'the dead endpoint cost retries, not events');
  });

  it('speaks TLS with tls.ca_file and tls.server_name (through a TLS relay in front of the emulator)', async () => {
    const emu = await startElasticsearch();
    const port = Number(new URL(emu.url).port);
    const sockets = new Set<Socket>();
    const relay = createTlsServer({ cert: TEST_TLS_CERT, key: TEST_TLS_KEY }, (client) => {
      const up = netConnect(port, '127.0.0.1');
      sockets.add(client).add(up);
      client.pipe(up).pipe(client);
      client.on('error', () => up.destroy());
      up.on('error', () => client.destroy());
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()));
    const files = writeTestTls();
    const ctx = testContext('es_out', 'elasticsearch', { configDir: files.dir });
    const sink = sinkFor(
      {
        endpoints: [`https://127.0.0.1:${(relay.address() as AddressInfo).port}`],
        tls: { ca_file: 'cert.pem', server_name: 'es.internal' },
        data_stream: { dataset: 'cilium_tetragon.log' },
        batch: { timeout_ms: 20 },
        request: FAST,
      },
      ctx,
    );
    sink.start();
    after(async () => {
      await sink.stop(AbortSignal.timeout(200));
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => relay.close(() => r()));
      await emu.close();
    });
    const b = trackedBatch(makeEvents(5));
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    assert.equal(emu.count(DS), 5);
  });

  it('writes to a date-math index in index mode', async () => {
    const { emu, sink } = await setup({}, { mode: 'index', index: 'tern-%Y.%m.%d' });
    const b = trackedBatch(makeEvents(3));
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    assert.deepEqual(emu.targets(), ['tern-2026.08.21']);
  });
});
