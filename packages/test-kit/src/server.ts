/**
 * Shared machinery of every emulator: a plain node:http server on 127.0.0.1, the request log
 * (`requests`), the fault queue (`fault()`), body reading with size limits and content decoding,
 * and the way a reply is written (late, never, or with the socket torn down).
 *
 * An emulator only supplies a handler `(exchange) => Reply` plus the headers every reply carries
 * and the default body of an injected status. The handler decides *when* to read the body, because
 * real servers check different things first (Parseable authenticates before it reads a byte,
 * Elasticsearch refuses an oversized Content-Length before decoding), and the limits differ.
 *
 * Over 400 lines: the HTTP machinery every emulator shares (recording, body decoding with limits,
 * scripted faults, TLS, socket tracking for close) is one state machine per request; the emulators
 * stay small because it is in one place.
 */
import http from 'node:http';
import https from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import zlib from 'node:zlib';

export interface RecordedRequest {
  method: string;
  /** Path without the query string, as sent (not percent-decoded). */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** Body after Content-Encoding was decoded (the raw bytes when decoding failed). Empty when the emulator runs with `recordBodies: false`. */
  body: Buffer;
  /** Body bytes as they came over the wire (compressed size when gzip). */
  wireBytes: number;
  /** Status answered; 0 while pending or when the socket was destroyed instead of answering. */
  status: number;
  /** Date.now() when the request head arrived. */
  at: number;
}

export type FaultAction =
  | { status: number; headers?: Record<string, string>; body?: string }
  | { reset: 'before' }
  /** The connection is torn down while the client is still sending the body (after its first chunk). */
  | { reset: 'mid_body' }
  | { reset: 'after' }
  | { delayMs: number };

export interface FaultRule {
  match?: { method?: string; path?: string | RegExp };
  /** How many matching requests this rule answers; default 1; `Infinity` allowed. */
  times?: number;
  action: FaultAction;
}

export interface Emulator {
  readonly url: string;
  readonly requests: RecordedRequest[];
  fault(...rules: FaultRule[]): void;
  clearFaults(): void;
  close(): Promise<void>;
}

/** One line per answered request, for the CLI's request log. */
export interface RequestLogEntry {
  method: string;
  path: string;
  status: number;
  /** Emulator summary such as `1000 items` or `3 events`; empty when there is nothing to add. */
  note: string;
  ms: number;
}

/** Options every emulator accepts. */
export interface CommonOptions {
  /** Port to listen on; default 0 (a free port). */
  port?: number;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Serve HTTPS with this certificate and key (PEM); `url` then starts with `https://`. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Keep decoded bodies in `requests` (default true; benchmarks turn it off to save memory). */
  recordBodies?: boolean;
  /** Keep `requests` at all (default true; the CLI turns it off so a long run does not grow memory). */
  recordRequests?: boolean;
  /** Called once per request after its answer was written (or the socket destroyed). */
  onRequest?: (entry: RequestLogEntry) => void;
}

export interface Reply {
  status: number;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
  /** Short summary for the request log. */
  note?: string;
}

export interface BodyLimits {
  /** Refuse (without reading into memory) when Content-Length is larger. Compressed size if gzip. */
  maxDeclared?: number;
  /** Refuse when the bytes read (before decoding) exceed this. */
  maxWire?: number;
  /** Refuse when the decoded body exceeds this. */
  maxDecoded?: number;
  /** Content-Encodings to decode; default gzip, x-gzip, deflate, br. */
  decode?: readonly string[];
}

export type BodyResult =
  | { ok: true; body: Buffer; wireBytes: number }
  | { ok: false; error: 'declared-too-large'; declared: number }
  | { ok: false; error: 'too-large'; wireBytes: number }
  | { ok: false; error: 'unsupported-encoding'; encoding: string }
  | { ok: false; error: 'bad-encoding'; message: string }
  | { ok: false; error: 'aborted'; message: string };

const DEFAULT_DECODE = ['gzip', 'x-gzip', 'deflate', 'br'] as const;

/**
 * One request as the handler sees it. `body()` reads and decodes once; calling it again returns
 * the same result. The handler never writes to the response itself: it returns a Reply, so the
 * fault layer can delay it or drop it.
 */
export class Exchange {
  readonly req: IncomingMessage;
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly record: RecordedRequest;
  readonly remoteAddress: string;
  #recordBodies: boolean;
  #bodyPromise: Promise<BodyResult> | undefined;

