/**
 * Sending `_bulk` requests with the official client (`@elastic/elasticsearch` 8.x, which speaks to
 * Elasticsearch 8 and 9 servers, §2.2): its transport, headers, connection pool and product check.
 * Its own retries are off (`maxRetries: 0`): the sink kit retries at the batch layer, where it can
 * resend subsets and split. The body is the NDJSON string the encoder built, handed to
 * `transport.request({ bulkBody })` untouched (a Buffer is not re-serialised); when the kit gzipped
 * it, the Buffer goes out with `Content-Encoding: gzip` and the client's own compression stays off.
 */
import { Client, Serializer, type ClientOptions } from '@elastic/elasticsearch';
import { resolveAuth, tlsConnectOptions, type Payload, type SendResult } from '@tern/core';
import { classifyClientError, classifyResponse } from './classify.ts';
import type { BulkRequest } from './encoder.ts';
import type { ElasticsearchConfig } from './schema.ts';

/** Only what classification needs from each item: keeps large responses small to send and parse. */
export const BULK_FILTER_PATH = 'errors,items.*.status,items.*.error.type,items.*.error.reason,items.*.error.caused_by.type,items.*.error.caused_by.reason';

/**
 * The client's deserializer with two shortcuts for bulk answers, which are most of what it reads: a
 * body that says `"errors":false` in its first bytes is all the classifier needs (the items are
 * not parsed at all), and other bodies use `JSON.parse` rather than the stock secure-json-parse
 * (about twice as slow; we never merge response objects into others, so prototype keys are inert).
 */
export class BulkSerializer extends Serializer {
  override deserialize<T = unknown>(json: string): T {
    if (json.length > 64) {
      const i = json.indexOf('"errors":false');
      if (i !== -1 && i < 48) return { errors: false } as T;
    }
    try {
      return JSON.parse(json) as T;
    } catch {
      return super.deserialize<T>(json);
    }
  }
}

/** Builds the client from the sink options; reads secret and TLS files now (build time). */
export function createClient(c: ElasticsearchConfig, baseDir: string): Client {
  const opts: ClientOptions = {
    maxRetries: 0,
    // The kit aborts at request.timeout_ms; the client's timer is only a backstop.
    requestTimeout: c.request.timeout_ms + 1000,
    compression: false,
    Serializer: BulkSerializer,
    headers: { ...c.request.headers },
  };
  if (c.cloud_id) opts.cloud = { id: c.cloud_id };
  else opts.nodes = [...(c.endpoints ?? [])];
  const auth = resolveAuth(c.auth, baseDir);
  if (auth?.strategy === 'basic') opts.auth = { username: auth.user, password: auth.password };
  else if (auth?.strategy === 'api_key') opts.auth = { apiKey: auth.apiKey };
  else if (auth?.strategy === 'bearer') opts.auth = { bearer: auth.token };
  const tls = tlsConnectOptions(c.tls, baseDir);
  if (Object.keys(tls).length > 0) opts.tls = tls as ClientOptions['tls'];
  return new Client(opts);
}

/** Sends one bulk request and classifies the answer. */
export async function sendBulk(client: Client, req: BulkRequest, payload: Payload, signal: AbortSignal, pipeline: string | undefined): Promise<SendResult> {
  const querystring: Record<string, string> = { filter_path: BULK_FILTER_PATH };
  if (pipeline) querystring.pipeline = pipeline;
  try {
    const res = await client.transport.request(
      { method: 'POST', path: '/_bulk', bulkBody: payload.body, querystring },
      { signal, meta: true, maxRetries: 0, headers: payload.encoding === 'gzip' ? { 'content-encoding': 'gzip' } : {} },
    );
    return classifyResponse(res.statusCode ?? 200, res.headers ?? {}, res.body, req.count);
  } catch (err) {
    return classifyClientError(err, req.count);
  }
}
