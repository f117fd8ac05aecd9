/**
 * The delivery driver: the `Sink` every network sink returns, built around the sink's protocol code.
 *
 * Flow: `accept` → open batch per partition (flushed by `max_events`, `max_bytes` or `timeout_ms`)
 * → queue of jobs → up to `concurrency` delivery loops, each of which encodes, compresses, sends,
 * and acts on the `SendResult` (settle, retry after backoff, resend a subset, split, pause).
 *
 * Acknowledgement bookkeeping is per accepted batch (a `Ticket`: its `AckGroup` and how many of its
 * events are still unsettled) and per job (run-length `Span`s of tickets in event order), so a
 * batch split across partitions, requests and retries is released exactly once, when its last event
 * settles, without any per-event allocation or promise. Events are never dropped and never acked
 * before the server took them: only `permanent`, a lone `too_large` event, item rejections and an
 * exceeded `retry_max_duration_ms` release acks as `rejected`. At a stop deadline, unsettled events
 * keep their acks unreleased so sources re-read them after a restart.
 */
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import type { Logger } from 'pino';
import { TernError, isTernError, type ErrorCode } from '../errors.ts';
import type { AckGroup } from '../event/ack.ts';
import type { Batch } from '../event/batch.ts';
import type { LogEvent } from '../event/event.ts';
import type { Sink } from '../plugin/types.ts';
import type { ComponentTelemetry, Counter } from '../telemetry/telemetry.ts';
import { LogLimiter } from './log-limit.ts';
import { backoffDelay, type BackoffPolicy } from './retry.ts';
import { DEFAULT_BATCH, DEFAULT_REQUEST, type BatchDefaults, type RequestDefaults } from './schemas.ts';
import type { Clock, Compression, DeliveryOptions, EncodedRequest, Payload, SendResult, SinkProtocol } from './types.ts';

const gzip = promisify(gzipCb);

/**
 * Level 1 (as Filebeat's Elasticsearch output): half the CPU of the default level 6 for about 20%
 * more bytes on Tetragon JSON (0.22 vs 0.18 of the raw size, measured); a node forwarder is CPU-bound
 * long before an in-cluster network is. 256 KiB output chunks: one thread-pool round trip per
 * ~1 MB of input instead of dozens.
 */
const GZIP_OPTIONS = { level: 1, chunkSize: 1 << 18 };

/** What the driver needs of the component context (a `ComponentContext` fits). */
export interface DeliveryContext {
  readonly id: string;
  readonly type?: string;
  readonly logger: Logger;
  readonly telemetry: ComponentTelemetry;
}

/** Injectable dependencies and per-sink defaults. */
export interface DeliveryDeps {
  readonly clock?: Clock;
  /** Uniform [0, 1) source for jitter. */
  readonly random?: () => number;
  /** The sink's own defaults, the same ones its schema documents (see `batchSchema`). */
  readonly defaults?: { readonly batch?: Partial<BatchDefaults>; readonly request?: Partial<RequestDefaults>; readonly compression?: Compression };
}

export interface ResolvedDelivery {
  readonly batch: BatchDefaults;
  readonly request: RequestDefaults & { readonly headers: Readonly<Record<string, string>> };
  readonly compression: Compression;
  readonly healthcheck: boolean;
}

/** Applies defaults to delivery options (the sink's own over the kit's). */
export function resolveDelivery(opts: DeliveryOptions, defaults: DeliveryDeps['defaults'] = {}): ResolvedDelivery {
  const batch = { ...DEFAULT_BATCH, ...defaults.batch, ...stripUndefined(opts.batch ?? {}) } as BatchDefaults;
  const request = { ...DEFAULT_REQUEST, headers: {}, ...defaults.request, ...stripUndefined(opts.request ?? {}) } as ResolvedDelivery['request'];
  return Object.freeze({
    batch: Object.freeze(batch),
    request: Object.freeze(request),
    compression: opts.compression ?? defaults.compression ?? 'gzip',
    healthcheck: opts.healthcheck ?? true,
  });
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as Partial<T>;
}

/** The real clock; looks the globals up at call time so `mock.timers` works too. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** One accepted batch: the engine's reference on its group, released when `remaining` reaches 0. */
interface Ticket {
  readonly ack: AckGroup;
  remaining: number;
  rejected: boolean;
}

