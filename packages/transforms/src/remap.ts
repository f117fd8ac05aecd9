/**
 * The `remap` transform: declarative field edits, applied in order to every event —
 * `set` (a value, with `{{field.path}}` templates), `append`, `copy`, `rename`, `rename_keys` (by
 * pattern), `remove`, `keep_only`, `dedot`, `parse_json`, `parse_regex` (named captures),
 * `parse_key_value` and `drop_empty`. Any operation may carry a CEL `if:` (cel.ts, the same
 * conditions as `filter`); paths and templates may read origin fields (`@path`, `@host`,
 * `@source`, `@offset`, `@fields.<name>`, see path.ts). It stays declarative: a list of edits,
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
 */
import { compileTemplate, deletePath, getOrigin, getPath, isOriginPath, parsePath, pathError, setPath, templateError, type EventData, type FieldPath, type LogEvent, type TransformDefinition } from '@tern/core';
import { compileCondition, conditionError, type CompiledCondition } from './cel.ts';
import { compileRe2 } from './tetragon-filter.ts';
import { addTag, JSON_FAILURE_TAG, malformedView } from './shared.ts';

/** `if:`: a CEL condition over `event`; the operation runs only when it is true. */
interface Conditional {
  if?: string;
}

export type RemapOperation = Conditional &
  (
    | { type: 'set'; field: string; value: unknown }
    | { type: 'append'; field: string; value: unknown; allow_duplicates?: boolean }
    | { type: 'copy'; from: string; to: string }
    | { type: 'rename'; from: string; to: string }
    | { type: 'rename_keys'; field?: string; pattern: string; replacement: string; recursive?: boolean }
    | { type: 'remove'; fields: string[] }
    | { type: 'keep_only'; fields: string[] }
    | { type: 'dedot'; field?: string; separator?: string }
    | { type: 'parse_json'; field: string; target?: string; failure_tag?: string }
    | { type: 'parse_regex'; field: string; pattern: string; target?: string; failure_tag?: string }
    | { type: 'parse_key_value'; field: string; target?: string; field_split?: string; value_split?: string; failure_tag?: string }
    | { type: 'drop_empty'; field?: string }
  );

export interface RemapConfig {
  operations: RemapOperation[];
}

export const DEFAULT_JSON_FAILURE_TAG = JSON_FAILURE_TAG;
export const DEFAULT_REGEX_FAILURE_TAG = '_regex_parse_failure';
export const DEFAULT_KV_FAILURE_TAG = '_kv_parse_failure';
// Defaults of options inside an operation: ajv fills no defaults under `oneOf`, so the schema
// documents these constants and compileBody applies them.
const DEFAULT_DEDOT_SEPARATOR = '_';
const DEFAULT_FIELD_SPLIT = ' ';
const DEFAULT_VALUE_SPLIT = '=';

type Op = (ev: LogEvent) => void;

