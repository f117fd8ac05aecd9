// Status-code table of protocol notes §3.5 (with the texts the server sends) and §3.7, mapped to
// what the sink kit does with each answer.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyParseable } from '../src/index.ts';

const NOW = Date.UTC(2026, 10, 22, 6, 0, 0);

describe('Parseable status table (§3.5)', () => {
  const rows: Array<[string, number, Record<string, string>, string, string, number?]> = [
    ['200 stored (empty body)', 200, {}, '', 'ok'],
    ['400 Content type error', 400, {}, 'Content type error', 'permanent'],
    ['400 invalid JSON', 400, {}, 'Json deserialize error: expected value at line 1 column 1', 'permanent'],
    ['400 missing X-P-Stream', 400, {}, 'Header Error: Stream name not found in header [x-p-stream]', 'permanent'],
    ['400 bad stream name', 400, {}, 'Stream name cannot contain special character: .', 'permanent'],
    ['400 reserved field', 400, {}, 'Invalid Request: field p_timestamp is a reserved field', 'permanent'],
    ['400 empty data', 400, {}, 'Invalid Request: Empty data object received', 'permanent'],
    ['400 too many fields', 400, {}, 'Failed to ingest events in dataset x. Total number of fields 1001 exceeds the permissible limit of 1000.', 'permanent'],
    ['401 no credentials', 401, {}, 'Your session has expired or is no longer valid. Please re-authenticate to access this resource.', 'auth'],
    ['401 invalid API key', 401, {}, 'Invalid API key', 'auth'],
    ['403 wrong password / no permission', 403, {}, "You don't have permission to access this resource. Please contact your administrator for assistance.", 'auth'],
    ['404 stream not found', 404, {}, 'Stream not found: x', 'permanent'],
    ['408 request timeout (proxy)', 408, {}, '', 'retry'],
    ['413 over the limit, Content-Length known', 413, {}, 'JSON payload (12000000 bytes) is larger than allowed (limit: 10485760 bytes).', 'too_large'],
    ['413 over the limit while decoding', 413, {}, 'JSON payload has exceeded limit (10485760 bytes).', 'too_large'],
    ['415 unsupported encoding', 415, {}, '', 'permanent'],
    ['429 (proxy) with Retry-After', 429, { 'retry-after': '2' }, '', 'retry', 2000],
    ['500 staging / object store', 500, {}, 'Error: object store unavailable', 'retry'],
    ['501 not implemented', 501, {}, '', 'permanent'],
    ['502 bad gateway', 502, {}, 'Bad Gateway', 'retry'],
    ['503 shutting down', 503, {}, 'Server is shutting down', 'retry'],
    ['504 gateway timeout', 504, {}, 'Gateway Timeout', 'retry'],
  ];
  for (const [name, status, headers, body, kind, afterMs] of rows) {
    it(`${name} → ${kind}`, () => {
      const r = classifyParseable(status, headers, body, NOW);
      assert.equal(r.kind, kind);
      assert.equal('afterMs' in r ? r.afterMs : undefined, afterMs);
      if (status >= 400) assert.match('reason' in r ? (r.reason ?? '') : '', new RegExp(`HTTP ${status}`));
    });
  }
  it('a permanent 400 carries the server’s message', () => {
    assert.deepEqual(classifyParseable(400, {}, 'Invalid Request: field p_timestamp is a reserved field', NOW), {
      kind: 'permanent',
      reason: 'HTTP 400: Invalid Request: field p_timestamp is a reserved field',
      status: 400,
      answer: 'Invalid Request: field p_timestamp is a reserved field',
    });
  });
  it('auth says which server refused', () => {
    const r = classifyParseable(403, {}, 'no', NOW);
    assert.ok(r.kind === 'auth' && r.status === 403 && r.reason.startsWith('Parseable refused the credentials'));
  });
});
