/**
 * The component graph: which outputs exist, who reads what, and the static checks on it (inputs
 * that do not exist, cycles, components nobody reads). Pure: used by config validation and by the
 * engine to wire components.
 */
import type { ErrorCode } from '../errors.ts';
import type { ComponentConfig } from '../config/types.ts';
import { suggest } from '../config/suggest.ts';

export interface GraphIssue {
  severity: 'error' | 'warning';
  code: ErrorCode;
  component: string;
  /** Index into the component's `inputs` when the issue is about one input. */
  input?: number;
  message: string;
}

/** The output every transform and sink has for what it refuses for good (see event/dead-letter.ts). */
export const DEAD_LETTER_OUTPUT = 'dead_letter';

/**
 * Output names a component offers: `id` for its main output, `id.name` for named outputs, and
 * `id.dead_letter` for every transform and sink.
 */
export function outputsOf(c: ComponentConfig): string[] {
  if (c.kind === 'sink') return [`${c.id}.${DEAD_LETTER_OUTPUT}`];
  if (c.kind === 'transform' && c.definition.kind === 'transform' && c.definition.outputs) {
    return [...c.definition.outputs(c.options as never).map((o) => `${c.id}.${o}`), `${c.id}.${DEAD_LETTER_OUTPUT}`];
  }
  if (c.kind === 'transform') return [c.id, `${c.id}.${DEAD_LETTER_OUTPUT}`];
  return [c.id];
}

/** True when some component reads `id.dead_letter`. */
export function hasDeadLetterReaders(id: string, components: readonly ComponentConfig[]): boolean {
  const key = `${id}.${DEAD_LETTER_OUTPUT}`;
  return components.some((c) => c.inputs.includes(key));
}

/** Splits an input reference into component id and output name (undefined for the main output). */
export function parseInput(ref: string, byId: ReadonlyMap<string, unknown>): { id: string; output?: string } {
  if (byId.has(ref)) return { id: ref };
  const dot = ref.lastIndexOf('.');
  if (dot > 0) return { id: ref.slice(0, dot), output: ref.slice(dot + 1) };
  return { id: ref };
}

/**
 * A component the files declare but that did not validate (an unknown type, an option the schema
 * refuses): its id and kind are known, so an input naming it is no error of its own; its `inputs` are
 * known when they could be read (undefined otherwise); a transform's outputs are not (they may depend
 * on its options), so any `id` or `id.name` is taken as one of them.
 */
export interface DeclaredComponent {
  readonly id: string;
  readonly kind: ComponentConfig['kind'];
  readonly inputs: readonly string[] | undefined;
}

/**
 * The graph checks: inputs that do not exist, cycles, components nobody reads. `declared` are the
 * components that did not validate (see DeclaredComponent), so one pass over a file with schema errors
 * still reports its graph errors, and none that are only echoes of the schema errors.
 */
export function checkGraph(components: readonly ComponentConfig[], declared: readonly DeclaredComponent[] = []): GraphIssue[] {
  const issues: GraphIssue[] = [];
  const byId = new Map(components.map((c) => [c.id, c]));
  const stubs = new Map(declared.map((d) => [d.id, d]));
  const all = new Map<string, { id: string; inputs: readonly string[] | undefined }>([...byId, ...stubs]);
  const outputs = new Set<string>();
  for (const c of components) for (const o of outputsOf(c)) outputs.add(o);
  for (const d of declared) {
    if (d.kind === 'source') outputs.add(d.id);
    else if (d.kind === 'sink') outputs.add(`${d.id}.${DEAD_LETTER_OUTPUT}`);
  }
  const readers = new Map<string, number>();

  for (const c of all.values()) {
    c.inputs?.forEach((ref, i) => {
      const { id } = parseInput(ref, all);
      if (!outputs.has(ref) && stubs.get(id)?.kind !== 'transform') {
        const target = byId.get(ref);
        let message: string;
        if ((target ?? stubs.get(ref))?.kind === 'sink') message = `input "${ref}" is a sink; a sink's only output is "${ref}.${DEAD_LETTER_OUTPUT}" (what it refuses for good)`;
        else if (target) message = `input "${ref}" has named outputs; read one of ${outputsOf(target).filter((o) => !o.endsWith(`.${DEAD_LETTER_OUTPUT}`)).map((o) => `"${o}"`).join(', ')}`;
        else {
          const s = suggest(ref, outputs);
          message = `input "${ref}" does not exist${s ? ` (did you mean "${s}"?)` : ''}`;
        }
        issues.push({ severity: 'error', code: 'TERN_ERR_CONFIG_INPUT', component: c.id, input: i, message });
        return;
      }
      readers.set(id, (readers.get(id) ?? 0) + 1);
    });
  }

  // Cycles: depth-first search over "reads from" edges.
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (id: string): void => {
    state.set(id, 1);
    stack.push(id);
    for (const ref of all.get(id)?.inputs ?? []) {
      const dep = parseInput(ref, all).id;
      if (!all.has(dep)) continue;
      const s = state.get(dep);
      if (s === 1) {
        const cycle = [...stack.slice(stack.indexOf(dep)), dep];
        issues.push({ severity: 'error', code: 'TERN_ERR_CONFIG_CYCLE', component: id, message: `components form a cycle: ${cycle.join(' -> ')}` });
      } else if (s === undefined) visit(dep);
    }
    stack.pop();
    state.set(id, 2);
  };
  for (const id of all.keys()) if (!state.has(id)) visit(id);

  // Who reads a component is unknown while some component's inputs could not be read: no guesses then.
  if (declared.every((d) => d.inputs !== undefined)) {
    for (const c of [...components, ...declared]) {
      if (c.kind !== 'sink' && !readers.has(c.id)) {
        issues.push({ severity: 'warning', code: 'TERN_ERR_CONFIG_INPUT', component: c.id, message: `${c.kind} "${c.id}" is not read by any transform or sink; its events go nowhere` });
      }
    }
  }
  return issues;
}

/** Components ordered so that every component comes after its inputs (the graph is acyclic). */
export function topologicalOrder(components: readonly ComponentConfig[]): ComponentConfig[] {
  const byId = new Map(components.map((c) => [c.id, c]));
  const done = new Set<string>();
  const out: ComponentConfig[] = [];
  const visit = (c: ComponentConfig): void => {
    if (done.has(c.id)) return;
    done.add(c.id);
    for (const ref of c.inputs) {
      const dep = byId.get(parseInput(ref, byId).id);
      if (dep) visit(dep);
    }
    out.push(c);
  };
  for (const c of components) visit(c);
  return out;
}
