/**
 * Acknowledgement: how a source learns that every sink that received its events has dealt with them.
 *
 * A source creates one `AckGroup` per batch it emits. The group is reference counted: the source
 * holds one reference while it dispatches, and the engine takes one more for every sink (after any
 * transforms) that receives part of the batch. A sink releases its reference once its server has
 * accepted the events (`delivered`) or refused them for good (`rejected`, counted and logged by the
 * sink). When the count reaches zero the source's callback runs: the file source then advances its
 * checkpoint. Events still inside a sink at shutdown are never released, so their checkpoint does
 * not move and they are read again on restart (at-least-once).
 *
 * A transform that drops events (filter, sample) simply does not pass them on: a batch whose
 * events all went nowhere completes when the source lets go of it.
 */

export type DeliveryStatus = 'delivered' | 'rejected';

export type AckCallback = (status: DeliveryStatus, group: AckGroup) => void;

export class AckGroup {
  /** Events and bytes this group accounts for in the in-flight budget. */
  readonly events: number;
  readonly bytes: number;
  private pending: number;
  private worst: DeliveryStatus;
  private readonly callbacks: AckCallback[];

  constructor(events: number, bytes: number, onDone?: AckCallback) {
    this.events = events;
    this.bytes = bytes;
    this.pending = 1;
    this.worst = 'delivered';
    this.callbacks = onDone ? [onDone] : [];
  }

  /** Adds a callback run once the group completes. */
  onDone(cb: AckCallback): void {
    this.callbacks.push(cb);
  }

  get done(): boolean {
    return this.pending === 0;
  }

  retain(n = 1): void {
    if (this.pending === 0) throw new Error('AckGroup.retain after completion');
    this.pending += n;
  }

  release(status: DeliveryStatus = 'delivered'): void {
    if (this.pending === 0) throw new Error('AckGroup released more often than retained');
    if (status === 'rejected') this.worst = 'rejected';
    if (--this.pending === 0) {
      for (const cb of this.callbacks) cb(this.worst, this);
    }
  }
}
