/**
 * Runs a transform in worker threads (`workers: N` on a transform whose definition names its
 * module). The main thread keeps reading and sending; each batch goes, as JSON text, to the least
 * busy worker, which runs the same transform built from the same options and answers with what to
 * emit. Unchanged events keep their objects; changed ones get the worker's JSON text
 * (`replaceSerialized`), so their fields are parsed again only if a later stage reads them.
 *
 * Supervision. A worker that exits (a crash, an out-of-memory kill, `process.exit` in a plugin) is
 * replaced, counted (`worker_restarts`) and logged; the batches it held run again on a live worker.
 * A replacement that fails to start (its transform cannot be built now: a database being replaced,
 * no file descriptors left) ran nothing, so nothing it held is blamed: its batches go to another
 * worker or wait, and the next one starts after a backoff (100 ms doubling to 5 s, logged at most
 * once per 10 s), so a build that keeps failing neither spins nor refuses good events.
 * A batch that was running (the oldest of its worker's queue) when two workers died is split in
 * halves, so a poisoned event ends up alone: an event that crashes a worker on its own is refused (its dead letter), and
 * everything else is delivered. Nothing a worker did not finish is ever acknowledged.
 *
 * Closing. A batch the pool did not finish when it is closed (one waiting for a worker that cannot
 * start, one a worker was still running) is handed back: `process` rejects with a
 * `TransformClosedError` naming its unfinished events, and the router runs them again through the
 * transform that replaced this one (a reload), or, with none (tern stops, the transform was removed),
 * leaves them unacknowledged so they are read again after a restart. Handing back rather than failing
 * them keeps both promises: no event is lost and none is acknowledged before it was delivered.
 * Failing them would refuse good events (dead letter or rejected: acknowledged); never settling them,
 * as before, held their budget and checkpoint until a restart even when a replacement could run them,
 * and made every later drain wait its whole deadline for a promise nothing would settle.
 *
 * Batches may come back out of order across workers; acknowledgements do not care (the file source
 * commits only contiguous prefixes). Memory stays inside the pipeline's in-flight budget, which
 * counts these events until every sink took them.
 */
import { Worker } from 'node:worker_threads';
import type { EventOrigin, LogEvent } from '../event/event.ts';
import { TransformClosedError } from '../errors.ts';
import type { ComponentContext, Emit, Refuse, Transform } from '../plugin/types.ts';
import { LogLimiter } from '../telemetry/log-limit.ts';
import type { Counter } from '../telemetry/telemetry.ts';
import type { WorkerAnswer, WorkerBatch, WorkerInit } from './transform-worker.ts';

interface Pending {
  readonly events: LogEvent[];
  readonly emit: Emit;
  readonly refuse: Refuse | undefined;
  readonly done: () => void;
  /** The pool closed before the batch finished: these of its events were neither emitted nor refused. */
  readonly back: (events: LogEvent[]) => void;
  /** Workers this batch was inside when they died. */
  crashes: number;
}

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  live: boolean;
  /** The worker built its transform and said so: from then on it runs what it is sent. */
  started: boolean;
  /** Why it could not start, when it said. */
  fatal?: string;
  readonly pending: Map<number, Pending>;
}

/** Backoff before starting a worker again after one failed to start: 100 ms doubling to 5 s. */
const startBackoff = (failures: number): number => Math.min(5000, 100 * 2 ** Math.min(failures - 1, 6));

/** A batch inside this many crashed workers is split to isolate what crashes them. */
const CRASHES_BEFORE_SPLIT = 2;

