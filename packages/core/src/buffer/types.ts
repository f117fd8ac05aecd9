/**
 * The buffer of a sink: where events wait between the batcher and the dispatcher. One interface, two
 * kinds: `memory` (closed batches in a queue) and `disk` (closed batches in a checksummed segment log
 * under `data_dir`, read back by the dispatcher). The sink's admission control asks `hasRoom` before
 * taking a batch and `reserve`s it; settled events give their room back through `free`.
 *
 * Room is what bounds memory per sink. For a memory buffer it is every event accepted and not yet
 * settled (in the batcher, queued, in a request or a retry). For a disk buffer it is the bytes on disk
 * (`max_bytes`) plus a small in-memory staging area for open batches and writes in progress.
 */
import type { ClosedBatch } from '../sink-kit/batcher.ts';
import type { Job, Room } from '../sink-kit/job.ts';

export interface SinkBuffer extends Room {
  readonly type: 'memory' | 'disk';
  /** Events held (memory: accepted and not settled; disk: unacknowledged on disk). */
  readonly events: number;
  /** Bytes held (memory: estimated; disk: segment bytes not yet deleted). */
  readonly bytes: number;
  /** True when `events` more events of `bytes` bytes can be admitted now. */
  hasRoom(events: number, bytes: number): boolean;
  /** Takes room for events being admitted. */
  reserve(events: number, bytes: number): void;
  /** A closed batch of admitted events. */
  push(batch: ClosedBatch): void;
  /** Jobs waiting to be taken. */
  readonly queued: number;
  /** The next job for the dispatcher (undefined when none is ready). */
  take(): Job | undefined | Promise<Job | undefined>;
  /** Called when room was given back (the sink admits waiting batches). */
  onRoom: () => void;
  /** Called when a job became ready (the dispatcher starts a request). */
  onReady: () => void;
  /** Finishes writes in progress and saves read positions, within `deadline`. */
  close(deadline: AbortSignal): Promise<void>;
}
