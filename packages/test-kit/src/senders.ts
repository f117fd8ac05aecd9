/**
 * Emulated senders: clients that post events the way Falco's `http_output` and kube-apiserver's
 * audit webhook backend do, so a receiver (tern's `http_server` source) is tested against what
 * each sender really does with its answers (see /work/shared/protocols/senders.md):
 *
 * - `FalcoSender`: one POST per alert, one request in flight, the status code never looked at (any
 *   answer is "delivered"), no timeout unless one is given, a retry only after a timeout (up to
 *   `maxConsecutiveTimeouts`), any other error drops the alert.
 * - `AuditWebhookSender`: a 10,000-event buffer (events beyond it are dropped), batches of up to
 *   400 events or whatever arrived within the batch wait, a token-bucket throttle (10/s, burst 15),
 *   batches sent concurrently, a 30 s request timeout, and `DefaultShouldRetry`: a connection reset,
 *   500, 504, 429 or any answer with `Retry-After` is retried with exponential backoff (10 s × 1.5,
 *   jitter 0.2, 5 attempts); anything else (502, 503 without Retry-After, a refused connection, a
 *   timeout) loses the batch at once. Every duration can be scaled down for tests.
 *
 * Both count what they believe they delivered, so a test can compare it with what reached the sinks.
 * They use node:http (not undici) like any other client would: their own connection handling.
 */
import http from 'node:http';
import https from 'node:https';

/** TLS settings of a sender (Falco's `ca_cert`/`mtls`, the webhook kubeconfig's CA and client certificate). */
export interface SenderTls {
  readonly ca?: string | Buffer;
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  /** Falco's `insecure: true`: no verification of the server. */
  readonly insecure?: boolean;
}

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** One request; rejects with the socket error, or an error with `code: 'ETIMEDOUT'` when `timeoutMs` passes. */
function post(url: URL, body: Buffer, headers: Record<string, string>, tls: SenderTls | undefined, timeoutMs: number, agent: http.Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : http;
    const auth = url.username !== '' ? { authorization: `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}` } : {};
    const req = mod.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { ...auth, ...headers, 'content-length': String(body.length) },
        ...(tls?.ca !== undefined ? { ca: tls.ca } : {}),
        ...(tls?.cert !== undefined ? { cert: tls.cert, key: tls.key } : {}),
        ...(tls?.insecure === true ? { rejectUnauthorized: false } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
      },
    );
    const timer =
      timeoutMs > 0 && Number.isFinite(timeoutMs)
        ? setTimeout(() => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs)
        : undefined;
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end(body);
  });
}

// ---------------------------------------------------------------------------------------- Falco

export interface FalcoSenderOptions {
  /** `http_output.url` (user:password in it become Basic credentials, as libcurl does). */
  readonly url: string;
  /** Falco sets no CURLOPT_TIMEOUT: by default a held answer is waited for indefinitely. */
  readonly timeoutMs?: number;
  /** `http_output.max_consecutive_timeouts`: retries of one alert after timeouts (default 5). */
  readonly maxConsecutiveTimeouts?: number;
  /** `json_output`: the alert as JSON (default), or its `output` line as text/plain. */
  readonly jsonOutput?: boolean;
  readonly userAgent?: string;
  readonly tls?: SenderTls;
}

export interface FalcoDropped {
  readonly alert: Record<string, unknown>;
  readonly error: string;
}

export class FalcoSender {
  /** Alerts Falco counts as delivered: every one that got an HTTP answer, whatever its status. */
  readonly delivered: Array<Record<string, unknown>> = [];
  /** Statuses answered, in order (Falco never looks at them). */
  readonly statuses: number[] = [];
  /** Alerts Falco gave up on: a connection error, or too many consecutive timeouts. */
  readonly dropped: FalcoDropped[] = [];
  /** POSTs made, retries included. */
  requests = 0;
  private readonly opts: FalcoSenderOptions;
  private readonly url: URL;
  private readonly queue: Array<Record<string, unknown>> = [];
  private readonly agent: http.Agent;
  private running: Promise<void> | undefined;
  private busy = false;

