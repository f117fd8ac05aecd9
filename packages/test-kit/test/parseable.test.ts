// Parseable emulator against checklist §3.9, over real HTTP.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { startParseable } from '../src/index.ts';
import type { ParseableEmulator } from '../src/index.ts';

const ADMIN = `Basic ${Buffer.from('admin:admin').toString('base64')}`;

async function ingest(url: string, body: string | Buffer, headers: Record<string, string> = {}, path = '/api/v1/ingest') {
  const res = await fetch(url + path, { method: 'POST', headers: { authorization: ADMIN, 'content-type': 'application/json', ...headers }, body });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

describe('parseable emulator', () => {
  let pb: ParseableEmulator;
  before(async () => {
    pb = await startParseable({ apiKeys: ['k1'], maxPayloadBytes: 20_000 });
  });
  after(() => pb.close());

  test('POST /api/v1/ingest creates the stream, 200 empty body, rows flattened with p_ fields', async () => {
    const r = await ingest(pb.url, JSON.stringify([{ rule: 'shell', k8s: { pod: { name: 'web-1' } } }, { rule: 'write', n: 3 }]), { 'x-p-stream': 'falco', 'user-agent': 'tern-test', 'X-P-Cluster': 'prod-eu1' });
    assert.equal(r.status, 200);
    assert.equal(r.text, '');
    assert.deepEqual(pb.streams(), ['falco']);
    const [a, b] = pb.rows('falco');
    assert.equal(a?.['k8s_pod_name'], 'web-1');
    assert.equal(a?.['p_user_agent'], 'tern-test');
    assert.equal(a?.['p_src_ip'], '127.0.0.1');
    assert.equal(a?.['cluster'], 'prod-eu1');
    assert.match(String(a?.['p_timestamp']), /^\d{4}-\d\d-\d\dT/);
    assert.equal(b?.['n'], 3);
    assert.equal(pb.schema('falco')['n'], 'Float64');
    assert.equal(pb.schema('falco')['k8s_pod_name'], 'Utf8');
  });

  test('arrays explode into rows, cartesian product across arrays (§3.4)', async () => {
    assert.equal((await ingest(pb.url, JSON.stringify({ a: [{ b: 1 }, { c: 2 }], d: { e: 4 } }), { 'x-p-stream': 'explode' })).status, 200);
    assert.deepEqual(pb.rows('explode').map((r) => [r['a_b'], r['a_c'], r['d_e']]), [[1, undefined, 4], [undefined, 2, 4]]);
    await ingest(pb.url, JSON.stringify({ tags: ['a', 'b', 'c'] }), { 'x-p-stream': 'tags' });
    assert.deepEqual(pb.rows('tags').map((r) => r['tags']), ['a', 'b', 'c']);
    await ingest(pb.url, JSON.stringify({ x: [1, 2], y: ['p', 'q', 'r'], empty: [] }), { 'x-p-stream': 'cartesian' });
    assert.equal(pb.rows('cartesian').length, 6);
    assert.deepEqual(pb.rows('cartesian')[0]?.['empty'], []);

    const flat = await startParseable({ explodeArrays: false });
    try {
      await ingest(flat.url, JSON.stringify({ tags: ['a', 'b'], list: [{ k: 1 }, { k: 2, j: 3 }] }), { 'x-p-stream': 's' });
      assert.deepEqual(flat.rows('s').map((r) => [r['tags'], r['list_k'], r['list_j']]), [[['a', 'b'], [1, 2], [null, 3]]]);
    } finally {
      await flat.close();
    }
  });

  test('auth: none → 401, wrong password → 403, X-API-Key ok / bad → 401; liveness needs none', async () => {
    const body = '{"a":1}';
    const none = await fetch(`${pb.url}/api/v1/ingest`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-p-stream': 's' }, body });
    assert.equal(none.status, 401);
    assert.equal(await none.text(), 'Your session has expired or is no longer valid. Please re-authenticate to access this resource.');
    const wrong = await ingest(pb.url, body, { authorization: `Basic ${Buffer.from('admin:nope').toString('base64')}`, 'x-p-stream': 's' });
    assert.equal(wrong.status, 403);
    assert.equal(wrong.text, "You don't have permission to access this resource. Please contact your administrator for assistance.");
    const key = await fetch(`${pb.url}/api/v1/ingest`, { method: 'POST', headers: { 'x-api-key': 'k1', 'content-type': 'application/json', 'x-p-stream': 'keyed' }, body });
    assert.equal(key.status, 200);
    const badKey = await fetch(`${pb.url}/api/v1/ingest`, { method: 'POST', headers: { 'x-api-key': 'zz', 'content-type': 'application/json', 'x-p-stream': 'keyed' }, body });
    assert.equal(badKey.status, 401);
    assert.equal(await badKey.text(), 'Invalid API key');
    assert.equal((await fetch(`${pb.url}/api/v1/liveness`)).status, 200);
    assert.equal((await fetch(`${pb.url}/api/v1/readiness`, { method: 'HEAD' })).status, 200);
  });

  test('400s with the exact plain texts', async () => {
    const cases: Array<[string, Record<string, string>, string]> = [
      ['{"a":1}', { 'content-type': 'application/x-ndjson', 'x-p-stream': 's' }, 'Content type error'],
      ['{"a":1}', {}, 'Header Error: Stream name not found in header [x-p-stream]'],
      ['{"a":1}', { 'x-p-stream': 'falco.alerts' }, 'Stream name cannot contain special character: .'],
      ['[]', { 'x-p-stream': 's' }, 'Invalid Request: Empty data object received'],
      ['{"p_timestamp":"x"}', { 'x-p-stream': 's' }, 'Invalid Request: field p_timestamp is a reserved field'],
      ['{"a":1,"a":2}', { 'x-p-stream': 's' }, 'Json deserialize error: duplicate key in JSON at line 1 column 13'],
      ['{"a":', { 'x-p-stream': 's' }, 'Json deserialize error: EOF while parsing a value at line 1 column 5'],
    ];
    for (const [body, headers, expected] of cases) {
      const r = await ingest(pb.url, body, headers);
      assert.equal(r.status, 400, expected);
      assert.equal(r.text, expected);
      assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
    }
    assert.equal((await ingest(pb.url, '{"a":1}', { 'content-type': 'application/vnd.api+json', 'x-p-stream': 'plusjson' })).status, 200);
  });

  test('logstream routes: PUT create / already exists, POST to missing → 404, DELETE, list, schema', async () => {
    const put = (name: string) => fetch(`${pb.url}/api/v1/logstream/${name}`, { method: 'PUT', headers: { authorization: ADMIN } });
    const p1 = await put('audit');
    assert.equal(p1.status, 200);
    assert.equal(await p1.text(), 'Log stream created');
    const p2 = await put('audit');
    assert.equal(p2.status, 400);
    assert.equal(await p2.text(), 'Logstream audit already exists, please create a new log stream with unique name');
    assert.equal((await ingest(pb.url, '{"verb":"get"}', {}, '/api/v1/logstream/audit')).status, 200);
    const missing = await ingest(pb.url, '{"a":1}', {}, '/api/v1/logstream/nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.text, 'Stream not found: nope');
    const list = (await (await fetch(`${pb.url}/api/v1/logstream`, { headers: { authorization: ADMIN } })).json()) as Array<{ name: string }>;
    assert.ok(list.some((s) => s.name === 'audit'));
    const schema = (await (await fetch(`${pb.url}/api/v1/logstream/audit/schema`, { headers: { authorization: ADMIN } })).json()) as { fields: Array<{ name: string }> };
    assert.ok(schema.fields.some((f) => f.name === 'verb'));
    assert.equal((await fetch(`${pb.url}/api/v1/logstream/audit`, { method: 'DELETE', headers: { authorization: ADMIN } })).status, 200);
    assert.ok(!pb.streams().includes('audit'));
  });

  test('413 with the actix texts: Content-Length over the limit, decoded gzip over the limit', async () => {
    const big = JSON.stringify([{ pad: 'x'.repeat(30_000) }]);
    const r1 = await ingest(pb.url, big, { 'x-p-stream': 'big' });
    assert.equal(r1.status, 413);
    assert.equal(r1.text, `JSON payload (${Buffer.byteLength(big)} bytes) is larger than allowed (limit: 20000 bytes).`);
    const r2 = await ingest(pb.url, gzipSync(big), { 'x-p-stream': 'big', 'content-encoding': 'gzip' });
    assert.equal(r2.status, 413);
    assert.equal(r2.text, 'JSON payload has exceeded limit (20000 bytes).');
    // Chunked upload without Content-Length: the streaming check applies.
    const status = await new Promise<number>((resolve, reject) => {
      const u = new URL(`${pb.url}/api/v1/ingest`);
      const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { authorization: ADMIN, 'content-type': 'application/json', 'x-p-stream': 'big' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write(big.slice(0, 15_000));
      req.end(big.slice(15_000));
    });
    assert.equal(status, 413);
    assert.equal(pb.rows('big').length, 0);
    const ok = await ingest(pb.url, gzipSync('[{"a":1},{"a":2}]'), { 'x-p-stream': 'gz', 'content-encoding': 'gzip' });
    assert.equal(ok.status, 200);
    assert.equal(pb.rows('gz').length, 2);
  });

  test('custom X-P-* fields: at most 10 with p_user_agent and p_src_ip, values cut at 100 chars', async () => {
    const headers: Record<string, string> = { 'x-p-stream': 'custom', 'x-p-long': 'v'.repeat(150) };
    for (let i = 0; i < 12; i++) headers[`x-p-f${i}`] = `v${i}`;
    assert.equal((await ingest(pb.url, '{"a":1}', headers)).status, 200);
    const row = pb.rows('custom')[0] ?? {};
    const extra = Object.keys(row).filter((k) => k !== 'a' && k !== 'p_timestamp');
    assert.equal(extra.length, 10);
    assert.ok(extra.includes('p_user_agent') && extra.includes('p_src_ip'));
    assert.equal(String(row['long']).length, 100);
  });

  test('type change goes to a suffixed column; @ names become _', async () => {
    await ingest(pb.url, '{"body_timestamp":1}', { 'x-p-stream': 'types' });
    await ingest(pb.url, '{"body_timestamp":"2026-08-21","@version":"1"}', { 'x-p-stream': 'types' });
    const rows = pb.rows('types');
    assert.equal(rows[1]?.['body_timestamp_utf8'], '2026-08-21');
    assert.equal(rows[1]?.['_version'], '1');
    assert.equal(pb.schema('types')['body_timestamp'], 'Float64');
  });

  test('faults: 503 shutting down, 500, reset after commit duplicates rows', async () => {
    pb.fault({ match: { path: '/api/v1/ingest' }, action: { status: 503 } }, { match: { path: '/api/v1/ingest' }, action: { status: 500 } }, { match: { path: '/api/v1/ingest' }, action: { reset: 'after' } });
    const body = '{"id":"e1"}';
    const r503 = await ingest(pb.url, body, { 'x-p-stream': 'dup' });
    assert.equal(r503.status, 503);
    assert.equal(r503.text, 'Server is shutting down');
    const r500 = await ingest(pb.url, body, { 'x-p-stream': 'dup' });
    assert.equal(r500.status, 500);
    assert.match(r500.text, /^Error: /);
    await assert.rejects(ingest(pb.url, body, { 'x-p-stream': 'dup' }));
    assert.equal((await ingest(pb.url, body, { 'x-p-stream': 'dup' })).status, 200);
    assert.equal(pb.rows('dup').length, 2);
  });
});