const pathProp = (description: string, examples: string[]) => ({ type: 'string', minLength: 1, description, examples });
const pathList = (description: string, examples: string[][]) => ({ type: 'array', minItems: 1, items: { type: 'string', minLength: 1 }, description, examples });
const IF_SCHEMA = {
  type: 'string',
  minLength: 1,
  description: 'CEL condition over `event` (as in `filter`); the operation runs only when it is true. An evaluation error skips it and counts `condition_errors`.',
  examples: ['has(event.process_exec)', 'event.?kubernetes.?namespace.orValue("") == "payments"'],
};
const opSchema = (type: string, description: string, properties: Record<string, unknown>, required: string[]) => ({
  type: 'object',
  description,
  additionalProperties: false,
  required: ['type', ...required],
  properties: { type: { const: type, description: `Operation: \`${type}\`.` }, ...properties, if: IF_SCHEMA },
});
const failureTag = (def: string) => ({ type: 'string', minLength: 1, default: def, description: 'Tag appended to `tags` when the value does not parse.', examples: [def] });

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
    'append',
    'Appends to a list field (creating it; a single value becomes a list). A list value appends each item; strings are templates as in `set`.',
    {
      field: pathProp('List field to append to.', ['tags', 'related.hosts']),
      value: { description: 'Value or list of values to append.', examples: ['tetragon', ['pci', '{{kubernetes.namespace}}']] },
      allow_duplicates: { type: 'boolean', default: true, description: 'false: skip values already in the list (as Elastic\'s append).', examples: [false] },
    },
    ['field', 'value'],
  ),
  opSchema(
    'copy',
    'Copies a field (deeply) to another path; no-op when the source is missing. `from` may be an origin field (`@path`, `@host`, `@source`, `@offset`, `@fields.<name>`).',
    { from: pathProp('Source field.', ['process_exec.process.binary', '@path']), to: pathProp('Destination field.', ['process.executable', 'log.file.path']) },
    ['from', 'to'],
  ),
  opSchema(
    'rename',
    'Moves a field to another path; no-op when the source is missing.',
    { from: pathProp('Source field.', ['output_fields']), to: pathProp('Destination field.', ['falco.fields']) },
    ['from', 'to'],
  ),
  opSchema(
    'rename_keys',
    'Renames the keys of an object that match a regular expression (RE2 syntax as in Tetragon filters; `$1`, `$<name>` in the replacement). A renamed key replaces one already there.',
    {
      field: pathProp('Object whose keys are renamed (default: the whole event).', ['labels', 'falco.output_fields']),
      pattern: { type: 'string', minLength: 1, description: 'Regular expression matched against each key.', examples: ['^k8s_(.*)$', '\\.'] },
      replacement: { type: 'string', description: 'Replacement for the matched part of the key.', examples: ['kubernetes_$1', '_'] },
      recursive: { type: 'boolean', default: false, description: 'Also rename keys of nested objects (and of objects in lists).', examples: [true] },
    },
    ['pattern', 'replacement'],
  ),
  opSchema('remove', 'Removes fields (missing ones are ignored).', { fields: pathList('Fields to remove.', [['process_exec.process.exec_id', 'process_exec.parent']]) }, ['fields']),
  opSchema(
    'keep_only',
    'Keeps only the listed fields (with their paths) and drops everything else.',
    { fields: pathList('Fields to keep.', [['time', 'node_name', 'process_exec.process.binary']]) },
    ['fields'],
  ),
  opSchema(
    'dedot',
    'Replaces `.` in keys, recursively (Elasticsearch reads a dot as an object boundary, so `app` and `app.kubernetes.io/name` side by side are refused).',
    {
      field: pathProp('Object to de-dot (default: the whole event).', ['labels', 'kubernetes.labels']),
      separator: { type: 'string', default: DEFAULT_DEDOT_SEPARATOR, description: 'What replaces each dot.', examples: ['_'] },
    },
    [],
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
    'parse_regex',
    'Matches a string field against a regular expression and writes its named captures (`(?<name>…)` or RE2\'s `(?P<name>…)`) as fields. No match: the event is tagged and `parse_errors` counts it.',
    {
      field: pathProp('String field to match.', ['message', '@path']),
      pattern: { type: 'string', minLength: 1, description: 'Regular expression with named captures (unanchored; RE2 syntax as in Tetragon filters).', examples: ['^/var/log/pods/(?P<namespace>[^_]+)_(?P<pod>[^_]+)_'] },
      target: pathProp('Object to write the captures into (default: the top level).', ['kubernetes']),
      failure_tag: failureTag(DEFAULT_REGEX_FAILURE_TAG),
    },
    ['field', 'pattern'],
  ),
  opSchema(
    'parse_key_value',
    'Parses `key=value` pairs (logfmt and the like; values may be "double" or \'single\' quoted) from a string field into fields. No pair found: the event is tagged and `parse_errors` counts it.',
    {
      field: pathProp('String field holding the pairs.', ['message']),
      target: pathProp('Object to write the pairs into (default: the top level).', ['kv']),
      field_split: { type: 'string', minLength: 1, default: DEFAULT_FIELD_SPLIT, description: 'Separator between pairs (a single space: any run of whitespace).', examples: [' ', '&', ';'] },
      value_split: { type: 'string', minLength: 1, default: DEFAULT_VALUE_SPLIT, description: 'Separator between a key and its value.', examples: ['=', ':'] },
      failure_tag: failureTag(DEFAULT_KV_FAILURE_TAG),
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

const sameValue = (a: unknown, b: unknown): boolean => a === b || (a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && JSON.stringify(a) === JSON.stringify(b));

/** Keys of `o` (and below, when `deep`) renamed by `f`; the same object when no key changes. */
function renameKeys(o: Record<string, unknown>, f: (k: string) => string, deep: boolean): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  const keys = Object.keys(o);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    let v = o[k];
    if (deep) v = renameDeep(v, f);
    const nk = f(k);
    if (out === undefined && (nk !== k || v !== o[k])) {
      out = {};
      for (let j = 0; j < i; j++) out[keys[j] as string] = o[keys[j] as string];
    }
    if (out !== undefined) {
      if (nk !== k) delete out[k];
      out[nk] = v;
    }
  }
  return out ?? o;
}

