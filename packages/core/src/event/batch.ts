/**
 * A batch is the unit that moves between components: an array of events and the holder's reference
 * on the acknowledgement group of the source batch they came from. Transforms run on whole batches,
 * so a batch's events always share one group; a sink that merges batches into requests keeps every
 * reference it was handed, and admits and releases each exactly once (see ack.ts).
 */
import type { AckRef } from './ack.ts';
import type { LogEvent } from './event.ts';

export interface Batch {
  readonly events: LogEvent[];
  readonly ack: AckRef;
}
