/**
 * Acknowledgement: how a source learns that every sink that received its events has dealt with them,
 * and how the in-flight budget learns that the events left the shared path.
 *
 * A source batch gets one `AckGroup`. Every consumer that holds part of it (the dispatching source
 * itself, a sink, a transform running in a worker, a dead-letter hand-off) holds one `AckRef`, taken
 * with `group.ref()`. A reference moves through two steps:
 *
 * 1. `admit()`: the holder took responsibility for the events' memory (a sink put them in its own
 *    bounded buffer). When every reference is admitted, the group's `onAdmitted` runs: the engine
 *    returns the batch's share of the in-flight budget, so one slow sink stops holding up the others
 *    until its own buffer is full.
 * 2. `release(status)`: the holder is done with the events: delivered (its server took them, or they
 *    are durably in its disk buffer), dropped on purpose (a counted drop its config asked for),
 *    dead-lettered (handed to a dead-letter consumer), or rejected (refused for good with nowhere to
 *    go: counted, and the run does not report success). Releasing also admits, if that did not
 *    happen yet. When every reference is released, the group's callbacks run (the file source then
 *    advances its checkpoint) with the worst status seen.
 *
 * Events still held at shutdown are never released, so their checkpoint does not move and they are
 * read again on restart (at-least-once). A transform that drops events simply does not pass them on.
 */

/** What happened to a group's events, from best to worst (the group reports the worst one). */
export type DeliveryStatus = 'delivered' | 'dropped' | 'dead_lettered' | 'rejected';

const RANK: Record<DeliveryStatus, number> = { delivered: 0, dropped: 1, dead_lettered: 2, rejected: 3 };

export type AckCallback = (status: DeliveryStatus, group: AckGroup) => void;

export class AckGroup {
  /** Events and bytes this group accounts for in the in-flight budget. */
  readonly events: number;
  readonly bytes: number;
  private pending = 0;
  private unadmitted = 0;
  private completed = false;
  private worst: DeliveryStatus = 'delivered';
  private readonly callbacks: AckCallback[];
  private onAdmitted: (() => void) | undefined;

  /**
   * `onDone` runs once every reference was released; `onAdmitted` once every reference was admitted
   * (at the latest, just before `onDone`).
   */
  constructor(events: number, bytes: number, onDone?: AckCallback, onAdmitted?: () => void) {
    this.events = events;
    this.bytes = bytes;
    this.callbacks = onDone ? [onDone] : [];
    this.onAdmitted = onAdmitted;
  }

  /** Adds a callback run once the group completes. */
  onDone(cb: AckCallback): void {
    this.callbacks.push(cb);
  }

  get done(): boolean {
    return this.completed;
  }

  /** References not released yet. */
  get outstanding(): number {
    return this.pending;
  }

  /** Takes one reference (before the group completed). */
  ref(): AckRef {
    if (this.completed) throw new Error('AckGroup.ref after completion');
    this.pending++;
    this.unadmitted++;
    return new AckRef(this);
  }

  /** @internal one reference admitted */
  admitOne(): void {
    if (--this.unadmitted === 0) {
      const f = this.onAdmitted;
      this.onAdmitted = undefined;
      f?.();
    }
  }

  /** @internal one reference released (after it was admitted) */
  releaseOne(status: DeliveryStatus): void {
    if (RANK[status] > RANK[this.worst]) this.worst = status;
    if (--this.pending === 0) {
      this.completed = true;
      for (const cb of this.callbacks) cb(this.worst, this);
    }
  }
}

/** One holder's reference on an `AckGroup`. `admit` is idempotent; `release` must happen exactly once. */
export class AckRef {
  readonly group: AckGroup;
  private state: 0 | 1 | 2 = 0; // 0 held, 1 admitted, 2 released

  constructor(group: AckGroup) {
    this.group = group;
  }

  /** Events and bytes of the whole source batch (for budget-like accounting by the holder). */
  get events(): number {
    return this.group.events;
  }

  get admitted(): boolean {
    return this.state >= 1;
  }

  get released(): boolean {
    return this.state === 2;
  }

  /** The holder keeps the events in memory it bounds itself: the in-flight budget may go. */
  admit(): void {
    if (this.state !== 0) return;
    this.state = 1;
    this.group.admitOne();
  }

  /** The holder is done with the events. */
  release(status: DeliveryStatus = 'delivered'): void {
    if (this.state === 2) throw new Error('AckRef released twice');
    if (this.state === 0) this.admit();
    this.state = 2;
    this.group.releaseOne(status);
  }
}