/** `count` consecutive events of a job belong to `ticket`. */
interface Span {
  readonly ticket: Ticket;
  count: number;
}

interface OpenBatch {
  events: LogEvent[];
  spans: Span[];
  bytes: number;
  timer: unknown;
}

/** One request's worth of events, carried through its retries. */
interface Job {
  readonly partition: string;
  events: LogEvent[];
  spans: Span[];
  attempt: number;
  /** When the first failure of this job happened (for `retry_max_duration_ms`), or -1. */
  failingSince: number;
}

type Outcome = SendResult | { readonly kind: 'pause'; readonly code: ErrorCode; readonly reason: string; readonly err: unknown };

/** Snapshot of the driver's state, for tests and diagnostics. */
export interface DeliveryState {
  /** Accepted events not yet delivered or rejected. */
  readonly outstanding: number;
  readonly queued: number;
  readonly inflight: number;
  readonly healthy: boolean;
  readonly paused: boolean;
}

const OK = 0;
const RETRY = 1;
const REJECT = 2;

export class DeliverySink<R extends EncodedRequest = EncodedRequest> implements Sink {
  readonly options: ResolvedDelivery;
  private readonly protocol: SinkProtocol<R>;
  private readonly ctx: DeliveryContext;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly limiter: LogLimiter;
  private readonly policy: BackoffPolicy;
  private readonly estimate: (ev: LogEvent) => number;
  private readonly c: Record<'in' | 'delivered' | 'rejected' | 'duplicate' | 'requests' | 'retries' | 'bytes', Counter>;

  private readonly open = new Map<string, OpenBatch>();
  private readonly queue: Job[] = [];
  private readonly running = new Set<Promise<void>>();
  private readonly sleeps = new Set<() => void>();
  private idleWaiters: Array<() => void> = [];
  private outstanding = 0;
  private healthy = true;
  private pausedCode: ErrorCode | undefined;
  private stopping = false;
  private aborted = false;
  private readonly abort = new AbortController();
  private stopPromise: Promise<void> | undefined;
  private health: Promise<void> | undefined;
  private warnedLate = false;

  constructor(protocol: SinkProtocol<R>, options: DeliveryOptions, ctx: DeliveryContext, deps: DeliveryDeps = {}) {
    this.protocol = protocol;
    this.ctx = ctx;
    this.options = resolveDelivery(options, deps.defaults);
    this.clock = deps.clock ?? systemClock;
    this.random = deps.random ?? Math.random;
    this.limiter = new LogLimiter(ctx.logger, 10_000, () => this.clock.now());
    this.policy = { initialMs: this.options.request.retry_initial_ms, maxMs: this.options.request.retry_max_ms };
    this.estimate = protocol.estimate ? protocol.estimate.bind(protocol) : (ev) => ev.size + 1;
    const t = ctx.telemetry;
    this.c = {
      in: t.counter('events_in'),
      delivered: t.counter('events_delivered'),
      rejected: t.counter('events_rejected'),
      duplicate: t.counter('events_duplicate'),
      requests: t.counter('requests'),
      retries: t.counter('retries'),
      bytes: t.counter('bytes_sent'),
    };
  }

  get state(): DeliveryState {
    return { outstanding: this.outstanding, queued: this.queue.length, inflight: this.running.size, healthy: this.healthy, paused: this.pausedCode !== undefined };
  }

  /** Starts the healthcheck in the background (if the sink has one and it is enabled); never blocks. */
  start(): void {
    if (!this.options.healthcheck || !this.protocol.healthcheck || this.stopping) return;
    this.healthy = false;
    this.health = this.healthLoop().catch((err: unknown) => this.ctx.logger.error({ err }, 'healthcheck loop failed (bug)'));
  }

