/**
 * The dispatcher: the last stage of a sink. It takes jobs from the buffer and runs up to
 * `concurrency` delivery loops, each of which encodes, compresses, sends with the request timeout,
 * and acts on the protocol's `SendResult`: settle, retry after backoff (or Retry-After), resend a
 * subset, split, pause on refused credentials, or refuse for good.
 *
 * Nothing is acknowledged before the server took it and nothing is dropped silently. A refused event
 * goes to the sink's dead-letter output when one is connected (its span is settled once the consumer
 * took it), else it is counted as rejected, logged once per reason with a sample, and the run does
 * not report success. Bad input costs only itself: an event that cannot be encoded is refused alone;
 * a request refused whole is first checked for malformed lines (resent as their tagged copy, the
 * sink's own), then split in halves until the refused events stand alone.
 *
 * Every wait ends: a retry limit (`retry_max_duration_ms`) also applies while the healthcheck fails
 * or the sink is paused, and the stop deadline aborts requests and sleeps in every state.
 *
 * Over 400 lines: the delivery loop, its timing, the healthcheck, pauses and the retry limit share one
 * state machine. (What happens to settled and refused events is in settlement.ts.)
 */
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import type { Logger } from 'pino';
import { TernError, isTernError, type ErrorCode } from '../errors.ts';
import type { DeadLetterInfo, DeadLetterOutput } from '../event/dead-letter.ts';
import type { LogEvent } from '../event/event.ts';
import { LATENCY_BUCKETS } from '../telemetry/metrics.ts';
import type { ComponentTelemetry, Counter, Histogram } from '../telemetry/telemetry.ts';
import { LogLimiter } from '../telemetry/log-limit.ts';
import { recycleBody } from './body.ts';
import type { Clock } from '../time/clock.ts';
import type { SinkBuffer } from '../buffer/types.ts';
import { partitionJob, splitSpans, type Job, type Span } from './job.ts';
import { REJECT, Settlement } from './settlement.ts';
import { backoffDelay, type BackoffPolicy } from './retry.ts';
import type { Compression, EncodedRequest, Payload, SendResult, SinkProtocol } from './types.ts';

const gzip = promisify(gzipCb);

/**
 * Level 1 (as Filebeat's Elasticsearch output): half the CPU of the default level 6 for about 20%
 * more bytes on Tetragon JSON (0.22 vs 0.18 of the raw size, measured); a node forwarder is CPU-bound
 * long before an in-cluster network is. 256 KiB output chunks: one thread-pool round trip per
 * ~1 MB of input instead of dozens.
 */
const GZIP_OPTIONS = { level: 1, chunkSize: 1 << 18 };

export interface DispatcherOptions {
  readonly concurrency: number;
  readonly timeout_ms: number;
  readonly retry_initial_ms: number;
  readonly retry_max_ms: number;
  readonly retry_max_duration_ms: number;
  readonly max_bytes: number;
  readonly compression: Compression;
}

export interface DispatcherContext {
  readonly id: string;
  readonly type?: string;
  readonly logger: Logger;
  readonly telemetry: ComponentTelemetry;
  readonly deadLetters?: DeadLetterOutput;
  readonly fatal?: (err: Error) => void;
}

type Pause = { readonly kind: 'pause'; readonly code: ErrorCode; readonly reason: string; readonly err: unknown };
type Outcome2 = SendResult | Pause;


export class Dispatcher<R extends EncodedRequest = EncodedRequest> {
  private readonly protocol: SinkProtocol<R>;
  private readonly o: DispatcherOptions;
  private readonly ctx: DispatcherContext;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly buffer: SinkBuffer;
  private readonly limiter: LogLimiter;
  private readonly policy: BackoffPolicy;
  private readonly c: Record<'delivered' | 'rejected' | 'deadLettered' | 'duplicate' | 'requests' | 'retries' | 'bytes' | 'encodeErrors', Counter>;
  private readonly latency: Histogram;
  private readonly settlement: Settlement;

  /** Jobs that go before the buffer's (split halves, resends): accepted earlier than what waits there. */
  private readonly front: Job[] = [];
  private readonly running = new Set<Promise<void>>();
  private readonly sleeps = new Set<() => void>();
  private taking = 0;
  private healthy = true;
  private unhealthySince = -1;
  private lastHealthError = '';
  private pausedCode: ErrorCode | undefined;
  private pausedSince = -1;
  private giveUpTimer: unknown;
  private aborted = false;
  private readonly abort = new AbortController();
  private health: Promise<void> | undefined;
  /** Events handed to the dead-letter output whose consumers did not answer yet. */
  /** Jobs sleeping before a resend (the sink's `retrying` state while > 0). */
  private retrying = 0;

