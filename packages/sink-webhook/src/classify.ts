/**
 * What a webhook receiver's answer means for delivery, as pure functions over status, headers and
 * body so the whole table is tested without a server.
 *
 * Generic (protocol notes §4.1, §0): any 2xx delivered; 408, 429 and 5xx except 501 retried,
 * honouring Retry-After (seconds or HTTP-date); 413 split (a lone event too large is rejected);
 * 401/403 pause the sink with the data kept (a rotated token must not drop alerts); every other
 * status, 501 included, is permanent.
 *
 * Slack (§4.2), where the body is a plain-text error code: 404 (`no_service`, `channel_not_found`)
 * and 410 (`channel_is_archived`) mean the webhook or its channel is gone: the sink pauses loudly
 * with Slack's reason and keeps the data until someone fixes the URL, rather than dropping every
 * alert; 403 (`action_prohibited`, `invalid_token`) pauses the same way as refused credentials;
 * 400 (`invalid_payload`, `invalid_blocks`, `no_text`, `user_not_found`) is permanent (a formatting
 * bug, not fixed by retrying); 429 and 5xx (`rollup_error`) are retried after Retry-After.
 *
 * Teams: legacy Office 365 connectors report some failures as HTTP 200 with a text body
 * (`Webhook message delivery failed with error: ... 429`), so a 2xx body naming a failure is
 * classified by the status it quotes.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { bodyExcerpt, classifyHttpStatus, parseRetryAfter, type SendResult } from '@tern/core';

/** Generic receivers: the kit's shared classification. */
export function classifyGeneric(status: number, headers: IncomingHttpHeaders = {}, body = '', now = Date.now()): SendResult {
  return classifyHttpStatus(status, headers, body, now);
}

function retryAfter(headers: IncomingHttpHeaders, reason: string, now: number): SendResult {
  const afterMs = parseRetryAfter(headers['retry-after'], now);
  return afterMs === undefined ? { kind: 'retry', reason } : { kind: 'retry', reason, afterMs };
}

/** Slack incoming webhooks. */
export function classifySlack(status: number, headers: IncomingHttpHeaders = {}, body = '', now = Date.now()): SendResult {
  if (status >= 200 && status < 300) return { kind: 'ok' };
  const code = bodyExcerpt(body, 100);
  const reason = `Slack HTTP ${status}${code ? ` ${code}` : ''}`;
  if (status === 404 || status === 410) {
    return { kind: 'unsupported', reason: `${reason}: the Slack webhook or its channel is gone (revoked, mistyped, channel deleted or archived); fix the webhook url` };
  }
  if (status === 401 || status === 403) return { kind: 'auth', status, reason: `${reason}: Slack refused this webhook` };
  if (status === 408 || status === 429 || (status >= 500 && status !== 501)) return retryAfter(headers, reason, now);
  if (status === 413) return { kind: 'too_large', reason };
  return { kind: 'permanent', reason, status, ...(body ? { answer: bodyExcerpt(body, 2000) } : {}) };
}

const TEAMS_FAILURE = /delivery failed|error/i;

/** Microsoft Teams (Workflows answer 202; legacy connectors 200 with `1`, or 200 with an error text). */
export function classifyTeams(status: number, headers: IncomingHttpHeaders = {}, body = '', now = Date.now()): SendResult {
  if (status >= 200 && status < 300) {
    const quoted = /HTTP error (\d{3})/i.exec(body);
    if (quoted === null || !TEAMS_FAILURE.test(body)) return { kind: 'ok' };
    const inner = Number(quoted[1]);
    const r = classifyHttpStatus(inner, headers, body, now);
    return r.kind === 'ok' ? { kind: 'permanent', reason: `Teams HTTP ${status}: ${bodyExcerpt(body)}` } : r;
  }
  return classifyHttpStatus(status, headers, body, now);
}

export type Classifier = (status: number, headers: IncomingHttpHeaders, body: string, now?: number) => SendResult;

export function classifierFor(format: string): Classifier {
  if (format === 'slack') return classifySlack;
  if (format === 'teams') return classifyTeams;
  return classifyGeneric;
}
