// Elasticsearch emulator against checklist §2.11, over real HTTP: fetch for exact wire checks and
// the official @elastic/elasticsearch 8.x client for the product check and content negotiation.
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { Client, errors } from '@elastic/elasticsearch';
import { startElasticsearch } from '../src/index.ts';
import type { ElasticsearchEmulator } from '../src/index.ts';

const NDJSON = 'application/x-ndjson';
const V8 = 'application/vnd.elasticsearch+json; compatible-with=8';
const V8_ND = 'application/vnd.elasticsearch+x-ndjson; compatible-with=8';

function nd(...lines: unknown[]): string {
  return lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
}

async function post(url: string, body: string | Buffer, headers: Record<string, string> = { 'content-type': NDJSON }, method = 'POST') {
  const res = await fetch(url, { method, headers, body });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

function today(): string {
  const d = new Date();
  return `${d.getUTCFullYear()}.${String(d.getUTCMonth() + 1).padStart(2, '0')}.${String(d.getUTCDate()).padStart(2, '0')}`;
}

describe('elasticsearch emulator: official client', () => {
  let es: ElasticsearchEmulator;
  let client: Client;
  before(async () => {
    es = await startElasticsearch();
    client = new Client({ node: es.url, maxRetries: 0 });
  });
  after(async () => {
    await client.close();
    await es.close();
  });

  test('info() and ping() pass the product check against 8.x', async () => {
    const info = await client.info();
    assert.equal(info.version.number, '8.15.0');
    assert.equal(info.tagline, 'You Know, for Search');
    assert.equal(await client.ping(), true);
    const h = es.requests.at(-1)?.headers;
    assert.match(String(h?.['accept']), /compatible-with=8/);
  });

  test('bulk() creates into a data stream; replay answers 409 per item', async () => {
    const operations = [
      { create: { _index: 'logs-falco-default', _id: 'a' } },
      { '@timestamp': '2026-08-21T10:00:00.123Z', rule: 'Terminal shell' },
      { create: { _index: 'logs-falco-default', _id: 'b' } },
      { '@timestamp': '2026-08-21T10:00:01.000Z', rule: 'Write below etc' },
    ];
    const r1 = await client.bulk({ operations });
    assert.equal(r1.errors, false);
    assert.deepEqual(r1.items.map((i) => i.create?.status), [201, 201]);
    assert.equal(r1.items[0]?.create?._index, `.ds-logs-falco-default-${today()}-000001`);
    assert.equal(es.requests.at(-1)?.headers['content-type'], V8_ND);

    const r2 = await client.bulk({ operations });
    assert.equal(r2.errors, true);
    const item = r2.items[1]?.create;
    assert.equal(item?.status, 409);
    assert.equal(item?.error?.type, 'version_conflict_engine_exception');
    assert.equal(item?.error?.reason, '[b]: version conflict, document already exists (current version [1])');
    assert.equal(es.count('logs-falco-default'), 2);
    assert.equal(es.stats().conflicts, 2);
    assert.deepEqual(es.docs('logs-falco-default').map((d) => d._id), ['a', 'b']);
  });

  test('gzip request bodies (compression: true) are decoded and recorded', async () => {
    const gz = new Client({ node: es.url, compression: true, maxRetries: 0 });
    const operations = Array.from({ length: 50 }, (_, i) => [{ index: { _index: 'gz-test', _id: `d${i}` } }, { n: i, pad: 'x'.repeat(100) }]).flat();
    const r = await gz.bulk({ operations });
    await gz.close();
    assert.equal(r.errors, false);
    const rec = es.requests.at(-1);
    assert.equal(rec?.headers['content-encoding'], 'gzip');
    assert.ok(rec !== undefined && rec.wireBytes < rec.body.length);
    assert.equal(es.count('gz-test'), 50);
  });

  test('missing product header (fault) gives ProductNotSupportedError', async () => {
    es.fault({ match: { path: '/' }, action: { status: 200, headers: { 'X-elastic-product': '' }, body: '{"version":{"number":"8.15.0"}}' } });
    await assert.rejects(client.info(), errors.ProductNotSupportedError);
  });

  test('a version-7 server refuses the 8.x client (compatible-with=8 not in {7,6})', async () => {
    const old = await startElasticsearch({ version: '7.17.0' });
    const c = new Client({ node: old.url, maxRetries: 0 });
    try {
      await assert.rejects(c.info(), (err: any) => err instanceof errors.ResponseError && err.statusCode === 400 && err.body.error.type === 'media_type_header_exception');
    } finally {
      await c.close();
      await old.close();
    }
  });

  test('opensearch flavour: 406 on vendor types, no product header', async () => {
    const os = await startElasticsearch({ flavor: 'opensearch' });
    const c = new Client({ node: os.url, maxRetries: 0 });
    try {
      await assert.rejects(c.info(), errors.ProductNotSupportedError);
      const r = await post(`${os.url}/_bulk`, nd({ index: { _index: 'x' } }, { a: 1 }), { 'content-type': V8_ND });
      assert.equal(r.status, 406);
      assert.deepEqual(r.json, { error: `Content-Type header [${V8_ND}] is not supported`, status: 406 });
      assert.equal(r.headers.get('x-elastic-product'), null);
      const info = (await (await fetch(os.url)).json()) as any;
      assert.equal(info.version.distribution, 'opensearch');
    } finally {
      await c.close();
      await os.close();
    }
  });
});

describe('elasticsearch emulator: wire rules', () => {
  let es: ElasticsearchEmulator;
  before(async () => {
    es = await startElasticsearch();
  });
  after(() => es.close());

  test('product header and JSON content type on every response, errors included', async () => {
    for (const [path, method] of [['/', 'GET'], ['/_cluster/health', 'GET'], ['/nope/deeper/path', 'GET'], ['/_bulk', 'DELETE']] as const) {
      const res = await fetch(es.url + path, { method });
      await res.arrayBuffer();
      assert.equal(res.headers.get('x-elastic-product'), 'Elasticsearch', path);
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    }
    const head = await fetch(es.url, { method: 'HEAD' });
    assert.equal(head.status, 200);
    const health = (await (await fetch(`${es.url}/_cluster/health`)).json()) as any;
    assert.equal(health.status, 'green');
  });

  test('content negotiation: compatible-with 9 → 400, mismatch → 400, unsupported/missing type → 406', async () => {
    const body = nd({ index: { _index: 'cn' } }, { a: 1 });
    const v9 = await post(`${es.url}/_bulk`, body, { 'content-type': 'application/vnd.elasticsearch+x-ndjson; compatible-with=9', accept: 'application/vnd.elasticsearch+json; compatible-with=9' });
    assert.equal(v9.status, 400);
    assert.equal(v9.json.error.type, 'media_type_header_exception');
    assert.equal(v9.json.error.caused_by.reason, 'Accept version must be either version 8 or 7, but found 9. Accept=application/vnd.elasticsearch+json; compatible-with=9');
    const mismatch = await post(`${es.url}/_bulk`, body, { 'content-type': V8_ND, accept: 'application/vnd.elasticsearch+json;compatible-with=7' });
    assert.equal(mismatch.status, 400);
    const noSpace = await post(`${es.url}/_bulk`, body, { 'content-type': 'application/vnd.elasticsearch+x-ndjson;compatible-with=8', accept: V8 });
    assert.equal(noSpace.status, 200);
    const plain = await post(`${es.url}/_bulk`, body, { 'content-type': 'text/plain' });
    assert.equal(plain.status, 406);
    assert.equal(plain.json.error, 'Content-Type header [text/plain] is not supported');
    const json = await post(`${es.url}/_bulk`, body, { 'content-type': 'application/json; charset=utf-8' });
    assert.equal(json.status, 200);
    assert.equal(es.requests.filter((r) => r.path === '/_bulk' && r.status === 200).length, 2);
  });

  test('NDJSON rules: trailing newline, malformed action, empty body, missing source, missing index', async () => {
    const noNl = await post(`${es.url}/_bulk`, '{"index":{"_index":"x"}}\n{"a":1}');
    assert.equal(noNl.status, 400);
    assert.equal(noNl.json.error.reason, 'The bulk request must be terminated by a newline [\\n]');
    const bad = await post(`${es.url}/_bulk`, nd({ insert: { _index: 'x' } }, { a: 1 }));
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.reason, 'Malformed action/metadata line [1], expected field [create], [delete], [index] or [update] but found [insert]');
    const twoKeys = await post(`${es.url}/_bulk`, nd({ index: { _index: 'x' }, create: {} }, { a: 1 }));
    assert.match(twoKeys.json.error.reason, /expected END_OBJECT/);
    const opType = await post(`${es.url}/_bulk`, nd({ index: { _index: 'logs-op-default', op_type: 'create' } }, { '@timestamp': '2026-08-21T10:00:00Z' }));
    assert.equal(opType.json.items[0].create.status, 201);
    const noRoute = await fetch(`${es.url}/a/b/c?x=1`);
    assert.deepEqual(await noRoute.json(), { error: 'no handler found for uri [/a/b/c?x=1] and method [GET]' });
    const unknown = await post(`${es.url}/_bulk`, nd({ index: { _index: 'x', _type: 'doc' } }, { a: 1 }));
    assert.equal(unknown.json.error.reason, 'Action/metadata line [1] contains an unknown parameter [_type]');
    const empty = await post(`${es.url}/_bulk`, '');
    assert.equal(empty.status, 400);
    assert.equal(empty.json.error.type, 'action_request_validation_exception');
    assert.equal(empty.json.error.reason, 'Validation Failed: 1: no requests added;');
    const noSource = await post(`${es.url}/_bulk`, nd({ index: { _index: 'x' } }));
    assert.equal(noSource.json.error.reason, 'Validation Failed: 1: source is missing;');
    const noIndex = await post(`${es.url}/_bulk`, nd({ index: {} }, { a: 1 }));
    assert.equal(noIndex.json.error.reason, 'Validation Failed: 1: index is missing;');
    const fromPath = await post(`${es.url}/from-path/_bulk`, nd({ index: {} }, { a: 1 }));
    assert.equal(fromPath.json.items[0].index._index, 'from-path');
    const crlf = await post(`${es.url}/_bulk`, '{"index":{"_index":"crlf"}}\r\n{"a":1}\r\n');
    assert.equal(crlf.status, 200);
    assert.equal(es.count('crlf'), 1);
  });

  test('per item: data streams take only create and need @timestamp; order kept; ids generated', async () => {
    const r = await post(`${es.url}/_bulk`, nd(
      { create: { _index: 'logs-a-default', _id: 'ok' } }, { '@timestamp': '2026-08-21T10:00:00Z' },
      { index: { _index: 'logs-a-default' } }, { '@timestamp': '2026-08-21T10:00:00Z' },
      { create: { _index: 'logs-a-default', _id: 'c' } }, { message: 'no ts' },
      { index: { _index: 'plain' } }, { a: 1 },
      { index: { _index: 'plain', _id: 'p' } }, { a: 1 },
      { index: { _index: 'plain', _id: 'p' } }, { a: 2 },
      { create: { _index: 'Bad' } }, { a: 1 },
      { delete: { _index: 'plain', _id: 'p' } },
      { delete: { _index: 'plain', _id: 'p' } },
    ));
    assert.equal(r.status, 200);
    assert.equal(r.json.errors, true);
    const items = r.json.items;
    assert.deepEqual(items.map((i: any) => Object.keys(i)[0]), ['create', 'index', 'create', 'index', 'index', 'index', 'create', 'delete', 'delete']);
    assert.deepEqual(items.map((i: any) => (Object.values(i)[0] as any).status), [201, 400, 400, 201, 201, 200, 400, 200, 404]);
    assert.deepEqual(items[1].index, { _index: 'logs-a-default', _id: null, status: 400, error: { type: 'illegal_argument_exception', reason: 'only write ops with an op_type of create are allowed in data streams' } });
    assert.equal(items[2].create.error.type, 'document_parsing_exception');
    assert.match(items[2].create.error.reason, /^\[1:\d+\] failed to parse: data stream timestamp field \[@timestamp\] is missing$/);
    assert.equal(items[2].create.error.caused_by.type, 'illegal_argument_exception');
    assert.match(items[3].index._id, /^[\w-]{20}$/);
    assert.equal(items[5].index.result, 'updated');
    assert.equal(items[5].index._version, 2);
    assert.equal(items[6].create.error.type, 'invalid_index_name_exception');
    assert.equal(items[8].delete.result, 'not_found');
    const onlyMissingDelete = await post(`${es.url}/_bulk`, nd({ delete: { _index: 'plain', _id: 'never' } }));
    assert.equal(onlyMissingDelete.json.errors, false);
    assert.equal(onlyMissingDelete.json.items[0].delete.status, 404);
    assert.ok(['cn', 'crlf', 'from-path', 'logs-a-default', 'plain'].every((t) => es.targets().includes(t)));
  });

  test('date math in index names, in the action and URI-encoded in the path', async () => {
    const d = new Date();
    const yesterday = new Date(d.getTime() - 86_400_000);
    const ymd = (x: Date) => `${x.getUTCFullYear()}.${String(x.getUTCMonth() + 1).padStart(2, '0')}.${String(x.getUTCDate()).padStart(2, '0')}`;
    const r = await post(`${es.url}/${encodeURIComponent('<dm-path-{now/d}>')}/_bulk`, nd(
      { index: {} }, { a: 1 },
      { index: { _index: '<dm-{now/M{yyyy.MM}}>' } }, { a: 1 },
      { index: { _index: '<dm-{now-1d/d}>' } }, { a: 1 },
      { index: { _index: '<dm-{bogus}>' } }, { a: 1 },
    ));
    assert.deepEqual(r.json.items.map((i: any) => i.index._index), [`dm-path-${ymd(d)}`, `dm-${ymd(d).slice(0, 7)}`, `dm-${ymd(yesterday)}`, '<dm-{bogus}>']);
    assert.equal(r.json.items[3].index.error.type, 'invalid_index_name_exception');
  });

  test('itemFault: 429 at chosen positions for one request, then normal', async () => {
    es.itemFault({ positions: [1, 2], status: 429 });
    const body = nd(...[0, 1, 2, 3].flatMap((i) => [{ create: { _index: 'if-test', _id: `i${i}` } }, { n: i }]));
    const r = await post(`${es.url}/_bulk`, body);
    assert.deepEqual(r.json.items.map((i: any) => i.create.status), [201, 429, 429, 201]);
    assert.equal(r.json.items[1].create.error.type, 'es_rejected_execution_exception');
    const again = await post(`${es.url}/_bulk`, body);
    assert.deepEqual(again.json.items.map((i: any) => i.create.status), [409, 201, 201, 409]);
    es.itemFault({ index: /^other/, status: 503, error: { type: 'unavailable_shards_exception', reason: 'nope' }, times: 2 });
    const mixed = await post(`${es.url}/_bulk`, nd({ index: { _index: 'other-1' } }, { a: 1 }, { index: { _index: 'fine' } }, { a: 1 }));
    assert.deepEqual(mixed.json.items.map((i: any) => i.index.status), [503, 201]);
    assert.equal(mixed.json.items[0].index.error.reason, 'nope');
  });

  test('mappingConflict gives a 400 document_parsing_exception item', async () => {
    es.mappingConflict({ field: 'process.pid', type: 'long' });
    const r = await post(`${es.url}/_bulk`, nd(
      { index: { _index: 'map', _id: '1' } }, { process: { pid: 42 } },
      { index: { _index: 'map', _id: '2' } }, { process: { pid: 'abc' } },
      { index: { _index: 'map', _id: '3' } }, { 'process.pid': { nested: true } },
    ));
    assert.deepEqual(r.json.items.map((i: any) => i.index.status), [201, 400, 400]);
    assert.equal(r.json.items[1].index.error.type, 'document_parsing_exception');
    assert.match(r.json.items[1].index.error.reason, /failed to parse field \[process\.pid\] of type \[long\] in document with id '2'/);
    es.clearItemRules();
  });

  test('filter_path=items.*.error keeps only failed items', async () => {
    const r = await post(`${es.url}/_bulk?filter_path=errors,items.*.error`, nd({ create: { _index: 'fp', _id: 'x' } }, { a: 1 }, { create: { _index: 'fp', _id: 'x' } }, { a: 1 }));
    assert.equal(r.json.errors, true);
    assert.equal(r.json.items.length, 1);
    assert.equal(r.json.items[0].create.error.type, 'version_conflict_engine_exception');
    const unknown = await post(`${es.url}/_bulk?foo=1`, nd({ index: { _index: 'fp' } }, { a: 1 }));
    assert.equal(unknown.json.error.reason, 'request [/_bulk] contains unrecognized parameter: [foo]');
  });

  test('whole-request faults: 429 + Retry-After, 503, delay, reset after commit', async () => {
    es.fault({ match: { path: '/_bulk' }, action: { status: 429, headers: { 'Retry-After': '2' } } }, { match: { path: '/_bulk' }, action: { status: 503 } });
    const body = nd({ create: { _index: 'faults', _id: 'f1' } }, { a: 1 });
    const r429 = await post(`${es.url}/_bulk`, body);
    assert.equal(r429.status, 429);
    assert.equal(r429.headers.get('retry-after'), '2');
    assert.equal(r429.headers.get('x-elastic-product'), 'Elasticsearch');
    assert.equal(r429.json.error.type, 'es_rejected_execution_exception');
    const r503 = await post(`${es.url}/_bulk`, body);
    assert.equal(r503.status, 503);
    es.fault({ action: { status: 502 } }, { action: { status: 504 } }, { match: { path: '/_bulk' }, action: { status: 429 } });
    for (const code of [502, 504]) {
      const r = await post(`${es.url}/_bulk`, body);
      assert.equal(r.status, code);
      assert.equal(r.headers.get('x-elastic-product'), 'Elasticsearch');
    }
    const bare429 = await post(`${es.url}/_bulk`, body);
    assert.equal(bare429.status, 429);
    assert.equal(bare429.headers.get('retry-after'), null);
    assert.equal(es.count('faults'), 0);

    es.fault({ match: { path: '/_bulk' }, action: { delayMs: 150 } });
    const t0 = Date.now();
    assert.equal((await post(`${es.url}/_bulk`, body)).status, 200);
    assert.ok(Date.now() - t0 >= 140);

    es.fault({ match: { method: 'POST', path: /_bulk$/ }, action: { reset: 'after' } });
    const body2 = nd({ create: { _index: 'faults', _id: 'f2' } }, { a: 2 });
    await assert.rejects(post(`${es.url}/_bulk`, body2));
    assert.equal(es.count('faults'), 2, 'committed before the reset');
    const replay = await post(`${es.url}/_bulk`, body2);
    assert.equal(replay.json.items[0].create.status, 409);

    es.fault({ action: { reset: 'before' } });
    await assert.rejects(post(`${es.url}/_bulk`, nd({ create: { _index: 'faults', _id: 'f3' } }, { a: 3 })));
    assert.equal(es.count('faults'), 2, 'nothing stored');
    assert.equal(es.requests.at(-1)?.status, 0);
  });
});

