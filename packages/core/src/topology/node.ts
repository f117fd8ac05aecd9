/**
 * One running component as the pipeline tracks it: its configuration, its own abort controller and
 * telemetry, and what was built from it (a source with its run promise and in-flight count, a sink, or
 * a transform and its router node). Shared by pipeline.ts and the views the API reads (views.ts).
 */
import type { ComponentConfig } from '../config/types.ts';
import type { Sink, Source, Transform } from '../plugin/types.ts';
import type { ComponentTelemetry } from '../telemetry/telemetry.ts';
import type { TransformNode } from './router.ts';

export interface Node {
  readonly c: ComponentConfig;
  readonly ctl: AbortController;
  readonly telemetry: ComponentTelemetry;
  source?: Source;
  running?: Promise<void>;
  finished?: boolean;
  /**
   * A source a reload changed: its previous configuration, to run again if the new one fails once
   * it runs (an address it cannot listen on). Cleared after the first failure.
   */
  fallback?: ComponentConfig;
  /** This source failed under a reload's options and its previous ones (`fallback`) are being started in its place. */
  restoringTo?: ComponentConfig;
  /** This source runs its previous options after a reload's failed: `c` is what runs, not what the configuration applied said. */
  restored?: boolean;
  /** Events a source dispatched whose batches are not yet acknowledged, and who waits for zero. */
  inflight: number;
  idleWaiters: Array<() => void>;
  sink?: Sink;
  transform?: Transform;
  node?: TransformNode;
}
