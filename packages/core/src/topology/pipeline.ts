/**
 * The running pipeline: builds components from a validated config, wires them, runs the sources and
 * shuts everything down in order.
 *
 * Data path. Events move in batches by direct, synchronous calls: a source's `emit` dispatches the
 * batch through every transform on the way and into each sink's `accept`, in one call stack, with no
 * per-event promise and no per-batch queue between stages. rxjs is not used on the data path: its
 * streams are push-only and have no backpressure, which is the property this path needs most.
 * Backpressure and the memory bound come from the in-flight budget (budget.ts) that a source must
 * hold for a batch until every sink acknowledged it. rxjs wires the control plane instead: shutdown
 * triggers and the race between "all sources finished" and "stop requested".
 *
 * Fan-out. One output may feed several consumers. Events are shared, not copied, unless a consumer
 * (or anything downstream of it) changes events: such a consumer gets copies, so a sink holding the
 * original never sees another branch's edits.
 */
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { firstValueFrom, from, fromEvent, map, race, take, type Observable } from 'rxjs';
import type { ComponentConfig, PipelineConfig } from '../config/load.ts';
import { AckGroup, type AckCallback } from '../event/ack.ts';
import type { LogEvent } from '../event/event.ts';
import type { ComponentContext, Sink, Source, SourceContext, Transform } from '../plugin/types.ts';
import { TernError } from '../errors.ts';
import { Telemetry, type ComponentTelemetry, type Counter } from '../telemetry/telemetry.ts';
import { InFlightBudget } from './budget.ts';
import { TransformWorkerPool } from './worker-pool.ts';
import { parseInput, topologicalOrder } from './graph.ts';

interface Consumer {
  readonly id: string;
  readonly clone: boolean;
  readonly sink?: Sink;
  readonly transform?: TransformNode;
}

interface TransformNode {
  readonly id: string;
  readonly transform: Transform;
  readonly mutates: boolean;
  readonly eventsIn: Counter;
  readonly eventsOut: Counter;
  readonly errors: Counter;
}

export interface PipelineOptions {
  logger: Logger;
  once?: boolean;
  telemetry?: Telemetry;
  /** Log every component's counters at this interval (0: only at shutdown). */
  statsIntervalMs?: number;
}

export type StopReason = 'signal' | 'sources_done' | 'error';

export interface RunResult {
  /** True when every event read was acknowledged by every sink before exit. */
  drained: boolean;
  reason: StopReason;
  telemetry: Record<string, Record<string, number>>;
}

export class Pipeline {
  readonly config: PipelineConfig;
  readonly telemetry: Telemetry;
  readonly budget: InFlightBudget;
  private readonly logger: Logger;
  private readonly once: boolean;
  private readonly statsIntervalMs: number;
  private readonly stopController = new AbortController();
  private readonly consumers = new Map<string, Consumer[]>();
  private readonly sources: Array<{ id: string; source: Source }> = [];
  private readonly sinks: Array<{ id: string; sink: Sink }> = [];
  private readonly transforms = new Map<string, TransformNode>();
  private stopReason: StopReason = 'signal';
  private built = false;
  private onLateStop: (() => void) | undefined;
  private readonly pendingAsync = new Set<Promise<void>>();
  private readonly pools: TransformWorkerPool[] = [];

  constructor(config: PipelineConfig, opts: PipelineOptions) {
    this.config = config;
    this.logger = opts.logger;
    this.once = opts.once ?? false;
    this.statsIntervalMs = opts.statsIntervalMs ?? 0;
    this.telemetry = opts.telemetry ?? new Telemetry();
    this.budget = new InFlightBudget(config.inFlight.maxEvents, config.inFlight.maxBytes);
  }

  /** Aborted when shutdown begins. */
  get signal(): AbortSignal {
    return this.stopController.signal;
  }