describe('elasticsearch emulator: auth and limits', () => {
  let es: ElasticsearchEmulator;
  before(async () => {
    es = await startElasticsearch({ auth: { basic: [{ username: 'elastic', password: 'changeme' }], apiKeys: [Buffer.from('id1:key1').toString('base64')], bearer: ['tok'] }, maxBodyBytes: 10_000 });
  });
  after(() => es.close());

  test('401 security_exception with WWW-Authenticate; Basic, ApiKey and Bearer accepted', async () => {
    const none = await fetch(`${es.url}/_bulk`, { method: 'POST', headers: { 'content-type': NDJSON }, body: nd({ index: { _index: 'a' } }, {}) });
    const j = (await none.json()) as any;
    assert.equal(none.status, 401);
    assert.equal(j.error.type, 'security_exception');
    assert.equal(j.error.reason, 'missing authentication credentials for REST request [/_bulk]');
    assert.match(none.headers.get('www-authenticate') ?? '', /Basic realm="security"/);
    assert.equal(none.headers.get('x-elastic-product'), 'Elasticsearch');
    const wrong = await fetch(es.url, { headers: { authorization: `Basic ${Buffer.from('elastic:nope').toString('base64')}` } });
    assert.equal(wrong.status, 401);
    assert.equal(((await wrong.json()) as any).error.reason, 'unable to authenticate user [elastic] for REST request [/]');

    for (const auth of [{ username: 'elastic', password: 'changeme' }, { apiKey: Buffer.from('id1:key1').toString('base64') }, { bearer: 'tok' }]) {
      const c = new Client({ node: es.url, auth, maxRetries: 0 });
      const r = await c.bulk({ operations: [{ index: { _index: 'authed' } }, { a: 1 }] });
      assert.equal(r.errors, false);
      await c.close();
    }
    const bad = new Client({ node: es.url, auth: { apiKey: 'bad' }, maxRetries: 0 });
    await assert.rejects(bad.info(), (err: any) => err instanceof errors.ResponseError && err.statusCode === 401);
    await bad.close();
  });

  test('413 over maxBodyBytes, by Content-Length and by decoded size (gzip)', async () => {
    const auth = { authorization: `Bearer tok`, 'content-type': NDJSON };
    const big = nd(...Array.from({ length: 100 }, (_, i) => [{ index: { _index: 'big' } }, { i, pad: 'y'.repeat(100) }]).flat());
    const r = await post(`${es.url}/_bulk`, big, auth);
    assert.equal(r.status, 413);
    assert.equal(r.headers.get('x-elastic-product'), 'Elasticsearch');
    const gz = gzipSync(big);
    assert.ok(gz.length < 10_000);
    const r2 = await post(`${es.url}/_bulk`, gz, { ...auth, 'content-encoding': 'gzip' });
    assert.equal(r2.status, 413);
    assert.equal(es.count('big'), 0);
  });
});

