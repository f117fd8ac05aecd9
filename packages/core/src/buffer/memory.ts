/**
 * The memory buffer: closed batches wait in a FIFO queue. Its room counts every event the sink
 * accepted and did not settle yet (in the batcher, queued, being sent or retried), in events and in
 * estimated bytes, so `max_events` / `max_bytes` bound what one sink holds whatever its destination
 * does. An empty buffer always has room, so a batch larger than the whole buffer still passes (a
 * too-small buffer costs speed, never a deadlock).
 */
import type { ClosedBatch } from '../sink-kit/batcher.ts';
import type { Job } from '../sink-kit/job.ts';
import type { SinkBuffer } from './types.ts';

export class MemoryBuffer implements SinkBuffer {
  readonly type = 'memory';
  events = 0;
  bytes = 0;
  onRoom: () => void = () => undefined;
  onReady: () => void = () => undefined;
  private readonly maxEvents: number;
  private readonly maxBytes: number;
  private readonly jobs: Job[] = [];

  constructor(maxEvents: number, maxBytes: number) {
    this.maxEvents = maxEvents;
    this.maxBytes = maxBytes;
  }

  hasRoom(events: number, bytes: number): boolean {
    if (this.events === 0) return true;
    return this.events + events <= this.maxEvents && this.bytes + bytes <= this.maxBytes;
  }

  reserve(events: number, bytes: number): void {
    this.events += events;
    this.bytes += bytes;
  }

  free(events: number, bytes: number): void {
    this.events -= events;
    this.bytes -= bytes;
    this.onRoom();
  }

  push(b: ClosedBatch): void {
    this.jobs.push({ partition: b.partition, events: b.events, spans: b.spans, attempt: 0, failingSince: -1 });
    this.onReady();
  }

  get queued(): number {
    return this.jobs.length;
  }

  take(): Job | undefined {
    return this.jobs.shift();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