  constructor(opts: {
    protocol: SinkProtocol<R>;
    options: DispatcherOptions;
    ctx: DispatcherContext;
    clock: Clock;
    random: () => number;
    buffer: SinkBuffer;
  }) {
    this.protocol = opts.protocol;
    this.o = opts.options;
    this.ctx = opts.ctx;
    this.clock = opts.clock;
    this.random = opts.random;
    this.buffer = opts.buffer;
    this.limiter = new LogLimiter(opts.ctx.logger, 10_000, opts.clock);
    this.policy = { initialMs: this.o.retry_initial_ms, maxMs: this.o.retry_max_ms };
    const t = opts.ctx.telemetry;
    this.c = {
      delivered: t.counter('events_delivered'),
      rejected: t.counter('events_rejected'),
      deadLettered: t.counter('events_dead_lettered'),
      duplicate: t.counter('events_duplicate'),
      requests: t.counter('requests'),
      retries: t.counter('retries'),
      bytes: t.counter('bytes_sent'),
      encodeErrors: t.counter('encode_errors'),
    };
    this.latency = t.histogram('request_duration_seconds', LATENCY_BUCKETS);
    this.settlement = new Settlement(opts.ctx, this.limiter, this.c, () => this.checkIdle());
  }

  get state(): { inflight: number; healthy: boolean; paused: boolean; front: number; retrying: number } {
    return { inflight: this.running.size, healthy: this.healthy, paused: this.pausedCode !== undefined, front: this.front.length, retrying: this.retrying };
  }

  /** True while requests, dead-letter hand-offs or split halves are outstanding. */
  get busy(): boolean {
    return this.running.size > 0 || this.front.length > 0 || this.settlement.pending > 0 || this.taking > 0;
  }

  /** Called whenever the dispatcher becomes idle (nothing running, in front, or dead-lettering). */
  onIdle: () => void = () => undefined;

  private checkIdle(): void {
    if (!this.busy) this.onIdle();
  }

  /** Starts the healthcheck in the background (if the sink has one and it is enabled); never blocks. */
  startHealthcheck(): void {
    if (!this.protocol.healthcheck || this.aborted) return;
    this.healthy = false;
    this.unhealthySince = this.clock.now();
    this.armGiveUp(this.unhealthySince);
    this.health = this.healthLoop().catch((err: unknown) => this.ctx.logger.error({ err }, 'healthcheck loop failed (bug)'));
  }

  // ---------------------------------------------------------------- scheduling

  /** Starts delivery loops while there are slots and jobs. */
  pump(): void {
    if (this.aborted) return;
    const unavailable = !this.healthy || this.pausedCode !== undefined;
    // While unhealthy or paused nothing new is sent (the running loops probe), unless the retry limit
    // ran out: then waiting jobs are refused so the limit holds in every state.
    if (unavailable && !this.unavailableTooLong()) return;
    while (this.running.size + this.taking < this.o.concurrency) {
      const job = this.front.shift();
      if (job !== undefined) {
        this.track(this.deliver(job));
        continue;
      }
      if (this.buffer.queued === 0) break;
      const next = this.buffer.take();
      if (next === undefined) break;
      if (next instanceof Promise) {
        this.taking++;
        const p = next.then(
          (j) => {
            this.taking--;
            if (j !== undefined) this.track(this.deliver(j));
            else this.checkIdle();
          },
          (err: unknown) => {
            this.taking--;
            this.ctx.logger.error({ err }, 'reading the buffer failed');
            this.checkIdle();
          },
        );
        void p.then(() => this.pump());
      } else this.track(this.deliver(next));
    }
  }

  private track(p: Promise<void>): void {
    this.running.add(p);
    p.catch((err: unknown) => this.ctx.logger.error({ err }, 'sink delivery loop failed (bug); events stay unacknowledged'))
      .finally(() => {
        this.running.delete(p);
        this.pump();
        this.checkIdle();
      });
  }

  // ---------------------------------------------------------------- delivery