  /** Requests a graceful shutdown (idempotent). */
  stop(reason: StopReason = 'signal'): void {
    if (this.stopController.signal.aborted) {
      this.onLateStop?.();
      return;
    }
    this.stopReason = reason;
    this.stopController.abort();
  }

  private context(c: ComponentConfig): ComponentContext {
    return {
      id: c.id,
      kind: c.kind,
      type: c.type,
      logger: this.logger.child({ component: c.id }),
      telemetry: this.telemetry.component(c.id),
      dataDir: this.config.dataDir,
      host: process.env.NODE_NAME || hostname(),
      signal: this.stopController.signal,
      once: this.once,
      configDir: c.configDir,
    };
  }

  /** Builds every component (sinks first, so a source never emits into nothing). */
  async build(): Promise<void> {
    if (this.built) return;
    this.built = true;
    mkdirSync(this.config.dataDir, { recursive: true });
    const order = topologicalOrder(this.config.components).reverse();
    const byId = new Map(this.config.components.map((c) => [c.id, c]));
    const mutatesDownstream = new Map<string, boolean>();
    const pending: Array<{ c: ComponentConfig; consumer: Omit<Consumer, 'clone'>; mutating: boolean }> = [];

    for (const c of order) {
      const ctx = this.context(c);
      const def = c.definition;
      let built: Omit<Consumer, 'clone'> | undefined;
      try {
        if (def.kind === 'sink') {
          const sink = await def.build(c.options as never, ctx);
          this.sinks.push({ id: c.id, sink });
          built = { id: c.id, sink };
          mutatesDownstream.set(c.id, false);
        } else if (def.kind === 'transform') {
          let transform: Transform;
          if (c.workers > 0 && def.module !== undefined) {
            const pool = new TransformWorkerPool({ module: def.module, type: c.type, options: c.options }, c.workers, ctx);
            this.pools.push(pool);
            await pool.ready();
            transform = pool;
          } else transform = await def.build(c.options as never, ctx);
          const node = this.transformNode(c.id, transform, def.mutates, ctx.telemetry);
          this.transforms.set(c.id, node);
          built = { id: c.id, transform: node };
          const down = def.mutates || this.readersOf(c.id).some((r) => mutatesDownstream.get(r) === true);
          mutatesDownstream.set(c.id, down);
        } else {
          const sctx = this.sourceContext(c, ctx);
          const source = await def.build(c.options as never, sctx);
          this.sources.push({ id: c.id, source });
        }
      } catch (e) {
        throw new TernError('TERN_ERR_BUILD', `${c.file}:${c.line}: ${c.id}: ${(e as Error).message}`, { cause: e });
      }
      if (built) pending.push({ c, consumer: built, mutating: mutatesDownstream.get(c.id) === true });
    }

    // Wire consumers per output key, deciding where copies are needed.
    const groups = new Map<string, Array<{ consumer: Omit<Consumer, 'clone'>; mutating: boolean }>>();
    for (const p of pending) {
      for (const ref of p.c.inputs) {
        const { id, output } = parseInput(ref, byId);
        const key = output === undefined ? id : `${id}.${output}`;
        let g = groups.get(key);
        if (!g) groups.set(key, (g = []));
        g.push({ consumer: p.consumer, mutating: p.mutating });
      }
    }
    for (const [key, g] of groups) {
      const mutating = g.filter((x) => x.mutating).length;
      const list: Consumer[] = g.map((x, i) => ({
        ...x.consumer,
        // Copy for a changing branch unless every consumer changes events, in which case the last may keep the original.
        clone: g.length > 1 && x.mutating && !(mutating === g.length && i === g.length - 1),
      }));
      this.consumers.set(key, list);
    }
  }

  private readersOf(id: string): string[] {
    const byId = new Map(this.config.components.map((c) => [c.id, c]));
    return this.config.components.filter((c) => c.inputs.some((r) => parseInput(r, byId).id === id)).map((c) => c.id);
  }