describe('elasticsearch emulator: count store', () => {
  test('counts per target, answers shaped items, keeps data-stream op rule', async () => {
    const es = await startElasticsearch({ store: 'count' });
    try {
      const lines: unknown[] = [];
      for (let i = 0; i < 1000; i++) lines.push({ create: { _index: 'logs-tetragon-default', _id: `id${i}` } }, { '@timestamp': '2026-08-21T10:00:00Z', i });
      lines.push({ index: { _index: 'logs-tetragon-default' } }, { a: 1 });
      const r = await post(`${es.url}/_bulk`, gzipSync(nd(...lines)), { 'content-type': NDJSON, 'content-encoding': 'gzip' });
      assert.equal(r.status, 200);
      assert.equal(r.json.items.length, 1001);
      assert.equal(r.json.errors, true);
      assert.deepEqual(r.json.items[5], { create: { _index: `.ds-logs-tetragon-default-${today()}-000001`, _id: 'id5', _version: 1, result: 'created', _shards: { total: 2, successful: 1, failed: 0 }, _seq_no: 5, _primary_term: 1, status: 201 } });
      assert.equal(r.json.items[1000].index.status, 400);
      assert.equal(es.count('logs-tetragon-default'), 1000);
      assert.equal(es.count(), 1000);
      assert.deepEqual(es.docs('logs-tetragon-default'), []);
      assert.equal(es.requests[0]?.body.length, 0, 'bodies are not kept in count mode');
      assert.deepEqual(es.stats().itemsByStatus, { 201: 1000, 400: 1 });
    } finally {
      await es.close();
    }
  });
});