  constructor(opts: FalcoSenderOptions) {
    this.opts = opts;
    this.url = new URL(opts.url.replace(/^["']|["']$/g, ''));
    // libcurl keeps its connection alive between alerts.
    this.agent = new (this.url.protocol === 'https:' ? https.Agent : http.Agent)({ keepAlive: true, maxSockets: 1 });
  }

  /** True while a POST is waiting for its answer. */
  get inFlight(): boolean {
    return this.busy;
  }

  /** Queues alerts; Falco's output worker posts them one at a time. */
  send(...alerts: Array<Record<string, unknown>>): void {
    this.queue.push(...alerts);
    this.running ??= this.work().finally(() => (this.running = undefined));
  }

  /** Resolves once every queued alert was answered or dropped. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  close(): void {
    this.agent.destroy();
  }

  private async work(): Promise<void> {
    for (let alert = this.queue.shift(); alert !== undefined; alert = this.queue.shift()) {
      const json = this.opts.jsonOutput ?? true;
      const body = Buffer.from(json ? JSON.stringify(alert) : String(alert.output ?? ''));
      const headers = { 'content-type': json ? 'application/json' : 'text/plain', 'user-agent': this.opts.userAgent ?? 'falcosecurity/falco' };
      const max = this.opts.maxConsecutiveTimeouts ?? 5;
      this.busy = true;
      for (let timeouts = 0; ; ) {
        this.requests++;
        try {
          const a = await post(this.url, body, headers, this.opts.tls, this.opts.timeoutMs ?? 0, this.agent);
          this.statuses.push(a.status);
          this.delivered.push(alert);
          break;
        } catch (e) {
          const err = e as NodeJS.ErrnoException;
          if (err.code === 'ETIMEDOUT' && ++timeouts <= max) continue;
          this.dropped.push({ alert, error: `libcurl failed to perform call: ${err.code ?? err.message}` });
          break;
        }
      }
      this.busy = false;
    }
  }
}

// ------------------------------------------------------------------------- kube-apiserver

export interface AuditWebhookSenderOptions {
  /** The `server` of the webhook kubeconfig. */
  readonly url: string;
  /** `user.token` of the kubeconfig. */
  readonly bearerToken?: string;
  readonly tls?: SenderTls;
  /** --audit-webhook-batch-buffer-size (10,000). */
  readonly bufferSize?: number;
  /** --audit-webhook-batch-max-size (400). */
  readonly maxBatchSize?: number;
  /** --audit-webhook-batch-max-wait (30 s). */
  readonly maxBatchWaitMs?: number;
  /** --audit-webhook-batch-throttle-qps / -burst (10 / 15). */
  readonly throttleQps?: number;
  readonly throttleBurst?: number;
  /** The webhook client's request timeout (30 s). */
  readonly requestTimeoutMs?: number;
  /** --audit-webhook-initial-backoff (10 s); then × 1.5 with jitter 0.2, `backoffSteps` attempts in all. */
  readonly initialBackoffMs?: number;
  readonly backoffSteps?: number;
  readonly apiVersion?: string;
}

export interface AuditAttempt {
  readonly status: number;
  readonly retryAfter: string | undefined;
  /** Error code when there was no HTTP answer. */
  readonly error: string | undefined;
  readonly events: number;
  readonly at: number;
}

/** `DefaultShouldRetry`: a connection reset, 500, 504, 429, or an answer suggesting a client delay (`Retry-After`). */
export function apiserverShouldRetry(a: { status: number; retryAfter?: string | undefined; error?: string | undefined }): boolean {
  if (a.error !== undefined) return a.error === 'ECONNRESET' || a.error === 'EPIPE';
  if (a.status === 500 || a.status === 504 || a.status === 429) return true;
  return a.retryAfter !== undefined && Number(a.retryAfter) >= 1;
}

export class AuditWebhookSender {
  /** Events in batches answered 2xx: what the apiserver believes was delivered. */
  readonly delivered: Array<Record<string, unknown>> = [];
  /** Events dropped because the buffer was full when they were produced. */
  droppedBuffer = 0;
  /** Events of batches given up on (non-retriable answer, or attempts exhausted). */
  readonly droppedBatches: Array<{ readonly events: number; readonly reason: string }> = [];
  readonly attempts: AuditAttempt[] = [];
  private readonly o: Required<Omit<AuditWebhookSenderOptions, 'bearerToken' | 'tls'>> & Pick<AuditWebhookSenderOptions, 'bearerToken' | 'tls'>;
  private readonly url: URL;
  private readonly agent: http.Agent;
  private buffer: Array<Record<string, unknown>> = [];
  private tokens: number;
  private lastRefill = Date.now();
  private readonly inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private idleWaiters: Array<() => void> = [];

  constructor(opts: AuditWebhookSenderOptions) {
    this.o = {
      bufferSize: 10_000,
      maxBatchSize: 400,
      maxBatchWaitMs: 30_000,
      throttleQps: 10,
      throttleBurst: 15,
      requestTimeoutMs: 30_000,
      initialBackoffMs: 10_000,
      backoffSteps: 5,
      apiVersion: 'audit.k8s.io/v1',
      ...opts,
    };
    this.url = new URL(opts.url);
    this.tokens = this.o.throttleBurst;
    this.agent = new (this.url.protocol === 'https:' ? https.Agent : http.Agent)({ keepAlive: true });
  }

  /** Audit events produced by the apiserver; those that do not fit in the buffer are dropped (and counted). */
  enqueue(...events: Array<Record<string, unknown>>): void {
    for (const ev of events) {
      if (this.buffer.length >= this.o.bufferSize) this.droppedBuffer++;
      else this.buffer.push(ev);
    }
    this.schedule();
  }

  /** Resolves once the buffer is empty and no batch is in flight (delivered or given up). */
  flush(): Promise<void> {
    if (this.buffer.length === 0 && this.inFlight.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  close(): void {
    clearTimeout(this.timer);
    this.agent.destroy();
  }

  private schedule(): void {
    if (this.timer !== undefined || this.buffer.length === 0) return;
    // A full batch goes at once (throttle permitting); a partial one after the batch wait.
    const wait = this.buffer.length >= this.o.maxBatchSize ? this.throttleDelay() : Math.max(this.o.maxBatchWaitMs, this.throttleDelay());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.cut();
    }, wait);
  }

  private throttleDelay(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.o.throttleQps) * 1000);
  }

  private refill(): void {
    const now = Date.now();
    this.tokens = Math.min(this.o.throttleBurst, this.tokens + ((now - this.lastRefill) / 1000) * this.o.throttleQps);
    this.lastRefill = now;
  }

  private cut(): void {
    this.refill();
    if (this.tokens < 1) return this.schedule();
    this.tokens -= 1;
    const batch = this.buffer.slice(0, this.o.maxBatchSize);
    this.buffer = this.buffer.slice(batch.length);
    const p: Promise<void> = this.deliver(batch).finally(() => {
      this.inFlight.delete(p);
      this.settle();
    });
    this.inFlight.add(p);
    this.schedule();
  }

  private settle(): void {
    if (this.buffer.length > 0 || this.inFlight.size > 0) return;
    const ws = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of ws) w();
  }

