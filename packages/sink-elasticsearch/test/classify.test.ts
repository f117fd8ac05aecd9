// Status-code table: every whole-request row of protocol notes §2.7, the item statuses of §2.6/§2.8,
// and the client errors of §2.3/§2.8, mapped to what the sink kit does with them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyBulkBody, classifyClientError, classifyItemStatus, classifyResponse, checkInfo } from '../src/index.ts';
import { isTernError } from '@tern/core';

const NOW = Date.UTC(2026, 10, 22, 6, 0, 0);
const envelope = (type: string, reason: string, status: number) => ({ error: { root_cause: [{ type, reason }], type, reason }, status });

describe('whole-request status table (§2.7)', () => {
  const rows: Array<[string, number, Record<string, string>, unknown, string, number?]> = [
    ['200 without item errors', 200, {}, { errors: false, items: [] }, 'ok'],
    ['400 malformed bulk (bug in the sink)', 400, {}, envelope('illegal_argument_exception', 'The bulk request must be terminated by a newline [\\n]', 400), 'permanent'],
    ['400 empty body', 400, {}, envelope('action_request_validation_exception', 'Validation Failed: 1: no requests added;', 400), 'permanent'],
    ['400 media_type_header_exception (compatible-with mismatch)', 400, {}, envelope('media_type_header_exception', 'Invalid media-type value on headers [Accept, Content-Type]', 400), 'unsupported'],
    ['401 missing credentials', 401, { 'www-authenticate': 'Basic realm="security"' }, envelope('security_exception', 'missing authentication credentials for REST request [/_bulk]', 401), 'auth'],
    ['403 unauthorized action', 403, {}, envelope('security_exception', 'action [indices:data/write/bulk] is unauthorized for user [tern]', 403), 'auth'],
    ['404 no handler', 404, {}, envelope('index_not_found_exception', 'no such index [x]', 404), 'permanent'],
    ['406 OpenSearch / ES 7 refuse the vendor type', 406, {}, { error: 'Content-Type header [application/vnd.elasticsearch+x-ndjson; compatible-with=8] is not supported', status: 406 }, 'unsupported'],
    ['408 request timeout', 408, {}, '', 'retry'],
    ['413 body over http.max_content_length (empty body)', 413, {}, '', 'too_large'],
    ['429 without Retry-After', 429, {}, envelope('es_rejected_execution_exception', 'rejected execution of coordinating operation', 429), 'retry'],
    ['429 with Retry-After seconds', 429, { 'retry-after': '7' }, envelope('circuit_breaking_exception', '[parent] Data too large', 429), 'retry', 7000],
    ['500 internal error', 500, {}, envelope('exception', 'boom', 500), 'retry'],
    ['501 not implemented', 501, {}, '', 'permanent'],
    ['502 bad gateway (proxy)', 502, {}, '<html>bad gateway</html>', 'retry'],
    ['503 unavailable with HTTP-date Retry-After', 503, { 'retry-after': 'Sun, 22 Nov 2026 06:00:05 GMT' }, '', 'retry', 5000],
    ['504 gateway timeout', 504, {}, '', 'retry'],
    ['405 other 4xx', 405, {}, envelope('method_not_allowed', 'x', 405), 'permanent'],
  ];
  for (const [name, status, headers, body, kind, afterMs] of rows) {
    it(`${name} → ${kind}`, () => {
      const r = classifyResponse(status, headers, body, 0, NOW);
      assert.equal(r.kind, kind);
      assert.equal('afterMs' in r ? r.afterMs : undefined, afterMs);
      if (status >= 400) assert.match('reason' in r ? (r.reason ?? '') : '', new RegExp(`HTTP ${status}`));
    });
  }
  it('a permanent reason carries error.type and error.reason', () => {
    const r = classifyResponse(400, {}, envelope('illegal_argument_exception', 'Malformed action/metadata line [1]', 400), 0);
    assert.deepEqual(r, { kind: 'permanent', reason: 'HTTP 400 illegal_argument_exception: Malformed action/metadata line [1]', status: 400, answer: 'illegal_argument_exception: Malformed action/metadata line [1]' });
  });
});