describe('elasticsearch emulator: single-document and read APIs', () => {
  test('_create/{id} → 201 then 409 envelope; POST _doc on a data stream is a create; _count and _search', async () => {
    const es = await startElasticsearch();
    const client = new Client({ node: es.url, maxRetries: 0 });
    try {
      const created = await client.create({ index: 'falco', id: 'e1', document: { rule: 'x' } });
      assert.equal(created.result, 'created');
      await assert.rejects(client.create({ index: 'falco', id: 'e1', document: { rule: 'x' } }), (err: any) => err.statusCode === 409 && err.body.error.type === 'version_conflict_engine_exception');
      const auto = await client.index({ index: 'logs-falco-default', document: { '@timestamp': '2026-08-21T10:00:00Z' } });
      assert.equal(auto.result, 'created');
      assert.match(auto._index, /^\.ds-logs-falco-default-/);
      await assert.rejects(client.index({ index: 'logs-falco-default', id: 'x', document: { '@timestamp': '2026-08-21T10:00:00Z' } }), (err: any) => err.statusCode === 400);
      assert.equal((await client.count({ index: 'falco' })).count, 1);
      assert.equal((await client.count()).count, 2);
      const hits = await client.search({ index: 'logs-*' });
      assert.equal(hits.hits.hits.length, 1);
      await assert.rejects(client.count({ index: 'missing' }), (err: any) => err.statusCode === 404);
      assert.equal(es.stats().bulkRequests, 0, 'single-document calls are not bulk requests');
    } finally {
      await client.close();
      await es.close();
    }
  });
});

