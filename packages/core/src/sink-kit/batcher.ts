/**
 * The batcher: the first stage of a sink. Events arrive with the `Settler` of the batch they came in;
 * they are grouped per partition (index, stream) into open batches, and an open batch closes when it
 * holds `max_events`, when the next event would take its estimated encoded size over `max_bytes`, or
 * `timeout_ms` after its first event. Closed batches go to the buffer as they are; the dispatcher
 * sends each as one request.
 */
import type { Logger } from 'pino';
import type { LogEvent } from '../event/event.ts';
import { LogLimiter } from '../telemetry/log-limit.ts';
import { BATCH_BYTE_BUCKETS, BATCH_EVENT_BUCKETS } from '../telemetry/metrics.ts';
import type { ComponentTelemetry, Histogram } from '../telemetry/telemetry.ts';
import type { Clock } from '../time/clock.ts';
import { pushSpan, type Settler, type Span } from './job.ts';

export interface BatchLimits {
  readonly max_events: number;
  readonly max_bytes: number;
  readonly timeout_ms: number;
}

/** A closed batch: one future request. `bytes` is the sum of the events' estimated encoded sizes. */
export interface ClosedBatch {
  readonly partition: string;
  readonly events: LogEvent[];
  readonly spans: Span[];
  readonly bytes: number;
}

interface OpenBatch {
  events: LogEvent[];
  spans: Span[];
  bytes: number;
  timer: unknown;
}

export class Batcher {
  private readonly open = new Map<string, OpenBatch>();
  private readonly limits: BatchLimits;
  private readonly clock: Clock;
  private readonly partition: ((ev: LogEvent) => string) | undefined;
  private readonly estimate: (ev: LogEvent) => number;
  private readonly out: (b: ClosedBatch) => void;
  private readonly limiter: LogLimiter;
  private readonly sizes: { events: Histogram; bytes: Histogram } | undefined;

  constructor(opts: {
    limits: BatchLimits;
    clock: Clock;
    partition?: (ev: LogEvent) => string;
    estimate: (ev: LogEvent) => number;
    logger: Logger;
    out: (b: ClosedBatch) => void;
    /** Where batch sizes are observed (`batch_events`, `batch_bytes`). */
    telemetry?: ComponentTelemetry;
  }) {
    this.limits = opts.limits;
    this.clock = opts.clock;
    this.partition = opts.partition;
    this.estimate = opts.estimate;
    this.out = opts.out;
    this.limiter = new LogLimiter(opts.logger, 10_000, opts.clock);
    this.sizes = opts.telemetry ? { events: opts.telemetry.histogram('batch_events', BATCH_EVENT_BUCKETS), bytes: opts.telemetry.histogram('batch_bytes', BATCH_BYTE_BUCKETS) } : undefined;
  }

  /** Events held in open batches. */
  get size(): number {
    let n = 0;
    for (const ob of this.open.values()) n += ob.events.length;
    return n;
  }

  /** Adds events that belong to `to`. */
  add(events: readonly LogEvent[], to: Settler): void {
    const { max_events, max_bytes } = this.limits;
    for (const ev of events) {
      const key = this.partition ? this.partitionOf(ev) : '';
      const size = this.sizeOf(ev);
      let ob = this.open.get(key);
      // Close before the event that would cross max_bytes, so a request stays under the limit as
      // encoded instead of going over and being split in two after encoding.
      if (ob !== undefined && ob.events.length > 0 && ob.bytes + size > max_bytes) {
        this.close(key);
        ob = undefined;
      }
      if (ob === undefined) {
        ob = { events: [], spans: [], bytes: 0, timer: undefined };
        this.open.set(key, ob);
        ob.timer = this.clock.setTimeout(() => this.close(key), this.limits.timeout_ms);
      }
      ob.events.push(ev);
      pushSpan(ob.spans, to);
      ob.bytes += size;
      if (ob.events.length >= max_events || ob.bytes >= max_bytes) this.close(key);
    }
  }

  /** Closes every open batch now (stop, or memory pressure). */
  flush(): void {
    for (const key of [...this.open.keys()]) this.close(key);
  }

  /** Clears timers without closing (after the stop deadline). */
  dispose(): void {
    for (const ob of this.open.values()) if (ob.timer !== undefined) this.clock.clearTimeout(ob.timer);
  }

  private close(key: string): void {
    const ob = this.open.get(key);
    if (ob === undefined) return;
    this.open.delete(key);
    if (ob.timer !== undefined) this.clock.clearTimeout(ob.timer);
    this.sizes?.events.observe(ob.events.length);
    this.sizes?.bytes.observe(ob.bytes);
    this.out({ partition: key, events: ob.events, spans: ob.spans, bytes: ob.bytes });
  }

  /** A throwing partition function must not break a batch half-way through its bookkeeping. */
  private partitionOf(ev: LogEvent): string {
    try {
      return (this.partition as (ev: LogEvent) => string)(ev);
    } catch (err) {
      this.limiter.log('warn', 'partition', { err }, 'partition key failed for an event; it goes to the default partition');
      return '';
    }
  }

  private sizeOf(ev: LogEvent): number {
    try {
      return this.estimate(ev);
    } catch {
      // An event the estimate cannot size (it will fail encoding alone, and be dead-lettered then).
      return ev.size + 1;
    }
  }
}
