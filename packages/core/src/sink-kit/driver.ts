/**
 * The delivery driver: the `Sink` every sink built on the kit returns, around the sink's protocol
 * code. Three stages, one role each:
 *
 *   accept ─► admission ─► batcher ─► buffer (memory | disk) ─► dispatcher ─► destination
 *
 * - Admission (here): a batch enters when the buffer has room. Then the sink's reference on the
 *   batch's acknowledgement group is admitted, which returns the pipeline's in-flight budget: what a
 *   sink holds is bounded by its own buffer, so one slow or dead sink never slows a healthy one until
 *   its buffer is full. When it is full, `when_full: block` keeps the batch waiting (its budget stays
 *   taken, which is the backpressure) and `drop_newest` drops it, counted and logged.
 * - Batcher (batcher.ts): per-partition open batches, closed by `max_events`, `max_bytes`, `timeout_ms`.
 * - Buffer (buffer/): a queue of closed batches in memory, or a segment log on disk. With a disk
 *   buffer the batch's acknowledgement is released once it is durably written, so the source's
 *   checkpoint moves then (as in Vector).
 * - Dispatcher (dispatcher.ts): bounded concurrency, retries, splits, pauses, dead letters.
 *
 * Stop flushes the batcher and waits until the buffer is empty or the deadline passes; then it aborts
 * requests and sleeps. What is still in a memory buffer stays unacknowledged (read again after a
 * restart); what is in a disk buffer stays there and is sent after the restart.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Batch } from '../event/batch.ts';
import type { DeadLetterOutput } from '../event/dead-letter.ts';
import { eventBytes, type LogEvent } from '../event/event.ts';
import { SINK_STATES, type Sink, type SinkReport, type SinkStatus } from '../plugin/types.ts';
import { DiskBuffer } from '../buffer/disk.ts';
import { MemoryBuffer } from '../buffer/memory.ts';
import type { SinkBuffer } from '../buffer/types.ts';
import type { ComponentTelemetry, Counter } from '../telemetry/telemetry.ts';
import { LogLimiter } from '../telemetry/log-limit.ts';
import { systemClock, type Clock } from '../time/clock.ts';
import { Batcher } from './batcher.ts';
import { Dispatcher } from './dispatcher.ts';
import { Ticket } from './job.ts';
import { resolveDelivery, type ResolvedDelivery } from './schemas.ts';

export { resolveDelivery, type ResolvedDelivery } from './schemas.ts';
import type { DeliveryOptions, EncodedRequest, SinkProtocol } from './types.ts';

/** What the driver needs of the component context (a `ComponentContext` fits). */
export interface DeliveryContext {
  readonly id: string;
  readonly type?: string;
  readonly logger: Logger;
  readonly telemetry: ComponentTelemetry;
  /** Where a disk buffer lives (`<dataDir>/buffers/<id>`). */
  readonly dataDir?: string;
  readonly deadLetters?: DeadLetterOutput;
  readonly fatal?: (err: Error) => void;
}

/** Injectable dependencies. */
export interface DeliveryDeps {
  readonly clock?: Clock;
  /** Uniform [0, 1) source for jitter. */
  readonly random?: () => number;
}

/** Snapshot of the driver's state, for tests, diagnostics and metrics. */
export interface DeliveryState {
  /** Accepted events not yet settled (memory buffer), or not yet written (disk). */
  readonly outstanding: number;
  /** Batches waiting for room in the buffer. */
  readonly waiting: number;
  /** Jobs queued in the buffer. */
  readonly queued: number;
  readonly inflight: number;
  readonly healthy: boolean;
  readonly paused: boolean;
  /** Buffer fill: events and bytes it holds. */
  readonly buffer_events: number;
  readonly buffer_bytes: number;
}

/** After the stop deadline: how long loops and `close()` get to finish before stop returns anyway. */
const STOP_GRACE_MS = 1000;

