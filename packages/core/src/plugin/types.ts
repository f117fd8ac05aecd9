/**
 * The plugin contract. A package exports component definitions; the CLI registers them; the engine
 * finds every component, built in or not, through the registry by its `type`.
 *
 * Lifecycle rules, as in the OpenTelemetry Collector: `validate` is pure (no network, no disk) so
 * `tern validate` catches mistakes offline; `build` may read files (secrets, CA bundles) but must not
 * block on the network; a sink's `stop` drains what it accepted within the deadline and is safe to
 * call twice.
 */
import type { Logger } from 'pino';
import type { AckCallback } from '../event/ack.ts';
import type { DeadLetterInfo, DeadLetterOutput } from '../event/dead-letter.ts';
import type { Batch } from '../event/batch.ts';
import type { LogEvent } from '../event/event.ts';
import type { ComponentTelemetry } from '../telemetry/telemetry.ts';

/** A JSON Schema (draft 2020-12) object, as plain data. */
export type JsonSchema = { [key: string]: unknown };

export type ComponentKind = 'source' | 'transform' | 'sink';

/** Everything a component gets at build time. */
export interface ComponentContext {
  readonly id: string;
  readonly kind: ComponentKind;
  readonly type: string;
  /** pino logger bound to `{ component: id }`. */
  readonly logger: Logger;
  readonly telemetry: ComponentTelemetry;
  /** Absolute data directory for checkpoints and buffers (created on demand by the component). */
  readonly dataDir: string;
  /** Node name: `NODE_NAME`, else the host name. */
  readonly host: string;
  /** Aborted when the pipeline begins to shut down. */
  readonly signal: AbortSignal;
  /** `tern run --once`: read what exists now, deliver it, finish. */
  readonly once: boolean;
  /** Directory of the pipeline file, for resolving relative paths in options. */
  readonly configDir: string;
  /**
   * Where this component's refused events go (`<id>.dead_letter`). Sinks built on the delivery kit
   * use it for permanent refusals; the engine uses it for events a transform fails on.
   */
  readonly deadLetters?: DeadLetterOutput;
  /**
   * Reports a condition that can never resolve on its own while running `--once` (credentials
   * refused, an unsupported server): the engine stops the run with this error instead of waiting.
   * Absent outside `--once`.
   */
  readonly fatal?: (err: Error) => void;
}

// ---------------------------------------------------------------- sources

export interface SourceContext extends ComponentContext {
  /**
   * Hands a batch to the pipeline. Resolves once the batch is dispatched; waits first while the
   * pipeline's in-flight budget is spent (this is the backpressure: a slow sink slows the source).
   * `onAck` runs once every sink that received any of the events has delivered or rejected them.
   * `bytes` is the batch's size in input bytes when the source knows it (else it is estimated).
   * `signal` bounds the wait for budget: when it aborts first, the promise rejects with an
   * `AbortError` (`BudgetAbortError`) and nothing was dispatched (a push source answering "busy",
   * a source told to stop). The pipeline's own stop deadline also ends the wait this way.
   */
  emit(events: LogEvent[], onAck?: AckCallback, bytes?: number, signal?: AbortSignal): Promise<void>;
  /**
   * The pipeline's in-flight budget now (`in_flight`, as a reload left it). `Intake.submit` sizes the
   * shares of a large pushed batch from it.
   */
  readonly inFlight: { readonly max_events: number; readonly max_bytes: number };
}

export interface Source {
  /**
   * Reads until `ctx.signal` aborts (or, for finite inputs and `--once`, until the input ends),
   * then resolves. It must not throw for bad input: count it and go on.
   */
  run(): Promise<void>;
  /** Final bookkeeping after the pipeline drained (for example a last checkpoint write). */
  close?(): Promise<void>;
}

// ---------------------------------------------------------------- transforms

/** Called by a transform for every (part of a) batch it passes on; `output` names a route output. */
export type Emit = (events: LogEvent[], output?: string) => void;

/**
 * Called by a transform for events it refuses for good (they go to its `dead_letter` output, or are
 * counted as rejected when nothing reads it), with why: one info per event, or one for all.
 */
export type Refuse = (events: LogEvent[], info: readonly DeadLetterInfo[] | DeadLetterInfo) => void;

export interface Transform {
  /**
   * Processes one batch and emits what goes on. Events not emitted are dropped (the transform counts
   * them). Built-in transforms are synchronous and must not keep events after they return; a
   * transform that returns a promise (one running in worker threads) may emit until it resolves, and
   * the engine holds the batch's acknowledgement until then. A transform must not throw for bad
   * input; if it throws anyway, the engine runs the batch's events again one by one and refuses only
   * those that fail (`TERN_ERR_TRANSFORM`). A promise must settle by the time `close()` resolves: a
   * batch it did not finish rejects with a `TransformClosedError` naming the unfinished events, which
   * the engine runs through the transform that replaced this one (a reload) or leaves unacknowledged.
   */
  process(events: LogEvent[], emit: Emit, refuse?: Refuse): void | Promise<void>;
  /** Releases what the transform holds (worker threads, timers) at shutdown or when a reload replaces or removes it. */
  close?(): Promise<void>;
}