describe('elasticsearch emulator: dynamic mapping (opt-in)', () => {
  test('first value maps the field; misfits fail as 400 items; total fields limit', async () => {
    const es = await startElasticsearch({ dynamicMapping: true, totalFieldsLimit: 6 });
    try {
      const r = await post(`${es.url}/_bulk`, nd(
        { index: { _index: 'dyn', _id: '1' } }, { pid: 42, when: '2026-08-21T10:00:00Z', proc: { name: 'sh' } },
        { index: { _index: 'dyn', _id: '2' } }, { pid: 'not-a-number' },
        { index: { _index: 'dyn', _id: '3' } }, { when: 'yesterday' },
        { index: { _index: 'dyn', _id: '4' } }, { proc: 'flat' },
        { index: { _index: 'dyn', _id: '5' } }, { 'proc.name': { deep: 1 } },
        { index: { _index: 'dyn', _id: '6' } }, { pid: '7', when: 1787306400000 },
        { index: { _index: 'dyn', _id: '7' } }, { a: 1, b: 2, c: 3 },
      ));
      assert.deepEqual(r.json.items.map((i: any) => i.index.status), [201, 400, 400, 400, 400, 201, 400]);
      assert.match(r.json.items[1].index.error.reason, /failed to parse field \[pid\] of type \[long\]/);
      assert.match(r.json.items[2].index.error.reason, /failed to parse field \[when\] of type \[date\]/);
      assert.match(r.json.items[3].index.error.reason, /object mapping for \[proc\] tried to parse field \[proc\] as object, but found a concrete value/);
      assert.match(r.json.items[6].index.error.reason, /Limit of total fields \[6\] has been exceeded while adding new fields \[3\]/);
      assert.deepEqual(es.mapping('dyn'), { pid: 'long', when: 'date', proc: 'object', 'proc.name': 'text' });
    } finally {
      await es.close();
    }
  });
});

