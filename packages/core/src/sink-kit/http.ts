/**
 * HTTP for sinks that speak plain HTTP (LogScale, Parseable, webhook): one undici dispatcher per
 * sink with keep-alive and `concurrency` connections, TLS options mapped to undici `connect`
 * options, an optional `ProxyAgent`, credential headers, and the shared status classification
 * (the protocol notes' §0 retry classes) so those sinks only add what is special about them.
 *
 * undici's own retry handler is not used: it does not retry POST by default, and the kit retries at
 * the batch layer where it knows a replay is safe and can split or resend subsets.
 */
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { isAbsolute, resolve } from 'node:path';
import { Agent, ProxyAgent, type Dispatcher, type buildConnector } from 'undici';
import { TernError } from '../errors.ts';
import { parseRetryAfter } from './retry.ts';
import { authHeaders, resolveAuth, type AuthHeaderStyle } from './secrets.ts';
import type { AuthOptions, Payload, SendResult, TlsOptions } from './types.ts';

export interface HttpClientOptions {
  /** Base URL; request paths are appended to its path. */
  readonly endpoint: string;
  readonly tls?: TlsOptions;
  /** Proxy URL (`http://host:port`); CONNECT is used for https endpoints. */
  readonly proxy?: string;
  readonly auth?: AuthOptions;
  readonly authStyle?: AuthHeaderStyle;
  /** Headers sent with every request (the `request.headers` option). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Connections per origin (the `request.concurrency` option). */
  readonly concurrency?: number;
  /** Directory that relative `*_file` paths resolve against (the pipeline file's). */
  readonly baseDir?: string;
}

/** The YAML options every HTTP sink has that its client takes: `tls`, `proxy` (`''`: none), `request.headers`, `request.concurrency`. */
export interface ClientYamlOptions {
  readonly tls?: TlsOptions | undefined;
  readonly proxy?: string | undefined;
  readonly request: { readonly headers?: Readonly<Record<string, string>> | undefined; readonly concurrency: number };
}

/** Client options from a sink's YAML options (spread them, then add `endpoint` and `auth`). */
export function clientOptions(c: ClientYamlOptions, baseDir: string): Omit<HttpClientOptions, 'endpoint'> {
  return {
    ...(c.tls ? { tls: c.tls } : {}),
    ...(c.proxy ? { proxy: c.proxy } : {}),
    headers: c.request.headers ?? {},
    concurrency: c.request.concurrency,
    baseDir,
  };
}

export interface HttpRequest {
  readonly method?: Dispatcher.HttpMethod;
  /** Path (and query) relative to the endpoint's path. */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
  readonly signal?: AbortSignal;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Response body as text (error bodies are short; success bodies are small acknowledgements). */
  readonly body: string;
}

/** Maps the shared `tls` block to undici `connect` options; reads the PEM files now (build time). */
export function tlsConnectOptions(tls: TlsOptions | undefined, baseDir = process.cwd()): buildConnector.BuildOptions {
  if (tls === undefined) return {};
  const read = (file: string | undefined, option: string): Buffer | undefined => {
    if (file === undefined || file === '') return undefined;
    const path = isAbsolute(file) ? file : resolve(baseDir, file);
    try {
      return readFileSync(path);
    } catch (err) {
      throw new TernError('TERN_ERR_BUILD', `tls.${option}: cannot read ${path}: ${(err as Error).message}`, { cause: err });
    }
  };
  const out: Record<string, unknown> = {};
  const ca = read(tls.ca_file, 'ca_file');
  const cert = read(tls.crt_file, 'crt_file');
  const key = read(tls.key_file, 'key_file');
  if (ca) out.ca = ca;
  if (cert) out.cert = cert;
  if (key) out.key = key;
  if (tls.server_name) out.servername = tls.server_name;
  if (tls.verify === false) out.rejectUnauthorized = false;
  return out as buildConnector.BuildOptions;
}

export class HttpClient {
  readonly origin: string;
  private readonly basePath: string;
  private readonly dispatcher: Dispatcher;
  private readonly headers: Readonly<Record<string, string>>;

  constructor(opts: HttpClientOptions) {
    const url = new URL(opts.endpoint);
    this.origin = url.origin;
    this.basePath = url.pathname.replace(/\/+$/, '');
    const connect = tlsConnectOptions(opts.tls, opts.baseDir);
    const common = { keepAliveTimeout: 30_000, connections: opts.concurrency ?? 4 };
    this.dispatcher = opts.proxy
      ? new ProxyAgent({ uri: opts.proxy, requestTls: connect, ...common })
      : new Agent({ connect, ...common });
    const lower: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) lower[k.toLowerCase()] = v;
    // Credentials last: a stray `Authorization` in request.headers must not silently replace them.
    this.headers = { ...lower, ...authHeaders(resolveAuth(opts.auth, opts.baseDir), opts.authStyle) };
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    const res = await this.dispatcher.request({
      origin: this.origin,
      path: this.basePath + (req.path.startsWith('/') ? req.path : `/${req.path}`),
      method: req.method ?? 'POST',
      headers: { ...this.headers, ...req.headers },
      body: req.body ?? null,
      signal: req.signal ?? null,
    });
    const body = await res.body.text();
    return { status: res.statusCode, headers: res.headers, body };
  }

  /** Sends a kit payload (setting `content-encoding`) and classifies the answer with `classifyHttpStatus`. */
  async send(path: string, payload: Payload, signal: AbortSignal, extra: { method?: Dispatcher.HttpMethod; headers?: Record<string, string> } = {}): Promise<SendResult> {
    const headers: Record<string, string> = { ...extra.headers };
    if (payload.encoding === 'gzip') headers['content-encoding'] = 'gzip';
    const res = await this.request({ method: extra.method ?? 'POST', path, headers, body: payload.body, signal });
    return classifyHttpStatus(res.status, res.headers, res.body);
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }
}

/** A short, single-line excerpt of an error body for logs. */
export function bodyExcerpt(body: string, max = 200): string {
  const s = body.replace(/\s+/g, ' ').trim();
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/**
 * The shared classification of a whole-request HTTP answer: 2xx ok; 408, 429 and 5xx except 501
 * retry (honouring `Retry-After`); 413 split; 401/403 pause; every other status permanent.
 * Sinks with stricter rules (LogScale treats 201-399 as failures) check those first.
 */
export function classifyHttpStatus(status: number, headers: IncomingHttpHeaders = {}, body = '', now = Date.now()): SendResult {
  const reason = `HTTP ${status}${body ? `: ${bodyExcerpt(body)}` : ''}`;
  if (status >= 200 && status < 300) return { kind: 'ok' };
  if (status === 401 || status === 403) return { kind: 'auth', status, reason };
  if (status === 413) return { kind: 'too_large', reason };
  if (isTransientStatus(status)) return retryResult(reason, headers, now);
  return { kind: 'permanent', reason, status, ...(body ? { answer: bodyExcerpt(body, 2000) } : {}) };
}

/** 408, 429 and 5xx but 501: worth sending again. */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status !== 501);
}

/** A transient failure: retry, no sooner than the server's `Retry-After` when it sent one. */
export function retryResult(reason: string, headers: IncomingHttpHeaders, now = Date.now()): SendResult {
  const afterMs = parseRetryAfter(headers['retry-after'], now);
  return afterMs === undefined ? { kind: 'retry', reason } : { kind: 'retry', reason, afterMs };
}
