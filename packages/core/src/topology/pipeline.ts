/**
 * The running pipeline: a diffable topology. `apply(next)` takes the running components from the
 * configuration they run to the next one; start-up is `apply` from nothing, and a reload is the same
 * call with a changed file, so reload has no code path of its own.
 *
 * Each component has its own lifecycle and abort signal (`ComponentContext.signal`): a source stops
 * reading when it is aborted and writes its last checkpoint in `close()`; a sink flushes and drains
 * in `stop(deadline)`; a transform releases its workers in `close()`. A component whose configuration
 * did not change (diff.ts) keeps running across `apply` with its buffer, connections and checkpoints,
 * and is only rewired. For the others, in this order:
 *
 * 1. new and changed sinks and transforms are built and sinks started, then new and changed sources
 *    are built, not run, while the instances they replace still read (a build failure undoes what
 *    was built and leaves the running pipeline as it was: no source is stopped for a replacement
 *    that cannot exist);
 * 2. removed and changed sources are aborted, their in-flight batches waited for (bounded by the
 *    deadline), and closed, so their last checkpoint is written before a new instance reads it
 *    (a source reads its state when it runs, not when it is built);
 * 3. the router switches to the new wiring in one synchronous step (router.ts);
 * 4. new and changed sources run; one that fails once it runs goes back to its previous options,
 *    and when those cannot be built either the run stops with that error (exit 1);
 * 5. changed transforms close (what they did not finish runs through their replacement), removed
 *    and changed sinks drain what they hold and stop, removed transforms close.
 *
 * Nothing read is lost on the way: a batch is routed wholly by the old or the new wiring, a sink that
 * leaves delivers what it accepted before it stops, and what it could not deliver by the deadline
 * stays unacknowledged, so its source's checkpoint does not pass it (read again after a restart).
 *
 * Stopping the run aborts every component at once, then, with the deadline (`shutdown_timeout_ms`
 * from the stop request, minus a small reserve for the last checkpoints): waits for batches in worker
 * threads, stops the sinks in graph order (a sink before the consumers of its dead letters), closes
 * transforms, and lets the sources write their final checkpoints. Every step races the deadline.
 *
 * After inputs finished on their own a long drain is legitimate (a backfill into a slow sink), so the
 * deadline then applies to a drain that stopped moving: nothing settled for `shutdown_timeout_ms`.
 * With `--once` that watch runs from the start, and when a sink is paused on something only a human
 * fixes (credentials refused, an unsupported server), the run ends with that error.
 *
 * The run's result says exactly what happened (summary.ts): it succeeds only when everything read was
 * delivered, dead-lettered or dropped as configured, and every checkpoint was saved.
 *
 * Over 400 lines: `apply` and `run` share the component table, its lifecycles and the stop signal.
 * (Building components is in build.ts, what reads the table in views.ts, the wiring in wiring.ts, the
 * deadlines in deadlines.ts and the account of the run in summary.ts.)
 *
 * rxjs wires the control plane here: "every source finished" (a stream of source exits and applied
 * configurations) races "stop requested"; applies are serialised. The data path stays free of it.
 */
import type { Logger } from 'pino';
import { filter, firstValueFrom, fromEvent, map, merge, race, Subject, take, type Observable } from 'rxjs';
import type { ComponentConfig, PipelineConfig } from '../config/types.ts';
import type { Sink, SinkReport, Source } from '../plugin/types.ts';
import { TernError, isTernError } from '../errors.ts';
import { Telemetry } from '../telemetry/telemetry.ts';
import { InFlightBudget } from './budget.ts';
import { ensureDataDir } from './data-dir.ts';
import { Deadlines, until } from './deadlines.ts';
import { diffTopology, type TopologyDiff } from './diff.ts';
import { topologicalOrder } from './graph.ts';
import { Router, type TapListener } from './router.ts';
import { logSummary, reportFromCounters, summarise, type RunSummary } from './summary.ts';
import type { Node } from './node.ts';
import { wiringFor } from './wiring.ts';
import { ComponentFactory } from './build.ts';
import { componentViews, notReady, tapKeys, type ComponentView } from './views.ts';

