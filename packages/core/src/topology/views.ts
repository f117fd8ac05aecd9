/**
 * What the API, `tern top` and `tern tap` read of a running pipeline: every component with its
 * counters and, for sinks, health and buffer fill; why tern is not ready; and which output keys a tap
 * on a component follows. Read-only functions over the pipeline's component table (node.ts).
 */
import type { PipelineConfig } from '../config/types.ts';
import type { SinkStatus } from '../plugin/types.ts';
import { DEAD_LETTER_OUTPUT, parseInput } from './graph.ts';
import type { Node } from './node.ts';

export interface ComponentView {
  readonly id: string;
  readonly kind: PipelineConfig['components'][number]['kind'];
  readonly type: string;
  readonly counters: Readonly<Record<string, number>>;
  /** Sinks on the delivery kit: health and buffer fill. */
  readonly status?: SinkStatus;
}

/** Every running component, in configuration order. */
export function componentViews(config: PipelineConfig, nodes: ReadonlyMap<string, Node>): ComponentView[] {
  const order = config.components.map((c) => nodes.get(c.id)).filter((n): n is Node => n !== undefined);
  return order.map((n) => {
    const status = n.sink?.status?.();
    return { id: n.c.id, kind: n.c.kind, type: n.c.type, counters: n.telemetry.snapshot(), ...(status !== undefined ? { status } : {}) };
  });
}

/**
 * Ready: every sink passed its healthcheck, or buffers on disk (what it accepts is durable while its
 * destination is away). The reasons it is not, else empty.
 */
export function notReady(nodes: ReadonlyMap<string, Node>): string[] {
  const why: string[] = [];
  for (const n of nodes.values()) {
    const s = n.sink?.status?.();
    if (s === undefined) continue;
    if (!s.healthchecked && !s.disk_buffer) why.push(`sink ${n.c.id}: healthcheck not passed yet`);
    else if (s.state === 'paused' && !s.disk_buffer) why.push(`sink ${n.c.id}: paused`);
  }
  return why;
}

/** Output keys of a component that a tap can follow: its outputs, or for a sink what it receives. */
export function tapKeys(config: PipelineConfig, nodes: ReadonlyMap<string, Node>, id: string): string[] | undefined {
  const n = nodes.get(id);
  if (n === undefined) return undefined;
  if (n.c.kind === 'sink') {
    const byId = new Map(config.components.map((c) => [c.id, c]));
    return n.c.inputs.map((r) => {
      const { id: from, output } = parseInput(r, byId);
      return output === undefined ? from : `${from}.${output}`;
    });
  }
  const def = n.c.definition;
  const named = def.kind === 'transform' && def.outputs ? def.outputs(n.c.options as never).map((o) => `${id}.${o}`) : [id];
  return n.c.kind === 'transform' ? [...named, `${id}.${DEAD_LETTER_OUTPUT}`] : named;
}
