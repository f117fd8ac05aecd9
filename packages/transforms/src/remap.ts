/**
 * The `remap` transform: declarative field edits, applied in order to every event —
 * `set` (a value, with `{{field.path}}` templates), `append`, `copy`, `rename`, `rename_keys` (by
 * pattern), `remove`, `keep_only`, `dedot`, `parse_json`, `parse_regex` (named captures),
 * `parse_key_value` and `drop_empty`. Any operation may carry a CEL `if:` (cel.ts, the same
 * conditions as `filter`); paths and templates may read origin fields (`@path`, `@host`,
 * `@source`, `@offset`, `@fields.<name>`, core's field/origin.ts). It stays declarative: a list of edits,
 * no scripting language of our own — the small, predictable part of Vector's VRL or Elastic's
 * ingest processors that log shipping pipelines need most.
 *
 * Everything is compiled at build time into a list of closures over parsed paths and templates;
 * per event there is no parsing. An operation writes through `ev.mutate()` (or `ev.replace()` for
 * `keep_only`) only when it actually changes something, so an event no operation touched keeps its
 * original line for the sinks. Operations on a missing source field are no-ops. The parse
 * operations never fail the event: a value that does not parse stays as it was, the event gets a
 * tag and `parse_errors` counts it. A line that was not valid JSON arrives as `{message, error,
 * tags}` and is edited like any event. An `if:` that cannot be evaluated skips the operation and
 * counts `condition_errors`.
 *
 * Rooms: remap/schema.ts (operation types and schemas), remap/values.ts (value helpers and the
 * key=value parser); this file compiles operations and defines the transform.
 */
import { compileTemplate, deletePath, getOrigin, getPath, isOriginPath, parsePath, pathError, setPath, templateError, type EventData, type FieldPath, type LogEvent, optionsSchema, type TransformDefinition } from '@tern/core';
import { compileCondition, conditionError, type CompiledCondition } from './cel.ts';
import { compileRe2 } from './tetragon-filter/parse.ts';
import { addTag, malformedView } from './shared.ts';
import { OPERATION_SCHEMAS, type RemapConfig, type RemapOperation } from './remap/schema.ts';
import { clone, compact, hasEmpty, isEmpty, parseKeyValue, renameKeys, sameValue } from './remap/values.ts';

export { DEFAULT_JSON_FAILURE_TAG, DEFAULT_KV_FAILURE_TAG, DEFAULT_REGEX_FAILURE_TAG, type RemapConfig, type RemapOperation } from './remap/schema.ts';
export { parseKeyValue } from './remap/values.ts';

type Op = (ev: LogEvent) => void;

interface Counters {
  parseErrors: { inc(n?: number): void };
  conditionErrors: { inc(n?: number): void };
}

/** A value or a list of values to write: templates rendered per event, everything else copied. */
function compileValues(value: unknown): (ev: LogEvent) => unknown[] {
  const items = Array.isArray(value) ? value : [value];
  const parts = items.map((v) => (typeof v === 'string' ? compileTemplate(v) : undefined));
  return (ev) => items.map((v, i) => {
    const tpl = parts[i];
    return tpl === undefined ? clone(v) : tpl.constant !== undefined ? tpl.constant : clone(tpl.value(ev));
  });
}

/** Reads a field or an origin field. */
function read(ev: LogEvent, path: FieldPath): unknown {
  return isOriginPath(path) ? getOrigin(ev, path) : getPath(ev.data, path);
}

/** An operation renaming the keys of the object at `field` (the whole event when undefined); writes only when a key changed. */
function keysOp(field: FieldPath | undefined, rename: (k: string) => string, deep: boolean): Op {
  return (ev) => {
    const src = field === undefined ? ev.data : getPath(ev.data, field);
    if (src === null || typeof src !== 'object' || Array.isArray(src)) return;
    const renamed = renameKeys(src as Record<string, unknown>, rename, deep);
    if (renamed === src) return;
    if (field === undefined) ev.replace(renamed);
    else setPath(ev.mutate(), field, renamed);
  };
}

/** Compiles one operation; its `if:` (if any) wraps it. */
function compileOp(op: RemapOperation, counters: Counters): Op {
  const body = compileBody(op, counters);
  if (op.if === undefined) return body;
  const cond: CompiledCondition = compileCondition(op.if);
  return (ev) => {
    const r = cond.test(ev.data);
    if (r === true) body(ev);
    else if (r === undefined) counters.conditionErrors.inc();
  };
}