export type { ComponentView } from './views.ts';

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

/** What a reload did. */
export interface ApplyResult {
  readonly diff: TopologyDiff;
  /** Components that kept running. */
  readonly kept: readonly string[];
  /** Components built or rebuilt. */
  readonly started: readonly string[];
  /** Components stopped (removed or replaced). */
  readonly stopped: readonly string[];
}

/** A component as it runs now. */

/** Counters whose sum moves when a drain makes progress. */
const PROGRESS = ['events_delivered', 'events_rejected', 'events_dead_lettered', 'events_dropped', 'buffer_events_written'];


export class Pipeline {
  /** The configuration running now (the last one applied). */
  config: PipelineConfig;
  readonly telemetry: Telemetry;
  readonly budget: InFlightBudget;
  private readonly logger: Logger;
  private readonly once: boolean;
  private readonly statsIntervalMs: number;
  private readonly stopController = new AbortController();
  private readonly router: Router;
  /** Builds nodes, their contexts and the components (build.ts). */
  private readonly build: ComponentFactory;
  private nodes = new Map<string, Node>();
  /** Reports of sinks a reload removed that left events undelivered (kept for the run's summary). */
  private readonly retired: Array<{ id: string; report: SinkReport }> = [];
  private applied: PipelineConfig | undefined;
  /** Serialises applies: one reload at a time, and shutdown waits for the one in progress. */
  private applying: Promise<unknown> = Promise.resolve();
  /** Resolves once run() queued the start-up apply: a reload requested before that waits for it. */
  private runCalled!: () => void;
  private readonly startQueued = new Promise<void>((resolve) => (this.runCalled = resolve));
  /**
   * True while a reload changes the running components: sources it stops are not inputs that ended,
   * and the set of sources is incomplete until it finished (`applied$` then checks again).
   */
  private reconfiguring = false;
  private readonly sourceExit$ = new Subject<void>();
  private readonly applied$ = new Subject<void>();
  private stopReason: StopReason = 'signal';
  private fatalError: Error | undefined;
  private blockedBy: Error | undefined;
  private onLateStop: (() => void) | undefined;
  private started = false;
  /** When stop() was first called: the fixed deadline counts from here. */
  private stopRequestedAt: number | undefined;
  /** Reload accounting (metrics). */
  readonly reloads = { applied: 0, rejected: 0, lastAppliedMs: 0 };

