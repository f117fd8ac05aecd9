/**
 * The `remap` transform: declarative field edits, applied in order to every event —
 * `set` (a value, with `{{field.path}}` templates), `copy`, `rename`, `remove`, `keep_only`,
 * `parse_json` and `drop_empty`. It is the small, predictable subset of Vector's VRL that log
 * shipping pipelines need most; anything conditional belongs in `filter`/`route` upstream.
 *
 * Everything is compiled at build time into a list of closures over parsed paths and templates;
 * per event there is no parsing. An operation writes through `ev.mutate()` (or `ev.replace()` for
 * `keep_only`) only when it actually changes something, so an event no operation touched keeps its
 * original line for the sinks. Operations on a missing source field are no-ops. `parse_json` never
 * fails the event: a value that is not JSON stays as it was, the event gets a tag and
 * `parse_errors` counts it. A line that was not valid JSON arrives as `{message, error, tags}` and is edited like any event.
 */
import type { EventData, LogEvent, TransformDefinition } from '@tern/core';
import { deleteIn, getIn, parsePath, pathError, setIn, type Path } from './path.ts';
import { compileTemplate, templateError } from './template.ts';
import { JSON_FAILURE_TAG, malformedView } from './shared.ts';

export type RemapOperation =
  | { type: 'set'; field: string; value: unknown }
  | { type: 'copy'; from: string; to: string }
  | { type: 'rename'; from: string; to: string }
  | { type: 'remove'; fields: string[] }
  | { type: 'keep_only'; fields: string[] }
  | { type: 'parse_json'; field: string; target?: string; failure_tag?: string }
  | { type: 'drop_empty'; field?: string };

export interface RemapConfig {
  operations: RemapOperation[];
}

export const DEFAULT_JSON_FAILURE_TAG = JSON_FAILURE_TAG;

type Op = (ev: LogEvent) => void;

const pathProp = (description: string, examples: string[]) => ({ type: 'string', minLength: 1, description, examples });
const pathList = (description: string, examples: string[][]) => ({ type: 'array', minItems: 1, items: { type: 'string', minLength: 1 }, description, examples });
const opSchema = (type: string, description: string, properties: Record<string, unknown>, required: string[]) => ({
  type: 'object',
  description,
  additionalProperties: false,
  required: ['type', ...required],
  properties: { type: { const: type, description: `Operation: \`${type}\`.` }, ...properties },
});

const OPERATION_SCHEMAS = [
  opSchema(
    'set',
    'Sets a field. String values are templates: `{{path}}` inserts a field; a value that is exactly one placeholder keeps the field\'s type.',
    {
      field: pathProp('Field to write (dotted path; `a["dotted.key"]` for keys with dots).', ['labels.cluster', 'event.kind']),
      value: { description: 'Value to write. Strings may contain `{{field.path}}` placeholders; other JSON values are written as they are.', examples: ['prod-{{node_name}}', 42, { team: 'payments' }] },
    },
    ['field', 'value'],
  ),
  opSchema(
    'copy',
    'Copies a field (deeply) to another path; no-op when the source is missing.',
    { from: pathProp('Source field.', ['process_exec.process.binary']), to: pathProp('Destination field.', ['process.executable']) },
    ['from', 'to'],
  ),
  opSchema(
    'rename',
    'Moves a field to another path; no-op when the source is missing.',
    { from: pathProp('Source field.', ['output_fields']), to: pathProp('Destination field.', ['falco.fields']) },
    ['from', 'to'],
  ),
  opSchema('remove', 'Removes fields (missing ones are ignored).', { fields: pathList('Fields to remove.', [['process_exec.process.exec_id', 'process_exec.parent']]) }, ['fields']),
  opSchema(
    'keep_only',
    'Keeps only the listed fields (with their paths) and drops everything else.',
    { fields: pathList('Fields to keep.', [['time', 'node_name', 'process_exec.process.binary']]) },
    ['fields'],
  ),
  opSchema(
    'parse_json',
    'Parses a string field as JSON. On failure the field is left as it was and the event is tagged (never dropped).',
    {
      field: pathProp('String field holding JSON text.', ['message']),
      target: pathProp('Where to write the parsed value (default: replace `field`).', ['parsed']),
      failure_tag: { type: 'string', minLength: 1, default: DEFAULT_JSON_FAILURE_TAG, description: 'Tag appended to `tags` when the text is not JSON.', examples: [DEFAULT_JSON_FAILURE_TAG] },
    },
    ['field'],
  ),
  opSchema(
    'drop_empty',
    'Removes null, "", [] and {} values recursively (objects left empty are removed too; list elements are kept so positions stay meaningful).',
    { field: pathProp('Only clean below this field (default: the whole event).', ['process_kprobe.args']) },
    [],
  ),
];