  private async deliver(job: Job): Promise<void> {
    for (;;) {
      if (this.aborted) {
        this.front.unshift(job); // stays unsettled: counted as undelivered, re-read after a restart
        return;
      }
      if ((!this.healthy || this.pausedCode !== undefined) && this.unavailableTooLong()) {
        this.settlement.refuse(job, { reason: `destination unavailable for retry_max_duration_ms (${this.o.retry_max_duration_ms} ms): ${this.unavailableReason()}` });
        return;
      }
      const req = this.encode(job);
      if (req === undefined) return; // every event failed to encode (refused)
      const rawBytes = typeof req.body === 'string' ? Buffer.byteLength(req.body) : req.body.length;
      if (rawBytes > this.o.max_bytes && job.events.length > 1) {
        // The estimate was low (events grew in encoding): split now rather than send over the limit.
        recycleBody(req.body);
        this.split(job);
        return;
      }
      const payload = await this.compress(req.body, rawBytes);
      if (this.aborted) {
        if (payload.body !== req.body) recycleBody(req.body);
        continue;
      }

      this.c.requests.inc();
      this.c.bytes.inc(payload.wireBytes);
      const outcome = await this.sendOnce(req, payload);
      // Compressed, the encoded body went to nobody's socket, and the request is over: every attempt
      // encodes afresh, so its memory can serve the next body. (Sent as it is, a body may still be in
      // a socket's queue when an answer arrives early; those are left to the garbage collector.)
      if (payload.body !== req.body) recycleBody(req.body);
      if (outcome === undefined) continue; // aborted by the stop deadline
      if (outcome.kind !== 'auth' && outcome.kind !== 'pause' && outcome.kind !== 'unsupported' && this.pausedCode !== undefined) this.resume();

      let delay: number;
      switch (outcome.kind) {
        case 'ok':
          if (outcome.duplicates) this.c.duplicate.inc(outcome.duplicates);
          this.settlement.deliverAll(job);
          return;
        case 'permanent':
          if (job.events.length > 1) {
            // A whole request refused: find the events that caused it instead of losing the rest.
            if (this.settlement.salvageMalformed(job)) {
              job.attempt = 0;
              continue;
            }
            this.limiter.log('warn', 'bisect', { events: job.events.length, reason: outcome.reason }, 'destination refused a whole request; splitting it to find the events it refuses');
            this.split(job);
            return;
          }
          if (this.settlement.salvageMalformed(job)) continue;
          this.settlement.refuse(job, { reason: outcome.reason, ...(outcome.status !== undefined ? { status: outcome.status } : {}), ...(outcome.answer !== undefined ? { answer: outcome.answer } : {}) });
          return;
        case 'too_large':
          if (job.events.length === 1) {
            this.settlement.refuse(job, { reason: `event too large for the destination${outcome.reason ? `: ${outcome.reason}` : ''}`, status: 413 });
          } else this.split(job);
          return;
        case 'retry_items': {
          if (outcome.duplicates) this.c.duplicate.inc(outcome.duplicates);
          this.settlement.settleItems(job, outcome.indices, outcome.rejected ?? []);
          if (job.events.length === 0) return;
          if (this.givingUp(job)) {
            this.settlement.refuse(job, { reason: `still failing after retry_max_duration_ms: ${outcome.reason}` });
            return;
          }
          this.limiter.log('warn', 'retry_items', { events: job.events.length, reason: outcome.reason }, 'destination refused some events for now; resending them');
          delay = backoffDelay(this.policy, job.attempt++, this.random, outcome.afterMs);
          break;
        }
        case 'retry':
          if (this.givingUp(job)) {
            this.settlement.refuse(job, { reason: `still failing after retry_max_duration_ms: ${outcome.reason}` });
            return;
          }
          this.limiter.log('warn', 'retry', { events: job.events.length, reason: outcome.reason, attempt: job.attempt + 1 }, 'request failed; retrying');
          delay = backoffDelay(this.policy, job.attempt++, this.random, outcome.afterMs);
          break;
        case 'auth':
        case 'unsupported':
        case 'pause': {
          const code = outcome.kind === 'auth' ? 'TERN_ERR_SINK_AUTH' : outcome.kind === 'unsupported' ? 'TERN_ERR_SINK_UNSUPPORTED' : outcome.code;
          const reason = outcome.kind === 'auth' ? `credentials refused (HTTP ${outcome.status}): ${outcome.reason}` : outcome.reason;
          this.pause(code, reason, outcome.kind === 'pause' ? outcome.err : undefined, outcome.kind === 'auth' ? outcome.status : undefined);
          if (this.givingUp(job)) {
            this.settlement.refuse(job, { reason: `still refused after retry_max_duration_ms: ${reason}` });
            return;
          }
          delay = this.o.retry_max_ms;
          break;
        }
      }
      this.c.retries.inc();
      this.retrying++;
      try {
        await this.sleep(delay);
      } finally {
        this.retrying--;
      }
    }
  }

