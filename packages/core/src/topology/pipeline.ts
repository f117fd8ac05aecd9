/**
 * The running pipeline: builds components from a validated config, wires them (router.ts), runs the
 * sources, and shuts everything down in order within one absolute deadline.
 *
 * Lifecycle. `run()` proves `data_dir` writable, builds every component (sinks first, so a source
 * never emits into nothing; a dead-letter consumer before the component whose refusals it reads),
 * starts the sinks, then runs the sources until they finish (`--once`, stdin EOF) or `stop()` is
 * called. Stopping aborts the sources and any wait for in-flight budget at once, then, with the
 * deadline (`shutdown_timeout_ms` from the stop request, minus a small reserve for the last
 * checkpoints): waits for batches in worker threads, stops the sinks in graph order (a sink before
 * the consumers of its dead letters) so each flushes and drains what it holds, closes transforms,
 * and lets the sources write their final checkpoints. Every step races the deadline, so a blocked
 * source, a sink mid-retry against a dead endpoint or a busy worker cannot hold the process.
 *
 * After inputs finished on their own a long drain is legitimate (a backfill into a slow sink), so the
 * deadline then applies to a drain that stopped moving: nothing settled for `shutdown_timeout_ms`.
 * With `--once` that watch runs from the start, and when a sink is paused on something only a human
 * fixes (credentials refused, an unsupported server), the run ends with that error.
 *
 * The run's result says exactly what happened (summary.ts): it succeeds only when everything read was
 * delivered, dead-lettered or dropped as configured, and every checkpoint was saved.
 *
 * rxjs wires the control plane here: the race between "every source finished" and "stop requested".
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { firstValueFrom, from, fromEvent, map, race, take, type Observable } from 'rxjs';
import type { ComponentConfig, PipelineConfig } from '../config/load.ts';
import { AckGroup, type AckCallback } from '../event/ack.ts';
import type { LogEvent } from '../event/event.ts';
import type { ComponentContext, Sink, Source, SourceContext, Transform } from '../plugin/types.ts';
import { TernError, isTernError } from '../errors.ts';
import { Telemetry, type ComponentTelemetry } from '../telemetry/telemetry.ts';
import { InFlightBudget } from './budget.ts';
import { ensureDataDir } from './data-dir.ts';
import { hasDeadLetterReaders, parseInput, topologicalOrder } from './graph.ts';
import { Router, type Consumer, type TransformNode } from './router.ts';
import { summarise, type RunSummary } from './summary.ts';
import { TransformWorkerPool } from './worker-pool.ts';

export interface PipelineOptions {
  logger: Logger;
  once?: boolean;
  telemetry?: Telemetry;
  /** Log every component's counters at this interval (0: only at shutdown). */
  statsIntervalMs?: number;
}

export type StopReason = 'signal' | 'sources_done' | 'error';

export interface RunResult {
  /** True when every event read was acknowledged by every sink before exit (nothing left in flight or in memory buffers). */
  drained: boolean;
  /** True when the run may report success (see `RunSummary.ok`). */
  ok: boolean;
  reason: StopReason;
  summary: RunSummary;
  telemetry: Record<string, Record<string, number>>;
  /** The error that stopped the run, if one did. */
  error?: Error;
}

/** Counters whose sum moves when a drain makes progress. */
const PROGRESS = ['events_delivered', 'events_rejected', 'events_dead_lettered', 'events_dropped', 'buffer_events_written'];

export class Pipeline {
  readonly config: PipelineConfig;
  readonly telemetry: Telemetry;
  readonly budget: InFlightBudget;
  private readonly logger: Logger;
  private readonly once: boolean;
  private readonly statsIntervalMs: number;
  private readonly stopController = new AbortController();
  private readonly router: Router;
  private readonly sources: Array<{ id: string; source: Source }> = [];
  private readonly sinks: Array<{ id: string; sink: Sink }> = [];
  private readonly transforms: Array<{ id: string; transform: Transform }> = [];
  private stopReason: StopReason = 'signal';
  private fatalError: Error | undefined;
  private blockedBy: Error | undefined;
  private built = false;
  private onLateStop: (() => void) | undefined;

  constructor(config: PipelineConfig, opts: PipelineOptions) {
    this.config = config;
    this.logger = opts.logger;
    this.once = opts.once ?? false;
    this.statsIntervalMs = opts.statsIntervalMs ?? 0;
    this.telemetry = opts.telemetry ?? new Telemetry();
    this.budget = new InFlightBudget(config.inFlight.maxEvents, config.inFlight.maxBytes);
    this.router = new Router(this.logger);
  }

  /** Aborted when shutdown begins. */
  get signal(): AbortSignal {
    return this.stopController.signal;
  }