function compileBody(op: RemapOperation, counters: Counters): Op {
  switch (op.type) {
    case 'set': {
      const field = parsePath(op.field);
      if (typeof op.value === 'string') {
        const tpl = compileTemplate(op.value);
        return (ev) => {
          setPath(ev.mutate(), field, tpl.constant !== undefined ? tpl.constant : clone(tpl.value(ev)));
        };
      }
      const value = op.value;
      return (ev) => setPath(ev.mutate(), field, clone(value));
    }
    case 'append': {
      const field = parsePath(op.field);
      const values = compileValues(op.value);
      const dupes = op.allow_duplicates !== false;
      return (ev) => {
        const cur = getPath(ev.data, field);
        const list: unknown[] = Array.isArray(cur) ? cur.slice() : cur === undefined || cur === null ? [] : [cur];
        let added = 0;
        for (const v of values(ev)) {
          if (!dupes && list.some((x) => sameValue(x, v))) continue;
          list.push(v);
          added++;
        }
        if (added > 0 || !Array.isArray(cur)) setPath(ev.mutate(), field, list);
      };
    }
    case 'copy': {
      const from = parsePath(op.from);
      const to = parsePath(op.to);
      return (ev) => {
        const v = read(ev, from);
        if (v !== undefined) setPath(ev.mutate(), to, clone(v));
      };
    }
    case 'rename_keys': {
      const field: FieldPath | undefined = op.field === undefined ? undefined : parsePath(op.field);
      const re = compileRe2(op.pattern);
      const g = new RegExp(re.source, re.flags.includes('g') ? re.flags : `${re.flags}g`);
      const rename = (k: string): string => (re.test(k) ? k.replace(g, op.replacement) : k);
      return keysOp(field, rename, op.recursive === true);
    }
    case 'dedot': {
      const field: FieldPath | undefined = op.field === undefined ? undefined : parsePath(op.field);
      const sep = op.separator;
      return keysOp(field, (k) => (k.includes('.') ? k.replaceAll('.', sep) : k), true);
    }
    case 'parse_regex': {
      const field = parsePath(op.field);
      const target: FieldPath = op.target === undefined ? [] : parsePath(op.target);
      const re = compileRe2(op.pattern);
      const tag = op.failure_tag;
      return (ev) => {
        const v = read(ev, field);
        if (typeof v !== 'string') return;
        const m = re.exec(v);
        if (m === null || m.groups === undefined) {
          counters.parseErrors.inc();
          addTag(ev.mutate(), tag);
          return;
        }
        const d = ev.mutate();
        for (const [name, val] of Object.entries(m.groups)) if (val !== undefined) setPath(d, [...target, name], val);
      };
    }
    case 'parse_key_value': {
      const field = parsePath(op.field);
      const target: FieldPath = op.target === undefined ? [] : parsePath(op.target);
      const tag = op.failure_tag;
      return (ev) => {
        const v = read(ev, field);
        if (typeof v !== 'string') return;
        const pairs = parseKeyValue(v, op.field_split, op.value_split);
        if (pairs === undefined) {
          counters.parseErrors.inc();
          addTag(ev.mutate(), tag);
          return;
        }
        const d = ev.mutate();
        for (const [k, val] of Object.entries(pairs)) setPath(d, [...target, k], val);
      };
    }
    case 'rename': {
      const from = parsePath(op.from);
      const to = parsePath(op.to);
      return (ev) => {
        const v = getPath(ev.data, from);
        if (v === undefined) return;
        const d = ev.mutate();
        deletePath(d, from);
        setPath(d, to, v);
      };
    }
    case 'remove': {
      const paths = op.fields.map(parsePath);
      return (ev) => {
        for (const p of paths) if (getPath(ev.data, p) !== undefined) deletePath(ev.mutate(), p);
      };
    }
    case 'keep_only': {
      const paths = op.fields.map(parsePath);
      return (ev) => {
        const src = ev.data;
        const out: EventData = {};
        let kept = 0;
        for (const p of paths) {
          const v = getPath(src, p);
          if (v !== undefined) {
            setPath(out, p, v);
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
      const tag = op.failure_tag;
      return (ev) => {
        const v = read(ev, field);
        if (typeof v !== 'string') return;
        let parsed: unknown;
        try {
          parsed = JSON.parse(v);
        } catch {
          counters.parseErrors.inc();
          addTag(ev.mutate(), tag);
          return;
        }
        setPath(ev.mutate(), target, parsed);
      };
    }
    case 'drop_empty': {
      const field: FieldPath | undefined = op.field === undefined ? undefined : parsePath(op.field);
      return (ev) => {
        const root = field === undefined ? ev.data : getPath(ev.data, field);
        if (root === null || typeof root !== 'object') return;
        const selfEmpty = field !== undefined && isEmpty(root);
        if (!selfEmpty && !hasEmpty(root)) return;
        const d = ev.mutate();
        const target = field === undefined ? d : getPath(d, field);
        compact(target);
        if (field !== undefined && isEmpty(target)) deletePath(d, field);
      };
    }
  }
}

export const remapTransform: TransformDefinition<RemapConfig> = {
  kind: 'transform',
  type: 'remap',
  description:
    'Edits fields declaratively, in order: set and append (with {{field}} templates), copy, rename, rename_keys, remove, keep_only, dedot, parse_json, parse_regex, parse_key_value, drop_empty; each may carry a CEL if:.',
  mutates: true,
  schema: optionsSchema<RemapConfig>()({
    type: 'object',
    additionalProperties: false,
    required: ['operations'],
    properties: {
      operations: {
        type: 'array',
        minItems: 1,
        description: 'Operations applied in order to each event. Each is an object keyed by `type`.',
        // One branch per operation type chosen by `if type == …` (not `oneOf`): ajv fills the defaults of
        // the branch that applies, so the schema is the one place an operation's defaults come from.
        items: {
          type: 'object',
          required: ['type'],
          properties: { type: { enum: OPERATION_SCHEMAS.map((o) => o.properties.type.const), description: 'Operation.' } },
          allOf: OPERATION_SCHEMAS.map((o) => ({ if: { required: ['type'], properties: { type: { const: o.properties.type.const } } }, then: o })),
        },
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
  }),
  validate(cfg) {
    const errors: string[] = [];
    cfg.operations.forEach((op, i) => {
      const at = `operations.${i}`; // dotted indexes: the engine locates `a.0.b` in the YAML
      const check = (name: string, p: unknown) => {
        const e = pathError(p);
        if (e !== undefined) errors.push(`${at}.${name}: ${e}`);
      };
      const writes = (name: string, p: string | undefined) => {
        if (p !== undefined && pathError(p) === undefined && isOriginPath(parsePath(p))) errors.push(`${at}.${name}: "${p}" is an origin field, which can be read but not written; write an event field instead`);
      };
      const regex = (p: string) => {
        try {
          return compileRe2(p);
        } catch (err) {
          errors.push(`${at}.pattern: ${(err as Error).message}`);
          return undefined;
        }
      };
      if (op.if !== undefined) {
        const e = conditionError(op.if);
        if (e !== undefined) errors.push(`${at}.if: ${e}`);
      }
      switch (op.type) {
        case 'set': {
          check('field', op.field);
          writes('field', op.field);
          const e = templateError(op.value);
          if (e !== undefined) errors.push(`${at}.value: ${e}`);
          break;
        }
        case 'append': {
          check('field', op.field);
          writes('field', op.field);
          (Array.isArray(op.value) ? op.value : [op.value]).forEach((v, j) => {
            const e = templateError(v);
            if (e !== undefined) errors.push(`${at}.value${Array.isArray(op.value) ? `.${j}` : ''}: ${e}`);
          });
          break;
        }
        case 'copy':
          check('from', op.from);
          check('to', op.to);
          writes('to', op.to);
          break;
        case 'rename':
          check('from', op.from);
          check('to', op.to);
          if (pathError(op.from) === undefined && isOriginPath(parsePath(op.from))) errors.push(`${at}.from: "${op.from}" is an origin field, which cannot be removed; use copy`);
          writes('to', op.to);
          break;
        case 'rename_keys':
        case 'dedot':
          if (op.field !== undefined) {
            check('field', op.field);
            writes('field', op.field);
          }
          if (op.type === 'rename_keys') regex(op.pattern);
          break;
        case 'parse_regex': {
          check('field', op.field);
          if (op.target !== undefined) {
            check('target', op.target);
            writes('target', op.target);
          }
          const re = regex(op.pattern);
          if (re !== undefined && !/\(\?<[A-Za-z_]/.test(re.source)) errors.push(`${at}.pattern: has no named capture ((?<name>…) or (?P<name>…)), so it would write nothing`);
          break;
        }
        case 'parse_key_value':
          check('field', op.field);
          if (op.target !== undefined) {
            check('target', op.target);
            writes('target', op.target);
          }
          break;
        case 'remove':
        case 'keep_only':
          op.fields.forEach((f, j) => check(`fields.${j}`, f));
          break;
        case 'parse_json':
          check('field', op.field);
          if (op.target !== undefined) check('target', op.target);
          writes(op.target === undefined ? 'field' : 'target', op.target ?? op.field);
          break;
        case 'drop_empty':
          if (op.field !== undefined) check('field', op.field);
          break;
      }
    });
    return errors.length ? errors : undefined;
  },
  build(cfg, ctx) {
    const counters: Counters = { parseErrors: ctx.telemetry.counter('parse_errors'), conditionErrors: ctx.telemetry.counter('condition_errors') };
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