  accept(batch: Batch): void {
    const n = batch.events.length;
    this.c.in.inc(n);
    if (n === 0) {
      batch.ack.release('delivered');
      return;
    }
    if (this.stopPromise !== undefined && this.aborted) {
      // The engine stopped us already; keeping the events unreleased makes sources re-read them.
      if (!this.warnedLate) this.ctx.logger.warn({ events: n }, 'sink received events after it stopped; they are not delivered and will be re-read');
      this.warnedLate = true;
      return;
    }
    const ticket: Ticket = { ack: batch.ack, remaining: n, rejected: false };
    this.outstanding += n;
    const { max_events, max_bytes } = this.options.batch;
    const partition = this.protocol.partition?.bind(this.protocol);
    for (const ev of batch.events) {
      const key = partition ? this.partitionOf(partition, ev) : '';
      const size = this.estimate(ev);
      let ob = this.open.get(key);
      // Flush before the event that would cross max_bytes, so a request stays under the limit as
      // encoded instead of going over and being split in two after encoding.
      if (ob !== undefined && ob.events.length > 0 && ob.bytes + size > max_bytes) {
        this.flush(key);
        ob = undefined;
      }
      if (ob === undefined) {
        ob = { events: [], spans: [], bytes: 0, timer: undefined };
        this.open.set(key, ob);
        const k = key;
        ob.timer = this.clock.setTimeout(() => this.flush(k), this.options.batch.timeout_ms);
      }
      ob.events.push(ev);
      const last = ob.spans[ob.spans.length - 1];
      if (last !== undefined && last.ticket === ticket) last.count++;
      else ob.spans.push({ ticket, count: 1 });
      ob.bytes += size;
      if (ob.events.length >= max_events || ob.bytes >= max_bytes) this.flush(key);
    }
    if (this.stopping) this.flushAll();
  }

  /** A throwing partition function must not break a batch half-way through its acknowledgement bookkeeping. */
  private partitionOf(partition: (ev: LogEvent) => string, ev: LogEvent): string {
    try {
      return partition(ev);
    } catch (err) {
      this.limiter.log('warn', 'partition', { err }, 'partition key failed for an event; it goes to the default partition');
      return '';
    }
  }

  stop(deadline: AbortSignal): Promise<void> {
    this.stopPromise ??= this.doStop(deadline);
    return this.stopPromise;
  }

  // ---------------------------------------------------------------- batching

  private flush(key: string): void {
    const ob = this.open.get(key);
    if (ob === undefined) return;
    this.open.delete(key);
    if (ob.timer !== undefined) this.clock.clearTimeout(ob.timer);
    this.queue.push({ partition: key, events: ob.events, spans: ob.spans, attempt: 0, failingSince: -1 });
    this.pump();
  }

  private flushAll(): void {
    for (const key of [...this.open.keys()]) this.flush(key);
  }

  private pump(): void {
    if (this.aborted || !this.healthy) return;
    // While paused on refused credentials the running loops probe; new requests would only be refused too.
    if (this.pausedCode !== undefined) return;
    while (this.running.size < this.options.request.concurrency && this.queue.length > 0) {
      const job = this.queue.shift() as Job;
      this.track(this.deliver(job));
    }
  }

  private track(p: Promise<void>): void {
    this.running.add(p);
    p.catch((err: unknown) => this.ctx.logger.error({ err }, 'sink delivery loop failed (bug); events stay unacknowledged'))
      .finally(() => {
        this.running.delete(p);
        this.pump();
      });
  }

  // ---------------------------------------------------------------- delivery