  /** One batch with the webhook's retry: `backoffSteps` attempts, waits of initial × 1.5^i ± 20 %. */
  private async deliver(events: Array<Record<string, unknown>>): Promise<void> {
    const body = Buffer.from(JSON.stringify({ kind: 'EventList', apiVersion: this.o.apiVersion, metadata: {}, items: events }));
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, */*', 'user-agent': 'kube-apiserver-admission' };
    if (this.o.bearerToken !== undefined) headers.authorization = `Bearer ${this.o.bearerToken}`;
    let delay = this.o.initialBackoffMs;
    for (let attempt = 1; ; attempt++) {
      let a: AuditAttempt;
      try {
        const r = await post(this.url, body, headers, this.o.tls, this.o.requestTimeoutMs, this.agent);
        const ra = r.headers['retry-after'];
        a = { status: r.status, retryAfter: Array.isArray(ra) ? ra[0] : ra, error: undefined, events: events.length, at: Date.now() };
      } catch (e) {
        a = { status: 0, retryAfter: undefined, error: (e as NodeJS.ErrnoException).code ?? (e as Error).message, events: events.length, at: Date.now() };
      }
      this.attempts.push(a);
      if (a.status >= 200 && a.status < 300) {
        this.delivered.push(...events);
        return;
      }
      if (!apiserverShouldRetry(a)) {
        this.droppedBatches.push({ events: events.length, reason: a.error ?? `HTTP ${a.status}${a.retryAfter === undefined ? '' : ` (Retry-After ${a.retryAfter})`}: not retried` });
        return;
      }
      if (attempt >= this.o.backoffSteps) {
        this.droppedBatches.push({ events: events.length, reason: `gave up after ${attempt} attempts` });
        return;
      }
      const jittered = delay + Math.random() * 0.2 * delay;
      await new Promise((r) => setTimeout(r, jittered));
      delay *= 1.5;
    }
  }
}
