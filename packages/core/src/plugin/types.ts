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

export interface Transform {
  /**
   * Processes one batch and emits what goes on. Events not emitted are dropped (the transform counts
   * them). Built-in transforms are synchronous and must not keep events after they return; a
   * transform that returns a promise (one running in worker threads) may emit until it resolves, and
   * the engine holds the batch's acknowledgement until then.
   */
  process(events: LogEvent[], emit: Emit): void | Promise<void>;
}

// ---------------------------------------------------------------- sinks

export interface Sink {
  /** Starts background work (healthcheck, timers). Must return quickly. */
  start?(): void | Promise<void>;
  /**
   * Takes a batch. The engine retained `batch.ack` once for this call; the sink releases it exactly
   * once, after its destination accepted (or permanently refused) every event of the batch.
   */
  accept(batch: Batch): void;
  /**
   * Flushes and waits for everything accepted so far, until `deadline` aborts; then gives up on what
   * is still pending (its acks are never released, so sources re-read it after a restart).
   */
  stop(deadline: AbortSignal): Promise<void>;
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

/** Helper for plugin authors: keeps the config type of a definition while erasing it for arrays. */
export function defineComponent<C>(def: ComponentDefinition<C>): ComponentDefinition<C> {
  return def;
}
