/**
 * What an Elasticsearch answer means for delivery (protocol notes §2.6-§2.8), as pure functions
 * over status codes and bodies so the whole table is tested without a server.
 *
 * Whole request: 2xx → look at the items; 401/403 → pause (credentials); 406 and
 * `media_type_header_exception` → pause (not a server this client speaks to); 408, 429, 5xx except
 * 501 → retry, honouring Retry-After; 413 → split; other 4xx → permanent. Items, matched to
 * actions by position: 200/201 stored; 409 on `create` stored already (a replay of our
 * deterministic id); 408, 429 and 5xx resent alone; everything else (400 mapping conflicts, 404)
 * rejected with `error.type: error.reason`.
 */
import { isTransientStatus, retryResult, type ItemRejection, type SendResult } from '@tern/core';

export type ItemClass = 'ok' | 'duplicate' | 'retry' | 'reject';

/** Class of one bulk item by its status. */
export function classifyItemStatus(status: number): ItemClass {
  if (status === 200 || status === 201) return 'ok';
  if (status === 409) return 'duplicate';
  if (status === 408 || status === 429 || status >= 500) return 'retry';
  return 'reject';
}

interface ItemError {
  readonly type?: unknown;
  readonly reason?: unknown;
  readonly caused_by?: { readonly type?: unknown; readonly reason?: unknown };
}

function errorText(e: ItemError | undefined, status: number): string {
  if (e === undefined || typeof e !== 'object') return `status ${status}`;
  const type = typeof e.type === 'string' ? e.type : 'error';
  const reason = typeof e.reason === 'string' ? e.reason : '';
  const cause = e.caused_by && typeof e.caused_by.reason === 'string' ? ` (caused by ${String(e.caused_by.type)}: ${e.caused_by.reason})` : '';
  return `${type}: ${reason}${cause}`.slice(0, 500);
}

/**
 * Classifies a 2xx bulk response body (`{errors, items}`) for a request of `count` actions.
 * A body that does not account for every action is retried whole: with deterministic ids the
 * replay stores nothing twice.
 */
export function classifyBulkBody(body: unknown, count: number): SendResult {
  if (body === null || typeof body !== 'object') return { kind: 'retry', reason: 'bulk response is not JSON' };
  const b = body as { errors?: unknown; items?: unknown };
  if (b.errors === false) return { kind: 'ok' };
  if (!Array.isArray(b.items) || b.items.length !== count) {
    return { kind: 'retry', reason: `bulk response has ${Array.isArray(b.items) ? b.items.length : 'no'} items for ${count} actions` };
  }
  const retry: number[] = [];
  const rejected: ItemRejection[] = [];
  let duplicates = 0;
  let retryReason = '';
  for (let i = 0; i < count; i++) {
    const wrapper = b.items[i] as Record<string, { status?: unknown; error?: ItemError }> | undefined;
    const item = wrapper ? Object.values(wrapper)[0] : undefined;
    const status = typeof item?.status === 'number' ? item.status : 0;
    switch (classifyItemStatus(status)) {
      case 'ok':
        break;
      case 'duplicate':
        duplicates++;
        break;
      case 'retry':
        retry.push(i);
        if (retryReason === '') retryReason = `item status ${status}: ${errorText(item?.error, status)}`;
        break;
      case 'reject':
        rejected.push({ index: i, reason: `item status ${status}: ${errorText(item?.error, status)}`, status, ...(item?.error !== undefined ? { answer: JSON.stringify(item.error).slice(0, 2000) } : {}) });
        break;
    }
  }
  if (retry.length === 0 && rejected.length === 0) return duplicates > 0 ? { kind: 'ok', duplicates } : { kind: 'ok' };
  return { kind: 'retry_items', indices: retry, rejected, duplicates, reason: retryReason || 'items rejected' };
}

/** The `error.type` / `error.reason` of an Elasticsearch error envelope, or the body text. */
export function errorSummary(body: unknown): { type: string | undefined; text: string } {
  if (body !== null && typeof body === 'object') {
    const e = (body as { error?: unknown }).error;
    if (e !== null && typeof e === 'object') {
      const type = typeof (e as ItemError).type === 'string' ? ((e as ItemError).type as string) : undefined;
      return { type, text: errorText(e as ItemError, 0) };
    }
    if (typeof e === 'string') return { type: undefined, text: e };
    return { type: undefined, text: JSON.stringify(body).slice(0, 300) };
  }
  const s = typeof body === 'string' ? body.replace(/\s+/g, ' ').trim().slice(0, 300) : '';
  return { type: undefined, text: s };
}

type Headers = Readonly<Record<string, string | string[] | undefined>>;

/** Classifies a whole-request answer (any status). */
export function classifyResponse(status: number, headers: Headers, body: unknown, count: number, now = Date.now()): SendResult {
  if (status >= 200 && status < 300) return classifyBulkBody(body, count);
  const { type, text } = errorSummary(body);
  const reason = `HTTP ${status}${text ? ` ${text}` : ''}`;
  if (status === 401 || status === 403) return { kind: 'auth', status, reason };
  if (status === 406 || type === 'media_type_header_exception') {
    return { kind: 'unsupported', reason: `server refused the client's media type (${reason}); Elasticsearch 8 or 9 is needed, OpenSearch and Elasticsearch 7 are not supported` };
  }
  if (status === 413) return { kind: 'too_large', reason };
  if (isTransientStatus(status)) return retryResult(reason, headers, now);
  return { kind: 'permanent', reason, status, ...(text ? { answer: text } : {}) };
}

interface ClientErrorShape {
  readonly name?: unknown;
  readonly message?: unknown;
  readonly meta?: { readonly statusCode?: unknown; readonly headers?: Headers; readonly body?: unknown };
}

/** Classifies an error thrown by the official client for a bulk request of `count` actions. */
export function classifyClientError(err: unknown, count: number, now = Date.now()): SendResult {
  const e = (err ?? {}) as ClientErrorShape;
  const name = typeof e.name === 'string' ? e.name : '';
  const message = typeof e.message === 'string' ? e.message : String(err);
  if (name === 'ResponseError' && typeof e.meta?.statusCode === 'number') {
    return classifyResponse(e.meta.statusCode, e.meta.headers ?? {}, e.meta.body, count, now);
  }
  if (name === 'ProductNotSupportedError') {
    return { kind: 'unsupported', reason: 'the server is not Elasticsearch (no X-Elastic-Product: Elasticsearch header; OpenSearch?)' };
  }
  // ConnectionError, TimeoutError, RequestAbortedError (our timeout), DeserializationError, NoLivingConnectionsError:
  // nothing reliable came back, so resend; deterministic ids make a replay of a committed request harmless.
  return { kind: 'retry', reason: `${name || 'Error'}: ${message}` };
}
