/**
 * What a configuration change means for the running components: which keep running, which are
 * rebuilt, which go, which are new. Pure (no I/O), so reload decisions are tested on their own.
 *
 * A component is unchanged when its type, options, worker count and directory are the same: it keeps
 * running with its buffer, connections and checkpoints, and only its wiring follows the new graph
 * (a changed `inputs` list is rewiring, not a rebuild). A changed `data_dir` rebuilds every source and
 * sink, since their checkpoints and buffers live there.
 */
import type { ComponentConfig, PipelineConfig } from '../config/types.ts';

export interface TopologyDiff {
  /** Present in both, unchanged: keeps running. */
  readonly keep: readonly string[];
  /** Present in both with different options: the old instance stops, a new one is built. */
  readonly change: readonly string[];
  /** Only in the new configuration. */
  readonly add: readonly string[];
  /** Only in the old configuration. */
  readonly remove: readonly string[];
  /** True when nothing at all changed (not even the wiring or the global options). */
  readonly same: boolean;
}

/** The part of a component's configuration that requires a rebuild when it changes. */
export function fingerprint(c: ComponentConfig, dataDir: string): string {
  return JSON.stringify({ kind: c.kind, type: c.type, options: c.options, workers: c.workers, dir: c.configDir, data: c.kind === 'transform' ? '' : dataDir });
}

const wiring = (c: ComponentConfig): string => JSON.stringify(c.inputs);

/** Compares two configurations (`previous` undefined: start-up, everything is added). */
export function diffTopology(previous: PipelineConfig | undefined, next: PipelineConfig): TopologyDiff {
  const before = new Map((previous?.components ?? []).map((c) => [c.id, c]));
  const keep: string[] = [];
  const change: string[] = [];
  const add: string[] = [];
  let rewired = false;
  for (const c of next.components) {
    const old = before.get(c.id);
    if (old === undefined) add.push(c.id);
    else if (fingerprint(old, previous?.data_dir ?? '') === fingerprint(c, next.data_dir)) {
      keep.push(c.id);
      if (wiring(old) !== wiring(c)) rewired = true;
    } else change.push(c.id);
  }
  const ids = new Set(next.components.map((c) => c.id));
  const remove = [...before.keys()].filter((id) => !ids.has(id));
  const globals = previous === undefined || previous.shutdown_timeout_ms !== next.shutdown_timeout_ms || previous.in_flight.max_events !== next.in_flight.max_events || previous.in_flight.max_bytes !== next.in_flight.max_bytes || JSON.stringify(previous.api) !== JSON.stringify(next.api);
  return { keep, change, add, remove, same: change.length === 0 && add.length === 0 && remove.length === 0 && !rewired && !globals };
}