  /**
   * Encodes a job. An encoding failure is isolated: each event is encoded alone, the ones that fail
   * are refused (dead letter), and the rest is encoded again. Undefined when nothing is left.
   */
  private encode(job: Job): R | undefined {
    try {
      return this.protocol.encode(job.events, job.partition);
    } catch (first) {
      const marks = new Uint8Array(job.events.length);
      const infos: DeadLetterInfo[] = [];
      for (let i = 0; i < job.events.length; i++) {
        try {
          this.protocol.encode([job.events[i] as LogEvent], job.partition);
        } catch (err) {
          marks[i] = REJECT;
          infos.push({ reason: `cannot encode the event: ${errMessage(err)}`, code: isTernError(err) ? err.code : 'TERN_ERR_EVENT_ENCODE' });
        }
      }
      const [keep, , bad] = partitionJob(job, marks) as [{ events: LogEvent[]; spans: Span[] }, unknown, { events: LogEvent[]; spans: Span[] }];
      if (bad.events.length === 0) {
        // The batch fails only as a whole (a protocol bug, not one event): refuse it rather than loop.
        this.c.encodeErrors.inc(job.events.length);
        this.settlement.refuse(job, { reason: `cannot encode the request: ${errMessage(first)}`, code: 'TERN_ERR_EVENT_ENCODE' });
        return undefined;
      }
      this.c.encodeErrors.inc(bad.events.length);
      this.settlement.refuseEvents(bad.events, bad.spans, infos);
      job.events = keep.events;
      job.spans = keep.spans;
      if (job.events.length === 0) return undefined;
      return this.encode(job);
    }
  }