  constructor(req: IncomingMessage, record: RecordedRequest, recordBodies: boolean) {
    this.req = req;
    this.method = record.method;
    this.path = record.path;
    this.query = record.query;
    this.headers = req.headers;
    this.record = record;
    this.remoteAddress = req.socket.remoteAddress ?? '';
    this.#recordBodies = recordBodies;
  }

  /** The first value of a header, lower-case name. */
  header(name: string): string | undefined {
    const v = this.req.headers[name];
    return Array.isArray(v) ? v[0] : v;
  }

  get bodyRead(): boolean {
    return this.#bodyPromise !== undefined;
  }

  body(limits: BodyLimits = {}): Promise<BodyResult> {
    this.#bodyPromise ??= this.#read(limits);
    return this.#bodyPromise;
  }

  async #read(limits: BodyLimits): Promise<BodyResult> {
    const declaredRaw = this.req.headers['content-length'];
    const declared = declaredRaw === undefined ? undefined : Number(declaredRaw);
    if (declared !== undefined && limits.maxDeclared !== undefined && declared > limits.maxDeclared) {
      // Drain so the client finishes writing and can read our answer instead of an EPIPE.
      const wire = await drain(this.req);
      this.record.wireBytes = wire;
      return { ok: false, error: 'declared-too-large', declared };
    }
    const chunks: Buffer[] = [];
    let wire = 0;
    let over = false;
    try {
      for await (const chunk of this.req as AsyncIterable<Buffer>) {
        wire += chunk.length;
        if (limits.maxWire !== undefined && wire > limits.maxWire) over = true;
        if (!over) chunks.push(chunk);
      }
    } catch (err) {
      // The client went away mid-body (or close() tore the socket down).
      this.record.wireBytes = wire;
      return { ok: false, error: 'aborted', message: (err as Error).message };
    }
    this.record.wireBytes = wire;
    if (over) return { ok: false, error: 'too-large', wireBytes: wire };
    const raw = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, wire);
    const encoding = (this.header('content-encoding') ?? 'identity').trim().toLowerCase();
    let body: Buffer;
    if (encoding === 'identity' || encoding === '') {
      body = raw;
    } else if (!(limits.decode ?? DEFAULT_DECODE).includes(encoding)) {
      if (this.#recordBodies) this.record.body = raw;
      return { ok: false, error: 'unsupported-encoding', encoding };
    } else {
      try {
        body = decode(encoding, raw, limits.maxDecoded);
      } catch (err) {
        if (this.#recordBodies) this.record.body = raw;
        if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') return { ok: false, error: 'too-large', wireBytes: wire };
        return { ok: false, error: 'bad-encoding', message: (err as Error).message };
      }
    }
    if (this.#recordBodies) this.record.body = body;
    if (limits.maxDecoded !== undefined && body.length > limits.maxDecoded) return { ok: false, error: 'too-large', wireBytes: wire };
    return { ok: true, body, wireBytes: wire };
  }
}

function decode(encoding: string, raw: Buffer, maxDecoded: number | undefined): Buffer {
  // maxOutputLength stops a decompression bomb before it fills memory; one byte over the limit
  // is enough to know the body is too large.
  const opts = maxDecoded === undefined ? {} : { maxOutputLength: Math.min(maxDecoded + 1, 2 ** 32) };
  switch (encoding) {
    case 'gzip':
    case 'x-gzip':
      return zlib.gunzipSync(raw, opts);
    case 'deflate':
      // HTTP "deflate" is zlib-wrapped, but some clients send raw deflate; accept both like browsers do.
      try {
        return zlib.inflateSync(raw, opts);
      } catch (err) {
        if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw err;
        return zlib.inflateRawSync(raw, opts);
      }
    case 'br':
      return zlib.brotliDecompressSync(raw, opts);
    default:
      throw new Error(`unsupported encoding ${encoding}`);
  }
}

function drain(req: IncomingMessage): Promise<number> {
  return new Promise((resolve, reject) => {
    let n = 0;
    if (req.readableEnded) return resolve(0);
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => resolve(n));
    req.on('error', reject);
    req.on('close', () => resolve(n));
  });
}

export interface ServerSpec {
  options: CommonOptions;
  /** Produce the answer. May read the body through the exchange. */
  handle(exchange: Exchange): Reply | Promise<Reply>;
  /** Headers added to every reply, injected faults included (a fault header set to '' removes one). */
  baseHeaders?: (exchange: Exchange | undefined) => Record<string, string>;
  /** Answer for an injected `{ status }` fault without body, in the server's own dialect. */
  faultReply?: (status: number, exchange: Exchange) => Reply;
  /** Answer when the handler throws. */
  internalError?: (err: unknown, exchange: Exchange) => Reply;
}