  constructor(config: PipelineConfig, opts: PipelineOptions) {
    this.config = config;
    this.logger = opts.logger;
    this.once = opts.once ?? false;
    this.statsIntervalMs = opts.statsIntervalMs ?? 0;
    this.telemetry = opts.telemetry ?? new Telemetry();
    this.budget = new InFlightBudget(config.in_flight.max_events, config.in_flight.max_bytes);
    this.router = new Router(this.logger);
    this.build = new ComponentFactory({
      logger: this.logger,
      telemetry: this.telemetry,
      router: this.router,
      budget: this.budget,
      once: this.once,
      config: () => this.config,
      stopping: this.stopController.signal,
      blocked: (err) => this.blocked(err),
    });
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
    this.stopRequestedAt = Date.now();
    this.stopController.abort();
    for (const n of this.nodes.values()) n.ctl.abort();
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

  // ---------------------------------------------------------------- lifecycles

  private runSource(n: Node): void {
    const source = n.source as Source;
    n.running = source.run().then(
      () => undefined,
      async (e: unknown) => {
        if ((e as Error)?.name === 'AbortError' && n.ctl.signal.aborted) return; // stopped while waiting for budget
        const fallback = n.fallback;
        n.fallback = undefined;
        // A reload changed it and the new options fail when they run: undo the change for this source.
        // Its `running` settles once the previous configuration runs in its place, so the inputs do not look finished.
        if (fallback !== undefined && !this.stopController.signal.aborted && this.nodes.get(n.c.id) === n) {
          n.restoringTo = fallback;
          if (await this.restoreSource(n, fallback, e)) return;
        }
        this.logger.error({ component: n.c.id, err: e, code: 'TERN_ERR_SOURCE' }, 'source stopped with an error');
        // The run does not report success: a source that cannot run is not a run that did its work.
        this.fatalError ??= isTernError(e) ? e : new TernError('TERN_ERR_SOURCE', `source ${n.c.id} stopped with an error: ${(e as Error)?.message ?? String(e)}`, { cause: e });
        this.stop('error');
      },
    );
    void n.running.then(() => {
      n.finished = true;
      this.sourceExit$.next();
    });
  }

  /**
   * Runs a source's previous configuration in place of a changed one that failed once it ran
   * (`fallback`), from the checkpoint the failed instance leaves. True when it runs again.
   */
  private async restoreSource(failed: Node, previous: ComponentConfig, err: unknown): Promise<boolean> {
    this.logger.error({ component: failed.c.id, err, code: 'TERN_ERR_SOURCE' }, `the source the reload changed failed when it ran (${(err as Error)?.message ?? String(err)}); running it with its previous options`);
    this.reloads.rejected++;
    await this.closeSource(failed, AbortSignal.timeout(Math.min(5000, this.config.shutdown_timeout_ms)));
    let n: Node;
    try {
      n = await this.build.source(previous);
    } catch (e) {
      // Nothing reads this input any more: the run must not go on as if it did (exit 1, this error).
      const code = isTernError(e) ? e.code : undefined;
      this.logger.error({ component: failed.c.id, err: e, code }, `its previous options cannot be built either; stopping: ${(e as Error).message}`);
      this.fatalError ??= e as Error;
      return false;
    }
    // Stopping, or a reload retired the failed instance meanwhile: that reload decides what runs now
    // (it takes these options as the fallback of what it starts), so this instance must not run beside it.
    if (this.stopController.signal.aborted || failed.ctl.signal.aborted || this.nodes.get(failed.c.id) !== failed) {
      await this.closeSource(n, AbortSignal.timeout(Math.min(5000, this.config.shutdown_timeout_ms)));
      return true;
    }
    n.restored = true;
    this.nodes.set(failed.c.id, n);
    // What runs is the configuration from now on: the next reload compares with it, so one that asks
    // for the failed options again tries them again instead of finding nothing changed.
    const back = (c: ComponentConfig): ComponentConfig => (c.id === previous.id ? previous : c);
    if (this.applied !== undefined) this.applied = withComponents(this.applied, back);
    this.config = withComponents(this.config, back);
    this.runSource(n);
    return true;
  }

  /** Stops one source (reload): abort, wait for its reads and acknowledgements, last checkpoint. */
  private async retireSource(n: Node, deadline: AbortSignal): Promise<void> {
    n.ctl.abort();
    await until(n.running ?? Promise.resolve(), deadline);
    if (n.inflight > 0) await until(new Promise<void>((r) => n.idleWaiters.push(r)), deadline);
    await this.closeSource(n, deadline);
  }

  private async closeSource(n: Node, deadline: AbortSignal): Promise<void> {
    await until(
      (n.source?.close?.() ?? Promise.resolve()).catch((e: unknown) => {
        n.telemetry.counter('checkpoint_errors').inc();
        this.logger.error({ component: n.c.id, err: e, code: 'TERN_ERR_CHECKPOINT' }, 'source failed to close (its last checkpoint may not be saved)');
      }),
      deadline,
    );
  }

  private async stopSink(n: Node, drain: AbortSignal, hard: AbortSignal): Promise<void> {
    n.ctl.abort();
    // A sink's stop honours the deadline by contract; the race makes sure one that does not cannot hold the process.
    await until(
      (n.sink as Sink).stop(drain).catch((e: unknown) => this.logger.error({ component: n.c.id, err: e }, 'sink failed to stop cleanly')),
      hard,
    );
  }

  private async closeTransform(n: Node, deadline: AbortSignal): Promise<void> {
    n.ctl.abort();
    await until(
      (n.transform?.close?.() ?? Promise.resolve()).catch((e: unknown) => this.logger.error({ component: n.c.id, err: e }, 'transform failed to close')),
      deadline,
    );
  }

  /** Sinks in the order they must stop: a sink before the consumers of its dead letters. */
  private sinkStopOrder(nodes: Iterable<Node>, config: PipelineConfig): Node[] {
    const rank = new Map(topologicalOrder(config.components).map((c, i) => [c.id, i]));
    return [...nodes].filter((n) => n.sink !== undefined).sort((a, b) => (rank.get(a.c.id) ?? 0) - (rank.get(b.c.id) ?? 0));
  }

  // ---------------------------------------------------------------- apply

  /**
   * Takes the running components to `next` (see the file comment). Start-up applies the constructor's
   * configuration; a reload applies a new one. Rejects, leaving the pipeline as it ran, when a new
   * component cannot be built or started. Serialised: a second call waits for the first.
   */
  apply(next: PipelineConfig): Promise<ApplyResult> {
    const p = this.applying.then(async () => {
      this.reconfiguring = this.applied !== undefined;
      try {
        return await this.applyNow(next);
      } finally {
        this.reconfiguring = false;
      }
    });
    this.applying = p.catch(() => undefined);
    return p;
  }

  private async applyNow(next: PipelineConfig): Promise<ApplyResult> {
    if (this.stopController.signal.aborted && this.applied !== undefined) throw new TernError('TERN_ERR_BUILD', 'the pipeline is stopping; the new configuration is not applied');
    const prev = this.applied;
    const diff = diffTopology(prev, next);
    const byId = new Map(next.components.map((c) => [c.id, c]));
    const rebuild = new Set([...diff.change, ...diff.add]);
    const leaving = new Set([...diff.change, ...diff.remove]);
    if (prev !== undefined && diff.same) return { diff, kept: diff.keep, started: [], stopped: [] };

    if (prev === undefined || prev.data_dir !== next.data_dir) {
      // A full data_dir is only said when the configuration's disk buffers hold events to drain.
      const sinks = next.components.filter((c) => c.kind === 'sink' && (c.options.buffer as { type?: string } | undefined)?.type === 'disk').map((c) => c.id);
      ensureDataDir(next.data_dir, undefined, undefined, { dataDir: next.data_dir, sinks, log: (e) => this.logger.error({ code: e.code, path: next.data_dir }, e.message) });
    }
    const previousConfig = this.config;
    this.config = next;

    // 1. New and changed sinks and transforms, consumers before producers; started sinks; then new and
    // changed sources, built (not run) while the instances they replace still read: a source that
    // cannot be built refuses the reload before anything running was stopped.
    const built = new Map<string, Node>();
    const sources = new Map<string, Node>();
    const restoreGauges = [...rebuild].filter((id) => this.nodes.has(id)).map((id) => this.telemetry.component(id).keepGauges());
    try {
      for (const c of topologicalOrder(next.components).reverse()) {
        if (c.kind === 'source' || !rebuild.has(c.id)) continue;
        built.set(c.id, await this.build.consumer(c));
      }
      for (const n of built.values()) {
        if (!n.sink) continue;
        try {
          await n.sink.start?.();
        } catch (e) {
          if (isTernError(e)) throw e;
          throw new TernError('TERN_ERR_BUILD', `${n.c.id}: cannot start: ${(e as Error).message}`, { cause: e });
        }
      }
      for (const c of next.components) if (c.kind === 'source' && rebuild.has(c.id)) sources.set(c.id, await this.build.source(c));
    } catch (e) {
      this.config = previousConfig;
      const undo = AbortSignal.timeout(Math.min(5000, next.shutdown_timeout_ms));
      for (const n of this.sinkStopOrder(built.values(), next)) await this.stopSink(n, undo, undo);
      for (const n of built.values()) if (n.transform) await this.closeTransform(n, undo);
      // Built, never run: nothing to save (a source reads its state when it runs, see SourceDefinition.build).
      for (const n of sources.values()) await this.closeSource(n, undo);
      if (prev !== undefined) for (const n of [...built.values(), ...sources.values()]) if (!this.nodes.has(n.c.id)) this.telemetry.remove(n.c.id);
      for (const restore of restoreGauges) restore();
      throw e;
    }

    const timeout = next.shutdown_timeout_ms;
    const drain = AbortSignal.timeout(Math.max(0, timeout - Math.min(2000, Math.floor(timeout / 4))));
    const hard = AbortSignal.timeout(timeout);

    // 2. Removed and changed sources stop reading and write their last checkpoint.
    for (const id of leaving) {
      const n = this.nodes.get(id);
      if (n?.source) await this.retireSource(n, drain);
    }

    // 3. One synchronous switch of the wiring and of the set of components.
    const old = this.nodes;
    const nodes = new Map<string, Node>();
    for (const c of next.components) {
      const n = built.get(c.id) ?? (rebuild.has(c.id) ? undefined : old.get(c.id));
      if (n !== undefined) nodes.set(c.id, n);
    }
    this.nodes = nodes;
    this.budget.resize(next.in_flight.max_events, next.in_flight.max_bytes);
    this.router.rewire(wiringFor(next, nodes));
    // A kept source that went back to its previous options while this reload ran runs those, whatever
    // `next` (read from the stale `prev`) says; one restored later updates `applied` itself.
    const running = (c: ComponentConfig): ComponentConfig => (c.kind === 'source' && nodes.get(c.id)?.restored === true ? (nodes.get(c.id) as Node).c : c);
    this.applied = withComponents(next, running);
    this.config = withComponents(this.config, running);

    // 4. New and changed sources run (built in step 1, they read their state now, after step 2 wrote it).
    const started: string[] = [...built.keys()];
    for (const [id, n] of sources) {
      // A changed source that fails once it runs goes back to the options that ran before: those of
      // the instance it replaces (whose own restore may be under way), not `prev`, which a restore
      // during this reload left stale.
      const was = old.get(id);
      const before = was?.restoringTo ?? was?.c ?? prev?.components.find((x) => x.id === id);
      if (before !== undefined) n.fallback = before;
      // Built before a stop request that came during this reload: it must not read on.
      if (this.stopController.signal.aborted) n.ctl.abort();
      nodes.set(id, n);
      started.push(id);
      if (this.started) this.runSource(n);
    }

    // 5. Removed and changed sinks drain and stop; removed transforms close.
    const stopped: string[] = [];
    if (prev !== undefined) {
      const outgoing = [...leaving].map((id) => old.get(id)).filter((n): n is Node => n !== undefined && n.source === undefined);
      // A replaced transform closes before the wait: what it did not finish runs through its
      // replacement now (router.ts, rerun), instead of holding this reload until the drain deadline
      // when its old workers cannot start. A batch its old workers were running is done again by the
      // new ones (their answers are ignored once closed: nothing twice). A removed transform keeps the
      // wait: nothing could run its batches again before a restart.
      const replaced = new Set(diff.change);
      for (const n of outgoing) if (n.transform && replaced.has(n.c.id)) await this.closeTransform(n, hard);
      await this.router.asyncIdle(drain);
      for (const n of this.sinkStopOrder(outgoing, prev)) {
        await this.stopSink(n, drain, hard);
        const r = n.sink?.report?.();
        if (r !== undefined && (r.undelivered > 0 || r.buffered > 0)) this.retired.push({ id: n.c.id, report: r });
      }
      for (const n of outgoing) if (n.transform && !replaced.has(n.c.id)) await this.closeTransform(n, hard);
      for (const id of diff.remove) this.telemetry.remove(id);
      stopped.push(...leaving);
      this.reloads.applied++;
    }
    this.reloads.lastAppliedMs = Date.now();
    this.applied$.next();
    return { diff, kept: diff.keep, started, stopped };
  }

  /**
   * Applies a new configuration to the running pipeline (SIGHUP, `--watch-config`): logs what changed,
   * and on failure logs the error and keeps the pipeline as it ran.
   */
  async reload(next: PipelineConfig): Promise<ApplyResult | undefined> {
    // A reload asked for while tern is still starting (a SIGHUP held since its first instant) comes
    // after the start-up apply; applied before it, the start-up apply would undo it.
    await this.startQueued;
    try {
      const r = await this.apply(next);
      if (r.started.length === 0 && r.stopped.length === 0) this.logger.info({ files: next.files }, 'configuration reloaded: nothing changed that needs a restart of a component');
      else this.logger.info({ files: next.files, kept: r.kept, started: r.started, stopped: r.stopped }, 'configuration reloaded');
      return r;
    } catch (e) {
      this.reloads.rejected++;
      this.logger.error({ err: e, ...(isTernError(e) ? { code: e.code } : {}) }, `reload failed; the running pipeline goes on unchanged: ${(e as Error).message}`);
      return undefined;
    }
  }

  // ---------------------------------------------------------------- views (API, top, tap): views.ts

  /** Every running component with its counters and, for sinks, health and buffer fill. */
  components(): ComponentView[] {
    return componentViews(this.config, this.nodes);
  }

  /** Why tern is not ready (empty when it is): see views.ts. */
  readiness(): string[] {
    if (!this.started || this.stopController.signal.aborted) return [this.stopController.signal.aborted ? 'shutting down' : 'starting'];
    return notReady(this.nodes);
  }

  /** Output keys of a component that a tap can follow: its outputs, or for a sink what it receives. */
  tapKeys(id: string): string[] | undefined {
    return tapKeys(this.config, this.nodes, id);
  }

  /** Follows the batches on these output keys (see `TapListener`); returns the detach function. */
  tap(keys: readonly string[], listener: TapListener): () => void {
    const off = keys.map((k) => this.router.tap(k, listener));
    return () => {
      for (const f of off) f();
    };
  }

  // ---------------------------------------------------------------- run

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
    const startUp = this.apply(this.config);
    this.runCalled();
    await startUp;
    this.started = true;
    for (const n of this.nodes.values()) if (n.source) this.runSource(n);
    const stats =
      this.statsIntervalMs > 0
        ? setInterval(() => this.logger.info({ counters: this.telemetry.snapshot(), in_flight_events: this.budget.events, in_flight_bytes: this.budget.bytes }, 'stats'), this.statsIntervalMs).unref()
        : undefined;

    const deadlines = new Deadlines(() => this.config.shutdown_timeout_ms);
    const { drain, hard } = deadlines;
    // The deadline runs from the stop request (a signal during a slow start-up apply included), as the CLI's backstop does.
    const arm = (): void => deadlines.arm(this.stopRequestedAt ?? Date.now());
    // A drain that stops moving gives up (after inputs ended on their own, and from the start with --once).
    const watchStall = (): void =>
      deadlines.watchStall({
        progress: () => this.progress(),
        idle: () => this.budget.events === 0 && this.sinksIdle(),
        onStall: (stalledMs) => {
          // What is stuck sits in two places: the in-flight budget (not yet in every sink's buffer) and
          // the sinks' buffers (a paused sink's events left the budget long ago).
          const held = this.sinksHeld();
          this.logger.error(
            { code: 'TERN_ERR_ONCE_FATAL', in_flight_events: this.budget.events, undelivered_events: held.undelivered, buffered_events: held.buffered, stalled_ms: stalledMs },
            'nothing was delivered for shutdown_timeout_ms; giving up the drain',
          );
          const why = this.blockedBy !== undefined ? `${this.blockedBy.message}; ` : '';
          this.fatal(new TernError('TERN_ERR_ONCE_FATAL', `${why}no progress for shutdown_timeout_ms (${this.config.shutdown_timeout_ms} ms)`));
        },
      });
    if (this.once) watchStall();

    // Every source finished: checked whenever one exits or a configuration was applied (a reload may
    // replace them all). Not during a reload: the sources it stops are being replaced, not done.
    const sourcesDone$: Observable<StopReason> = merge(this.sourceExit$, this.applied$).pipe(
      filter(() => !this.reconfiguring && [...this.nodes.values()].every((n) => n.source === undefined || n.finished === true)),
      map(() => 'sources_done' as const),
    );
    const stop$: Observable<StopReason> = fromEvent(this.stopController.signal, 'abort').pipe(map(() => this.stopReason));
    const allDone = [...this.nodes.values()].every((n) => n.source === undefined || n.finished === true);
    const reason = this.stopController.signal.aborted ? this.stopReason : allDone ? 'sources_done' : await firstValueFrom(race(sourcesDone$, stop$).pipe(take(1)));
    this.logger.info({ reason, in_flight: this.budget.events }, reason === 'sources_done' ? 'inputs finished; draining' : 'shutting down; draining');
    this.stop(reason);
    if (reason === 'sources_done' && this.fatalError === undefined) watchStall();
    else arm();
    this.onLateStop = arm;

    // A reload in progress finishes (or meets the deadline) before the final stop.
    await until(this.applying, drain.signal);
    const nodes = [...this.nodes.values()];
    await until(Promise.all(nodes.map((n) => n.running ?? Promise.resolve())), drain.signal);
    await this.router.asyncIdle(drain.signal);
    for (const n of this.sinkStopOrder(nodes, this.config)) await this.stopSink(n, drain.signal, hard.signal);
    for (const n of nodes) if (n.transform) await this.closeTransform(n, hard.signal);
    for (const n of nodes) if (n.source) await this.closeSource(n, hard.signal);
    this.onLateStop = undefined;
    deadlines.dispose();
    if (stats) clearInterval(stats);
    this.router.flushLogs();
    return this.result(reason);
  }

