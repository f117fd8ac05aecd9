/**
 * The data path: how a batch moves from a source through transforms into sinks, and where refused
 * events go.
 *
 * Events move in batches by direct, synchronous calls: a source's `emit` dispatches the batch through
 * every transform on the way and into each sink's `accept`, in one call stack, with no per-event
 * promise and no queue between stages. Every consumer that keeps part of a batch holds its own
 * `AckRef` on the batch's group. rxjs is not used here: its streams push without backpressure, which
 * is the property this path needs most.
 *
 * Fan-out. One output may feed several consumers. Events are shared, not copied, unless a consumer
 * (or anything downstream of it) changes events: such a consumer gets copies, so a sink holding the
 * original never sees another branch's edits.
 *
 * Failures cost only the events that cause them. A transform's emits are collected and dispatched
 * once it returns; if it throws, its events run again one by one (those the failed attempt already
 * changed are passed on as they are), and only the events it fails on are refused: to the
 * component's `dead_letter` output when something reads it, else counted as rejected and logged once
 * per reason with a sample.
 */
import type { Logger } from 'pino';
import { isTernError, type TransformClosedError } from '../errors.ts';
import { AckGroup, type DeliveryStatus } from '../event/ack.ts';
import { deadLetterEvent, originalText, type DeadLetterInfo, type DeadLetterOrigin, type DeadLetterOutput } from '../event/dead-letter.ts';
import { eventBytes, type LogEvent } from '../event/event.ts';
import type { Emit, Refuse, Sink, Transform } from '../plugin/types.ts';
import type { ComponentTelemetry, Counter } from '../telemetry/telemetry.ts';
import { LogLimiter } from '../telemetry/log-limit.ts';
import { DEAD_LETTER_OUTPUT } from './graph.ts';

export interface TransformNode {
  readonly id: string;
  readonly type: string;
  readonly transform: Transform;
  readonly mutates: boolean;
  readonly deadLetters: DeadLetterOutput;
  readonly c: Record<'in' | 'out' | 'inBytes' | 'outBytes' | 'errors' | 'rejected' | 'deadLettered', Counter>;
}

export interface Consumer {
  readonly id: string;
  readonly clone: boolean;
  readonly sink?: Sink;
  readonly sinkTelemetry?: ComponentTelemetry;
  readonly transform?: TransformNode;
}

type Emitted = Array<readonly [LogEvent[], string | undefined]>;

/**
 * Sees the batches leaving a component output (`tern tap`). Called synchronously on the data path,
 * so it must be cheap: take what its rate limit allows and serialise it, nothing more.
 */
export type TapListener = (key: string, events: readonly LogEvent[]) => void;

export class Router {
  private consumers = new Map<string, Consumer[]>();
  /** Output key → listeners; one Map lookup per dispatch, and only while a tap is attached. */
  private readonly taps = new Map<string, Set<TapListener>>();
  private readonly pendingAsync = new Set<Promise<void>>();
  private readonly logger: Logger;
  private readonly limiter: LogLimiter;

  constructor(logger: Logger) {
    this.logger = logger;
    this.limiter = new LogLimiter(logger);
  }

  connect(key: string, consumers: Consumer[]): void {
    this.consumers.set(key, consumers);
  }

  /**
   * Replaces the whole wiring at once (start-up and reload). Dispatch is synchronous, so a batch is
   * routed either entirely by the old wiring or entirely by the new one.
   */
  rewire(wiring: ReadonlyMap<string, Consumer[]>): void {
    this.consumers = new Map(wiring);
  }