export class DeliverySink<R extends EncodedRequest = EncodedRequest> implements Sink {
  readonly options: ResolvedDelivery;
  private readonly protocol: SinkProtocol<R>;
  private readonly ctx: DeliveryContext;
  private readonly clock: Clock;
  private readonly buffer: SinkBuffer;
  private readonly batcher: Batcher;
  private readonly dispatcher: Dispatcher<R>;
  private readonly limiter: LogLimiter;
  private readonly c: Record<'in' | 'inBytes' | 'dropped' | 'delivered' | 'rejected' | 'deadLettered', Counter>;

  /** Batches waiting for room (`when_full: block`), oldest first. */
  private readonly waiting: Batch[] = [];
  private waitingEvents = 0;
  private admitting = false;
  private stopping = false;
  private stopped = false;
  private stopPromise: Promise<void> | undefined;
  private warnedLate = false;
  private drainWaiters: Array<() => void> = [];

  constructor(protocol: SinkProtocol<R>, options: DeliveryOptions, ctx: DeliveryContext, deps: DeliveryDeps = {}) {
    this.protocol = protocol;
    this.ctx = ctx;
    this.options = resolveDelivery(options);
    this.clock = deps.clock ?? systemClock;
    this.limiter = new LogLimiter(ctx.logger, 10_000, this.clock);
    const t = ctx.telemetry;
    this.c = {
      in: t.counter('events_in'),
      inBytes: t.counter('event_bytes_in'),
      dropped: t.counter('events_dropped'),
      delivered: t.counter('events_delivered'),
      rejected: t.counter('events_rejected'),
      deadLettered: t.counter('events_dead_lettered'),
    };
    const b = this.options.buffer;
    if (b.type === 'disk') {
      if (ctx.dataDir === undefined) throw new Error('buffer.type disk needs a data directory');
      this.buffer = new DiskBuffer({
        dir: join(ctx.dataDir, 'buffers', ctx.id),
        dataDir: ctx.dataDir,
        maxBytes: b.max_bytes,
        // Memory for open batches and writes in progress: two full requests, at least 4 MiB.
        stagingBytes: Math.max(2 * this.options.batch.max_bytes, 4 * 1024 * 1024),
        sync: b.sync,
        logger: ctx.logger,
        telemetry: ctx.telemetry,
        clock: this.clock,
      });
    } else this.buffer = new MemoryBuffer(b.max_events, b.max_bytes);
    this.buffer.onRoom = () => this.admitWaiting();
    this.dispatcher = new Dispatcher({
      protocol,
      options: {
        concurrency: this.options.request.concurrency,
        timeout_ms: this.options.request.timeout_ms,
        retry_initial_ms: this.options.request.retry_initial_ms,
        retry_max_ms: this.options.request.retry_max_ms,
        retry_max_duration_ms: this.options.request.retry_max_duration_ms,
        max_bytes: this.options.batch.max_bytes,
        compression: this.options.compression,
      },
      ctx,
      clock: this.clock,
      random: deps.random ?? Math.random,
      buffer: this.buffer,
    });
    this.buffer.onReady = () => this.dispatcher.pump();
    const estimate: (ev: LogEvent) => number = protocol.estimate ? protocol.estimate.bind(protocol) : (ev) => ev.size + 1;
    this.batcher = new Batcher({
      limits: this.options.batch,
      clock: this.clock,
      ...(protocol.partition ? { partition: protocol.partition.bind(protocol) } : {}),
      estimate,
      logger: ctx.logger,
      out: (closed) => this.buffer.push(closed),
      telemetry: ctx.telemetry,
    });
    // Read when metrics are scraped (telemetry/metrics.ts names them).
    t.gauge('buffer_events', () => this.buffer.events);
    t.gauge('buffer_bytes', () => this.buffer.bytes);
    t.gauge('buffer_max_events', () => (b.type === 'disk' ? 0 : b.max_events));
    t.gauge('buffer_max_bytes', () => b.max_bytes);
    t.gauge('requests_in_flight', () => this.dispatcher.state.inflight);
    t.gauge('sink_state', () => {
      const now = this.status().state;
      return SINK_STATES.map((s) => [{ state: s }, s === now ? 1 : 0] as const);
    });
  }