  /** Events the sinks hold, not delivered: in memory (read again after a restart) and on disk. */
  private sinksHeld(): { undelivered: number; buffered: number } {
    let undelivered = 0;
    let buffered = 0;
    for (const { sink } of this.nodes.values()) {
      const r = sink?.report?.();
      undelivered += r?.undelivered ?? 0;
      buffered += r?.buffered ?? 0;
    }
    return { undelivered, buffered };
  }

  private sinksIdle(): boolean {
    return [...this.nodes.values()].every(({ sink }) => {
      const r = sink?.report?.();
      return r === undefined || (r.undelivered === 0 && r.buffered === 0);
    });
  }

  private result(reason: StopReason): RunResult {
    const telemetry = this.telemetry.snapshot();
    const nodes = [...this.nodes.values()];
    const summary = summarise({
      sinks: [
        ...this.retired.map((r) => (this.nodes.has(r.id) ? { id: `${r.id} (replaced by a reload)`, report: r.report } : r)),
        ...nodes.filter((n) => n.sink).map((n) => ({ id: n.c.id, report: n.sink?.report?.() ?? reportFromCounters(n.telemetry.snapshot()) })),
      ],
      transforms: nodes.filter((n) => n.transform).map((n) => ({ id: n.c.id, counters: telemetry[n.c.id] ?? {} })),
      sources: nodes.filter((n) => n.source).map((n) => ({ id: n.c.id, counters: telemetry[n.c.id] ?? {} })),
      inFlight: this.budget.events,
      ...(this.fatalError !== undefined ? { fatal: this.fatalError.message } : {}),
    });
    logSummary(this.logger, summary, telemetry, this.fatalError);
    const drained = this.budget.events === 0 && summary.undelivered === 0;
    return { drained, ok: summary.ok, reason, summary, telemetry, ...(this.fatalError !== undefined ? { error: this.fatalError } : {}) };
  }
}

/** `cfg` with each component passed through `swap` (frozen as loaded configs are); `cfg` itself when none changed. */
function withComponents(cfg: PipelineConfig, swap: (c: ComponentConfig) => ComponentConfig): PipelineConfig {
  const components = cfg.components.map(swap);
  return components.every((c, i) => c === cfg.components[i]) ? cfg : Object.freeze({ ...cfg, components: Object.freeze(components) });
}