function clone<T>(v: T): T {
  return v !== null && typeof v === 'object' ? structuredClone(v) : v;
}

function addTag(doc: EventData, tag: string): void {
  const tags = doc.tags;
  if (Array.isArray(tags)) {
    if (!tags.includes(tag)) tags.push(tag);
  } else if (typeof tags === 'string') doc.tags = tags === tag ? [tag] : [tags, tag];
  else doc.tags = [tag];
}

function isEmpty(v: unknown): boolean {
  if (v === null || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') {
    for (const _ in v as object) return false;
    return true;
  }
  return false;
}

/** True when `v` holds something `compact` would remove (checked first so untouched events stay unmodified). */
function hasEmpty(v: unknown): boolean {
  if (Array.isArray(v)) {
    for (const x of v) if (x !== null && typeof x === 'object' && hasEmpty(x)) return true;
    return false;
  }
  if (v === null || typeof v !== 'object') return false;
  for (const k in v as Record<string, unknown>) {
    const x = (v as Record<string, unknown>)[k];
    if (isEmpty(x) || (x !== null && typeof x === 'object' && hasEmpty(x))) return true;
  }
  return false;
}

/** Removes empty values in place, depth first, so parents emptied by the cleaning go too. */
function compact(v: unknown): void {
  if (Array.isArray(v)) {
    for (const x of v) if (x !== null && typeof x === 'object') compact(x);
    return;
  }
  if (v === null || typeof v !== 'object') return;
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const x = o[k];
    if (x !== null && typeof x === 'object') compact(x);
    if (isEmpty(o[k])) delete o[k];
  }
}

function compileOp(op: RemapOperation, counters: { parseErrors: { inc(n?: number): void } }): Op {
  switch (op.type) {
    case 'set': {
      const field = parsePath(op.field);
      if (typeof op.value === 'string') {
        const tpl = compileTemplate(op.value);
        return (ev) => {
          const v = tpl.render(ev.data);
          setIn(ev.mutate(), field, tpl.constant ? v : clone(v));
        };
      }
      const value = op.value;
      return (ev) => setIn(ev.mutate(), field, clone(value));
    }
    case 'copy': {
      const from = parsePath(op.from);
      const to = parsePath(op.to);
      return (ev) => {
        const v = getIn(ev.data, from);
        if (v !== undefined) setIn(ev.mutate(), to, clone(v));
      };
    }
    case 'rename': {
      const from = parsePath(op.from);
      const to = parsePath(op.to);
      return (ev) => {
        const v = getIn(ev.data, from);
        if (v === undefined) return;
        const d = ev.mutate();
        deleteIn(d, from);
        setIn(d, to, v);
      };
    }
    case 'remove': {
      const paths = op.fields.map(parsePath);
      return (ev) => {
        for (const p of paths) if (getIn(ev.data, p) !== undefined) deleteIn(ev.mutate(), p);
      };
    }
    case 'keep_only': {
      const paths = op.fields.map(parsePath);
      return (ev) => {
        const src = ev.data;
        const out: EventData = {};
        let kept = 0;
        for (const p of paths) {
          const v = getIn(src, p);
          if (v !== undefined) {
            setIn(out, p, v);
            kept++;
          }
        }
        // Unchanged when every top-level key was kept whole: avoid marking the event modified.
        const srcKeys = Object.keys(src);
        if (kept === srcKeys.length && paths.every((p) => p.length === 1) && srcKeys.every((k) => Object.hasOwn(out, k))) return;
        ev.replace(out);
      };
    }
    case 'parse_json': {
      const field = parsePath(op.field);
      const target = op.target === undefined ? field : parsePath(op.target);
      const tag = op.failure_tag ?? DEFAULT_JSON_FAILURE_TAG;
      return (ev) => {
        const v = getIn(ev.data, field);
        if (typeof v !== 'string') return;
        let parsed: unknown;
        try {
          parsed = JSON.parse(v);
        } catch {
          counters.parseErrors.inc();
          addTag(ev.mutate(), tag);
          return;
        }
        setIn(ev.mutate(), target, parsed);
      };
    }
    case 'drop_empty': {
      const field: Path | undefined = op.field === undefined ? undefined : parsePath(op.field);
      return (ev) => {
        const root = field === undefined ? ev.data : getIn(ev.data, field);
        if (root === null || typeof root !== 'object') return;
        const selfEmpty = field !== undefined && isEmpty(root);
        if (!selfEmpty && !hasEmpty(root)) return;
        const d = ev.mutate();
        const target = field === undefined ? d : getIn(d, field);
        compact(target);
        if (field !== undefined && isEmpty(target)) deleteIn(d, field);
      };
    }
  }
}