  private transformNode(id: string, transform: Transform, mutates: boolean, t: ComponentTelemetry): TransformNode {
    return { id, transform, mutates, eventsIn: t.counter('events_in'), eventsOut: t.counter('events_out'), errors: t.counter('errors') };
  }

  private sourceContext(c: ComponentConfig, ctx: ComponentContext): SourceContext {
    const key = c.id;
    const t = ctx.telemetry;
    const out = t.counter('events_out');
    const budget = this.budget;
    return {
      ...ctx,
      emit: (events: LogEvent[], onAck?: AckCallback, bytes?: number, signal?: AbortSignal): Promise<void> => {
        if (events.length === 0) return Promise.resolve();
        let size = bytes;
        if (size === undefined) {
          size = 0;
          for (const e of events) size += e.size;
        }
        const n = events.length;
        const dispatchNow = (): void => {
          const group = new AckGroup(n, size, (status, g) => {
            budget.release(g.events, g.bytes);
            if (onAck) onAck(status, g);
          });
          out.inc(n);
          this.dispatch(key, events, group);
          group.release();
        };
        const wait = budget.acquire(n, size, signal);
        if (wait === undefined) {
          dispatchNow();
          return Promise.resolve();
        }
        return wait.then(dispatchNow);
      },
    } as SourceContext;
  }

  private dispatch(key: string, events: LogEvent[], ack: AckGroup): void {
    const consumers = this.consumers.get(key);
    if (!consumers) return;
    for (const c of consumers) {
      const evs = c.clone ? events.map((e) => e.clone()) : events;
      if (c.sink) {
        ack.retain();
        try {
          c.sink.accept({ events: evs, ack });
        } catch (e) {
          this.logger.error({ component: c.id, err: e }, 'sink refused a batch; its events are counted as rejected');
          ack.release('rejected');
        }
      } else if (c.transform) {
        this.runTransform(c.transform, evs, ack);
      }
    }
  }

  private runTransform(node: TransformNode, events: LogEvent[], ack: AckGroup): void {
    node.eventsIn.inc(events.length);
    const emit = (out: LogEvent[], output?: string): void => {
      if (out.length === 0) return;
      node.eventsOut.inc(out.length);
      this.dispatch(output === undefined ? node.id : `${node.id}.${output}`, out, ack);
    };
    let r: void | Promise<void>;
    try {
      r = node.transform.process(events, emit);
    } catch (e) {
      node.errors.inc();
      this.logger.error({ component: node.id, err: e }, 'transform failed on a batch; the batch is dropped');
      return;
    }
    if (r instanceof Promise) {
      // Emits may come later (a worker thread): hold the batch's acknowledgement until they did.
      ack.retain();
      const p: Promise<void> = r.then(
        () => ack.release(),
        (e: unknown) => {
          node.errors.inc();
          this.logger.error({ component: node.id, err: e }, 'transform failed on a batch; the batch is dropped');
          ack.release();
        },
      );
      this.pendingAsync.add(p);
      void p.finally(() => this.pendingAsync.delete(p));
    }
  }

  /** Waits until no batch is inside an asynchronous transform (emits from them may start more). */
  private async asyncIdle(deadline: AbortSignal): Promise<void> {
    while (this.pendingAsync.size > 0 && !deadline.aborted) {
      await Promise.race([Promise.all([...this.pendingAsync]), new Promise((r) => deadline.addEventListener('abort', r, { once: true }))]);
    }
  }

