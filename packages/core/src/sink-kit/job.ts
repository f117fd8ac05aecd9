/**
 * Jobs and settlement: the bookkeeping shared by the batcher, the buffers and the dispatcher.
 *
 * A job is one request's worth of events, carried through its retries. Its events are settled
 * (delivered, dead-lettered, rejected, dropped) through run-length `Span`s that point at whoever must
 * hear about it: a `Ticket` (one accepted batch: its acknowledgement reference and its share of the
 * memory buffer) or, for events read back from a disk buffer, the record they came from. A 1,000-event
 * request built from two source batches has two spans, not 1,000 references, and no promise or
 * closure is allocated per event.
 */
import type { AckRef, DeliveryStatus } from '../event/ack.ts';
import type { LogEvent } from '../event/event.ts';

/** What happened to settled events. */
export type Outcome = DeliveryStatus;

/** Whoever must hear that `count` of its events were settled. */
export interface Settler {
  settle(count: number, outcome: Outcome): void;
}

/** `count` consecutive events of a job belong to `to`. */
export interface Span {
  readonly to: Settler;
  count: number;
}

/** One request's worth of events. */
export interface Job {
  readonly partition: string;
  events: LogEvent[];
  spans: Span[];
  /** Retries so far (backoff exponent). */
  attempt: number;
  /** When the first failure of this job happened (for `retry_max_duration_ms`), or -1. */
  failingSince: number;
}

const RANK: Record<Outcome, number> = { delivered: 0, dropped: 1, dead_lettered: 2, rejected: 3 };

/** Room in a buffer that settled events give back. */
export interface Room {
  free(events: number, bytes: number): void;
}

/**
 * One accepted batch: the sink's acknowledgement reference, released with the worst outcome once
 * every event settled, and the memory it holds in the buffer, given back as events settle.
 */
export class Ticket implements Settler {
  private readonly ref: AckRef;
  private readonly room: Room;
  private remaining: number;
  private bytes: number;
  private readonly perEvent: number;
  private worst: Outcome = 'delivered';

  constructor(ref: AckRef, events: number, bytes: number, room: Room) {
    this.ref = ref;
    this.room = room;
    this.remaining = events;
    this.bytes = bytes;
    this.perEvent = events > 0 ? bytes / events : 0;
  }

  settle(count: number, outcome: Outcome): void {
    if (RANK[outcome] > RANK[this.worst]) this.worst = outcome;
    this.remaining -= count;
    const freed = this.remaining === 0 ? this.bytes : Math.min(this.bytes, Math.round(this.perEvent * count));
    this.bytes -= freed;
    this.room.free(count, freed);
    if (this.remaining === 0) this.ref.release(this.worst);
  }
}

/** Appends `count` events of `to` to a span list, extending the last span when it has the same target. */
export function pushSpan(spans: Span[], to: Settler, count = 1): void {
  const last = spans[spans.length - 1];
  if (last !== undefined && last.to === to) last.count += count;
  else spans.push({ to, count });
}

/** Settles every event of `spans` with one outcome. */
export function settleSpans(spans: readonly Span[], outcome: Outcome): void {
  for (const s of spans) s.to.settle(s.count, outcome);
}

/** Splits run-length spans at event position `at`. */
export function splitSpans(spans: readonly Span[], at: number): [Span[], Span[]] {
  const a: Span[] = [];
  const b: Span[] = [];
  let pos = 0;
  for (const s of spans) {
    if (pos + s.count <= at) a.push({ to: s.to, count: s.count });
    else if (pos >= at) b.push({ to: s.to, count: s.count });
    else {
      a.push({ to: s.to, count: at - pos });
      b.push({ to: s.to, count: pos + s.count - at });
    }
    pos += s.count;
  }
  return [a, b];
}

/**
 * Partitions a job's events by a mark per event (0 keep, 1 and 2 two other classes), walking the
 * spans once: returns the events and spans of each class in order.
 */
export function partitionJob(job: Job, marks: Uint8Array): Array<{ events: LogEvent[]; spans: Span[] }> {
  const out = [
    { events: [] as LogEvent[], spans: [] as Span[] },
    { events: [] as LogEvent[], spans: [] as Span[] },
    { events: [] as LogEvent[], spans: [] as Span[] },
  ];
  let i = 0;
  for (const s of job.spans) {
    for (let k = 0; k < s.count; k++, i++) {
      const c = out[marks[i] ?? 0] as { events: LogEvent[]; spans: Span[] };
      c.events.push(job.events[i] as LogEvent);
      pushSpan(c.spans, s.to);
    }
  }
  return out;
}