  private async deliver(job: Job): Promise<void> {
    const { max_bytes } = this.options.batch;
    for (;;) {
      if (this.aborted) return;
      let req: R;
      try {
        req = this.protocol.encode(job.events, job.partition);
      } catch (err) {
        this.settleAll(job, REJECT, `encoding failed: ${errMessage(err)}`);
        return;
      }
      const rawBytes = typeof req.body === 'string' ? Buffer.byteLength(req.body) : req.body.length;
      if (rawBytes > max_bytes && job.events.length > 1) {
        // The estimate was low (events grew in encoding): split now rather than send over the limit.
        this.split(job);
        return;
      }
      const payload = await this.compress(req.body, rawBytes);
      if (this.aborted) return;

      this.c.requests.inc();
      this.c.bytes.inc(payload.wireBytes);
      const outcome = await this.sendOnce(req, payload);
      if (outcome === undefined) return; // aborted by the stop deadline: leave unsettled
      if (outcome.kind !== 'auth' && outcome.kind !== 'pause' && outcome.kind !== 'unsupported' && this.pausedCode !== undefined) this.resume();

      let delay: number;
      switch (outcome.kind) {
        case 'ok':
          if (outcome.duplicates) this.c.duplicate.inc(outcome.duplicates);
          this.settleAll(job, OK);
          return;
        case 'permanent':
          this.settleAll(job, REJECT, outcome.reason);
          return;
        case 'too_large':
          if (job.events.length === 1) {
            this.settleAll(job, REJECT, `event too large for the destination${outcome.reason ? `: ${outcome.reason}` : ''}`);
          } else this.split(job);
          return;
        case 'retry_items': {
          if (outcome.duplicates) this.c.duplicate.inc(outcome.duplicates);
          this.settleItems(job, outcome.indices, outcome.rejected ?? []);
          if (job.events.length === 0) return;
          if (this.givingUp(job)) {
            this.settleAll(job, REJECT, `still failing after retry_max_duration_ms: ${outcome.reason}`);
            return;
          }
          this.limiter.log('warn', 'retry_items', { events: job.events.length, reason: outcome.reason }, 'destination refused some events for now; resending them');
          delay = backoffDelay(this.policy, job.attempt++, this.random, outcome.afterMs);
          break;
        }
        case 'retry':
          if (this.givingUp(job)) {
            this.settleAll(job, REJECT, `still failing after retry_max_duration_ms: ${outcome.reason}`);
            return;
          }
          this.limiter.log('warn', 'retry', { events: job.events.length, reason: outcome.reason, attempt: job.attempt + 1 }, 'request failed; retrying');
          delay = backoffDelay(this.policy, job.attempt++, this.random, outcome.afterMs);
          break;
        case 'auth':
          this.pause('TERN_ERR_SINK_AUTH', `credentials refused (HTTP ${outcome.status}): ${outcome.reason}`, undefined, outcome.status);
          delay = this.options.request.retry_max_ms;
          break;
        case 'unsupported':
          this.pause('TERN_ERR_SINK_UNSUPPORTED', outcome.reason);
          delay = this.options.request.retry_max_ms;
          break;
        case 'pause':
          this.pause(outcome.code, outcome.reason, outcome.err);
          delay = this.options.request.retry_max_ms;
          break;
      }
      this.c.retries.inc();
      await this.sleep(delay);
    }
  }

  /** One send with the request timeout; undefined when the stop deadline aborted it. */
  private async sendOnce(req: R, payload: Payload): Promise<Outcome | undefined> {
    const ac = new AbortController();
    const timeoutMs = this.options.request.timeout_ms;
    const timer = this.clock.setTimeout(() => ac.abort(new Error(`request timed out after ${timeoutMs} ms`)), timeoutMs);
    const onStop = (): void => ac.abort(this.abort.signal.reason);
    this.abort.signal.addEventListener('abort', onStop, { once: true });
    try {
      return await this.protocol.send(req, payload, ac.signal);
    } catch (err) {
      if (this.aborted) return undefined;
      if (isTernError(err) && (err.code === 'TERN_ERR_SINK_AUTH' || err.code === 'TERN_ERR_SINK_UNSUPPORTED')) {
        return { kind: 'pause', code: err.code, reason: err.message, err };
      }
      const reason = ac.signal.aborted ? errMessage(ac.signal.reason) : errMessage(err);
      return { kind: 'retry', reason };
    } finally {
      this.clock.clearTimeout(timer);
      this.abort.signal.removeEventListener('abort', onStop);
    }
  }

  private async compress(body: string | Buffer, rawBytes: number): Promise<Payload> {
    if (this.options.compression !== 'gzip') return { body, encoding: 'identity', rawBytes, wireBytes: rawBytes };
    // zlib.gzip runs on the libuv thread pool: the event loop keeps reading while a batch compresses.
    const z = await gzip(body, GZIP_OPTIONS);
    return { body: z, encoding: 'gzip', rawBytes, wireBytes: z.length };
  }

  private givingUp(job: Job): boolean {
    const now = this.clock.now();
    if (job.failingSince < 0) job.failingSince = now;
    const max = this.options.request.retry_max_duration_ms;
    return max > 0 && now - job.failingSince >= max;
  }

  private split(job: Job): void {
    const mid = job.events.length >>> 1;
    const [a, b] = splitSpans(job.spans, mid);
    const left: Job = { partition: job.partition, events: job.events.slice(0, mid), spans: a, attempt: 0, failingSince: -1 };
    const right: Job = { partition: job.partition, events: job.events.slice(mid), spans: b, attempt: 0, failingSince: -1 };
    // To the front: these events were accepted earlier than whatever waits in the queue.
    this.queue.unshift(left, right);
  }