  /** Health and buffer fill, for /readyz, `tern top` and the `sink_state` metric. */
  status(): SinkStatus {
    const d = this.dispatcher.state;
    const state: SinkStatus['state'] = d.paused ? 'paused' : !d.healthy ? 'starting' : d.retrying > 0 ? 'retrying' : 'healthy';
    const b = this.options.buffer;
    return {
      state,
      healthchecked: d.healthy,
      disk_buffer: b.type === 'disk',
      buffer_events: this.buffer.events,
      buffer_bytes: this.buffer.bytes,
      buffer_max_events: b.type === 'disk' ? 0 : b.max_events,
      buffer_max_bytes: b.max_bytes,
    };
  }

  get state(): DeliveryState {
    const d = this.dispatcher.state;
    return {
      outstanding: this.buffer.type === 'memory' ? this.buffer.events : (this.buffer as DiskBuffer).stagedEvents,
      waiting: this.waiting.length,
      queued: this.buffer.queued,
      inflight: d.inflight,
      healthy: d.healthy,
      paused: d.paused,
      buffer_events: this.buffer.events,
      buffer_bytes: this.buffer.bytes,
    };
  }

  /** Starts the healthcheck in the background (if the sink has one and it is enabled); never blocks. */
  start(): void | Promise<void> {
    if (this.stopping) return;
    const opened = this.buffer instanceof DiskBuffer ? this.buffer.open() : undefined;
    if (this.options.healthcheck) this.dispatcher.startHealthcheck();
    if (opened) return opened.then(() => this.dispatcher.pump());
  }

  accept(batch: Batch): void {
    const n = batch.events.length;
    this.c.in.inc(n);
    if (n === 0) {
      batch.ack.release('delivered');
      return;
    }
    const bytes = eventBytes(batch.events);
    this.c.inBytes.inc(bytes);
    if (this.stopped) {
      // The engine stopped us already; keeping the events unreleased makes sources re-read them.
      if (!this.warnedLate) this.ctx.logger.warn({ events: n }, 'sink received events after it stopped; they are not delivered and will be re-read');
      this.warnedLate = true;
      return;
    }
    if (this.waiting.length === 0 && this.buffer.hasRoom(n, bytes)) this.admit(batch, bytes);
    else if (this.options.buffer.when_full === 'drop_newest') this.drop(batch);
    else {
      this.waiting.push(batch);
      this.waitingEvents += n;
      // Make room: a batch waiting on open batches that nobody closes would wait for timeout_ms.
      this.batcher.flush();
    }
  }

  private admit(batch: Batch, bytes = eventBytes(batch.events)): void {
    const n = batch.events.length;
    this.buffer.reserve(n, bytes);
    const ticket = new Ticket(batch.ack, n, bytes, this.buffer);
    batch.ack.admit();
    this.batcher.add(batch.events, ticket);
    if (this.stopping) this.batcher.flush();
  }

  private drop(batch: Batch): void {
    const n = batch.events.length;
    this.c.dropped.inc(n);
    this.limiter.log(
      'warn',
      'dropped',
      { events: n, buffer_events: this.buffer.events, buffer_bytes: this.buffer.bytes },
      `buffer of sink ${this.ctx.id} is full; dropping the newest events as buffer.when_full: drop_newest asks (counted as events_dropped)`,
    );
    batch.ack.release('dropped');
  }

