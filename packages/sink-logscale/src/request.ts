/**
 * Sending LogScale requests over the kit's `HttpClient` (undici, keep-alive, TLS, proxy): the
 * ingest path per mode, `Authorization: Bearer <token>` (the scheme LogScale documents for every
 * ingest path, HEC included), `Content-Type: application/json` and, for HEC, a request channel as
 * Vector sends one. The token is read once at build (`token_file`), and only ever goes into that
 * header: it is not logged, and error reasons quote the server's body, never the request.
 */
import { randomUUID } from 'node:crypto';
import { clientOptions, HttpClient, type Payload, type SendResult } from '@tern/core';
import { classifyLogScale } from './classify.ts';
import type { LogScaleRequest } from './encoder.ts';
import type { LogScaleConfig, LogScaleMode } from './schema.ts';

export const INGEST_PATHS: Readonly<Record<LogScaleMode, string>> = {
  structured: '/api/v1/ingest/humio-structured',
  unstructured: '/api/v1/ingest/humio-unstructured',
  hec: '/services/collector/event',
};

export function createClient(c: LogScaleConfig, baseDir: string): HttpClient {
  return new HttpClient({
    endpoint: c.endpoint,
    ...clientOptions(c, baseDir),
    auth: { strategy: 'bearer', ...(c.token ? { token: c.token } : {}), ...(c.token_file ? { token_file: c.token_file } : {}) },
  });
}

export class LogScaleSender {
  private readonly client: HttpClient;
  private readonly path: string;
  private readonly headers: Record<string, string>;

  constructor(client: HttpClient, mode: LogScaleMode) {
    this.client = client;
    this.path = INGEST_PATHS[mode];
    this.headers = { 'content-type': 'application/json' };
    if (mode === 'hec') this.headers['x-splunk-request-channel'] = randomUUID();
  }

  async send(_req: LogScaleRequest, payload: Payload, signal: AbortSignal): Promise<SendResult> {
    const headers = payload.encoding === 'gzip' ? { ...this.headers, 'content-encoding': 'gzip' } : this.headers;
    const res = await this.client.request({ method: 'POST', path: this.path, headers, body: payload.body, signal });
    // A 400 for one malformed line is the kit's to handle: it resends such lines as their tagged
    // copies, or splits the request until the refused events stand alone.
    return classifyLogScale(res.status, res.headers, res.body);
  }
}
