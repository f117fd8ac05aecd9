/**
 * A batch is the unit that moves between components: an array of events and the acknowledgement
 * group of the source batch they came from. Transforms run on whole batches, so a batch's events
 * always share one group; a sink that merges batches into requests keeps every group it touched.
 */
import type { AckGroup } from './ack.ts';
import type { LogEvent } from './event.ts';

export interface Batch {
  readonly events: LogEvent[];
  readonly ack: AckGroup;
}
