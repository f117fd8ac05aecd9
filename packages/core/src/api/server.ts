/**
 * tern's HTTP API, on `api.address` (off unless the pipeline sets `api`; loopback unless told
 * otherwise). What the kubelet, Prometheus, `tern tap` and `tern top` talk to:
 *
 * | route | answer |
 * |---|---|
 * | `GET /healthz` | 200 while the process is alive and its event loop is not stuck (a heartbeat older than `STUCK_MS` answers 503) |
 * | `GET /readyz` | 200 once the configuration runs and every sink passed its healthcheck or buffers on disk; 503 with the reasons otherwise |
 * | `GET /metrics` | Prometheus text (telemetry/metrics.ts) |
 * | `GET /api/components` | every component's counters, sink health and buffer fill, the in-flight budget (JSON, for `tern top`) |
 * | `GET /api/tap?component=id[&rate=N][&filter=CEL][&limit=N]` | the events leaving a component, as NDJSON lines, at most `rate` per second |
 *
 * `/api/*` answers only connections from loopback (`kubectl port-forward` arrives there, inside the
 * pod's network namespace): the probes and Prometheus need the API on every interface of the pod, but
 * the events a tap shows are the security telemetry itself, which the rest of the cluster network must
 * not read. The API has no authentication otherwise.
 *
 * The tap is a stream (rxjs): the router hands it each batch synchronously, the tap takes what its
 * rate allows and the filter accepts, serialises those at once (a later stage may change the shared
 * events), and the stream writes them out in small groups; a client that reads slower than events
 * come gets a line saying how many were skipped instead of growing memory. Nothing of this runs on
 * the data path unless a tap is attached.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { bufferTime, filter as rxFilter, Subject, type Subscription } from 'rxjs';
import type { EventData, LogEvent } from '../event/event.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { ComponentView } from '../topology/pipeline.ts';
import type { TapListener } from '../topology/router.ts';

/** A heartbeat older than this means the event loop was stuck: /healthz answers 503. */
export const STUCK_MS = 5000;

/** What a tap says about events its filter could not be evaluated on. */
export const FILTER_ERROR_REASON = 'the filter could not be evaluated on them (a field it reads is missing, or a type mismatch: guard with has(event.x), and JSON numbers are doubles, so use 2.0 or int(event.n) in arithmetic)';
const BEAT_MS = 250;

/** What the API needs of the running pipeline (a `Pipeline` fits; it may be replaced, e.g. before start). */
export interface ApiTarget {
  components(): ComponentView[];
  readiness(): string[];
  tapKeys(id: string): string[] | undefined;
  tap(keys: readonly string[], listener: TapListener): () => void;
  readonly budget: { readonly events: number; readonly bytes: number; readonly maxEvents: number; readonly maxBytes: number };
}

export interface ApiOptions {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly target: () => ApiTarget | undefined;
  /**
   * Compiles a tap filter (CEL over `event`); throws with a message for a bad expression. The
   * compiled test answers undefined for an event it could not be evaluated on (a field it reads is
   * missing, a type mismatch): such events are not shown, and the tap says how many there were.
   */
  readonly compileFilter?: (source: string) => (data: EventData) => boolean | undefined;
  readonly version?: string;
}

/** True for 127.0.0.0/8, ::1 and their IPv4-mapped IPv6 forms. */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || /^127\.\d+\.\d+\.\d+$/.test(a);
}

/** `host:port`, `[v6]:port`, or `:port` (loopback). */
export function parseAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address);
  if (m === null) throw new Error(`api.address "${address}" is not host:port`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port: Number(m[3]) };
}

export class ApiServer {
  private readonly o: ApiOptions;
  private server: Server | undefined;
  private beat = Date.now();
  private beatTimer: NodeJS.Timeout | undefined;
  private readonly started = Date.now();
  private readonly taps = new Set<() => void>();

  constructor(opts: ApiOptions) {
    this.o = opts;
  }