function renameDeep(v: unknown, f: (k: string) => string): unknown {
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    v.forEach((x, i) => {
      const r = renameDeep(x, f);
      if (r !== x) (out ??= v.slice())[i] = r;
    });
    return out ?? v;
  }
  if (v !== null && typeof v === 'object') return renameKeys(v as Record<string, unknown>, f, true);
  return v;
}

/**
 * `key=value` pairs from a string: pairs split on `fieldSplit` (a single space: any whitespace),
 * outside quotes; values may be quoted with `"` or `'` (backslash escapes inside). Undefined when
 * no pair is found.
 */
// Java's / RE2's \s: space, \t \n \v \f \r (a char-code test; a regex per character cost 4x).
const isWs = (c: number): boolean => c === 32 || (c >= 9 && c <= 13);

export function parseKeyValue(s: string, fieldSplit = ' ', valueSplit = '='): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  let n = 0;
  const ws = fieldSplit === ' ';
  let i = 0;
  while (i < s.length) {
    // skip separators
    if (ws) while (i < s.length && isWs(s.charCodeAt(i))) i++;
    else while (s.startsWith(fieldSplit, i)) i += fieldSplit.length;
    if (i >= s.length) break;
    const kv = s.indexOf(valueSplit, i);
    const end = (from: number): number => {
      if (ws) {
        let j = from;
        while (j < s.length && !isWs(s.charCodeAt(j))) j++;
        return j;
      }
      const j = s.indexOf(fieldSplit, from);
      return j === -1 ? s.length : j;
    };
    const tokenEnd = end(i);
    if (kv === -1 || kv > tokenEnd) {
      i = tokenEnd; // a word without a value: skipped
      continue;
    }
    const key = s.slice(i, kv).trim();
    let j = kv + valueSplit.length;
    let value: string;
    const q = s[j];
    if (q === '"' || q === "'") {
      j++;
      let close = j;
      while (close < s.length && s[close] !== q) close += s[close] === '\\' ? 2 : 1;
      const raw = s.slice(j, Math.min(close, s.length));
      value = raw.includes('\\') ? raw.replace(/\\(.)/g, '$1') : raw;
      j = close + 1;
    } else {
      const e = end(j);
      value = s.slice(j, e);
      j = e;
    }
    if (key !== '') {
      out[key] = value;
      n++;
    }
    i = j;
  }
  return n > 0 ? out : undefined;
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
      const sep = op.separator ?? DEFAULT_DEDOT_SEPARATOR;
      return keysOp(field, (k) => (k.includes('.') ? k.replaceAll('.', sep) : k), true);
    }
    case 'parse_regex': {
      const field = parsePath(op.field);
      const target: FieldPath = op.target === undefined ? [] : parsePath(op.target);
      const re = compileRe2(op.pattern);
      const tag = op.failure_tag ?? DEFAULT_REGEX_FAILURE_TAG;
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
      const tag = op.failure_tag ?? DEFAULT_KV_FAILURE_TAG;
      return (ev) => {
        const v = read(ev, field);
        if (typeof v !== 'string') return;
        const pairs = parseKeyValue(v, op.field_split ?? DEFAULT_FIELD_SPLIT, op.value_split ?? DEFAULT_VALUE_SPLIT);
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
      const tag = op.failure_tag ?? DEFAULT_JSON_FAILURE_TAG;
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