describe('elasticsearch emulator: mappings from templates (dynamicMapping)', () => {
  const TS = '2026-08-21T10:00:00.000Z';

  test('logs-*-* ignores new fields past the total fields limit (logs@settings ignore_dynamic_beyond_limit) instead of refusing the document', async () => {
    const es = await startElasticsearch({ dynamicMapping: true, totalFieldsLimit: 8 });
    try {
      const labels = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));
      const r = await post(`${es.url}/_bulk`, nd(
        { create: { _index: 'logs-many-default', _id: 'a' } }, { '@timestamp': TS, pod: { labels: labels(3) } },
        { create: { _index: 'logs-many-default', _id: 'b' } }, { '@timestamp': TS, pod: { labels: labels(6) } },
        { index: { _index: 'plain', _id: 'c' } }, { pod: { labels: labels(9) } },
      ));
      assert.deepEqual(r.json.items.map((i: any) => (i.create ?? i.index).status), [201, 201, 400], 'a plain index still refuses');
      // Mapped first: @timestamp, data_stream and its three fields; then pod, pod.labels, k0 make 8, so k1 and k2 are past the limit in a.
      const ignored = es.docs('logs-many-default').map((d) => d._ignored ?? []);
      assert.deepEqual(ignored, [['pod.labels.k1', 'pod.labels.k2'], ['pod.labels.k1', 'pod.labels.k2', 'pod.labels.k3', 'pod.labels.k4', 'pod.labels.k5']]);
      assert.deepEqual(Object.keys(es.mapping('logs-many-default')).filter((f) => f.startsWith('pod.')), ['pod.labels', 'pod.labels.k0']);
      assert.deepEqual((es.docs('logs-many-default')[1]?._source.pod as { labels: Record<string, string> }).labels, labels(6), 'kept in _source');
      assert.match(r.json.items[2].index.error.reason, /Limit of total fields \[8\] has been exceeded/);
    } finally {
      await es.close();
    }
  });

  test('logs-*-* gets the built-in logs template: label keys that collide are refused, misfits are ignored, not refused', async () => {
    const es = await startElasticsearch({ dynamicMapping: true });
    try {
      const r = await post(`${es.url}/_bulk`, nd(
        { create: { _index: 'logs-k8s-default', _id: 'labels' } }, { '@timestamp': TS, labels: { app: 'web', 'app.kubernetes.io/name': 'web' } },
        { create: { _index: 'logs-k8s-default', _id: 'pid-number' } }, { '@timestamp': TS, proc: { pid: 42, when: 'never' }, source: { ip: '10.0.0.1' } },
        { create: { _index: 'logs-k8s-default', _id: 'pid-word' } }, { '@timestamp': TS, proc: { pid: 'forty-two' }, source: { ip: 'not-an-ip' } },
        { create: { _index: 'logs-k8s-default', _id: 'pid-object' } }, { '@timestamp': TS, proc: { pid: { n: 1 } } },
        { create: { _index: 'logs-k8s-default', _id: 'proc-flat' } }, { '@timestamp': TS, proc: 'flat' },
        { create: { _index: 'logs-k8s-default', _id: 'bad-ts' } }, { '@timestamp': 'yesterday' },
      ));
      const items = r.json.items.map((i: any) => i.create);
      assert.deepEqual(items.map((i: any) => i.status), [400, 201, 201, 400, 400, 400]);
      assert.equal(items[0].error.reason, `[1:${JSON.stringify({ '@timestamp': TS, labels: { app: 'web', 'app.kubernetes.io/name': 'web' } }).length}] Could not dynamically add mapping for field [labels.app.kubernetes.io/name]. Existing mapping for [labels.app] must be of type object but found [keyword].`);
      assert.match(items[3].error.reason, /failed to parse field \[proc\.pid\] of type \[long\]/);
      assert.match(items[4].error.reason, /object mapping for \[proc\] tried to parse field \[proc\] as object, but found a concrete value/);
      assert.match(items[5].error.reason, /failed to parse field \[@timestamp\] of type \[date\]/);
      // date detection is off, strings are keywords, *.ip is an ip (ECS dynamic templates)
      assert.equal(es.mappingSource('logs-k8s-default'), 'logs (built-in)');
      const m = es.mapping('logs-k8s-default');
      assert.equal(m['proc.when'], 'keyword');
      assert.equal(m['source.ip'], 'ip');
      assert.equal(m['proc.pid'], 'long');
      const word = es.docs('logs-k8s-default').find((d) => d._id === 'pid-word');
      assert.deepEqual(word?._ignored, ['proc.pid', 'source.ip']);
      assert.equal(es.docs('logs-k8s-default').find((d) => d._id === 'pid-number')?._ignored, undefined);
    } finally {
      await es.close();
    }
  });

  test('a plain index keeps Elasticsearch defaults: date detection, text, misfits refused', async () => {
    const es = await startElasticsearch({ dynamicMapping: true });
    try {
      const r = await post(`${es.url}/_bulk`, nd(
        { index: { _index: 'plain', _id: '1' } }, { n: 1, when: TS, s: 'x' },
        { index: { _index: 'plain', _id: '2' } }, { n: 'one' },
      ));
      assert.deepEqual(r.json.items.map((i: any) => i.index.status), [201, 400]);
      assert.deepEqual(es.mapping('plain'), { n: 'long', when: 'date', s: 'text' });
      assert.equal(es.mappingSource('plain'), '(defaults)');
    } finally {
      await es.close();
    }
  });

  test('an installed index template (composed of component templates) decides: flattened, dynamic false, priority over the built-in', async () => {
    const es = await startElasticsearch({ dynamicMapping: true });
    try {
      const put = (path: string, body: unknown) => post(`${es.url}${path}`, JSON.stringify(body), { 'content-type': 'application/json' }, 'PUT');
      const c = await put('/_component_template/tern-ecs@mappings', { template: { mappings: { properties: { falco: { properties: { output_fields: { type: 'flattened' } } }, kubernetes: { properties: { audit: { properties: { requestObject: { type: 'object', dynamic: false } } } } } } } } });
      assert.equal(c.status, 200);
      const missing = await put('/_index_template/broken', { index_patterns: ['logs-x-*'], composed_of: ['nope@mappings'] });
      assert.equal(missing.status, 400);
      assert.equal(missing.json.error.type, 'invalid_index_template_exception');
      const badType = await put('/_component_template/bad', { template: { mappings: { properties: { a: { type: 'flattend' } } } } });
      assert.equal(badType.status, 400);
      const t = await put('/_index_template/tern-falco', { index_patterns: ['logs-falco.alerts-*'], priority: 150, data_stream: {}, composed_of: ['logs@mappings', 'logs@settings', 'ecs@mappings', 'tern-ecs@mappings'] });
      assert.equal(t.status, 200);
      const r = await post(`${es.url}/_bulk`, nd(
        { create: { _index: 'logs-falco.alerts-default', _id: 'a' } }, { '@timestamp': TS, falco: { output_fields: { ka: { uri: '/version' } } }, kubernetes: { audit: { requestObject: { status: 'Success' } } } },
        { create: { _index: 'logs-falco.alerts-default', _id: 'b' } }, { '@timestamp': TS, falco: { output_fields: { 'ka.uri': 1, 'ka.uri.param[command]': 'sh' } }, kubernetes: { audit: { requestObject: { status: { phase: 'Running' } } } } },
        { create: { _index: 'logs-falco.alerts-default', _id: 'c' } }, { '@timestamp': TS, falco: { output_fields: 'not an object' } },
      ));
      assert.deepEqual(r.json.items.map((i: any) => i.create.status), [201, 201, 400]);
      assert.match(r.json.items[2].create.error.reason, /failed to parse field \[falco\.output_fields\] of type \[flattened\]/);
      assert.equal(es.mappingSource('logs-falco.alerts-default'), 'tern-falco');
      const m = es.mapping('logs-falco.alerts-default');
      assert.equal(m['falco.output_fields'], 'flattened');
      assert.equal(m['kubernetes.audit.requestObject.status'], undefined, 'dynamic: false maps nothing below');
      const got = (await (await fetch(`${es.url}/_component_template/tern-ecs@mappings`)).json()) as { component_templates: Array<{ name: string }> };
      assert.equal(got.component_templates[0]?.name, 'tern-ecs@mappings');
    } finally {
      await es.close();
    }
  });
});

