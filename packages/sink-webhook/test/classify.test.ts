// Status-code tables: generic receivers (protocol notes §4.1 and the §0 retry classes), Slack
// incoming webhooks (§4.2 error table) and Teams, mapped to what the sink kit does with them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SendResult } from '@tern/core';
import { classifyGeneric, classifySlack, classifyTeams } from '../src/index.ts';

const NOW = Date.UTC(2026, 10, 22, 6, 0, 0);
type Row = [name: string, status: number, headers: Record<string, string>, body: string, kind: SendResult['kind'], afterMs?: number];

function table(classify: (s: number, h: Record<string, string>, b: string, now: number) => SendResult, rows: Row[]): void {
  for (const [name, status, headers, body, kind, afterMs] of rows) {
    it(`${name} → ${kind}${afterMs !== undefined ? ` after ${afterMs} ms` : ''}`, () => {
      const r = classify(status, headers, body, NOW);
      assert.equal(r.kind, kind);
      assert.equal('afterMs' in r ? r.afterMs : undefined, afterMs);
      if (status >= 300) assert.match('reason' in r ? (r.reason ?? '') : '', new RegExp(`HTTP ${status}`));
    });
  }
}

describe('generic webhook status table', () => {
  table(classifyGeneric, [
    ['200 OK', 200, {}, '', 'ok'],
    ['201 Created', 201, {}, '{"id":1}', 'ok'],
    ['202 Accepted', 202, {}, '', 'ok'],
    ['204 No Content', 204, {}, '', 'ok'],
    ['299 any other 2xx', 299, {}, '', 'ok'],
    ['301 redirect (not followed)', 301, { location: '/elsewhere' }, '', 'permanent'],
    ['400 bad request', 400, {}, 'bad json', 'permanent'],
    ['401 missing credentials (paused, data kept)', 401, {}, 'Unauthorized', 'auth'],
    ['403 wrong credentials (paused, data kept)', 403, {}, 'Forbidden', 'auth'],
    ['404 not found', 404, {}, '', 'permanent'],
    ['405 method not allowed', 405, { allow: 'POST' }, '', 'permanent'],
    ['408 request timeout', 408, {}, '', 'retry'],
    ['409 conflict', 409, {}, '', 'permanent'],
    ['413 too large (split)', 413, {}, '', 'too_large'],
    ['415 unsupported media type', 415, {}, '', 'permanent'],
    ['422 unprocessable', 422, {}, '{"error":"schema"}', 'permanent'],
    ['429 without Retry-After', 429, {}, '', 'retry'],
    ['429 Retry-After seconds', 429, { 'retry-after': '3' }, '', 'retry', 3000],
    ['429 Retry-After HTTP-date', 429, { 'retry-after': 'Sun, 22 Nov 2026 06:00:07 GMT' }, '', 'retry', 7000],
    ['429 Retry-After date in the past', 429, { 'retry-after': 'Sun, 22 Nov 2026 05:59:00 GMT' }, '', 'retry', 0],
    ['429 unreadable Retry-After', 429, { 'retry-after': 'soon' }, '', 'retry'],
    ['500 internal error', 500, {}, 'boom', 'retry'],
    ['501 not implemented (never retried)', 501, {}, '', 'permanent'],
    ['502 bad gateway', 502, {}, '<html>', 'retry'],
    ['503 unavailable with Retry-After', 503, { 'retry-after': '10' }, '', 'retry', 10_000],
    ['504 gateway timeout', 504, {}, '', 'retry'],
  ]);
});

describe('Slack status table (§4.2)', () => {
  table(classifySlack, [
    ['200 ok', 200, { 'content-type': 'text/plain' }, 'ok', 'ok'],
    ['400 invalid_payload', 400, {}, 'invalid_payload', 'permanent'],
    ['400 invalid_blocks', 400, {}, 'invalid_blocks', 'permanent'],
    ['400 no_text', 400, {}, 'no_text', 'permanent'],
    ['400 user_not_found', 400, {}, 'user_not_found', 'permanent'],
    ['403 action_prohibited (paused)', 403, {}, 'action_prohibited', 'auth'],
    ['403 invalid_token (paused)', 403, {}, 'invalid_token', 'auth'],
    ['404 no_service (paused, webhook gone)', 404, {}, 'no_service', 'unsupported'],
    ['404 channel_not_found (paused)', 404, {}, 'channel_not_found', 'unsupported'],
    ['410 channel_is_archived (paused)', 410, {}, 'channel_is_archived', 'unsupported'],
    ['429 rate limited with Retry-After', 429, { 'retry-after': '30' }, 'rate_limited', 'retry', 30_000],
    ['429 rate limited without Retry-After', 429, {}, 'rate_limited', 'retry'],
    ['500 rollup_error', 500, {}, 'rollup_error', 'retry'],
    ['501 (never retried)', 501, {}, '', 'permanent'],
    ['503 unavailable', 503, {}, '', 'retry'],
  ]);

  it('a pause reason names the Slack code but never the webhook', () => {
    const r = classifySlack(404, {}, 'no_service');
    assert.equal(r.kind, 'unsupported');
    assert.match('reason' in r ? r.reason : '', /no_service/);
    assert.doesNotMatch('reason' in r ? r.reason : '', /services\//);
  });
});

describe('Teams status table', () => {
  table(classifyTeams, [
    ['202 Workflows accepted', 202, {}, '', 'ok'],
    ['200 connector "1"', 200, {}, '1', 'ok'],
    ['200 with a quoted 429 (connector)', 200, {}, 'Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0', 'retry'],
    ['200 with a quoted 400 (connector)', 200, {}, 'Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 400', 'permanent'],
    ['400 bad card', 400, {}, 'Bad payload', 'permanent'],
    ['401 (paused)', 401, {}, '', 'auth'],
    ['413 too large', 413, {}, '', 'too_large'],
    ['429 with Retry-After', 429, { 'retry-after': '2' }, '', 'retry', 2000],
    ['500', 500, {}, '', 'retry'],
  ]);
});