  /** Attaches a tap to an output key (`id`, `id.name`); returns the detach function. */
  tap(key: string, listener: TapListener): () => void {
    let set = this.taps.get(key);
    if (set === undefined) this.taps.set(key, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.taps.get(key) === set) this.taps.delete(key);
    };
  }

  /** Counters of a transform node. */
  static counters(t: ComponentTelemetry): TransformNode['c'] {
    return { in: t.counter('events_in'), out: t.counter('events_out'), inBytes: t.counter('event_bytes_in'), outBytes: t.counter('event_bytes_out'), errors: t.counter('errors'), rejected: t.counter('events_rejected'), deadLettered: t.counter('events_dead_lettered') };
  }

  /** Hands `events` (all of one source batch, `group`) to every consumer of output `key`. */
  dispatch(key: string, events: LogEvent[], group: AckGroup): void {
    if (this.taps.size > 0) this.tapped(key, events);
    const consumers = this.consumers.get(key);
    if (!consumers) return;
    for (const c of consumers) {
      const evs = c.clone ? this.copiesFor(c, events, group) : events;
      if (evs.length === 0) continue;
      if (c.sink) {
        const ref = group.ref();
        try {
          c.sink.accept({ events: evs, ack: ref });
        } catch (e) {
          c.sinkTelemetry?.counter('events_rejected').inc(evs.length);
          this.logger.error({ component: c.id, err: e, code: 'TERN_ERR_REJECTED', events: evs.length }, 'sink threw on a batch (bug); its events are counted as rejected');
          if (!ref.released) ref.release('rejected');
        }
      } else if (c.transform) this.runTransform(c.transform, evs, group);
    }
  }

  private tapped(key: string, events: readonly LogEvent[]): void {
    const set = this.taps.get(key);
    if (set === undefined) return;
    for (const l of set) {
      try {
        l(key, events);
      } catch (err) {
        this.limiter.log('warn', `tap:${key}`, { err }, 'a tap failed on a batch (the batch goes on)');
      }
    }
  }

  /** Copies for a changing branch; an event that cannot be copied is refused by that branch alone. */
  private copiesFor(c: Consumer, events: LogEvent[], group: AckGroup): LogEvent[] {
    const out: LogEvent[] = new Array<LogEvent>(events.length);
    let n = 0;
    for (const e of events) {
      try {
        out[n++] = e.clone();
      } catch (err) {
        n--;
        if (c.transform) this.refuse(c.transform, [e], { reason: (err as Error).message, code: 'TERN_ERR_EVENT_ENCODE' }, group);
      }
    }
    out.length = n;
    return out;
  }

  /** `again`: events a closed instance of this transform handed back, already counted in when they first came. */
  private runTransform(node: TransformNode, events: LogEvent[], group: AckGroup, again = false): void {
    if (!again) {
      node.c.in.inc(events.length);
      node.c.inBytes.inc(eventBytes(events));
    }
    const emitted: Emitted = [];
    const emit: Emit = (out, output) => {
      if (out.length > 0) emitted.push([out, output]);
    };
    const refuse: Refuse = (evs, info) => this.refuse(node, evs, info, group);
    const versions = node.mutates ? versionsOf(events) : undefined;
    let r: void | Promise<void>;
    try {
      r = node.transform.process(events, emit, refuse);
    } catch (err) {
      this.isolate(node, events, versions, err, group);
      return;
    }
    if (r instanceof Promise) {
      // Emits may come later (a worker thread): hold the batch until they did.
      const ref = group.ref();
      const p: Promise<void> = r.then(
        () => {
          this.flush(node, emitted, group);
          ref.release();
        },
        (err: unknown) => {
          if (isTernError(err) && err.code === 'TERN_ERR_TRANSFORM_CLOSED') {
            // Closed before it finished (a reload replaced it, or tern stops): what it emitted goes on,
            // the rest runs again through its replacement. With none, the reference stays held: the
            // events are neither lost nor acknowledged undelivered, the checkpoint stays before them (read
            // again after a restart) and the run reports them as still in flight, which they are.
            this.flush(node, emitted, group);
            if (this.rerun(node, (err as TransformClosedError<LogEvent>).events, group)) ref.release();
            return;
          }
          // A transform that fails asynchronously as a whole (a bug): its events are refused, not lost silently.
          node.c.errors.inc();
          this.flush(node, emitted, group);
          this.refuse(node, events, { reason: `transform failed: ${(err as Error).message}`, code: 'TERN_ERR_TRANSFORM' }, group);
          ref.release();
        },
      );
      this.pendingAsync.add(p);
      void p.finally(() => this.pendingAsync.delete(p));
      return;
    }
    this.flush(node, emitted, group);
  }

  /**
   * Events a closed transform handed back run through the transform that now has its id (a reload
   * replaced it). Without one (tern stops, or the transform was removed) they are left unacknowledged
   * (the caller keeps its reference): the checkpoint stays before them and they are read again after a
   * restart. Returns whether they ran again.
   */
  private rerun(node: TransformNode, events: LogEvent[], group: AckGroup): boolean {
    if (events.length === 0) return true;
    let next: Consumer | undefined;
    for (const cs of this.consumers.values()) {
      next = cs.find((c) => c.id === node.id && c.transform !== undefined && c.transform.transform !== node.transform);
      if (next !== undefined) break;
    }
    if (next?.transform === undefined) {
      this.limiter.log(
        'error',
        `closed:${node.id}`,
        { component: node.id, code: 'TERN_ERR_TRANSFORM_CLOSED', events: events.length },
        'transform closed before it finished these events and nothing replaced it; they stay unacknowledged and are read again after a restart',
      );
      return false;
    }
    this.limiter.log(
      'warn',
      `rerun:${node.id}`,
      { component: node.id, code: 'TERN_ERR_TRANSFORM_CLOSED', events: events.length },
      'transform closed before it finished these events; running them through the transform that replaced it',
    );
    const evs = next.clone ? this.copiesFor(next, events, group) : events;
    if (evs.length > 0) this.runTransform(next.transform, evs, group, true);
    return true;
  }

  private flush(node: TransformNode, emitted: Emitted, group: AckGroup): void {
    for (const [out, output] of emitted) {
      node.c.out.inc(out.length);
      node.c.outBytes.inc(eventBytes(out));
      this.dispatch(output === undefined ? node.id : `${node.id}.${output}`, out, group);
    }
  }

  /** After a throw: each event again, alone; only those that fail alone are refused. */
  private isolate(node: TransformNode, events: LogEvent[], versions: Uint32Array | undefined, err: unknown, group: AckGroup): void {
    node.c.errors.inc();
    this.limiter.log('error', `transform:${node.id}`, { component: node.id, err, events: events.length }, 'transform failed on a batch; running its events one by one so only the failing ones are refused');
    const touched: LogEvent[] = [];
    for (let i = 0; i < events.length; i++) {
      const ev = events[i] as LogEvent;
      // Changed by the failed attempt already: running it again would change it twice.
      if (versions !== undefined && ev.version !== versions[i]) {
        touched.push(ev);
        continue;
      }
      const emitted: Emitted = [];
      try {
        const r = node.transform.process([ev], (out, output) => {
          if (out.length > 0) emitted.push([out, output]);
        }, (evs, info) => this.refuse(node, evs, info, group));
        if (r instanceof Promise) throw new Error('an asynchronous transform threw synchronously');
      } catch (e) {
        this.refuse(node, [ev], { reason: `transform failed: ${(e as Error).message}`, code: isTernError(e) ? e.code : 'TERN_ERR_TRANSFORM' }, group);
        continue;
      }
      this.flush(node, emitted, group);
    }
    if (touched.length > 0) this.flush(node, [[touched, undefined]], group);
  }

  /** Events a transform refuses: to its dead-letter output, or counted as rejected. */
  private refuse(node: TransformNode, events: LogEvent[], info: readonly DeadLetterInfo[] | DeadLetterInfo, group: AckGroup): void {
    if (events.length === 0) return;
    const ref = group.ref();
    if (node.deadLetters.connected) {
      node.deadLetters.send(events, info, (status) => {
        node.c.deadLettered.inc(events.length);
        ref.release(status === 'rejected' ? 'rejected' : 'dead_lettered');
      });
      return;
    }
    node.c.rejected.inc(events.length);
    const first = Array.isArray(info) ? (info[0] as DeadLetterInfo) : (info as DeadLetterInfo);
    const sample = originalText(events[0] as LogEvent);
    this.limiter.log(
      'error',
      `refused:${node.id}:${first.reason.slice(0, 60)}`,
      { component: node.id, code: first.code ?? 'TERN_ERR_TRANSFORM', events: events.length, reason: first.reason, sample: sample.length > 500 ? `${sample.slice(0, 500)}…` : sample },
      `transform refused events and nothing reads ${node.id}.${DEAD_LETTER_OUTPUT}; they are lost and counted as events_rejected`,
    );
    ref.release('rejected');
  }

  /**
   * The dead-letter output of a component: builds dead-letter events and dispatches them as a batch of
   * their own. Whether something reads it follows the current wiring, so a reload that adds or removes
   * a reader of `<id>.dead_letter` changes it for a component that keeps running.
   */
  deadLetterOutput(by: DeadLetterOrigin): DeadLetterOutput {
    const key = `${by.id}.${DEAD_LETTER_OUTPUT}`;
    const consumers = (): Map<string, Consumer[]> => this.consumers;
    return {
      get connected(): boolean {
        return (consumers().get(key)?.length ?? 0) > 0;
      },
      send: (events, info, done: (status: DeliveryStatus) => void) => {
        const now = Date.now();
        const dl = events.map((ev, i) => deadLetterEvent(ev, by, Array.isArray(info) ? ((info[i] ?? info[0]) as DeadLetterInfo) : (info as DeadLetterInfo), now));
        const g = new AckGroup(dl.length, 0, (status) => done(status));
        const own = g.ref();
        this.dispatch(key, dl, g);
        own.release();
      },
    };
  }

  /** Batches inside asynchronous transforms. */
  get asyncPending(): number {
    return this.pendingAsync.size;
  }

  /** Waits until no batch is inside an asynchronous transform (emits from them may start more), or the deadline. */
  async asyncIdle(deadline: AbortSignal): Promise<void> {
    while (this.pendingAsync.size > 0 && !deadline.aborted) {
      await Promise.race([Promise.all([...this.pendingAsync]), new Promise((r) => deadline.addEventListener('abort', r, { once: true }))]);
    }
  }

  /** Logs pending rate-limited summaries (at shutdown). */
  flushLogs(): void {
    this.limiter.flush();
  }
}

function versionsOf(events: readonly LogEvent[]): Uint32Array {
  const v = new Uint32Array(events.length);
  for (let i = 0; i < events.length; i++) v[i] = (events[i] as LogEvent).version;
  return v;
}
