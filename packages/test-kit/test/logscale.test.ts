// LogScale emulator against checklist §1.9, over real HTTP.
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { startLogScale } from '../src/index.ts';
import type { LogScaleEmulator } from '../src/index.ts';

const BEARER = { authorization: 'Bearer test-token', 'content-type': 'application/json' };

async function post(url: string, body: string | Buffer, headers: Record<string, string> = BEARER) {
  const res = await fetch(url, { method: 'POST', headers, body });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

describe('logscale emulator', () => {
  let ls: LogScaleEmulator;
  before(async () => {
    ls = await startLogScale({ tokens: { 'test-token': { repository: 'sandbox' }, 'audit-token': { repository: 'audit', parser: 'json' } }, maxRequestBytes: 50_000 });
  });
  after(() => ls.close());

  test('humio-structured: 200 {} application/json; events stored with LogScale fields', async () => {
    const body = JSON.stringify([{ tags: { source: 'falco', cluster: 'prod' }, events: [
      { timestamp: '2026-08-21T10:00:00.123+02:00', attributes: { rule: 'Terminal shell', output_fields: { pod: 'web-1' } }, rawstring: '10:00 shell' },
      { timestamp: 1787306400456, timezone: 'Europe/Copenhagen', attributes: { rule: 'Write below etc' } },
    ] }]);
    const r = await post(`${ls.url}/api/v1/ingest/humio-structured`, body);
    assert.equal(r.status, 200);
    assert.equal(r.text, '{}');
    assert.equal(r.headers.get('content-type'), 'application/json; charset=utf-8');
    const [a, b] = ls.events('sandbox');
    assert.equal(a?.['@timestamp'], Date.parse('2026-08-21T08:00:00.123Z'));
    assert.equal(a?.['@timezone'], '+02:00');
    assert.equal(a?.['@rawstring'], '10:00 shell');
    assert.equal(a?.['#source'], 'falco');
    assert.equal(a?.['#repo'], 'sandbox');
    assert.deepEqual(a?.attributes, { rule: 'Terminal shell', output_fields: { pod: 'web-1' } });
    assert.equal(b?.['@timestamp'], 1787306400456);
    assert.equal(b?.['@timezone'], 'Europe/Copenhagen');
    assert.equal(b?.['@rawstring'], '{"rule":"Write below etc"}');
    assert.ok(typeof b?.['@ingesttimestamp'] === 'number');
    assert.equal(ls.count('sandbox'), 2);
  });

  test('structured validation is all-or-nothing: 400 text/plain', async () => {
    const before = ls.count();
    for (const body of ['{"events":[]}', '[{"events":[{"attributes":{}}]}]', '[{"events":[{"timestamp":"yesterday"}]}]', 'not json', '[{"tags":{"a":1},"events":[]}]']) {
      const r = await post(`${ls.url}/api/v1/ingest/humio-structured`, body);
      assert.equal(r.status, 400, body);
      assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
    }
    const mixed = JSON.stringify([{ events: [{ timestamp: 1 }, { nope: true }] }]);
    assert.equal((await post(`${ls.url}/api/v1/ingest/humio-structured`, mixed)).status, 400);
    assert.equal(ls.count(), before);
  });

  test('auth: Bearer everywhere, Splunk only on HEC; missing/unknown → 401', async () => {
    const body = JSON.stringify([{ events: [{ timestamp: 1 }] }]);
    assert.equal((await post(`${ls.url}/api/v1/ingest/humio-structured`, body, { 'content-type': 'application/json' })).status, 401);
    assert.equal((await post(`${ls.url}/api/v1/ingest/humio-structured`, body, { authorization: 'Bearer nope' })).status, 401);
    assert.equal((await post(`${ls.url}/api/v1/ingest/humio-structured`, body, { authorization: 'Splunk test-token' })).status, 401);
    const hec = await post(`${ls.url}/services/collector/event`, '{"event":"a=1 b=two","time":1787306400.5}', { authorization: 'Splunk audit-token' });
    assert.equal(hec.status, 200);
    const ev = ls.events('audit').at(-1);
    assert.equal(ev?.['@timestamp'], 1787306400500);
    assert.equal(ev?.['#type'], 'json');
    const strict = await startLogScale({ authFailureStatus: 403 });
    assert.equal((await post(`${strict.url}/api/v1/ingest/humio-structured`, body, { authorization: 'Bearer x' })).status, 403);
    await strict.close();
  });

  test('HEC: concatenated objects, fields/#tags, host/source/sourcetype, index must match', async () => {
    const body = '{"event":{"rule":"x"},"fields":{"#cluster":"prod","k":1},"time":1787306400.123,"host":"node-1","source":"falco","sourcetype":"json"}\n  {"event":"plain text a=1","fields":{},"time":1787306401}';
    const r = await post(`${ls.url}/api/v1/ingest/hec`, gzipSync(body), { authorization: 'Bearer test-token', 'content-encoding': 'gzip' });
    assert.equal(r.status, 200);
    const [a, b] = ls.events('sandbox').slice(-2);
    assert.equal(a?.['@timestamp'], 1787306400123);
    assert.equal(a?.['#cluster'], 'prod');
    assert.equal(a?.['@host'], 'node-1');
    assert.equal(a?.['@source'], 'falco');
    assert.equal(a?.['#type'], 'json');
    assert.deepEqual(a?.attributes, { rule: 'x', k: 1 });
    assert.equal(b?.['@rawstring'], 'plain text a=1');
    assert.equal(b?.attributes['a'], '1');
    assert.equal((await post(`${ls.url}/services/collector`, '{"event":"x","index":"other"}')).status, 400);
    assert.equal((await post(`${ls.url}/services/collector`, '{"time":1}')).status, 400);
    const raw = await post(`${ls.url}/services/collector/raw?channel=c1`, 'line one\r\nline two\n', { authorization: 'Splunk test-token' });
    assert.equal(raw.status, 200);
    assert.deepEqual(ls.events('sandbox').slice(-2).map((e) => [e['@rawstring'], e.attributes['channel']]), [['line one', 'c1'], ['line two', 'c1']]);
  });

  test('health check: 200 with a valid token, 400 otherwise', async () => {
    assert.equal((await fetch(`${ls.url}/services/collector/health/1.0`, { headers: { authorization: 'Splunk test-token' } })).status, 200);
    assert.equal((await fetch(`${ls.url}/services/collector/health/1.0`, { headers: { authorization: 'Splunk bad' } })).status, 400);
  });

  test('unstructured, raw and json endpoints', async () => {
    assert.equal((await post(`${ls.url}/api/v1/ingest/humio-unstructured`, JSON.stringify([{ fields: { host: 'n1' }, messages: ['m1', 'm2'] }]))).status, 200);
    assert.deepEqual(ls.events('sandbox').slice(-2).map((e) => [e['@rawstring'], e.attributes['host']]), [['m1', 'n1'], ['m2', 'n1']]);
    assert.equal((await post(`${ls.url}/api/v1/ingest/humio-unstructured`, JSON.stringify([{ messages: [1] }]))).status, 400);
    assert.equal((await post(`${ls.url}/api/v1/ingest/raw/test-token`, 'whole body', {})).status, 200);
    assert.equal(ls.events('sandbox').at(-1)?.['@rawstring'], 'whole body');
    assert.equal((await post(`${ls.url}/api/v1/ingest/json`, '[{"a":1},{"a":2}]')).status, 200);
    assert.equal(ls.events('sandbox').at(-1)?.attributes['a'], 2);
  });

  test('limit applies after decoding → 413; events over 1 MB are truncated', async () => {
    const big = JSON.stringify([{ events: [{ timestamp: 1, rawstring: 'z'.repeat(60_000) }] }]);
    const gz = gzipSync(big);
    assert.ok(gz.length < 50_000);
    const r = await post(`${ls.url}/api/v1/ingest/humio-structured`, gz, { ...BEARER, 'content-encoding': 'gzip' });
    assert.equal(r.status, 413);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
    const small = await startLogScale({ maxEventBytes: 100 });
    try {
      await post(`${small.url}/api/v1/ingest/humio-structured`, JSON.stringify([{ events: [{ timestamp: 1, rawstring: 'é'.repeat(80), attributes: { a: 1 } }] }]));
      const e = small.events()[0];
      assert.ok(e !== undefined && Buffer.byteLength(e['@rawstring']) <= 100 && e['@rawstring'].endsWith('...'));
      assert.deepEqual(e.attributes, {});
    } finally {
      await small.close();
    }
  });

  test('faults: 503, 204 (2xx other than 200), 429 Retry-After, reset after commit', async () => {
    const path = '/api/v1/ingest/humio-structured';
    const body = JSON.stringify([{ events: [{ timestamp: 1, attributes: { id: 'dup' } }] }]);
    ls.fault(
      { match: { path }, action: { status: 503 } },
      { match: { path }, action: { status: 204 } },
      { match: { path }, action: { status: 429, headers: { 'Retry-After': '1' } } },
      { match: { path }, action: { reset: 'after' } },
    );
    const n = ls.count();
    const s503 = await post(ls.url + path, body);
    assert.equal(s503.status, 503);
    assert.match(s503.headers.get('content-type') ?? '', /^text\/plain/);
    assert.equal((await post(ls.url + path, body)).status, 204);
    const s429 = await post(ls.url + path, body);
    assert.equal(s429.headers.get('retry-after'), '1');
    assert.equal(ls.count(), n);
    await assert.rejects(post(ls.url + path, body));
    assert.equal(ls.count(), n + 1, 'stored before the connection was reset');
    assert.equal((await post(ls.url + path, body)).status, 200);
    assert.equal(ls.count(), n + 2, 'a retry duplicates: no dedup in LogScale');
  });
});