export const remapTransform: TransformDefinition<RemapConfig> = {
  kind: 'transform',
  type: 'remap',
  description: 'Edits fields declaratively: set (with {{field}} templates), copy, rename, remove, keep_only, parse_json, drop_empty — applied in order.',
  mutates: true,
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['operations'],
    properties: {
      operations: {
        type: 'array',
        minItems: 1,
        description: 'Operations applied in order to each event. Each is an object keyed by `type`.',
        items: { oneOf: OPERATION_SCHEMAS },
        examples: [
          [
            { type: 'set', field: 'labels.cluster', value: 'prod-eu' },
            { type: 'copy', from: 'process_exec.process.binary', to: 'process.executable' },
            { type: 'remove', fields: ['process_exec.parent'] },
            { type: 'drop_empty' },
          ],
        ],
      },
    },
  },
  validate(cfg) {
    const errors: string[] = [];
    (cfg.operations ?? []).forEach((op, i) => {
      const at = `operations.${i}`; // dotted indexes: the engine locates `a.0.b` in the YAML
      const check = (name: string, p: unknown) => {
        const e = pathError(p);
        if (e !== undefined) errors.push(`${at}.${name}: ${e}`);
      };
      switch (op.type) {
        case 'set': {
          check('field', op.field);
          const e = templateError(op.value);
          if (e !== undefined) errors.push(`${at}.value: ${e}`);
          break;
        }
        case 'copy':
        case 'rename':
          check('from', op.from);
          check('to', op.to);
          break;
        case 'remove':
        case 'keep_only':
          op.fields.forEach((f, j) => check(`fields.${j}`, f));
          break;
        case 'parse_json':
          check('field', op.field);
          if (op.target !== undefined) check('target', op.target);
          break;
        case 'drop_empty':
          if (op.field !== undefined) check('field', op.field);
          break;
      }
    });
    return errors.length ? errors : undefined;
  },
  build(cfg, ctx) {
    const counters = { parseErrors: ctx.telemetry.counter('parse_errors') };
    const decodeErrors = ctx.telemetry.counter('decode_errors');
    const ops = cfg.operations.map((op) => compileOp(op, counters));
    return {
      process(events, emit) {
        for (const ev of events) {
          try {
            void ev.data;
          } catch (err) {
            // Unreadable: edit core's tagged shape for a malformed line, as every later stage will see it.
            decodeErrors.inc();
            ev.replace(malformedView(ev, err));
          }
          for (const op of ops) op(ev);
        }
        if (events.length) emit(events);
      },
    };
  },
};