  /** Requests a graceful shutdown (idempotent; a later request during a drain arms the deadline). */
  stop(reason: StopReason = 'signal'): void {
    if (this.stopController.signal.aborted) {
      this.onLateStop?.();
      return;
    }
    this.stopReason = reason;
    this.stopController.abort();
  }

  /** Stops the run because of a condition that cannot resolve on its own (`--once`). */
  private fatal(err: Error): void {
    if (this.fatalError !== undefined) return;
    this.fatalError = err;
    this.logger.error({ err, code: 'TERN_ERR_ONCE_FATAL', cause_code: isTernError(err) ? err.code : undefined }, `stopping --once: ${err.message}`);
    this.stop('error');
    this.onLateStop?.();
  }

  /**
   * A sink met a condition that only a human fixes (credentials refused, an unsupported server).
   * With `--once` it is what the run ends with if nothing moves for `shutdown_timeout_ms`: a clear
   * error instead of a wait forever. A sink that resumes (a transient 404, a rotated token) clears it.
   */
  private blocked(err: Error): void {
    this.blockedBy = err;
  }

  private context(c: ComponentConfig): ComponentContext {
    const kind = c.kind;
    return {
      id: c.id,
      kind,
      type: c.type,
      logger: this.logger.child({ component: c.id }),
      telemetry: this.telemetry.component(c.id),
      dataDir: this.config.dataDir,
      host: process.env.NODE_NAME || hostname(),
      signal: this.stopController.signal,
      once: this.once,
      configDir: c.configDir,
      ...(kind !== 'source' ? { deadLetters: this.router.deadLetterOutput({ id: c.id, type: c.type, kind }, hasDeadLetterReaders(c.id, this.config.components)) } : {}),
      ...(this.once ? { fatal: (err: Error) => this.blocked(err) } : {}),
    };
  }

  /** Builds every component: consumers before producers, so nothing emits into nothing. */
  async build(): Promise<void> {
    if (this.built) return;
    this.built = true;
    ensureDataDir(this.config.dataDir);
    const components = this.config.components;
    const byId = new Map(components.map((c) => [c.id, c]));
    const order = topologicalOrder(components).reverse();
    const mutatesDownstream = new Map<string, boolean>();
    const built: Array<{ c: ComponentConfig; consumer: Omit<Consumer, 'clone'>; mutating: boolean }> = [];

    for (const c of order) {
      const ctx = this.context(c);
      const def = c.definition;
      let consumer: Omit<Consumer, 'clone'> | undefined;
      try {
        if (def.kind === 'sink') {
          const sink = await def.build(c.options as never, ctx);
          this.sinks.push({ id: c.id, sink });
          consumer = { id: c.id, sink, sinkTelemetry: ctx.telemetry };
          mutatesDownstream.set(c.id, false);
        } else if (def.kind === 'transform') {
          let transform: Transform;
          if (c.workers > 0 && def.module !== undefined) {
            const pool = new TransformWorkerPool({ module: def.module, type: c.type, options: c.options }, c.workers, ctx);
            await pool.ready();
            transform = pool;
          } else transform = await def.build(c.options as never, ctx);
          this.transforms.push({ id: c.id, transform });
          const node: TransformNode = { id: c.id, type: c.type, transform, mutates: def.mutates, deadLetters: ctx.deadLetters as TransformNode['deadLetters'], c: Router.counters(ctx.telemetry) };
          consumer = { id: c.id, transform: node };
          const down = def.mutates || this.readersOf(c.id, byId).some((r) => mutatesDownstream.get(r) === true);
          mutatesDownstream.set(c.id, down);
        } else {
          const source = await def.build(c.options as never, this.sourceContext(c, ctx));
          this.sources.push({ id: c.id, source });
        }
      } catch (e) {
        if (isTernError(e) && e.code !== 'TERN_ERR_BUILD') throw e;
        throw new TernError('TERN_ERR_BUILD', `${c.file}:${c.line}: ${c.id}: ${(e as Error).message}`, { cause: e });
      }
      if (consumer) built.push({ c, consumer, mutating: mutatesDownstream.get(c.id) === true });
    }

    // Wire consumers per output key, deciding where copies are needed.
    const groups = new Map<string, Array<{ consumer: Omit<Consumer, 'clone'>; mutating: boolean }>>();
    for (const b of built) {
      for (const ref of b.c.inputs) {
        const { id, output } = parseInput(ref, byId);
        const key = output === undefined ? id : `${id}.${output}`;
        let g = groups.get(key);
        if (!g) groups.set(key, (g = []));
        g.push({ consumer: b.consumer, mutating: b.mutating });
      }
    }
    for (const [key, g] of groups) {
      const mutating = g.filter((x) => x.mutating).length;
      this.router.connect(
        key,
        g.map((x, i) => ({
          ...x.consumer,
          // Copy for a changing branch unless every consumer changes events, in which case the last may keep the original.
          clone: g.length > 1 && x.mutating && !(mutating === g.length && i === g.length - 1),
        })),
      );
    }
  }