  // ---------------------------------------------------------------- pausing and health

  private pause(code: ErrorCode, reason: string, err?: unknown, status?: number): void {
    if (this.pausedCode !== undefined) return;
    this.pausedCode = code;
    const e = err ?? new TernError(code, reason);
    this.ctx.logger.error(
      { err: e, code, sink: this.ctx.id, ...(this.ctx.type ? { type: this.ctx.type } : {}), ...(status !== undefined ? { status } : {}), retry_every_ms: this.options.request.retry_max_ms, outstanding: this.outstanding },
      `sink ${this.ctx.id} paused: ${reason}; events are kept and retried`,
    );
  }

  private resume(): void {
    this.ctx.logger.info({ code: this.pausedCode, sink: this.ctx.id }, `sink ${this.ctx.id} resumed`);
    this.pausedCode = undefined;
    this.pump();
  }

  private async healthLoop(): Promise<void> {
    const hc = this.protocol.healthcheck;
    if (!hc) return;
    let attempt = 0;
    let lastError = '';
    while (!this.aborted) {
      const ac = new AbortController();
      const timer = this.clock.setTimeout(() => ac.abort(new Error('healthcheck timed out')), this.options.request.timeout_ms);
      const onStop = (): void => ac.abort(this.abort.signal.reason);
      this.abort.signal.addEventListener('abort', onStop, { once: true });
      try {
        await hc.call(this.protocol, ac.signal);
        if (attempt > 0) this.ctx.logger.info({ sink: this.ctx.id }, 'healthcheck passed; sending buffered events');
        this.healthy = true;
        this.pump();
        return;
      } catch (err) {
        if (this.aborted) return;
        let delay: number;
        if (isTernError(err) && (err.code === 'TERN_ERR_SINK_UNSUPPORTED' || err.code === 'TERN_ERR_SINK_AUTH')) {
          // Loud once per distinct problem: this needs a human (wrong product, wrong credentials).
          if (err.message !== lastError) this.ctx.logger.error({ err, code: err.code, sink: this.ctx.id }, `sink ${this.ctx.id} healthcheck: ${err.message}; events are buffered`);
          lastError = err.message;
          delay = this.options.request.retry_max_ms;
        } else {
          this.limiter.log('warn', 'healthcheck', { err, attempt: attempt + 1 }, 'healthcheck failed; events are buffered until it passes');
          delay = backoffDelay(this.policy, attempt, this.random);
        }
        attempt++;
        await this.sleep(delay);
      } finally {
        this.clock.clearTimeout(timer);
        this.abort.signal.removeEventListener('abort', onStop);
      }
    }
  }

  // ---------------------------------------------------------------- settlement

  /** Settles every event of a job with one status. */
  private settleAll(job: Job, status: typeof OK | typeof REJECT, reason?: string): void {
    const n = job.events.length;
    if (status === REJECT) this.logRejected(n, reason ?? 'rejected');
    for (const s of job.spans) this.settle(s.ticket, s.count, status === REJECT);
    job.events = [];
    job.spans = [];
  }

  /** Settles a partial answer: `retry` indices stay in the job, `rejected` are rejected, the rest delivered. */
  private settleItems(job: Job, retry: readonly number[], rejected: readonly { index: number; reason: string }[]): void {
    const n = job.events.length;
    const mark = new Uint8Array(n);
    for (const i of retry) if (i >= 0 && i < n) mark[i] = RETRY;
    for (const r of rejected) if (r.index >= 0 && r.index < n) mark[r.index] = REJECT;
    let nRejected = 0;
    const events: LogEvent[] = [];
    const spans: Span[] = [];
    let i = 0;
    for (const s of job.spans) {
      let ok = 0;
      let bad = 0;
      for (let k = 0; k < s.count; k++, i++) {
        const m = mark[i];
        if (m === RETRY) {
          events.push(job.events[i] as LogEvent);
          const last = spans[spans.length - 1];
          if (last !== undefined && last.ticket === s.ticket) last.count++;
          else spans.push({ ticket: s.ticket, count: 1 });
        } else if (m === REJECT) bad++;
        else ok++;
      }
      if (bad > 0) this.settle(s.ticket, bad, true);
      if (ok > 0) this.settle(s.ticket, ok, false);
      nRejected += bad;
    }
    if (nRejected > 0) {
      const first = rejected[0];
      this.logRejected(nRejected, first?.reason ?? 'rejected');
    }
    job.events = events;
    job.spans = spans;
  }