export class TransformWorkerPool implements Transform {
  private readonly slots: Slot[] = [];
  private seq = 0;
  private closing = false;
  private readonly ctx: ComponentContext;
  private readonly url: URL;
  private readonly data: WorkerInit;
  private readonly restarts: Counter;
  private readonly limiter: LogLimiter;
  /** Batches waiting for a live worker (every one failed to start and waits for its backoff). */
  private readonly queue: Pending[] = [];
  /** Consecutive start failures (reset when a worker starts). */
  private startFailures = 0;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(init: Omit<WorkerInit, 'id' | 'dataDir' | 'configDir' | 'host'>, n: number, ctx: ComponentContext) {
    this.ctx = ctx;
    const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
    this.url = new URL(`./transform-worker${ext}`, import.meta.url);
    this.data = { ...init, id: ctx.id, dataDir: ctx.dataDir, configDir: ctx.configDir, host: ctx.host };
    this.restarts = ctx.telemetry.counter('worker_restarts');
    this.limiter = new LogLimiter(ctx.logger);
    for (let i = 0; i < n; i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const worker = new Worker(this.url, { workerData: this.data });
    worker.unref();
    const slot: Slot = { worker, ready: Promise.resolve(), live: true, started: false, pending: new Map() };
    slot.ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (m: WorkerAnswer | { ready: true } | { fatal: string }) => {
        if ('ready' in m) {
          slot.started = true;
          this.startFailures = 0;
          return resolve();
        }
        if ('fatal' in m) {
          slot.fatal = m.fatal;
          reject(new Error(`transform worker failed to start: ${m.fatal}`));
          // A failed build may leave a handle open (a timer, a half-opened client) that keeps the
          // thread alive, and only `exit` drives supervision (backoff, log, resubmission): end it here.
          void worker.terminate();
          return;
        }
        this.answer(slot, m);
      });
      worker.on('error', (err) => {
        this.ctx.logger.error({ err, code: 'TERN_ERR_WORKER' }, 'transform worker threw an uncaught error');
        reject(err);
      });
      worker.on('exit', (code) => {
        reject(new Error(`transform worker exited with code ${code} before it was ready`));
        if (!this.closing) this.crashed(slot, code);
      });
    });
    slot.ready.catch(() => undefined);
    return slot;
  }

  /** Resolves once every worker built its transform (build errors surface here, at start-up: the pool then stops). */
  async ready(): Promise<void> {
    try {
      await Promise.all(this.slots.map((s) => s.ready));
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  /** A worker died: replace it and run what it held again. */
  private crashed(slot: Slot, code: number): void {
    if (!slot.live) return;
    slot.live = false;
    this.restarts.inc();
    const held = [...slot.pending.values()];
    slot.pending.clear();
    if (!slot.started) {
      this.failedToStart(slot, code, held);
      return;
    }
    this.ctx.logger.error(
      { code: 'TERN_ERR_WORKER', exit_code: code, batches: held.length, events: held.reduce((a, p) => a + p.events.length, 0) },
      'transform worker exited; replacing it and running its unfinished batches again',
    );
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots[i] = this.spawn();
    // A worker handles its batches in order: only the oldest was running when it died. The others
    // only waited behind it and are resubmitted without blame.
    for (const [i, p] of held.entries()) {
      if (i > 0) {
        this.submit(p);
        continue;
      }
      p.crashes++;
      if (p.crashes < CRASHES_BEFORE_SPLIT) this.submit(p);
      else if (p.events.length > 1) this.splitAndSubmit(p);
      else {
        // This event crashes workers on its own: refuse it (dead letter) rather than crash forever.
        p.refuse?.(p.events, { reason: `the event crashed the transform worker ${p.crashes} times (exit code ${code})`, code: 'TERN_ERR_WORKER' });
        p.done();
      }
    }
  }

  /** A worker exited before it built its transform: it ran nothing, so its batches go elsewhere unblamed; another starts after a backoff. */
  private failedToStart(slot: Slot, code: number, held: Pending[]): void {
    const wait = startBackoff(++this.startFailures);
    this.limiter.log(
      'error',
      'start',
      { code: 'TERN_ERR_WORKER', exit_code: code, reason: slot.fatal, retry_in_ms: wait, batches: held.length },
      `transform worker failed to start (${slot.fatal ?? `exit code ${code}`}); starting another in ${wait} ms, its batches wait for a worker`,
    );
    const t = setTimeout(() => {
      this.timers.delete(t);
      const i = this.slots.indexOf(slot);
      if (this.closing || i < 0) return;
      this.slots[i] = this.spawn();
      this.drainQueue();
    }, wait);
    t.unref();
    this.timers.add(t);
    for (const p of held) this.submit(p);
  }

  /** Batches that waited for a live worker go to one. */
  private drainQueue(): void {
    while (this.queue.length > 0 && this.slots.some((s) => s.live)) this.submit(this.queue.shift() as Pending);
  }

  private splitAndSubmit(p: Pending): void {
    const mid = p.events.length >>> 1;
    let left = 2;
    const unfinished: LogEvent[] = [];
    const settled = (): void => {
      if (--left > 0) return;
      if (unfinished.length > 0) p.back(unfinished);
      else p.done();
    };
    const back = (evs: LogEvent[]): void => {
      unfinished.push(...evs);
      settled();
    };
    this.submit({ events: p.events.slice(0, mid), emit: p.emit, refuse: p.refuse, done: settled, back, crashes: p.crashes - 1 });
    this.submit({ events: p.events.slice(mid), emit: p.emit, refuse: p.refuse, done: settled, back, crashes: p.crashes - 1 });
  }

  private answer(slot: Slot, a: WorkerAnswer): void {
    const p = slot.pending.get(a.seq);
    if (!p) return;
    slot.pending.delete(a.seq);
    for (const [k, v] of Object.entries(a.counters)) this.ctx.telemetry.counter(k).inc(v);
    for (const group of a.emitted) {
      const out: LogEvent[] = new Array(group.indexes.length);
      for (let j = 0; j < group.indexes.length; j++) {
        const ev = p.events[group.indexes[j] as number] as LogEvent;
        const text = group.texts[j];
        if (text !== null && text !== undefined) ev.replaceSerialized(text);
        out[j] = ev;
      }
      p.emit(out, group.output);
    }
    if (a.refused.length > 0) {
      this.ctx.telemetry.counter('errors').inc();
      const evs = a.refused.map((r) => p.events[r.index] as LogEvent);
      p.refuse?.(evs, a.refused.map((r) => ({ reason: r.reason, code: 'TERN_ERR_TRANSFORM' as const })));
    }
    p.done();
  }

  process(events: LogEvent[], emit: Emit, refuse?: Refuse): Promise<void> {
    // An event that cannot be serialised to cross to the worker is refused alone.
    let sendable = events;
    for (let i = 0; i < events.length; i++) {
      const ev = events[i] as LogEvent;
      if (!ev.modified && ev.raw !== undefined) continue;
      try {
        ev.toJson();
      } catch (err) {
        if (sendable === events) sendable = events.slice(0, i);
        refuse?.([ev], { reason: (err as Error).message, code: 'TERN_ERR_EVENT_ENCODE' });
        continue;
      }
      if (sendable !== events) sendable.push(ev);
    }
    if (sendable.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const back = (evs: LogEvent[]): void => reject(new TransformClosedError(`transform ${this.ctx.id} closed before it finished ${evs.length} events`, evs));
      if (this.closing) back(sendable);
      else this.submit({ events: sendable, emit, refuse, done: resolve, back, crashes: 0 });
    });
  }

  private submit(p: Pending): void {
    let slot: Slot | undefined;
    for (const s of this.slots) if (s.live && (slot === undefined || s.pending.size < slot.pending.size)) slot = s;
    if (slot === undefined) {
      // Every worker failed to start and waits for its backoff: the batch waits too (its budget stays taken).
      this.queue.push(p);
      return;
    }
    const n = p.events.length;
    const lines: string[] = new Array(n);
    const json = new Uint8Array(n);
    const origins: EventOrigin[] = [];
    const originIndex = new Map<EventOrigin, number>();
    const originOf = new Uint32Array(n);
    const offsets = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const ev = p.events[i] as LogEvent;
      if (!ev.modified && ev.raw !== undefined) {
        lines[i] = ev.raw;
        json[i] = ev.rawFormat === 'json' ? 1 : 0;
      } else {
        lines[i] = ev.toJson();
        json[i] = 1;
      }
      let o = originIndex.get(ev.origin);
      if (o === undefined) {
        o = origins.length;
        originIndex.set(ev.origin, o);
        origins.push(ev.origin);
      }
      originOf[i] = o;
      offsets[i] = ev.offset;
    }
    const seq = ++this.seq;
    // Origins travel whole (path fields, file identity) and offsets as read, so the transform sees
    // exactly what it would see on the main thread.
    const batch: WorkerBatch = { seq, lines, json, origins, originOf, offsets };
    slot.pending.set(seq, p);
    slot.worker.postMessage(batch);
  }

  /** Stops the workers and hands back every batch they did not finish (see "Closing" above). */
  async close(): Promise<void> {
    this.closing = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.limiter.flush();
    // Unfinished batches leave first: an answer that still arrives finds no batch and is ignored, so
    // nothing is both handed back and emitted.
    const unfinished = this.queue.splice(0);
    for (const s of this.slots) {
      unfinished.push(...s.pending.values());
      s.pending.clear();
    }
    for (const p of unfinished) p.back(p.events);
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  /** Test hook: the worker threads (to check supervision). */
  get threads(): readonly Worker[] {
    return this.slots.map((s) => s.worker);
  }
}
