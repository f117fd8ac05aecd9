/**
 * Sending one webhook request with the kit's `HttpClient` (undici, keep-alive, TLS, proxy, auth
 * headers) and classifying the answer by format.
 *
 * The client is rooted at the URL's origin and every request carries the full path and query:
 * the kit client appends request paths to its endpoint's path and drops the endpoint's query
 * string, and a Slack webhook path must be sent exactly as given (no trailing slash). The path is
 * the secret of a Slack webhook, so nothing here puts it in an error or a reason: only the origin
 * is ever named.
 */
import { HttpClient, readSecret, TernError, type AuthOptions, type Payload, type SendResult, type TlsOptions } from '@tern/core';
import { classifierFor, type Classifier } from './classify.ts';
import type { WebhookRequest } from './encoder.ts';
import type { WebhookConfig } from './schema.ts';
import { sign, type SignatureAlgorithm } from './signature.ts';

const USER_AGENT = 'tern';

export interface WebhookClientOptions {
  readonly config: WebhookConfig;
  /** The receiver URL (from `url`, or read from `url_file`). */
  readonly url: string;
  readonly baseDir: string;
  readonly now?: () => number;
}

export class WebhookClient {
  readonly origin: string;
  private readonly path: string;
  private readonly method: 'POST' | 'PUT';
  private readonly http: HttpClient;
  private readonly classify: Classifier;
  private readonly signature: { readonly secret: string; readonly header: string; readonly algorithm: SignatureAlgorithm } | undefined;
  private readonly now: () => number;

  constructor(opts: WebhookClientOptions) {
    const c = opts.config;
    const url = new URL(opts.url);
    this.origin = url.origin;
    this.path = (url.pathname === '' ? '/' : url.pathname) + url.search;
    this.method = c.method;
    this.classify = classifierFor(c.format);
    this.now = opts.now ?? Date.now;
    // Receivers' headers over request.headers; the client puts credentials over both.
    const headers: Record<string, string> = { 'user-agent': USER_AGENT, ...lower(c.request.headers), ...lower(c.headers) };
    const auth: AuthOptions | undefined = c.auth;
    const tls: TlsOptions | undefined = c.tls;
    this.http = new HttpClient({
      endpoint: this.origin,
      ...(tls ? { tls } : {}),
      ...(c.proxy !== '' ? { proxy: c.proxy } : {}),
      ...(auth ? { auth } : {}),
      // A generic receiver's API key goes in its own header; `Authorization: ApiKey` is Elasticsearch's.
      authStyle: { apiKeyHeader: 'x-api-key' },
      headers,
      concurrency: c.request.concurrency,
      baseDir: opts.baseDir,
    });
    if (c.signature !== undefined) {
      const secret = readSecret(c.signature.secret, c.signature.secret_file, 'signature.secret', opts.baseDir);
      if (secret === undefined || secret === '') throw new TernError('TERN_ERR_BUILD', 'signature: needs secret or secret_file');
      this.signature = { secret, header: c.signature.header.toLowerCase(), algorithm: c.signature.algorithm };
    }
  }

  async send(req: WebhookRequest, payload: Payload, signal: AbortSignal): Promise<SendResult> {
    const headers: Record<string, string> = { 'content-type': req.contentType };
    if (payload.encoding === 'gzip') headers['content-encoding'] = 'gzip';
    if (req.idempotencyKey !== undefined) headers['idempotency-key'] = req.idempotencyKey;
    if (this.signature !== undefined) headers[this.signature.header] = sign(this.signature.secret, payload.body, this.signature.algorithm);
    const res = await this.http.request({ method: this.method, path: this.path, headers, body: payload.body, signal });
    return this.classify(res.status, res.headers, res.body, this.now());
  }

  /** Reachability only: any HTTP answer to a HEAD passes (webhooks have no health endpoint). */
  async healthcheck(signal: AbortSignal): Promise<void> {
    await this.http.request({ method: 'HEAD', path: this.path, signal });
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

function lower(h: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) out[k.toLowerCase()] = v;
  return out;
}
