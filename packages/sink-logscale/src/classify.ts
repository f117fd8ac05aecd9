/**
 * What a LogScale ingest answer means for delivery (protocol notes §1.8), as a pure function so the
 * whole table is tested without a server. LogScale has no partial results: a request is stored
 * whole or not at all.
 *
 * - 200: committed.
 * - 201-399: LogScale documents every status other than 200 as an error ("check the error text
 *   ... retried if possible"), so a 204 from a proxy or a 302 to a login page is not taken as
 *   stored: retried, with the documented rule in the reason. Risk: duplicates if the server had
 *   in fact committed (see `event_id`).
 * - 401/403: the token was refused; the kit pauses the sink and keeps the data.
 * - 413: split and resend.
 * - 408, 429 (undocumented for ingest; treated like 503), 5xx except 501: retried, honouring
 *   Retry-After. 503 is also LogScale's ingest-backlog answer (MAX_INGEST_DELAY_SECONDS).
 * - every other status (400, 404, 501, ...): "cannot be retried": the events are rejected.
 *
 * Error bodies are undocumented, so they are only quoted (shortened), never parsed.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { bodyExcerpt, parseRetryAfter, type SendResult } from '@tern/core';

export function classifyLogScale(status: number, headers: IncomingHttpHeaders = {}, body = '', now = Date.now()): SendResult {
  const reason = `HTTP ${status}${body ? `: ${bodyExcerpt(body)}` : ''}`;
  if (status === 200) return { kind: 'ok' };
  if (status > 200 && status < 400) {
    return { kind: 'retry', reason: `${reason} (LogScale treats every answer but 200 as not committed; resending, which may duplicate if it was)` };
  }
  if (status === 401 || status === 403) return { kind: 'auth', status, reason: `LogScale refused the ingest token: ${reason}` };
  if (status === 413) return { kind: 'too_large', reason };
  if (status === 408 || status === 429 || (status >= 500 && status !== 501)) {
    const afterMs = parseRetryAfter(headers['retry-after'], now);
    const r = status === 503 ? `${reason} (ingest backlog or unavailable)` : reason;
    return afterMs === undefined ? { kind: 'retry', reason: r } : { kind: 'retry', reason: r, afterMs };
  }
  return { kind: 'permanent', reason, status, ...(body ? { answer: bodyExcerpt(body, 2000) } : {}) };
}