  /**
   * Runs until the sources finish (finite inputs, `--once`) or `stop()` is called, then drains:
   * sinks flush within the shutdown deadline and sources write their last checkpoints.
   */
  async run(): Promise<RunResult> {
    await this.build();
    for (const { id, sink } of this.sinks) {
      try {
        await sink.start?.();
      } catch (e) {
        throw new TernError('TERN_ERR_BUILD', `${id}: cannot start: ${(e as Error).message}`, { cause: e });
      }
    }
    const stats =
      this.statsIntervalMs > 0
        ? setInterval(() => this.logger.info({ counters: this.telemetry.snapshot(), in_flight_events: this.budget.events, in_flight_bytes: this.budget.bytes }, 'stats'), this.statsIntervalMs).unref()
        : undefined;
    const running = this.sources.map(({ id, source }) =>
      source.run().catch((e: unknown) => {
        this.logger.error({ component: id, err: e }, 'source stopped with an error');
        this.stop('error');
      }),
    );
    const sourcesDone$: Observable<StopReason> = from(Promise.all(running)).pipe(map(() => 'sources_done' as const));
    const stop$: Observable<StopReason> = fromEvent(this.stopController.signal, 'abort').pipe(map(() => this.stopReason));
    const reason = this.stopController.signal.aborted ? this.stopReason : await firstValueFrom(race(sourcesDone$, stop$).pipe(take(1)));
    this.logger.info({ reason, in_flight: this.budget.events }, reason === 'sources_done' ? 'inputs finished; draining' : 'shutting down; draining');
    this.stop(reason);

    // Deadline: for a stop request it runs from now. After inputs finished on their own (--once,
    // stdin EOF) a long drain is legitimate (a backfill into a slow sink), so the deadline applies to
    // a drain that stopped moving: no acknowledgement for shutdown_timeout_ms (a sink paused on bad
    // credentials, a dead endpoint), or to a stop request that comes during the drain.
    const deadline = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let stall: NodeJS.Timeout | undefined;
    const arm = (): void => {
      timer ??= setTimeout(() => deadline.abort(), this.config.shutdownTimeoutMs);
    };
    if (reason !== 'sources_done') arm();
    else {
      let seen = this.budget.released;
      let still = Date.now();
      stall = setInterval(() => {
        if (this.budget.released !== seen || this.budget.events === 0) {
          seen = this.budget.released;
          still = Date.now();
        } else if (Date.now() - still >= this.config.shutdownTimeoutMs) {
          this.logger.error({ undelivered_events: this.budget.events, stalled_ms: Date.now() - still }, 'no sink acknowledged anything for shutdown_timeout_ms; giving up the drain');
          deadline.abort();
        }
      }, Math.min(1000, Math.max(10, this.config.shutdownTimeoutMs / 4))).unref();
    }
    this.onLateStop = arm;
    await Promise.all(running);
    await this.asyncIdle(deadline.signal);
    // A sink's stop honours the deadline by contract; the race makes sure a sink that does not
    // cannot hold the process past it.
    const deadlinePassed = new Promise<void>((r) => deadline.signal.addEventListener('abort', () => r(), { once: true }));
    await Promise.race([
      Promise.all(this.sinks.map(({ id, sink }) => sink.stop(deadline.signal).catch((e: unknown) => this.logger.error({ component: id, err: e }, 'sink failed to stop cleanly')))),
      deadlinePassed,
    ]);
    if (!deadline.signal.aborted) await Promise.race([this.budget.idle(), deadlinePassed]);
    this.onLateStop = undefined;
    if (timer) clearTimeout(timer);
    if (stall) clearInterval(stall);
    if (stats) clearInterval(stats);
    for (const pool of this.pools) await pool.close();
    for (const { id, source } of this.sources) {
      await source.close?.().catch((e: unknown) => this.logger.error({ component: id, err: e }, 'source failed to close'));
    }
    const drained = this.budget.events === 0;
    const telemetry = this.telemetry.snapshot();
    if (drained) this.logger.info({ counters: telemetry }, 'stopped; everything read was delivered');
    else this.logger.error({ code: 'TERN_ERR_SHUTDOWN_TIMEOUT', undelivered_events: this.budget.events, counters: telemetry }, 'stopped before every sink acknowledged; undelivered events will be read again on restart');
    return { drained, reason, telemetry };
  }
}