  private readersOf(id: string, byId: ReadonlyMap<string, ComponentConfig>): string[] {
    return this.config.components.filter((c) => c.inputs.some((r) => parseInput(r, byId).id === id)).map((c) => c.id);
  }

  private sourceContext(c: ComponentConfig, ctx: ComponentContext): SourceContext {
    const key = c.id;
    const out = ctx.telemetry.counter('events_out');
    const budget = this.budget;
    const stopping = this.stopController.signal;
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
          const group = new AckGroup(
            n,
            size,
            onAck === undefined ? undefined : (status, g) => onAck(status, g),
            () => budget.release(n, size),
          );
          const own = group.ref();
          out.inc(n);
          this.router.dispatch(key, events, group);
          own.release();
        };
        // A stop request ends every wait for budget: what was not dispatched is read again after a restart.
        const wait = budget.acquire(n, size, signal === undefined ? stopping : AbortSignal.any([signal, stopping]));
        if (wait === undefined) {
          dispatchNow();
          return Promise.resolve();
        }
        return wait.then(dispatchNow);
      },
    } as SourceContext;
  }

  /** Sinks in the order they must stop: a sink before the consumers of its dead letters. */
  private sinkStopOrder(): Array<{ id: string; sink: Sink }> {
    const rank = new Map(topologicalOrder(this.config.components).map((c, i) => [c.id, i]));
    return [...this.sinks].sort((a, b) => (rank.get(a.id) ?? 0) - (rank.get(b.id) ?? 0));
  }

  /** Sum of the counters that move when events settle anywhere. */
  private progress(): number {
    let n = this.budget.released;
    for (const t of Object.values(this.telemetry.snapshot())) for (const k of PROGRESS) n += t[k] ?? 0;
    return n;
  }

  /**
   * Runs until the sources finish (finite inputs, `--once`) or `stop()` is called, then drains within
   * the deadline and reports what happened.
   */
  async run(): Promise<RunResult> {
    await this.build();
    for (const { id, sink } of this.sinks) {
      try {
        await sink.start?.();
      } catch (e) {
        if (isTernError(e)) throw e;
        throw new TernError('TERN_ERR_BUILD', `${id}: cannot start: ${(e as Error).message}`, { cause: e });
      }
    }
    const stats =
      this.statsIntervalMs > 0
        ? setInterval(() => this.logger.info({ counters: this.telemetry.snapshot(), in_flight_events: this.budget.events, in_flight_bytes: this.budget.bytes }, 'stats'), this.statsIntervalMs).unref()
        : undefined;

    // Deadlines. `drain` ends the waiting for sinks; `hard` ends everything (final checkpoints too).
    const timeout = this.config.shutdownTimeoutMs;
    const reserve = Math.min(2000, Math.floor(timeout / 4));
    const drain = new AbortController();
    const hard = new AbortController();
    const timers: NodeJS.Timeout[] = [];
    const arm = (): void => {
      if (hard.signal.aborted || timers.length > 0) return;
      timers.push(setTimeout(() => drain.abort(), Math.max(0, timeout - reserve)), setTimeout(() => hard.abort(), timeout));
    };
    // A drain that stops moving gives up (after inputs ended on their own, and from the start with --once).
    let stall: NodeJS.Timeout | undefined;
    const watchStall = (): void => {
      if (stall !== undefined) return;
      let seen = this.progress();
      let still = Date.now();
      stall = setInterval(() => {
        const now = this.progress();
        if (now !== seen || (this.budget.events === 0 && this.sinksIdle())) {
          seen = now;
          still = Date.now();
        } else if (Date.now() - still >= timeout) {
          this.logger.error({ code: 'TERN_ERR_ONCE_FATAL', undelivered_events: this.budget.events, stalled_ms: Date.now() - still }, 'nothing was delivered for shutdown_timeout_ms; giving up the drain');
          const why = this.blockedBy !== undefined ? `${this.blockedBy.message}; ` : '';
          clearInterval(stall);
          this.fatal(new TernError('TERN_ERR_ONCE_FATAL', `${why}no progress for shutdown_timeout_ms (${timeout} ms)`));
          drain.abort();
          timers.push(setTimeout(() => hard.abort(), reserve));
        }
      }, Math.min(1000, Math.max(10, timeout / 4))).unref();
    };
    if (this.once) watchStall();

    const running = this.sources.map(({ id, source }) =>
      source.run().catch((e: unknown) => {
        if ((e as Error)?.name === 'AbortError' && this.stopController.signal.aborted) return; // stopped while waiting for budget
        this.logger.error({ component: id, err: e }, 'source stopped with an error');
        this.stop('error');
      }),
    );
    const sourcesDone$: Observable<StopReason> = from(Promise.all(running)).pipe(map(() => 'sources_done' as const));
    const stop$: Observable<StopReason> = fromEvent(this.stopController.signal, 'abort').pipe(map(() => this.stopReason));
    const reason = this.stopController.signal.aborted ? this.stopReason : await firstValueFrom(race(sourcesDone$, stop$).pipe(take(1)));
    this.logger.info({ reason, in_flight: this.budget.events }, reason === 'sources_done' ? 'inputs finished; draining' : 'shutting down; draining');
    this.stop(reason);
    if (reason === 'sources_done' && this.fatalError === undefined) watchStall();
    else arm();
    this.onLateStop = arm;

    const until = (p: Promise<unknown>, signal: AbortSignal): Promise<unknown> =>
      signal.aborted ? Promise.resolve() : Promise.race([p, new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }))]);

    await until(Promise.all(running), drain.signal);
    await this.router.asyncIdle(drain.signal);
    for (const { id, sink } of this.sinkStopOrder()) {
      // A sink's stop honours the deadline by contract; the race makes sure one that does not cannot hold the process.
      await until(
        sink.stop(drain.signal).catch((e: unknown) => this.logger.error({ component: id, err: e }, 'sink failed to stop cleanly')),
        hard.signal,
      );
    }
    for (const { id, transform } of this.transforms) {
      await until(
        (transform.close?.() ?? Promise.resolve()).catch((e: unknown) => this.logger.error({ component: id, err: e }, 'transform failed to close')),
        hard.signal,
      );
    }
    for (const { id, source } of this.sources) {
      await until(
        (source.close?.() ?? Promise.resolve()).catch((e: unknown) => {
          this.telemetry.component(id).counter('checkpoint_errors').inc();
          this.logger.error({ component: id, err: e, code: 'TERN_ERR_CHECKPOINT' }, 'source failed to close (its last checkpoint may not be saved)');
        }),
        hard.signal,
      );
    }
    this.onLateStop = undefined;
    for (const t of timers) clearTimeout(t);
    if (stall) clearInterval(stall);
    if (stats) clearInterval(stats);
    this.router.flushLogs();
    return this.result(reason);
  }

  private sinksIdle(): boolean {
    return this.sinks.every(({ sink }) => {
      const r = sink.report?.();
      return r === undefined || (r.undelivered === 0 && r.buffered === 0);
    });
  }

  private result(reason: StopReason): RunResult {
    const telemetry = this.telemetry.snapshot();
    const summary = summarise({
      sinks: this.sinks.map(({ id, sink }) => ({ id, report: sink.report?.() ?? reportFromCounters(this.telemetry.component(id)) })),
      transforms: this.transforms.map(({ id }) => ({ id, counters: telemetry[id] ?? {} })),
      sources: this.sources.map(({ id }) => ({ id, counters: telemetry[id] ?? {} })),
      inFlight: this.budget.events,
      ...(this.fatalError !== undefined ? { fatal: this.fatalError.message } : {}),
    });
    const drained = this.budget.events === 0 && summary.undelivered === 0;
    const fields = { counters: telemetry, summary: { delivered: summary.delivered, dead_lettered: summary.dead_lettered, rejected: summary.rejected, dropped: summary.dropped, buffered: summary.buffered, undelivered: summary.undelivered + summary.in_flight, sinks: summary.sinks } };
    if (summary.ok) this.logger.info(fields, 'stopped; everything read was delivered');
    else {
      const code = this.fatalError !== undefined && isTernError(this.fatalError) ? this.fatalError.code : summary.rejected > 0 ? 'TERN_ERR_REJECTED' : summary.checkpoint_errors > 0 ? 'TERN_ERR_CHECKPOINT' : 'TERN_ERR_SHUTDOWN_TIMEOUT';
      this.logger.error({ ...fields, code, problems: summary.problems }, `stopped, not everything read was delivered: ${summary.problems.join('; ')}`);
    }
    return { drained, ok: summary.ok, reason, summary, telemetry, ...(this.fatalError !== undefined ? { error: this.fatalError } : {}) };
  }
}

/** For sinks that do not report: what their standard counters say. */
function reportFromCounters(t: ComponentTelemetry): ReturnType<NonNullable<Sink['report']>> {
  const s = t.snapshot();
  const accepted = s.events_in ?? 0;
  const delivered = s.events_delivered ?? 0;
  const rejected = s.events_rejected ?? 0;
  const deadLettered = s.events_dead_lettered ?? 0;
  const dropped = s.events_dropped ?? 0;
  return { delivered, rejected, dead_lettered: deadLettered, dropped, buffered: 0, undelivered: Math.max(0, accepted - delivered - rejected - deadLettered - dropped) };
}