// ---------------------------------------------------------------- sinks

export interface Sink {
  /** Starts background work (healthcheck, timers). Must return quickly. */
  start?(): void | Promise<void>;
  /**
   * Takes a batch. `batch.ack` is this sink's reference: the sink calls `admit()` once the events
   * are in its own bounded buffer (the in-flight budget is then returned, so a slow sink does not
   * hold up the others), and `release(status)` exactly once, when its destination took every event
   * of the batch (or its disk buffer holds them durably), or they were refused and dead-lettered, or
   * dropped as its config asked. Releasing also admits.
   */
  accept(batch: Batch): void;
  /**
   * Flushes and waits for everything accepted so far, until `deadline` aborts; then gives up on what
   * is still pending (its acks are never released, so sources re-read it after a restart). Resolves
   * shortly after the deadline whatever the destination does; safe to call twice and before `start`.
   */
  stop(deadline: AbortSignal): Promise<void>;
  /** What the sink did with what it was given, for the run's summary (sinks on the delivery kit report it). */
  report?(): SinkReport;
  /** Health and buffer fill now, for /readyz, `tern top` and metrics (sinks on the delivery kit have it). */
  status?(): SinkStatus;
}

/** The states a sink can be in (the `sink_state` metric has one series per state). */
export const SINK_STATES = ['starting', 'healthy', 'retrying', 'paused'] as const;

/** A sink's health and buffer fill. */
export interface SinkStatus {
  /**
   * `starting`: its healthcheck has not passed yet (events are buffered); `healthy`: sending;
   * `retrying`: some request waits to be sent again; `paused`: credentials refused or an unsupported
   * server (events are kept, probes continue).
   */
  readonly state: (typeof SINK_STATES)[number];
  /** The healthcheck passed (or there is none). */
  readonly healthchecked: boolean;
  /** The sink buffers on disk: what it accepts is durable even while its destination is away. */
  readonly disk_buffer: boolean;
  readonly buffer_events: number;
  readonly buffer_bytes: number;
  /** 0 when the buffer is bounded by bytes only (disk). */
  readonly buffer_max_events: number;
  readonly buffer_max_bytes: number;
}

/** A sink's account of the events it was given. */
export interface SinkReport {
  /** Taken by the destination. */
  readonly delivered: number;
  /** Refused for good and handed to a dead-letter consumer. */
  readonly dead_lettered: number;
  /** Refused for good with no dead-letter consumer: counted as lost. */
  readonly rejected: number;
  /** Dropped because the buffer was full and `when_full: drop_newest` asked for it. */
  readonly dropped: number;
  /** Durably in the disk buffer, not yet delivered (sent after a restart). */
  readonly buffered: number;
  /** In memory, not delivered: their sources' checkpoints did not move, so they are read again after a restart. */
  readonly undelivered: number;
}

// ---------------------------------------------------------------- definitions

interface DefinitionBase<C> {
  /** snake_case component type, as written in `type:` */
  readonly type: string;
  /** One line for `tern validate` output and the generated reference. */
  readonly description: string;
  /**
   * JSON Schema of the component's options, without `type` and `inputs` (the engine adds them).
   * Every property should carry `description`, `default` where one applies, and `examples`;
   * `additionalProperties: false` so typos are caught.
   */
  readonly schema: JsonSchema;
  /** Cross-field checks after schema validation. Pure. Returns messages, each naming the option. */
  validate?(config: C): string[] | undefined;
}

export interface SourceDefinition<C = unknown> extends DefinitionBase<C> {
  readonly kind: 'source';
  /**
   * Checks what the source will need (its state is readable and writable, its files exist) and
   * throws if it cannot work, but reads its state (checkpoints) only in `run`: on a reload the new
   * instance is built while the one it replaces still reads, and that one writes its last
   * checkpoint when it closes, before the new one runs. Takes no shared resource (a port) before `run`.
   */
  build(config: C, ctx: SourceContext): Source | Promise<Source>;
}

export interface TransformDefinition<C = unknown> extends DefinitionBase<C> {
  readonly kind: 'transform';
  /** True when the transform changes events (the engine then copies events it shares with other consumers). */
  readonly mutates: boolean;
  /**
   * URL of the module that exports this definition (`import.meta.url`). Set it to let users run the
   * transform in worker threads (`workers: N`): each worker imports the module, builds the transform
   * from the same options and processes whole batches, exchanging events as JSON text.
   */
  readonly module?: string;
  /** Named outputs (for `route`); consumers read them as `<id>.<name>`. Omitted: one unnamed output. */
  outputs?(config: C): string[];
  build(config: C, ctx: ComponentContext): Transform | Promise<Transform>;
}

export interface SinkDefinition<C = unknown> extends DefinitionBase<C> {
  readonly kind: 'sink';
  build(config: C, ctx: ComponentContext): Sink | Promise<Sink>;
}

export type ComponentDefinition<C = unknown> = SourceDefinition<C> | TransformDefinition<C> | SinkDefinition<C>;