describe('bulk item statuses (§2.6, §2.8)', () => {
  const table: Array<[number, string]> = [
    [200, 'ok'],
    [201, 'ok'],
    [409, 'duplicate'],
    [400, 'reject'],
    [404, 'reject'],
    [403, 'reject'],
    [408, 'retry'],
    [429, 'retry'],
    [500, 'retry'],
    [503, 'retry'],
  ];
  for (const [status, cls] of table) it(`item ${status} → ${cls}`, () => assert.equal(classifyItemStatus(status), cls));

  it('classifies a mixed response by position (the §2.6 example)', () => {
    const body = {
      took: 486,
      errors: true,
      items: [
        { create: { _id: 'a', status: 201, result: 'created' } },
        { create: { _id: 'b', status: 409, error: { type: 'version_conflict_engine_exception', reason: '[b]: version conflict, document already exists (current version [1])' } } },
        {
          create: {
            _id: 'c',
            status: 400,
            error: {
              type: 'document_parsing_exception',
              reason: '[1:1223] failed to parse: data stream timestamp field [@timestamp] is missing',
              caused_by: { type: 'illegal_argument_exception', reason: 'data stream timestamp field [@timestamp] is missing' },
            },
          },
        },
        { index: { _id: null, status: 400, error: { type: 'illegal_argument_exception', reason: 'only write ops with an op_type of create are allowed in data streams' } } },
        { create: { _id: 'e', status: 429, error: { type: 'es_rejected_execution_exception', reason: 'rejected execution' } } },
        { create: { _id: 'f', status: 503 } },
      ],
    };
    const r = classifyBulkBody(body, 6);
    assert.equal(r.kind, 'retry_items');
    if (r.kind !== 'retry_items') return;
    assert.deepEqual(r.indices, [4, 5]);
    assert.equal(r.duplicates, 1);
    assert.deepEqual(
      r.rejected?.map((x) => x.index),
      [2, 3],
    );
    assert.match(r.rejected?.[0]?.reason ?? '', /^item status 400: document_parsing_exception: .*@timestamp.*caused by illegal_argument_exception/);
    assert.match(r.reason, /item status 429: es_rejected_execution_exception/);
  });

  it('counts 409s on an otherwise clean response as delivered duplicates', () => {
    assert.deepEqual(classifyBulkBody({ errors: true, items: [{ create: { status: 201 } }, { create: { status: 409 } }] }, 2), { kind: 'ok', duplicates: 1 });
  });

  it('retries the whole request when the items do not match the actions', () => {
    assert.equal(classifyBulkBody({ errors: true, items: [{ create: { status: 201 } }] }, 2).kind, 'retry');
    assert.equal(classifyBulkBody('not json', 2).kind, 'retry');
    assert.deepEqual(classifyBulkBody({ errors: false }, 5), { kind: 'ok' }, 'filter_path may drop items on success');
  });
});

describe('client errors (§2.3, §2.8)', () => {
  it('ResponseError → the status table', () => {
    const err = Object.assign(new Error('Response Error'), { name: 'ResponseError', meta: { statusCode: 429, headers: { 'retry-after': '2' }, body: envelope('es_rejected_execution_exception', 'x', 429) } });
    assert.deepEqual(classifyClientError(err, 3), { kind: 'retry', reason: 'HTTP 429 es_rejected_execution_exception: x', afterMs: 2000 });
  });
  it('ProductNotSupportedError → unsupported (pause), never rejected', () => {
    assert.equal(classifyClientError(Object.assign(new Error('not es'), { name: 'ProductNotSupportedError' }), 3).kind, 'unsupported');
  });
  for (const name of ['ConnectionError', 'TimeoutError', 'RequestAbortedError', 'DeserializationError', 'NoLivingConnectionsError']) {
    it(`${name} → retry`, () => assert.equal(classifyClientError(Object.assign(new Error('x'), { name }), 3).kind, 'retry'));
  }
});

describe('GET / check', () => {
  it('accepts Elasticsearch 8 and 9', () => {
    assert.equal(checkInfo({ version: { number: '8.15.0' } }).major, 8);
    assert.equal(checkInfo({ version: { number: '9.1.0', build_flavor: 'default' } }).major, 9);
  });
  for (const [what, body] of [
    ['OpenSearch', { version: { number: '2.17.0', distribution: 'opensearch' } }],
    ['Elasticsearch 7', { version: { number: '7.17.9' } }],
    ['Elasticsearch 10', { version: { number: '10.0.0' } }],
  ] as const) {
    it(`refuses ${what} with TERN_ERR_SINK_UNSUPPORTED`, () => {
      assert.throws(() => checkInfo(body), (e: unknown) => isTernError(e) && e.code === 'TERN_ERR_SINK_UNSUPPORTED');
    });
  }
});