  /** One send with the request timeout; undefined when the stop deadline aborted it. */
  private async sendOnce(req: R, payload: Payload): Promise<Outcome2 | undefined> {
    const ac = new AbortController();
    const timeoutMs = this.o.timeout_ms;
    const timer = this.clock.setTimeout(() => ac.abort(new Error(`request timed out after ${timeoutMs} ms`)), timeoutMs);
    const onStop = (): void => ac.abort(this.abort.signal.reason);
    this.abort.signal.addEventListener('abort', onStop, { once: true });
    const started = this.clock.now();
    try {
      const r = await this.protocol.send(req, payload, ac.signal);
      this.latency.observe((this.clock.now() - started) / 1000);
      return r;
    } catch (err) {
      if (!this.aborted) this.latency.observe((this.clock.now() - started) / 1000);
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
    if (this.o.compression !== 'gzip') return { body, encoding: 'identity', rawBytes, wireBytes: rawBytes };
    // zlib.gzip runs on the libuv thread pool: the event loop keeps reading while a batch compresses.
    const z = await gzip(body, GZIP_OPTIONS);
    return { body: z, encoding: 'gzip', rawBytes, wireBytes: z.length };
  }

  private givingUp(job: Job): boolean {
    const now = this.clock.now();
    if (job.failingSince < 0) job.failingSince = now;
    const max = this.o.retry_max_duration_ms;
    return max > 0 && now - job.failingSince >= max;
  }

  private split(job: Job): void {
    const mid = job.events.length >>> 1;
    const [a, b] = splitSpans(job.spans, mid);
    const left: Job = { partition: job.partition, events: job.events.slice(0, mid), spans: a, attempt: 0, failingSince: -1 };
    const right: Job = { partition: job.partition, events: job.events.slice(mid), spans: b, attempt: 0, failingSince: -1 };
    // To the front: these events were accepted earlier than whatever waits in the buffer.
    this.front.unshift(left, right);
  }

  // ---------------------------------------------------------------- pausing, health and give-up

  private pause(code: ErrorCode, reason: string, err?: unknown, status?: number): void {
    if (this.pausedCode !== undefined) return;
    this.pausedCode = code;
    this.pausedSince = this.clock.now();
    this.armGiveUp(this.pausedSince);
    const e = err ?? new TernError(code, reason);
    this.ctx.logger.error(
      { err: e, code, sink: this.ctx.id, ...(this.ctx.type ? { type: this.ctx.type } : {}), ...(status !== undefined ? { status } : {}), retry_every_ms: this.o.retry_max_ms },
      `sink ${this.ctx.id} paused: ${reason}; events are kept and retried`,
    );
    this.ctx.fatal?.(new TernError(code, `sink ${this.ctx.id}: ${reason}`));
  }

  private resume(): void {
    this.ctx.logger.info({ code: this.pausedCode, sink: this.ctx.id }, `sink ${this.ctx.id} resumed`);
    this.pausedCode = undefined;
    this.pausedSince = -1;
    this.pump();
  }

  private unavailableReason(): string {
    if (this.pausedCode !== undefined) return `paused (${this.pausedCode})`;
    return `healthcheck failing${this.lastHealthError ? `: ${this.lastHealthError}` : ''}`;
  }

  /** True when the sink has been unhealthy or paused for longer than `retry_max_duration_ms` (when set). */
  private unavailableTooLong(): boolean {
    const max = this.o.retry_max_duration_ms;
    if (max <= 0) return false;
    const since = this.pausedCode !== undefined ? this.pausedSince : !this.healthy ? this.unhealthySince : -1;
    return since >= 0 && this.clock.now() - since >= max;
  }

  /** Wakes the pump when the retry limit of an unavailable state runs out, so waiting jobs are refused on time. */
  private armGiveUp(since: number): void {
    const max = this.o.retry_max_duration_ms;
    if (max <= 0 || this.giveUpTimer !== undefined) return;
    this.giveUpTimer = this.clock.setTimeout(() => {
      this.giveUpTimer = undefined;
      this.pump();
      if (!this.healthy || this.pausedCode !== undefined) this.armGiveUp(this.clock.now() - max + Math.min(max, this.o.retry_max_ms));
    }, Math.max(0, since + max - this.clock.now()));
  }

  private async healthLoop(): Promise<void> {
    const hc = this.protocol.healthcheck;
    if (!hc) return;
    let attempt = 0;
    let lastError = '';
    while (!this.aborted) {
      const ac = new AbortController();
      const timer = this.clock.setTimeout(() => ac.abort(new Error('healthcheck timed out')), this.o.timeout_ms);
      const onStop = (): void => ac.abort(this.abort.signal.reason);
      this.abort.signal.addEventListener('abort', onStop, { once: true });
      try {
        await hc.call(this.protocol, ac.signal);
        if (attempt > 0) this.ctx.logger.info({ sink: this.ctx.id }, 'healthcheck passed; sending buffered events');
        this.healthy = true;
        this.unhealthySince = -1;
        this.pump();
        return;
      } catch (err) {
        if (this.aborted) return;
        this.lastHealthError = errMessage(err);
        let delay: number;
        if (isTernError(err) && (err.code === 'TERN_ERR_SINK_UNSUPPORTED' || err.code === 'TERN_ERR_SINK_AUTH')) {
          // Loud once per distinct problem: this needs a human (wrong product, wrong credentials).
          if (err.message !== lastError) this.ctx.logger.error({ err, code: err.code, sink: this.ctx.id }, `sink ${this.ctx.id} healthcheck: ${err.message}; events are buffered`);
          lastError = err.message;
          this.ctx.fatal?.(new TernError(err.code, `sink ${this.ctx.id} healthcheck: ${err.message}`));
          delay = this.o.retry_max_ms;
        } else {
          this.limiter.log('warn', 'healthcheck', { err, attempt: attempt + 1 }, 'healthcheck failed; events are buffered until it passes');
          delay = backoffDelay(this.policy, attempt, this.random);
        }
        attempt++;
        // Jobs waiting past the retry limit are refused meanwhile (pump checks the limit).
        this.pump();
        await this.sleep(delay);
      } finally {
        this.clock.clearTimeout(timer);
        this.abort.signal.removeEventListener('abort', onStop);
      }
    }
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

  /** Aborts requests, sleeps and the healthcheck; unsettled jobs stay unsettled. */
  stop(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.abort.abort(new Error('sink stopped'));
    for (const wake of [...this.sleeps]) wake();
    if (this.giveUpTimer !== undefined) this.clock.clearTimeout(this.giveUpTimer);
    this.limiter.flush();
  }

  /** Loops and the healthcheck, to await (with a grace period) after `stop`. */
  get settled(): Promise<unknown> {
    return Promise.allSettled([...this.running, this.health]);
  }

  /** Events of jobs that never got settled (in front after the stop). */
  get unsent(): number {
    let n = 0;
    for (const j of this.front) n += j.events.length;
    return n;
  }
}

function errMessage(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
