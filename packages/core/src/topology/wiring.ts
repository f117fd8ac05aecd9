/**
 * The router's wiring for a configuration over the running components: the consumers of every output
 * key, and which of them get copies (a branch that changes events, unless every consumer of that key
 * does, in which case the last keeps the original). Pure: `apply` computes the next wiring with it and
 * swaps it in one step.
 */
import type { PipelineConfig } from '../config/types.ts';
import { parseInput, topologicalOrder } from './graph.ts';
import type { Node } from './node.ts';
import type { Consumer, TransformNode } from './router.ts';

/** The router's wiring for `config` over `nodes`: consumers per output key, with copies where a branch changes events. */
export function wiringFor(config: PipelineConfig, nodes: ReadonlyMap<string, Node>): Map<string, Consumer[]> {
  const components = config.components;
  const byId = new Map(components.map((c) => [c.id, c]));
  const readers = new Map<string, string[]>();
  for (const c of components) for (const r of c.inputs) {
    const id = parseInput(r, byId).id;
    readers.set(id, [...(readers.get(id) ?? []), c.id]);
  }
  const mutatesDownstream = new Map<string, boolean>();
  for (const c of topologicalOrder(components).reverse()) {
    const def = c.definition;
    mutatesDownstream.set(c.id, def.kind === 'transform' && (def.mutates || (readers.get(c.id) ?? []).some((r) => mutatesDownstream.get(r) === true)));
  }
  const groups = new Map<string, Array<{ consumer: Omit<Consumer, 'clone'>; mutating: boolean }>>();
  for (const c of topologicalOrder(components).reverse()) {
    const n = nodes.get(c.id);
    if (n === undefined || c.kind === 'source') continue;
    const consumer: Omit<Consumer, 'clone'> = n.sink ? { id: c.id, sink: n.sink, sinkTelemetry: n.telemetry } : { id: c.id, transform: n.node as TransformNode };
    for (const ref of c.inputs) {
      const { id, output } = parseInput(ref, byId);
      const key = output === undefined ? id : `${id}.${output}`;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = []));
      g.push({ consumer, mutating: mutatesDownstream.get(c.id) === true });
    }
  }
  const out = new Map<string, Consumer[]>();
  for (const [key, g] of groups) {
    const mutating = g.filter((x) => x.mutating).length;
    // Copy for a changing branch unless every consumer changes events, in which case the last may keep the original.
    out.set(key, g.map((x, i) => ({ ...x.consumer, clone: g.length > 1 && x.mutating && !(mutating === g.length && i === g.length - 1) })));
  }
  return out;
}