  /** Admits waiting batches while the buffer has room (called when settled events give room back). */
  private admitWaiting(): void {
    if (this.admitting) return;
    this.admitting = true;
    try {
      while (this.waiting.length > 0) {
        const b = this.waiting[0] as Batch;
        if (!this.buffer.hasRoom(b.events.length, eventBytes(b.events))) break;
        this.waiting.shift();
        this.waitingEvents -= b.events.length;
        this.admit(b);
      }
    } finally {
      this.admitting = false;
    }
    this.checkDrained();
  }

  // ---------------------------------------------------------------- shutdown

  private get drained(): boolean {
    return this.waiting.length === 0 && this.buffer.events === 0 && !this.dispatcher.busy;
  }

  private checkDrained(): void {
    if (this.drainWaiters.length === 0 || !this.drained) return;
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const f of w) f();
  }

  stop(deadline: AbortSignal): Promise<void> {
    this.stopPromise ??= this.doStop(deadline);
    return this.stopPromise;
  }

  private async doStop(deadline: AbortSignal): Promise<void> {
    this.stopping = true;
    this.batcher.flush();
    if (!deadline.aborted && !this.drained) {
      // Wake on every settlement (room given back) and when the dispatcher goes idle.
      const prev = this.buffer.onRoom;
      this.buffer.onRoom = () => {
        prev();
        this.checkDrained();
      };
      this.dispatcher.onIdle = () => this.checkDrained();
      await new Promise<void>((resolve) => {
        const onAbort = (): void => resolve();
        deadline.addEventListener('abort', onAbort, { once: true });
        this.drainWaiters.push(() => {
          deadline.removeEventListener('abort', onAbort);
          resolve();
        });
        this.checkDrained();
      });
    }
    this.stopped = true;
    this.dispatcher.stop();
    this.batcher.dispose();
    this.limiter.flush();
    const r = this.report();
    if (r.undelivered > 0) {
      this.ctx.logger.warn(
        { code: 'TERN_ERR_SHUTDOWN_TIMEOUT', sink: this.ctx.id, events: r.undelivered },
        // A push source has nothing to re-read: it answered its senders 503 (server.ts), so a retrying one resends.
        'sink stop deadline reached with events undelivered; a source with checkpoints (file) reads them again after restart, a push source (http_server) cannot: with acknowledgements it answered their senders 503 so they can send them again',
      );
    }
    if (r.buffered > 0) this.ctx.logger.info({ sink: this.ctx.id, events: r.buffered }, 'events stay in the disk buffer; they are sent after restart');
    // Loops end at once on the abort; a protocol that ignores its signal must not hold shutdown past the deadline.
    await withGrace(this.dispatcher.settled, STOP_GRACE_MS);
    try {
      await withGrace(this.buffer.close(AbortSignal.timeout(STOP_GRACE_MS)), STOP_GRACE_MS);
    } catch (err) {
      this.ctx.logger.error({ err, code: 'TERN_ERR_BUFFER' }, 'closing the buffer failed');
    }
    try {
      await withGrace(this.protocol.close?.() ?? Promise.resolve(), STOP_GRACE_MS);
    } catch (err) {
      this.ctx.logger.warn({ err }, 'closing sink connections failed');
    }
  }

  report(): SinkReport {
    const disk = this.buffer instanceof DiskBuffer ? this.buffer : undefined;
    return {
      delivered: this.c.delivered.value,
      dead_lettered: this.c.deadLettered.value,
      rejected: this.c.rejected.value,
      dropped: this.c.dropped.value,
      buffered: disk ? disk.durableEvents : 0,
      undelivered: this.waitingEvents + (disk ? disk.stagedEvents : this.buffer.events),
    };
  }
}

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

/** Builds the `Sink` of a sink from its protocol code and delivery options. */
export function createDeliverySink<R extends EncodedRequest>(protocol: SinkProtocol<R>, options: DeliveryOptions, ctx: DeliveryContext, deps?: DeliveryDeps): DeliverySink<R> {
  return new DeliverySink(protocol, options, ctx, deps);
}