interface QueuedRule {
  rule: FaultRule;
  remaining: number;
}

/** The listening server shared by all emulators. Emulators wrap it and add their query surface. */
/**
 * Base of the four emulators: the `Emulator` surface (URL, request log, faults, close) delegated to
 * the `EmulatorServer` each one runs, so an emulator class holds only its protocol.
 */
export abstract class EmulatorFacade implements Emulator {
  abstract readonly server: EmulatorServer;
  get url(): string {
    return this.server.url;
  }
  get requests(): RecordedRequest[] {
    return this.server.requests;
  }
  fault(...rules: FaultRule[]): void {
    this.server.fault(...rules);
  }
  clearFaults(): void {
    this.server.clearFaults();
  }
  close(): Promise<void> {
    return this.server.close();
  }
}

export class EmulatorServer implements Emulator {
  readonly requests: RecordedRequest[] = [];
  #server: http.Server | https.Server;
  #spec: ServerSpec;
  #faults: QueuedRule[] = [];
  #timers = new Set<NodeJS.Timeout>();
  #url = '';
  #recordBodies: boolean;

  constructor(spec: ServerSpec) {
    this.#spec = spec;
    this.#recordBodies = spec.options.recordBodies ?? true;
    // Benchmarks keep connections open for a long time; a slow upload must not be cut off.
    const serverOptions = { keepAliveTimeout: 60_000, headersTimeout: 60_000, requestTimeout: 0 };
    const tls = spec.options.tls;
    this.#server = tls === undefined ? http.createServer(serverOptions) : https.createServer({ ...serverOptions, cert: tls.cert, key: tls.key });
    this.#server.maxRequestsPerSocket = 0;
    this.#server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.#onRequest(req, res).catch((err: unknown) => {
        // Last resort: the handler's own error path failed. Never leave a client hanging.
        try {
          if (!res.destroyed && !res.headersSent) {
            res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
            res.end(String(err));
          } else res.destroy();
        } catch {
          res.destroy();
        }
      });
    });
    // A client that disconnects mid-request must not crash the emulator.
    this.#server.on('clientError', (_err: Error, socket: Socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      else socket.destroy();
    });
  }

  get url(): string {
    return this.#url;
  }

  async listen(): Promise<this> {
    const { port = 0, host = '127.0.0.1' } = this.#spec.options;
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const addr = this.#server.address();
    if (addr === null || typeof addr === 'string') throw new Error('emulator: unexpected server address');
    const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    this.#url = `${this.#spec.options.tls === undefined ? 'http' : 'https'}://${h}:${addr.port}`;
    return this;
  }

  fault(...rules: FaultRule[]): void {
    for (const rule of rules) if ((rule.times ?? 1) > 0) this.#faults.push({ rule, remaining: rule.times ?? 1 });
  }

  clearFaults(): void {
    this.#faults = [];
  }

  close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    return new Promise((resolve) => {
      if (!this.#server.listening) return resolve();
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  #takeFault(method: string, path: string): FaultAction | undefined {
    for (let i = 0; i < this.#faults.length; i++) {
      const q = this.#faults[i] as QueuedRule;
      const m = q.rule.match;
      if (m?.method !== undefined && m.method.toUpperCase() !== method) continue;
      if (m?.path !== undefined) {
        if (typeof m.path === 'string' ? m.path !== path : !m.path.test(path)) continue;
      }
      q.remaining--;
      if (q.remaining <= 0) this.#faults.splice(i, 1);
      return q.rule.action;
    }
    return undefined;
  }

  async #onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const record: RecordedRequest = {
      method: (req.method ?? 'GET').toUpperCase(),
      path: q === -1 ? rawUrl : rawUrl.slice(0, q),
      query: new URLSearchParams(q === -1 ? '' : rawUrl.slice(q + 1)),
      headers: req.headers,
      body: EMPTY,
      wireBytes: 0,
      status: 0,
      at: Date.now(),
    };
    if (this.#spec.options.recordRequests !== false) this.requests.push(record);
    const ex = new Exchange(req, record, this.#recordBodies);
    const action = this.#takeFault(record.method, record.path);
    const log = (note: string): void => {
      this.#spec.options.onRequest?.({ method: record.method, path: record.path, status: record.status, note, ms: performance.now() - started });
    };

    if (action !== undefined && 'reset' in action && action.reset === 'mid_body') {
      // Wait for the first bytes of the body, then cut the connection with the upload unfinished.
      await new Promise<void>((resolve) => {
        if (req.readableEnded) return resolve();
        req.once('data', () => resolve());
        req.once('end', () => resolve());
      });
      req.socket.resetAndDestroy();
      return log('fault: reset mid-body');
    }
    if (action !== undefined && ('status' in action || ('reset' in action && action.reset === 'before'))) {
      // The fault replaces processing: read the body only to record it, store nothing.
      await ex.body();
      if ('reset' in action) {
        res.destroy();
        return log('fault: reset before processing');
      }
      const base = this.#spec.faultReply?.(action.status, ex) ?? { status: action.status };
      const reply: Reply = {
        status: action.status,
        // Keep '' markers: #write applies them to the standard headers too.
        headers: mergeHeaders(base.headers ?? {}, action.headers ?? {}, true),
        body: action.body ?? base.body ?? '',
      };
      this.#write(ex, res, reply);
      return log('fault');
    }

    let reply: Reply;
    try {
      reply = await this.#spec.handle(ex);
    } catch (err) {
      reply = this.#spec.internalError?.(err, ex) ?? { status: 500, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: String(err) };
    }
    // Consume what the handler left unread, so the client is not cut off while still sending.
    if (!ex.bodyRead) await ex.body();

    if (action !== undefined && 'reset' in action) {
      // reset: 'after': the request was processed and stored; the answer is lost.
      res.destroy();
      return log(`${reply.note ?? ''} (fault: reset after processing, answer was ${reply.status})`.trim());
    }
    if (action !== undefined && 'delayMs' in action) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.#timers.delete(t);
          resolve();
        }, action.delayMs);
        this.#timers.add(t);
      });
      if (res.destroyed) return log(`${reply.note ?? ''} (client left before the delayed answer)`.trim());
    }
    this.#write(ex, res, reply);
    log(reply.note ?? '');
  }

  #write(ex: Exchange, res: ServerResponse, reply: Reply): void {
    if (res.destroyed) return;
    const headers = mergeHeaders(this.#spec.baseHeaders?.(ex) ?? {}, reply.headers ?? {});
    const body = reply.body === undefined ? EMPTY : typeof reply.body === 'string' ? Buffer.from(reply.body) : reply.body;
    const noBody = reply.status === 204 || reply.status === 304 || (reply.status >= 100 && reply.status < 200);
    if (!noBody) headers['content-length'] = String(body.length);
    ex.record.status = reply.status;
    res.writeHead(reply.status, headers);
    if (noBody || ex.method === 'HEAD') res.end();
    else res.end(body);
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * `over` wins over `base`, header names compared case-insensitively; a value of '' removes the
 * header (how a fault drops a standard header such as `X-elastic-product`).
 */
function mergeHeaders(base: Record<string, string | string[]>, over: Record<string, string | string[]>, keepEmpty = false): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    for (const existing of Object.keys(out)) if (existing.toLowerCase() === k.toLowerCase()) delete out[existing];
    if (v !== '' || keepEmpty) out[k] = v;
  }
  return out;
}

/** Basic credentials from an Authorization header, or undefined when it is not Basic. */
export function parseBasic(authorization: string | undefined): { username: string; password: string } | undefined {
  if (authorization === undefined) return undefined;
  const m = /^basic\s+(\S+)\s*$/i.exec(authorization);
  if (m === null) return undefined;
  const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i === -1) return undefined;
  return { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
}

/** Plain-text reply helper. */
export function text(status: number, body: string, headers: Record<string, string | string[]> = {}): Reply {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8', ...headers }, body };
}

/** JSON reply helper (`application/json; charset=utf-8`). */
export function json(status: number, value: unknown, headers: Record<string, string | string[]> = {}): Reply {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers }, body: typeof value === 'string' || Buffer.isBuffer(value) ? value : JSON.stringify(value) };
}

/** Options with `onRequest` also counting each answer's status into `byStatus` (the emulators' `stats()`). */
export function countingStatuses<O extends CommonOptions>(opts: O, byStatus: Record<number, number>): O {
  const next = opts.onRequest;
  return {
    ...opts,
    onRequest: (e: RequestLogEntry) => {
      byStatus[e.status] = (byStatus[e.status] ?? 0) + 1;
      next?.(e);
    },
  };
}
