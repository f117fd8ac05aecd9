/**
 * The `http_server` source: receives events pushed over HTTP(S) (Falco's `http_output`, the
 * kube-apiserver audit webhook, anything that POSTs JSON or lines) and answers each request the way
 * its sender needs (see schema.ts and the README's table of answers).
 *
 * Only the protocol lives here; the core `Intake` decodes the body into events, counts, warns and
 * hands the batch to the pipeline. One request is one batch. The answer follows the batch:
 *
 *   checks (method, path, credentials, declared size, encoding) ─▶ a concurrency slot ─▶ body
 *   ─▶ decode (400) ─▶ wait for room in the in-flight budget (hold; or reject after full_wait_ms: 503)
 *   ─▶ dispatched ─▶ every sink done (acknowledgements) ─▶ 200
 *
 * A request's deadline (`request_timeout_ms`) bounds both waits. Shutdown: the listener closes at
 * once; requests still waiting for room are answered 503 with Retry-After; requests whose events
 * are in the pipeline wait while the sinks drain, and those still unacknowledged when the source
 * closes are answered 503 too, so a retrying sender (kube-apiserver) sends them again to the next
 * tern: duplicates, never loss.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  authHeaders,
  Intake,
  LogLimiter,
  resolveAuth,
  tlsConnectOptions,
  type Counter,
  type EventOrigin,
  type Source,
  type SourceContext,
} from '@tern/core';
import { ENCODINGS, readBody } from './body.ts';
import { parseAddress, type HttpServerConfig } from './schema.ts';

/** Bounded concurrency with a FIFO queue: requests wait for a slot (hold) or are refused (reject). */
class Slots {
  private free: number;
  private readonly waiters: Array<() => void> = [];

  constructor(n: number) {
    this.free = n;
  }

  /** True once a slot is held; false when `wait` is false and none is free, or `signal` aborted first. */
  take(wait: boolean, signal: AbortSignal): Promise<boolean> | boolean {
    if (this.free > 0) {
      this.free--;
      return true;
    }
    if (!wait || signal.aborted) return false;
    return new Promise((resolve) => {
      const grant = (): void => {
        signal.removeEventListener('abort', onAbort);
        resolve(true);
      };
      const onAbort = (): void => {
        const i = this.waiters.indexOf(grant);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(false);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(grant);
    });
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.free++;
  }
}

/** Longer than the senders' own idle limits (libcurl 118 s, Go 90 s), so they close first. */
export const IDLE_KEEP_ALIVE_MS = 125_000;

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();

/** `Bearer x` and `bearer x` are the same credentials: the scheme is case-insensitive (RFC 9110). */
function normalAuth(header: string): string {
  const sp = header.indexOf(' ');
  return sp < 0 ? header : `${header.slice(0, sp).toLowerCase()} ${header.slice(sp + 1).trim()}`;
}

export class HttpServerSource implements Source {
  private readonly s: HttpServerConfig;
  private readonly ctx: SourceContext;
  private readonly intake: Intake;
  private readonly server: http.Server;
  private readonly tls: boolean;
  private readonly origins: Map<string, EventOrigin>;
  private readonly expectedAuth: Buffer | undefined;
  private readonly challenge: string | undefined;
  private readonly slots: Slots;
  private readonly log: LogLimiter;
  /** Requests whose answer waits for acknowledgements: answered 503 if the source closes first. */
  private readonly pending = new Set<(reason: string) => void>();
  private closing = false;
  private closed: Promise<void> | undefined;
  private bound: AddressInfo | undefined;
  private readonly c: Record<'requests' | 'accepted' | 'refused' | 'unacknowledged' | 'unauthorized' | 'tooLarge' | 'abandoned' | 'bytes', Counter>;