  /** Listens; resolves with the bound address (port 0 picks one). */
  async listen(address: string): Promise<{ host: string; port: number; url: string }> {
    const { host, port } = parseAddress(address);
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.o.logger.warn({ err, url: req.url }, 'API request failed');
        if (!res.headersSent) this.json(res, 500, { error: (err as Error).message });
        else res.end();
      });
    });
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => reject(new Error(`cannot listen on ${address} for the API: ${e.code ?? e.message}`, { cause: e })));
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    this.beat = Date.now();
    this.beatTimer = setInterval(() => (this.beat = Date.now()), BEAT_MS).unref();
    const a = server.address() as AddressInfo;
    const shown = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return { host: a.address, port: a.port, url: `http://${shown}:${a.port}` };
  }

  /** Ends taps and connections; resolves when the server closed. */
  async close(): Promise<void> {
    if (this.beatTimer) clearInterval(this.beatTimer);
    for (const end of [...this.taps]) end();
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
    res.end(text);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://tern');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return this.json(res, 405, { error: 'only GET' });
    }
    if (url.pathname.startsWith('/api/') && !isLoopback(req.socket.remoteAddress)) {
      return this.json(res, 403, { error: `${url.pathname} answers loopback connections only (kubectl port-forward, or tern tap/top on the node); /healthz, /readyz and /metrics answer everyone` });
    }
    switch (url.pathname) {
      case '/healthz': {
        const lag = Date.now() - this.beat;
        // The heartbeat runs every BEAT_MS: a much older one means the loop did not turn for that long.
        if (lag > STUCK_MS) return this.json(res, 503, { status: 'stuck', event_loop_blocked_ms: lag });
        return this.json(res, 200, { status: 'ok', uptime_seconds: Math.round((Date.now() - this.started) / 1000) });
      }
      case '/readyz': {
        const t = this.o.target();
        const reasons = t === undefined ? ['configuration not loaded yet'] : t.readiness();
        return this.json(res, reasons.length === 0 ? 200 : 503, { ready: reasons.length === 0, ...(reasons.length ? { reasons } : {}) });
      }
      case '/metrics': {
        const text = await this.o.metrics.text();
        res.writeHead(200, { 'content-type': this.o.metrics.contentType });
        res.end(text);
        return;
      }
      case '/api/components': {
        const t = this.o.target();
        if (t === undefined) return this.json(res, 503, { error: 'configuration not loaded yet' });
        const b = t.budget;
        return this.json(res, 200, { version: this.o.version, time: Date.now(), components: t.components(), in_flight: { events: b.events, bytes: b.bytes, max_events: b.maxEvents, max_bytes: b.maxBytes } });
      }
      case '/api/tap':
        return this.tap(url, req, res);
      default:
        return this.json(res, 404, { error: `no route ${url.pathname}; see /healthz, /readyz, /metrics, /api/components, /api/tap` });
    }
  }

  private tap(url: URL, req: IncomingMessage, res: ServerResponse): void {
    const t = this.o.target();
    const id = url.searchParams.get('component') ?? '';
    if (t === undefined) return this.json(res, 503, { error: 'configuration not loaded yet' });
    const keys = t.tapKeys(id);
    if (keys === undefined) return this.json(res, 404, { error: `no component "${id}"; running: ${t.components().map((c) => c.id).join(', ')}` });
    const rate = Number(url.searchParams.get('rate') ?? '10');
    const limit = Number(url.searchParams.get('limit') ?? '0');
    if (!(rate > 0) || !(limit >= 0)) return this.json(res, 400, { error: 'rate must be > 0 and limit >= 0' });
    let test: ((data: EventData) => boolean | undefined) | undefined;
    const filterSource = url.searchParams.get('filter');
    if (filterSource) {
      if (!this.o.compileFilter) return this.json(res, 400, { error: 'this tern cannot compile tap filters' });
      try {
        test = this.o.compileFilter(filterSource);
      } catch (e) {
        return this.json(res, 400, { error: `filter: ${(e as Error).message}` });
      }
    }

    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    res.write(`${JSON.stringify({ tap: id, outputs: keys, rate })}\n`);
    const lines$ = new Subject<string>();
    // Token bucket: `rate` events a second, bursts up to one second's worth.
    let tokens = rate;
    let last = Date.now();
    let skipped = 0;
    let filterErrors = 0;
    let skipReported = 0;
    let sent = 0;
    let writable = true;
    const listener: TapListener = (key, events: readonly LogEvent[]) => {
      const now = Date.now();
      tokens = Math.min(rate, tokens + ((now - last) / 1000) * rate);
      last = now;
      for (const ev of events) {
        if (test !== undefined) {
          let ok: boolean | undefined;
          try {
            ok = test(ev.data);
          } catch {
            ok = undefined;
          }
          if (ok === undefined) filterErrors++;
          if (ok !== true) continue;
        }
        if (tokens < 1 || !writable) {
          skipped++;
          continue;
        }
        tokens--;
        // Serialised now: a later stage may change this (shared) event.
        lines$.next(`{"component":${JSON.stringify(id)},"output":${JSON.stringify(key)},"event":${ev.toJson()}}`);
      }
    };
    const detach = t.tap(keys, listener);
    let sub: Subscription | undefined;
    const end = (): void => {
      if (!this.taps.delete(end)) return;
      detach();
      sub?.unsubscribe();
      lines$.complete();
      res.end();
    };
    this.taps.add(end);
    sub = lines$
      .pipe(
        bufferTime(100),
        rxFilter((batch) => batch.length > 0 || ((skipped > 0 || filterErrors > 0) && Date.now() - skipReported >= 1000)),
      )
      .subscribe((batch) => {
        let out = '';
        for (const l of limit > 0 ? batch.slice(0, limit - sent) : batch) {
          out += `${l}\n`;
          sent++;
        }
        // At most one "skipped" line and one "filter errors" line a second, however busy the component.
        if ((skipped > 0 || filterErrors > 0) && Date.now() - skipReported >= 1000) {
          if (skipped > 0) out += `${JSON.stringify({ skipped, reason: 'rate limit or slow reader' })}\n`;
          // A filter that fails on every event would otherwise look like a quiet component.
          if (filterErrors > 0) out += `${JSON.stringify({ filter_errors: filterErrors, reason: FILTER_ERROR_REASON })}\n`;
          skipped = 0;
          filterErrors = 0;
          skipReported = Date.now();
        }
        if (out) writable = res.write(out);
        if (!writable) res.once('drain', () => (writable = true));
        if (limit > 0 && sent >= limit) end();
      });
    req.on('close', end);
    res.on('close', end);
  }
}
