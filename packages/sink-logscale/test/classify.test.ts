// Status-code table of protocol notes §1.8 (plus the shared retry classes of §0), mapped to what the
// sink kit does with each answer.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyLogScale } from '../src/index.ts';

const NOW = Date.UTC(2026, 10, 22, 6, 0, 0);

describe('LogScale status table (§1.8)', () => {
  const rows: Array<[string, number, Record<string, string>, string, string, number?]> = [
    ['200 committed', 200, {}, '{}', 'ok'],
    ['201 (documented as an error)', 201, {}, '{}', 'retry'],
    ['204 from a proxy (documented as an error)', 204, {}, '', 'retry'],
    ['302 to a login page', 302, { location: '/login' }, '', 'retry'],
    ['304', 304, {}, '', 'retry'],
    ['400 malformed request', 400, {}, 'Could not parse JSON', 'permanent'],
    ['401 missing or unknown token', 401, {}, 'The supplied ingest token is not valid', 'auth'],
    ['403 forbidden token', 403, {}, 'Forbidden', 'auth'],
    ['404 wrong path (HEC disabled, wrong endpoint)', 404, {}, 'Not found', 'permanent'],
    ['405 method not allowed', 405, {}, '', 'permanent'],
    ['408 request timeout', 408, {}, '', 'retry'],
    ['413 over MAX_INGEST_REQUEST_SIZE', 413, {}, 'Request body exceeds the maximum ingest request size', 'too_large'],
    ['415 unsupported encoding', 415, {}, '', 'permanent'],
    ['429 without Retry-After', 429, {}, 'Too many requests', 'retry'],
    ['429 with Retry-After seconds', 429, { 'retry-after': '3' }, '', 'retry', 3000],
    ['500 internal error', 500, {}, 'Internal server error', 'retry'],
    ['501 not implemented', 501, {}, '', 'permanent'],
    ['502 bad gateway', 502, {}, '<html>', 'retry'],
    ['503 ingest backlog (MAX_INGEST_DELAY_SECONDS)', 503, {}, 'Ingest is delayed beyond MAX_INGEST_DELAY_SECONDS, please retry later', 'retry'],
    ['503 with an HTTP-date Retry-After', 503, { 'retry-after': 'Sun, 22 Nov 2026 06:00:10 GMT' }, '', 'retry', 10_000],
    ['504 gateway timeout', 504, {}, '', 'retry'],
  ];
  for (const [name, status, headers, body, kind, afterMs] of rows) {
    it(`${name} → ${kind}`, () => {
      const r = classifyLogScale(status, headers, body, NOW);
      assert.equal(r.kind, kind);
      assert.equal('afterMs' in r ? r.afterMs : undefined, afterMs);
      if (status !== 200) assert.match('reason' in r ? (r.reason ?? '') : '', new RegExp(`HTTP ${status}`));
    });
  }
  it('a non-200 2xx says why it is retried', () => {
    const r = classifyLogScale(204, {}, '', NOW);
    assert.ok(r.kind === 'retry' && /every answer but 200/.test(r.reason));
  });
  it('quotes a shortened body, never parses it', () => {
    const r = classifyLogScale(400, {}, `bad ${'x'.repeat(1000)}\n`, NOW);
    assert.ok(r.kind === 'permanent' && r.reason.length < 260);
  });
  it('auth carries the status for the pause log', () => {
    assert.deepEqual(classifyLogScale(403, {}, 'Forbidden', NOW), { kind: 'auth', status: 403, reason: 'LogScale refused the ingest token: HTTP 403: Forbidden' });
  });
});