  constructor(config: HttpServerConfig, ctx: SourceContext) {
    this.s = config;
    this.ctx = ctx;
    this.intake = new Intake(ctx);
    this.origins = new Map(this.s.paths.map((p) => [p, { sourceId: ctx.id, path: p, host: ctx.host }]));
    const auth = resolveAuth(config.auth, ctx.configDir);
    const expected = authHeaders(auth).authorization;
    this.expectedAuth = expected === undefined ? undefined : sha256(normalAuth(expected));
    this.challenge = auth === undefined ? undefined : `${auth.strategy === 'basic' ? 'Basic' : 'Bearer'} realm="tern"`;
    this.slots = new Slots(this.s.max_concurrent_requests);
    this.log = new LogLimiter(ctx.logger);
    const t = ctx.telemetry;
    this.c = {
      requests: t.counter('requests'),
      accepted: t.counter('requests_accepted'),
      refused: t.counter('requests_refused'),
      unacknowledged: t.counter('requests_unacknowledged'),
      unauthorized: t.counter('requests_unauthorized'),
      tooLarge: t.counter('requests_too_large'),
      abandoned: t.counter('requests_abandoned'),
      bytes: t.counter('bytes_read'),
    };
    const options: http.ServerOptions = {
      requestTimeout: this.s.read_timeout_ms,
      headersTimeout: Math.min(this.s.read_timeout_ms, 60_000),
      // The sender closes its idle connections, not tern: a close by tern racing the sender's next
      // POST on that connection is a connection error, and Falco drops the alert on any error but a
      // timeout. Node closes after 5 s by default; libcurl (Falco) keeps an idle connection up to
      // 118 s (CURLOPT_MAXAGE_CONN), Go's HTTP client (kube-apiserver) 90 s.
      keepAliveTimeout: IDLE_KEEP_ALIVE_MS,
    };
    this.tls = config.tls !== undefined;
    if (config.tls !== undefined) {
      // The same PEM reader (and error messages naming the option) as the sinks' TLS.
      const pem = tlsConnectOptions({ ...config.tls }, ctx.configDir) as { cert?: Buffer; key?: Buffer; ca?: Buffer };
      const mutual = pem.ca !== undefined ? { ca: pem.ca, requestCert: true, rejectUnauthorized: true } : {};
      this.server = https.createServer({ ...options, cert: pem.cert, key: pem.key, ...mutual });
      // A refused handshake (no client certificate) is the client's problem, counted and logged rarely.
      this.server.on('tlsClientError', (err: Error) => {
        this.c.unauthorized.inc();
        this.log.log('warn', 'tls', { err: err.message }, 'TLS handshake refused (mutual TLS needs a client certificate signed by tls.ca_file)');
      });
    } else this.server = http.createServer(options);
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => this.serve(req, res, false));
    // Answer `Expect: 100-continue` only after the checks that need no body (curl sends it for bodies over 1 KB).
    this.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => this.serve(req, res, true));
  }

  /** The URL the server listens on (after `run` started listening). */
  get url(): string {
    const a = this.bound;
    if (a === undefined) return '';
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `${this.tls ? 'https' : 'http'}://${host}:${a.port}`;
  }

  async run(): Promise<void> {
    const { ctx } = this;
    if (ctx.once) {
      ctx.logger.warn('http_server receives pushed events; with --once there is nothing to read, so it does not listen');
      return;
    }
    const addr = parseAddress(this.s.address) as { host: string; port: number };
    await new Promise<void>((resolve, reject) => {
      const failed = (e: Error): void => reject(new Error(`cannot listen on ${this.s.address}: ${e.message}`, { cause: e }));
      this.server.once('error', failed);
      this.server.listen(addr.port, addr.host, () => {
        this.server.off('error', failed);
        resolve();
      });
    });
    this.bound = this.server.address() as AddressInfo;
    ctx.logger.info(
      { url: this.url, paths: this.s.paths, sender: this.s.sender, decoding: this.s.decoding, when_full: this.s.when_full, acknowledgements: this.s.acknowledgements, mutual_tls: this.tls && this.s.tls?.ca_file !== undefined },
      'listening',
    );
    if (!ctx.signal.aborted) await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
    // Stop accepting; requests already in the pipeline are answered as the sinks drain (or at close).
    this.closing = true;
    this.closed = new Promise((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
  }

  async close(): Promise<void> {
    for (const answer of [...this.pending]) answer('tern stopped before every sink acknowledged these events; send them again');
    this.pending.clear();
    this.intake.flush();
    this.log.flush();
    if (this.closed === undefined) {
      if (!this.server.listening) return;
      this.closed = new Promise((resolve) => this.server.close(() => resolve()));
    }
    this.server.closeAllConnections();
    await this.closed;
  }

  // ------------------------------------------------------------------ requests

  /** Never crashes the process on a request: an unexpected failure is logged and answered 500. */
  private serve(req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void {
    // Timers end with the request: AbortSignal.timeout would keep each request's signal alive for the
    // whole timeout (at 20k requests/s and 25 s, half a million of them).
    const timers: NodeJS.Timeout[] = [];
    const after = (ms: number): AbortSignal => {
      const ac = new AbortController();
      timers.push(setTimeout(() => ac.abort(new Error(`timed out after ${ms} ms`)), ms));
      return ac.signal;
    };
    this.handle(req, res, expectContinue, after)
      .catch((e: unknown) => {
        this.log.log('error', 'internal', { err: e }, 'request failed unexpectedly (500)');
        this.answer(res, 500, { error: 'internal error' });
      })
      .finally(() => {
        for (const t of timers) clearTimeout(t);
      });
  }

  private async handle(req: IncomingMessage, res: ServerResponse, expectContinue: boolean, after: (ms: number) => AbortSignal): Promise<void> {
    this.c.requests.inc();
    const s = this.s;
    // The client went away: stop waiting on its behalf (events already taken stay in the pipeline).
    const gone = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    const retry = { 'retry-after': String(s.retry_after_s) };
    if (this.closing) return this.refuse(res, 503, retry, 'shutdown', 'tern is shutting down; retry later');
    if (req.method !== 'POST' && req.method !== 'PUT') return this.answer(res, 405, { error: `method ${req.method ?? ''} not allowed; POST events` }, { allow: 'POST, PUT' });
    const q = (req.url ?? '/').indexOf('?');
    const path = q < 0 ? (req.url ?? '/') : (req.url ?? '/').slice(0, q);
    const origin = this.origins.get(path);
    if (origin === undefined) return this.answer(res, 404, { error: `no events are taken at ${path}; paths: ${s.paths.join(', ')}` });
    if (!this.authorized(req)) {
      this.c.unauthorized.inc();
      this.log.log('warn', 'auth', { remote: req.socket.remoteAddress, path }, 'request without valid credentials refused (401)');
      return this.answer(res, 401, { error: 'missing or wrong credentials' }, this.challenge ? { 'www-authenticate': this.challenge } : {});
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > s.max_body_bytes) return this.tooLarge(res, path, `body of ${declared} bytes is larger than max_body_bytes (${s.max_body_bytes})`);
    const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase() || 'identity';
    if (!ENCODINGS.has(encoding)) return this.answer(res, 415, { error: `Content-Encoding ${encoding} is not supported; send identity, gzip or deflate` }, { connection: 'close' });

    const deadline = s.request_timeout_ms > 0 ? after(s.request_timeout_ms) : undefined;
    const hold = s.when_full === 'hold';
    const slotWait = AbortSignal.any([gone.signal, this.ctx.signal, ...(deadline ? [deadline] : [])]);
    const slot = this.slots.take(hold, slotWait);
    if (!(slot === true || (await slot))) {
      if (gone.signal.aborted) return this.abandoned();
      return this.refuse(res, hold ? 503 : 429, retry, hold ? 'timeout' : 'busy', hold ? 'no request slot before request_timeout_ms' : `more than max_concurrent_requests (${s.max_concurrent_requests}) requests at once; retry later`);
    }
    try {
      if (expectContinue) res.writeContinue();
      const body = await readBody(req, s.max_body_bytes, encoding);
      if (!body.ok) {
        if (body.status === 0) return this.abandoned();
        if (body.status === 413) return this.tooLarge(res, path, body.message);
        return this.answer(res, body.status, { error: body.message });
      }
      this.c.bytes.inc(body.wireBytes);
      const format = s.decoding === 'auto' ? (String(req.headers['content-type'] ?? '').toLowerCase().startsWith('text/plain') ? 'text' : 'json') : s.decoding;
      const events = this.intake.documents(origin, body.body.toString('utf8'), format, { remote: req.socket.remoteAddress });
      if (!Array.isArray(events)) return this.answer(res, 400, { error: `malformed ${format} body: ${events.message}` });
      if (events.length === 0) {
        this.c.accepted.inc();
        return this.answer(res, 200, { events: 0 });
      }
      // Room in the pipeline: hold waits for it; reject waits at most full_wait_ms.
      const room = AbortSignal.any([gone.signal, this.ctx.signal, ...(deadline ? [deadline] : []), ...(hold ? [] : [after(s.full_wait_ms)])]);
      const acked = AbortSignal.any([gone.signal, ...(deadline ? [deadline] : [])]);
      // A body over a share of the in-flight budget goes in shares (Intake.submit), as Vector's
      // http_server and Filebeat's http_endpoint feed a large request to their queue piece by piece
      // with backpressure: max_body_bytes bounds a request, in_flight bounds the pipeline, and neither
      // has to be sized to the other. Waiting for room for the whole body at once would starve it
      // under steady load (the pipeline is rarely empty) and block every request behind it.
      // Each share waits for room as a whole request would (hold; reject: at most full_wait_ms), so
      // a pipeline that keeps moving takes the whole body and one that stopped (a sink down) gets the
      // 503 that when_full promises; part of the body is then taken already (duplicates when it is
      // sent again, never loss). A later share still goes in if the sender went away meanwhile: tern
      // holds the whole batch, and a sender that gave up on it (its own timeout) will not send it again.
      const share = (): AbortSignal => AbortSignal.any([this.ctx.signal, ...(deadline ? [deadline] : []), ...(hold ? [] : [after(s.full_wait_ms)])]);
      const answerAtClose = (reason: string): void => this.refuse(res, 503, retry, 'unacknowledged', reason);
      this.pending.add(answerAtClose);
      try {
        const outcome = await this.intake.submit(events, body.body.length, { signal: room, ackSignal: acked, shareSignal: share, acknowledge: s.acknowledgements });
        if (outcome === 'acknowledged' || outcome === 'queued') {
          this.c.accepted.inc();
          return this.answer(res, 200, { events: events.length });
        }
        if (gone.signal.aborted) return this.abandoned();
        if (outcome === 'unacknowledged') {
          this.c.unacknowledged.inc();
          // Shutdown, or a full pipeline (full_wait_ms), can also cut a large body short between two of its shares (see Intake.submit).
          if (this.ctx.signal.aborted && deadline?.aborted !== true) return this.refuse(res, 503, retry, 'unacknowledged', 'tern is shutting down and took only part of these events; sending them again is safe (duplicates, not loss)');
          if (deadline?.aborted !== true) return this.refuse(res, 503, retry, 'unacknowledged', `tern took part of these events, then had no room for the rest for full_wait_ms (a sink is slow or down); sending them again is safe (duplicates, not loss); retry in ${s.retry_after_s} s`);
          return this.refuse(res, 503, retry, 'unacknowledged', 'the events were taken but not acknowledged by every sink within request_timeout_ms; sending them again is safe (duplicates, not loss)');
        }
        if (this.ctx.signal.aborted) return this.refuse(res, 503, retry, 'shutdown', 'tern is shutting down; retry later');
        if (deadline?.aborted) return this.refuse(res, 503, retry, 'timeout', 'tern could not take the events within request_timeout_ms (a sink is slow or down); retry later');
        return this.refuse(res, 503, retry, 'full', `tern cannot take more events now (in-flight budget spent for full_wait_ms: a sink is slow or down); retry in ${s.retry_after_s} s`);
      } finally {
        this.pending.delete(answerAtClose);
      }
    } finally {
      this.slots.release();
    }
  }

  private authorized(req: IncomingMessage): boolean {
    if (this.expectedAuth === undefined) return true;
    const got = req.headers.authorization;
    return got !== undefined && timingSafeEqual(sha256(normalAuth(got)), this.expectedAuth);
  }

  private tooLarge(res: ServerResponse, path: string, message: string): void {
    this.c.tooLarge.inc();
    this.log.log('warn', 'too-large', { path, max_body_bytes: this.s.max_body_bytes }, `request refused (413): ${message}`);
    // Close the connection: the rest of the body is not read.
    this.answer(res, 413, { error: message }, { connection: 'close' });
  }

  /** 503/429 with Retry-After: nothing was taken (or, `unacknowledged`, it may be sent again safely). */
  private refuse(res: ServerResponse, status: 429 | 503, headers: Record<string, string>, kind: string, message: string): void {
    if (res.headersSent || res.destroyed) return;
    if (kind !== 'unacknowledged') this.c.refused.inc();
    this.log.log('warn', `refused:${kind}`, { status, retry_after_s: this.s.retry_after_s }, `request refused (${status}): ${message}`);
    this.answer(res, status, { error: message }, headers);
  }

  private abandoned(): void {
    this.c.abandoned.inc();
  }

  private answer(res: ServerResponse, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void {
    if (res.headersSent || res.destroyed) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...(this.closing ? { connection: 'close' } : {}), ...headers });
    res.end(text);
  }
}
