/**
 * What a Parseable ingest answer means for delivery (protocol notes §3.5, §3.7), as a pure function
 * so the whole table is tested without a server. A plain stream stores a request as one record
 * batch: all rows or none, so there are no per-event results.
 *
 * - 2xx: stored (the server answers 200 with an empty body).
 * - 401 (no or bad credentials / API key) and 403 (wrong password, no permission; Parseable answers
 *   wrong credentials with 403): the kit pauses the sink and keeps the data.
 * - 413 (actix's JSON limit, on Content-Length or on the decoded body): split and resend.
 * - 408, 429 (never sent by Parseable itself, but proxies do), 5xx except 501 (500 staging or
 *   object-store errors, 503 shutting down, 502/504 from a proxy): retried, honouring Retry-After.
 * - every other status, 400 above all (Content-Type, bad JSON, stream name, reserved field, too
 *   many fields) and 404 (stream missing on /logstream/{name}): permanent, with the server's text.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { classifyHttpStatus, type SendResult } from '@tern/core';

export function classifyParseable(status: number, headers: IncomingHttpHeaders = {}, body = '', now = Date.now()): SendResult {
  const r = classifyHttpStatus(status, headers, body, now);
  if (r.kind === 'auth') return { ...r, reason: `Parseable refused the credentials: ${r.reason}` };
  return r;
}
