/**
 * Building components: a `Node` for a component's configuration, its context (logger, telemetry, abort
 * signal, dead-letter output, the data directory), a source's context (`emit` through the in-flight
 * budget into the router), and the build itself, whose failure names the component's file and line.
 * Nothing here starts or runs a component: pipeline.ts decides when (apply) and how long (run).
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { ComponentConfig, PipelineConfig } from '../config/types.ts';
import { AckGroup, type AckCallback } from '../event/ack.ts';
import { eventBytes, type LogEvent } from '../event/event.ts';
import type { ComponentContext, SourceContext } from '../plugin/types.ts';
import { TernError, isTernError } from '../errors.ts';
import type { ComponentTelemetry, Telemetry } from '../telemetry/telemetry.ts';
import type { InFlightBudget } from './budget.ts';
import type { Node } from './node.ts';
import { Router, type TransformNode } from './router.ts';
import { TransformWorkerPool } from './worker-pool.ts';

export interface FactoryDeps {
  readonly logger: Logger;
  readonly telemetry: Telemetry;
  readonly router: Router;
  readonly budget: InFlightBudget;
  readonly once: boolean;
  /** The configuration running now (its data_dir). */
  readonly config: () => PipelineConfig;
  /** Aborted when the run stops: a node built after that starts aborted. */
  readonly stopping: AbortSignal;
  /** With `--once`: a sink paused on something only a human fixes ends the run. */
  readonly blocked: (err: Error) => void;
}

export class ComponentFactory {
  private readonly d: FactoryDeps;

  constructor(deps: FactoryDeps) {
    this.d = deps;
  }

  /** Builds a sink or transform (not started). */
  async consumer(c: ComponentConfig): Promise<Node> {
    const n = this.node(c);
    const ctx = this.context(c, n.ctl, n.telemetry);
    const def = c.definition;
    try {
      if (def.kind === 'sink') n.sink = await def.build(c.options as never, ctx);
      else if (def.kind === 'transform') {
        if (c.workers > 0 && def.module !== undefined) {
          const pool = new TransformWorkerPool({ module: def.module, type: c.type, options: c.options }, c.workers, ctx);
          await pool.ready();
          n.transform = pool;
        } else n.transform = await def.build(c.options as never, ctx);
        n.node = { id: c.id, type: c.type, transform: n.transform, mutates: def.mutates, deadLetters: ctx.deadLetters as TransformNode['deadLetters'], c: Router.counters(ctx.telemetry) };
      }
    } catch (e) {
      throw buildError(c, e);
    }
    return n;
  }

  /** Builds a source (not run). */
  async source(c: ComponentConfig): Promise<Node> {
    const n = this.node(c);
    const ctx = this.context(c, n.ctl, n.telemetry);
    const def = c.definition;
    if (def.kind !== 'source') throw new Error(`${c.id} is not a source`);
    try {
      n.source = await def.build(c.options as never, this.sourceContext(n, ctx));
    } catch (e) {
      throw buildError(c, e);
    }
    return n;
  }

  private node(c: ComponentConfig): Node {
    const telemetry = this.d.telemetry.component(c.id);
    telemetry.kind = c.kind;
    telemetry.type = c.type;
    const ctl = new AbortController();
    if (this.d.stopping.aborted) ctl.abort();
    return { c, ctl, telemetry, inflight: 0, idleWaiters: [] };
  }

  private context(c: ComponentConfig, ctl: AbortController, telemetry: ComponentTelemetry): ComponentContext {
    const kind = c.kind;
    return {
      id: c.id,
      kind,
      type: c.type,
      logger: this.d.logger.child({ component: c.id }),
      telemetry,
      dataDir: this.d.config().data_dir,
      host: process.env.NODE_NAME || hostname(),
      signal: ctl.signal,
      once: this.d.once,
      configDir: c.configDir,
      ...(kind !== 'source' ? { deadLetters: this.d.router.deadLetterOutput({ id: c.id, type: c.type, kind }) } : {}),
      ...(this.d.once ? { fatal: (err: Error) => this.d.blocked(err) } : {}),
    };
  }

  private sourceContext(n: Node, ctx: ComponentContext): SourceContext {
    const key = n.c.id;
    const out = ctx.telemetry.counter('events_out');
    const budget = this.d.budget;
    const router = this.d.router;
    const stopping = n.ctl.signal;
    return {
      ...ctx,
      emit: (events: LogEvent[], onAck?: AckCallback, bytes?: number, signal?: AbortSignal): Promise<void> => {
        if (events.length === 0) return Promise.resolve();
        const size = bytes ?? eventBytes(events);
        const count = events.length;
        const dispatchNow = (): void => {
          n.inflight += count;
          const group = new AckGroup(
            count,
            size,
            (status, g) => {
              n.inflight -= count;
              if (n.inflight === 0 && n.idleWaiters.length > 0) for (const w of n.idleWaiters.splice(0)) w();
              onAck?.(status, g);
            },
            () => budget.release(count, size),
          );
          const own = group.ref();
          out.inc(count);
          router.dispatch(key, events, group);
          own.release();
        };
        // A stop request ends every wait for budget: what was not dispatched is read again after a restart.
        const wait = budget.acquire(count, size, signal === undefined ? stopping : AbortSignal.any([signal, stopping]));
        if (wait === undefined) {
          dispatchNow();
          return Promise.resolve();
        }
        return wait.then(dispatchNow);
      },
      get inFlight() {
        return { max_events: budget.maxEvents, max_bytes: budget.maxBytes };
      },
    } as SourceContext;
  }
}

/** A build failure names the component's file and line (a TernError with its own code keeps it). */
function buildError(c: ComponentConfig, e: unknown): Error {
  if (isTernError(e) && e.code !== 'TERN_ERR_BUILD') return e;
  return new TernError('TERN_ERR_BUILD', `${c.file}:${c.line}: ${c.id}: ${(e as Error).message}`, { cause: e });
}
