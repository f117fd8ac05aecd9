/**
 * Sending Parseable requests over the kit's `HttpClient` (undici, keep-alive, TLS, proxy):
 * `POST /api/v1/ingest` with `X-P-Stream` (the server creates a missing stream), HTTP Basic
 * credentials, `Content-Type: application/json` (actix refuses anything else with 400) and the
 * custom `X-P-<name>` field headers. The password is read once at build (`password_file`) and only
 * ever goes into the Authorization header: error reasons quote the server's body, never the request.
 */
import { clientOptions, HttpClient, type Payload, type SendResult } from '@tern/core';
import { classifyParseable } from './classify.ts';
import type { ParseableEncoder, ParseableRequest } from './encoder.ts';
import type { ParseableConfig } from './schema.ts';

export const INGEST_PATH = '/api/v1/ingest';

export function createClient(c: ParseableConfig, baseDir: string): HttpClient {
  return new HttpClient({
    endpoint: c.endpoint,
    ...clientOptions(c, baseDir),
    auth: { strategy: 'basic', user: c.username, ...(c.password ? { password: c.password } : {}), ...(c.password_file ? { password_file: c.password_file } : {}) },
  });
}

export class ParseableSender {
  private readonly client: HttpClient;
  private readonly headers: Readonly<Record<string, string>>;
  private readonly encoder: ParseableEncoder;

  constructor(client: HttpClient, customFields: Readonly<Record<string, string>>, encoder: ParseableEncoder) {
    this.client = client;
    this.encoder = encoder;
    const h: Record<string, string> = { 'content-type': 'application/json' };
    for (const [k, v] of Object.entries(customFields)) h[`x-p-${k.toLowerCase()}`] = v;
    this.headers = h;
  }

  async send(req: ParseableRequest, payload: Payload, signal: AbortSignal): Promise<SendResult> {
    const headers: Record<string, string> = { ...this.headers, 'x-p-stream': req.stream };
    if (payload.encoding === 'gzip') headers['content-encoding'] = 'gzip';
    const res = await this.client.request({ method: 'POST', path: INGEST_PATH, headers, body: payload.body, signal });
    const r = classifyParseable(res.status, res.headers, res.body);
    if (r.kind !== 'permanent' || res.status !== 400) return r;
    if (res.body.startsWith('Json deserialize error') && this.encoder.reserialize(req.events)) {
      // Parseable's JSON parser is strict where JSON.parse is not (duplicate keys): the original
      // lines passed the source but not the server. Resend the events re-serialised from their
      // parsed values (last duplicate wins, as JSON.parse read it) instead of rejecting them. (A
      // line that is not JSON at all is the kit's to handle: it resends its tagged copy.)
      return { kind: 'retry', reason: `${r.reason} (resending the events re-serialised)` };
    }
    return r;
  }
}