describe('elasticsearch emulator: index templates of one priority may not overlap', () => {
  test('a template whose patterns could match what another of the same priority matches is refused, as Elasticsearch refuses it', async () => {
    const es = await startElasticsearch({ dynamicMapping: true });
    try {
      const put = (name: string, body: unknown) => post(`${es.url}/_index_template/${name}`, JSON.stringify(body), { 'content-type': 'application/json' }, 'PUT');
      assert.equal((await put('every-dataset', { index_patterns: ['logs-*-default'], priority: 150, data_stream: {} })).status, 200);
      const clash = await put('falco', { index_patterns: ['logs-falco.alerts-default'], priority: 150, data_stream: {} });
      assert.equal(clash.status, 400);
      assert.equal(clash.json.error.type, 'illegal_argument_exception');
      assert.match(clash.json.error.reason, /matching patterns from existing templates \[every-dataset\] .* same priority \[150\], multiple index templates may not match during index creation/);
      assert.equal((await put('falco', { index_patterns: ['logs-falco.alerts-default'], priority: 151, data_stream: {} })).status, 200, 'another priority');
      assert.equal((await put('prod', { index_patterns: ['logs-*-prod'], priority: 150 })).status, 200, 'no name matches both logs-*-default and logs-*-prod');
      assert.equal((await put('every-dataset', { index_patterns: ['logs-*-default'], priority: 150, data_stream: {}, _meta: { v: 2 } })).status, 200, 'a template does not clash with itself');
      const builtin = await put('mine', { index_patterns: ['logs-mine-*'], priority: 100 });
      assert.equal(builtin.status, 400, 'the built-in logs template (logs-*-*, 100) counts');
      assert.match(builtin.json.error.reason, /\(logs => \[logs-\*-\*\]\)/);
    } finally {
      await es.close();
    }
  });
});

describe('elasticsearch emulator: TLS', () => {
  test('serves https with the given certificate; the official client verifies it', async () => {
    const { TEST_TLS_CERT, TEST_TLS_KEY } = await import('../src/tls.ts');
    const es = await startElasticsearch({ tls: { cert: TEST_TLS_CERT, key: TEST_TLS_KEY } });
    const client = new Client({ node: es.url, tls: { ca: TEST_TLS_CERT }, maxRetries: 0 });
    try {
      assert.match(es.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const r = await client.bulk({ operations: [{ create: { _index: 'logs-tls-default', _id: '1' } }, { '@timestamp': '2026-08-21T10:00:00Z' }] });
      assert.equal(r.errors, false);
      assert.equal(es.count('logs-tls-default'), 1);
    } finally {
      await client.close();
      await es.close();
    }
  });
});