  private settle(t: Ticket, count: number, rejected: boolean): void {
    if (rejected) {
      t.rejected = true;
      this.c.rejected.inc(count);
    } else this.c.delivered.inc(count);
    t.remaining -= count;
    if (t.remaining === 0) t.ack.release(t.rejected ? 'rejected' : 'delivered');
    this.outstanding -= count;
    if (this.outstanding === 0 && this.idleWaiters.length > 0) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const f of w) f();
    }
  }

  private logRejected(events: number, reason: string): void {
    // One line per kind of refusal and interval: `item status 400: document_parsing_exception`, not per event or per id.
    const kind = reason.split(':', 2).join(':').slice(0, 80);
    this.limiter.log('warn', `rejected:${kind}`, { events, reason }, 'destination refused events for good; they are counted as events_rejected');
  }

  // ---------------------------------------------------------------- timing and shutdown

  private sleep(ms: number): Promise<void> {
    if (this.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.sleeps.delete(done);
        this.clock.clearTimeout(h);
        resolve();
      };
      const h = this.clock.setTimeout(done, ms);
      this.sleeps.add(done);
    });
  }

  private async doStop(deadline: AbortSignal): Promise<void> {
    this.stopping = true;
    this.flushAll();
    if (this.outstanding > 0 && !deadline.aborted) {
      await new Promise<void>((resolve) => {
        const onAbort = (): void => resolve();
        deadline.addEventListener('abort', onAbort, { once: true });
        this.idleWaiters.push(() => {
          deadline.removeEventListener('abort', onAbort);
          resolve();
        });
      });
    }
    this.aborted = true;
    this.abort.abort(new Error('sink stopped'));
    for (const wake of [...this.sleeps]) wake();
    if (this.outstanding > 0) {
      this.ctx.logger.warn(
        { code: 'TERN_ERR_SHUTDOWN_TIMEOUT', sink: this.ctx.id, events: this.outstanding },
        'sink stop deadline reached with events undelivered; they will be read again after restart',
      );
    }
    for (const ob of this.open.values()) if (ob.timer !== undefined) this.clock.clearTimeout(ob.timer);
    // Loops end at once on the abort; a protocol that ignores its signal must not hold shutdown past the deadline.
    await withGrace(Promise.allSettled([...this.running, this.health]), STOP_GRACE_MS);
    try {
      await withGrace(this.protocol.close?.() ?? Promise.resolve(), STOP_GRACE_MS);
    } catch (err) {
      this.ctx.logger.warn({ err }, 'closing sink connections failed');
    }
  }
}

/** After the stop deadline: how long loops and `close()` get to finish before stop returns anyway. */
const STOP_GRACE_MS = 1000;

/** Resolves when `p` settles or after `ms` of real time, whichever first (the timer does not keep the process alive). */
function withGrace(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    t.unref();
    p.then(
      () => {
        clearTimeout(t);
        resolve();
      },
      (err: unknown) => {
        clearTimeout(t);
        reject(err as Error);
      },
    );
  });
}

/** Splits run-length spans at event position `at`. */
function splitSpans(spans: readonly Span[], at: number): [Span[], Span[]] {
  const a: Span[] = [];
  const b: Span[] = [];
  let pos = 0;
  for (const s of spans) {
    if (pos + s.count <= at) a.push({ ticket: s.ticket, count: s.count });
    else if (pos >= at) b.push({ ticket: s.ticket, count: s.count });
    else {
      a.push({ ticket: s.ticket, count: at - pos });
      b.push({ ticket: s.ticket, count: pos + s.count - at });
    }
    pos += s.count;
  }
  return [a, b];
}

function errMessage(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

/** Builds the `Sink` of a network sink from its protocol code and delivery options. */
export function createDeliverySink<R extends EncodedRequest>(protocol: SinkProtocol<R>, options: DeliveryOptions, ctx: DeliveryContext, deps?: DeliveryDeps): DeliverySink<R> {
  return new DeliverySink(protocol, options, ctx, deps);
}
